"""acc's CDRs (Kamailio's acc_cdr.c): a record per dialog, from the dialog module's events. The
start, end and duration are kept as dialog variables (`cdr_start_id`, `cdr_end_id`,
`cdr_duration_id`, `<sec>.<msec>`); the record is written when the BYE is answered (or the dialog
fails, with `cdr_on_failed`, or expires, with `cdr_expired_dlg_enable`): a log line and/or a row of
`cdrs_table`."""
from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from kampy.api import (
    DLGCB_CONFIRMED,
    DLGCB_CREATED,
    DLGCB_EXPIRED,
    DLGCB_FAILED,
    DLGCB_TERMINATED,
    DLGCB_TERMINATED_CONFIRMED,
    DBError,
    DialogAPI,
    DialogInfo,
    DlgCbParams,
    MessageContext,
    log_at,
)

from . import records

if TYPE_CHECKING:
    from .acc import AccModule

log = logging.getLogger("kampy.acc")


def time_text(now: float) -> str:
    """time2string: `<sec>.<msec>`."""
    sec = int(now)
    return f"{sec}.{int((now - sec) * 1000) % 1000:03d}"


def parse_time(text: str | None) -> float | None:
    """string2time: `<sec>.<msec>` (exactly one dot), else None."""
    if not text or text.count(".") != 1 or text.endswith("."):
        return None
    sec, _, msec = text.partition(".")
    try:
        return int(sec) + int(msec) / 1000
    except ValueError:
        return None


def duration_text(start: float, end: float) -> str:
    """timersub then time2string, in whole milliseconds."""
    ms = round(end * 1000) - round(start * 1000)
    return f"{ms // 1000}.{ms % 1000:03d}"


