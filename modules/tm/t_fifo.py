"""t_write_req() and t_write_unix() (Kamailio's t_fifo.c): the request's fields, one a line, written to
a FIFO or a unix datagram socket for an external application (a voicemail server, SEMS), which
answers later with `tm.reply`; meanwhile a blind branch waits fr_timer for that answer, then the
transaction gets its 408.

What is written (format 0.3): `0.3`, `sip_request.<action>`, method, R-URI user, R-URI host, the
receiving address, its port (`.` for 5060), the R-URI, the URI for subsequent requests, From, To,
Call-ID, From tag, To tag, CSeq number, `<hash>:<label>`, the route set, the next hop, the extra
lines (`P-MsgFlags: <flags>`, then the `tw_append` elements) ended by `.`, and the body (INVITE,
INFO, or `msg[body]` in the append; `.` otherwise); every line ends with `\\n`."""
from __future__ import annotations

import errno
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from kampy.api import (
    ClientTransaction,
    CoreAPI,
    MessageContext,
    Request,
    Send,
    SIPProtocolError,
    hash2_raw,
    reverse_hex,
)

from . import tags
from .base import TmBase, log
from .cell import Cell, Dest, Leg, UacBranch
from .t_lifetime import LazyAvp

TWRITE_VERSION = "0.3"
APPEND_BUFFER_MAX = 4096
ROUTE_BUFFER_MAX = 512
NOWHERE = Dest("udp", "0.0.0.0", 0)  # a blind branch sends nothing
# Kamailio's msg_flags bits a request has here beyond kampy's msg.msg_flags: force_rport() and
# "msg->hash_index contains a valid value" (the transaction exists)
FL_FORCE_RPORT, FL_HASH_INDEX = 1 << 0, 1 << 7


@dataclass
class Element:
    """One `[title=]type[name]` of a tw_append."""

    title: str
    kind: str  # "avp" | "hdr"
    name: str
    avp: LazyAvp | None = None


@dataclass
class Append:
    """A `tw_append` parameter: `name:element[;element]`."""

    name: str
    elements: list[Element] = field(default_factory=list)
    add_body: bool = False


def parse_tw_append(text: str, core: CoreAPI) -> Append:
    """parse_tw_append: `name:element[;element]`, element `[title=]avp[spec]|hdr[name]|msg[body]`."""
    name, sep, rest = text.strip().partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()) or not rest.strip():
        raise ValueError(f"parse error in <{text}>")
    app = Append(name.strip())
    for part in rest.split(";"):
        part = part.strip()
        if not part:
            raise ValueError(f"parse error in <{text}>")
        title, eq, spec = part.partition("=")
        if not eq:
            title, spec = "", part
        kind, bracket, value = spec.strip().partition("[")
        if not bracket or not value.endswith("]") or not value[:-1].strip():
            raise ValueError(f"parse error in <{text}>")
        kind, value = kind.strip().lower(), value[:-1].strip()
        title = title.strip()
        if kind == "msg":
            if value.lower() != "body":
                raise ValueError(f"unsupported value <{value}> for msg type")
            app.add_body = True
        elif kind == "avp":
            shown = value[2:] if value[:2].lower() in ("i:", "s:") else value
            app.elements.append(Element(title or shown, "avp", value, LazyAvp(core, value)))
        elif kind == "hdr":
            app.elements.append(Element(title or value, "hdr", value))
        else:
            raise ValueError(f"unknown type <{kind}>")
    return app


def _uri_of(value: str) -> str:
    """The URI of a name-addr (`"Bob" <sip:b@h>;tag=1` -> `sip:b@h`) or of a bare addr-spec."""
    if "<" in value:
        return value.split("<", 1)[1].split(">", 1)[0]
    return value.split(";", 1)[0].strip()


def _without_params(value: str) -> str:
    """A From's to_body body: its name-addr (or addr-spec) without the header parameters."""
    if "<" in value:
        return value[:value.index(">", value.index("<")) + 1] if ">" in value else value
    return value.split(";", 1)[0].strip()


