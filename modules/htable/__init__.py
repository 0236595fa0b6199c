"""htable: hash tables in shared memory for the config ($sht(...), sht_* functions, htable.* RPC)."""
from __future__ import annotations

from kampy.api import (Arg, ArgKind, DmqAPI, EventRoute, Exports, Function, Need, Param, PVClass, RouteType,
                       RpcMethod,
                       Timer, Unimplemented)

from .htable import HTable, check_table_param
from .rpc import NO_NAME, NOT_ENOUGH_DELETE, NOT_ENOUGH_GET, NOT_ENOUGH_SET, NOT_ENOUGH_SETEX, NOT_ENOUGH_SETX

_ANY = RouteType.ANY


def _f(name: str, *args: Arg, doc: str, returns: str = "", handler: str = "") -> Function:
    return Function(name, handler=handler or name, args=args, routes=_ANY, doc=doc, returns=returns)


def _name(doc: str = "hash table name, may hold pseudo-variables") -> Arg:
    return Arg("htname", ArgKind.FMT, doc=doc)


def _key_ref(doc: str) -> Arg:
    return Arg("htable=>key", ArgKind.STR, doc=doc, fixup="fix_key_ref")


def _op(doc: str) -> tuple[Arg, Arg, Arg]:
    return (_name(), Arg("op", ArgKind.FMT, doc=doc), Arg("val", ArgKind.FMT, doc="the value to match"))


