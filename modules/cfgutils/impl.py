"""The cfgutils module: what Kamailio keeps in shared memory (the probability of rand_event(), the
global flags, the lock set) is shared by every process of the server here too: the probability
and the flags are counters of the shared table `cfgutils`, the locks a lock set of the shared
store (`core.shared.lock_set`)."""
from __future__ import annotations

import hashlib
import os
import random
import time
from typing import Any

from kampy.api import (L_CRIT, L_DBG, L_ERR, L_INFO, L_WARN, CoreAPI, MessageContext, Module, RpcFault,
                       core_hash, hash2_raw, log_at, module_logger)

log = module_logger("cfgutils")

GFLAGS, PROBABILITY = 0, 1   # the counters of the shared table
INITIALISED = b"initialised"  # the key the first process to start writes once it set them
MAX_LOCK_SET_POWER = 14
RANDOM_MAX = 2 ** 31 - 1      # kam_rand()'s KAM_RAND_MAX


class RandomValue:
    """$RANDOM: a new random number in [0, 2^31) on each read."""

    def get(self, ctx: MessageContext) -> int:
        return random.randint(0, RANDOM_MAX)


def _str2int(text: str) -> int | None:
    """Kamailio's str2int: unsigned decimal digits only."""
    text = text.strip() if text else text
    return int(text) if text and text.isdigit() else None


