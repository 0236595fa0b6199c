"""cfgutils: randomness, global flags, locks, delays, the config file's hash and route checks for
the config script."""
from __future__ import annotations

from kampy.api import Arg, ArgKind, Exports, Function, Param, PVClass, RouteType, RpcMethod

from .impl import CfgutilsModule

ANY = RouteType.ANY
INVALID = (500, "Invalid Parameters")

EXPORTS = Exports(
    name="cfgutils",
    doc="Useful extensions for the configuration: rand_event() with a probability every process "
        "shares, global flags (gflags) every process shares, locks by key, sleep()/usleep(), "
        "the config file's MD5 checked over RPC, and running a route block only if it exists.",
    params=(
        Param("initial_probability", (int,), 10,
              doc="the probability of rand_event() at start, in percent (0..100)"),
        Param("initial_gflags", (int,), 0, doc="the global flags at start (a 32-bit bitmap)"),
        Param("hash_file", (str,), None,
              doc="the file whose MD5 is computed at start and compared by cfgutils.check_config_hash"),
        Param("lock_set_size", (int,), 0,
              doc="the number of locks of lock()/unlock()/trylock(), as a power of two (at most "
                  "14); 0: no locks"),
    ),
    functions=(
        Function("rand_set_prob", args=(Arg("probability", ArgKind.STR, fixup="fix_probability"),),
                 routes=ANY, doc="Set the probability of rand_event() (0..100) for every process.",
                 returns="1"),
        Function("rand_reset_prob", routes=ANY, doc="Set the probability back to initial_probability.",
                 returns="1"),
        Function("rand_get_prob", routes=ANY, doc="The current probability.",
                 returns="the probability (0 stops the script, as any function returning 0)"),
        Function("rand_event", routes=ANY,
                 doc="True with the current probability (always at 100, never at 0).",
                 returns="1 or -1"),
        Function("sleep", args=(Arg("time", ArgKind.INT),), routes=ANY,
                 doc="Wait `time` seconds (the process serves nothing meanwhile).", returns="1"),
        Function("usleep", args=(Arg("time", ArgKind.INT),), routes=ANY,
                 doc="Wait `time` microseconds.", returns="1"),
        Function("abort", routes=ANY,
                 doc="Log 'abort called' at L_CRIT and abort the process (a core dump, if the "
                     "system makes one); the server then stops, as Kamailio's does."),
        Function("pkg_status", routes=ANY, handler="pkg_status",
                 doc="Log this process's memory status at the level memlog.", returns="1"),
        Function("shm_status", routes=ANY, handler="shm_status",
                 doc="Log the shared store's status at the level memlog.", returns="1"),
        Function("pkg_summary", routes=ANY, handler="pkg_summary",
                 doc="Log the summary of this process's memory in use at the level memlog.",
                 returns="1"),
        Function("shm_summary", routes=ANY, handler="shm_summary",
                 doc="Log the summary of the shared tables at the level memlog.", returns="1"),
        Function("set_gflag", args=(Arg("flag", ArgKind.STR, fixup="fix_gflag"),), routes=ANY,
                 doc="Set global flag `flag` (0..31).", returns="1"),
        Function("reset_gflag", args=(Arg("flag", ArgKind.STR, fixup="fix_gflag"),), routes=ANY,
                 doc="Reset global flag `flag` (0..31).", returns="1"),
        Function("is_gflag", args=(Arg("flag", ArgKind.STR, fixup="fix_gflag"),), routes=ANY,
                 doc="Whether global flag `flag` (0..31) is set.", returns="1 or -1"),
        Function("lock", args=(Arg("key", ArgKind.FMT),), routes=ANY,
                 doc="Take the lock the key hashes to (of the 2^lock_set_size locks every process "
                     "shares), waiting for it.", returns="1, -1 without lock_set_size"),
        Function("unlock", args=(Arg("key", ArgKind.FMT),), routes=ANY,
                 doc="Release the lock the key hashes to.", returns="1, -1 without lock_set_size"),
        Function("trylock", args=(Arg("key", ArgKind.FMT),), routes=ANY,
                 doc="Take the lock the key hashes to if it is free.",
                 returns="1 when taken, -1 when held (by any process, this one included)"),
        Function("core_hash", args=(Arg("string1", ArgKind.FMT), Arg("string2", ArgKind.FMT),
                                    Arg("size", ArgKind.INT)), routes=ANY,
                 doc="Kamailio's core_hash of string1 (and string2 when not empty) in a table of "
                     "2^size slots (2 when size <= 0).", returns="the slot + 1"),
        Function("check_route_exists", args=(Arg("route", ArgKind.FMT),), routes=ANY,
                 doc="Whether the config has route[route].", returns="1 or -1"),
        Function("route_if_exists", args=(Arg("route", ArgKind.FMT),), routes=ANY,
                 doc="Run route[route] if the config has it.",
                 returns="the route's code, -1 when there is no such route"),
    ),
    pvars=(PVClass("RANDOM", handler="pv_random", doc="a random number in [0, 2^31)"),),
    rpc=(
        RpcMethod("cfgutils.is_gflag", "rpc_is_gflag", params_fault=INVALID,
                  doc="TRUE when every flag of the bitmask is set, else FALSE"),
        RpcMethod("cfgutils.set_gflag", "rpc_set_gflag", params_fault=INVALID,
                  doc="set the flags of the bitmask"),
        RpcMethod("cfgutils.get_gflags", "rpc_get_gflags", doc="the flags, in hexadecimal and decimal"),
        RpcMethod("cfgutils.reset_gflag", "rpc_reset_gflag", params_fault=INVALID,
                  doc="reset the flags of the bitmask"),
        RpcMethod("cfgutils.rand_set_prob", "rpc_rand_set_prob", params_fault=INVALID,
                  doc="set the probability (0..100)"),
        RpcMethod("cfgutils.rand_reset_prob", "rpc_rand_reset_prob",
                  doc="set the probability back to initial_probability"),
        RpcMethod("cfgutils.rand_get_prob", "rpc_rand_get_prob", doc="the probability"),
        RpcMethod("cfgutils.get_config_hash", "rpc_get_config_hash",
                  doc="the MD5 of hash_file computed at start"),
        RpcMethod("cfgutils.check_config_hash", "rpc_check_config_hash",
                  doc="whether hash_file still has the MD5 computed at start"),
    ),
    factory=CfgutilsModule,
)
