"""tm's selects (Kamailio's modules/tm/select.c): `@tm` (1 when the message has a transaction, else
0), `@tm.method`, `@tm.uas.status`, `@tm.uas.request`, `@tm.uas.request.neg_ack_retransmission`,
`@tm.uas.local_to_tag`, `@tm.uas.response`, `@tm.uac.count`, `@tm.uac.relayed`,
`@tm.uac.last_status`, `@tm.uac.response_retransmission` and, per branch, `@tm.uac[n].status`,
`.uri`, `.response` and `.request` (`req`, `resp` too). As in Kamailio, the message's transaction
is the one it already has, else the one it belongs to (a retransmission, the ACK of a negative
reply, a reply to one of tm's branches); without one a select has no value."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kampy.api import SELECT_NULL, MessageContext, Request, Response

from .base import BRANCH, TmBase
from .cell import Cell, Leg

Getter = Callable[[MessageContext], "str | None"]


def _unknown(path: tuple[Any, ...], level: int) -> ValueError:
    part = path[level] if level < len(path) else ""
    return ValueError(f"Unable to resolve select '{part}' at level {level}")


def _name(path: tuple[Any, ...], level: int) -> str:
    part = path[level] if level < len(path) else None
    if not isinstance(part, str):
        raise _unknown(path, level)
    return part.lower()


def _end(path: tuple[Any, ...], level: int) -> None:
    if len(path) > level:
        raise _unknown(path, level)


def _text(data: bytes | None) -> str | None:
    return None if data is None else data.decode("utf-8", "replace")


class Selects(TmBase):
    """The select `tm` (Exports.selects)."""

    def select_tm(self, path: tuple[Any, ...]) -> Getter:
        if len(path) == 1:
            return lambda ctx: "1" if self._select_cell(ctx) is not None else "0"
        part = _name(path, 1)
        if part == "method":
            _end(path, 2)
            return self._with_cell(lambda ctx, cell: cell.method)
        if part == "uas":
            return self._select_uas(path)
        if part == "uac":
            return self._select_uac(path)
        raise _unknown(path, 1)

    def _select_uas(self, path: tuple[Any, ...]) -> Getter:
        part = _name(path, 2)
        if part in ("request", "req"):
            if len(path) == 3:
                return self._with_cell(self._uas_request)
            if _name(path, 3) != "neg_ack_retransmission":
                raise _unknown(path, 3)
            _end(path, 4)
            return self._with_cell(self._neg_ack_retransmission)
        _end(path, 3)
        if part == "status":
            return self._with_cell(lambda ctx, cell: str(cell.uas_status))
        if part == "local_to_tag":
            return self._with_cell(self._local_to_tag)
        if part in ("response", "resp"):
            return self._with_cell(lambda ctx, cell: _text(self._uas_last(cell)) or SELECT_NULL)
        raise _unknown(path, 2)

    def _select_uac(self, path: tuple[Any, ...]) -> Getter:
        if len(path) > 2 and isinstance(path[2], int):
            return self._select_branch(path, path[2])
        part = _name(path, 2)
        _end(path, 3)
        if part == "count":
            return self._with_cell(lambda ctx, cell: str(len(cell.branches)))
        if part == "relayed":
            return self._with_cell(lambda ctx, cell: str(cell.relayed_reply_branch))
        if part == "last_status":
            return lambda ctx: self._last_status(ctx, lambda status, last: str(last))
        if part == "response_retransmission":
            return lambda ctx: self._last_status(ctx, lambda status, last: "1" if status <= last else "-1")
        raise _unknown(path, 2)

    def _select_branch(self, path: tuple[Any, ...], index: int) -> Getter:
        part = _name(path, 3)
        _end(path, 4)
        if part == "status":
            return self._with_branch(index, lambda br: str(br.last_received))
        if part == "uri":
            return self._with_branch(index, lambda br: br.uri)
        if part in ("response", "resp"):
            return self._with_branch(index, lambda br: _text(br.reply.raw) if br.reply is not None else None)
        if part in ("request", "req"):
            return self._with_branch(index, lambda br: _text(br.data))
        raise _unknown(path, 3)

    # ------------------------------------------------------------ the transaction of the message

    def _select_cell(self, ctx: MessageContext) -> Cell | None:
        """t_check(): the transaction the message has, or the one it belongs to."""
        cell = self.cell_of(ctx)
        if cell is not None:
            return cell
        leg = self._select_leg(ctx)
        return leg.cell if leg is not None else None

    def _select_leg(self, ctx: MessageContext) -> Leg | None:
        msg = ctx.msg
        if isinstance(msg, Response):
            tx = self._match_reply(msg)  # type: ignore[attr-defined]
            return self._legs.get(tx) if tx is not None else None
        if isinstance(msg, Request):
            kind, cell = self._lookup(ctx)
            if kind == "retr" and cell is not None:
                return cell.uas
        return None

    def _with_cell(self, get: Callable[[MessageContext, Cell], str | None]) -> Getter:
        def select(ctx: MessageContext) -> str | None:
            cell = self._select_cell(ctx)
            return None if cell is None else get(ctx, cell)
        return select

    def _with_branch(self, index: int, get: Callable[[Any], str | None]) -> Getter:
        def select(ctx: MessageContext) -> str | None:
            cell = self._select_cell(ctx)
            if cell is None or not 0 <= index < len(cell.branches):
                return None
            return get(cell.branches[index])
        return select

    @staticmethod
    def _local_to_tag(ctx: MessageContext, cell: Cell) -> str:
        """The To-tag of tm's last own reply: "" when it had none, a null string before one."""
        return SELECT_NULL if cell.local_to_tag is None else cell.local_to_tag

    @staticmethod
    def _uas_request(ctx: MessageContext, cell: Cell) -> str | None:
        return _text(cell.request.raw) if cell.uas is not None else None

    @staticmethod
    def _uas_last(cell: Cell) -> bytes | None:
        return cell.uas.tx.last_response if cell.uas is not None else None  # type: ignore[union-attr]

    def _neg_ack_retransmission(self, ctx: MessageContext, cell: Cell) -> str:
        """An ACK of a negative reply whose retransmissions have stopped: an ACK came before (the
        server transaction is Confirmed)."""
        msg = ctx.msg
        confirmed = cell.uas is not None and cell.uas.tx.state.value == "Confirmed"
        ack = isinstance(msg, Request) and msg.method.upper() == "ACK"
        again = ack and cell.uas_status >= 300 and confirmed
        return "1" if again else "-1"

    def _last_status(self, ctx: MessageContext, show: Callable[[int, int], str]) -> str | None:
        """The status last received on the branch of the reply at hand (its Via branch names it)."""
        msg = ctx.msg
        if not isinstance(msg, Response):
            return None
        cell = self.cell_of(ctx)
        index = ctx.local.get(BRANCH)
        if cell is None or index is None:
            leg = self._select_leg(ctx)
            if leg is None or leg.role != "uac":
                return None
            cell, index = leg.cell, leg.branch
        if not 0 <= index < len(cell.branches):
            return None
        return show(msg.status, cell.branches[index].last_received)
