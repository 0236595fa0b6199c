"""The public API for modules: the only kampy module a package under `modules/` may import.

A kampy module (built-in, on `loadpath`/`mpath`, or installed with an entry point in the
`kampy.modules` group) imports what it needs from here and nothing else from kampy; a test enforces
it for the built-in modules (tests/test_module_imports.py). See docs/writing-modules.md.

What is here, by use:

* Declaring a module: `Exports`, `Param`, `Function`, `Arg` (with its `fixup`), `ArgKind`,
  `RouteType`, `Stat`, `RpcMethod`, `RpcFault`, `RpcDelayed`, `Timer`, `Process`, `PVClass`, `PVAccessor`,
  `TransformClass`, `EventRoute`, `CfgGroup`/`CfgVar` (variables of the cfg framework), `Select`
  (a select the module adds), `Unimplemented` (what the module leaves out, with the reason),
  `Offer` and `Need` (the APIs it offers other modules and those it uses), and the `Module` base
  class (its docstring has the life cycle and the handler conventions).
* The core: `CoreAPI`, the one surface of the core a module may use, which it gets as `self.core`:
  the clock (`Clock`), statistics (`Stats`), the shared store (`SharedStore`, its tables
  `ShmTable`, `TableFull`, its lock sets `LockSet`, its per-slot locks `SlotLocks`,
  and `SharedSnapshot`: a value loaded once and reloaded for every worker; `DstBlocklist`, the
  destination blocklist every worker shares, with its reasons `BLST_503` ...), sending
  (`core.send`, `core.send_reply`) and one-shot timers (`core.call_at`, `core.cancel_timer`),
  sockets and `core.is_myself`,
  pseudo-variables and formats (`core.pv_accessor`, `core.formatter`), running routes and event
  routes (`core.run_route`, `core.run_event_route`, `core.faked_context`), local services and
  HTTP (`core.add_service`, `core.serve_http`), TLS (`core.serve_tls` with a `TlsEngine`,
  `core.tls_connection`), the RPC registry (`RpcRegistry`), and
  `core.api(name)` for the APIs of other modules.
* Other modules' APIs (declared with `Offer`/`Need`, checked at load): `SlAPI` (sl: stateless
  replies), `TmAPI` (tm: new requests with `ReplyCallback`, its part `TmUacAPI`, requests in a
  `UacDialog`; transaction callbacks `TmCallback` with `TmcbParams` for the `TMCB_*` events; the
  transaction at hand as a `TmTransaction` with its `TmBranch`es), `RrAPI` (rr: record-routing),
  `ObAPI` (outbound: flow tokens, each a `FlowToken`),
  `UsrlocAPI` (usrloc: the location table), `XhttpAPI` (xhttp: answering HTTP requests),
  `SanityAPI` (sanity: the default checks of a request), `PvAPI`
  (pv: the AVP aliases), `PresenceAPI` (presence: event packages as `PresenceEvent`, subscriptions
  as `Subscription`, the states `ACTIVE_STATUS` ... and categories `WINFO_TYPE`/`PUBL_TYPE`), `AuthAPI` (auth:
  nonces, challenges and digest checks, with its codes `AuthResult`, `AuthCode` and the header types
  `HDR_AUTHORIZATION`/`HDR_PROXYAUTH`), `DialogAPI` (dialog: dialogs as `DialogInfo`, callbacks
  `DlgCallback` with `DlgCbParams` for the `DLGCB_*` events, the states `DLG_STATE_*`).
* Digest credentials as Kamailio's core parses them: `parse_digest_credentials` ->
  `DigestCredentials` (`DigestSyntaxError`; `QOP_*`, `ALG_*`).
* XML as Kamailio's modules handle it through libxml2: `libxml` (parse, dump byte for byte as
  libxml2 does, copy nodes, look nodes up as presence_xml does).
* RPC replies and control sockets: `Member` and `RpcStruct` (reply values with Kamailio's
  structure), `LocalService` and `Peer` (a control socket the network layer serves), `binrpc`
  (Kamailio's binrpc codec, as ctl speaks it), `JsonRpc`, `dumps_response`, `version_string`
  (`core.runtime_dir` is where control sockets go by default).
* The message at hand: `MessageContext` (`ctx.msg`, `ctx.ruri`, `ctx.dst_uri`, `ctx.flags`,
  `ctx.avps`, `ctx.branches`, `ctx.reply_lumps`, `ctx.reply_body`, `ctx.local` ...), `Branch`,
  `Credentials` (`ctx.authorized_credentials`, `ctx.authorized()`), `xavp_clone_level` and
  `xavp_insert` (an XAVP item copied and placed in `ctx.xavps` as Kamailio's core does),
  `Source`, `Socket`; SIP parsing and building: `Message`, `Request`, `Response`, `URI`, `NameAddr`,
  `Via`, `CSeq`, `ContactList`, `ContentType`, `Params`, `parse_message`, `parse_uri`,
  `parse_name_addr`, `build_response`, `SIPProtocolError`; `ScriptExit`/`ScriptDrop`,
  `Outgoing` (its `send_flags` `SND_F_FORCE_CON_REUSE`/`SND_F_CON_CLOSE`: on an open TCP
  connection only, then close it);
  SDP as Kamailio's core parser sees it (`message_sdp`, `sdp_span`, `parse_sdp`, `Sdp`, `SdpSession`,
  `SdpStream`, `SdpAddress`, `SdpError`, `replace_spans`); `check_via_address` (the Via host is the
  source); `msg.msg_flags` with Kamailio's bits `FL_FORCE_ACTIVE`, `FL_SDP_BODY`,
  `FL_BODY_MULTIPART`; multipart bodies as the core treats them (`boundary_of`, `check_boundaries`).
* For modules that answer requests (sl, tm): `build_reply` (Kamailio's layout of a local reply),
  `warning_line` (its Warning line when the core's `sip_warning` is set),
  `error_text` (Kamailio's reason phrase of a status code),
  `local_to_tag`/`tag_prefix`/`crc_suffix` (local To-tags), `hash2_raw` (Kamailio's hash of
  Call-ID and CSeq, in Via branches), `header_lines`, `as_bytes`, `to_tag_of` (a To-tag read leniently),
  `received_params`, `reply_destination`, `error_response`, `reply_via_line`, the RFC 3261
  transaction machines (`ServerTransaction`, `ClientTransaction`, `TransactionTable`
  (with `Matching`), `TimerConfig`, their actions `Send`/`StartTimer`/`CancelTimer`/`Deliver`/
  `Timeout`/`TransportFailed`/`Terminated`, `build_cancel`, `build_ack`, `server_key`), forwarding
  (`build_forwarded`, `build_sent` (the same, switched off UDP past udp_mtu), `destination`,
  `forward_request`, `grep_socket`, `choose_socket` (the
  socket to send from: forced, else with `mhomed` the one the system routes from, else the one the
  message came in on); `SendSocketValue` for a
  header whose text depends on the sending socket, `socket_address` for what it writes of it)
  and `Handoff` (give a message to its owner).
* Pseudo-variables, AVPs and flags: `pv_get`, `pv_set` (one-off), `compile_posix` (a POSIX
  extended regular expression, as regcomp() reads it), Kamailio's substitutions (`parse_subst`
  for `/re/replacement/flags`, `parse_replacement` for a replacement alone: `SubstExpr`,
  `Replacement`, `SubstError`), `parse_pv`, `parse_format`,
  `parse_pv_at`, `PVar`, `Transform`, `Literal`, `PVSyntaxError`; `avp_get`, `avp_values`,
  `avp_add`, `avp_del`, `avp_key` (the key of `ctx.avps` an AVP name is kept under),
  `avp_param_name` (the AVP a module parameter names);
  `setflag`, `resetflag`, `isflagset`, `setbflag`, `resetbflag`, `isbflagset`.
* The DB API: `db_connect(url)` -> `Database` (query/insert/update/delete by column), `DBURL`,
  `DBError`, `DBResult`, `DBReason`, `DB_TABLES`, `check_table_version`, `register_db_driver`,
  the dialects `MYSQL`/`SQLITE`.
* RPC: `JsonRpc`, `LocalService`, `dumps_response`, `version_string` (the jsonrpcs transports);
  `SERVER_HEADER`, the server's name and version as default Server:/User-Agent: headers carry them.
* Memory reports (kex's pkg.stats, the `shmem:` statistics): `store_memory(core.shared)` ->
  `MemoryStatus`, `process_memory(pid)` -> `ProcessMemory` (with `core.processes()` and
  `core.module_memory(name)`).
* Logging with the config's levels: `module_logger(name)`, `log_at(logger, L_INFO, ...)`, the
  levels `L_ALERT` ... `L_DBG`, `python_level`; per-module levels and syslog facilities
  (`set_module_level`, `set_module_facility`: the debugger's mod_level and mod_facility). A record
  logged with `extra={"kamailio_prefix": ..., "kamailio_level": ..., "kamailio_facility": ...}` is
  written as Kamailio's LOG_FL writes its lines: that level name and prefix, no module and source.
  Colours: `term_color`, `set_level_color`, `level_color`, and `log_stderr()` (whether the log
  goes to stderr).
"""
from kampy.config.ast import PVar, Transform
from kampy.config.pvparse import Literal, PVSyntaxError, avp_param_name, parse_format, parse_pv, parse_pv_at
from kampy.db import DBURL, MYSQL, SQLITE, Database, DBError, Dialect
from kampy.db import Reason as DBReason
from kampy.db import Result as DBResult
from kampy.db import TABLES as DB_TABLES
from kampy.db import check_table_version
from kampy.db import connect as db_connect
from kampy.db import register_driver as register_db_driver
from kampy.apis import (
    HDR_AUTHORIZATION,
    HDR_PROXYAUTH,
    AuthAPI,
    AuthCode,
    AuthDbAPI,
    DomainAPI,
    AuthResult,
    DLG_STATE_UNCONFIRMED,
    DLG_STATE_EARLY,
    DLG_STATE_CONFIRMED_NA,
    DLG_STATE_CONFIRMED,
    DLG_STATE_DELETED,
    DLG_DIR_NONE,
    DLG_DIR_DOWNSTREAM,
    DLG_DIR_UPSTREAM,
    DLGCB_LOADED,
    DLGCB_CREATED,
    DLGCB_FAILED,
    DLGCB_CONFIRMED_NA,
    DLGCB_CONFIRMED,
    DLGCB_REQ_WITHIN,
    DLGCB_TERMINATED,
    DLGCB_EXPIRED,
    DLGCB_EARLY,
    DLGCB_RESPONSE_FWDED,
    DLGCB_RESPONSE_WITHIN,
    DLGCB_RPC_CONTEXT,
    DLGCB_DESTROY,
    DLGCB_SPIRALED,
    DLGCB_TERMINATED_CONFIRMED,
    DialogAPI,
    DialogInfo,
    DlgCbParams,
    DlgCallback,
    ACTIVE_STATUS,
    PENDING_STATUS,
    POLITE_BLOCK_STATUS,
    PUBL_TYPE,
    TERMINATED_STATUS,
    TMCB_ACK_NEG_IN,
    TMCB_DESTROY,
    TMCB_DLG,
    TMCB_DONT_ACK,
    TMCB_E2EACK_IN,
    TMCB_E2EACK_RETR_IN,
    TMCB_E2ECANCEL_IN,
    TMCB_LOCAL_COMPLETED,
    TMCB_LOCAL_F,
    TMCB_LOCAL_REQUEST_IN,
    TMCB_LOCAL_RESPONSE_IN,
    TMCB_LOCAL_RESPONSE_OUT,
    TMCB_MAX,
    TMCB_NONE_F,
    TMCB_ON_BRANCH_FAILURE,
    TMCB_ON_BRANCH_FAILURE_RO,
    TMCB_ON_FAILURE,
    TMCB_ON_FAILURE_RO,
    TMCB_REQUEST_FWDED,
    TMCB_REQUEST_IN,
    TMCB_REQUEST_OUT,
    TMCB_REQUEST_PENDING,
    TMCB_REQUEST_SENT,
    TMCB_REQ_RETR_IN,
    TMCB_RESPONSE_FWDED,
    TMCB_RESPONSE_IN,
    TMCB_RESPONSE_OUT,
    TMCB_RESPONSE_READY,
    TMCB_RESPONSE_SENT,
    TMCB_RETR_F,
    TYPE_LOCAL_ACK,
    TYPE_LOCAL_CANCEL,
    TYPE_REQUEST,
    WAITING_STATUS,
    WINFO_TYPE,
    CfgAPI,
    CoreAPI,
    PresenceAPI,
    PresenceEvent,
    PvAPI,
    PingContact,
    ReplyCallback,
    RrAPI,
    ObAPI,
    FlowToken,
    SlAPI,
    Subscription,
    TmAPI,
    TmBranch,
    TmCallback,
    TmTransaction,
    TmUacAPI,
    TmcbParams,
    TlsEngine,
    UacDialog,
    UsrlocAPI,
    XhttpAPI,
    DMQ_NODE_ACTIVE,
    DMQ_NODE_DISABLED,
    DMQ_NODE_PENDING,
    DMQ_NODE_TIMEOUT,
    DmqAPI,
    DmqNode,
    DmqReply,
    DmqPeerCallback,
    DmqInitCallback,
    DmqRespCallback,
    UL_CONTACT_DELETE,
    UL_CONTACT_EXPIRE,
    UL_CONTACT_INSERT,
    UL_CONTACT_UPDATE,
    ULCB_MAX,
    UlCallback,
    SanityAPI,
)
from kampy.module import (
    Arg,
    ArgKind,
    CfgGroup,
    CfgVar,
    EventRoute,
    Exports,
    Function,
    Module,
    Need,
    Offer,
    Param,
    Process,
    PVAccessor,
    PVClass,
    REGEX_FLAGS,
    RouteType,
    RpcDelayed,
    RpcFault,
    RpcMethod,
    Select,
    Stat,
    Timer,
    TransformClass,
    Unimplemented,
)
from kampy.runtime.actionhooks import Action
from kampy.runtime.context import (
    FL_ADD_SRVID,
    FL_ADD_XAVP_VIA_PARAMS,
    FL_UAC_AUTH,
    FL_USE_UAC_FROM,
    FL_USE_UAC_TO,
    FL_USE_XAVP_VIA_FIELDS,
    Branch,
    Credentials,
    Handoff,
    MessageContext,
    Outgoing,
    SND_F_CON_CLOSE,
    SND_F_FORCE_CON_REUSE,
    ScriptDrop,
    ScriptExit,
    Socket,
    Source,
)
from kampy.runtime.forward import (SendSocketValue, build_forwarded, build_sent, choose_socket, destination,
                                   fallbacks, forward_request, relay_reply, send_as_is, send_variants,
                                   sip_destination, socket_address, uri_sip_dest)
