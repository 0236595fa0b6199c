"""siputils: URI and number checks, R-URI parameters, options_reply as Kamailio 5.6.3 sends it."""
from __future__ import annotations

from typing import Any

import pytest

from kampy.api import MessageContext, Socket
from kampy.modules.siputils import EXPORTS
from kampy.modules.sl import EXPORTS as SL
from kampy.runtime.core import Core
from tests.modkit import INVITE, OPTIONS, core, ctx_for, module
from tests.pv_helpers import FixedClock


class Var:
    """A writable pseudo-variable stand-in."""

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def get(self, ctx: MessageContext) -> Any:
        return self.value

    def set(self, ctx: MessageContext, value: Any) -> None:
        self.value = value


def setup(raw: bytes = INVITE, c: Core | None = None):  # type: ignore[no-untyped-def]
    ctx = ctx_for(raw, c)
    module(SL, ctx.core)
    return module(EXPORTS, ctx.core), ctx


def test_options_reply_matches_kamailio_bytes() -> None:
    c = core("kamailio (5.6.3 (x86_64/linux))")
    c.sockets[:] = [Socket("udp", "127.0.0.1", 35999)]
    module(SL, c)
    s = module(EXPORTS, c)
    ctx = ctx_for(OPTIONS, c, port=59042)
    assert s.options_reply(ctx) == 1
    assert ctx.outbox[0].data == (
        b"SIP/2.0 200 OK\r\n"
        b"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;rport=59042;received=127.0.0.1\r\n"
        b"From: <sip:alice@example.test>;tag=a1\r\n"
        b"To: <sip:127.0.0.1:5060>;tag=64011a01bdacd08c1d229ef0893d8ab6.086b2a75\r\n"
        b"Call-ID: call-1@127.0.0.1\r\n"
        b"CSeq: 1 OPTIONS\r\n"
        b"Accept: */*\r\n"
        b"Accept-Encoding: \r\n"
        b"Accept-Language: en\r\n"
        b"Supported: \r\n"
        b"Server: kamailio (5.6.3 (x86_64/linux))\r\n"
        b"Content-Length: 0\r\n\r\n")


def test_options_reply_refuses_other_methods() -> None:
    s, ctx = setup()
    assert s.options_reply(ctx) == -1 and ctx.outbox == []


def test_has_totag() -> None:
    s, ctx = setup()
    assert s.has_totag(ctx) == -1
    s2, ctx2 = setup(INVITE.replace(b"To: <sip:bob@example.test>", b"To: <sip:bob@example.test>;tag=x"))
    assert s2.has_totag(ctx2) == 1


def test_is_request_and_is_reply() -> None:
    s, ctx = setup()
    assert (s.is_request(ctx), s.is_reply(ctx)) == (1, -1)


def test_uri_param_with_and_without_value() -> None:
    s, ctx = setup(INVITE.replace(b";transport=udp", b";transport=udp;lr"))
    assert s.uri_param(ctx, "lr") == 1
    assert s.uri_param(ctx, "transport") == -1  # has a value
    assert s.uri_param(ctx, "transport", "udp") == 1
    assert s.uri_param_any(ctx, "transport") == 1
    assert s.uri_param_any(ctx, "maddr") == -1


def test_add_uri_param_appends_and_keeps_headers() -> None:
    s, ctx = setup()
    assert s.add_uri_param(ctx, "foo=bar") == 1
    assert ctx.ruri == "sip:bob@example.test;transport=udp;foo=bar"
    assert ctx.msg.to_bytes().startswith(b"INVITE sip:bob@example.test;transport=udp;foo=bar SIP/2.0")


def test_uri_param_rm() -> None:
    s, ctx = setup()
    assert s.uri_param_rm(ctx, "transport") == 1
    assert ctx.ruri == "sip:bob@example.test"


def test_get_uri_param_writes_variable() -> None:
    s, ctx = setup()
    var = Var()
    assert s.get_uri_param(ctx, "transport", var) == 1 and var.value == "udp"


def test_tel2sip_strips_visual_separators() -> None:
    s, ctx = setup()
    out = Var()
    assert s.tel2sip(ctx, "tel:+1-(201).555-0123;Phone-Context=x", "example.test", out) == 1
    assert out.value == "sip:+12015550123;phone-context=x@example.test;user=phone"
    assert s.tel2sip(ctx, "sip:a@b", "example.test", out) == 2


def test_e164_checks() -> None:
    s, ctx = setup()
    assert s.is_e164(ctx, Var("+4912345")) == 1
    assert s.is_e164(ctx, Var("4912345")) == -1
    assert s.is_e164(ctx, Var("+1")) == -1
    assert s.is_uri_user_e164(ctx, Var("sip:+4912345@example.test")) == 1
    assert s.is_uri_user_e164(ctx, Var("sip:bob@example.test")) == -1


