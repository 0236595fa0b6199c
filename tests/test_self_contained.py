"""The suite stands on its own: a clone on any machine has every file the tests read."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
# A path outside the repository that only this machine (or the project's shared folder) has;
# spelled in pieces so that this file does not match it
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "/" + "shared" + "/", "/" + "work" + "/"]))


def test_no_code_reads_a_path_outside_the_repository():
    where = ["tests", "samples", "kampy", "modules", "scripts", "bench", ".ci"]
    found = subprocess.run(["git", "grep", "-nE", OUTSIDE.pattern, "--", *where],
                           cwd=REPO, capture_output=True, text=True)
    assert found.returncode == 1, found.stdout  # 1: nothing matched


def test_every_data_file_has_a_line_of_origin_in_the_readme():
    readme = (DATA / "README.md").read_text()
    for path in DATA.rglob("*"):
        if path.is_file() and path.name != "README.md" and path.parent == DATA:
            assert f"`{path.name}`" in readme, path
    for folder in (p for p in DATA.iterdir() if p.is_dir()):
        assert f"`{folder.name}/" in readme, folder


def test_the_torture_messages_keep_their_crlf_bytes():
    wsinv = (DATA / "rfc4475" / "wsinv.dat").read_bytes()
    assert b"\r\n" in wsinv and b"\r\n\r\n" in wsinv
