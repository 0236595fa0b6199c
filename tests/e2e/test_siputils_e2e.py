"""siputils' Contact encodings and P-Charging-Vector on the wire, kampy beside Kamailio 5.6 running the
same config (configs/siputils_contacts.cfg, contact_flds_separator "#"): each INVITE goes through one
or two functions and is relayed statelessly to the test, which compares the relayed Request-URI,
Contact and P-Charging-Vector lines and the results of both servers."""
from __future__ import annotations

import re
import socket
from pathlib import Path


from tests.e2e import dualserver
from tests.e2e.dualserver import Server, Started, differences, relayed_by_each

CFG = dualserver.CONFIGS / "siputils_contacts.cfg"

ENCODED = "sip:enc#alice#pw#192.0.2.7#5071#tcp@203.0.113.9;lr"
B64 = "sip:proxy.example.test;ct=c2lwOmFsaWNlQDE5Mi4wLjIuNzo1MDcxO3RyYW5zcG9ydD10Y3A"
PCV = "icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=; icid-generated-at=192.0.2.1; orig-ioi=home1.net"

# (name, [(function, a, b)], Request-URI, [Contact values], [other header lines])
CASES = [
    # first: Kamailio 5.6.3 writes a generated header from a stale pointer once its process parsed a
    # received one (README: kampy differs on purpose), so these go to fresh workers
    ("pcv-generate", [("sip_p_charging_vector", "g", "")], "sip:bob@example.test", [], []),
    ("pcv-generate-2", [("sip_p_charging_vector", "G", "")], "sip:bob@example.test", [], []),
    ("enc-bracketed", [("encode_contact", "", "")], "sip:bob@example.test",
     ['"Alice" <sip:alice:pw@192.0.2.7:5071;transport=tcp;ob>;expires=60'], []),
    ("enc-plain", [("encode_contact", "", "")], "sip:bob@example.test",
     ["sip:alice@192.0.2.7;transport=udp;expires=30"], []),
    ("enc-list", [("encode_contact", "", "")], "sip:bob@example.test",
     ["<sip:a@192.0.2.7>, <sip:192.0.2.8:5090>;q=0.5", "<sip:c@192.0.2.9>"], []),
    ("enc-host-only", [("encode_contact", "", "")], "sip:bob@example.test", ["<sip:192.0.2.7>"], []),
    ("enc-none", [("encode_contact", "", "")], "sip:bob@example.test", [], []),
    ("dec-ruri", [("decode_contact", "", "")], ENCODED, ["<sip:x@192.0.2.1>"], []),
    ("dec-ruri-no-user", [("decode_contact", "", "")], "sip:enc###192.0.2.7##@203.0.113.9", [], []),
    ("dec-ruri-bad", [("decode_contact", "", "")], "sip:bob@example.test", [], []),
    ("dec-ruri-pass-only", [("decode_contact", "", "")], "sip:enc##pw#192.0.2.7##@203.0.113.9", [], []),
    ("dec-header", [("decode_contact_header", "", "")], "sip:bob@example.test",
     ["<sip:enc#alice##192.0.2.7#5071#udp@203.0.113.9;ob>;expires=60, <sip:enc###192.0.2.8###@h>"], []),
    ("dec-header-list", [("decode_contact_header", "", "")], "sip:bob@example.test",
     ["<sip:enc#alice##192.0.2.7#5071#udp@203.0.113.9;ob>;expires=60, sip:enc###192.0.2.8##@h;q=1",
      "<sip:enc#b##192.0.2.9###@h>"], []),
    ("dec-header-bad", [("decode_contact_header", "", "")], "sip:bob@example.test",
     ["<sip:alice@192.0.2.7>"], []),
    ("param-enc", [("contact_param_encode", "ct", "sip:proxy.example.test")], "sip:bob@example.test",
     ["<sip:alice@192.0.2.7:5071;transport=tcp>;expires=60", "sip:b@192.0.2.8;expires=5"], []),
    ("param-enc-list", [("contact_param_encode", "ct", "sip:127.0.0.1:5060")], "sip:bob@example.test",
     ['"B" <sip:bob@192.0.2.9>, sip:carol@192.0.2.10'], []),
    ("param-dec", [("contact_param_decode", "ct", "")], "sip:bob@example.test",
     [f"<{B64}>;expires=60", "<sip:other@192.0.2.1>", f"<{B64};lr>"], []),
    ("param-dec-bad", [("contact_param_decode", "ct", "")], "sip:bob@example.test",
     ["<sip:proxy.example.test;ct=!!!!>"], []),
    ("param-dec-ruri", [("contact_param_decode_ruri", "ct", "")], B64, [], []),
    ("param-dec-ruri-none", [("contact_param_decode_ruri", "CT", "")], "sip:bob@example.test;x=1", [], []),
    ("param-rm", [("contact_param_rm", "ob", "")], "sip:bob@example.test",
     ["<sip:a@192.0.2.7;ob;transport=tcp>;expires=60", "<sip:b@192.0.2.8;x=1;OB=2>, <sip:c@h;ob>"], []),
    ("param-rm-none", [("contact_param_rm", "ob", "")], "sip:bob@example.test", ["<sip:a@192.0.2.7>"], []),
    ("pcv-parse", [("sip_p_charging_vector", "", "")], "sip:bob@example.test", [],
     [f"P-Charging-Vector: {PCV}"]),
    ("pcv-keep", [("sip_p_charging_vector", "g", "")], "sip:bob@example.test", [],
     [f"P-Charging-Vector: {PCV}; term-ioi=x"]),
    ("pcv-none", [("sip_p_charging_vector", "", "")], "sip:bob@example.test", [], []),
]



def _mask(text: str) -> str:
    """A generated icid-value (pid, time, counter) as its shape."""
    return re.sub(r"\b495653[0-9A-F]{26}\b", "IVS", text)


def relayed(server: Server, sender: socket.socket, capture: socket.socket, case: tuple) -> list[str]:
    name, ops, ruri, contacts, extra = case
    cport = capture.getsockname()[1]
    lines = [f"INVITE {ruri} SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-{name}",
             "From: <sip:alice@example.test>;tag=a", "To: <sip:bob@example.test>", f"Call-ID: {name}",
             "CSeq: 1 INVITE", "Max-Forwards: 70", f"X-To: 127.0.0.1:{cport}"]
    for i, (function, a, b) in enumerate(ops, 1):
        lines += [f"X-F{i}: {function}", f"X-A{i}: {a or '-'}", f"X-B{i}: {b or '-'}"]
    lines += [f"Contact: {c}" for c in contacts] + extra + ["Content-Length: 0"]
    sender.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), server.addr)
    capture.settimeout(5)
    head = capture.recv(65536).decode().split("\r\n\r\n")[0].split("\r\n")
    keep = ("contact:", "p-charging-vector:", "x-result:", "x-pcv:", "content-length:")
    return [_mask(head[0])] + [_mask(h) for h in head[1:] if h.lower().startswith(keep)]


def test_contact_encodings_and_charging_vector_as_kamailio(tmp_path: Path, dual_servers: Started) -> None:
    seen = relayed_by_each(dual_servers, CFG, tmp_path, CASES, relayed)
    differ = differences(seen)
    assert not differ, "\n".join(differ)
    assert "icid-value=IVS; icid-generated-at=127.0.0.1" in " ".join(seen["kampy"]["pcv-generate"])
