"""dispatcher's checks: ds_list_exists(), ds_is_active() and ds_is_from_list()."""

from __future__ import annotations

from typing import Any

from kampy.api import MessageContext, SIPProtocolError, module_logger, parse_uri

from . import dslist
from .dslist import skip_dst

log = module_logger("dispatcher")

MATCH_NOPORT, MATCH_NOPROTO, MATCH_ACTIVE = 1, 2, 4


class Checks:
    """The check functions of DispatcherModule."""

    def ds_list_exists(self, ctx: MessageContext, groupid: str) -> int:
        try:
            setid = int(groupid.strip())
        except ValueError:
            log.error("cannot get set id param value")
            return -2
        return 1 if str(setid) in self.store.read()["sets"] else -1

    def ds_is_active(self, ctx: MessageContext, setid: int, uri: str = "") -> int:
        node = self.store.read()["sets"].get(str(setid))
        if node:
            for dest in node["dests"]:
                if not skip_dst(dest["flags"]) and (not uri or dest["uri"] == uri):
                    return 1
        return -1

    def ds_is_from_list(
        self, ctx: MessageContext, setid: int = -1, mode: int | None = None, uri: str = ""
    ) -> int:
        if mode is None:
            mode = MATCH_NOPROTO
        if not uri:
            src = ctx.src
            ip, port, proto = src.ip, src.port, dslist.PROTO_IDS.get(src.proto, 0)
        else:
            try:
                parsed = parse_uri(uri)
            except SIPProtocolError:
                log.error("bad uri [%s]", uri)
                return -1
            # parse_uri(): no port written is 0, no transport parameter is PROTO_NONE
            found = self.dns.resolve(parsed.host or "", parsed.port or 0,
                                     dslist.PROTO_IDS.get(parsed.transport or "", 0))
            if found is None:
                log.error("could not resolve %s", parsed.host)
                return -1
            ip, port, proto = found
        data = self.store.read()
        groups = data["order"] if setid == -1 else [setid]
        for group in groups:
            node = data["sets"].get(str(group))
            if node is None:
                continue
            for dest in node["dests"]:
                if self._address_matches(dest, ip, port, proto, mode):
                    if setid == -1 and self.setid_pv is not None:
                        self.setid_pv.set(ctx, node["id"])
                    if self.attrs_pv is not None and dest["attrs"].get("body"):
                        self.attrs_pv.set(ctx, dest["attrs"]["body"])
                    return 1
        return -1

    def _address_matches(self, dest: dict[str, Any], ip: str, port: int, proto: int, mode: int) -> bool:
        if dest["noip"]:
            return False
        address, dest_port, dest_proto = dest["ip"], dest["port"], dest["proto"]
        if self.dns_mode & dslist.DS_DNS_MODE_ALWAYS:
            found = self.dns.resolve(dest["host"], dest_port, dest_proto)
            if found is None:
                log.warning("could not resolve %s (skipping)", dest["host"])
                return False
            address, dest_port, dest_proto = found
        if address is None or not _same_ip(address, ip):
            return False
        return (
            (mode & MATCH_NOPORT or dest_port == 0 or port == dest_port)
            and (mode & MATCH_NOPROTO or proto == dest_proto)
            and (not mode & MATCH_ACTIVE or not skip_dst(dest["flags"]))
        )


def _same_ip(a: str, b: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(a.strip("[]")) == ipaddress.ip_address(b.strip("[]"))
    except ValueError:
        return a == b
