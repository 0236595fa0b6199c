"""The event packages presence serves (event_list.c): parsing an Event header value as Kamailio's
event_parser does, and finding the registered package it selects."""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass, field

from kampy.api import PUBL_TYPE, WINFO_TYPE, PresenceEvent

log = logging.getLogger("kampy.presence")

# Kamailio's known event types (core/parser/parse_event.h); another name is EVENT_OTHER
EVENT_OTHER, EVENT_PRESENCE, EVENT_PRESENCE_WINFO, EVENT_SIP_PROFILE, EVENT_XCAP_CHANGE = 0, 1, 2, 3, 4
EVENT_DIALOG, EVENT_MESSAGE_SUMMARY, EVENT_UA_PROFILE = 5, 6, 7
_TYPES = {
    "presence": EVENT_PRESENCE,
    "presence.winfo": EVENT_PRESENCE_WINFO,
    "xcap-change": EVENT_XCAP_CHANGE,
    "sip-profile": EVENT_SIP_PROFILE,
    "message-summary": EVENT_MESSAGE_SUMMARY,
    "dialog": EVENT_DIALOG,
    "ua-profile": EVENT_UA_PROFILE,
}
_TOKEN_END = re.compile(r"[ \r\n\t;]")


@dataclass(frozen=True)
class ParsedEvent:
    """An Event header value: its name, Kamailio's type for it, its parameters (name, value or None)."""

    name: str
    type: int
    params: tuple[tuple[str, str | None], ...] = ()

    def param(self, name: str) -> str | None:
        return next((v for n, v in self.params if n == name), None)

    def has_param(self, name: str) -> bool:
        return any(n.lower() == name for n, _ in self.params)

    @property
    def is_dialog_sla(self) -> bool:
        """EVENT_DIALOG_SLA: `dialog` with an `sla` or `ma` parameter."""
        return self.type == EVENT_DIALOG and (self.has_param("sla") or self.has_param("ma"))


def parse_event(text: str) -> ParsedEvent:
    """event_parser(): the name up to a space or `;`, then `;name[=value]` parameters (a value
    quoted or a token); ValueError for an empty value or broken parameters."""
    text = text.lstrip(" \t\r\n")
    if not text:
        raise ValueError("empty Event value")
    m = _TOKEN_END.search(text)
    name = text[: m.start()] if m else text
    rest = text[len(name) :].lstrip(" \t\r\n")
    params: list[tuple[str, str | None]] = []
    if rest.startswith(";"):
        params = _parse_params(rest[1:].lstrip(" \t\r\n"))
    return ParsedEvent(name, _TYPES.get(name.lower(), EVENT_OTHER), tuple(params))


def _parse_params(text: str) -> list[tuple[str, str | None]]:
    params: list[tuple[str, str | None]] = []
    while text:
        m = re.match(r"([^=;\s]+)\s*", text)
        if m is None:
            raise ValueError("bad Event parameter")
        name, text = m.group(1), text[m.end() :]
        value: str | None = None
        if text.startswith("="):
            text = text[1:].lstrip(" \t")
            if text[:1] in ('"', "'"):
                end = text.find(text[0], 1)
                if end < 0:
                    raise ValueError("unterminated quoted Event parameter")
                value, text = text[1:end], text[end + 1 :]
            else:
                m = re.match(r"[^;\s]*", text)
                value, text = m.group(0), text[m.end() :]
        params.append((name, value))
        text = text.lstrip(" \t\r\n")
        if text.startswith(";"):
            text = text[1:].lstrip(" \t\r\n")
        elif text:
            raise ValueError("bad Event parameters")
    return params


@dataclass(eq=False)
class Package:
    """A registered package: the event module's declaration, the parsed name, the watcher-info
    peer (`presence` <-> `presence.winfo`)."""

    event: PresenceEvent
    parsed: ParsedEvent
    wipeer: Package | None = None

    @property
    def name(self) -> str:
        return self.event.name

    @property
    def type(self) -> int:
        return self.event.type


@dataclass
class EventList:
    """pres_evlist: the packages, newest first (as Kamailio links them)."""

    packages: list[Package] = field(default_factory=list)

    def add(self, event: PresenceEvent) -> int:
        """add_event(): -1 for a package without a name or content type; an already registered one
        is kept as it is."""
        if not event.name or not event.content_type:
            log.error("NULL event name or content_type param")
            return -1
        try:
            parsed = parse_event(event.name)
        except ValueError:
            log.error("parsing event")
            return -1
        if self.search(parsed) is not None:
            log.debug("Event already registered")
            return 0
        if event.req_auth and (event.get_auth_status is None or event.get_rules_doc is None):
            log.error("bad event structure")
            return -1
        base, dot, suffix = parsed.name.partition(".")
        kind = WINFO_TYPE if dot and suffix.startswith("winfo") else PUBL_TYPE
        package = Package(dataclasses.replace(event, type=kind), parsed)
        peer_name = base if kind == WINFO_TYPE else f"{parsed.name}.winfo"
        package.wipeer = self.contains(peer_name)
        if package.wipeer is not None:
            package.wipeer.wipeer = package
        self.packages.insert(0, package)
        return 0

    def search(self, wanted: ParsedEvent) -> Package | None:
        """search_event(): the same type (a known one) or name, and the same parameters both ways."""
        for package in self.packages:
            have = package.parsed
            if not (
                (have.type == wanted.type and wanted.type != EVENT_OTHER)
                or have.name.lower() == wanted.name.lower()
            ):
                continue
            if _params_within(wanted.params, have.params) and _params_within(have.params, wanted.params):
                return package
        return None

    def contains(self, name: str) -> Package | None:
        """contains_event(): the package an Event value selects, None (logged) when it is bad."""
        try:
            return self.search(parse_event(name))
        except ValueError:
            log.error("parsing event")
            return None

    def package_of(self, event: PresenceEvent | None) -> Package:
        """The package an event given to a callback belongs to."""
        for package in self.packages:
            if package.event is event:
                return package
        raise LookupError(f"event {getattr(event, 'name', event)!r} is not registered")

    def names(self) -> list[str]:
        return [p.name for p in self.packages]

    def allow_events(self) -> str:
        """The Allow-Events header line of a 489 (send_error_reply)."""
        return "Allow-Events: " + ", ".join(self.names()) + "\r\n"


def _params_within(
    params: tuple[tuple[str, str | None], ...], others: tuple[tuple[str, str | None], ...]
) -> bool:
    return all(any(n == on and v == ov for on, ov in others) for n, v in params)
