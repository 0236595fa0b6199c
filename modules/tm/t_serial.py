"""Serial forking by q-value (Kamailio's t_serial.c): t_load_contacts() stores the destination set in
the XAVP `contacts_avp`, t_next_contacts() takes the next priority class back as the R-URI and
branches (one contact per +sip.instance, the others go to `contact_flows_avp`), and
t_next_contact_flow() takes the next flow of the failed branch's instance.

An XAVP item is `{field: [values]}`, index 0 of a name's list being the newest (Kamailio's head of
the list): t_load_contacts() adds the contacts lowest q first, so the first item is the highest q.
A record's `q_flag` (Q_FLAG, 4) marks the last contact of its priority class."""
from __future__ import annotations

import random
from typing import Any

from kampy.api import (
    Branch,
    CoreAPI,
    MessageContext,
    RouteType,
    Socket,
    grep_socket,
    xavp_clone_level,
    xavp_insert,
)

from .base import BRANCH, RURI_SEEN, TmBase, log

Q_FLAG = 1 << 2
T_LOAD_STANDARD, T_LOAD_PROPORTIONAL = 0, 1

Record = dict[str, list[Any]]


class Contact:
    """A destination of the set as t_load_contacts() sorts it."""

    __slots__ = ("uri", "q", "dst_uri", "path", "sock", "instance", "ruid", "ua", "flags", "q_flag",
                 "attrs", "q_index")

    def __init__(self, uri: str, q: int, dst_uri: str | None, path: str | None, sock: Socket | None,
                 instance: str | None, ruid: str | None, ua: str | None, flags: int, attrs: Any) -> None:
        self.uri, self.q, self.dst_uri, self.path, self.sock = uri, q, dst_uri, path, sock
        self.instance, self.ruid, self.ua, self.flags, self.attrs = instance, ruid, ua, flags, attrs
        self.q_flag = 0
        self.q_index = q


def ruri_is_new(ctx: MessageContext) -> bool:
    """Kamailio's ruri_is_new: the R-URI was not consumed by a forwarding since it was last set
    (failure_route starts with it consumed)."""
    return RURI_SEEN not in ctx.local or ctx.ruri != ctx.local[RURI_SEEN] or ctx.ruri_new


def mark_consumed(ctx: MessageContext) -> None:
    ctx.local[RURI_SEEN] = ctx.ruri
    ctx.ruri_new = False


