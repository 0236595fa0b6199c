"""`kampy` on the command line: thin, it parses flags and calls the library.

    kampy check [-f] CFG [-A NAME[=VALUE]]... [--syntax-only] [--cfg-print] [--allow-missing]
    kampy run [-f] CFG [-A NAME[=VALUE]]... [-l ADDR]... [-E] [-d...] [-D] [-n N] [-N N] [-T] [-P FILE]
    kampy rpc ... | kampy db ... | kampy doc ...
    kampy [Kamailio's options]         (no command: started as `kamailio` is, kampy.cmdline)
"""
from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kampy.cmdline.logsetup import FacilitySyslogHandler as FacilitySysLogHandler  # kampy run's syslog
from kampy.errors import ConfigError
from kampy.runtime.loglevels import apply_debug, debug_threshold, set_log_stderr

log = logging.getLogger("kampy")


def parse_defines(values: Sequence[str] | None) -> dict[str, str | None]:
    defines: dict[str, str | None] = {}
    for item in values or ():
        name, eq, value = item.partition("=")
        defines[name] = value if eq else None
    return defines


def _config_path(args: argparse.Namespace) -> str | None:
    return args.file or args.cfg


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("cfg", nargs="?", help="the configuration file")
    p.add_argument("-f", dest="file", metavar="CFG", help="the configuration file (as kamailio -f)")
    p.add_argument("-A", dest="defines", action="append", metavar="NAME[=VALUE]",
                   help="define NAME for the preprocessor (as kamailio -A)")


def cmd_check(args: argparse.Namespace) -> int:
    from kampy.config.compile import compile_config
    from kampy.config.pipeline import parse_preprocessed
    from kampy.config.preprocess import format_cfg_print, preprocess_file

    path = _config_path(args)
    if not path:
        print("kampy check: no config file given (kampy check CFG or -f CFG)", file=sys.stderr)
        return 2
    if not Path(path).is_file():
        print(f"kampy check: {path}: no such file", file=sys.stderr)
        return 2
    config = None
    try:
        pp = preprocess_file(path, parse_defines(args.defines))
        for warning in pp.warnings:
            print(warning.format(), file=sys.stderr)
        if args.cfg_print:
            sys.stdout.write(format_cfg_print(pp))
            return 0
        config = parse_preprocessed(pp, path)
        stand_ins: list = []
        if args.allow_missing and not args.syntax_only:
            from kampy.config.lacking import allowed_missing, lacking_functions

            hook, extra, stand_ins = allowed_missing(lacking_functions(config))
            compiled = compile_config(config, missing_module=hook, extra_modules=extra)
        else:
            compiled = compile_config(config, resolve=not args.syntax_only)
    except ConfigError as exc:
        _report_config_error(path, exc)
        if config is not None and not args.allow_missing:
            _note_lacking(config)
        return 1
    for warning in [*stand_ins, *compiled.warnings]:
        print(warning.format(), file=sys.stderr)
    routes = len(compiled.routes)
    if args.syntax_only:
        print(f"{path}: syntax OK ({routes} route blocks)")
    else:
        print(f"{path}: OK ({len(compiled.modules)} modules, {routes} route blocks, "
              f"{len(compiled.functions_used)} distinct functions)")
    return 0


def _note_lacking(config: object) -> None:
    """When a loadmodule names a module kampy lacks, list the functions the config calls that
    kampy cannot run (a test can give them stand-ins)."""
    from kampy.config.lacking import lacking_functions

    lacking = lacking_functions(config)  # type: ignore[arg-type]
    if lacking.note():
        print(lacking.note(), file=sys.stderr)


