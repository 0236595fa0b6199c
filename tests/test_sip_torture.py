"""RFC 4475 torture messages, the msilo wire traces, and random damage."""
import random
import re
from pathlib import Path

import pytest

from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import error_response, parse_message

DATA = Path(__file__).resolve().parent / "data"
TORTURE = DATA / "rfc4475"
WIRE = DATA / "wire"


def load(name: str) -> bytes:
    return (TORTURE / f"{name}.dat").read_bytes()


VALID_3_1_1 = ["wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq", "semiuri",
               "transports", "mpart01", "unreason", "noreason"]
APPLICATION_3_3 = ["insuf", "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01", "multi01", "mcl01",
                   "bcast", "zeromf", "cparam01", "cparam02", "regescrt", "sdp01"]
# Rejected while parsing the datagram; the value says whether a 400 (or 505) can be built.
REJECTED_AT_PARSE = {
    "clerr": True, "ncl": True, "ltgtruri": True, "lwsruri": True, "lwsstart": True, "trws": True,
    "escruri": True, "badvers": True,
    "bigcode": False,  # a response: dropped
}
# Parse, but accessing the named header (or validate()) raises, as in Kamailio where a header is
# only checked when something parses it.
REJECTED_ON_ACCESS = {
    "badinv01": "vias", "scalar02": "cseq", "scalarlg": "cseq", "quotbal": "to", "baddate": "date",
    "regbadct": "contacts", "badaspec": "to", "baddn": "from_",
}
REJECTED_BY_VALIDATE = ["mismatch01", "mismatch02"]


def test_every_torture_message_is_classified():
    listed = set(VALID_3_1_1 + APPLICATION_3_3 + REJECTED_BY_VALIDATE) | set(REJECTED_AT_PARSE)
    listed |= set(REJECTED_ON_ACCESS) | {"badbranch", "inv2543"}
    assert listed == {p.stem for p in TORTURE.glob("*.dat")}


@pytest.mark.parametrize("name", VALID_3_1_1)
def test_valid_torture_message_parses_and_validates(name):
    m = parse_message(load(name))
    m.validate()
    assert m.call_id


@pytest.mark.parametrize("name", APPLICATION_3_3 + ["inv2543", "badbranch"])
def test_application_layer_torture_message_parses(name):
    m = parse_message(load(name))
    assert m.vias is not None and m.call_id is not None or name == "insuf"


@pytest.mark.parametrize("name", sorted(REJECTED_AT_PARSE))
def test_invalid_torture_message_rejected_at_parse(name):
    data = load(name)
    with pytest.raises(SIPProtocolError) as info:
        parse_message(data)
    assert info.value.can_reply is REJECTED_AT_PARSE[name]
    reply = error_response(data, info.value)
    if REJECTED_AT_PARSE[name]:
        r = parse_message(reply)
        assert r.status == (505 if name == "badvers" else 400) and r.call_id == m_call_id(data)
    else:
        assert reply is None


def m_call_id(data: bytes) -> str:
    return re.search(rb"\nCall-ID: *([^\r\n]*)", data).group(1).decode()


@pytest.mark.parametrize("name", sorted(REJECTED_ON_ACCESS))
def test_invalid_torture_message_raises_when_header_accessed(name):
    m = parse_message(load(name))
    with pytest.raises(SIPProtocolError) as info:
        getattr(m, REJECTED_ON_ACCESS[name])
    assert info.value.can_reply == m.is_request
    with pytest.raises(SIPProtocolError):
        m.validate()


@pytest.mark.parametrize("name", REJECTED_BY_VALIDATE)
def test_cseq_method_mismatch_rejected_by_validate(name):
    with pytest.raises(SIPProtocolError) as info:
        parse_message(load(name)).validate()
    assert info.value.can_reply


def test_scalar02_every_overlarge_scalar_raises():
    m = parse_message(load("scalar02"))
    for attr in ("cseq", "max_forwards", "expires"):
        with pytest.raises(SIPProtocolError):
            getattr(m, attr)
    with pytest.raises(SIPProtocolError):
        _ = m.contacts[0].expires


@pytest.mark.parametrize("name", ["multi01", "mcl01", "insuf"])
def test_application_layer_errors_found_by_validate(name):
    # RFC 4475 3.3: a proxy would answer these with 400; parsing succeeds, validate() refuses.
    with pytest.raises(SIPProtocolError):
        parse_message(load(name)).validate()


