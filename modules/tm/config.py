"""tm's group of the cfg framework (Kamailio's modules/tm/config.c), for the parameters kampy's tm
has: `kamcmd cfg.set_now_int tm fr_inv_timer 60000` changes the timer of the next transactions in
every worker. As in Kamailio, the timers `fr_timer`, `fr_inv_timer` and `wt_timer` are kept in
ticks of 1/16 s (what `cfg.diff` shows) and cannot be read back (`cfg.get`, `@cfg_get`)."""
from __future__ import annotations

from typing import Any

from kampy.api import CfgGroup, CfgVar

TICKS_HZ = 16
# cancel_b_method -> Kamailio's F_CANCEL_B_* flags, and back
_CANCEL_FLAGS = {0: 2, 1: 8, 2: 4}


def ms_to_ticks(ms: Any) -> int:
    """MS_TO_TICKS(), with Kamailio's minimum of one tick."""
    ticks = (int(ms) * TICKS_HZ + 999) // 1000
    return ticks or 1


def ticks_to_ms(ticks: Any) -> int:
    return int(ticks) * 1000 // TICKS_HZ


def cancel_b_flags(method: Any) -> int:
    if int(method) not in _CANCEL_FLAGS:
        raise ValueError(f"invalid value for cancel_b_method; {method}")
    return _CANCEL_FLAGS[int(method)]


def cancel_b_method(flags: Any) -> int:
    return next((m for m, f in _CANCEL_FLAGS.items() if f == int(flags)), 0)


def _timer(name: str, doc: str, fixup: str = "fix_timer") -> CfgVar:
    return CfgVar(name, "int", doc, fixup=fixup)


CFG = CfgGroup("tm", (
    CfgVar("auto_inv_100_reason", "string", "reason text of the automatically send 100 to an INVITE"),
    _timer("fr_timer", "timer which hits if no final reply for a request or ACK for a negative INVITE reply "
           "arrives (in milliseconds)"),
    _timer("fr_inv_timer", "timer which hits if no final reply for an INVITE arrives after a provisional "
           "message was received (in milliseconds)"),
    _timer("wt_timer", "time for which a transaction stays in memory to absorb delayed messages after it "
           "completed"),
    _timer("retr_timer1", "initial retransmission period (in milliseconds)", "fix_timer_ms"),
    _timer("retr_timer2", "maximum retransmission period (in milliseconds)", "fix_timer_ms"),
    CfgVar("noisy_ctimer", "int", "if set, INVITE transactions that time-out (FR INV timer) will be always "
           "replied", min=0, max=1),
    CfgVar("auto_inv_100", "int", "automatically send 100 to an INVITE", min=0, max=1),
    CfgVar("restart_fr_on_each_reply", "int", "restart final response timer on each provisional reply",
           min=0, max=1),
    CfgVar("unmatched_cancel", "int", "determines how CANCELs with no matching transaction are handled (0: "
           "statefull forwarding, 1: stateless forwarding, 2: drop)", min=0, max=2),
    CfgVar("cancel_b_method", "int", "How to cancel branches on which no replies were received: 0 - fake "
           "reply, 1 - retransmitting the request, 2 - send cancel", min=0, max=2,
           fixup="fix_cancel_b_method"),
    CfgVar("disable_6xx_block", "int", "if set to 1, 6xx is treated like a normal reply (breaks rfc)",
           min=0, max=1),
    CfgVar("relay_100", "int", "if set to 1, relay SIP 100 messages as a stateless proxy", min=0, max=1),
))
