"""tm and the destination blocklist (Kamailio's USE_DST_BLOCKLIST parts of t_reply.c, timer.c and
t_fwd.c): with the core's `use_dst_blocklist` on, the source of a 503 is blocklisted (blst_503 and its
timeouts), so is a destination a branch timed out on (blst_methods_add) or could not be sent to, and
a branch is not sent to a blocklisted destination (blst_methods_lookup)."""
from __future__ import annotations

import re

from kampy.api import BLST_503, BLST_ERR_SEND, BLST_ERR_TIMEOUT, DstBlocklist, MessageContext, Response

from .base import TmBase, log
from .cell import ON_HOLD, Cell, Dest

# parser/msg_parser.h's request method bits (METHOD_OTHER for the rest)
METHOD_BITS = {"INVITE": 1, "CANCEL": 2, "ACK": 4, "BYE": 8, "INFO": 16, "REGISTER": 32, "SUBSCRIBE": 64,
               "NOTIFY": 128, "MESSAGE": 256, "OPTIONS": 512, "PRACK": 1024, "UPDATE": 2048, "REFER": 4096,
               "PUBLISH": 8192, "KDMQ": 16384, "GET": 32768, "POST": 65536, "PUT": 131072, "DELETE": 262144}
METHOD_OTHER = 524288
_SECONDS = re.compile(r"\s*(\d+)")


def method_bit(method: str) -> int:
    return METHOD_BITS.get(method.upper(), METHOD_OTHER)


class Blocklisting(TmBase):
    """blst_503, blst_503_*_timeout, blst_methods_add, blst_methods_lookup."""

    _dst_blocklist: DstBlocklist | None = None

    def _blocklist(self, proto: str) -> DstBlocklist | None:
        """The shared blocklist when the core's use_dst_blocklist is on (None otherwise)."""
        if not self.cfg.get("core", "use_dst_blocklist"):
            return None
        if self._dst_blocklist is None:
            self._dst_blocklist = DstBlocklist(self.core.shared, self.core.clock)
        return self._dst_blocklist

    def _ignored(self, proto: str, reason: int) -> bool:
        """The core's dst_blocklist_<proto>_imask: reasons not to blocklist for on that protocol."""
        try:
            imask = int(self.cfg.get("core", f"dst_blocklist_{proto.lower()}_imask") or 0)
        except KeyError:
            imask = 0
        return bool(reason & imask)

    def _blst_503(self, ctx: MessageContext) -> None:
        """A 503 reply: its source is blocklisted for its Retry-After (between blst_503_min_timeout and
        blst_503_max_timeout), or blst_503_def_timeout without one."""
        reply = ctx.msg
        assert isinstance(reply, Response)
        if not self.cfg.get("tm", "blst_503"):
            return
        src = ctx.src
        blocklist = self._blocklist(src.proto)
        if blocklist is None or self._ignored(src.proto, BLST_503):
            return
        timeout = int(self.cfg.get("tm", "blst_503_def_timeout") or 0)
        retry = reply.header("retry-after")
        if retry is not None:
            found = _SECONDS.match(retry)
            if found:
                timeout = max(int(found.group(1)), int(self.cfg.get("tm", "blst_503_min_timeout") or 0))
                timeout = min(timeout, int(self.cfg.get("tm", "blst_503_max_timeout") or 0))
        if timeout:
            log.debug("blocklisting %s:%s:%d for %d s (503)", src.proto, src.ip, src.port, timeout)
            blocklist.add(src.proto, src.ip, src.port, timeout, BLST_503)

    def _blst_timeout(self, cell: Cell, dest: Dest) -> None:
        """A branch timed out without any reply: its destination is blocklisted for the core's
        dst_blocklist_expire when the request's method is in blst_methods_add."""
        if dest.proto == ON_HOLD:
            return  # nothing was sent (failure_exec_mode)
        if not method_bit(cell.method) & int(self.cfg.get("tm", "blst_methods_add") or 0):
            return
        blocklist = self._blocklist(dest.proto)
        if blocklist is None or self._ignored(dest.proto, BLST_ERR_TIMEOUT):
            return
        ttl = int(self.cfg.get("core", "dst_blocklist_expire") or 0)
        blocklist.add(dest.proto, dest.host, dest.port, ttl, BLST_ERR_TIMEOUT)

    def _blst_send_failed(self, proto: str, host: str, port: int) -> None:
        """A branch's request could not be sent: its destination is blocklisted for the core's
        dst_blocklist_expire (t_send_branch's dst_blocklist_add(BLST_ERR_SEND))."""
        blocklist = self._blocklist(proto)
        if blocklist is None or self._ignored(proto, BLST_ERR_SEND):
            return
        ttl = int(self.cfg.get("core", "dst_blocklist_expire") or 0)
        blocklist.add(proto, host, port, ttl, BLST_ERR_SEND)

    def _blocklisted(self, method: str, proto: str, host: str, port: int) -> bool:
        """Whether a branch of `method` must not be sent to the destination (blst_methods_lookup)."""
        if not method_bit(method) & int(self.cfg.get("tm", "blst_methods_lookup") or 0) & 0xFFFFFFFF:
            return False
        blocklist = self._blocklist(proto)
        if blocklist is None or not blocklist.flags_of(proto, host, port):
            return False
        log.debug("blocklisted destination: %s:%d (%s)", host, port, proto)
        return True
