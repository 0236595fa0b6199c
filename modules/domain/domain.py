"""The domain module: which domains are local, with their attributes (Kamailio's domain module).

The `domain` and `domain_attrs` tables are loaded once for all workers into a shared snapshot, and
again by the `domain.reload` RPC; every worker sees the new tables at its next lookup. Lookups are
case-insensitive on the domain; a domain's attributes are those of its `did` (the domain itself
when `did` is NULL), in Kamailio's order (the last row first).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kampy.api import (
    L_ERR,
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    Request,
    RouteType,
    RpcFault,
    SIPProtocolError,
    avp_add,
    check_table_version,
    core_hash,
    db_connect,
    log_at,
    module_logger,
    parse_uri,
)

log = module_logger("domain")

DOMAIN_TABLE_VERSION, DOMAIN_ATTRS_TABLE_VERSION = 2, 1
DOM_HASH_SIZE = 128
_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class ReloadError(Exception):
    """The tables could not be loaded (a bad row, a database error): the old ones stay."""


def ascii_lower(text: str) -> str:
    return text.translate(_UPPER)


def dom_hash(domain: str) -> int:
    """core_case_hash(domain) & (DOM_HASH_SIZE - 1): the slot domain.dump lists a domain in."""
    return core_hash(ascii_lower(domain)) & (DOM_HASH_SIZE - 1)


@dataclass(frozen=True)
class Attr:
    name: str
    type: int  # 0: integer, 2: string
    value: int | str


@dataclass(frozen=True)
class Tables:
    """One worker's index of a loaded snapshot."""

    by_domain: dict[str, tuple[str, list[Attr]]]  # lower-case domain -> (did, attributes)
    slots: list[list[tuple[str, str]]]            # domain.dump's order: (domain, did) per hash slot
    dids: list[tuple[str, list[Attr]]]            # domain.dump's attributes: (did, attributes)

    @classmethod
    def build(cls, data: dict[str, Any]) -> Tables:
        by_did: dict[str, list[Attr]] = {}
        order: list[str] = []
        for did, name, kind, value in data["attrs"]:
            if did.lower() not in by_did:
                order.insert(0, did)
                by_did[did.lower()] = []
            by_did[did.lower()].insert(0, Attr(name, kind, value))
        slots: list[list[tuple[str, str]]] = [[] for _ in range(DOM_HASH_SIZE)]
        by_domain: dict[str, tuple[str, list[Attr]]] = {}
        for domain, did in data["domains"]:
            slots[dom_hash(domain)].insert(0, (domain, did))
            by_domain[ascii_lower(domain)] = (did, list(by_did.get(did.lower(), [])))
        return cls(by_domain, slots, [(did, by_did[did.lower()]) for did in order])


class DomainModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.url = str(params["db_url"])
        self.domain_table = str(params["domain_table"])
        self.attrs_table = str(params["domain_attrs_table"])
        self.cols = {"did": str(params["did_col"]), "domain": str(params["domain_col"]),
                     "name": str(params["name_col"]), "type": str(params["type_col"]),
                     "value": str(params["value_col"])}
        self.snapshot = core.shared.snapshot("domain")
        self._tables: tuple[int, Tables] | None = None
        self._check_versions()
        try:
            self.snapshot.publish_once(self.load)
        except ReloadError as exc:
            raise ValueError(f"domain reload failed: {exc}") from None
        if int(params["register_myself"]):
            core.add_myself_check(self.check_self)

    # ------------------------------------------------------------ loading

    def _check_versions(self) -> None:
        try:
            with db_connect(self.url, create_missing=True) as db:
                check_table_version(db, self.domain_table, DOMAIN_TABLE_VERSION)
                check_table_version(db, self.attrs_table, DOMAIN_ATTRS_TABLE_VERSION)
        except DBError as exc:
            raise ValueError(str(exc)) from None

    def load(self) -> dict[str, Any]:
        """reload_tables(): both tables, checked row by row as Kamailio checks them."""
        c = self.cols
        try:
            with db_connect(self.url, create_missing=True) as db:
                attr_rows = db.query(self.attrs_table, [c["did"], c["name"], c["type"], c["value"]])
                domain_rows = db.query(self.domain_table, [c["domain"], c["did"]])
        except DBError as exc:
            raise ReloadError(f"error while querying database: {exc}") from None
        return {"attrs": [_attr_row(i, row) for i, row in enumerate(attr_rows)],
                "domains": [_domain_row(i, row) for i, row in enumerate(domain_rows)]}

    def reload(self) -> None:
        self.snapshot.publish(self.load())

    @property
    def tables(self) -> Tables:
        generation = self.snapshot.generation
        if self._tables is None or self._tables[0] != generation:
            generation, data = self.snapshot.read()
            self._tables = (generation, Tables.build(data))
        return self._tables[1]

    # ------------------------------------------------------------ the API

    def lookup(self, domain: str) -> tuple[str, list[Attr]] | None:
        return self.tables.by_domain.get(ascii_lower(domain))

    def is_domain_local(self, domain: str) -> int:
        """hash_table_lookup(): 1 local, -1 not."""
        return 1 if self.lookup(domain) is not None else -1

    def check_self(self, host: str, port: int | None, proto: str | None) -> bool:
        return self.lookup(host) is not None

    # ------------------------------------------------------------ config functions

    def is_from_local(self, ctx: MessageContext) -> int:
        try:
            frm = ctx.msg.from_
        except SIPProtocolError:
            frm = None
        if frm is None:
            log_at(log, L_ERR, "Error while parsing From header")
            return -2
        return self.is_domain_local(frm.uri.host or "")

    def is_uri_host_local(self, ctx: MessageContext) -> int:
        if ctx.route_type & (RouteType.REQUEST | RouteType.BRANCH | RouteType.LOCAL):
            uri = ctx.ruri if isinstance(ctx.msg, Request) else None
        elif ctx.route_type & RouteType.FAILURE:
            uri = ctx.branches[0].uri if ctx.branches else None
            if uri is None:
                log_at(log, L_ERR, "branch is missing, error in script")
                return -1
        else:
            log_at(log, L_ERR, "unsupported route type")
            return -1
        try:
            host = parse_uri(uri or "").host
        except SIPProtocolError:
            log_at(log, L_ERR, "error while parsing R-URI")
            return -1
        return self.is_domain_local(host or "")

    def w_is_domain_local(self, ctx: MessageContext, domain: str) -> int:
        return self.is_domain_local(domain)

    def lookup_domain(self, ctx: MessageContext, domain: str, prefix: str | None = None) -> int:
        """Adds the domain's attributes as AVPs (with `prefix` before their names) and its did."""
        found = self.lookup(domain)
        if found is None:
            return -1
        did, attrs = found
        for attr in attrs:
            avp_add(ctx, f"{prefix or ''}{attr.name}", attr.value)
        avp_add(ctx, f"{prefix or ''}did", did)
        return 1

    # ------------------------------------------------------------ RPC

    def rpc_reload(self) -> None:
        try:
            self.reload()
        except ReloadError as exc:
            log_at(log, L_ERR, "%s", exc)
            raise RpcFault(400, "Reload of domain tables failed") from None

    def rpc_dump(self) -> dict[str, Any]:
        tables = self.tables
        return {
            "domains": [{"domain": domain, "did": did} for slot in tables.slots for domain, did in slot],
            "attributes": [{"did": did, "attrs": [a.name for a in attrs]} for did, attrs in tables.dids],
        }


def _attr_row(i: int, row: tuple[Any, ...]) -> list[Any]:
    did, name, kind, value = row
    if not isinstance(did, str):
        raise ReloadError(f"did at row <{i}> is null or not string")
    if not did:
        raise ReloadError(f"did at row <{i}> is empty string")
    if not isinstance(name, str):
        raise ReloadError(f"name at row <{i}> is null or not string")
    if not name:
        raise ReloadError(f"name at row <{i}> is empty string")
    if not isinstance(kind, int):
        raise ReloadError(f"type at row <{i}> is null or not int")
    if kind not in (0, 2):
        raise ReloadError(f"unknown type <{kind}> at row <{i}>")
    if not isinstance(value, str):
        raise ReloadError(f"value at row <{i}> is null or not string")
    if kind == 0:
        try:
            return [did, name, kind, _str2sint(value)]
        except ValueError:
            raise ReloadError(f"value at row <{i}> is invalid int") from None
    return [did, name, kind, value]


def _domain_row(i: int, row: tuple[Any, ...]) -> list[str]:
    domain, did = row
    if not isinstance(domain, str):
        raise ReloadError(f"domain at row <{i}> is null or not string")
    if not domain:
        raise ReloadError(f"domain at row <{i}> is empty string")
    if did is not None and not isinstance(did, str):
        raise ReloadError(f"did at row <{i}> is not null or string")
    if did == "":
        raise ReloadError(f"did at row <{i}> is empty string")
    return [domain, did if did is not None else domain]


def _str2sint(text: str) -> int:
    """str2sint: an optional sign, then digits only."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isdigit() or not body.isascii():
        raise ValueError(text)
    return -int(body) if text[0] == "-" else int(body)
