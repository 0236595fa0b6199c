"""force_send_socket() on the wire: kampy and Kamailio 5.6 run configs/force_send_socket.cfg, whose
second socket listens on 127.0.0.1:PORT2 advertised as 127.0.0.9:5999, with the same argument; the
forwarded request leaves from the same socket with the same Via, or both refuse the config.

Kamailio looks the socket up with find_si() when the config loads: the host may be the advertised
address, a missing port means any port, but the port must be the socket's own, not the advertised one."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.e2e.kampy_process import CONFIGS, free_port
from tests.e2e.proxy import NotAvailable, start_proxy

FSS_CFG = CONFIGS / "force_send_socket.cfg"
ADVERTISED = "127.0.0.9:5999"


def _forwarded_from(target: str, directory: Path, argument: str) -> tuple[str, str]:
    """(which socket sent the forwarded MESSAGE, its Via) or ("refused", "") if the config fails.

    Each start takes a fresh second port; a start that loses its ports to another socket between
    free_port() and the server's bind (both draw from the ephemeral range) is retried."""
    for _ in range(3):
        port2 = free_port()
        try:
            return _forwarded_once(target, directory, argument.replace("PORT2", str(port2)), port2)
        except PortTaken:
            continue
    raise AssertionError(f"{target} could not bind its sockets three times")


class PortTaken(Exception):
    pass


def _forwarded_once(target: str, directory: Path, argument: str, port2: int) -> tuple[str, str]:
    try:
        proxy = start_proxy(target, directory, cfg=FSS_CFG, ready_timeout=10, defines=(
            f"FSS_LISTEN=udp:127.0.0.1:{port2}", f"FSS_ADV={ADVERTISED}", f"FSS_TARGET={argument}"))
    except NotAvailable as exc:
        if target.startswith("kampy"):
            raise
        pytest.skip(str(exc))
    except RuntimeError as exc:
        if "Address already in use" in str(exc):
            raise PortTaken from exc
        assert "force_send_socket" in str(exc), str(exc)
        return "refused", ""
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        callee.bind(("127.0.0.1", 0))
        callee.settimeout(5)
        port = callee.getsockname()[1]
        callee.sendto((f"MESSAGE sip:bob@127.0.0.1:{port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKfss{port}\r\n"
                       "Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=a1\r\n"
                       f"To: <sip:bob@example.test>\r\nCall-ID: fss-{port}\r\nCSeq: 1 MESSAGE\r\n"
                       "Content-Length: 0\r\n\r\n").encode(), proxy.addr)
        data, src = callee.recvfrom(65535)
        via = next(line for line in data.decode().split("\r\n") if line.startswith("Via:"))
        sent_by = via.split()[2].split(";")[0]
        names = {proxy.port: "FIRST", port2: "SECOND"}
        return names.get(src[1], str(src)), sent_by.replace(f"127.0.0.1:{proxy.port}", "FIRST")
    finally:
        callee.close()
        proxy.stop()


@pytest.mark.parametrize(("argument", "expected"), [
    ("udp:127.0.0.9", ("SECOND", ADVERTISED)),          # the advertised host, any port
    ("127.0.0.9", ("SECOND", ADVERTISED)),              # any protocol
    ("udp:127.0.0.9:PORT2", ("SECOND", ADVERTISED)),    # the advertised host, the socket's port
    ("udp:127.0.0.9:5999", ("refused", "")),            # the advertised port is not the socket's
    ("udp:127.0.0.1", ("FIRST", "FIRST")),              # the first socket with that address
])
def test_force_send_socket_matches_kamailio(tmp_path: Path, argument: str, expected: tuple[str, str]) -> None:
    kamailio = _forwarded_from("kamailio-1", tmp_path, argument)
    assert kamailio == expected
    assert _forwarded_from("kampy-1", tmp_path, argument) == kamailio