class Serial(TmBase):
    """t_load_contacts, t_next_contacts, t_next_contact_flow."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.contacts_avp = str(params["contacts_avp"] or "")
        self.contact_flows_avp = str(params["contact_flows_avp"] or "")
        self.xavp_contact = str(params["xavp_contact"] or "")
        if self.contacts_avp and not self.contact_flows_avp:
            raise ValueError("contact_flows_avp param has not been defined")

    # ------------------------------------------------------------ t_load_contacts

    def t_load_contacts(self, ctx: MessageContext, mode: int = T_LOAD_STANDARD) -> int:
        if mode not in (T_LOAD_STANDARD, T_LOAD_PROPORTIONAL):
            log.error("invalid load_contact mode: %d, please use 0 (standard) or 1 (proportional)", mode)
            return -1
        if not self.contacts_avp:
            log.error("feature has been disabled - to enable define contacts_avp module parameter")
            return -1
        new = ruri_is_new(ctx)
        if not ctx.branches or (len(ctx.branches) == 1 and not new):
            log.debug("nothing to do - only one contact!")
            return 1
        contacts = self._destination_set(ctx, new)
        ordered = sorted_contacts(contacts, mode)
        records = (proportional(ordered) if mode == T_LOAD_PROPORTIONAL else standard(ordered))
        items = ctx.xavps.setdefault(self.contacts_avp, [])
        if mode == T_LOAD_PROPORTIONAL:
            items[0:0] = [self._record(c) for c in records]  # xavp_add_value_after: in selection order
        else:
            for c in records:
                items.insert(0, self._record(c))  # xavp_add_value: each at the head
        ctx.branches.clear()  # clear_branches(): also the R-URI's q and branch flags, R-URI consumed
        ctx.ruri_q, ctx.bflags = -1, 0
        mark_consumed(ctx)
        if self.xavp_contact:
            ctx.xavps.pop(self.xavp_contact, None)
        return 1

    def _destination_set(self, ctx: MessageContext, with_ruri: bool) -> list[Contact]:
        attrs = ctx.xavps.get(self.xavp_contact, []) if self.xavp_contact else []

        def attrs_at(i: int) -> Any:
            return attrs[i] if i < len(attrs) and attrs[i] else None

        out = []
        if with_ruri:
            out.append(Contact(ctx.ruri, ctx.ruri_q, ctx.dst_uri, ctx.path_vec, ctx.force_socket,
                               ctx.instance, ctx.ruid, ctx.location_ua, ctx.bflags, attrs_at(0)))
        for i, b in enumerate(ctx.branches):
            out.append(Contact(b.uri, b.q, b.dst_uri, b.path, b.socket, b.instance, b.ruid, None, b.flags,
                               attrs_at(i + 1)))
        return out

    def _record(self, c: Contact) -> Record:
        rec: Record = {"uri": [c.uri]}
        for name, value in (("dst_uri", c.dst_uri), ("path", c.path),
                            ("sock", str(c.sock) if c.sock else None)):
            if value:
                rec[name] = [value]
        rec["flags"], rec["q_flag"] = [c.flags], [c.q_flag]
        for name, value in (("instance", c.instance), ("ruid", c.ruid), ("ua", c.ua)):
            if value:
                rec[name] = [value]
        if self.xavp_contact and c.attrs:
            rec[self.xavp_contact] = [xavp_clone_level(c.attrs)]
        return rec

    # ------------------------------------------------------------ t_next_contacts

    def t_next_contacts(self, ctx: MessageContext) -> int:
        if not self.contacts_avp:
            log.error("feature has been disabled - to enable define contacts_avp module parameter")
            return -1
        items = ctx.xavps.get(self.contacts_avp)
        if not items:
            log.debug("no contacts in contacts_avp - we are done!")
            return -2
        first = items[0]
        sock = self._contact_socket(first)
        if sock is False:
            ctx.xavps.pop(self.contacts_avp, None)
            return -1
        q_flag = int_value(first, "q_flag")
        instances: list[str] = []
        instance = text(first, "instance")
        if instance and not q_flag:
            instances.append(instance)
            ctx.instance = instance
        self._insert_attrs(ctx, first, 0)
        ctx.new_ruri = text(first, "uri") or ""
        ctx.ruri_new = True  # rewrite_uri(): the R-URI is new and forks
        ctx.dst_uri = text(first, "dst_uri")
        ctx.path_vec = text(first, "path")
        ctx.force_socket = sock  # type: ignore[assignment]
        ctx.bflags = int_value(first, "flags")
        ctx.ruid = text(first, "ruid")
        ctx.location_ua = text(first, "ua")
        del items[0]
        if q_flag:
            return self._done(ctx)
        ctx.xavps.pop(self.contact_flows_avp, None)
        while items:
            rec = items.pop(0)
            if text(rec, "uri") is None:
                log.warning("t_next_contacts: a record of %s without a uri is skipped", self.contacts_avp)
                continue
            sock = self._contact_socket(rec)
            if sock is False:
                ctx.xavps.pop(self.contacts_avp, None)
                return -1
            q_flag = int_value(rec, "q_flag")
            instance = text(rec, "instance")
            if instance and instance in instances:
                self._add_flow(ctx, rec)
            else:
                if instance and not q_flag:
                    instances.append(instance)
                ctx.branches.append(branch_of(rec, sock))  # type: ignore[arg-type]
                self._insert_attrs(ctx, rec, len(ctx.branches))
            if q_flag:
                break
        return self._done(ctx)

    def _done(self, ctx: MessageContext) -> int:
        if not ctx.xavps.get(self.contacts_avp):
            ctx.xavps.pop(self.contacts_avp, None)
        return 1

    def _add_flow(self, ctx: MessageContext, rec: Record) -> None:
        """add_contact_flows_avp: a contact of an instance already in the set, kept for
        t_next_contact_flow()."""
        flow: Record = {k: list(v) for k, v in rec.items() if k not in ("q_flag", self.xavp_contact)}
        if self.xavp_contact and rec.get(self.xavp_contact):
            flow[self.xavp_contact] = rec[self.xavp_contact]
        flow.setdefault("flags", [0])
        ctx.xavps.setdefault(self.contact_flows_avp, []).insert(0, flow)

    # ------------------------------------------------------------ t_next_contact_flow

    def t_next_contact_flow(self, ctx: MessageContext) -> int:
        if not self.contact_flows_avp:
            log.error("feature has been disabled - to enable define contact_flows_avp module parameter")
            return -1
        this = self._this_branch_instance(ctx)
        if this is None:
            return -1
        if not this:
            log.debug("No instance on this branch")
            return -2
        items = ctx.xavps.get(self.contact_flows_avp)
        if not items:
            log.debug("no contacts in contact_flows_avp - we are done!")
            return -2
        for i, rec in enumerate(items):
            if text(rec, "instance") != this or text(rec, "uri") is None:
                continue
            sock = self._contact_socket(rec)
            if sock is False:
                del items[i]
                return -1
            ctx.branches.append(branch_of(rec, sock))  # type: ignore[arg-type]
            self._insert_attrs(ctx, rec, len(ctx.branches))
            del items[i]
            if not items:
                ctx.xavps.pop(self.contact_flows_avp, None)
            return 1
        return -1

    def _this_branch_instance(self, ctx: MessageContext) -> str | None:
        """t_get_this_branch_instance: the instance of the branch whose failure is handled."""
        if ctx.route_type != RouteType.BRANCH_FAILURE:
            log.error("Called t_get_this_branch_instance not in a branch_failure_route")
            return None
        cell = self.cell_of(ctx)
        index = ctx.local.get(BRANCH)
        if cell is None or index is None or not 0 <= index < len(cell.branches):
            return None
        return cell.branches[index].instance or ""

    # ------------------------------------------------------------ helpers

    def _contact_socket(self, rec: Record) -> Socket | None | bool:
        """The record's `sock` as a local socket (grep_sock_info); False when there is none such."""
        name = text(rec, "sock")
        if not name:
            return None
        found = socket_named(self.core.sockets, name)
        if found is None:
            log.error("parsing of socket info <%s> failed", name)
            return False
        return found

    def _insert_attrs(self, ctx: MessageContext, rec: Record, index: int) -> None:
        """The record's xavp_contact item goes back to index `index` of the root list (the
        R-URI's at 0, branch n's at n)."""
        if not self.xavp_contact or not isinstance(rec, dict):
            return
        attrs = rec.pop(self.xavp_contact, None)
        if attrs and isinstance(attrs[0], dict):
            xavp_insert(ctx.xavps, self.xavp_contact, attrs[0], index)