class CfgutilsModule(Module):
    def __init__(self, params: dict[str, Any], core: CoreAPI) -> None:
        super().__init__(params, core)
        self.initial_prob: int = params["initial_probability"]
        if not 0 <= self.initial_prob <= 100:
            raise ValueError(f"invalid probability <{self.initial_prob}>")
        self.hash_file: str | None = params["hash_file"] or None
        self.config_hash = ""
        if self.hash_file is None:
            log_at(log, L_INFO, "no hash_file given, disable hash functionality")
        else:
            digest = self._md5(self.hash_file)
            if digest is None:
                raise ValueError(f"could not hash the config file {self.hash_file}")
            self.config_hash = digest
        self.lock_size = 0
        power: int = params["lock_set_size"]
        if power > 0:
            if power > MAX_LOCK_SET_POWER:
                log_at(log, L_WARN, "lock set size too large (%d), making it %d", power, MAX_LOCK_SET_POWER)
                power = MAX_LOCK_SET_POWER
            self.lock_size = 1 << power
        self.table = core.shared.table("cfgutils", capacity=16)
        with self.table.transaction():
            if self.table.get(INITIALISED) is None:  # the first process to start sets them
                self._set(GFLAGS, params["initial_gflags"] & 0xFFFFFFFF)
                self._set(PROBABILITY, self.initial_prob)
                self.table.put(INITIALISED, b"1")

    # ------------------------------------------------------------ shared values

    def _get(self, index: int) -> int:
        return self.table.counter(index)

    def _set(self, index: int, value: int) -> None:
        with self.table.transaction():
            self.table.add(index, value - self.table.counter(index))

    def _change_flags(self, set_mask: int = 0, clear_mask: int = 0) -> None:
        with self.table.transaction():
            flags = self.table.counter(GFLAGS)
            self.table.add(GFLAGS, ((flags | set_mask) & ~clear_mask & 0xFFFFFFFF) - flags)

    # ------------------------------------------------------------ fix-ups

    def fix_probability(self, value: str) -> int:
        number = _str2int(value)
        if number is None or number > 100:
            raise ValueError(f"invalid probability <{number if number is not None else 1000}>")
        return number

    def fix_gflag(self, value: str) -> int:
        number = _str2int(value)
        if number is None:
            raise ValueError(f"bad number <{value}>")
        if number >= 32:
            raise ValueError(f"flag <{number}> out of range [0..31]")
        return 1 << number

    # ------------------------------------------------------------ probability

    def rand_set_prob(self, ctx: MessageContext, probability: int) -> int:
        self._set(PROBABILITY, probability)
        return 1

    def rand_reset_prob(self, ctx: MessageContext) -> int:
        self._set(PROBABILITY, self.initial_prob)
        return 1

    def rand_get_prob(self, ctx: MessageContext) -> int:
        return self._get(PROBABILITY)

    def rand_event(self, ctx: MessageContext) -> int:
        probability = self._get(PROBABILITY)
        if probability <= 0:
            return -1
        if probability >= 100:
            return 1
        drawn = random.randint(0, RANDOM_MAX) / RANDOM_MAX
        log_at(log, L_DBG, "generated random %f", drawn)
        return 1 if drawn < probability / 100 else -1

    def pv_random(self, spec: Any) -> RandomValue:
        return RandomValue()

    # ------------------------------------------------------------ delays and debugging

    def sleep(self, ctx: MessageContext, seconds: int) -> int:
        time.sleep(max(0, seconds))
        return 1

    def usleep(self, ctx: MessageContext, microseconds: int) -> int:
        time.sleep(max(0, microseconds) / 1_000_000)
        return 1

    def abort(self, ctx: MessageContext) -> int:
        log_at(log, L_CRIT, "abort called")
        os.abort()

    def pkg_status(self, ctx: MessageContext) -> int:
        self.core.log_memory_status(1)
        return 1

    def shm_status(self, ctx: MessageContext) -> int:
        self.core.log_memory_status(2)
        return 1

    def pkg_summary(self, ctx: MessageContext) -> int:
        self.core.log_memory_status(4)
        return 1

    def shm_summary(self, ctx: MessageContext) -> int:
        self.core.log_memory_status(8)
        return 1

    # ------------------------------------------------------------ global flags

    def set_gflag(self, ctx: MessageContext, mask: int) -> int:
        self._change_flags(set_mask=mask)
        return 1

    def reset_gflag(self, ctx: MessageContext, mask: int) -> int:
        self._change_flags(clear_mask=mask)
        return 1

    def is_gflag(self, ctx: MessageContext, mask: int) -> int:
        return 1 if self._get(GFLAGS) & mask else -1

    # ------------------------------------------------------------ locks

    def _lock(self, key: str, mode: str) -> int:
        if self.lock_size == 0:
            log_at(log, L_ERR, "lock set not initialized (attempt to do op: %d on: %s) - see param "
                   "lock_set_size", {"lock": 0, "unlock": 1, "trylock": 2}[mode], key)
            return -1
        position = core_hash(_ascii_lower(key)) & (self.lock_size - 1)
        locks = self.core.shared.lock_set("cfgutils", self.lock_size)
        log_at(log, L_DBG, "cfg_lock mode %s on %d (%s)", mode, position, key)
        if mode == "lock":
            if not locks.acquire(position):
                log_at(log, L_ERR, "lock %d (%s) is held by this process already: not waiting for "
                       "it (Kamailio would wait forever)", position, key)
            return 1
        if mode == "unlock":
            locks.release(position)
            return 1
        if locks.try_acquire(position):
            log_at(log, L_DBG, "Succeeded with trylock")
            return 1
        log_at(log, L_DBG, "Failed to trylock")
        return -1

    def lock(self, ctx: MessageContext, key: str) -> int:
        return self._lock(key, "lock")

    def unlock(self, ctx: MessageContext, key: str) -> int:
        return self._lock(key, "unlock")

    def trylock(self, ctx: MessageContext, key: str) -> int:
        return self._lock(key, "trylock")

    # ------------------------------------------------------------ hashes and routes

    def core_hash(self, ctx: MessageContext, string1: str, string2: str, size: int) -> int:
        slots = 2 if size <= 0 else 1 << size
        h = hash2_raw(string1, string2) if string2 else core_hash(string1)
        return (h & (slots - 1)) + 1

    def check_route_exists(self, ctx: MessageContext, route: str) -> int:
        return 1 if self.core.has_route("route", route) else -1

    def route_if_exists(self, ctx: MessageContext, route: str) -> int:
        if not self.core.has_route("route", route):
            return -1
        return self.core.run_route("route", route, ctx)

    # ------------------------------------------------------------ the config file's hash

    @staticmethod
    def _md5(path: str) -> str | None:
        try:
            with open(path, "rb") as f:
                digest = hashlib.md5(f.read()).hexdigest()
        except OSError:
            log_at(log, L_ERR, "could not open file %s", path)
            return None
        log_at(log, L_DBG, "MD5 calculated: %s for file %s", digest, path)
        return digest

    # ------------------------------------------------------------ RPC

    def rpc_is_gflag(self, flag: int) -> str:
        mask = flag & 0xFFFFFFFF
        return "TRUE" if self._get(GFLAGS) & mask == mask else "FALSE"

    def rpc_set_gflag(self, flag: int) -> None:
        self._change_flags(set_mask=flag & 0xFFFFFFFF)

    def rpc_reset_gflag(self, flag: int) -> None:
        self._change_flags(clear_mask=flag & 0xFFFFFFFF)

    def rpc_get_gflags(self) -> str:
        flags = self._get(GFLAGS)
        return f"0x{flags:X} ({flags})"

    def rpc_rand_set_prob(self, percent: int) -> None:
        if not 0 <= percent <= 100:
            log_at(log, L_ERR, "incorrect probability <%d>", percent)
            raise RpcFault(500, "Invalid Percent")
        self._set(PROBABILITY, percent)

    def rpc_rand_reset_prob(self) -> None:
        self._set(PROBABILITY, self.initial_prob)

    def rpc_rand_get_prob(self) -> str:
        return f"actual probability: {self._get(PROBABILITY)} percent"

    def rpc_get_config_hash(self) -> str:
        return self.config_hash

    def rpc_check_config_hash(self) -> str:
        if self.hash_file is None:
            raise RpcFault(500, "No hash file")
        digest = self._md5(self.hash_file)
        if digest is None:
            log_at(log, L_ERR, "could not hash the config file")
            raise RpcFault(500, "Failed to hash the file")
        return "Identical hash" if digest == self.config_hash else "Different hash"


def _ascii_lower(text: str) -> str:
    """Kamailio's ch_icase(): A-Z only are folded (core_case_hash)."""
    return "".join(chr(ord(c) | 0x20) if "A" <= c <= "Z" else c for c in text)
