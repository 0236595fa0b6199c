"""What presence offers other modules (bind_presence.c): kampy.api.PresenceAPI over the module."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kampy.api import MessageContext, PresenceEvent

if TYPE_CHECKING:
    from .presence import PresenceModule


class PresenceApi:
    """What presence offers other modules (kampy.api.PresenceAPI, Kamailio's bind_presence)."""

    def __init__(self, module: PresenceModule) -> None:
        self._m = module

    def add_event(self, event: PresenceEvent) -> int:
        return self._m.events.add(event)

    def contains_event(self, name: str) -> PresenceEvent | None:
        return self._m.resolve_event(name)

    def get_event_list(self) -> list[str]:
        return self._m.events.names()

    def update_watchers_status(self, pres_uri: str, event: PresenceEvent, rules_doc: bytes | None) -> int:
        return self._m.update_watchers_status(pres_uri, event, rules_doc)

    def get_presentity(
        self, pres_uri: str, event: PresenceEvent, etag: str | None = None, contact: str | None = None
    ) -> bytes | None:
        return self._m.get_p_notify_body(pres_uri, event, etag, contact)

    def get_sphere(self, pres_uri: str) -> str | None:
        return self._m.get_sphere(pres_uri)

    def pres_auth_status(self, ctx: MessageContext | None, watcher_uri: str, presentity_uri: str) -> int:
        return self._m.pres_auth_status(ctx, watcher_uri, presentity_uri)

    def handle_publish(self, ctx: MessageContext, sender_uri: str | None = None) -> int:
        return self._m.handle_publish(ctx, sender_uri)

    def handle_subscribe(self, ctx: MessageContext, watcher_uri: str | None = None) -> int:
        return self._m.handle_subscribe(ctx, watcher_uri)

    def update_presentity(
        self,
        event: str,
        realm: str,
        user: str,
        etag: str,
        sender: str | None,
        body: bytes | None,
        expires: int,
        new_t: int,
        replace: int,
    ) -> int:
        return self._m.update_presentity_api(event, realm, user, etag, sender, body, expires, new_t, replace)

    def pres_refresh_watchers(self, pres_uri: str, event: str, refresh_type: int) -> int:
        return self._m.refresh_watchers(pres_uri, event, refresh_type)
