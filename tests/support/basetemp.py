"""A short base directory for the session's temporary files.

Kamailio refuses a unix socket path over 104 bytes (its ctl socket, under a test's tmp_path), and
pytest's default base (/tmp/pytest-of-<user>/pytest-<n>/) with pytest-xdist's per-worker folder
(popen-gw<n>/) and a long test name goes past it. `/tmp/kt-<random>/` is 14 bytes shorter than
the default and, unlike a fixed --basetemp, private to the run: other runs beside it are not
touched. It is removed when the run ends (KAMPY_KEEP_TMP=1 keeps it, to look at after a failure).
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest


@pytest.hookimpl(tryfirst=True)  # before pytest's tmpdir plugin reads the option
def pytest_configure(config: pytest.Config) -> None:
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return  # given on the command line, or an xdist worker (its folder is under the run's)
    base = tempfile.mkdtemp(prefix="kt-", dir="/tmp")
    config.option.basetemp = base
    if os.environ.get("KAMPY_KEEP_TMP") != "1":
        config.add_cleanup(lambda: shutil.rmtree(base, ignore_errors=True))
