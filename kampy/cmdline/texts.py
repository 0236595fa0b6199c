"""What `kampy -h`, `-v`/`-V`/`--version` and `-I` print: Kamailio's texts, with kampy's values."""
from __future__ import annotations

import importlib.util
import platform
from pathlib import Path

from kampy.version import KAMPY_VERSION, SERVER_NAME, built_time, source_id, version_string

DEFAULT_CFG = "/etc/kamailio/kamailio.cfg"
# what kampy is built with, in the shape of Kamailio's compile flags
CORE_FLAGS = "USE_UDP, USE_TCP, SHM_MMAP, SHARED_STORE_SQLITE, STATS_MMAP"


def _modules_dir() -> str:
    """Where kampy's built-in modules are: modules/ of a checkout, kampy/modules installed."""
    spec = importlib.util.find_spec("kampy.modules")
    locations = spec.submodule_search_locations if spec is not None else None
    return str(Path(list(locations)[0])) if locations else ""


MODULES_DIR = _modules_dir()
POLL_METHODS = ("poll", "epoll_lt", "select")  # what kampy's event loop can use (-W, tcp_poll_method)
# the names Kamailio knows (get_poll_type()); one kampy cannot use falls back to epoll_lt at start
KAMAILIO_POLL_METHODS = ("poll", "epoll_lt", "epoll_et", "sigio_rt", "select", "kqueue", "/dev/poll")
CHILD_NO = 8
SHM_MEM_SIZE, PKG_MEM_SIZE = 64, 8
MAX_RECV_BUFFER_SIZE, MAX_URI_SIZE, BUF_SIZE = 262144, 1024, 65535


def compiler() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


HELP = f"""Usage: {SERVER_NAME} [options]
Options:
    -a mode      Auto aliases mode: enable with yes or on,
                  disable with no or off
    --alias=val  Add an alias, the value has to be '[proto:]hostname[:port]'
                  (like for 'alias' global parameter)
    --atexit=val Control atexit callbacks execution from external libraries
                  which may access destroyed shm memory causing crash on shutdown.
                  Can be y[es] or 1 to enable atexit callbacks, n[o] or 0 to disable,
                  default is yes.
    -A define    Add config pre-processor define (e.g., -A WITH_AUTH,
                  -A 'FLT_ACC=1', -A 'DEFVAL="str-val"')
    -b nr        Maximum OS UDP receive buffer size which will not be exceeded by
                  auto-probing-and-increase procedure even if OS allows
    -c           Check configuration file for syntax errors
    --cfg-print  Print configuration file evaluating includes and ifdefs
    -d           Debugging level control (multiple -d to increase the level from 0)
    --debug=val  Debugging level value
    -D           Control how daemonize is done:
                  -D..do not fork (almost) anyway;
                  -DD..do not daemonize creator;
                  -DDD..daemonize (default)
    -e           Log messages printed in terminal colors (requires -E)
    -E           Log to stderr
    -f file      Configuration file (default: {DEFAULT_CFG})
    -g gid       Change gid (group id)
    -G file      Create a pgid file
    -h           This help message
    --help       Long option for `-h`
    -I           Print more internal compile flags and options
    -K           Turn on "via:" host checking when forwarding replies
    -l address   Listen on the specified address/interface (multiple -l
                  mean listening on more addresses). The address format is
                  [proto:]addr_lst[:port][/advaddr],{' '}
                  where proto=udp|tcp|tls|sctp,{' '}
                  addr_lst= addr|(addr, addr_lst),{' '}
                  addr=host|ip_address|interface_name and{' '}
                  advaddr=addr[:port] (advertised address).{' '}
                  E.g: -l localhost, -l udp:127.0.0.1:5080, -l eth0:5062,
                  -l udp:127.0.0.1:5080/1.2.3.4:5060,
                  -l "sctp:(eth0)", -l "(eth0, eth1, 127.0.0.1):5065".
                  The default behaviour is to listen on all the interfaces.
    --loadmodule=name load the module specified by name
    --log-engine=log engine name and data
    -L path      Modules search path (default: {MODULES_DIR})
    -m nr        Size of shared memory allocated in Megabytes
    --modparam=modname:paramname:type:value set the module parameter
                  type has to be 's' for string value and 'i' for int value,{' '}
                  example: --modparam=corex:alias_subdomains:s:{SERVER_NAME}.org
    -M nr        Size of private memory allocated, in Megabytes
    -n processes Number of child processes to fork per interface
                  (default: {CHILD_NO})
    -N           Number of tcp child processes (default: equal to `-n')
    -O nr        Script optimization level (debugging option)
    -P file      Create a pid file
    -r           Use dns to check if is necessary to add a "received="
                  field to a via
    -R           Same as `-r` but use reverse dns;
                  (to use both use `-rR`)
    --server-id=num set the value for server_id
    --subst=exp set a subst preprocessor directive
    --substdef=exp set a substdef preprocessor directive
    --substdefs=exp set a substdefs preprocessor directive
    -t dir       Chroot to "dir"
    -T           Disable tcp
    -u uid       Change uid (user id)
    -v           Version number
    --version    Long option for `-v`
    -V           Alternative for `-v`
    -x name      Specify internal manager for shared memory (shm)
                  - can be: fm, qm or tlsf
    -X name      Specify internal manager for private memory (pkg)
                  - if omitted, the one for shm is used
    -Y dir       Runtime dir path
    -w dir       Change the working directory to "dir" (default: "/")
    -W type      poll method (depending on support in OS, it can be: poll,
                  epoll_lt, epoll_et, sigio_rt, select, kqueue, /dev/poll)

{SERVER_NAME}'s own commands: {SERVER_NAME} run|check|rpc|db|doc ... ({SERVER_NAME} COMMAND -h)
"""


def help_text() -> str:
    return f"version: {version_string()}\n{HELP}"


def constants_line() -> str:
    """print_ct_constants(), for kampy (no ADAPTIVE_WAIT: kampy has no spin locks)."""
    return (f"MAX_RECV_BUFFER_SIZE {MAX_RECV_BUFFER_SIZE}, MAX_URI_SIZE {MAX_URI_SIZE}, "
            f"BUF_SIZE {BUF_SIZE}, DEFAULT PKG_SIZE {PKG_MEM_SIZE}MB\n"
            f"poll method support: {', '.join(POLL_METHODS)}.")


def version_text() -> str:
    return (f"version: {version_string()}\nflags: {CORE_FLAGS}\n{constants_line()}\n"
            f"id: {source_id()} \ncompiled on {built_time()} with {compiler()}\n")


def internals_text() -> str:
    return f"""Print out of {SERVER_NAME} internals
  Version: {version_string()}
  Default config: {DEFAULT_CFG}
  Default paths to modules: {MODULES_DIR}
  Compile flags: {CORE_FLAGS}
  MAX_RECV_BUFFER_SIZE={MAX_RECV_BUFFER_SIZE}
  MAX_URI_SIZE={MAX_URI_SIZE}
  BUF_SIZE={BUF_SIZE}
  DEFAULT PKG_SIZE={PKG_MEM_SIZE}MB
  DEFAULT SHM_SIZE={SHM_MEM_SIZE}MB
  TCP poll methods: {', '.join(POLL_METHODS)}
  Source code revision ID: {source_id()}{' '}
  Compiled with: {compiler()}
  Compiled architecture: {platform.machine()}
  Compiled on: {built_time()}
Thank you for flying {SERVER_NAME}!
"""


__all__ = ["help_text", "version_text", "internals_text", "DEFAULT_CFG", "KAMPY_VERSION"]
