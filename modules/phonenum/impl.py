"""The phonenum module: libphonenumber's parsing through the `phonenumbers` package, with the
results Kamailio's cphonenumber.cpp gives."""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType

from kampy.api import L_DBG, CoreAPI, MessageContext, Module, PVar, log_at, module_logger

log = module_logger("phonenum")
MAX_NUMBER = 255
LINE_TYPES = {
    PhoneNumberType.FIXED_LINE: "fixed-line", PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed-line-or-mobile", PhoneNumberType.TOLL_FREE: "toll-free",
    PhoneNumberType.PREMIUM_RATE: "premium-rate", PhoneNumberType.SHARED_COST: "shared-cost",
    PhoneNumberType.VOIP: "voip", PhoneNumberType.PERSONAL_NUMBER: "personal-number",
    PhoneNumberType.PAGER: "pager", PhoneNumberType.UAN: "uan", PhoneNumberType.VOICEMAIL: "voicemail",
}
KEYS = ("number", "valid", "normalized", "cctel", "ccname", "ltype", "ndesc", "error")
_NAME = re.compile(r"\s*([^=\s]+)\s*=>(.*)", re.S)


def _geocoder() -> ModuleType:
    """phonenumbers' geocoder. Its data takes about 0.4 s and 100 MB to load: the server loads it
    once its listeners are bound (a script that starts it and sends one second later finds it
    listening) and before its workers fork (they share it); the pytest plugin at the first match."""
    from phonenumbers import geocoder

    return geocoder


def preload(params: dict[str, Any]) -> None:
    try:
        _geocoder()
    except ImportError as exc:  # after chroot (-t) the package's files may be out of reach
        log.error("cannot load libphonenumber's geocoder data: %s", exc)


@dataclass
class Record:
    """Kamailio's telnum_t."""

    number: str
    valid: int = 0
    normalized: str | None = None
    cctel: int = 0
    ccname: str | None = None
    ltype: str | None = None
    ndesc: str | None = None
    error: str | None = None


def parse_number(number: str, region: str) -> Record:
    rec = Record(number)
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        rec.error = "Parsing number failed"
        return rec
    if not phonenumbers.is_valid_number(parsed):
        rec.error = "Invalid number"
        return rec
    rec.valid = 1
    rec.normalized = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    rec.ndesc = _geocoder().description_for_number(parsed, "en")
    rec.ltype = LINE_TYPES.get(phonenumbers.number_type(parsed), "unknown")
    region_code = phonenumbers.region_code_for_number(parsed) or "ZZ"
    rec.cctel = phonenumbers.country_code_for_region(region_code)
    rec.ccname = region_code
    return rec


class _Reader:
    def __init__(self, module: PhonenumModule, container: str, key: str) -> None:
        self.module, self.container, self.key = module, container, key

    def get(self, ctx: MessageContext) -> str | int | None:
        rec = self.module.records.get(self.container)
        if rec is None:
            return None
        return getattr(rec, self.key)


class PhonenumModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        resid = params["resid"]
        names = resid if isinstance(resid, list | tuple) else ([resid] if resid else [])
        self.containers: set[str] = {str(n) for n in names if n}
        self.records: dict[str, Record | None] = {}  # per process, as Kamailio's pkg containers

    def pv_phn(self, spec: PVar) -> _Reader:
        m = _NAME.fullmatch(spec.arg or "")
        if m is None or m.group(2) not in KEYS:
            raise ValueError(f"error at PV phonenum name: {spec.arg}")
        self.containers.add(m.group(1))
        return _Reader(self, m.group(1), m.group(2))

    def _match(self, number: str, region: str | None, container: str) -> int:
        if len(number) > MAX_NUMBER:
            return -3
        if container not in self.containers:
            return -4
        rec = parse_number(number, region or "ZZ")
        self.records[container] = rec
        log_at(log, L_DBG, "phonenum PV updated for: %s (%d/%s/%s)", number, rec.valid,
               rec.normalized or "none", rec.error or "none")
        return 1

    def phonenum_match(self, ctx: MessageContext, num: str, pvc: str) -> int:
        return self._match(num, None, pvc)

    def phonenum_match_cn(self, ctx: MessageContext, num: str, cnc: str, pvc: str) -> int:
        return self._match(num, cnc or None, pvc)