class TFifo(TmBase):
    """t_write_req, t_write_unix."""

    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.tw_appends: dict[str, Append] = {}
        values = params["tw_append"]
        for text in values if isinstance(values, list | tuple) else [values]:
            if text:
                app = parse_tw_append(str(text), core)
                if app.name.lower() in self.tw_appends:
                    raise ValueError(f"duplicated tw_append name <{app.name}>")
                self.tw_appends[app.name.lower()] = app

    def fix_tw_info(self, value: str) -> tuple[str, Append | None]:
        """fixup_t_write: `action[/append name]`."""
        action, slash, name = value.partition("/")
        if not slash:
            return value, None
        if not action:
            raise ValueError("empty action name")
        if not name:
            raise ValueError("empty append name")
        app = self.tw_appends.get(name.lower())
        if app is None:
            raise ValueError(f"unknown append name <{name}>")
        return action, app

    def t_write_req(self, ctx: MessageContext, fifo: str, info: tuple[str, Append | None]) -> int:
        lines = self._assemble(ctx, info)
        if lines is None:
            log.error("error int assemble_msg")
            return -1
        if not _write_fifo(fifo, lines):
            log.error("write_to_fifo failed")
            return -1
        return self._add_blind_uac(ctx)

    def t_write_unix(self, ctx: MessageContext, path: str, info: tuple[str, Append | None]) -> int:
        lines = self._assemble(ctx, info)
        if lines is None:
            log.error("error in assemble_msg")
            return -1
        timeout = int(self.cfg.get("tm", "unix_tx_timeout")) / 1000  # type: ignore[arg-type]
        if not _write_unix(path, lines, timeout):
            log.error("write_to_unixsock failed")
            return -1
        return self._add_blind_uac(ctx)

    def _assemble(self, ctx: MessageContext, info: tuple[str, Append | None]) -> bytes | None:
        """assemble_msg: the 20 lines."""
        msg = ctx.msg
        cell = self.cell_of(ctx)
        if not isinstance(msg, Request):
            log.error("called for something else thena SIP request")
            return None
        if cell is None:
            log.error("assemble_msg: t_get_trans_ident failed")
            return None
        action, app = info
        from_, to, cseq = msg.from_, msg.to, msg.cseq
        if from_ is None or to is None or cseq is None or msg.call_id is None:
            log.error("while parsing <From:> header")
            return None
        try:
            ruri = msg.ruri
        except (SIPProtocolError, ValueError):
            log.error("uri has not been parsed")
            return None
        contact = msg.header("contact")
        str_uri = _uri_of(contact) if contact and contact.strip() != "*" else str(from_.uri)
        route, next_hop, str_uri = self._route_set(msg, str_uri)
        if route is None:
            return None
        add_body = app is not None and app.add_body
        body = msg.body.decode("utf-8", "surrogateescape") \
            if msg.method.upper() in ("INVITE", "INFO") or add_body else "."
        append = self._append(ctx, msg, app)
        if append is None:
            return None
        sock = ctx.src.local
        hash_slot = hash2_raw(msg.call_id, str(cseq.num)) & 0xFFFF
        fields = [TWRITE_VERSION, "sip_request." + action, msg.method, ruri.user or "", ruri.host,
                  sock.host if sock is not None else "", "." if sock is None or sock.port == 5060
                  else str(sock.port), msg.uri, str_uri or ".", _without_params(msg.header("from") or ""),
                  msg.header("to") or "", msg.call_id, from_.tag or "", to.tag or "", str(cseq.num),
                  f"{hash_slot}:{cell.label}", route or ".", next_hop or ".", append, body]
        return "".join(line + "\n" for line in fields).encode("utf-8", "surrogateescape")

    @staticmethod
    def _route_set(msg: Request, str_uri: str) -> tuple[str | None, str, str]:
        """The route set from Record-Route (as assemble_msg computes it, a strict-routing first hop
        included) -> (route, next hop, URI for subsequent requests)."""
        rrs = [_uri_of(v) for v in msg.headers_named("record-route")]
        if not rrs:
            return "", "", str_uri
        first = rrs[0]
        params = first.split(";", 1)[1] if ";" in first else ""
        loose = any(p.strip().lower().split("=")[0] == "lr" for p in params.split(";")) if params else False
        entries = ([first] if loose else []) + (rrs if loose else rrs[1:])
        next_hop = ""
        if not loose:
            entries.append(str_uri)
            str_uri = first
        else:
            next_hop = first
        route = ",".join(f"<{uri}>" for uri in entries)
        if len(route) + 3 >= ROUTE_BUFFER_MAX:
            log.error("buffer overflow while copying new route")
            return None, "", str_uri
        return route, next_hop, str_uri

    def _append(self, ctx: MessageContext, msg: Request, app: Append | None) -> str | None:
        flags = msg.msg_flags | FL_HASH_INDEX | (FL_FORCE_RPORT if ctx.force_rport else 0)
        out = f"P-MsgFlags: {reverse_hex(flags)}\n"
        for el in app.elements if app is not None else ():
            if el.kind == "avp":
                value = el.avp.get(ctx) if el.avp is not None else None
                if value is not None:
                    out += f"{el.title}: {value}\n"
            else:
                raw = msg.get_all_raw(el.name)
                if raw:
                    out += f"{el.title}: {raw[0].partition(b':')[2].strip().decode('utf-8', 'replace')}\n"
            if len(out) >= APPEND_BUFFER_MAX:
                log.error("overflow -> append exceeded %d len", APPEND_BUFFER_MAX)
                return None
        return out + "."

    def _add_blind_uac(self, ctx: MessageContext) -> int:
        """add_blind_uac: a branch that sends nothing and times out after fr_timer unless the
        transaction is answered first (`tm.reply`)."""
        cell = self.cell_of(ctx)
        if cell is None:
            log.error("no transaction context")
            return -1
        cell.noisy_ctimer = True  # "make sure it will be replied"
        self._blind_branch(cell)
        return 1

    def _blind_branch(self, cell: Cell) -> UacBranch:
        index = len(cell.branches)
        req = cell.request
        branch = tags.branch_id(self.core.rank, req.call_id or "", str(req.cseq.num) if req.cseq else "",
                                f"{cell.label}.blind.{index}", index)
        br = UacBranch(index, "", req.raw, (branch, cell.method), blind=True)
        cell.branches.append(br)
        tx, actions = ClientTransaction.new(br.data, reliable=True, now=self._now(), timers=cell.timers,
                                            key=br.key)
        br.leg = Leg(tx, NOWHERE, cell, "uac", index)
        self._add_leg(br.leg, [a for a in actions if not isinstance(a, Send)])  # type: ignore[attr-defined]
        return br


def _write_fifo(path: str, data: bytes) -> bool:
    """write_to_fifo: one unbuffered write to a FIFO someone reads, without waiting."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            log.error("cannot open fifo file - nobody listening for reading [%s] (%s)", path, exc.strerror)
        else:
            log.error("failed to open [%s] fifo: %s", path, exc.strerror)
        return False
    try:
        os.write(fd, data)
    except OSError as exc:
        log.error("writev failed: %s", exc.strerror)
        return False
    finally:
        os.close(fd)
    return True


def _write_unix(path: str, data: bytes, timeout: float) -> bool:
    """write_to_unixsock: one datagram, waiting at most unix_tx_timeout for room to send it."""
    if not path:
        return False
    if len(path) > 107:
        log.error("Socket name too long")
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(path)
        except OSError as exc:
            log.error("error in connect: %s", exc.strerror)
            return False
        sock.settimeout(timeout)
        try:
            sock.send(data)
        except OSError as exc:
            log.error("writev failed: %s", exc.strerror or exc)
            return False
    return True