class Cdrs:
    """The CDR part of one acc module instance."""

    def __init__(self, acc: AccModule, p: dict[str, Any], dialog: DialogAPI | None, facility: int) -> None:
        self.acc = acc
        if dialog is None:
            raise ValueError("can't load dialog API (failed to init cdr generation)")
        self.dialog = dialog
        self.start_id: str = p["cdr_start_id"]
        self.end_id: str = p["cdr_end_id"]
        self.duration_id: str = p["cdr_duration_id"]
        self.skip: str | None = p["cdr_skip"] or None
        self.log_enable = bool(p["cdr_log_enable"])
        self.start_on_confirmed = bool(p["cdr_start_on_confirmed"])
        self.on_failed = p["cdr_on_failed"] == 1
        self.expired_enable = bool(p["cdr_expired_dlg_enable"])
        self.extra_nullable = p["cdr_extra_nullable"] == 1
        self.facility = facility
        self.table: str = p["cdrs_table"] or ""
        limit: int = p["cdr_extra_size"]
        self.extra = acc.bind_extras(records.parse_extras(p["cdr_extra"], limit) if p["cdr_extra"] else [])
        types = DLGCB_CREATED | DLGCB_CONFIRMED | DLGCB_TERMINATED | DLGCB_TERMINATED_CONFIRMED
        types |= DLGCB_EXPIRED
        if self.on_failed:
            types |= DLGCB_FAILED
        if dialog.register_dlgcb(types, self.on_event) != 0:
            raise ValueError("can't register create callback")

    # ------------------------------------------------------------ the dialog's events
    def on_event(self, dlg: DialogInfo, kind: int, params: DlgCbParams) -> None:
        if kind == DLGCB_CREATED:
            self.set_start_time(dlg)
        elif kind == DLGCB_CONFIRMED:
            if self.start_on_confirmed:
                self.set_start_time(dlg)
        elif kind == DLGCB_FAILED:
            if params.rpl is None and params.req is None:
                log.error("request and response are invalid!")
                return
            self.write(dlg, params.ctx)
        elif kind == DLGCB_TERMINATED:
            self.set_end(dlg)
        elif kind == DLGCB_TERMINATED_CONFIRMED:
            self.write(dlg, params.ctx)
        elif kind == DLGCB_EXPIRED:
            if params.dlg_data:
                self.set_end(dlg)
            if self.expired_enable:
                self.write(dlg, None)

    def set_start_time(self, dlg: DialogInfo) -> None:
        now = time_text(self.acc.core.clock.time())
        for name, value in ((self.start_id, now), (self.end_id, now), (self.duration_id, "0")):
            if self.dialog.set_dlg_var(dlg, name, value) != 0:
                log.error("failed to set start time")
                return

    def set_end(self, dlg: DialogInfo) -> None:
        """set_end_time, then set_duration."""
        end = self.acc.core.clock.time()
        if self.dialog.set_dlg_var(dlg, self.end_id, time_text(end)) != 0:
            log.error("failed to set end time!")
            return
        start = parse_time(self.dialog.get_dlg_var(dlg, self.start_id))
        stop = parse_time(self.dialog.get_dlg_var(dlg, self.end_id))
        if start is None or stop is None:
            log.error("failed to extract start time")
            return
        self.dialog.set_dlg_var(dlg, self.duration_id, duration_text(start, stop))

    # ------------------------------------------------------------ writing
    def write(self, dlg: DialogInfo, ctx: MessageContext | None) -> int:
        """write_cdr: a log line and a row, unless the cdr_skip dialog variable is set."""
        if not self.expired_enable and ctx is None:
            log.error("message is empty!")
            return -1
        if self.skip and self.dialog.get_dlg_var(dlg, self.skip) is not None:
            log.debug("cdr_skip dlg_var set, skip cdr!")
            return 0
        core = [self.dialog.get_dlg_var(dlg, name) for name in (self.start_id, self.end_id, self.duration_id)]
        extras = self._extras(dlg, ctx)
        names = [self.start_id, self.end_id, self.duration_id, *(e.name for e in self.extra)]
        ret = 0
        if self.log_enable:
            text = "; ".join(f"{n}={v or ''}" for n, v in zip(names, core + extras, strict=True))
            log_at(log, self.acc.log_level, "%s", text, facility=self.facility)
        if self.table and self.acc.db is not None:
            ret |= self._row(names, core, extras)
        return ret

    def _extras(self, dlg: DialogInfo, ctx: MessageContext | None) -> list[str | None]:
        if ctx is not None:
            return records.extra_values(self.extra, ctx)
        if self.expired_enable:  # extra2strar_dlg_only: the dialog variable of each extra's name
            log.warning("fallback to dlg_only search because of message doesn't exist.")
            return [self.dialog.get_dlg_var(dlg, dlg_var_name(e.spec)) for e in self.extra]
        return []

    def _row(self, names: list[str], core: list[str | None], extras: list[str | None]) -> int:
        values: list[Any] = []
        for i, text in enumerate(core):
            if text is None:
                values.append(None)
            elif i < 2:
                when = parse_time(text)
                if when is None:
                    log.error("failed to convert string to timeval.")
                    return -1
                values.append(self._db_time(when))
            else:
                try:
                    values.append(float(text))
                except ValueError:
                    values.append(0.0)
        values += [v if v is not None or self.extra_nullable else "" for v in extras]
        try:
            self.acc.insert(self.table, dict(zip(names[:len(values)], values, strict=True)))
        except DBError as exc:
            log.error("failed to insert into database: %s", exc)
            return -1
        return 0

    def _db_time(self, when: float) -> Any:
        if self.acc.time_mode == 4:  # acc_time_mode 4: a UTC string
            return dt.datetime.fromtimestamp(int(when), dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        return records.db_time(when)


def dlg_var_name(spec: str) -> str:
    """The name of a `$dlg_var(name)` extra (Kamailio reads the PV's name for any PV)."""
    inner = spec[spec.find("(") + 1:spec.rfind(")")] if "(" in spec else ""
    return inner
