"""Pseudo-variables, transformations and xlog through a config run by the in-process Server."""
from __future__ import annotations

import logging

import pytest

from kampy.api import Socket, Source
from tests.pv_helpers import INVITE

pipeline = pytest.importorskip("kampy.config.pipeline")
server_mod = pytest.importorskip("kampy.runtime.server")

SOCK = Socket("udp", "127.0.0.1", 5060)
SRC = Source("udp", "127.0.0.1", 5070, SOCK)

CFG = """
loadmodule "pv"
loadmodule "xlog"
loadmodule "sl"
request_route {
    $var(user) = $(ru{uri.user}{s.toupper});
    $avp(seen) = $ci;
    $avp(seen) = $fU;
    xinfo("user=$var(user) avps=$(avp(seen)[*]) hdr=$(hdr(X-Foo)[-1]) si=$si:$sp\\n");
    if ($rU == "alice" && $(fu{uri.host}) == "b.com") {
        sl_send_reply("299", "$var(user)");
    }
    sl_send_reply("500", "no");
}
"""


def run(cfg: str, caplog: pytest.LogCaptureFixture) -> list[object]:
    caplog.set_level(logging.DEBUG, "kampy.script")
    compiled = pipeline.load_text(cfg, "t.cfg")
    server = server_mod.Server.from_config(compiled, sockets=[SOCK])
    return server.handle(INVITE, SRC)


def test_config_uses_pvs_transforms_and_xlog(caplog: pytest.LogCaptureFixture) -> None:
    out = run(CFG, caplog)
    assert out and out[0].data.startswith(b"SIP/2.0 299 ALICE")  # type: ignore[attr-defined]
    lines = [r.getMessage() for r in caplog.records if r.name == "kampy.script"]
    assert "user=ALICE avps=bob, abc@host hdr=two si=127.0.0.1:5070" in lines[0]


def test_config_assigns_ruri_parts(caplog: pytest.LogCaptureFixture) -> None:
    cfg = """
loadmodule "pv"
loadmodule "sl"
request_route {
    $rU = "carol";
    $rd = "example.org";
    if ($ru == "sip:carol@example.org:5080;transport=tcp") { sl_send_reply("298", "ok"); }
    sl_send_reply("500", "$ru");
}
"""
    out = run(cfg, caplog)
    assert out[0].data.startswith(b"SIP/2.0 298")  # type: ignore[attr-defined]
