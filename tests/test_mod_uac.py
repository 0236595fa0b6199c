"""uac in-process: the Record-Route parameter's encoding (Kamailio's bytes), the header edits of
uac_replace_from()/_to() in each restore mode, uac_restore_from() in manual mode, the digest
client, $uac_req, and the configs Kamailio refuses. The same behaviour on the wire, beside
Kamailio 5.6, is in tests/e2e/test_uac_e2e.py."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from kampy.errors import ConfigError
from kampy.modules.uac import digest
from kampy.modules.uac.replace import (
    decode_param,
    encode_param,
    parse_address,
    restored_uri,
    store_value,
    with_display,
    with_name_addr,
)

# what Kamailio 5.6 put in its Record-Route for alice -> anonymous with restore_passwd "s3cr3t"
# (tests/e2e/test_uac_e2e.py compares kampy's with Kamailio's on the wire)
OLD, NEW = "sip:alice@example.test", "sip:anonymous@anonymous.invalid"


def test_the_parameter_is_base64_with_dashes_for_padding() -> None:
    assert encode_param(b"ab") == "YWI-"
    assert encode_param(b"a") == "YQ--"
    assert decode_param("YQ--") == b"a"
    assert decode_param("Y!--") is None


def test_the_stored_value_gives_either_uri_from_the_other() -> None:
    value = store_value(OLD, NEW, "s3cr3t")
    assert restored_uri(value, NEW, "s3cr3t") == (OLD, "")
    assert restored_uri(value, OLD, "s3cr3t") == (NEW, "")


def test_a_wrong_password_gives_no_uri() -> None:
    value = store_value(OLD, NEW, "s3cr3t")
    uri, why = restored_uri(value, NEW, "other")
    assert uri is None and why


def test_display_replacement_keeps_the_rest_of_the_header() -> None:
    addr = parse_address('"Alice" <sip:alice@example.test>;tag=1')
    assert addr is not None
    assert with_display(addr, '"Bob"') == '"Bob" <sip:alice@example.test>;tag=1'
    assert with_display(addr, "") == ' <sip:alice@example.test>;tag=1'
    bare = parse_address("sip:alice@example.test;tag=1")
    assert bare is not None and bare.uri_text == "sip:alice@example.test"
    assert with_display(bare, '"A"') == '"A" <sip:alice@example.test>;tag=1'


def test_the_reply_gets_the_requests_name_addr_and_keeps_its_tag() -> None:
    assert with_name_addr("<sip:x@y>;tag=9", '"Alice" <sip:alice@example.test>') == \
        '"Alice" <sip:alice@example.test>;tag=9'


def test_a_credential_is_user_realm_password() -> None:
    assert digest.parse_credential("u:realm.test:pw") == digest.Credential("u", "realm.test", "pw")
    with pytest.raises(ValueError):
        digest.parse_credential("u:realm.test")


def test_digest_response_with_qop_uses_kamailios_cnonce() -> None:
    ch, _ = digest.parse_challenge('Digest realm="r", nonce="n", qop="auth,auth-int", opaque="o"')
    assert ch is not None and ch.qop_auth
    crd = digest.Credential("u", "r", "p")
    resp, cnonce = digest.response("INVITE", "sip:b@h", crd, ch)

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()
    assert resp == md5(f"{md5('u:r:p')}:n:00000001:{cnonce}:auth:{md5('INVITE:sip:b@h')}")
    line = digest.authorization(407, "sip:b@h", crd, ch, resp, cnonce)
    assert line == (f'Proxy-Authorization: Digest username="u", realm="r", nonce="n", uri="sip:b@h", '
                    f'opaque="o", qop=auth, nc=00000001, cnonce="{cnonce}", response="{resp}", '
                    'algorithm=MD5\r\n')


def test_an_unsupported_algorithm_is_refused() -> None:
    ch, why = digest.parse_challenge('Digest realm="r", nonce="n", algorithm=SHA-256')
    assert ch is None and "unsupported algorithm" in why


CFG = """
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "rr.so"
loadmodule "uac.so"
modparam("uac", "restore_mode", "{mode}")
modparam("uac", "restore_from_avp", "$avp(orig_from)")
{extra}
request_route {{
    if (loose_route()) {{
        $avp(restored) = uac_restore_from();
        t_relay();
        exit;
    }}
    $avp(first) = uac_replace_from("\\"Anon\\"", "sip:anon@anon.test");
    $avp(second) = uac_replace_from("sip:again@anon.test");
    record_route();
    t_relay();
}}
"""

INVITE = """\
INVITE sip:bob@192.0.2.20:5062 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-u1
Max-Forwards: 70
From: "Alice" <sip:alice@example.test>;tag=a1
To: <sip:bob@example.test>
Call-ID: uac-1
CSeq: 1 INVITE
Contact: <sip:alice@192.0.2.10>
"""


def _server(kampy_cfg: Any, mode: str, extra: str = "") -> Any:
    return kampy_cfg(CFG.format(mode=mode, extra=extra))


def test_replace_from_in_auto_mode_adds_the_vsf_parameter(kampy_cfg: Any) -> None:
    sip = _server(kampy_cfg, "auto")
    result = sip.send(INVITE, src="192.0.2.10:5060")
    out = result.assert_forwarded("INVITE").msg
    assert out.header("From") == '"Anon" <sip:anon@anon.test>;tag=a1'
    rr = out.header("Record-Route")
    assert ";vsf=" + store_value("sip:alice@example.test", "sip:anon@anon.test", "") in rr
    assert (result.avp("first"), result.avp("second")) == (1, -1)  # once per message
    assert result.avp("orig_from") == '"Alice" <sip:alice@example.test>'


def test_replace_from_in_none_mode_leaves_no_parameter_and_may_be_called_again(kampy_cfg: Any) -> None:
    sip = _server(kampy_cfg, "none")
    result = sip.send(INVITE, src="192.0.2.10:5060")
    out = result.assert_forwarded("INVITE").msg
    assert out.header("From") == '"Anon" <sip:again@anon.test>;tag=a1'
    assert "vsf=" not in (out.header("Record-Route") or "")
    assert (result.avp("first"), result.avp("second")) == (1, 1)


def test_a_replaced_from_sets_use_uac_from_and_a_second_call_after_msg_iflag_set_fails(
        kampy_cfg: Any) -> None:
    # Kamailio's FL_USE_UAC_FROM (tm builds the CANCELs of such an INVITE from the one sent)
    sip = kampy_cfg(CFG.replace("{mode}", "auto").replace("{extra}", 'loadmodule "corex.so"').replace(
        "{{", "{").replace("}}", "}").replace(
        '$avp(second) = uac_replace_from("sip:again@anon.test");',
        '$avp(flag) = msg_iflag_is_set("USE_UAC_FROM"); msg_iflag_set("USE_UAC_TO"); '
        '$avp(second) = uac_replace_to("sip:again@anon.test");'))
    result = sip.send(INVITE, src="192.0.2.10:5060")
    assert (result.avp("first"), result.avp("flag"), result.avp("second")) == (1, 1, -1)


def test_manual_mode_restores_only_when_the_script_asks(kampy_cfg: Any) -> None:
    sip = _server(kampy_cfg, "manual")
    rr = sip.send(INVITE, src="192.0.2.10:5060").assert_forwarded("INVITE").msg.header("Record-Route")
    bye = INVITE.replace("INVITE sip", "BYE sip").replace("1 INVITE", "2 BYE").replace(
        "To: <sip:bob@example.test>", f"To: <sip:bob@example.test>;tag=b1\nRoute: {rr}")
    result = sip.send(bye, src="192.0.2.10:5060")
    assert result.avp("restored") == 1
    assert result.assert_forwarded("BYE").msg.header("From") == '"Alice" <sip:anon@anon.test>;tag=a1'


def test_auto_mode_needs_rr_append_fromtag(kampy_cfg: Any) -> None:
    with pytest.raises(ConfigError, match="append_fromtag"):
        _server(kampy_cfg, "auto", 'modparam("rr", "append_fromtag", 0)')


def test_restore_dlg_needs_the_dialog_module(kampy_cfg: Any) -> None:
    with pytest.raises(ConfigError, match="failed to find dialog API - is dialog module loaded"):
        _server(kampy_cfg, "auto", 'modparam("uac", "restore_dlg", 1)')


def test_an_unknown_restore_mode_is_refused(kampy_cfg: Any) -> None:
    with pytest.raises(ConfigError, match="restore_mode"):
        _server(kampy_cfg, "rr")


def test_the_default_auto_mode_needs_the_rr_module(kampy_cfg: Any) -> None:
    with pytest.raises(ConfigError, match="can't load RR API"):
        kampy_cfg('loadmodule "tm.so"\nloadmodule "uac.so"\nrequest_route { drop; }')


def test_a_partial_auth_avp_definition_is_refused(kampy_cfg: Any) -> None:
    with pytest.raises(ConfigError, match="partial definition of auth AVP"):
        _server(kampy_cfg, "auto", 'modparam("uac", "auth_username_avp", "$avp(u)")')


UAC_REQ = """
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "rr.so"
loadmodule "uac.so"
request_route {
    $uac_req(method) = "MESSAGE";
    $uac_req(ruri) = "sip:peer@192.0.2.30:5070";
    $uac_req(furi) = "sip:me@example.test";
    $uac_req(hdrs) = "X-A: 1\\r\\nContent-Type: text/plain\\r\\n";
    $uac_req(body) = "hi";
    $avp(m) = $uac_req(method);
    $avp(t) = $uac_req(turi);
    $avp(rc) = uac_req_send();
    $uac_req(all) = $null;
    $avp(after) = $uac_req(method);
    $avp(empty) = uac_req_send();
    sl_send_reply("200", "OK");
}
"""


def test_uac_req_send_sends_what_uac_req_holds(kampy_cfg: Any) -> None:
    sip = kampy_cfg(UAC_REQ)
    result = sip.send_request("OPTIONS", "sip:x@example.test")
    assert (result.avp("m"), result.avp("t"), result.avp("rc")) == ("MESSAGE", None, 1)
    assert (result.avp("after"), result.avp("empty")) == (None, -1)
    sent = result.requests("MESSAGE")[0].msg
    assert sent.uri == "sip:peer@192.0.2.30:5070"
    assert sent.header("To") == "<sip:peer@192.0.2.30:5070>"  # no turi: the R-URI
    assert sent.from_.uri.user == "me"
    assert sent.header("X-A") == "1" and sent.body == b"hi"


# ------------------------------------------------------------------ remote registrations

REG_CFG = """
loadmodule "db_sqlite.so"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "uac.so"
modparam("uac", "restore_mode", "none")
modparam("uac", "reg_db_url", "{url}")
modparam("uac", "reg_contact_addr", "192.0.2.1:5060")
modparam("uac", "reg_active", 0)
modparam("uac", "auth_realm_avp", "$avp(arealm)")
modparam("uac", "auth_username_avp", "$avp(auser)")
modparam("uac", "auth_password_avp", "$avp(apass)")
request_route {{
    $avp(lk) = uac_reg_lookup("kam1", "$var(l)");
    $avp(l) = $var(l);
    $avp(lku) = uac_reg_lookup_uri("sip:bob@example.test", "$var(u)");
    $avp(u) = $var(u);
    $avp(st) = uac_reg_status("kam1");
    $avp(none) = uac_reg_status("nobody");
    $avp(rt) = uac_reg_request_to("bob", 1);
    $avp(dis) = uac_reg_disable("l_uuid", "kam2");
    $avp(st2) = uac_reg_status("kam2");
    $avp(bad) = uac_reg_enable("realm", "x");
    sl_send_reply("200", "OK");
}}
"""


def _reg_row(uuid: str, user: str, **extra: Any) -> dict[str, Any]:
    row = {"l_uuid": uuid, "l_username": user, "l_domain": "example.test", "r_username": f"r-{user}",
           "r_domain": "sip.provider.test", "realm": "provider.test", "auth_username": f"a-{user}",
           "auth_password": "pw", "auth_ha1": "", "auth_proxy": "sip:192.0.2.50", "expires": 300,
           "flags": 0, "reg_delay": 0, "contact_addr": "", "socket": ""}
    row.update(extra)
    return row


@pytest.fixture
def reg_sip(kampy_cfg: Any, tmp_path: Any) -> Any:
    from kampy.db import connect
    from kampy.db.schema import create_tables

    url = f"sqlite://{tmp_path / 'uacreg.sqlite'}"
    db = connect(url)
    try:
        create_tables(db, ["version", "uacreg"])
        db.insert("uacreg", _reg_row("kam1", "alice"))
        db.insert("uacreg", _reg_row("kam2", "bob", auth_password="", auth_ha1="0" * 32))
        db.insert("uacreg", _reg_row("kam3", "carol", auth_password=""))  # no password: left out
    finally:
        db.close()
    sip = kampy_cfg(REG_CFG.format(url=url), db=None)
    sip.db_path = tmp_path / "uacreg.sqlite"
    return sip


def test_reg_dump_lists_the_records_with_kamailios_fields(reg_sip: Any) -> None:
    dump = reg_sip.rpc("uac.reg_dump")
    assert sorted(r["l_uuid"] for r in dump) == ["kam1", "kam2"]
    alice = next(r for r in dump if r["l_uuid"] == "kam1")
    assert list(alice) == ["l_uuid", "l_username", "l_domain", "r_username", "r_domain", "realm",
                           "auth_username", "auth_password", "auth_ha1", "auth_proxy", "expires", "flags",
                           "diff_expires", "timer_expires", "reg_init", "reg_delay", "contact_addr", "socket"]
    assert (alice["auth_ha1"], alice["contact_addr"], alice["expires"]) == ("none", "192.0.2.1:5060", 300)
    assert reg_sip.stat("uac:regtotal") == 2


def test_reg_functions_read_the_records(reg_sip: Any) -> None:
    result = reg_sip.send_request("OPTIONS", "sip:x@example.test")
    assert (result.avp("lk"), result.avp("l")) == (1, "sip:alice@example.test")
    assert (result.avp("lku"), result.avp("u")) == (1, "kam2")
    assert (result.avp("st"), result.avp("none")) == (-99, -1)  # reg_active 0: nothing sent yet
    assert result.avp("rt") == 1
    assert (result.ru, result.du) == ("sip:r-bob@sip.provider.test", "sip:192.0.2.50")
    assert (result.avp("arealm"), result.avp("auser"), result.avp("apass")) == ("provider.test", "a-bob", "")
    assert (result.avp("dis"), result.avp("st2"), result.avp("bad")) == (1, -3, -3)


def test_reg_info_and_its_faults(reg_sip: Any) -> None:
    from kampy.api import RpcFault

    assert reg_sip.rpc("uac.reg_info", ["l_username", "alice"])["l_uuid"] == "kam1"
    with pytest.raises(RpcFault, match="Record not found"):
        reg_sip.rpc("uac.reg_info", ["l_uuid", "nobody"])
    with pytest.raises(RpcFault, match="Unsupported filter attribute"):
        reg_sip.rpc("uac.reg_info", ["realm", "x"])


def test_reg_add_remove_active_and_refresh(reg_sip: Any) -> None:
    from kampy.api import RpcFault
    from kampy.db import connect

    reg_sip.rpc("uac.reg_add", ["kam9", "dave", "example.test", "dave", "p.test", "", "dave", "pw", ".",
                                "sip:192.0.2.9", 60, 0, 0, "", "."])
    info = reg_sip.rpc("uac.reg_info", ["l_uuid", "kam9"])
    assert (info["auth_ha1"], info["contact_addr"]) == ("none", "192.0.2.1:5060")
    with pytest.raises(RpcFault, match="uuid already exists"):
        reg_sip.rpc("uac.reg_add", ["kam9", "d", "e", "d", "p", "", "d", "pw", ".", "sip:x", 60, 0, 0, "",
                                    "."])
    reg_sip.rpc("uac.reg_remove", ["kam9"])
    with pytest.raises(RpcFault, match="Record not found"):
        reg_sip.rpc("uac.reg_remove", ["kam9"])
    assert reg_sip.rpc("uac.reg_active", [1]) == {"omode": 0, "nmode": 1}
    db = connect(f"sqlite://{reg_sip.db_path}")
    try:
        db.update("uacreg", {"l_uuid": "kam1"}, {"expires": 120})
    finally:
        db.close()
    reg_sip.rpc("uac.reg_refresh", ["kam1"])
    assert reg_sip.rpc("uac.reg_info", ["l_uuid", "kam1"])["expires"] == 120
    with pytest.raises(RpcFault, match="Record not found"):
        reg_sip.rpc("uac.reg_refresh", ["nobody"])


# ------------------------------------------------------------------ uac_auth

AUTH_CFG = """
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "uac.so"
modparam("uac", "restore_mode", "none")
modparam("uac", "auth_realm_avp", "$avp(arealm)")
modparam("uac", "auth_username_avp", "$avp(auser)")
modparam("uac", "auth_password_avp", "$avp(apass)")
modparam("uac", "credential", "cuser:cred.test:cpass")
request_route {{
    {avps}
    t_on_failure("AUTH");
    t_relay();
}}
failure_route[AUTH] {{
    $avp(auth) = {call};
    if ($avp(auth) == 1) {{
        t_relay();
    }}
}}
"""


def _challenging(realm: str) -> Any:
    from kampy.testing.messages import Answer

    def answer(request: Any) -> Any:
        if request.msg.header("Proxy-Authorization"):
            return 200
        return Answer(407, headers={"Proxy-Authenticate": f'Digest realm="{realm}", nonce="abc"'})
    return answer


def _auth_run(kampy_cfg: Any, realm: str, avps: str, call: str = "uac_auth()") -> Any:
    sip = kampy_cfg(AUTH_CFG.format(avps=avps, call=call))
    sip.ua("sip:up@192.0.2.40", "192.0.2.40:5060", answer=_challenging(realm))
    return sip.send_request("INVITE", "sip:up@192.0.2.40:5060")


def _md5(s: str) -> str:
    return hashlib.md5(s.encode()).hexdigest()


def test_uac_auth_takes_the_avp_credentials_for_any_realm_when_the_realm_avp_is_empty(
        kampy_cfg: Any) -> None:
    result = _auth_run(kampy_cfg, "up.test", '$avp(arealm) = ""; $avp(auser) = "au"; $avp(apass) = "ap";')
    invites = result.requests("INVITE")
    assert len(invites) == 2 and result.avp("auth") == 1
    value = invites[1].msg.header("Proxy-Authorization")
    ha2 = _md5("INVITE:sip:up@192.0.2.40:5060")
    assert value == (f'Digest username="au", realm="up.test", nonce="abc", uri="sip:up@192.0.2.40:5060", '
                     f'response="{_md5(_md5("au:up.test:ap") + ":abc:" + ha2)}", algorithm=MD5')
    assert invites[1].msg.cseq == invites[0].msg.cseq


def test_uac_auth_falls_back_to_the_credential_of_the_realm(kampy_cfg: Any) -> None:
    result = _auth_run(kampy_cfg, "cred.test", '$avp(arealm) = "elsewhere.test"; $avp(auser) = "au"; '
                                               '$avp(apass) = "ap";')
    value = result.requests("INVITE")[1].msg.header("Proxy-Authorization")
    assert 'username="cuser", realm="cred.test"' in value


def test_uac_auth_without_credentials_for_the_realm_is_minus_1(kampy_cfg: Any) -> None:
    result = _auth_run(kampy_cfg, "unknown.test", "")
    assert result.avp("auth") == -1 and len(result.requests("INVITE")) == 1


def test_uac_auth_mode_1_takes_the_password_as_ha1(kampy_cfg: Any) -> None:
    ha1 = _md5("au:up.test:ap")
    avps = f'$avp(arealm) = "up.test"; $avp(auser) = "au"; $avp(apass) = "{ha1}";'
    result = _auth_run(kampy_cfg, "up.test", avps, "uac_auth_mode(1)")
    value = result.requests("INVITE")[1].msg.header("Proxy-Authorization")
    assert f'response="{_md5(ha1 + ":abc:" + _md5("INVITE:sip:up@192.0.2.40:5060"))}"' in value


def test_a_missing_uacreg_table_is_logged_and_the_server_runs_without_records(kampy_cfg: Any, tmp_path: Any,
                                                                             caplog: Any) -> None:
    sip = kampy_cfg(REG_CFG.format(url=f"sqlite://{tmp_path / 'empty.sqlite'}"), db=None)
    assert sip.rpc("uac.reg_dump") == []
    assert "failed to load the records of table uacreg" in caplog.text


def test_reg_unregister_sends_a_register_with_expires_0_to_the_auth_proxy(reg_sip: Any) -> None:
    proxy = reg_sip.ua("sip:provider@192.0.2.50", "192.0.2.50:5060", answer=200)
    reg_sip.rpc("uac.reg_unregister", ["l_uuid", "kam1"])
    sent = [s.msg for s in proxy.requests if s.method == "REGISTER"]
    assert len(sent) == 1
    assert sent[0].uri == "sip:sip.provider.test"
    assert sent[0].header("To") == "<sip:r-alice@sip.provider.test>"
    assert (sent[0].header("Contact"), sent[0].header("Expires")) == ("<sip:kam1@192.0.2.1:5060>", "0")


EVROUTE_CFG = """
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "rr.so"
loadmodule "xlog.so"
loadmodule "uac.so"
{extra}
request_route {{
    $uac_req(method) = "MESSAGE";
    $uac_req(ruri) = "sip:peer@192.0.2.30:5070";
    $uac_req(evroute) = 1;
    uac_req_send();
    sl_send_reply("200", "OK");
}}
event_route[uac:reply] {{
    xlog("L_ERR", "reply $uac_req(evcode) $uac_req(evtype) $rs\n");
}}
"""


@pytest.mark.parametrize(("extra", "runs"), [("", True),
                                             ('modparam("uac", "event_callback", "ksr_uac_event")', False)])
def test_the_reply_route_runs_unless_a_kemi_event_callback_is_set(kampy_cfg: Any, caplog: Any, extra: str,
                                                                   runs: bool) -> None:
    sip = kampy_cfg(EVROUTE_CFG.format(extra=extra))
    sip.ua("sip:peer@192.0.2.30", "192.0.2.30:5070", answer=486)
    sip.send_request("OPTIONS", "sip:x@example.test")
    assert ("reply 486 1 486" in caplog.text) is runs


def _active_reg(kampy_cfg: Any, tmp_path: Any, answer: Any) -> tuple[Any, Any]:
    from kampy.db import connect
    from kampy.db.schema import create_tables

    url = f"sqlite://{tmp_path / 'active.sqlite'}"
    db = connect(url)
    try:
        create_tables(db, ["version", "uacreg"])
        db.insert("uacreg", _reg_row("kam1", "alice"))
    finally:
        db.close()
    sip = kampy_cfg(REG_CFG.format(url=url), db=None, modparams={"uac": {"reg_active": 1}})
    provider = sip.ua("sip:provider@192.0.2.50", "192.0.2.50:5060", answer=answer)
    sip.advance(1)
    return sip, provider


def test_a_refused_registration_disables_the_record(kampy_cfg: Any, tmp_path: Any) -> None:
    sip, provider = _active_reg(kampy_cfg, tmp_path, 403)
    assert [s.method for s in provider.requests] == ["REGISTER"]
    info = sip.rpc("uac.reg_info", ["l_uuid", "kam1"])
    assert info["flags"] & 1 and sip.stat("uac:regdisabled") == 1
    sip.advance(200)
    assert len(provider.requests) == 1  # disabled: not tried again


def test_423_takes_min_expires_for_the_next_register(kampy_cfg: Any, tmp_path: Any) -> None:
    from kampy.testing.messages import Answer

    def answer(request: Any) -> Any:
        if request.msg.header("Expires") == "300":
            return Answer(423, headers={"Min-Expires": "600"})
        return Answer(200, headers={"Contact": "<sip:kam1@192.0.2.1:5060>;expires=600"})
    sip, provider = _active_reg(kampy_cfg, tmp_path, answer)
    sip.advance(90)
    expires = [s.msg.header("Expires") for s in provider.requests]
    assert expires[:2] == ["300", "600"]
    assert sip.rpc("uac.reg_info", ["l_uuid", "kam1"])["expires"] == 600


def test_reg_keep_callid_refreshes_in_the_same_call_id_with_the_next_cseq(kampy_cfg: Any,
                                                                         tmp_path: Any) -> None:
    from kampy.db import connect
    from kampy.db.schema import create_tables
    from kampy.testing.messages import Answer

    url = f"sqlite://{tmp_path / 'keep.sqlite'}"
    with connect(url) as db:
        create_tables(db, ["version", "uacreg"])
        db.insert("uacreg", _reg_row("kam1", "alice"))
    params = {"uac": {"reg_active": 1, "reg_keep_callid": 1}}
    sip = kampy_cfg(REG_CFG.format(url=url), db=None, modparams=params)
    provider = sip.ua("sip:provider@192.0.2.50", "192.0.2.50:5060",
                      answer=Answer(200, headers={"Contact": "<sip:kam1@192.0.2.1:5060>;expires=60"}))
    sip.advance(1)
    sip.advance(90)
    sent = [s.msg for s in provider.requests]
    assert len(sent) >= 2
    assert sent[1].call_id == sent[0].call_id
    assert (sent[0].cseq.num, sent[1].cseq.num) == (10, 11)
    assert sip.rpc("uac.reg_info", ["l_uuid", "kam1"])["flags"] & 4  # online


@pytest.mark.parametrize(("sock", "rc"), [("udp:127.0.0.1:5060", 1), ("udp:10.9.9.9:5060", -1)])
def test_uac_req_sock_must_be_a_local_socket(kampy_cfg: Any, sock: str, rc: int) -> None:
    cfg = UAC_REQ.replace('$uac_req(body) = "hi";', f'$uac_req(body) = "hi"; $uac_req(sock) = "{sock}";')
    result = kampy_cfg(cfg).send_request("OPTIONS", "sip:x@example.test")
    assert result.avp("rc") == rc
    assert len(result.requests("MESSAGE")) == (1 if rc == 1 else 0)