def _report_config_error(path: str, exc: ConfigError) -> None:
    for diag in exc.diagnostics:
        print(diag.format(), file=sys.stderr)
    count = sum(d.severity == "error" for d in exc.diagnostics)
    print(f"{path}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)


def debug_level(args: argparse.Namespace, core_params: dict) -> int:
    """The core `debug` level: --debug N, else one per -d (as Kamailio's -d counts), else the
    config's `debug=` (Kamailio's default 0, L_WARN)."""
    if args.debug is not None:
        return int(args.debug)
    if args.verbose:
        return int(args.verbose)
    return int(core_params.get("debug", 0) or 0)


def _configure_run_logging(args: argparse.Namespace, core_params: dict) -> None:
    """-E (or log_stderror=yes) logs to stderr, otherwise to syslog as Kamailio does; -d/--debug
    override the config's `debug` (Kamailio's default is 0, warnings). What kampy listens on is
    always logged."""
    from kampy.runtime.values import as_bool

    debug = debug_level(args, core_params)
    handler: logging.Handler
    to_stderr = bool(args.stderr or as_bool(core_params.get("log_stderror"), False)
                     or not os.path.exists("/dev/log"))
    set_log_stderr(to_stderr)
    if to_stderr:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(process)d %(levelname)s: %(name)s: %(message)s"))
    else:
        name = str(core_params.get("log_name") or "kampy")
        handler = FacilitySysLogHandler("/dev/log", facility=_syslog_facility(core_params))
        handler.setFormatter(logging.Formatter(name + "[%(process)d]: %(levelname)s: %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(debug_threshold(debug))
    apply_debug(debug)
    logging.getLogger("kampy.listen").setLevel(logging.INFO)


def _syslog_facility(core_params: dict) -> int:
    name = str(core_params.get("log_facility") or "LOG_DAEMON").lower().removeprefix("log_")
    return logging.handlers.SysLogHandler.facility_names.get(name, logging.handlers.SysLogHandler.LOG_DAEMON)


def cmd_run(args: argparse.Namespace) -> int:
    """Load the config (errors stop here, before anything is bound), bind, serve until SIGTERM."""
    from kampy.config.pipeline import load_file
    from kampy.net import BindError, NetParams
    from kampy.net import run as net_run

    path = _config_path(args)
    if not path:
        print("kampy run: no config file given (kampy run CFG or -f CFG)", file=sys.stderr)
        return 2
    if not Path(path).is_file():
        print(f"kampy run: {path}: no such file", file=sys.stderr)
        return 2
    try:
        compiled = load_file(path, parse_defines(args.defines))
    except ConfigError as exc:
        _report_config_error(path, exc)
        return 1
    _configure_run_logging(args, compiled.core_params)
    for warning in compiled.warnings:
        logging.getLogger("kampy.config").warning("%s", warning.format())
    params = NetParams.from_core_params(compiled.core_params).with_overrides(
        fork=False if args.dont_fork == 1 else None, children=args.children,
        tcp_children=args.tcp_children, disable_tcp=True if args.no_tcp else None)
    if args.pid_file:
        Path(args.pid_file).write_text(f"{os.getpid()}\n")
    try:
        return net_run(compiled, params, args.listen)
    except BindError as exc:
        log.error("%s", exc)
        return 1
    except ConfigError as exc:  # a module refused the config when it was built (fork=no)
        _report_config_error(path, exc)
        return 1


def _add_run_args(run: argparse.ArgumentParser) -> None:
    _add_config_args(run)
    run.add_argument("-l", dest="listen", action="append", metavar="ADDR",
                     help="listen on [proto:]addr[:port] instead of the config's listen= (repeatable)")
    run.add_argument("-E", dest="stderr", action="store_true", help="log to stderr (default: syslog)")
    run.add_argument("-e", dest="color", action="store_true", help="accepted for Kamailio; no colors")
    run.add_argument("-d", dest="verbose", action="count", default=0,
                     help="raise the debug level by one per -d (overrides debug=)")
    run.add_argument("--debug", dest="debug", type=int, metavar="N", help="set the debug level (-5..3)")
    run.add_argument("-D", dest="dont_fork", action="count", default=0,
                     help="-D: do not fork (one process, as fork=no); -DD: fork, stay in the foreground "
                          "(kampy never daemonizes)")
    run.add_argument("-n", dest="children", type=int, metavar="N", help="worker processes (children=)")
    run.add_argument("-N", dest="tcp_children", type=int, metavar="N", help="TCP workers (tcp_children=)")
    run.add_argument("-T", dest="no_tcp", action="store_true", help="disable TCP (disable_tcp=yes)")
    run.add_argument("-P", dest="pid_file", metavar="FILE", help="write the main process id to FILE")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kampy", description="A Kamailio-compatible SIP server in Python")
    parser.add_argument("--log-level", default="WARNING", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check a config and report every error with file:line:col")
    _add_config_args(check)
    check.add_argument("--syntax-only", action="store_true", help="parse only; do not resolve modules")
    check.add_argument("--cfg-print", action="store_true", help="print the preprocessed config and exit")
    check.add_argument("--allow-missing", action="store_true",
                       help="what kampy lacks (modules, their functions, pseudo-variables, parameters) is a "
                            "warning, and the rest of the config is checked against Kamailio 5.6's "
                            "declarations of it: what a test must stand in")
    check.set_defaults(func=cmd_check)
    run = sub.add_parser("run", help="serve SIP over UDP and TCP with a config until SIGTERM/SIGINT")
    _add_run_args(run)
    run.set_defaults(func=cmd_run)
    from kampy.cli_db import add_parser as add_db_parser

    add_db_parser(sub)
    from kampy.cli_rpc import add_parser as add_rpc_parser

    add_rpc_parser(sub)
    from kampy.docgen import add_parser as add_doc_parser

    add_doc_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`kampy COMMAND ...` runs one of kampy's commands; anything else (options, or nothing) is
    Kamailio's command line (kampy.cmdline.start)."""
    own_process = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") or argv[0].lower() in ("start", "stop", "restart"):
        from kampy.cmdline.start import main as kamailio_main

        return kamailio_main(argv, own_process)
    args = build_parser().parse_args(argv)
    if args.command == "run":
        return args.func(args)  # configures logging itself, from -E/-d and the config
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
