"""Kamailio's options, read in the passes main.c reads them, with its checks and its words.

1. `early(tokens)`: `-h` anywhere (also as an option's value: `-f -h`), then `-d`, `-E`, `-e`, `-M`,
   `-x`, `-X`, `--log-engine`, `--debug`, `--cfg-print`, `--atexit`;
2. `before_config(tokens, opts)`: unreadable options are errors (in order), then `-f`, `-c`, `-L`, `-m`,
   `-v`/`-V`, `-I`, `-O`, `-u`, `-A`, `--alias`, `--subst*`, `--server-id`, `--loadmodule`, `--modparam`;
3. `after_config(tokens, opts, disable_tcp)`: the options that win over the config: `-E`, `-e`, `-b`,
   `-T`, `-S`, `-l`, `-n`, `-K`, `-r`, `-R`, `-D`, `-N`, `-W`, `-Q`, `-w`, `-Y`, `-t`, `-u`, `-g`, `-P`,
   `-G`, `-a`.

A problem raises `Exit` with what Kamailio prints and its exit status (255 for errors); `-h`, `-v`
and `-I` raise `Exit(0)` with their text.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

from kampy.cmdline.getopt import Token
from kampy.cmdline.texts import (
    DEFAULT_CFG,
    KAMAILIO_POLL_METHODS,
    POLL_METHODS,
    help_text,
    internals_text,
    version_text,
)

FAILURE = 255  # ksr_exit(-1)
MEMORY_MANAGERS = ("fm", "qm", "tlsf")


class Exit(Exception):
    """Stop with `code`, printing `out` to stdout and `err` to stderr."""

    def __init__(self, code: int, out: str = "", err: str = "") -> None:
        super().__init__(err or out)
        self.code = code
        self.out = out
        self.err = err


def fail(message: str) -> Exit:
    return Exit(FAILURE, err=message if message.endswith("\n") else message + "\n")


@dataclass
class Options:
    cfg_file: str = DEFAULT_CFG
    check: bool = False
    cfg_print: bool = False
    debug: int | None = None              # -d (counted from 0) or --debug
    log_stderr: bool = False
    log_color: bool = False
    log_engine: str | None = None
    atexit: bool = True
    shm_mb: int | None = None
    pkg_mb: int | None = None
    shm_manager: str | None = None
    pkg_manager: str | None = None
    opt_level: int | None = None
    mpath: str | None = None
    defines: dict[str, str | None] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    substs: list[tuple[str, str]] = field(default_factory=list)
    server_id: int | None = None
    loadmodules: list[str] = field(default_factory=list)
    modparams: list[tuple[str, str, str | int]] = field(default_factory=list)
    # after the config
    maxbuffer: int | None = None
    disable_tcp: bool = False
    listen: list[str] = field(default_factory=list)
    children: int | None = None
    tcp_children: int | None = None
    check_via: bool = False
    received_dns: bool = False
    received_rev_dns: bool = False
    dont_fork: int = 0                    # how many -D
    poll_method: str | None = None
    workdir: str | None = None
    rundir: str | None = None
    chroot: str | None = None
    user: str | None = None
    group: str | None = None
    pid_file: str | None = None
    pgid_file: str | None = None
    auto_aliases: bool | None = None


def _int(text: str) -> int | None:
    """strtol() that must read the whole text (Kamailio's `(tmp==0) || (*tmp)` checks)."""
    if re.fullmatch(r"\s*[+-]?\d+", text or ""):
        return int(text)
    return None


def early(tokens: list[Token]) -> Options:
    """The first pass (unreadable options are left for the second)."""
    if any(t.key in ("h", "help") and not t.error for t in tokens) or any(t.value == "-h" for t in tokens):
        raise Exit(0, out=help_text())
    opts = Options()
    for t in tokens:
        if t.error:
            continue
        if t.key == "d":
            opts.debug = (opts.debug or 0) + 1
        elif t.key == "E":
            opts.log_stderr = True
        elif t.key == "e":
            opts.log_color = True
        elif t.key == "M":
            opts.pkg_mb = _int(t.value or "")
            if opts.pkg_mb is None:
                raise fail(f"bad private mem size number: -M {t.value}")
        elif t.key == "x":
            opts.shm_manager = t.value
        elif t.key == "X":
            opts.pkg_manager = t.value
        elif t.key == "log-engine":
            opts.log_engine = t.value
        elif t.key == "debug":
            opts.debug = _int(t.value or "")
            if opts.debug is None:
                raise fail(f"bad debug level value: {t.value}")
        elif t.key == "cfg-print":
            opts.cfg_print = True
        elif t.key == "atexit":
            opts.atexit = _atexit(t.value or "")
    for manager in (opts.pkg_manager or opts.shm_manager, opts.shm_manager):
        if manager is not None and manager not in MEMORY_MANAGERS:
            raise fail(f"memory manager not found: {manager} (valid: {', '.join(MEMORY_MANAGERS)})")
    return opts


def _atexit(value: str) -> bool:
    if value[:1] in ("y", "1"):
        return True
    if value[:1] in ("n", "0"):
        return False
    raise fail(f"bad atexit value: {value}")


def before_config(tokens: list[Token], opts: Options) -> None:
    """The second and third passes: errors, then what the config is read with."""
    for t in tokens:
        if t.error:
            raise fail(t.error)
        value = t.value or ""
        if t.key == "f":
            opts.cfg_file = value
        elif t.key == "c":
            opts.check = True
            opts.log_stderr = True  # -c logs to stderr
        elif t.key == "L":
            opts.mpath = value
        elif t.key == "m":
            opts.shm_mb = _int(value)
            if opts.shm_mb is None:
                raise fail(f"bad shmem size number: -m {value}")
        elif t.key in ("v", "V", "version"):
            raise Exit(0, out=version_text())
        elif t.key == "I":
            raise Exit(0, out=internals_text())
        elif t.key == "O":
            opts.opt_level = _int(value)
            if opts.opt_level is None:
                raise fail(f"bad optimization level: -O {value}")
        elif t.key == "u":
            opts.user = value
        elif t.key == "A":
            name, eq, val = value.partition("=")
            if not name:
                raise fail(f"error at define param: -A {value}")
            opts.defines[name] = val if eq else None
        elif t.key == "alias":
            if not _alias_ok(value):
                raise fail(f"Invalid alias value '{value}'")
            opts.aliases.append(value)
        elif t.key in ("subst", "substdef", "substdefs"):
            opts.substs.append((t.key, value))
        elif t.key == "server-id":
            opts.server_id = _int(value)
            if opts.server_id is None:
                raise fail(f"bad server_id value: {value}")
    for t in tokens:
        if t.key == "loadmodule":
            opts.loadmodules.append(t.value or "")
        elif t.key == "modparam":
            opts.modparams.append(_modparam(t.value or ""))


def _alias_ok(value: str) -> bool:
    """parse_phostport(): [proto:]host[:port] with a known protocol and a numeric port."""
    head, colon, rest = value.partition(":")
    if colon and head.lower() in ("udp", "tcp", "tls", "sctp", "ws", "wss", "any"):
        value = rest
    if value.startswith("["):
        host, _, tail = value[1:].partition("]")
        return bool(host) and (not tail or (tail.startswith(":") and tail[1:].isdigit()))
    host, colon, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    return bool(host) and (not colon or port.isdigit())


def _modparam(value: str) -> tuple[str, str, str | int]:
    """`modname:paramname:type:value` (set_mod_param_serialized): type `s` or `i`."""
    parts = value.split(":", 3)
    if len(parts) != 4 or parts[2] not in ("s", "i") or not parts[0] or not parts[1]:
        raise fail(f"invalid format for argument: {value}\nfailed to set modparam: {value}")
    module, name, kind, text = parts
    if kind == "i":
        number = _int(text)
        if number is None:
            raise fail(f"invalid format for argument: {value}\nfailed to set modparam: {value}")
        return module, name, number
    return module, name, text


def after_config(tokens: list[Token], opts: Options, disable_tcp: bool) -> None:
    """The last pass: the options that win over the config (`disable_tcp`: the config's)."""
    opts.disable_tcp = disable_tcp
    for t in tokens:
        value = t.value or ""
        key = t.key
        if key in ("E", "e"):
            continue  # read in the first pass already
        if key == "b":
            opts.maxbuffer = _int(value)
            if opts.maxbuffer is None:
                raise fail(f"bad max buffer size number: -b {value}")
        elif key == "T":
            opts.disable_tcp = True
        elif key in ("S", "Q"):
            print("WARNING: sctp support not compiled in", file=sys.stderr)
        elif key == "l":
            opts.listen.append(value)
        elif key == "n":
            opts.children = _int(value)
            if opts.children is None:
                raise fail(f"bad process number: -n {value}")
        elif key in ("K", "r", "R", "D"):
            _flag(opts, key)
        elif key == "N":
            if opts.disable_tcp:
                raise fail(f"could not configure TCP children: -N {value}\nTCP support disabled")
            opts.tcp_children = _int(value)
            if opts.tcp_children is None:
                raise fail(f"bad process number: -N {value}")
        elif key == "W":
            if value not in KAMAILIO_POLL_METHODS:
                raise fail(f"bad poll method name: -W {value}\ntry one of {', '.join(POLL_METHODS)}.")
            opts.poll_method = value
        elif key in ("w", "Y", "t", "u", "g", "P", "G"):
            setattr(opts, _PATHS[key], value)
        elif key == "a":
            if value not in ("on", "yes", "off", "no"):
                raise fail(f"bad auto aliases parameter: {value} (valid on, off, yes, no)")
            opts.auto_aliases = value in ("on", "yes")


_PATHS = {"w": "workdir", "Y": "rundir", "t": "chroot", "u": "user", "g": "group", "P": "pid_file",
          "G": "pgid_file"}


def _flag(opts: Options, key: str) -> None:
    if key == "K":
        opts.check_via = True
    elif key == "r":
        opts.received_dns = True
    elif key == "R":
        opts.received_rev_dns = True
    else:
        opts.dont_fork += 1
