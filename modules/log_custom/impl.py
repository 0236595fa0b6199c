"""The log_custom module: a UDP log target from the core's log_engine_type/log_engine_data."""
from __future__ import annotations

import socket
from typing import Any

from kampy.api import CoreAPI, MessageContext, Module, module_logger, parse_uri, SIPProtocolError

log = module_logger("log_custom")
# Kamailio's processes all send from its SIP socket, one source port (a receiver such as `nc -u -l`
# takes only its first sender's datagrams): the sockets are made before the workers fork
# (`preload`), and every process sends from the same one
_SHARED: dict[int, socket.socket] = {}


def _udp_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setblocking(False)
    return sock


def preload(params: dict[str, Any]) -> None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            _SHARED.setdefault(family, _udp_socket(family))
        except OSError as exc:  # no IPv6 here
            log.debug("no shared log socket of family %s: %s", family, exc)


def udp_target(engine_type: Any, engine_data: Any) -> tuple[str, int] | None:
    """The (address, port) of log_engine_data when log_engine_type is "udp" (Kamailio parses it as
    the host part of a SIP URI: `address[:port]`, 5060 by default)."""
    if not engine_type or not engine_data or str(engine_type).lower() != "udp":
        return None
    try:
        uri = parse_uri(f"sip:{engine_data}")
    except SIPProtocolError:
        raise ValueError(f"log_custom: invalid log_engine_data {engine_data!r}: "
                         "expected address:port") from None
    return uri.host.strip("[]"), uri.port or 5060


class LogCustomModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        core_params = core.core_params
        self.target = udp_target(core_params.get("log_engine_type"), core_params.get("log_engine_data"))
        self.sock: socket.socket | None = None
        if self.target is not None:
            family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
            self.sock = _SHARED.get(family) or _udp_socket(family)
            if core.divert_logs(self._send_line):
                log.debug("setting udp-send custom logging function")

    def _send_line(self, line: str) -> None:
        self.send(line.encode("utf-8", "replace"))

    def send(self, data: bytes) -> bool:
        if self.sock is None or self.target is None:
            return False
        try:
            self.sock.sendto(data, self.target)
        except OSError:  # not logged: the log itself may be what is being sent
            return False
        return True

    def log_udp(self, ctx: MessageContext, text: str) -> int:
        if self.sock is None:
            return 1
        return 1 if self.send(text.encode("utf-8", "replace")) else -1

    def destroy(self) -> None:
        if self.sock is not None and self.sock not in _SHARED.values():
            self.sock.close()
        self.sock = None