def test_wsinv_whitespace_everywhere():
    m = parse_message(load("wsinv"))
    assert m.to.tag == "1918181833n" and m.from_.display == 'J Rosenberg \\"' and m.from_.tag == "98asjd8"
    assert m.cseq == (9, "INVITE") and m.max_forwards == 68 and len(m.body) == 150
    assert [v.branch for v in m.vias] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert m.contacts[0].q == 0.33 and m.contacts[0].params["newparam"] == "newvalue"
    assert m.header("NewFangledHeader") == "newfangled value continued newfangled value"


def test_intmeth_unusual_characters():
    m = parse_message(load("intmeth"))
    assert m.method == "!interesting-Method0123456789_*+`.%indeed'~" and m.cseq.method == m.method
    assert m.ruri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert m.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert m.from_.tag == "_token~1'+`*%!-."


def test_esc01_escapes_kept_as_written():
    m = parse_message(load("esc01"))
    assert m.ruri.user == "sips%3Auser%40example.com" and m.to.uri.user == "%75se%72"
    assert str(m.contacts[0].uri) == "sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31"


def test_esc02_escaped_header_name_is_another_header():
    m = parse_message(load("esc02"))
    assert m.method == "RE%47IST%45R" and len(m.contacts) == 2


def test_longreq_34_vias_in_any_case():
    m = parse_message(load("longreq"))
    assert len(m.vias) == 34 and m.vias[-1].received == "192.0.2.5"


def test_dblreq_second_request_dropped():
    m = parse_message(load("dblreq"))
    assert m.method == "REGISTER" and m.body == b"" and b"INVITE" not in m.to_bytes()


def test_mpart01_binary_multipart_body():
    m = parse_message(load("mpart01"))
    assert m.content_type.params["boundary"] == "7a9cbec02ceef655" and len(m.body) == 553


def test_unreason_utf8_reason_phrase():
    assert parse_message(load("unreason")).reason.startswith("= 2**3 * 5**2 \u043d\u043e")


def test_opaque_schemes_in_headers():
    m = parse_message(load("unksm2"))
    assert m.to.uri.opaque == "2983792873" and m.contacts[0].uri.scheme == "name"


def test_inv2543_body_without_content_length():
    m = parse_message(load("inv2543"))
    assert m.content_length is None and m.body.startswith(b"v=0") and m.vias[0].branch is None


def test_badbranch_branch_not_rfc3261():
    assert not parse_message(load("badbranch")).via.has_rfc3261_branch


def test_zeromf_max_forwards_zero():
    assert parse_message(load("zeromf")).max_forwards == 0


def wire_messages():
    out = []
    for path in sorted(WIRE.glob("*.txt")):
        data = path.read_bytes()
        for m in re.finditer(rb"^### (\d+) [^\n]*?, (\d+) bytes[^\n]*\n", data, re.M):
            body = data[m.end():m.end() + int(m.group(2))]
            out.append(pytest.param(body, id=f"{path.stem}-{m.group(1).decode()}"))
    return out


@pytest.mark.parametrize("data", wire_messages())
def test_wire_trace_round_trips_byte_for_byte(data):
    m = parse_message(data)
    m.validate()
    assert m.to_bytes() == data and m.to_bytes() is data


def test_wire_traces_found():
    assert len(wire_messages()) == 8


def test_random_damage_raises_only_protocol_errors():
    rng = random.Random(4475)
    bases = [load("wsinv"), load("mpart01"), load("esc01")]
    for i in range(2000):
        base = bases[i % len(bases)]
        data = bytearray(base)
        if rng.random() < 0.5:
            data = data[:rng.randrange(len(data))]
        for _ in range(rng.randint(1, 4)):
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        exercise(bytes(data))


def exercise(data: bytes) -> None:
    try:
        m = parse_message(data)
        m.to_bytes()
        m.add_header("X", "1")
        m.to_bytes()
        for attr in ("vias", "from_", "to", "cseq", "max_forwards", "expires", "contacts", "content_type",
                     "allow", "date", "routes", "call_id", "content_length", "body", "ruri"):
            try:
                getattr(m, attr)
            except (SIPProtocolError, AttributeError):  # AttributeError: ruri of a response
                pass
        m.validate()
    except SIPProtocolError as exc:
        error_response(data, exc)