EXPORTS = Exports(
    name="htable",
    doc="Hash tables in shared memory, for the config: $sht(table=>key), the sht_* functions, "
        "expiry with event routes, loading from and saving to a database table, the htable.* RPCs.",
    params=(
        Param("htable", (str,), None, multi=True, validate=check_table_param,
              doc="a table: `name=>size=N;autoexpire=S;dbtable=T;cols='c1,c2';dbmode=0|1;initval=N;"
                  "updateexpire=0|1;dmqreplicate=0|1` (also later Kamailio's `coldelim` and `colnull`)"),
        Param("db_url", (str,), "", doc="the database tables are loaded from (empty: none)"),
        Param("key_name_column", (str,), "key_name"),
        Param("key_type_column", (str,), "key_type"),
        Param("value_type_column", (str,), "value_type"),
        Param("key_value_column", (str,), "key_value"),
        Param("expires_column", (str,), "expires"),
        Param("array_size_suffix", (str,), "::size",
              doc="added to an array's name for the item holding its size"),
        Param("timer_interval", (int,), 20, doc="seconds between two expiry runs (<= 0: 20)"),
        Param("db_expires", (int,), 0,
              doc="1: load and save the expiry of the items of tables with autoexpire"),
        Param("timer_procs", (int,), 0,
              doc="0: the expiry runs in worker 1; N: split over N runs by slot, shared out among the "
                  "workers"),
        Param("event_callback", (str,), "", doc="a KEMI function run instead of the event routes; "
              "a kamailio.cfg script has no KEMI engine, so, as in Kamailio, nothing runs"),
        Param("enable_dmq", (int,), 0,
              doc="1: replicate the changes of the tables with dmqreplicate=1 to the other DMQ nodes"),
        Param("dmq_init_sync", (int,), 0,
              doc="1: ask the other DMQ nodes for their replicated tables on joining the bus"),
        Param("event_callback_mode", (int,), 0,
              doc="when event_route[htable:mod-init] runs: in kampy both 0 and 1 run it once, in the "
                  "first worker to start, after every module is built and before any worker serves; "
                  "another value runs it in every worker, as Kamailio does"),
    ),
    functions=(
        _f("sht_print", doc="Logs the content of every hash table at L_ERR (slot by slot).",
           returns="1"),
        _f("sht_rm", _name(), Arg("itname", ArgKind.FMT, doc="item name, may hold pseudo-variables"),
           doc="Deletes the item (as `$sht(htname=>itname) = $null`).",
           returns="1; -1 when the table does not exist"),
        _f("sht_rm_name_re", _key_ref("`table=>regexp`, the regexp may hold pseudo-variables"),
           doc="Deletes every item whose name matches the regular expression.",
           returns="1 (also when the table does not exist); -1 for a bad expression"),
        _f("sht_rm_value_re", _key_ref("`table=>regexp`, the regexp may hold pseudo-variables"),
           doc="Deletes every item whose string value matches the regular expression.",
           returns="1 (also when the table does not exist); -1 for a bad expression"),
        _f("sht_rm_name", *_op("`re` (regular expression) or `sw` (starts with)"),
           doc="Deletes every item whose name matches.", returns="1; -1 for an unknown table or operator"),
        _f("sht_rm_value", *_op("`re` (regular expression) or `sw` (starts with)"),
           doc="Deletes every item whose string value matches.",
           returns="1; -1 for an unknown table or operator"),
        _f("sht_match_name", *_op("`eq`, `ne`, `re` or `sw`"),
           doc="Whether an item's name matches.", returns="1 when one matches, else -1"),
        _f("sht_has_name", *_op("`eq`, `ne`, `re` or `sw`"), handler="sht_match_name",
           doc="Alias for sht_match_name().", returns="1 when one matches, else -1"),
        _f("sht_match_str_value", *_op("`eq`, `ne`, `re` or `sw`"),
           doc="Whether an item's string value matches.", returns="1 when one matches, else -1"),
        _f("sht_has_str_value", *_op("`eq`, `ne`, `re` or `sw`"), handler="sht_match_str_value",
           doc="Alias for sht_match_str_value().", returns="1 when one matches, else -1"),
        _f("sht_lock", _key_ref("`table=>key`, the key may hold pseudo-variables"),
           doc="Locks the slot of the key for every worker (re-entrant for this one) until "
               "sht_unlock().", returns="1; -11 when the table does not exist"),
        _f("sht_unlock", _key_ref("`table=>key`, the key may hold pseudo-variables"),
           doc="Unlocks the slot sht_lock() locked.", returns="1; -11 when the table does not exist"),
        _f("sht_reset", _name(), doc="Deletes every item of the table.",
           returns="1; -1 when the table does not exist"),
        _f("sht_iterator_start", Arg("iname", ArgKind.FMT, doc="iterator name (at most 4 at once)"),
           Arg("hname", ArgKind.FMT, doc="hash table name"),
           doc="Starts (or restarts) an iterator over the table.", returns="1; -1 on error"),
        _f("sht_iterator_next", Arg("iname", ArgKind.FMT),
           doc="Moves the iterator to the next item ($shtitkey/$shtitval); call it once to get the "
               "first.", returns="1; -1 at the end"),
        _f("sht_iterator_end", Arg("iname", ArgKind.FMT), doc="Closes the iterator, unlocking its slot.",
           returns="1; -1 for an unknown iterator"),
        _f("sht_iterator_rm", Arg("iname", ArgKind.FMT),
           doc="Deletes the current item and moves to the next.",
           returns="1 when removed and a next item exists; -2 when removed at the end; -1 on error"),
        _f("sht_iterator_sets", Arg("iname", ArgKind.FMT), Arg("sval", ArgKind.FMT),
           doc="Sets the current item to the string.", returns="1; -1 on error"),
        _f("sht_iterator_seti", Arg("iname", ArgKind.FMT), Arg("ival", ArgKind.INT),
           doc="Sets the current item to the integer.", returns="1; -1 on error"),
        _f("sht_iterator_setex", Arg("iname", ArgKind.FMT), Arg("exval", ArgKind.INT),
           doc="Sets the expiry of the current item to now + exval seconds.", returns="1; -1 on error"),
        _f("sht_setxs", _name(), Arg("itname", ArgKind.FMT), Arg("itval", ArgKind.FMT),
           Arg("exval", ArgKind.INT), doc="Sets the item to a string value, expiring in exval seconds.",
           returns="1; -1 when the table does not exist"),
        _f("sht_setxi", _name(), Arg("itname", ArgKind.FMT), Arg("itval", ArgKind.INT),
           Arg("exval", ArgKind.INT), doc="Sets the item to an integer value, expiring in exval seconds.",
           returns="0 on success (as Kamailio 5.6: the script ends there, as with `exit`); -1 when the "
                   "table does not exist"),
    ),
    pvars=(
        PVClass("sht", handler="pv_sht", arg="required", writable=True,
                doc="`$sht(table=>key)`: the item's value (int or string); the table's initval or "
                    "$null when missing or expired; assigning $null deletes it"),
        PVClass("shtex", handler="pv_shtex", arg="required", writable=True,
                doc="`$shtex(table=>key)`: seconds until the item expires; assigning sets them"),
        PVClass("shtcn", handler="pv_shtcn", arg="required",
                doc="`$shtcn(table=>expr)`: how many item names match (`~~re`, `~%end`, `%~start`, "
                    "`==text`, `**` all, else a regular expression)"),
        PVClass("shtcv", handler="pv_shtcv", arg="required",
                doc="`$shtcv(table=>expr)`: how many values match (as $shtcn, and `eqN` for integers)"),
        PVClass("shtinc", handler="pv_shtinc", arg="required",
                doc="`$shtinc(table=>key)`: adds 1 to the integer item and gives the new value"),
        PVClass("shtdec", handler="pv_shtdec", arg="required",
                doc="`$shtdec(table=>key)`: subtracts 1 from the integer item and gives the new value"),
        PVClass("shtitkey", handler="pv_shtitkey", arg="required",
                doc="`$shtitkey(iname)`: the name of the iterator's current item"),
        PVClass("shtitval", handler="pv_shtitval", arg="required",
                doc="`$shtitval(iname)`: the value of the iterator's current item"),
        PVClass("shtrecord", handler="pv_shtrecord", arg="required",
                doc="`$shtrecord(key)`, `$shtrecord(value)`: the expired item, in "
                    "event_route[htable:expired:<table>]"),
    ),
    rpc=(
        RpcMethod("htable.dump", "rpc_dump", doc="Dump the contents of hash table.", array=True,
                  params_fault=NO_NAME),
        RpcMethod("htable.delete", "rpc_delete", doc="Delete one key from a hash table.",
                  params_fault=NOT_ENOUGH_DELETE),
        RpcMethod("htable.get", "rpc_get", doc="Get one key from a hash table.", params_fault=NOT_ENOUGH_GET),
        RpcMethod("htable.sets", "rpc_sets",
                  autoconvert=(2,), doc="Set one key in a hash table to a string value.",
                  params_fault=NOT_ENOUGH_SET),
        RpcMethod("htable.seti", "rpc_seti", autoconvert=(2,),
                  doc="Set one key in a hash table to an integer value.",
                  params_fault=NOT_ENOUGH_SET),
        RpcMethod("htable.setex", "rpc_setex", autoconvert=(2,),
                  doc="Set expire in a hash table for the item referenced by key.",
                  params_fault=NOT_ENOUGH_SETEX),
        RpcMethod("htable.setxs", "rpc_setxs", autoconvert=(2,),
                  doc="Set one key in a hash table to a string value and its expire value.",
                  params_fault=NOT_ENOUGH_SETX),
        RpcMethod("htable.setxi", "rpc_setxi", autoconvert=(2,),
                  doc="Set one key in a hash table to an integer value and its expire value.",
                  params_fault=NOT_ENOUGH_SETX),
        RpcMethod("htable.listTables", "rpc_list", doc="List all htables.", array=True),
        RpcMethod("htable.reload", "rpc_reload", doc="Reload hash table from database.",
                  params_fault=NO_NAME),
        RpcMethod("htable.store", "rpc_store", doc="Store hash table to database.", params_fault=NO_NAME),
        RpcMethod("htable.stats", "rpc_stats", doc="Statistics about htables.", array=True),
        RpcMethod("htable.flush", "rpc_flush", doc="Flush hash table.", params_fault=NO_NAME),
    ),
    timers=(Timer("expiry", "expiry_tick", interval=1,
                  doc="every timer_interval seconds: deletes the expired items, running "
                      "event_route[htable:expired:<table>] for each"),),
    event_routes=(
        EventRoute("htable:mod-init", doc="run once at start-up, before any worker serves: fill tables"),
        EventRoute("htable:expired:<table>",
                   doc="run for each item of <table> that expires, with $shtrecord(key) and "
                       "$shtrecord(value)"),
    ),
    not_implemented=(
        Unimplemented("param", "fetch_rows", "kampy's database layer reads the rows of a query at once: "
                      "how many come per fetch changes nothing a config sees", default=100, types=(int,)),
    ),
    needs=(Need("dmq", DmqAPI, optional=True, doc="the bus the tables are replicated on (enable_dmq)"),),
    factory=HTable,
)
