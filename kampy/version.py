"""The one place for versions: kampy's own, and the Kamailio version kampy behaves as (the
preprocessor's KAMAILIO_5_6_3 defines, `$version(num)`, the grammar of kampy/config/core_params.py).

setup.cfg reads KAMPY_VERSION from here (`attr:`); everything else imports it.
"""
from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

KAMPY_VERSION = "0.1.0"
KAMAILIO_VERSION = (5, 6, 3)  # the Kamailio that Debian 12 ships, which the tests run beside kampy
KAMAILIO_VERSION_TEXT = ".".join(map(str, KAMAILIO_VERSION))
SERVER_NAME = "kampy"
# the default Server: / User-Agent: header value, as Kamailio's "kamailio (5.6.3 (x86_64/linux))"
SERVER_HEADER = f"{SERVER_NAME} ({KAMPY_VERSION})"


def version_string() -> str:
    """The full version: `core.version`, `$version(full)`, `kampy -v`, as Kamailio's full_version:
    `NAME VERSION (ARCH/OS) REPO_VER`, the repository version empty (a trailing space, as in
    Debian's build) when kampy is not run from a git checkout."""
    repo = source_id()
    repo = "" if repo == "unknown" else repo
    return f"{SERVER_NAME} {KAMPY_VERSION} ({platform.machine()}/{sys.platform}) {repo}"


def source_id() -> str:
    """The git revision kampy runs from (Kamailio's repository hash, `ver_id`), or "unknown" for
    an install that is not a git checkout."""
    git = Path(__file__).resolve().parent.parent / ".git"
    try:
        if git.is_file():  # a worktree: "gitdir: <path>"
            git = Path(git.read_text().split(":", 1)[1].strip())
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        common = git / "commondir"
        roots = [git, (git / common.read_text().strip()).resolve()] if common.exists() else [git]
        for root in roots:
            if (root / ref).is_file():
                return (root / ref).read_text().strip()[:12]
            packed = root / "packed-refs"
            if packed.is_file():
                for line in packed.read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0][:12]
    except (OSError, IndexError):
        pass
    return "unknown"


def built_time() -> str:
    """When this copy of kampy was installed or last changed, in Kamailio's `__TIME__ __DATE__`
    form (kampy is not compiled: its package's files carry the time)."""
    return time.strftime("%H:%M:%S %b %d %Y", time.localtime(Path(__file__).stat().st_mtime))
