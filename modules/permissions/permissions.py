"""The permissions module: allow/deny rule files (routing, registration, URIs), the address table
(by group: addresses, subnets, domain names) and trusted peers (Kamailio's permissions module).

The address table and the cached trusted table are shared snapshots: loaded once for all workers,
reloaded by `permissions.addressReload`/`permissions.trustedReload` from any worker (at most once
per reload_delta seconds, the time of the last reload being shared too).
"""
from __future__ import annotations

from typing import Any

from kampy.api import (
    L_ERR,
    L_INFO,
    CoreAPI,
    DBError,
    MessageContext,
    Module,
    PVAccessor,
    Request,
    RpcFault,
    RpcStruct,
    SIPProtocolError,
    avp_add,
    check_table_version,
    db_connect,
    log_at,
    module_logger,
    parse_pv,
    parse_uri,
)

from .address import AddressTables, LoadError, load_db_rows, load_file, parse_ip
from .rules import Rule, parse_file, search_rule
from .trusted import PROTOS, TrustedTable, load_rows, uncached_matches

log = module_logger("permissions")

TABLE_VERSION = 6
LOAD_ADDRESSDB, LOAD_TRUSTEDDB, LOAD_ALLOWFILE, LOAD_DENYFILE = 1, 2, 4, 8
EXPRESSION_LENGTH = 256
MAX_RULE_FILES = 64
MAX_URI_SIZE = 1024
COLUMNS = ("source_col", "proto_col", "from_col", "ruri_col", "tag_col", "priority_col", "grp_col",
           "ip_addr_col", "mask_col", "port_col")
Files = list[tuple[str | None, list[Rule] | None]]  # (path, rules) of the allow or the deny files


def plain_uri(text: str) -> str | None:
    """get_plain_uri(): `sip:user@host`, or `sip:host` without a user; None if not a URI."""
    try:
        uri = parse_uri(text)
    except SIPProtocolError:
        log_at(log, L_ERR, "failed to parse URI")
        return None
    return f"sip:{uri.user}@{uri.host or ''}" if uri.user else f"sip:{uri.host or ''}"


class PermissionsModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.backends = int(params["load_backends"])
        if not self.backends:
            raise ValueError("failure - no backend to be loaded")
        self.db_url = params["db_url"] or None
        self.db_mode = int(params["db_mode"])
        self.check_all_branches = bool(int(params["check_all_branches"]))
        self.allow_suffix = str(params["allow_suffix"])
        self.deny_suffix = str(params["deny_suffix"])
        self.reload_delta = int(params["reload_delta"]) if int(params["reload_delta"]) >= 0 else 5
        self.max_subnets = int(params["max_subnets"])
        self.peer_tag_mode = int(params["peer_tag_mode"])
        self.tag_avp = self._tag_avp(params["peer_tag_avp"])
        self.cols = {k: str(params[k]) for k in COLUMNS}
        self.address_table = str(params["address_table"])
        self.trusted_table = str(params["trusted_table"])
        self.address_file = self.pathname(params["address_file"]) if params["address_file"] else None
        self.state = core.shared.table("permissions", capacity=16)  # counter 0: the last RPC reload
        # the rule files: index 0 is the default pair; functions' files are added at their fixups
        self.allow: Files = [self._default(LOAD_ALLOWFILE, "default_allow_file")]
        self.deny: Files = [self._default(LOAD_DENYFILE, "default_deny_file")]
        self._rules_count = 1
        self.address = self._init_addresses() if self.backends & LOAD_ADDRESSDB else None
        self.trusted = self._init_trusted() if self.backends & LOAD_TRUSTEDDB else None
        if self.db_mode not in (0, 1):
            raise ValueError(f"invalid db_mode value: {self.db_mode}")
        self._address_index: tuple[int, AddressTables] | None = None
        self._trusted_index: tuple[int, TrustedTable] | None = None
        self._previous_trusted: TrustedTable | None = None

    # ------------------------------------------------------------ set-up

    def _tag_avp(self, spec: str | None) -> str | None:
        if not spec:
            return None
        try:
            pv = parse_pv(spec)
        except Exception:  # noqa: BLE001  (any syntax problem is Kamailio's one error)
            pv = None
        if pv is None or pv.cls != "avp" or not pv.arg:
            raise ValueError(f"malformed or non AVP {spec} peer_tag_avp definition")
        return pv.arg

    def pathname(self, name: str) -> str:
        """get_pathname(): a name without '/' is in the folder of the main config file."""
        if "/" in name:
            return name
        cfg = self.core.cfg_file
        return cfg[:cfg.rfind("/") + 1] + name if "/" in cfg else name

    def _default(self, backend: int, param: str) -> tuple[str | None, list[Rule] | None]:
        if not self.backends & backend:
            return None, None
        path = self.pathname(str(self.params[param]))
        rules = parse_file(path)
        if rules is None:
            log_at(log, L_INFO, "default %s file (%s) not found => empty rule set",
                   "allow" if backend == LOAD_ALLOWFILE else "deny", path)
        return path, rules

    def _check_version(self, table: str) -> None:
        try:
            with db_connect(str(self.db_url), create_missing=True) as db:
                check_table_version(db, table, TABLE_VERSION)
        except DBError as exc:
            raise ValueError(str(exc)) from None

    def _init_addresses(self) -> Any:
        if self.address_file is None:
            if self.db_url is None:
                log_at(log, L_INFO, "db_url parameter of permissions module not set, disabling "
                       "allow_address")
                return None
            self._check_version(self.address_table)
        snapshot = self.core.shared.snapshot("permissions.address")
        try:
            snapshot.publish_once(self.load_addresses)
        except LoadError as exc:
            raise ValueError(f"reload of address table failed: {exc}") from None
        return snapshot

    def _init_trusted(self) -> Any:
        if self.db_url is None:
            log_at(log, L_INFO, "db_url parameter of permissions module not set, disabling allow_trusted")
            return None
        self._check_version(self.trusted_table)
        if self.db_mode != 1:
            return "db"  # every check reads the table
        snapshot = self.core.shared.snapshot("permissions.trusted")
        try:
            snapshot.publish_once(self.load_trusted)
        except LoadError as exc:
            raise ValueError(f"reload of trusted table failed: {exc}") from None
        return snapshot

    # ------------------------------------------------------------ loading the tables

    def _rows(self, table: str, columns: list[str], **query: Any) -> list[tuple[Any, ...]]:
        try:
            with db_connect(str(self.db_url), create_missing=True) as db:
                return db.query(table, columns, **query)
        except DBError as exc:
            raise LoadError(f"failed to query database: {exc}") from None

    def load_addresses(self) -> list[list[Any]]:
        if self.address_file is not None:
            return load_file(self.address_file)
        c = self.cols
        columns = [c["grp_col"], c["ip_addr_col"], c["mask_col"], c["port_col"], c["tag_col"]]
        return load_db_rows(self._rows(self.address_table, columns))

    def load_trusted(self) -> list[list[Any]]:
        c = self.cols
        columns = [c["source_col"], c["proto_col"], c["from_col"], c["ruri_col"], c["tag_col"],
                   c["priority_col"]]
        return load_rows(self._rows(self.trusted_table, columns))

    @property
    def addresses(self) -> AddressTables | None:
        if self.address is None:
            return None
        generation = self.address.generation
        if self._address_index is None or self._address_index[0] != generation:
            generation, rows = self.address.read()
            self._address_index = (generation, AddressTables.build(rows, self.max_subnets))
        return self._address_index[1]

    @property
    def trusted_cache(self) -> TrustedTable | None:
        if self.trusted is None or isinstance(self.trusted, str):
            return None
        generation = self.trusted.generation
        if self._trusted_index is None or self._trusted_index[0] != generation:
            generation, rows = self.trusted.read()
            if self._trusted_index is not None:
                self._previous_trusted = self._trusted_index[1]
            self._trusted_index = (generation, TrustedTable(rows))
        return self._trusted_index[1]

    def trusted_cleanup(self) -> None:
        """perm_ht_timer: the table a reload replaced is let go (unless a reload was just made)."""
        last = self.state.counter(0)
        if last and last > int(self.core.clock.time()) - int(self.params["trusted_cleanup_interval"]):
            return
        self._previous_trusted = None

    # ------------------------------------------------------------ rule files (fixups)

    def _load(self, table: Files, name: str, second: bool) -> int:
        """load_fixup(): the index of the file in the allow (deny) list, parsed when new."""
        path = self.pathname(name)
        for i, (known, _rules) in enumerate(table[:self._rules_num()]):
            if known == path:
                return i
        index = self._rules_num()
        if index >= MAX_RULE_FILES:
            raise ValueError(f"too many rule files (at most {MAX_RULE_FILES})")
        rules = parse_file(path)
        if rules is None:
            log_at(log, L_INFO, "file (%s) not parsed properly => empty rule set", path)
        while len(table) <= index:
            table.append((None, None))
        table[index] = (path, rules)
        if second:
            self._rules_count = index + 1
        return index

    def _rules_num(self) -> int:
        return self._rules_count

    def fix_allow_file(self, name: str) -> int:
        return self._load(self.allow, name, second=False)

    def fix_deny_file(self, name: str) -> int:
        self._load(self.deny, name, second=True)
        return 0

    def fix_basename(self, name: str) -> int:
        index = self._load(self.allow, name + self.allow_suffix, second=False)
        self._load(self.deny, name + self.deny_suffix, second=True)
        return index

    def _rules(self, index: int) -> tuple[list[Rule] | None, list[Rule] | None]:
        allow = self.allow[index][1] if index < len(self.allow) else None
        deny = self.deny[index][1] if index < len(self.deny) else None
        return allow, deny

    # ------------------------------------------------------------ allow_routing, allow_register, allow_uri

    def _from_uri(self, ctx: MessageContext) -> str | None:
        try:
            frm = ctx.msg.from_
        except SIPProtocolError:
            frm = None
        if frm is None:
            log_at(log, L_ERR, "FROM header field not found")
            return None
        text = str(frm.uri)
        if len(text) > EXPRESSION_LENGTH:
            log_at(log, L_ERR, "From header field is too long: %d chars", len(text))
            return None
        return text

    def check_routing(self, ctx: MessageContext, index: int) -> int:
        allow, deny = self._rules(index)
        if not allow and not deny:
            return 1
        from_uri = self._from_uri(ctx)
        if from_uri is None or not isinstance(ctx.msg, Request):
            return -1
        try:
            ruri = parse_uri(ctx.ruri)
        except SIPProtocolError:
            log_at(log, L_ERR, "uri parsing failed")
            return -1
        target = f"sip:{ruri.user or ''}@{ruri.host or ''}"
        if len(target) > EXPRESSION_LENGTH:
            log_at(log, L_ERR, "Request URI is too long: %d chars", len(target))
            return -1
        if search_rule(allow, from_uri, target):
            if not self.check_all_branches:
                return 1
        elif search_rule(deny, from_uri, target):
            return -1
        elif not self.check_all_branches:
            return 1
        for branch in ctx.branches:
            uri = plain_uri(branch.uri)
            if uri is None:
                return -1
            if not search_rule(allow, from_uri, uri) and search_rule(deny, from_uri, uri):
                return -1
        return 1

    def check_register(self, ctx: MessageContext, index: int) -> int:
        allow, deny = self._rules(index)
        if not allow and not deny:
            return 1
        msg = ctx.msg
        try:
            to, contacts = msg.to, msg.contacts
        except SIPProtocolError:
            log_at(log, L_ERR, "failed to parse headers")
            return -1
        if to is None:
            log_at(log, L_ERR, "To or Contact not found")
            return -1
        if not contacts or contacts.star:
            return 1
        to_uri = str(to.uri)
        for contact in contacts:
            uri = plain_uri(str(contact.uri))
            if uri is None:
                return -1
            if search_rule(allow, to_uri, uri) and self.check_all_branches:
                continue
            if search_rule(deny, to_uri, uri):
                return -1
        return 1

    def allow_routing_0(self, ctx: MessageContext) -> int:
        return self.check_routing(ctx, 0)

    def allow_routing_1(self, ctx: MessageContext, basename: int) -> int:
        return self.check_routing(ctx, basename)

    def allow_routing_2(self, ctx: MessageContext, allow_file: int, deny_file: int) -> int:
        return self.check_routing(ctx, allow_file)

    def allow_register_1(self, ctx: MessageContext, basename: int) -> int:
        return self.check_register(ctx, basename)

    def allow_register_2(self, ctx: MessageContext, allow_file: int, deny_file: int) -> int:
        return self.check_register(ctx, allow_file)

    def allow_uri(self, ctx: MessageContext, index: int, pv: PVAccessor) -> int:
        allow, deny = self._rules(index)
        if not allow and not deny:
            return 1
        from_uri = self._from_uri(ctx)
        if from_uri is None:
            return -1
        value = pv.get(ctx)
        if not isinstance(value, str):
            log_at(log, L_ERR, "pseudo variable value is not string" if value is not None
                   else "cannot get pseudo variable value")
            return -1
        if len(value) > EXPRESSION_LENGTH:
            log_at(log, L_ERR, "pseudo variable value is too long: %d chars", len(value))
            return -1
        if search_rule(allow, from_uri, value):
            return 1
        return -1 if search_rule(deny, from_uri, value) else 1

    # ------------------------------------------------------------ the address table

    def _tag(self, ctx: MessageContext, tag: str | None) -> None:
        if self.tag_avp is not None and tag is not None:
            avp_add(ctx, self.tag_avp, tag)

    def allow_address_of(self, ctx: MessageContext, group: int, address: str, port: int) -> int:
        tables = self.addresses
        if tables is None:
            return -1
        ip = parse_ip(address)
        if ip is None:
            found, tag = tables.match_name(group, address, port)
        else:
            found, tag = tables.match_addr(group, ip, port)
            if not found:
                found, tag = tables.match_subnet(group, ip, port)
        if found:
            self._tag(ctx, tag)
        return 1 if found else -1

    def allow_address(self, ctx: MessageContext, group: int, address: str, port: int) -> int:
        return self.allow_address_of(ctx, group, address, port)

    def allow_source_address(self, ctx: MessageContext, group: int = 1) -> int:
        tables = self.addresses
        ip = parse_ip(ctx.src.ip)
        if tables is None or ip is None:
            return -1
        found, tag = tables.match_addr(group, ip, ctx.src.port)
        if not found:
            found, tag = tables.match_subnet(group, ip, ctx.src.port)
        if found:
            self._tag(ctx, tag)
        return 1 if found else -1

    def address_group(self, ctx: MessageContext, address: str, port: int) -> int:
        tables = self.addresses
        if tables is None:
            return -1
        ip = parse_ip(address)
        if ip is None:
            return tables.group_of_name(address, port)
        group, tag = tables.group_of_addr(ip, port)
        if group == -1:
            group, tag = tables.group_of_subnet(ip, port)
        if group != -1:
            self._tag(ctx, tag)
        return group

    def allow_source_address_group(self, ctx: MessageContext) -> int:
        return self.address_group(ctx, ctx.src.ip, ctx.src.port)

    def allow_address_group(self, ctx: MessageContext, address: str, port: int) -> int:
        return self.address_group(ctx, address, port)

    # ------------------------------------------------------------ trusted peers

    def trusted_check(self, ctx: MessageContext, src_ip: str, proto: int, from_uri: str) -> int:
        """allow_trusted(): 1 (peer_tag_mode 1: the number of peers) when trusted, else -1."""
        if self.trusted is None:
            return -1
        ruri = ctx.msg.uri if isinstance(ctx.msg, Request) else None
        if isinstance(self.trusted, str):
            c = self.cols
            try:
                rows = self._rows(self.trusted_table,
                                  [c["proto_col"], c["from_col"], c["ruri_col"], c["tag_col"]],
                                  where={c["source_col"]: src_ip}, order_by=c["priority_col"])
            except LoadError as exc:
                log_at(log, L_ERR, "%s", exc)
                return -1
            peers = uncached_matches(rows, proto, from_uri, ruri)
        else:
            cache = self.trusted_cache
            peers = cache.matching(src_ip, proto, from_uri, ruri) if cache is not None else []
        if not self.peer_tag_mode:
            peers = peers[:1]
        for peer in peers:
            self._tag(ctx, peer.tag)
        return (len(peers) if self.peer_tag_mode else 1) if peers else -1

    def _msg_from_uri(self, ctx: MessageContext) -> str | None:
        try:
            frm = ctx.msg.from_
        except SIPProtocolError:
            return None
        return str(frm.uri) if frm is not None else None

    def allow_trusted_0(self, ctx: MessageContext) -> int:
        uri = self._msg_from_uri(ctx)
        if uri is None:
            return -1
        return self.trusted_check(ctx, ctx.src.ip, PROTOS.get(ctx.src.proto, 0), uri)

    def allow_trusted(self, ctx: MessageContext, src_ip: str, proto: str, from_uri: str | None = None) -> int:
        number = PROTOS.get(proto.lower()) if 2 <= len(proto) <= 4 else None
        if number is None:
            log_at(log, L_ERR, "unknown protocol %s", proto)
            return -1
        if from_uri is None:
            from_uri = self._msg_from_uri(ctx)
            if from_uri is None:
                return -1
        return self.trusted_check(ctx, src_ip, number, from_uri)

    # ------------------------------------------------------------ RPC

    def _check_reload(self) -> None:
        """rpc_check_reload(): at most one reload per reload_delta seconds, across workers."""
        now = int(self.core.clock.time())
        with self.state.transaction():
            last = self.state.counter(0)
            if last and last > now - self.reload_delta:
                log_at(log, L_ERR, "ongoing reload")
                raise RpcFault(500, "ongoing reload")
            self.state.add(0, now - last)

    def rpc_trusted_reload(self) -> str:
        self._check_reload()
        if self.trusted is None or isinstance(self.trusted, str):
            raise RpcFault(500, "Reload failed.")
        try:
            self.trusted.publish(self.load_trusted())
        except LoadError as exc:
            log_at(log, L_ERR, "%s", exc)
            raise RpcFault(500, "Reload failed.") from None
        return "Reload OK"

    def rpc_address_reload(self) -> str:
        self._check_reload()
        if self.address is None:
            raise RpcFault(500, "Reload failed.")
        try:
            self.address.publish(self.load_addresses())
        except LoadError as exc:
            log_at(log, L_ERR, "%s", exc)
            raise RpcFault(500, "Reload failed.") from None
        return "Reload OK"

    def rpc_trusted_dump(self) -> RpcStruct:
        cache = self.trusted_cache
        if cache is None:
            raise RpcFault(500, "No trusted table")
        return RpcStruct(cache.dump())

    def rpc_address_dump(self) -> list[dict[str, Any]]:
        tables = self.addresses
        if tables is None:
            raise RpcFault(500, "No address table")
        return tables.address_dump()

    def rpc_subnet_dump(self) -> list[dict[str, Any]]:
        tables = self.addresses
        if tables is None:
            raise RpcFault(500, "No subnet table")
        return tables.subnet_dump()

    def rpc_domain_dump(self) -> RpcStruct:
        tables = self.addresses
        if tables is None:
            raise RpcFault(500, "No domain list table")
        return RpcStruct(tables.domain_dump())

    def rpc_test_uri(self, basename: str, uri: str, contact: str) -> str:
        if len(contact) > MAX_URI_SIZE:
            raise RpcFault(500, "Contact is too long")
        if len(basename) + len(self.allow_suffix) + 1 > 128:
            raise RpcFault(500, "Basename is too long")
        path = self.pathname(basename + self.allow_suffix)
        loaded = self.allow[:self._rules_num()]
        index = next((i for i, (known, _rules) in enumerate(loaded) if known == path), None)
        if index is None:
            log_at(log, L_ERR, "File <%s> has not been loaded", path)
            return "Denied"
        allow, deny = self._rules(index)
        if not allow and not deny or search_rule(allow, uri, contact):
            return "Allowed"
        return "Denied" if search_rule(deny, uri, contact) else "Allowed"
