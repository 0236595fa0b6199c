"""The core parameter `force_rport=yes` (cfg.y's FORCE_RPORT EQUAL NUMBER, as in the edge proxy example
of Kamailio's outbound module): every request is answered as if force_rport() had run."""
from __future__ import annotations

CFG = """
{param}
listen=udp:127.0.0.1:5060
loadmodule "sl.so"
request_route {{
	sl_send_reply("200", "OK");
}}
"""


def reply_via(kampy_cfg, param: str) -> str:  # type: ignore[no-untyped-def]
    sip = kampy_cfg(CFG.format(param=param))
    result = sip.send("""
        OPTIONS sip:127.0.0.1 SIP/2.0
        Via: SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK-fr1
        From: <sip:alice@example.test>;tag=fr1
        To: <sip:127.0.0.1>
        Call-ID: fr-1
        CSeq: 1 OPTIONS
        """, src="192.0.2.7:5099")
    (reply,) = result.replies
    return str(reply.msg.headers_named("via")[0])


def test_force_rport_yes_adds_rport_to_every_reply_via(kampy_cfg) -> None:
    assert "rport=5099" in reply_via(kampy_cfg, "force_rport=yes")


def test_add_rport_is_its_alias(kampy_cfg) -> None:
    assert "rport=5099" in reply_via(kampy_cfg, "add_rport=1")


def test_without_it_no_rport_is_added(kampy_cfg) -> None:
    assert "rport" not in reply_via(kampy_cfg, "")
