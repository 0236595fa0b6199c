"""siputils: is_user, the Contact encodings and the P-Charging-Vector in-process (the wire comparison
with Kamailio 5.6 is tests/e2e/test_siputils_e2e.py)."""
from __future__ import annotations

import re

from kampy.api import Credentials, MessageContext
from kampy.modules.siputils import EXPORTS
from kampy.modules.sl import EXPORTS as SL
from tests.modkit import ctx_for, module, sip


def request(*headers: str, ruri: str = "sip:bob@example.test") -> bytes:
    extra = "\n".join(headers)
    return sip(f"""
INVITE {ruri} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1
From: <sip:alice@example.test>;tag=a
To: <sip:bob@example.test>
Call-ID: c1
CSeq: 1 INVITE
{extra}
Content-Length: 0
""")


def setup(raw: bytes, **params: str):  # type: ignore[no-untyped-def]
    ctx = ctx_for(raw)
    module(SL, ctx.core)
    return module(EXPORTS, ctx.core, **params), ctx


def header_lines(ctx: MessageContext, name: str) -> list[str]:
    text = ctx.msg.to_bytes().decode()
    return [line for line in text.split("\r\n") if line.lower().startswith(name.lower() + ":")]


def test_is_user_compares_the_authorized_username() -> None:
    s, ctx = setup(request())
    ctx.authorized_credentials.append(Credentials("Authorization", "alice", "example.test"))
    assert s.is_user(ctx, "alice") == 1
    assert s.is_user(ctx, "Alice") == -1


def test_is_user_without_authorized_credentials_fails() -> None:
    s, ctx = setup(request())
    assert s.is_user(ctx, "alice") == -1


def test_is_user_takes_the_user_part_of_a_username_with_domain() -> None:
    s, ctx = setup(request())
    ctx.authorized_credentials.append(Credentials("Proxy-Authorization", "bob@example.test", "example.test"))
    assert s.is_user(ctx, "bob") == 1


def test_encode_contact_uses_the_default_separator() -> None:
    s, ctx = setup(request("Contact: <sip:alice@192.0.2.7:5071;transport=tcp>"))
    assert s.encode_contact(ctx, "enc", "203.0.113.9") == 1
    assert header_lines(ctx, "Contact") == ["Contact: <sip:enc*alice**192.0.2.7*5071*tcp@203.0.113.9>"]


def test_contact_flds_separator_takes_its_first_character() -> None:
    s, ctx = setup(request("Contact: <sip:alice@192.0.2.7>"), contact_flds_separator="-+")
    assert s.encode_contact(ctx, "p", "h") == 1
    assert header_lines(ctx, "Contact") == ["Contact: <sip:p-alice--192.0.2.7--@h>"]


def test_decode_contact_restores_the_encoded_ruri() -> None:
    s, ctx = setup(request(ruri="sip:enc*alice*pw*192.0.2.7*5071*tcp@203.0.113.9;lr"))
    assert s.decode_contact(ctx) == 1
    assert ctx.ruri == "sip:alice:pw@192.0.2.7:5071;transport=tcp;lr"


def test_decode_contact_refuses_a_uri_without_fields() -> None:
    s, ctx = setup(request())
    assert s.decode_contact(ctx) == -26
    assert ctx.ruri == "sip:bob@example.test"


def test_decode_contact_header_decodes_each_contact_of_the_first_header() -> None:
    s, ctx = setup(request("Contact: <sip:e*a**192.0.2.7*5080*@h>;expires=5, sip:e***192.0.2.8**@h",
                           "Contact: <sip:e*b**192.0.2.9***@h>"))
    assert s.decode_contact_header(ctx) == 1
    assert header_lines(ctx, "Contact") == ["Contact: <sip:a@192.0.2.7:5080>;expires=5, sip:192.0.2.8",
                                            "Contact: <sip:e*b**192.0.2.9***@h>"]


def test_contact_param_encode_then_decode_is_the_original() -> None:
    s, ctx = setup(request("Contact: sip:alice@192.0.2.7;expires=60"))
    assert s.contact_param_encode(ctx, "ct", "sip:proxy.test") == 1
    [line] = header_lines(ctx, "Contact")
    assert line == "Contact: <sip:proxy.test;ct=c2lwOmFsaWNlQDE5Mi4wLjIuNw>;expires=60"
    s2, ctx2 = setup(request(line))
    assert s2.contact_param_decode(ctx2, "CT") == 1
    assert header_lines(ctx2, "Contact") == ["Contact: <sip:alice@192.0.2.7>;expires=60"]


