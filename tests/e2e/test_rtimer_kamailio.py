"""rtimer beside Kamailio 5.6: the same config on both servers, its timer routes logging what they
see of the message they run with (Kamailio's faked request: its method, URIs, headers)
and which timer process runs them; the lines logged must be the same."""
from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.proxy import start_proxy
from tests.support.kamailio_cli import wait_until

CFG = """#!KAMAILIO
listen=LISTEN
children=1
debug=2
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "rtimer.so"
modparam("rtimer", "timer", "name=ta;interval=1;mode=2;")
modparam("rtimer", "timer", "name=tb;interval=300000u;")
modparam("rtimer", "exec", "timer=ta;route=TICK")
modparam("rtimer", "exec", "timer=tb;route=TOCK")
request_route {
    sl_send_reply("404", "Not here");
}
route[TICK] {
    # not $si, $Ri, $Rp: see rtimer's README
    xlog("L_NOTICE", "TICK[$rtimer_worker] $rm $ru $rU|$sp|$pr|$fu|$ft|$tu|$ci|$cs|$hdr(Via)|$ml|$bs|\\n");
    $var(rc) = is_method("OPTIONS");
    xlog("L_NOTICE", "TICK[$rtimer_worker] is OPTIONS: $var(rc) $(ru{uri.host}) $(hdr(From){tobody.tag})\\n");
}
route[TOCK] {
    xlog("L_NOTICE", "TOCK[$rtimer_worker] $rm $ru\\n");
}
"""
LINE = re.compile(r"(T[IO]CK\[\d\].*)")


def timer_lines(output: str) -> set[str]:
    return {m.group(1).rstrip() for m in LINE.finditer(output)}


def run(target: str, directory: Path) -> set[str]:
    cfg = directory / "rtimer.cfg"
    cfg.write_text(CFG)
    proxy = start_proxy(target, directory, cfg=cfg)
    try:
        # two processes of timer ta (workers 0 and 1) and the mode 1 timer tb (worker 0)
        assert wait_until(lambda: len(timer_lines(proxy.output())) >= 5, 15), proxy.output()[-3000:]
    finally:
        proxy.stop()
    return timer_lines(proxy.output())


def test_timer_routes_see_what_kamailio_s_see(tmp_path: Path) -> None:
    lines = {}
    for target in ("kamailio", "kampy-2"):
        directory = tmp_path / target
        directory.mkdir()
        lines[target] = run(target, directory)
    assert lines["kampy-2"] == lines["kamailio"]
    assert any(line.startswith("TOCK[0] OPTIONS sip:you@kamailio.org") for line in lines["kampy-2"])
