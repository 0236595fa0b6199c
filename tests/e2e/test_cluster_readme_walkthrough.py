"""samples/cluster/README.md, run as written: its `kampy db create` and `kampy run` commands, then the
walkthrough's sipp and `cat` commands, moved to free ports and a private MariaDB."""
from __future__ import annotations

import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.testing import mariadb
from tests.e2e import msilo_sample
from tests.e2e.cluster import CLUSTER
from tests.e2e.kampy_process import REPO, free_port, start_server, track
from tests.e2e.test_msilo_readme_walkthrough import kampy_argv, run_walkthrough, sh_blocks

README = CLUSTER / "README.md"
README_URL = "mysql://kamailio:kamailiorw@localhost/kamailio"


@pytest.fixture
def db_url(mariadb_server: mariadb.MariaDB) -> Iterator[str]:
    with mariadb.fresh_database(mariadb_server) as url:
        yield url


def readme_blocks() -> tuple[list[str], list[str]]:
    """The commands of "Running it" and of "Walkthrough"."""
    text = README.read_text()
    running = sh_blocks(text[text.index("## Running it"):])[0]
    walkthrough = sh_blocks(text[text.index("## Walkthrough"):])[0]
    return running, walkthrough


def start_readme_node(command: str, db_url: str, tmp_path: Path,
                      ports: dict[str, int]) -> msilo_sample.Server:
    """`kampy run samples/cluster/nodeN.cfg` with the database and a free port instead of 506N."""
    cfg = shlex.split(command)[2]
    readme_port = (REPO / cfg).read_text().split("#!trydef NODE_PORT ", 1)[1].split()[0]
    port = ports.setdefault(readme_port, free_port())
    defines = [f'DBURL="{db_url}"', f"NODE_PORT={port}", f'NODE_URI="sip:127.0.0.1:{port}"']
    argv = kampy_argv(command) + ["-E"] + [a for d in defines for a in ("-A", d)]
    log_path = tmp_path / f"node-{port}.log"
    with open(log_path, "wb") as out:
        proc = start_server(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    node = track(msilo_sample.Server("kampy", proc, port, log_path))
    msilo_sample.wait_answering(node, 30)
    return node


def test_the_cluster_readme_runs_as_written(tmp_path: Path, db_url: str, sipp: str) -> None:
    running, walkthrough = readme_blocks()
    create, *runs = running
    assert create == f"kampy db create --db-url {README_URL}"
    result = subprocess.run(kampy_argv(create.replace(README_URL, db_url)), cwd=REPO, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert runs == ["kampy run samples/cluster/node1.cfg", "kampy run samples/cluster/node2.cfg"]
    node_ports: dict[str, int] = {}
    nodes = []
    try:
        for command in runs:
            nodes.append(start_readme_node(command, db_url, tmp_path, node_ports))
        run_walkthrough(walkthrough, tmp_path, {str(k): v for k, v in node_ports.items()},
                        lambda: "\n".join(node.output() for node in nodes))
    finally:
        for node in nodes:
            node.stop()
