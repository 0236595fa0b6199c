"""The one exception type for hostile or malformed SIP input (h11's ProtocolError, for SIP)."""
from __future__ import annotations


class SIPProtocolError(Exception):
    """Malformed or hostile SIP input.

    `status` is the response code a server should send (400, 505, 513, ...) when `can_reply` is true,
    i.e. the input was a request whose start line and Via were readable enough to answer it
    (see `kampy.sip.message.error_response`). When `can_reply` is false the input is dropped. A
    module or the route engine finds parts unparsable in a message already parsed, so answerable:
    `can_reply` is true unless said otherwise.
    """

    def __init__(self, message: str, *, status: int = 400, can_reply: bool = True) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.can_reply = can_reply

    def __repr__(self) -> str:
        return f"SIPProtocolError({self.message!r}, status={self.status}, can_reply={self.can_reply})"
