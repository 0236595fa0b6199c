"""registrar's lookup() family: lookup(), lookup_to_dset(), lookup_branches(), registered() and
unregister() (Kamailio's lookup.c)."""
from __future__ import annotations

import logging
import urllib.parse
from typing import Any

from kampy.api import URI, Branch, MessageContext, Request, SIPProtocolError, parse_name_addr

from .outbound import split_first
from .lookupfilter import lookup_filter
from .rcd import add_record_details
from .contacts import method_bit
from .common import R, RegError, strno2int

log = logging.getLogger("kampy.registrar")


class Lookup:
    """The lookup() family: a part of RegistrarModule."""

    # ------------------------------------------------------------ lookup()

    def lookup(self, ctx: MessageContext, domain: str, uri: str | None = None) -> int:
        return self._lookup(ctx, domain, uri, rewrite=True)

    def lookup_to_dset(self, ctx: MessageContext, domain: str, uri: str | None = None) -> int:
        return self._lookup(ctx, domain, uri, rewrite=False)

    def _allowed(self, ctx: MessageContext, c: Any) -> bool:
        if not self.method_filtering:
            return True
        msg = ctx.msg
        assert isinstance(msg, Request)
        if c.methods & method_bit(msg.method):
            return True
        try:
            return bool(msg.to is not None and msg.to.tag)
        except SIPProtocolError:
            return False

    def _usable(self, c: Any, now: int) -> bool:
        return c.valid(now) or bool(self.use_expired_contacts)

    def _lookup(self, ctx: MessageContext, domain: str, uri: str | None, rewrite: bool) -> int:
        if not isinstance(ctx.msg, Request):
            return -3
        try:
            aor, puri = self.extract_aor(uri if uri else ctx.ruri)
        except RegError:
            return -3
        now = self.now()
        match = lookup_filter(ctx, self.lookup_filter_mode, self.params["xavp_cfg"], self.core)
        gr = puri.params.get("gr") if "gr" in puri.params else False
        if gr is None or gr == "":
            found = self._temp_gruu(domain, puri)
            if found is None:
                return -1
            record, first = found
            if not self._usable(first, now):
                return -1
            if not self._allowed(ctx, first):
                return -2
            contacts = [first]
        else:
            record = self.ul.get_urecord(domain, aor)
            if record is None:
                return -1
            ret, first = -1, None
            for c in record.contacts:
                if not self._usable(c, now):
                    continue
                if not self._allowed(ctx, c):
                    ret = -2
                    continue
                if gr and not _same_instance(gr, c.instance):
                    continue
                if not gr and match is not None and not match(c):
                    continue
                first = c
                break
            if first is None:
                return ret
            contacts = record.contacts[record.contacts.index(first):]
        if rewrite:
            if self._set_ruri_branch(ctx, contacts[0]) < 0:
                return -3
            contacts = contacts[1:]
        if gr is not False or not self.append_branches:
            return 1
        for c in contacts:
            if self._usable(c, now) and self._allowed(ctx, c) and (match is None or match(c)):
                dst, path = self._path_dst(c)
                ctx.branches.append(Branch(uri=c.contact, dst_uri=dst or c.received,
                                           path=path if dst else None,
                                           q=c.q, flags=c.cflags, socket=self._socket(c.socket),
                                           instance=c.instance, ruid=c.ruid))
                self.ul.restore_attrs(ctx, c, len(ctx.branches))
        return 1

    def _temp_gruu(self, domain: str, puri: URI) -> tuple[Any, Any] | None:
        user = puri.user or ""
        ruid, sep, _ = user.rpartition("-")
        if not sep:
            return None
        return self.ul.get_urecord_by_ruid(domain, ruid)

    def _set_ruri_branch(self, ctx: MessageContext, c: Any) -> int:
        add_record_details(ctx, self.xavp_rcd, self.xavp_rcd_mask, c, self.now())
        self.ul.restore_attrs(ctx, c, 0)
        ctx.new_ruri = c.contact
        ctx.dst_uri = None
        ctx.path_vec = None
        try:
            dst, path = self._path_dst(c)
        except RegError:
            return -3
        if dst:
            ctx.path_vec, ctx.dst_uri = path, dst
        elif c.received:
            ctx.dst_uri = c.received
        ctx.instance = c.instance
        ctx.reg_id = c.reg_id
        ctx.ruid = c.ruid
        ctx.location_ua = c.user_agent or None
        ctx.ruri_q = c.q
        ctx.bflags |= c.cflags
        sock = self._socket(c.socket)
        if sock is not None:
            ctx.force_socket = sock
        return 1

    def _path_dst(self, c: Any) -> tuple[str | None, str | None]:
        """(next hop, path vector) from a contact's Path: its first URI (the second when the first
        is this server and path_check_local is on)."""
        if not c.path:
            return None, None
        path = c.path
        try:
            first = parse_name_addr(split_first(path))
        except SIPProtocolError:
            raise RegError(R.PARSE_PATH) from None
        if self.path_check_local and self.core.is_myself(first.uri.host):  # any port, as check_self(host, 0)
            rest = path.split(",", 1)
            if len(rest) < 2:
                return None, path
            path = rest[1].strip()
            first = parse_name_addr(split_first(path))
        return str(first.uri), path

    def _socket(self, text: str | None) -> Any:
        if not text:
            return None
        return next((s for s in self.core.sockets if str(s) == text), None)

    def lookup_branches(self, ctx: MessageContext, domain: str) -> int:
        """lookup() on the R-URI and on every branch that has no destination set yet."""
        start = list(ctx.branches)
        ctx.branches = []
        ret = self._lookup(ctx, domain, None, rewrite=True)
        found = ret > 0
        for br in start:
            if br.dst_uri:
                ctx.branches.append(br)
                continue
            saved = (ctx.new_ruri, ctx.dst_uri, ctx.path_vec, ctx.ruri_q, ctx.force_socket, ctx.bflags,
                     ctx.instance, ctx.ruid, ctx.reg_id, ctx.location_ua)
            ctx.new_ruri, ctx.bflags = br.uri, br.flags
            if self._lookup(ctx, domain, br.uri, rewrite=True) > 0:
                found = True
                ctx.branches.insert(len(ctx.branches) - 0, Branch(
                    uri=ctx.ruri, dst_uri=ctx.dst_uri, path=ctx.path_vec, q=ctx.ruri_q, flags=ctx.bflags,
                    socket=ctx.force_socket, instance=ctx.instance, ruid=ctx.ruid))
            (ctx.new_ruri, ctx.dst_uri, ctx.path_vec, ctx.ruri_q, ctx.force_socket, ctx.bflags,
             ctx.instance, ctx.ruid, ctx.reg_id, ctx.location_ua) = saved
        return 1 if found else ret

    # ------------------------------------------------------------ registered(), unregister()

    def registered(self, ctx: MessageContext, domain: str, uri: str | None = None,
                   match_option: str | None = None, match_action: str | None = None) -> int:
        if uri:
            target = uri
        elif isinstance(ctx.msg, Request):
            target = ctx.ruri
        else:
            to = ctx.msg.to
            if to is None:
                return -1
            target = str(to.uri)
        try:
            aor, _ = self.extract_aor(target)
        except RegError:
            return -1
        flag = _int_arg(match_option)
        match = self._match_values(ctx, flag)
        now = self.now()
        for c in self.ul.contacts(aor, domain):
            if not self._usable(c, now):
                continue
            if match.get("match_callid") and c.callid != match["match_callid"]:
                continue
            if match.get("match_received") and (c.received or "") != match["match_received"]:
                continue
            if match.get("match_contact") and c.contact != match["match_contact"]:
                continue
            if not _int_arg(match_action) & 2:
                add_record_details(ctx, self.xavp_rcd, self.xavp_rcd_mask, c, now)
            if _int_arg(match_action) & 1:
                self.ul.restore_attrs(ctx, c, None)
            return 1
        return -1

    def _match_values(self, ctx: MessageContext, flag: int) -> dict[str, str]:
        """match_callid/match_received/match_contact from the xavp_cfg XAVP, as flags 1/2/4 ask."""
        name = self.params.get("xavp_cfg")
        if not name or not flag:
            return {}
        items = ctx.xavps.get(name)
        if not items:
            return {}
        out = {}
        for bit, key in ((1, "match_callid"), (2, "match_received"), (4, "match_contact")):
            values = items[0].get(key)
            if flag & bit and values and values[0]:
                out[key] = str(values[0])
        return out

    def unregister(self, ctx: MessageContext, domain: str, uri: str, ruid: str | None = None) -> int:
        """-1 bad AoR, -2 error removing, -3 contact not found (Kamailio's codes)."""
        ul = self.ul
        if ruid is None:
            try:
                aor, _ = self.extract_aor(uri)
            except RegError:
                return -1
            ul.delete_urecord(domain, aor)
            return 1
        if uri:
            try:
                aor, _ = self.extract_aor(uri)
            except RegError:
                return -1
            hit = ul.get_urecord_by_ruid(domain, ruid)
            if hit is None or hit[0].aor != aor:
                log.warning("AOR/Contact not found")
                return -3
            ul.delete_contact(domain, hit[1])
            return 1
        hit = ul.get_urecord_by_ruid(domain, ruid)
        if hit is None:
            log.warning("contact not found")
            return -3
        ul.delete_contact(domain, hit[1])
        return 1


def _same_instance(gr: str, instance: str | None) -> bool:
    if not instance:
        return False

    def strip(text: str) -> str:
        text = text.strip('"')
        return text[1:-1] if len(text) > 2 and text[0] == "<" and text[-1] == ">" else text
    return strip(urllib.parse.unquote(gr)) == strip(instance)


def _int_arg(value: str | None) -> int:
    if not value:
        return 0
    try:
        return strno2int(value)
    except ValueError:
        return 0