def value(rec: Record, name: str, default: Any = None) -> Any:
    """A field's value; `default` without one (or when the script stored a plain value, no item)."""
    values = rec.get(name) if isinstance(rec, dict) else None
    return values[0] if values else default


def text(rec: Record, name: str) -> str | None:
    """A string field ("" and a missing one are None); the script may have stored a number."""
    found = value(rec, name)
    return None if found is None or found == "" or isinstance(found, dict) else str(found)


def int_value(rec: Record, name: str) -> int:
    """An integer field (flags, q_flag); 0 when missing or not a number."""
    found = value(rec, name, 0)
    if isinstance(found, int):
        return found
    try:
        return int(str(found).strip(), 0)
    except ValueError:
        return 0


def branch_of(rec: Record, sock: Socket | None) -> Branch:
    """append_branch() of a stored contact (its q is 0)."""
    return Branch(text(rec, "uri") or "", dst_uri=text(rec, "dst_uri"), path=text(rec, "path"), q=0,
                  flags=int_value(rec, "flags"), socket=sock, instance=text(rec, "instance"),
                  ruid=text(rec, "ruid"))


def socket_named(sockets: Any, text: str) -> Socket | None:
    """grep_sock_info of a stored `proto:host:port` (parse_phostport)."""
    proto, _, rest = text.strip().partition(":")
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit():
        return None
    return grep_socket(sockets, host, int(port), proto.lower())


def sorted_contacts(contacts: list[Contact], mode: int) -> list[Contact]:
    """The insertion sort of ki_t_load_contacts_mode, lowest first: the R-URI (or first branch)
    starts the list; each next contact goes before the first one with a higher q (standard) or
    q-index (proportional), or with an equal one when the new contact has a path."""
    q_total = 0
    for c in contacts:
        if mode == T_LOAD_PROPORTIONAL:
            if c.q > 0:
                q_total += c.q
            c.q_index = q_total
        else:
            c.q_index = c.q
    ordered = contacts[:1]
    for new in contacts[1:]:
        key = new.q_index
        at = 0
        while at < len(ordered) and (ordered[at].q_index < key
                                     or (ordered[at].q_index == key and not new.path)):
            at += 1
        ordered.insert(at, new)
    return ordered


def standard(ordered: list[Contact]) -> list[Contact]:
    """t_load_contacts_standard: Q_FLAG on the first contact (lowest first) of each higher class,
    that is on the last one of its class as t_next_contacts() reads them."""
    ordered[0].q_flag = 0
    for prev, nxt in zip(ordered, ordered[1:], strict=False):
        nxt.q_flag = Q_FLAG if prev.q < nxt.q else 0
    return ordered


def proportional(ordered: list[Contact]) -> list[Contact]:
    """t_load_contacts_proportional: contacts with q > 0 drawn one by one, the chance of each its
    share of the q total left; then those with q <= 0 as backups. Each is a class of its own."""
    pool = [c for c in ordered if c.q > 0]
    drawn = []
    while pool:
        total = sum(c.q for c in pool)
        pick = random.randrange(total)
        acc = 0
        for c in pool:
            acc += c.q
            if acc > pick:
                drawn.append(c)
                pool.remove(c)
                break
    out = drawn + [c for c in ordered if c.q <= 0]
    for c in out:
        c.q_flag = Q_FLAG
    return out