def test_contact_param_encode_without_contact_is_true() -> None:
    s, ctx = setup(request())
    assert s.contact_param_encode(ctx, "ct", "sip:proxy.test") == 1


def test_contact_param_decode_ruri_sets_the_ruri() -> None:
    s, ctx = setup(request(ruri="sip:proxy.test;ct=c2lwOmFsaWNlQDE5Mi4wLjIuNw"))
    assert s.contact_param_decode_ruri(ctx, "ct") == 1
    assert ctx.ruri == "sip:alice@192.0.2.7"


def test_contact_param_decode_ruri_rejects_bad_base64() -> None:
    s, ctx = setup(request(ruri="sip:proxy.test;ct=!!"))
    assert s.contact_param_decode_ruri(ctx, "ct") == -1


def test_contact_param_rm_removes_the_parameter_from_every_contact() -> None:
    s, ctx = setup(request("Contact: <sip:a@h;alias=1.2.3.4~5060~1;lr>",
                           "Contact: <sip:b@h;ALIAS>, <sip:c@h>"))
    assert s.contact_param_rm(ctx, "alias") == 1
    assert header_lines(ctx, "Contact") == ["Contact: <sip:a@h;lr>", "Contact: <sip:b@h>, <sip:c@h>"]


PCV = "P-Charging-Vector: icid-value=AB12; icid-generated-at=192.0.2.1; orig-ioi=o; term-ioi=t"


def pv(s, ctx: MessageContext, name: str):  # type: ignore[no-untyped-def]
    from kampy.api import PVar
    return s.pv_pcv(PVar("pcv", name)).get(ctx)


def test_pcv_reads_the_received_vector() -> None:
    s, ctx = setup(request(PCV))
    assert [pv(s, ctx, n) for n in ("value", "genaddr", "orig", "term")] == ["AB12", "192.0.2.1", "o", "t"]
    assert pv(s, ctx, "all") == PCV.partition(": ")[2]


def test_pcv_is_null_without_a_vector() -> None:
    s, ctx = setup(request())
    assert pv(s, ctx, "value") is None


def test_sip_p_charging_vector_generates_a_vector_when_there_is_none() -> None:
    s, ctx = setup(request())
    assert s.sip_p_charging_vector(ctx, "g") == 1
    [line] = header_lines(ctx, "P-Charging-Vector")
    assert re.fullmatch(r"P-Charging-Vector: icid-value=495653[0-9A-F]{26}; "
                        r"icid-generated-at=127\.0\.0\.1", line)
    assert pv(s, ctx, "all") == line + "\r\n"


def test_sip_p_charging_vector_keeps_a_received_vector_on_generate() -> None:
    s, ctx = setup(request(PCV))
    assert s.sip_p_charging_vector(ctx, "g") == 1
    assert header_lines(ctx, "P-Charging-Vector") == [PCV]


def test_sip_p_charging_vector_removes_the_received_vector() -> None:
    s, ctx = setup(request(PCV))
    assert s.sip_p_charging_vector(ctx, "r") == 1
    assert header_lines(ctx, "P-Charging-Vector") == []
    assert pv(s, ctx, "value") == "AB12"


def test_sip_p_charging_vector_replaces_the_received_vector() -> None:
    s, ctx = setup(request(PCV))
    assert s.sip_p_charging_vector(ctx, "f") == 1
    [line] = header_lines(ctx, "P-Charging-Vector")
    assert "icid-value=495653" in line and pv(s, ctx, "genaddr") == "127.0.0.1"


def test_generated_vectors_count_up() -> None:
    s, ctx = setup(request())
    s.sip_p_charging_vector(ctx, "g")
    first = pv(s, ctx, "value")
    s2ctx = ctx_for(request(), ctx.core)
    s.sip_p_charging_vector(s2ctx, "g")
    second = pv(s, s2ctx, "value")
    assert int(second[-8:-6], 16) == int(first[-8:-6], 16) + 1
