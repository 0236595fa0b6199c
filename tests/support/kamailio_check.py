"""`kamailio -c` and `kampy check` on the same config text, for tests that hold kampy to
Kamailio 5.6's verdict (Debian's kamailio package, installed by scripts/test.sh)."""
from __future__ import annotations

import contextlib
import io
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kampy.cli import main

KAMAILIO = Path("/usr/sbin/kamailio")


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    output: str


def kamailio_check(cfg: Path, *defines: str) -> Verdict:
    """Kamailio's verdict; run in the config's folder so nothing is written elsewhere."""
    assert KAMAILIO.exists(), "Kamailio 5.6 is missing: scripts/test.sh installs the Debian package"
    args = [str(KAMAILIO), "-c", "-f", str(cfg)]
    for name in defines:
        args += ["-A", name]
    done = subprocess.run(args, cwd=cfg.parent, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    return Verdict(done.returncode == 0, done.stdout + done.stderr)


def kampy_check(cfg: Path, *defines: str, syntax_only: bool = False) -> Verdict:
    """`kampy check` as the command line runs it (exit status 0 or 1, messages on stderr)."""
    args = ["check", str(cfg), *(["--syntax-only"] if syntax_only else [])]
    for name in defines:
        args += ["-A", name]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    assert code in (0, 1), err.getvalue()
    return Verdict(code == 0, out.getvalue() + err.getvalue())


def both(tmp_path: Path, text: str, *defines: str) -> tuple[Verdict, Verdict]:
    """(Kamailio's verdict, kampy's) on `text` written to tmp_path/kamailio.cfg."""
    cfg = tmp_path / "kamailio.cfg"
    cfg.write_text(text)
    return kamailio_check(cfg, *defines), kampy_check(cfg, *defines)
