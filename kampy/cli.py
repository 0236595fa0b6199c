"""`kampy` on the command line: thin, it parses flags and calls the library.

    kampy check [-f] CFG [-A NAME[=VALUE]]... [--syntax-only] [--cfg-print]
    kampy -c -f CFG [-A ...]          (Kamailio's own spelling of a config check)
"""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from kampy.errors import ConfigError

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
    try:
        pp = preprocess_file(path, parse_defines(args.defines))
        if args.cfg_print:
            sys.stdout.write(format_cfg_print(pp))
            return 0
        config = parse_preprocessed(pp, path)
        compiled = compile_config(config, resolve=not args.syntax_only)
    except ConfigError as exc:
        for diag in exc.diagnostics:
            print(diag.format(), file=sys.stderr)
        count = len(exc.diagnostics)
        print(f"{path}: {count} error{'s' if count != 1 else ''}", file=sys.stderr)
        return 1
    for warning in compiled.warnings:
        print(warning.format(), file=sys.stderr)
    routes = len(compiled.routes)
    if args.syntax_only:
        print(f"{path}: syntax OK ({routes} route blocks)")
    else:
        print(f"{path}: OK ({len(compiled.modules)} modules, {routes} route blocks, "
              f"{len(compiled.functions_used)} distinct functions)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kampy", description="A Kamailio-compatible SIP server in Python")
    parser.add_argument("--log-level", default="WARNING", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="check a config and report every error with file:line:col")
    _add_config_args(check)
    check.add_argument("--syntax-only", action="store_true", help="parse only; do not resolve modules")
    check.add_argument("--cfg-print", action="store_true", help="print the preprocessed config and exit")
    check.set_defaults(func=cmd_check)
    return parser


def _kamailio_style(argv: list[str]) -> list[str]:
    """Turn `kampy -c -f CFG ...` into `kampy check -f CFG ...`."""
    if "-c" in argv:
        rest = [a for a in argv if a != "-c"]
        return ["check", *rest]
    if "--cfg-print" in argv:
        return ["check", *argv]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = _kamailio_style(argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
