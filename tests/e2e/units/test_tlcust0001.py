"""Unit tlcust0001 of Kamailio's suite (log_custom: basic tests): with log_engine_type "udp" kampy
sends its log lines, and log_udp()'s text, to a UDP listener (the unit's `nc -u -l -p 24680`).
The config is the unit's, without its comments."""
from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable

from tests.e2e.units.harness import UnitServer, status

CFG = """#!KAMAILIO
debug=2
log_stderror=no
memdbg=5
memlog=5
log_facility=LOG_LOCAL0
log_prefix="{$mt $hdr(CSeq) $ci} "
children=2
listen=udp:127.0.0.1:5060
log_engine_type="udp"
log_engine_data="127.0.0.1:24680"

loadmodule "log_custom.so"
loadmodule "jsonrpcs.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
loadmodule "counters.so"

request_route {
	xlog("===== xlog message - R-URI is $ru\\n");
	log_udp("===== logcustom message - R-URI is $ru\\n");
	sl_send_reply("200", "Received");
	exit;
}
"""


def received(sock: socket.socket, until: str, timeout: float = 10,
             senders: set[tuple[str, int]] | None = None) -> list[str]:
    """The datagrams' texts until one holds `until`; their source addresses added to `senders`."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not any(until in line for line in lines):
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        with contextlib.suppress(TimeoutError):
            data, source = sock.recvfrom(65535)
            lines.append(data.decode(errors="replace"))
            if senders is not None:
                senders.add(source)
    return lines


def test_tlcust0001_log_lines_and_log_udp_text_reach_the_udp_target(
        unit_server: Callable[..., UnitServer]) -> None:
    server = unit_server(CFG, "tlcust0001")
    with contextlib.closing(server.ns.socket(socket.AF_INET, socket.SOCK_DGRAM)) as nc:
        nc.bind(("127.0.0.1", 24680))
        server.start("-a", "no")
        assert status(server.sipsak("sip:alice@127.0.0.1:5060")) == 200
        lines = received(nc, "logcustom")
        server.stop()
    assert "===== logcustom message - R-URI is sip:alice@127.0.0.1:5060\n" in lines
    xlog = [line for line in lines if "xlog message" in line]
    assert len(xlog) == 1
    assert xlog[0].startswith("(") and "ERROR: {1 1 OPTIONS " in xlog[0]


def test_tlcust0001_every_process_sends_its_lines_from_one_source_port(
        unit_server: Callable[..., UnitServer]) -> None:
    """The unit's `nc -u -l` takes the datagrams of its first sender only: Kamailio's processes all
    send from its SIP socket. Worker 1 logs its control sockets as it starts; the requests go to
    either worker (each logs and sends its log_udp() text; a run in which worker 1 takes all eight
    cannot tell)."""
    server = unit_server(CFG, "tlcust0001")
    senders: set[tuple[str, int]] = set()
    with contextlib.closing(server.ns.socket(socket.AF_INET, socket.SOCK_DGRAM)) as nc:
        nc.bind(("127.0.0.1", 24680))
        server.start("-a", "no")
        for n in range(8):
            assert status(server.sipsak(f"sip:alice{n}@127.0.0.1:5060")) == 200
            received(nc, f"alice{n}@", senders=senders)
        server.stop()
    assert len(senders) == 1, senders
