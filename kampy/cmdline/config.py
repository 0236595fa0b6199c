"""The config as Kamailio's command line reads it: `-f FILE` (`-` for stdin, default
/etc/kamailio/kamailio.cfg), `-A` defines, `--subst*` rules, `-L` (the modules' path, winning over
the config's `mpath`), `--loadmodule` and `--modparam` (applied before the config's own lines)."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from kampy.cmdline.options import Exit, Options, fail
from kampy.config import ast
from kampy.config.compile import CompiledConfig, compile_config
from kampy.config.pipeline import parse_preprocessed
from kampy.config.preprocess import Preprocessed, format_cfg_print, preprocess_file, preprocess_text
from kampy.errors import ConfigError

COMMAND_LINE = ast.Pos("<command line>", 0, 0)


def _preprocess(opts: Options) -> tuple[Preprocessed, str]:
    path = opts.cfg_file
    if path == "-":
        return preprocess_text(sys.stdin.read(), "<stdin>", opts.defines), "<stdin>"
    try:
        Path(path).open().close()
    except OSError as exc:
        raise fail(f"ERROR: loading config file({path}): {exc.strerror}, check file and directory "
                   "permissions") from None
    return preprocess_file(path, opts.defines, opts.substs), path


def load(opts: Options) -> CompiledConfig:
    """The compiled config; raises Exit (255 with every error and position, or 0 after
    `--cfg-print` printed the preprocessed text)."""
    try:
        pp, name = _preprocess(opts)
        if opts.cfg_print:
            raise Exit(0, out=format_cfg_print(pp))
        config = with_command_line(parse_preprocessed(pp, name), opts)
        compiled = compile_config(config)
        compiled.ppdefines = pp.ppdefines
        return compiled
    except ConfigError as exc:
        lines = [d.format() for d in exc.diagnostics]
        raise Exit(255, err="\n".join(lines) + f"\nERROR: bad config file ({len(lines)} errors) "
                   "(parsing code: 0)\n") from None


def with_command_line(config: ast.Config, opts: Options) -> ast.Config:
    """The config's lines after `-L`, `--loadmodule` and `--modparam` (set before the config is
    read, as Kamailio's main() sets them); with `-L`, the config's `mpath` is not used."""
    head: list[ast.TopItem] = []
    items = list(config.items)
    if opts.mpath:
        head.append(ast.LoadPath(opts.mpath, pos=COMMAND_LINE))
        items = [i for i in items if not _is_mpath(i)]
    head += [ast.LoadModule(name, pos=COMMAND_LINE) for name in opts.loadmodules]
    for module, name, value in opts.modparams:
        node: ast.Str | ast.Int = ast.Int(value, pos=COMMAND_LINE) if isinstance(value, int) else \
            ast.Str(value, pos=COMMAND_LINE)
        head.append(ast.ModParam(module, name, node, pos=COMMAND_LINE))
    return dataclasses.replace(config, items=tuple(head + items))


def _is_mpath(item: ast.Node) -> bool:
    return isinstance(item, ast.LoadPath) or (isinstance(item, ast.CoreParam) and
                                              item.name in ("mpath", "loadpath"))
