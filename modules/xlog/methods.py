"""Kamailio's METHOD_* bits (src/core/parser/msg_parser.h), for xlog's `methods_filter`."""
from __future__ import annotations

METHOD_BITS = {
    "INVITE": 1, "CANCEL": 2, "ACK": 4, "BYE": 8, "INFO": 16, "REGISTER": 32, "SUBSCRIBE": 64,
    "NOTIFY": 128, "MESSAGE": 256, "OPTIONS": 512, "PRACK": 1024, "UPDATE": 2048, "REFER": 4096,
    "PUBLISH": 8192, "KDMQ": 16384, "GET": 32768, "POST": 65536, "PUT": 131072, "DELETE": 262144,
}
METHOD_OTHER = 524288


def method_bit(method: str) -> int:
    return METHOD_BITS.get(method.upper(), METHOD_OTHER)
