"""The dialogs every worker sees (Kamailio's dialog hash table in shared memory): one shared table
of JSON records keyed by hash entry and id, and one key per profile link, so a profile's size is a
count of keys."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from kampy.api import DialogInfo, core_hash

CALLER, CALLEE = 0, 1

_DLG = b"d:"  # d:<h_entry>:<h_id> -> the dialog's record
_NEXT = b"n:"  # n:<h_entry> -> the next h_id of the entry
_LINK = b"l:"  # l:<profile>\0<value>\0<h_entry>:<h_id> -> b""
_CALLID = b"c:"  # c:<Call-ID> -> the dialogs of the Call-ID, "h_entry:h_id,..."
SEP = "\x00"


@dataclass
class Dialog:
    """A dialog's record (Kamailio's dlg_cell); legs are indexed CALLER, CALLEE."""

    h_entry: int
    h_id: int
    callid: str
    from_uri: str
    to_uri: str
    req_uri: str
    tag: list[str] = field(default_factory=lambda: ["", ""])
    cseq: list[str] = field(default_factory=lambda: ["", ""])
    route_set: list[str] = field(default_factory=lambda: ["", ""])
    contact: list[str] = field(default_factory=lambda: ["", ""])
    bind_addr: list[str] = field(default_factory=lambda: ["", ""])
    state: int = 1
    init_ts: int = 0
    start_ts: int = 0
    end_ts: int = 0
    lifetime: int = 0
    timeout: int = 0  # wall-clock second it expires, 0: no timer
    dflags: int = 0
    sflags: int = 0
    iflags: int = 0
    toroute_name: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    profiles: list[list[str]] = field(default_factory=list)  # [name, value] ("" for no value)
    ref: int = 1
    ka_next: int = 0  # when the next keep-alive is due, 0: none
    ka_counters: list[int] = field(default_factory=lambda: [0, 0])  # failed keep-alives, by leg
    db_dirty: bool = False

    @property
    def key(self) -> bytes:
        return b"%s%d:%d" % (_DLG, self.h_entry, self.h_id)

    def info(self) -> DialogInfo:
        return DialogInfo(
            self.h_entry,
            self.h_id,
            self.callid,
            self.from_uri,
            self.tag[CALLER],
            self.to_uri,
            self.tag[CALLEE],
            self.req_uri,
            self.state,
            self.init_ts,
            self.start_ts,
            self.end_ts,
            self.timeout,
            self.lifetime,
            self.sflags,
            dict(self.vars),
            tuple((n, v) for n, v in self.profiles),
        )

    def dumps(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def loads(cls, data: bytes) -> Dialog:
        return cls(**json.loads(data))


def dlg_key(h_entry: int, h_id: int) -> bytes:
    return b"%s%d:%d" % (_DLG, h_entry, h_id)


def _link_key(profile: str, value: str, dlg: Dialog | None = None) -> bytes:
    head = f"{profile}{SEP}{value}{SEP}".encode()
    return _LINK + head + (b"%d:%d" % (dlg.h_entry, dlg.h_id) if dlg is not None else b"")


class DialogStore:
    """The shared table of dialogs; every change is one transaction of the table (the entry's
    lock in Kamailio)."""

    def __init__(self, table: Any, hash_size: int, h_id_start: int, h_id_step: int,
                 random_start: bool = False) -> None:
        self.table = table
        self.hash_size = hash_size
        self.h_id_start = max(1, h_id_start)
        self.h_id_step = max(1, h_id_step)
        # with DMQ, each entry's first h_id is random, as Kamailio's: the nodes' ids seldom meet
        self.random_start = random_start
        self.on_remove: Callable[[Dialog], object] | None = None

    def entry_of(self, callid: str) -> int:
        """core_hash over the table's size (a power of 2)."""
        return core_hash(callid) & (self.hash_size - 1)

    def create(self, dlg: Dialog) -> Dialog:
        """Give `dlg` its h_id in its entry and store it."""
        with self.table.transaction():
            nkey = b"%s%d" % (_NEXT, dlg.h_entry)
            got = self.table.get(nkey)
            h_id = int(got[0]) if got else self._first_id()
            self.table.put(nkey, str(h_id + self.h_id_step).encode())
            dlg.h_id = h_id
            self.insert(dlg)
        return dlg

    def _first_id(self) -> int:
        return random.randrange(1, 3 * self.hash_size) if self.random_start else self.h_id_start

    def insert_replica(self, dlg: Dialog) -> None:
        """Store a dialog another node sent, with its ids; the entry's next h_id goes past it."""
        with self.table.transaction():
            self.insert(dlg)
            nkey = b"%s%d" % (_NEXT, dlg.h_entry)
            got = self.table.get(nkey)
            if not got or int(got[0]) <= dlg.h_id:
                self.table.put(nkey, str(dlg.h_id + self.h_id_step).encode())

    def insert(self, dlg: Dialog) -> None:
        """Store a dialog that has its h_id (created, or loaded from the database), indexed by Call-ID."""
        with self.table.transaction():
            self.table.put(dlg.key, dlg.dumps())
            ids = self._ids(dlg.callid)
            ident = f"{dlg.h_entry}:{dlg.h_id}"
            if ident not in ids:
                self.table.put(_CALLID + dlg.callid.encode(), ",".join([*ids, ident]).encode())

    def _ids(self, callid: str) -> list[str]:
        got = self.table.get(_CALLID + callid.encode())
        return [i for i in got[0].decode().split(",") if i] if got else []

    def get(self, h_entry: int, h_id: int) -> Dialog | None:
        got = self.table.get(dlg_key(h_entry, h_id))
        return Dialog.loads(got[0]) if got else None

    def put(self, dlg: Dialog) -> None:
        self.table.put(dlg.key, dlg.dumps())

    def update(self, h_entry: int, h_id: int, change: Callable[[Dialog], Any]) -> tuple[Dialog | None, Any]:
        """Read-modify-write a dialog under the table's lock: `change(dlg)` edits it and returns
        what the caller wants back; the dialog is written unless `change` returns False."""
        with self.table.transaction():
            dlg = self.get(h_entry, h_id)
            if dlg is None:
                return None, None
            result = change(dlg)
            if result is not False:
                self.put(dlg)
            return dlg, result

    def remove(self, dlg: Dialog) -> None:
        """The dialog goes (destroy_dlg); `on_remove` gets its record as it was."""
        with self.table.transaction():
            cur = self.get(dlg.h_entry, dlg.h_id)
            self.table.delete(dlg.key)
            for name, value in dlg.profiles + (cur.profiles if cur is not None else []):
                self.table.delete(_link_key(name, value, dlg))
            ids = [i for i in self._ids(dlg.callid) if i != f"{dlg.h_entry}:{dlg.h_id}"]
            if ids:
                self.table.put(_CALLID + dlg.callid.encode(), ",".join(ids).encode())
            else:
                self.table.delete(_CALLID + dlg.callid.encode())
        if cur is not None and self.on_remove is not None:
            self.on_remove(cur)

    def all(self) -> Iterator[Dialog]:
        for item in sorted(self.table.items(prefix=_DLG), key=lambda i: i.key):
            yield Dialog.loads(item.value)

    def unlink_all(self, dlg: Dialog) -> None:
        """Take an ended dialog out of its profiles (its record stays, state 5)."""

        def change(d: Dialog) -> None:
            for name, value in d.profiles:
                self.table.delete(_link_key(name, value, d))
            d.profiles = []

        with self.table.transaction():
            self.update(dlg.h_entry, dlg.h_id, change)
        dlg.profiles = []

    def of_callid(self, callid: str) -> Iterator[Dialog]:
        for ident in self._ids(callid):
            h_entry, h_id = (int(x) for x in ident.split(":"))
            dlg = self.get(h_entry, h_id)
            if dlg is not None:
                yield dlg

    def find(
        self, callid: str, ftag: str | None = None, ttag: str | None = None
    ) -> tuple[Dialog, int] | None:
        """The dialog of a Call-ID and tags (either direction), with the direction: 1 downstream
        (From-tag is the caller's), 2 upstream."""
        for dlg in self.of_callid(callid):
            if ftag is None:
                return dlg, 1
            if dlg.tag[CALLER] == ftag and (not ttag or not dlg.tag[CALLEE] or dlg.tag[CALLEE] == ttag):
                return dlg, 1
            if dlg.tag[CALLEE] == ftag and dlg.tag[CALLER] == (ttag or ""):
                return dlg, 2
        return None

    # ------------------------------------------------------------ profiles
    def link(self, dlg: Dialog, profile: str, value: str) -> None:
        self.table.put(_link_key(profile, value, dlg), b"")

    def unlink(self, dlg: Dialog, profile: str, value: str) -> None:
        self.table.delete(_link_key(profile, value, dlg))

    def link_remote(self, profile: str, value: str, uid: str, expires: int) -> None:
        """A profile entry of another server (dlg_remote_profile), counted until `expires`."""
        self.table.put(_LINK + f"{profile}{SEP}{value}{SEP}r:{uid}".encode(), str(expires).encode())

    def unlink_remote(self, profile: str, value: str | None, uid: str) -> int:
        removed = 0
        with self.table.transaction():
            for key in self.profile_keys(profile, value):
                if key.endswith(f"{SEP}r:{uid}".encode()):
                    self.table.delete(key)
                    removed += 1
        return removed

    def expire_remote(self, now: int) -> None:
        for item in self.table.items(prefix=_LINK):
            if b"\x00r:" in item.key and 0 < int(item.value or b"0") < now:
                self.table.delete(item.key)

    def profile_keys(self, profile: str, value: str | None) -> list[bytes]:
        prefix = _LINK + f"{profile}{SEP}".encode() + (f"{value}{SEP}".encode() if value is not None else b"")
        return self.table.keys(prefix=prefix)

    def profile_size(self, profile: str, value: str | None) -> int:
        return len(self.profile_keys(profile, value))

    def profile_dialogs(self, profile: str, value: str | None) -> list[tuple[Dialog, str]]:
        found = []
        for key in self.profile_keys(profile, value):
            _, val, ident = key[len(_LINK) :].decode().split(SEP)
            if ident.startswith("r:"):
                continue
            h_entry, h_id = (int(x) for x in ident.split(":"))
            dlg = self.get(h_entry, h_id)
            if dlg is not None:
                found.append((dlg, val))
        return found