def test_cmp_uri_follows_rfc3261() -> None:
    s, ctx = setup()
    assert s.cmp_uri(ctx, "sip:bob@EXAMPLE.test;transport=UDP", "sip:bob@example.test;transport=udp") == 1
    assert s.cmp_uri(ctx, "sip:bob@example.test", "sip:bob@example.test:5060") == -1
    assert s.cmp_uri(ctx, "sip:bob@example.test;user=phone", "sip:bob@example.test") == -1
    assert s.cmp_uri(ctx, "sip:bob@example.test;foo=1", "sip:bob@example.test") == 1


def test_cmp_aor_ignores_params_and_default_port() -> None:
    s, ctx = setup()
    assert s.cmp_aor(ctx, "sip:bob@example.test;foo=1", "sip:bob@example.test:5060") == 1
    assert s.cmp_aor(ctx, "sip:bob@example.test", "sip:alice@example.test") == -1


def test_cmp_hdr_name_knows_compact_forms() -> None:
    s, ctx = setup()
    assert s.cmp_hdr_name(ctx, "v", "Via") == 1 and s.cmp_hdr_name(ctx, "To", "From") == -1


def test_is_gruu() -> None:
    s, ctx = setup()
    assert s.is_gruu(ctx, "sip:a@b;gr=urn:uuid:1") == 1
    assert s.is_gruu(ctx, "sip:a@b;gr") == 2
    assert s.is_gruu(ctx) == -1


def test_is_first_hop_for_requests_counts_vias() -> None:
    s, ctx = setup()
    assert s.is_first_hop(ctx) == -1
    s2, ctx2 = setup(OPTIONS)
    assert s2.is_first_hop(ctx2) == 1


def test_is_supported() -> None:
    s, ctx = setup(INVITE.replace(b"X-Foo: one", b"Supported: path, 100rel"))
    assert s.is_supported(ctx, "100rel") == 1 and s.is_supported(ctx, "timer") == -1


def test_number_and_alnum_checks_use_kamailio_codes() -> None:
    s, ctx = setup()
    assert s.is_numeric(ctx, "0123") == 1 and s.is_numeric(ctx, "12a") == -2
    assert s.is_alphanum(ctx, "ab12") == 1 and s.is_alphanum(ctx, "ab-1") == -3
    assert s.is_alphanumex(ctx, "ab-1", "-") == 1 and s.is_alphanumex(ctx, "ab_1", "-") == -3
    assert s.is_tel_number(ctx, "+4912") == 1 and s.is_tel_number(ctx, "+012") == -2
    assert s.is_numeric(ctx, "") == -2


def test_set_uri_user_and_host() -> None:
    s, ctx = setup()
    var = Var("sip:bob@example.test;transport=udp")
    assert s.set_uri_user(ctx, var, "carol") == 1 and var.value == "sip:carol@example.test;transport=udp"
    assert s.set_uri_host(ctx, var, "example.org") == 1 and var.value == "sip:carol@example.org;transport=udp"


def test_hdr_date_check() -> None:
    c = core()
    c.clock = FixedClock(1289690940.0 + 5)
    s, ctx = setup(INVITE.replace(b"X-Foo: one", b"Date: Sat, 13 Nov 2010 23:29:00 GMT"), c)
    assert s.hdr_date_check(ctx, 10) == 1
    assert s.hdr_date_check(ctx, 2) == -1


# ---------------------------------------------------------------- Remote-Party-ID (rpid_* parameters)

RPID_CFG = """
listen=udp:127.0.0.1:5060
loadmodule "sl"
loadmodule "tm"
loadmodule "pv"
loadmodule "textops"
loadmodule "siputils"
%s
request_route {
    if (is_present_hf("X-Rpid")) { $avp(s:rpid) = $hdr(X-Rpid); }
    if (is_present_hf("X-Own")) { $var(rc) = append_rpid_hf("<", ">;party=called"); }
    else { $var(rc) = append_rpid_hf(); }
    $avp(rc) = $var(rc);
    $avp(e164) = 0;
    if (is_rpid_user_e164()) { $avp(e164) = 1; }
    t_relay("udp:198.51.100.20:5080");
}
"""


def rpid_request(rpid: str | None, *extra: str) -> str:
    lines = ["INVITE sip:bob@198.51.100.20:5080 SIP/2.0",
             "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-r1",
             "Max-Forwards: 70", "From: <sip:alice@example.test>;tag=a1", "To: <sip:bob@example.test>",
             "Call-ID: rpid-1", "CSeq: 1 INVITE", *extra]
    if rpid is not None:
        lines.append(f"X-Rpid: {rpid}")
    return "\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n"


