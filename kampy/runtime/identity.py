"""Kamailio's user2uid() and group2gid(): a user or group given as a number or a name (`-u`/`-g`,
and the owners modules give their sockets and FIFOs: jsonrpcs' fifo_user/dgram_user ...)."""
from __future__ import annotations

import grp
import pwd


def user2uid(user: str | int) -> tuple[int, int | None]:
    """(uid, the user's group or None): a number is a uid (no group), a name brings its group
    along; raises ValueError for a name that does not exist."""
    text = str(user).strip()
    if text.lstrip("-").isdigit():
        return int(text), None
    try:
        entry = pwd.getpwnam(text)
    except KeyError:
        raise ValueError(f"bad user name {text}") from None
    return entry.pw_uid, entry.pw_gid


def group2gid(group: str | int) -> int:
    """A gid from a number or a group name; raises ValueError for a name that does not exist."""
    text = str(group).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        return grp.getgrnam(text).gr_gid
    except KeyError:
        raise ValueError(f"bad group name {text}") from None
