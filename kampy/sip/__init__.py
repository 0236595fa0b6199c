"""Sans-IO SIP: parse and build messages and URIs, frame TCP streams. No sockets, no clocks."""
from kampy.sip.errors import SIPProtocolError
from kampy.sip.message import (
    Message,
    Request,
    Response,
    build_response,
    error_response,
    parse_message,
)
from kampy.sip.stream import StreamParser
from kampy.sip.uri import URI, ContactList, ContentType, CSeq, NameAddr, Params, Via

__all__ = [
    "SIPProtocolError", "Message", "Request", "Response", "build_response", "error_response", "parse_message",
    "StreamParser", "URI", "ContactList", "ContentType", "CSeq", "NameAddr", "Params", "Via",
]
