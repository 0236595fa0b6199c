"""The `address` table (or address_file) of Kamailio's permissions module: exact addresses, subnets
and domain names, by group, each with a port (0: any) and a tag.

Loaded into rows once for every worker (a shared snapshot); each worker indexes them as Kamailio's
tables do, so matching picks what Kamailio picks: among entries of one address, the row loaded last
first; subnets in ascending group order, rows of one group in load order.
"""
from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kampy.api import L_ERR, core_hash, log_at

log = logging.getLogger("kampy.permissions")

PERM_HASH_SIZE = 128
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class LoadError(Exception):
    """A row or line the table cannot take: the load fails and the old table stays."""


def parse_ip(text: str) -> IPAddress | None:
    """strtoipX(): an IPv4 dotted quad or an IPv6 address (brackets allowed), else None (a name)."""
    if text.startswith("[") or ":" in text:
        try:
            bracketed = text.startswith("[") and text.endswith("]")
            return ipaddress.IPv6Address(text[1:-1] if bracketed else text)
        except ValueError:
            return None
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and p.isascii() and 0 < len(p) <= 3 and int(p) <= 255
                                  for p in parts):
        return None
    return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))


def perm_hash(data: bytes) -> int:
    """core_hash(data) & (PERM_HASH_SIZE - 1) on the raw bytes."""
    return core_hash(data.decode("utf-8", "surrogateescape")) & (PERM_HASH_SIZE - 1)


def addr_hash(ip: IPAddress) -> int:
    """The slot of an address: the hash of its first 4 bytes."""
    return perm_hash(ip.packed[:4])


def checked_row(grp: int, ip_text: str, mask: int, port: int, tag: str | None) -> list[Any]:
    """reload_address_insert()'s checks and kind: ["addr"|"subnet"|"name", grp, ip, mask, port, tag]."""
    ip = parse_ip(ip_text)
    if ip is None:
        return ["name", grp, ip_text, 0, port, tag]
    bits = 128 if ip.version == 6 else 32
    if mask < 0 or mask > bits:
        raise LoadError(f"failure during IP mask check for v{ip.version}")
    mask = mask or bits
    return ["addr" if mask == bits else "subnet", grp, str(ip), mask, port, tag]


def load_db_rows(rows: list[tuple[Any, ...]]) -> list[list[Any]]:
    """reload_address_db_table(): grp, ip_addr, mask, port, tag rows, each checked."""
    loaded = []
    for grp, ip, mask, port, tag in rows:
        if not isinstance(grp, int) or grp <= 0:
            raise LoadError("failure during checks of database value 1 (group) in address table")
        if not isinstance(ip, str):
            raise LoadError("failure during checks of database value 2 (IP address) in address table")
        if not isinstance(mask, int):
            raise LoadError("failure during checks of database value 3 (subnet size/CIDR) in address "
                            "table")
        if not isinstance(port, int):
            raise LoadError("failure during checks of database value 4 (port) in address table")
        loaded.append(checked_row(grp, ip, mask, port, None if tag is None else str(tag)))
    return loaded


def _token(line: str, at: int, number: bool) -> tuple[str, int]:
    end = at
    while end < len(line) and ((line[end].isdigit() and line[end].isascii()) if number
                               else line[end] not in " \t\r\n#"):
        end += 1
    return line[at:end], end


def _skip(line: str, at: int) -> int:
    while at < len(line) and line[at] in " \t\r\n":
        at += 1
    return at


def load_file(path: str) -> list[list[Any]]:
    """reload_address_file_table(): `grp address [mask [port [tag]]]` lines, # comments."""
    try:
        lines = Path(path).read_text(errors="surrogateescape").splitlines()
    except OSError:
        raise LoadError(f"can't open list file [{path}]") from None
    loaded = []
    for line in lines:
        at = _skip(line, 0)
        if at >= len(line) or line[at] == "#":
            continue
        values: list[Any] = []
        for kind in ("num", "str", "num", "num", "str"):
            text, at = _token(line, at, kind == "num")
            values.append(int(text or 0) if kind == "num" else text)
            at = _skip(line, at)
            if at >= len(line) or line[at] == "#":
                break
        if len(values) == 1:
            raise LoadError(f"bad line in address file [{path}]: {line}")
        grp, ip, mask, port, tag = (values + [0, 0, None])[:5]
        loaded.append(checked_row(grp, ip, mask, port, tag if tag else None))
    return loaded