def rpid_headers(result) -> list[bytes]:  # type: ignore[no-untyped-def]
    data = result.forwarded[0].data
    return [line for line in data.split(b"\r\n") if line.startswith(b"Remote-Party-ID:")]


def test_append_rpid_hf_writes_the_avp_between_rpid_prefix_and_rpid_suffix(  # type: ignore[no-untyped-def]
        kampy_cfg) -> None:
    sip = kampy_cfg(RPID_CFG % "")
    result = sip.send(rpid_request("<sip:+4930123@example.test>"))
    assert rpid_headers(result) == [
        b"Remote-Party-ID: <sip:+4930123@example.test>;party=calling;id-type=subscriber;screen=yes"]
    assert result.avp("rc") == 1


def test_rpid_prefix_and_suffix_parameters(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    sip = kampy_cfg(RPID_CFG % 'modparam("siputils", "rpid_prefix", "\\"Alice\\" <")\n'
                    'modparam("siputils", "rpid_suffix", ">;screen=no")')
    result = sip.send(rpid_request("sip:+4930123@example.test"))
    assert rpid_headers(result) == [b'Remote-Party-ID: "Alice" <sip:+4930123@example.test>;screen=no']


def test_append_rpid_hf_with_its_own_prefix_and_suffix(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    sip = kampy_cfg(RPID_CFG % "")
    result = sip.send(rpid_request("sip:carol@example.test", "X-Own: 1"))
    assert rpid_headers(result) == [b"Remote-Party-ID: <sip:carol@example.test>;party=called"]


def test_without_the_avp_append_rpid_hf_fails_and_adds_nothing(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    sip = kampy_cfg(RPID_CFG % "")
    result = sip.send(rpid_request(None))
    assert rpid_headers(result) == [] and result.avp("rc") == -1


def test_rpid_avp_names_another_avp(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    sip = kampy_cfg((RPID_CFG % 'modparam("siputils", "rpid_avp", "$avp(other)")').replace(
        "$avp(s:rpid) = $hdr(X-Rpid)", "$avp(other) = $hdr(X-Rpid)"))
    result = sip.send(rpid_request("sip:+15551234567@example.test"))
    assert rpid_headers(result)[0].startswith(b"Remote-Party-ID: sip:+15551234567@example.test;party=")


def test_a_rpid_avp_that_is_not_an_avp_stops_the_load(kampy_cfg) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Exception, match=r"malformed or non AVP \$var\(x\) AVP definition"):
        kampy_cfg(RPID_CFG % 'modparam("siputils", "rpid_avp", "$var(x)")')


@pytest.mark.parametrize(("rpid", "e164"), [
    ("<sip:+4930123@example.test>;party=calling", 1),
    ('"Bob <b>" <sip:+15551234567@example.test>', 1),
    ("sip:+4930123@example.test", 1), ("sip:4930123@example.test", 0), ("sip:+49@example.test", 1),
    ("sip:+4@example.test", 0),
    ("sip:+1234567890123456@example.test", 0), ("sip:+49301x3@example.test", 0), (None, 0),
])
def test_is_rpid_user_e164(kampy_cfg, rpid: str | None, e164: int) -> None:  # type: ignore[no-untyped-def]
    sip = kampy_cfg(RPID_CFG % "")
    assert sip.send(rpid_request(rpid)).avp("e164") == e164


TEL2SIP_CFG = """loadmodule "pv.so"
loadmodule "sl.so"
loadmodule "siputils.so"
request_route {
    $var(u) = "tel:+1-555";
    $var(h) = "example.test";
    tel2sip(%s, "$var(r)");
    sl_send_reply("200", "OK");
}
"""


def test_tel2sip_arguments_starting_with_a_pseudo_variable_are_that_variable_alone(kampy_cfg: Any) -> None:
    # fixup_tel2sip: fixup_var_str_12 ("$var(u) x" is $var(u))
    sip = kampy_cfg(TEL2SIP_CFG % '"$var(u) x", "$var(h) y"')
    result = sip.send_request("OPTIONS", "sip:a@example.test")
    assert result.codes("tel2sip") == [1]
    assert sip.module("pv").vars["r"] == "sip:+1555@example.test;user=phone"


@pytest.mark.parametrize("args", ['"$avp(none)", "example.test"', '"tel:+1555", "$avp(none)"'])
def test_tel2sip_with_an_unset_pseudo_variable_fails(kampy_cfg: Any, args: str) -> None:
    result = kampy_cfg(TEL2SIP_CFG % args).send_request("OPTIONS", "sip:a@example.test")
    assert result.codes("tel2sip") == [-1]