from kampy.runtime.sipdns import ResolveOptions, SipDest, SipTarget
from kampy.runtime.core import Clock
from kampy.memo import BoundedCache
from kampy.sip.text import as_bytes, as_text
from kampy.sip.via import check_via_address, received_params, reply_destination, reply_via_line
from kampy.runtime.hashes import core_hash, hash2_raw, reverse_hex
from kampy.runtime.replies import (
    build_reply,
    crc_suffix,
    error_text,
    header_lines,
    local_to_tag,
    tag_prefix,
    to_tag_of,
    warning_line,
)
from kampy.runtime.loglevels import (
    L_ALERT,
    L_BUG,
    L_CRIT,
    L_CRIT2,
    L_DBG,
    L_ERR,
    L_INFO,
    L_NOTICE,
    L_WARN,
    LEVEL_NAMES,
    debug_threshold,
    level_color,
    log_stderr,
    module_facility,
    module_levels,
    python_level,
    set_level_color,
    set_module_facility,
    set_module_level,
    term_color,
)
from kampy.runtime.identity import group2gid, user2uid
from kampy.runtime.locks import LockSet
from kampy.runtime.memory import MemoryStatus, ProcessMemory, process_memory, store_memory
from kampy.runtime.subst import Replacement, SubstError, SubstExpr, parse_replacement, parse_subst
from kampy.runtime.values import compile_posix
from kampy.runtime.cfgframework import CfgError, CfgNotFound, CfgUnreadable, parse_group_id
from kampy.runtime.selects import NULL as SELECT_NULL
from kampy.runtime.selects import select_nameaddr, select_params, select_uri
from kampy.runtime.shared import SharedStore
from kampy.runtime.dst_blocklist import BLST_503, BLST_ERR_SEND, BLST_ERR_TIMEOUT, DstBlocklist
from kampy.runtime.snapshot import SharedSnapshot
from kampy.runtime.sockets import grep_socket
from kampy.runtime.xavp_items import xavp_clone_level, xavp_insert
from kampy.runtime.shmtable import ShmTable, TableFull
from kampy.runtime.slotlocks import SlotLocks
from kampy import binrpc, libxml
from kampy.rpc import JsonRpc, LocalService, Member, Peer, RpcRegistry, RpcStruct, dumps_response
from kampy.rpc_scan import handler_shape
from kampy.stats import HIDDEN as HIDDEN_STAT
from kampy.stats import Stats
from kampy.version import KAMAILIO_VERSION_TEXT, KAMPY_VERSION, SERVER_HEADER, source_id, version_string
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
    Via,
    build_response,
    error_response,
    parse_message,
)
from kampy.sip.transaction import (
    CancelTimer,
    ClientTransaction,
    Deliver,
    Matching,
    Send,
    ServerTransaction,
    StartTimer,
    Terminated,
    Timeout,
    TimerConfig,
    TransactionError,
    TransactionTable,
    TransportFailed,
    build_ack,
    build_cancel,
    server_key,
)
from kampy.sip.message import FL_BODY_MULTIPART, FL_FORCE_ACTIVE, FL_SDP_BODY
from kampy.sip.multipart import boundary_of, check_boundaries
from kampy.sip.sdp import Address as SdpAddress
from kampy.sip.sdp import (Sdp, SdpError, SdpSession, SdpStream, message_sdp, parse_sdp, replace_spans,
                           sdp_span)
