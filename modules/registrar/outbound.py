"""RFC 5626 (SIP Outbound) in save(), as Kamailio 5.6's registrar: outbound_mode (0 none, 1
supported, 2 required), regid_mode and flow_timer. What save() checks before it saves, and the
option tags its 200 OK carries."""
from __future__ import annotations

from kampy.api import Request, SIPProtocolError, parse_name_addr

OUTBOUND_NONE, OUTBOUND_SUPPORTED, OUTBOUND_REQUIRE = 0, 1, 2
REGID_OUTBOUND, REGID_ALWAYS = 0, 1
FLOW_TIMER_MAX = 999


def split_first(path: str) -> str:
    """The first entry of a comma-separated list of name-addrs (a Path header's value)."""
    depth, quoted = 0, False
    for i, ch in enumerate(path):
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            return path[:i].strip()
    return path.strip()


def option_tags(msg: Request, header: str) -> set[str] | None:
    """The option tags of every `header` (Supported, Require), lower case; None without one."""
    values = msg.headers_named(header)
    if not values:
        return None
    return {t.strip().lower() for value in values for t in value.split(",") if t.strip()}


def check_params(mode: int, regid_mode: int, flow_timer: int) -> None:
    """Kamailio's mod_init checks of the three parameters."""
    if not OUTBOUND_NONE <= mode <= OUTBOUND_REQUIRE:
        raise ValueError("outbound_mode modparam must be 0 (not supported), 1 (supported), "
                         "or 2 (supported and required)")
    if regid_mode not in (REGID_OUTBOUND, REGID_ALWAYS):
        raise ValueError("regid_mode modparam must be 0 (use with outbound), 1 (use always)")
    if not 0 <= flow_timer <= FLOW_TIMER_MAX or (flow_timer > 0 and mode == OUTBOUND_NONE):
        raise ValueError("bad value for flow_timer")


def check_request(msg: Request, mode: int, regid_mode: int, first_reg_id: bool) -> tuple[str | None, bool]:
    """save()'s outbound checks: (the error's name in registrar's R, or None; whether the
    Contacts' reg-id is used). `first_reg_id`: the first Contact has a reg-id parameter."""
    supported = option_tags(msg, "supported")
    if supported is not None and "outbound" not in supported and mode == OUTBOUND_REQUIRE:
        return "OB_UNSUP", True
    require = option_tags(msg, "require")
    if require is not None and "outbound" in require and mode == OUTBOUND_NONE:
        return "OB_REQD", True
    if mode == OUTBOUND_NONE or len(msg.vias) < 2:
        return None, True
    # not the first hop: outbound needs the edge proxy's ;ob in the top Path URI
    paths = [v.strip() for v in msg.headers_named("path")]
    use_ob = False
    if paths:
        try:
            use_ob = "ob" in parse_name_addr(split_first(",".join(paths))).uri.params
        except SIPProtocolError:
            return "PARSE_PATH", True
    if use_ob or regid_mode != REGID_OUTBOUND:
        return None, True
    if supported is not None and "outbound" in supported and first_reg_id:
        return "OB_UNSUP_EDGE", True
    return None, False


def reply_headers(msg: Request, mode: int, flow_timer: int) -> list[str]:
    """The outbound header lumps of save()'s 200 OK (reg_reply_helper)."""
    if mode == OUTBOUND_NONE:
        return []
    lumps = []
    if mode == OUTBOUND_REQUIRE:
        lumps += ["Require: outbound\r\n", "Supported: outbound\r\n"]
    else:
        lumps.append("Supported: outbound\r\n")
        asked = (option_tags(msg, "require") or set()) | (option_tags(msg, "supported") or set())
        if "outbound" not in asked:
            return lumps
        lumps.append("Require: outbound\r\n")
    if flow_timer > 0:
        lumps.append(f"Flow-Timer: {flow_timer}\r\n")
    return lumps
