"""sipjson's sj_serialize(): the JSON document of a message's attributes, as Kamailio writes it."""
from __future__ import annotations

import json
from typing import Any

import pytest

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "sipjson.so"
request_route {
    %s
    $avp(json) = $var(json);
    sl_send_reply("200", "OK");
}
"""
SIPSAK_OPTIONS = (
    "OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:65502;branch=z9hG4bK.79e78613;rport;alias\r\n"
    "From: sip:sipsak@172.17.0.2;tag=74806173\r\n"
    "To: sip:alice@127.0.0.1\r\n"
    "Call-ID: 482215126@172.17.0.2\r\n"
    "CSeq: 1 OPTIONS\r\n"
    "Contact: sip:sipsak@127.0.0.1:65502\r\n"
    "Content-Length: 0\r\n"
    "Max-Forwards: 70\r\n"
    "User-Agent: sipsak 0.9.7pre\r\n"
    "Accept: text/plain\r\n\r\n")


def serialize(kampy_cfg: Any, opt: str, message: str = SIPSAK_OPTIONS) -> str:
    sip = kampy_cfg(CFG % f'sj_serialize("{opt}", "$var(json)");')
    return sip.send(message, src="127.0.0.1:36747").avp("json")


def test_the_default_attributes_of_the_modules_sample_in_its_order(kampy_cfg: Any) -> None:
    text = serialize(kampy_cfg, "0B")
    assert text.startswith('{"mt":2,"rm":"OPTIONS","pr":"udp","si":"127.0.0.1","sp":36747,"Ri":')
    doc = json.loads(text)
    assert list(doc) == ["mt", "rm", "pr", "si", "sp", "Ri", "Rp", "ru", "rU", "rd", "rp", "rs", "rr",
                         "fU", "fd", "ua", "ci", "rb"]
    assert {k: doc[k] for k in ("ru", "rU", "rd", "rp", "fU", "fd", "ua", "ci", "rb")} == {
        "ru": "sip:alice@127.0.0.1", "rU": "alice", "rd": "127.0.0.1", "rp": 0, "fU": "sipsak",
        "fd": "172.17.0.2", "ua": "sipsak 0.9.7pre", "ci": "482215126@172.17.0.2", "rb": ""}


def test_the_json_is_compact(kampy_cfg: Any) -> None:
    assert " " not in serialize(kampy_cfg, "0").replace("sipsak 0.9.7pre", "")


@pytest.mark.parametrize(("opt", "extra"), [
    ("0", {}), ("c", {"cs": "1"}), ("t", {"tU": "alice", "td": "127.0.0.1"}),
    ("Bct", {"rb": "", "cs": "1", "tU": "alice", "td": "127.0.0.1"}),
])
def test_the_optional_groups_add_their_attributes(kampy_cfg: Any, opt: str, extra: dict[str, str]) -> None:
    doc = json.loads(serialize(kampy_cfg, opt))
    assert {k: v for k, v in doc.items() if k in ("rb", "cs", "tU", "td")} == extra


def test_the_body_is_serialized_with_escapes(kampy_cfg: Any) -> None:
    message = SIPSAK_OPTIONS.replace("OPTIONS", "MESSAGE").replace(
        "Content-Length: 0", 'Content-Length: 9').replace("\r\n\r\n", '\r\n\r\nhi "x"\t\\z', 1)
    text = serialize(kampy_cfg, "B", message)
    assert text.endswith(',"rb":"hi \\"x\\"\\t\\\\z"}')


def test_a_rewritten_ruri_is_what_is_serialized(kampy_cfg: Any) -> None:
    sip = kampy_cfg(CFG % '$ru = "sip:bob@example.test:5070"; sj_serialize("0", "$var(json)");')
    doc = json.loads(sip.send(SIPSAK_OPTIONS).avp("json"))
    assert (doc["ru"], doc["rU"], doc["rd"], doc["rp"]) == (
        "sip:bob@example.test:5070", "bob", "example.test", 5070)
