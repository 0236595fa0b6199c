"""tm's group of the cfg framework (Kamailio's modules/tm/config.c), every variable of it as Kamailio
5.6 shows it; those whose parameter kampy's tm does not implement change nothing in kampy.
`kamcmd cfg.set_now_int tm fr_inv_timer 60000` changes the timer of the next transactions in every
worker. As in Kamailio, the timers `fr_timer`, `fr_inv_timer` and `wt_timer` are kept in ticks of
1/16 s (what `cfg.diff` shows) and cannot be read back (`cfg.get`, `@cfg_get`)."""
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


def _kept(name: str, type_: str, default: Any, doc: str, min: int = 0, max: int = 0,  # noqa: A002
          fixup: str = "") -> CfgVar:
    """A variable of Kamailio's group whose parameter kampy's tm does not implement: shown, read and
    set as in Kamailio, starting from Kamailio's default, and changing nothing in kampy."""
    return CfgVar(name, type_, doc, param=None, default=default, min=min, max=max, fixup=fixup, inert=True)


# Kamailio 5.6's tm_cfg_def, in its order (cfg.list and cfg.get print them so)
CFG = CfgGroup("tm", (
    CfgVar("auto_inv_100_reason", "string", "reason text of the automatically send 100 to an INVITE"),
    CfgVar("default_reason", "string", "default SIP reason phrase sent by t_reply(), if the function cannot "
           "retrieve its parameters"),
    CfgVar("ac_extra_hdrs", "str", "header fields prefixed by this parameter value are included in the "
           "CANCEL and negative ACK messages if they were present in the outgoing INVITE (depends on "
           "reparse_invite)"),
    CfgVar("ruri_matching", "int", "perform Request URI check in transaction matching", min=0, max=1),
    CfgVar("via1_matching", "int", "perform first Via header check in transaction matching", min=0, max=1),
    CfgVar("callid_matching", "int", "perform callid check in transaction matching"),
    CfgVar("callid_cseq_matching", "int", "perform callid+cseq instead of md5 in transaction matching"),
    _timer("fr_timer", "timer which hits if no final reply for a request or ACK for a negative INVITE reply "
           "arrives (in milliseconds)"),
    _timer("fr_inv_timer", "timer which hits if no final reply for an INVITE arrives after a provisional "
           "message was received (in milliseconds)"),
    _kept("fr_inv_timer_next", "int", 30000, "The value [ms] of fr_inv_timer for subsequent branches during "
          "serial forking."),
    _timer("wt_timer", "time for which a transaction stays in memory to absorb delayed messages after it "
           "completed"),
    _timer("retr_timer1", "initial retransmission period (in milliseconds)", "fix_timer_ms"),
    _timer("retr_timer2", "maximum retransmission period (in milliseconds)", "fix_timer_ms"),
    _timer("max_inv_lifetime", "maximum time an invite transaction can live from the moment of creation"),
    _timer("max_noninv_lifetime", "maximum time a non-invite transaction can live from the moment of "
           "creation"),
    CfgVar("noisy_ctimer", "int", "if set, INVITE transactions that time-out (FR INV timer) will be always "
           "replied", min=0, max=1),
    CfgVar("auto_inv_100", "int", "automatically send 100 to an INVITE", min=0, max=1),
    CfgVar("unix_tx_timeout", "int", "Unix socket transmission timeout, in milliseconds"),
    CfgVar("restart_fr_on_each_reply", "int", "restart final response timer on each provisional reply",
           min=0, max=1),
    CfgVar("pass_provisional_replies", "int", "enable/disable passing of provisional replies to "
           "TMCB_LOCAL_RESPONSE_OUT callbacks", min=0, max=1),
    CfgVar("aggregate_challenges", "int", "if the final response is a 401 or a 407, aggregate all the "
           "authorization headers (challenges) (rfc3261 requires this to be on)", min=0, max=1),
    CfgVar("unmatched_cancel", "int", "determines how CANCELs with no matching transaction are handled (0: "
           "statefull forwarding, 1: stateless forwarding, 2: drop)", min=0, max=2),
    CfgVar("default_code", "int", "default SIP response code sent by t_reply(), if the function cannot "
           "retrieve its parameters", min=400, max=699),
    CfgVar("reparse_invite", "int", "if set to 1, the CANCEL and negative ACK requests are constructed "
           "from the INVITE message which was sent out instead of building them from the received request",
           min=0, max=1),
    CfgVar("blst_503", "int", "if set to 1, blocklist 503 SIP response sources", min=0, max=1),
    CfgVar("blst_503_def_timeout", "int", "default 503 blocklist time (in s), when no Retry-After header "
           "is present"),
    CfgVar("blst_503_min_timeout", "int", "minimum 503 blocklist time (in s)"),
    CfgVar("blst_503_max_timeout", "int", "maximum 503 blocklist time (in s)"),
    CfgVar("blst_methods_add", "int", "bitmap of method types that trigger blocklisting on transaction "
           "timeouts"),
    CfgVar("blst_methods_lookup", "int", "Bitmap of method types that are looked-up in the blocklist "
           "before statefull forwarding"),
    CfgVar("cancel_b_method", "int", "How to cancel branches on which no replies were received: 0 - fake "
           "reply, 1 - retransmitting the request, 2 - send cancel", min=0, max=2,
           fixup="fix_cancel_b_method"),
    CfgVar("reparse_on_dns_failover", "int", "if set to 1, the SIP message after a DNS failover is "
           "constructed from the outgoing message buffer of the failed branch instead of from the received "
           "request", min=0, max=1, fixup="fix_reparse_on_dns_failover"),
    CfgVar("disable_6xx_block", "int", "if set to 1, 6xx is treated like a normal reply (breaks rfc)",
           min=0, max=1),
    CfgVar("local_ack_mode", "int", "if set to 1 or 2, local 200 ACKs are sent to the same address as the "
          "corresponding INVITE (1) or the source of the 200 reply (2) instead of using the contact and the "
          "route set (it breaks the rfc, if  it is not set to 0 but allows dealing with NATed contacts in "
          "some simple cases)", min=0, max=2),
    CfgVar("local_cancel_reason", "int", "if set to 1, a Reason header is added to locally generated "
           "CANCELs (see RFC3326)", min=0, max=1),
    CfgVar("e2e_cancel_reason", "int", "if set to 1, Reason headers from received CANCELs are copied into "
           "the corresponding generated hop-by-hop CANCELs", min=0, max=1),
    CfgVar("relay_100", "int", "if set to 1, relay SIP 100 messages as a stateless proxy", min=0, max=1),
    CfgVar("enable_uac_fr", "int", "if set, enables failure route for UAC messages", min=0, max=1),
))
