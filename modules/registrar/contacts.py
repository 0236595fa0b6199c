"""What save() takes from each Contact (Kamailio's ucontact_info_t) and the Contact header of its reply."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from kampy.api import core_hash

ALL_METHODS = 0xFFFFFFFF
METHOD_BITS: dict[str, int] = {
    "INVITE": 1, "CANCEL": 2, "ACK": 4, "BYE": 8, "INFO": 16, "REGISTER": 32, "SUBSCRIBE": 64,
    "NOTIFY": 128, "MESSAGE": 256, "OPTIONS": 512, "PRACK": 1024, "UPDATE": 2048, "REFER": 4096,
    "PUBLISH": 8192, "KDMQ": 16384, "GET": 32768, "POST": 65536, "PUT": 131072, "DELETE": 262144,
}
METHOD_OTHER = 524288
_Q = re.compile(r"(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)\Z")


def method_bit(method: str) -> int:
    return METHOD_BITS.get(method.upper(), METHOD_OTHER)


def methods_from_list(methods: Iterable[str]) -> int:
    mask = 0
    for m in methods:
        if m.strip():
            mask |= method_bit(m.strip())
    return mask


def methods_from_param(raw: str) -> int | None:
    """A contact's `methods` parameter ("INVITE,MESSAGE", quoted or not); None when malformed."""
    text = raw.strip().strip('"')
    names = [m.strip() for m in text.split(",")]
    if not names or any(not re.fullmatch(r"[A-Za-z]+", m) for m in names):
        return None
    return methods_from_list(names)


def parse_q(raw: str) -> int | None:
    """Kamailio's str2q: 0 .. 1 with at most three decimals, in thousandths; None when invalid."""
    text = raw.strip()
    if not _Q.match(text):
        return None
    whole, _, frac = text.partition(".")
    return int(whole) * 1000 + int((frac + "000")[:3])


def q_str(q: int) -> str:
    if q >= 1000:
        return "1"
    if q <= 0:
        return "0"
    return ("0." + f"{q:03d}").rstrip("0")


@dataclass
class ContactInfo:
    """One binding of a REGISTER. save() builds it positionally: keep callid .. server_id together,
    in this order (the values every binding of the REGISTER shares)."""

    uri: str
    expires: int
    q: int
    methods: int
    received: str | None
    callid: str
    cseq: int
    user_agent: str
    path: str | None
    cflags: int
    flags: int
    socket: str | None
    connection_id: int
    keepalive: int
    server_id: int
    instance: str | None
    reg_id: int
    xavp: Any = None  # usrloc's xavp_contact fields (UsrlocAPI.contact_attrs)

    def values(self, now: int) -> dict[str, Any]:
        """The binding's fields as usrloc names them (`contact` for `uri`), with `last_modified`."""
        values = self.__dict__.copy()  # the fields, and nothing else: no attribute is ever added
        values["contact"] = values.pop("uri")
        values["last_modified"] = now
        return values

    def to_contact(self, make: Callable[..., Any], aor: str, ruid: str, now: int) -> Any:
        return make(aor=aor, ruid=ruid, **self.values(now))

    def update(self, found: Any, now: int) -> Any:
        """The stored contact with this REGISTER's values (mem_update_ucontact keeps the ruid)."""
        return found.copy(**self.values(now))


def _hex_low_first(value: int) -> str:
    out = []
    while value:
        out.append("0123456789abcdef"[value & 0xF])
        value >>= 4
    return "".join(out)


def build_contact_header(contacts: Iterable[Any], now: int, received_param: str, host: str,
                         gruu: bool = False) -> str:
    """The `Contact:` line of save()'s reply (build_contact): every valid binding, ", "-separated,
    `;q=` when set, `;expires=` the seconds left, `;received="..."`, GRUUs, instance and reg-id."""
    parts = []
    for c in contacts:
        if not c.valid(now):
            continue
        text = f"<{c.contact}>"
        if c.q >= 0:
            text += f";q={q_str(c.q)}"
        text += f";expires={c.expires - now}"
        if received_param and c.received:
            text += f';{received_param}="{c.received}"'
        if gruu and c.instance:
            text += _gruu_params(c, host)
        if c.instance:
            text += f';+sip.instance="{c.instance}"'
        if c.reg_id > 0:
            text += f";reg-id={c.reg_id}"
        parts.append(text)
    return f"Contact: {', '.join(parts)}\r\n" if parts else ""


def _gruu_params(c: Any, host: str) -> str:
    aor = c.aor
    pub_aor = aor if "@" in aor else f"{aor}@{host}"
    inst = c.instance
    if inst.startswith("<") and inst.endswith(">"):
        inst = inst[1:-1]
    temp = f"sip:{c.ruid}-{_hex_low_first(core_hash(aor))}@{host};gr"
    return f';pub-gruu="sip:{pub_aor};gr={inst}";temp-gruu="{temp}"'