from kampy.sip.digest import (
    ALG_MD5,
    ALG_MD5SESS,
    ALG_OTHER,
    ALG_UNSPEC,
    QOP_AUTH,
    QOP_AUTHINT,
    QOP_OTHER,
    QOP_UNSPEC,
    DigestCredentials,
    DigestSyntaxError,
)
from kampy.sip.digest import parse_credentials as parse_digest_credentials
from kampy.sip.uri import parse_name_addr, parse_uri
from kampy.services import (
    avp_add,
    avp_del,
    avp_get,
    avp_key,
    avp_values,
    isbflagset,
    isflagset,
    log_at,
    module_logger,
    pv_get,
    pv_set,
    resetbflag,
    resetflag,
    setbflag,
    setflag,
)

__all__ = [
    "PVar", "Transform", "Literal", "PVSyntaxError", "parse_format", "parse_pv", "parse_pv_at",
    "REGEX_FLAGS", "Arg", "ArgKind", "Exports", "Function", "Module", "Need", "Offer", "Param",
    "Process", "PVAccessor", "PVClass", "RouteType",
    "RpcDelayed", "RpcFault", "RpcMethod", "Stat", "Timer", "TransformClass", "EventRoute", "Unimplemented",
    "Branch", "Credentials", "MessageContext", "Outgoing", "SND_F_CON_CLOSE", "SND_F_FORCE_CON_REUSE",
    "ScriptDrop", "ScriptExit", "Socket", "Source",
    "Action",
    "grep_socket", "xavp_clone_level", "xavp_insert",
    "DstBlocklist", "BLST_503", "BLST_ERR_SEND", "BLST_ERR_TIMEOUT",
    "CoreAPI", "Clock", "Stats", "HIDDEN_STAT", "RpcRegistry", "received_params", "reply_destination",
    "CfgAPI", "CfgGroup", "CfgVar", "CfgError", "CfgNotFound", "CfgUnreadable", "parse_group_id", "Select",
    "SELECT_NULL", "select_nameaddr", "select_params", "select_uri",
    "reply_via_line",
    "user2uid", "group2gid",
    "SharedStore", "SharedSnapshot", "BoundedCache", "LockSet", "MemoryStatus", "ProcessMemory",
    "process_memory", "store_memory",
    "ShmTable", "TableFull", "SlotLocks",
    "core_hash", "hash2_raw", "reverse_hex", "as_bytes", "as_text", "build_reply", "crc_suffix",
    "warning_line",
    "error_text",
    "header_lines",
    "local_to_tag", "tag_prefix", "to_tag_of",
    "URI", "ContactList", "ContentType", "CSeq", "Message", "NameAddr", "Params", "Request", "Response",
    "SIPProtocolError", "Via", "build_response", "error_response", "parse_message",
    "parse_name_addr", "parse_uri", "check_via_address", "FL_FORCE_ACTIVE", "FL_SDP_BODY",
    "FL_BODY_MULTIPART", "boundary_of", "check_boundaries",
    "Sdp", "SdpAddress", "SdpError", "SdpSession", "SdpStream", "message_sdp", "parse_sdp", "replace_spans",
    "sdp_span",
    "DBURL", "MYSQL", "SQLITE", "Database", "DBError", "Dialect", "DBReason", "DBResult", "DB_TABLES",
    "check_table_version", "db_connect", "register_db_driver",
    "L_ALERT", "L_BUG", "L_CRIT", "L_CRIT2", "L_DBG", "L_ERR", "L_INFO", "L_NOTICE", "L_WARN",
    "module_logger", "log_at", "python_level", "debug_threshold",
    "pv_get", "pv_set", "compile_posix",
    "Replacement", "SubstError", "SubstExpr", "parse_replacement", "parse_subst",
    "avp_add", "avp_del", "avp_get", "avp_key", "avp_values", "avp_param_name",
    "set_module_level", "module_levels", "set_module_facility", "module_facility",
    "term_color", "set_level_color", "level_color", "log_stderr", "LEVEL_NAMES",
    "setflag", "resetflag", "isflagset", "setbflag", "resetbflag", "isbflagset",
    "SlAPI", "TmAPI", "TmUacAPI", "ReplyCallback", "RrAPI", "ObAPI", "FlowToken", "UsrlocAPI", "PingContact",
    "XhttpAPI", "PvAPI",
    "DMQ_NODE_ACTIVE", "DMQ_NODE_DISABLED", "DMQ_NODE_PENDING", "DMQ_NODE_TIMEOUT", "DmqAPI", "DmqNode",
    "DmqReply", "DmqPeerCallback", "DmqInitCallback", "DmqRespCallback",
    "UL_CONTACT_DELETE", "UL_CONTACT_EXPIRE", "UL_CONTACT_INSERT", "UL_CONTACT_UPDATE", "ULCB_MAX",
    "UlCallback", "SanityAPI",
    "TlsEngine",
    "TmTransaction", "TmBranch", "TmcbParams", "TmCallback", "UacDialog",
    "TMCB_REQUEST_IN", "TMCB_RESPONSE_IN", "TMCB_E2EACK_IN", "TMCB_REQUEST_PENDING", "TMCB_REQUEST_FWDED",
    "TMCB_RESPONSE_FWDED", "TMCB_ON_FAILURE_RO", "TMCB_ON_FAILURE", "TMCB_REQUEST_OUT", "TMCB_RESPONSE_OUT",
    "TMCB_LOCAL_COMPLETED", "TMCB_LOCAL_RESPONSE_OUT", "TMCB_ACK_NEG_IN", "TMCB_REQ_RETR_IN",
    "TMCB_LOCAL_RESPONSE_IN", "TMCB_LOCAL_REQUEST_IN", "TMCB_DLG", "TMCB_DESTROY", "TMCB_E2ECANCEL_IN",
    "TMCB_E2EACK_RETR_IN", "TMCB_RESPONSE_READY", "TMCB_DONT_ACK", "TMCB_REQUEST_SENT", "TMCB_RESPONSE_SENT",
    "TMCB_ON_BRANCH_FAILURE_RO", "TMCB_ON_BRANCH_FAILURE", "TMCB_MAX", "TMCB_NONE_F", "TMCB_RETR_F",
    "TMCB_LOCAL_F", "TYPE_REQUEST", "TYPE_LOCAL_CANCEL", "TYPE_LOCAL_ACK",
    "PresenceAPI", "PresenceEvent", "Subscription",
    "DLG_STATE_UNCONFIRMED", "DLG_STATE_EARLY", "DLG_STATE_CONFIRMED_NA", "DLG_STATE_CONFIRMED",
    "DLG_STATE_DELETED", "DLG_DIR_NONE", "DLG_DIR_DOWNSTREAM", "DLG_DIR_UPSTREAM", "DLGCB_LOADED",
    "DLGCB_CREATED", "DLGCB_FAILED", "DLGCB_CONFIRMED_NA", "DLGCB_CONFIRMED", "DLGCB_REQ_WITHIN",
    "DLGCB_TERMINATED", "DLGCB_EXPIRED", "DLGCB_EARLY", "DLGCB_RESPONSE_FWDED", "DLGCB_RESPONSE_WITHIN",
    "DLGCB_RPC_CONTEXT", "DLGCB_DESTROY", "DLGCB_SPIRALED", "DLGCB_TERMINATED_CONFIRMED", "DialogAPI",
    "DialogInfo", "DlgCbParams", "DlgCallback",
    "ACTIVE_STATUS", "PENDING_STATUS", "TERMINATED_STATUS", "WAITING_STATUS", "POLITE_BLOCK_STATUS",
    "WINFO_TYPE", "PUBL_TYPE", "libxml",
    "AuthAPI", "AuthDbAPI", "DomainAPI", "AuthCode", "AuthResult", "HDR_AUTHORIZATION", "HDR_PROXYAUTH",
    "DigestCredentials", "DigestSyntaxError", "parse_digest_credentials", "QOP_UNSPEC", "QOP_AUTH",
    "QOP_AUTHINT", "QOP_OTHER", "ALG_UNSPEC", "ALG_MD5", "ALG_MD5SESS", "ALG_OTHER",
    "JsonRpc", "handler_shape", "LocalService", "Member", "Peer", "RpcStruct", "binrpc", "dumps_response",
    "version_string",
    "KAMAILIO_VERSION_TEXT", "KAMPY_VERSION", "SERVER_HEADER", "source_id",
    "Handoff", "SendSocketValue", "build_forwarded", "build_sent", "socket_address", "destination",
    "forward_request",
    "relay_reply", "send_as_is", "choose_socket", "fallbacks", "send_variants", "sip_destination",
    "uri_sip_dest", "ResolveOptions", "SipDest", "SipTarget",
    "FL_ADD_SRVID", "FL_ADD_XAVP_VIA_PARAMS", "FL_UAC_AUTH", "FL_USE_UAC_FROM", "FL_USE_UAC_TO",
    "FL_USE_XAVP_VIA_FIELDS",
    "CancelTimer", "ClientTransaction", "Deliver", "Send", "ServerTransaction", "StartTimer", "Terminated",
    "Timeout", "TimerConfig", "TransactionError", "TransactionTable", "TransportFailed", "build_ack",
    "build_cancel", "server_key", "Matching",
]
