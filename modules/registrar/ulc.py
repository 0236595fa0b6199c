"""$ulc(profile=>attr)[index]: the contacts reg_fetch_contacts() copied into a named profile."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kampy.api import PVar, core_hash


@dataclass
class Profile:
    domain: str = ""
    aor: str = ""
    contacts: list[Any] = field(default_factory=list)


def _conid(c: Any) -> int | None:
    return c.connection_id if c.socket and c.socket.split(":", 1)[0] in ("tcp", "tls", "ws", "wss") else None


# attribute -> value of one contact (or of the profile), as regpv.c's pv_get_ulc gives them.
_ATTRS: dict[str, Callable[[Profile, Any], Any]] = {
    "aor": lambda p, c: p.aor,
    "domain": lambda p, c: p.domain,
    "aorhash": lambda p, c: core_hash(p.aor),
    "addr": lambda p, c: c.contact,
    "path": lambda p, c: c.path or "",
    "received": lambda p, c: c.received or "",
    "expires": lambda p, c: c.expires,
    "callid": lambda p, c: c.callid,
    "q": lambda p, c: c.q,
    "cseq": lambda p, c: c.cseq,
    "flags": lambda p, c: c.flags,
    "cflags": lambda p, c: c.cflags,
    "user_agent": lambda p, c: c.user_agent,
    "socket": lambda p, c: c.socket,
    "modified": lambda p, c: c.last_modified,
    "methods": lambda p, c: c.methods,
    "count": lambda p, c: len(p.contacts),
    "ruid": lambda p, c: c.ruid,
    "regid": lambda p, c: c.reg_id,
    "instance": lambda p, c: c.instance or None,
    "conid": lambda p, c: _conid(c),
    "server_id": lambda p, c: c.server_id,
}


class UlcAccessor:
    def __init__(self, profiles: UlcProfiles, profile: str, attr: Callable[[Profile, Any], Any],
                 index: str | None, pv_accessor: Callable[[str], Any]) -> None:
        self.profiles = profiles
        self.profile = profile
        # a PV index such as $var(i), resolved once
        self.index_pv = pv_accessor(index) if index is not None and index.startswith("$") else None
        self.attr = attr
        self.index = index

    def _index(self, ctx: Any) -> int:
        if self.index is None:
            return 0
        text = self.index if self.index_pv is None else str(self.index_pv.get(ctx))
        try:
            return max(int(text), 0)
        except ValueError:
            return 0

    def get(self, ctx: Any) -> str | int | None:
        prof = self.profiles.profiles.get(self.profile)
        if prof is None or not prof.contacts:
            return None
        i = self._index(ctx)
        if i >= len(prof.contacts):
            return None
        return self.attr(prof, prof.contacts[i])


class UlcProfiles:
    """The profiles of this process (Kamailio keeps them per process too)."""

    def __init__(self) -> None:
        self.profiles: dict[str, Profile] = {}

    def fetch(self, name: str, domain: str, aor: str, contacts: list[Any]) -> None:
        self.profiles[name] = Profile(domain, aor, list(contacts))

    def free(self, name: str) -> None:
        self.profiles.pop(name, None)

    def accessor(self, spec: PVar, pv_accessor: Callable[[str], Any]) -> UlcAccessor:
        profile, sep, attr = (spec.arg or "").partition("=>")
        if not sep or attr.strip() not in _ATTRS:
            raise ValueError(f"invalid $ulc name {spec.arg!r}: expected profile=>attribute")
        name = attr.strip()
        if name == "reg-id":
            name = "regid"
        return UlcAccessor(self, profile.strip(), _ATTRS[name], spec.index, pv_accessor)