@dataclass
class AddressTables:
    """One worker's index of the loaded rows (addr_hash_table, subnet_table, domain_name_table)."""

    addrs: dict[IPAddress, list[tuple[int, int, str | None]]] = field(default_factory=dict)
    subnets: list[tuple[int, Network, IPAddress, int, int, str | None]] = field(default_factory=list)
    names: dict[str, list[tuple[int, int, str | None]]] = field(default_factory=dict)
    slots: list[list[tuple[int, str, int, str | None]]] = field(default_factory=list)
    name_slots: list[list[tuple[int, str, int, str | None]]] = field(default_factory=list)

    @classmethod
    def build(cls, rows: list[list[Any]], max_subnets: int) -> AddressTables:
        t = cls(slots=[[] for _ in range(PERM_HASH_SIZE)],
                name_slots=[[] for _ in range(PERM_HASH_SIZE)])
        for kind, grp, text, mask, port, tag in rows:
            if kind == "name":
                t.names.setdefault(text, []).insert(0, (grp, port, tag))
                slot = perm_hash(text.encode("utf-8", "surrogateescape"))
                t.name_slots[slot].insert(0, (grp, text, port, tag))
                continue
            ip = ipaddress.ip_address(text)
            if kind == "addr":
                t.addrs.setdefault(ip, []).insert(0, (grp, port, tag))
                t.slots[addr_hash(ip)].insert(0, (grp, text, port, tag))
            elif len(t.subnets) >= max_subnets:
                log_at(log, L_ERR, "subnet table is full")
            else:
                net = ipaddress.ip_network(f"{text}/{mask}", strict=False)
                at = len(t.subnets)
                while at > 0 and t.subnets[at - 1][0] > grp:
                    at -= 1
                t.subnets.insert(at, (grp, net, ip, mask, port, tag))
        return t

    # ------------------------------------------------------------ matching: (found, tag)

    def match_addr(self, grp: int, ip: IPAddress, port: int) -> tuple[bool, str | None]:
        for g, p, tag in self.addrs.get(ip, ()):
            if g == grp and p in (0, port):
                return True, tag
        return False, None

    def match_subnet(self, grp: int, ip: IPAddress, port: int) -> tuple[bool, str | None]:
        for g, net, _ip, _mask, p, tag in self.subnets:
            if g == grp and p in (port, 0) and ip.version == net.version and ip in net:
                return True, tag
        return False, None

    def match_name(self, grp: int, name: str, port: int) -> tuple[bool, str | None]:
        for g, p, tag in self.names.get(name, ()):
            if g == grp and p in (0, port):
                return True, tag
        return False, None

    def group_of_addr(self, ip: IPAddress, port: int) -> tuple[int, str | None]:
        for g, p, tag in self.addrs.get(ip, ()):
            if p in (0, port):
                return g, tag
        return -1, None

    def group_of_subnet(self, ip: IPAddress, port: int) -> tuple[int, str | None]:
        for g, net, _ip, _mask, p, tag in self.subnets:
            if p in (port, 0) and ip.version == net.version and ip in net:
                return g, tag
        return -1, None

    def group_of_name(self, name: str, port: int) -> int:
        for g, p, _tag in self.names.get(name, ()):
            if p in (0, port):
                return g
        return -1

    # ------------------------------------------------------------ RPC dumps

    def address_dump(self) -> list[dict[str, Any]]:
        return [{"table": i, "group": grp, "item": {"ip": ip, "port": port, "tag": tag or "NULL"}}
                for i, slot in enumerate(self.slots) for grp, ip, port, tag in slot]

    def subnet_dump(self) -> list[dict[str, Any]]:
        return [{"id": i, "group": grp,
                 "item": {"ip": str(ip), "mask": mask, "port": port, "tag": tag or ""}}
                for i, (grp, _net, ip, mask, port, tag) in enumerate(self.subnets)]

    def domain_dump(self) -> list[tuple[str, Any]]:
        """(name, value) members of Kamailio's one struct: "table" and "item" again and again."""
        members: list[tuple[str, Any]] = []
        for i, slot in enumerate(self.name_slots):
            for grp, name, port, tag in slot:
                members += [("table", i), ("group", grp),
                            ("item", {"domain_name": name, "port": port, "tag": tag or "NULL"})]
        return members
