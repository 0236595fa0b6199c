"""Kamailio's usrloc callbacks (ul_callback.c): other modules (dmq_usrloc) told of each change."""
from __future__ import annotations

import logging
from collections.abc import Callable

from kampy.api import (UL_CONTACT_DELETE, UL_CONTACT_EXPIRE, UL_CONTACT_INSERT, UL_CONTACT_UPDATE, ULCB_MAX,
                       UlCallback)

from .ucontact import UContact

log = logging.getLogger("kampy.modules.usrloc")


class CallbacksMixin:
    """register_ulcb and running the callbacks; expiries go through the contact-expired hooks."""

    _ulcbs: list[tuple[int, UlCallback]]
    _expired_callbacks: list[Callable[[str, UContact], None]]

    def register_ulcb(self, types: int, callback: UlCallback) -> int:
        if types <= 0 or types > ULCB_MAX:
            log.error("usrloc: invalid callback types: mask=%d", types)
            return -1
        self._ulcbs.append((types, callback))
        if types & UL_CONTACT_EXPIRE:
            self._expired_callbacks.append(lambda domain, c: callback(UL_CONTACT_EXPIRE, domain, c))
        return 1

    def _run_ulcbs(self, kind: int, domain: str, contact: UContact) -> None:
        for types, callback in self._ulcbs:
            if types & kind:
                try:
                    callback(kind, domain, contact)
                except Exception:  # another module's failure must not undo the change
                    log.exception("usrloc: contact callback failed (aor %s)", contact.aor)

    def _inserted(self, domain: str, contact: UContact) -> None:
        self._run_ulcbs(UL_CONTACT_INSERT, domain, contact)

    def _updated(self, domain: str, contact: UContact) -> None:
        self._run_ulcbs(UL_CONTACT_UPDATE, domain, contact)

    def _deleted(self, domain: str, contact: UContact) -> None:
        self._run_ulcbs(UL_CONTACT_DELETE, domain, contact)
