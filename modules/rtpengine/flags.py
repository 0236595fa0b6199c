"""The flags string of rtpengine_offer() & co. turned into the ng request (Kamailio's parse_flags):
space-separated tokens, `key` or `key=value`. Some have their own place in the request (`replace-*`,
`direction=`, `internal`/`external`, the transport protocol, `SDES-*`, `T.38-*`, `rtcp-mux-*`,
codec options, `via-branch=`, `call-id=`, `from-tag=`, `to-tag`, `TOS=`, `repacketize=`,
`delete-delay=`, `force-answer`); any other is a flag (`key`) or a string item (`key=value`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# the transport protocols of the transport bits (0x100: one was asked for)
TRANSPORTS = {0: "RTP/AVP", 1: "RTP/SAVP", 2: "RTP/AVPF", 3: "RTP/SAVPF", 4: "UDP/TLS/RTP/SAVP",
              6: "UDP/TLS/RTP/SAVPF"}
VIA_BRANCH = {"1": 1, "2": 2, "auto": 3, "extra": -1, "next": -2, "auto-next": -3, "next-auto": -3,
              "auto-extra": -4, "extra-auto": -4}
CODEC_FLAGS = (("transcode", "codec-transcode", "transcode"), ("codec-strip", None, "strip"),
               ("codec-offer", None, "offer"), ("codec-mask", None, "mask"), ("codec-set", None, "set"),
               ("codec-except", None, "except"))


class FlagError(ValueError):
    """A flag Kamailio refuses (the function logs it and returns -1)."""


@dataclass
class NgFlags:
    """What parse_flags() gathers: items added to the request as they come (`items`), the lists
    added later, and the values that steer the request."""

    sdp_op: bool                                  # offer or answer: the lists exist
    items: list[tuple[str, Any]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    direction: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    rtcp_mux: list[str] = field(default_factory=list)
    sdes: list[str] = field(default_factory=list)
    t38: list[str] = field(default_factory=list)
    codec: list[tuple[str, list[str]]] = field(default_factory=list)
    transport: int = 0
    via: int = 0
    to: bool = True
    directional: bool = False
    packetize: int = 0
    call_id: str | None = None
    from_tag: str | None = None
    to_tag: str | None = None
    force_answer: bool = False

    def codec_list(self, name: str) -> list[str]:
        for key, values in self.codec:
            if key == name:
                return values
        values: list[str] = []
        self.codec.append((name, values))
        return values


def key_val_prefix(key: str, prefix: str, val: str | None) -> str | None:
    """str_key_val_prefix: `prefix=value` or `prefix-value` gives the value, else None."""
    if key == prefix:
        return val if val else None
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix):]
    if len(rest) < 2 or rest[0] != "-":
        return None
    return rest[1:]


def tokens(text: str) -> list[tuple[str, str | None]]:
    """The (key, value) tokens of a flags string (separated by spaces only)."""
    found = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        end = pos
        while end < len(text) and text[end] not in " =":
            end += 1
        key, val = text[pos:end], None
        if end < len(text) and text[end] == "=":
            vstart = end + 1
            end = text.find(" ", vstart)
            end = len(text) if end < 0 else end
            val = text[vstart:end]
        if not key:
            return found
        found.append((key, val))
        pos = end


def parse_flags(text: str | None, ng: NgFlags, offer: bool) -> NgFlags:
    """Fill `ng` from the flags string; FlagError for a flag Kamailio refuses. `offer`: the
    command is an offer (force-answer turns it into an answer)."""
    for key, val in tokens(text or ""):
        _flag(ng, key, val, offer)
    return ng


def _flag(ng: NgFlags, key: str, val: str | None, offer: bool) -> None:
    for prefix, target in (("replace", ng.replace), ("SDES", ng.sdes), ("T38", ng.t38),
                           ("T.38", ng.t38), ("rtcp-mux", ng.rtcp_mux)):
        found = key_val_prefix(key, prefix, val)
        if found is not None:
            if ng.sdp_op:
                target.append(found)
            return
    for cmp1, cmp2, name in CODEC_FLAGS:
        found = key_val_prefix(key, cmp1, val)
        if found is None and cmp2 is not None:
            found = key_val_prefix(key, cmp2, val)
        if found is not None:
            if ng.sdp_op:
                ng.codec_list(name).append(found)
            return
    if _special(ng, key, val, offer):
        return
    if val is None:
        ng.flags.append(key)
    else:
        ng.items.append((key, val))


def _special(ng: NgFlags, key: str, val: str | None, offer: bool) -> bool:
    """The flags with a meaning of their own; True when handled (False: generic, as well)."""
    if key in ("RTP", "AVP") and val is None:
        ng.transport = (ng.transport | 0x100) & ~(0x001 if key == "RTP" else 0x002)
    elif key == "TOS" and val is not None:
        ng.items.append(("TOS", _atoi(val)))
    elif key in ("SRTP", "AVPF", "DTLS") and val is None:
        ng.transport |= {"SRTP": 0x101, "AVPF": 0x102, "DTLS": 0x104}[key]
    elif key == "to-tag":
        if val is not None:
            ng.to_tag = val
        ng.to = True
    elif key in ("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVP",
                 "UDP/TLS/RTP/SAVPF") and val is None:
        ng.transport = {"RTP/AVP": 0x100, "RTP/AVPF": 0x102, "RTP/SAVP": 0x101, "RTP/SAVPF": 0x103,
                        "UDP/TLS/RTP/SAVP": 0x104, "UDP/TLS/RTP/SAVPF": 0x106}[key]
    elif key == "call-id":
        if not val:
            raise FlagError(_error(key, val, "missing value"))
        ng.call_id = val
    elif key in ("internal", "external"):
        if ng.sdp_op:
            ng.direction.append(key)
    elif key == "from-tag":
        if not val:
            raise FlagError(_error(key, val, "missing value"))
        ng.from_tag = val
        ng.directional = True
    elif key == "direction":
        if ng.sdp_op:
            ng.direction.append(val or "")
    elif key == "via-branch":
        if not val:
            raise FlagError(_error(key, val, "missing value"))
        via = int(val[0]) if val[0] in "12" else VIA_BRANCH.get(val)
        if via is None:
            raise FlagError(_error(key, val, "invalid value"))
        ng.via = via
    elif key == "repacketize":
        if val is None:
            raise FlagError(_error(key, val, "missing value"))
        digits = ""
        for ch in val:
            if not ch.isdigit():
                break
            digits += ch
        if not digits or not int(digits):
            raise FlagError(_error(key, val, "invalid value"))
        ng.packetize = int(digits)
        ng.items.append(("repacketize", ng.packetize))
    elif key == "directional":
        ng.directional = True
    elif key == "force-answer":
        if not offer:
            raise FlagError(_error(key, val, "cannot force answer in non-offer command"))
        ng.force_answer = True
    elif key == "delete-delay" and val is not None:
        ng.items.append(("delete delay", _atoi(val)))
        return False  # Kamailio adds it as a string item too
    else:
        return False
    return True


def _atoi(text: str) -> int:
    sign, digits = 1, ""
    text = text.lstrip(" \t")
    if text[:1] in "+-":
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    for ch in text:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def _error(key: str, val: str | None, why: str) -> str:
    if val is not None:
        return f"error processing flag `{key}' (value '{val}'): {why}"
    return f"error processing flag `{key}': {why}"
