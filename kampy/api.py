"""The public API for modules: the only kampy module a package under `modules/` may import.

Everything a module needs is here: the declaration types, the message context and what a route
sends, SIP parsing and building, pseudo-variable specs, and the errors it may raise.
"""
from kampy.config.ast import PVar, Transform
from kampy.config.pvparse import Literal, PVSyntaxError, parse_format, parse_pv
from kampy.db import DBURL, MYSQL, SQLITE, Database, DBError, Dialect
from kampy.db import Reason as DBReason
from kampy.db import Result as DBResult
from kampy.db import TABLES as DB_TABLES
from kampy.db import check_table_version
from kampy.db import connect as db_connect
from kampy.db import register_driver as register_db_driver
from kampy.module import (
    Arg,
    ArgKind,
    Exports,
    Function,
    Module,
    Param,
    PVAccessor,
    PVClass,
    RouteType,
    RpcMethod,
    Stat,
    Timer,
    TransformClass,
)
from kampy.runtime.context import (
    Branch,
    MessageContext,
    Outgoing,
    ScriptDrop,
    ScriptExit,
    Socket,
    Source,
)
from kampy.runtime.core import Clock, Core, received_params, reply_destination
from kampy.sip import (
    URI,
    ContactList,
    ContentType,
    CSeq,
    Message,
    NameAddr,
    Params,
    Request,
    Response,
    SIPProtocolError,
    StreamParser,
    Via,
    build_response,
    error_response,
    parse_message,
)
from kampy.sip.uri import parse_name_addr, parse_uri

__all__ = [
    "PVar", "Transform", "Literal", "PVSyntaxError", "parse_format", "parse_pv",
    "Arg", "ArgKind", "Exports", "Function", "Module", "Param", "PVAccessor", "PVClass", "RouteType",
    "RpcMethod", "Stat", "Timer", "TransformClass",
    "Branch", "MessageContext", "Outgoing", "ScriptDrop", "ScriptExit", "Socket", "Source",
    "Clock", "Core", "received_params", "reply_destination",
    "URI", "ContactList", "ContentType", "CSeq", "Message", "NameAddr", "Params", "Request", "Response",
    "SIPProtocolError", "StreamParser", "Via", "build_response", "error_response", "parse_message",
    "parse_name_addr", "parse_uri",
    "DBURL", "MYSQL", "SQLITE", "Database", "DBError", "Dialect", "DBReason", "DBResult", "DB_TABLES",
    "check_table_version", "db_connect", "register_db_driver",
]
