"""A third-party module as its own distribution: samples/modules/kampy-hello, really pip-installed.

The test makes a fresh venv that sees the packages of the environment running the tests (kampy's
dependencies and the build tools of its `test` extra: setuptools, wheel), never the system Python's,
pip-installs kampy and the example into it (no index, no build isolation), then uses the venv's
`kampy` only: `kampy check` finds `hello` through its `kampy.modules` entry point and validates calls
to its functions as it does for built-ins, and `kampy run` serves a request that hello() answers.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.kampy_process import READY_MARK, free_port, start_server, stop_process

REPO = Path(__file__).resolve().parent.parent
HELLO_DIST = REPO / "samples" / "modules" / "kampy-hello"

CONFIG = """
debug=2
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "hello.so"
modparam("hello", "greeting", "Hi")

request_route {
    if ($rm == "OPTIONS") {
        hello("$fU");
        exit;
    }
    sl_send_reply("404", "Not here");
}
"""

BAD_CONFIG = """
loadmodule "sl.so"
loadmodule "hello.so"
modparam("hello", "greetings", "Hi")
request_route {
    hello();
}
failure_route[F] {
    hello("x");
}
"""


def run(cmd: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INDEX": "1"}
    env.pop("PYTHONPATH", None)
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with kampy and kampy-hello installed by pip; returns its bin/ folder."""
    where = tmp_path_factory.mktemp("venv")
    made = run([sys.executable, "-m", "venv", str(where / "env")], where)
    made.check_returncode()
    bin_dir = where / "env" / "bin"
    _see_running_environment(bin_dir / "python")
    hello = shutil.copytree(HELLO_DIST, where / "kampy-hello",  # pip builds in the tree: keep ours clean
                            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    for source in (REPO, hello):
        done = run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", str(source)], where)
        assert done.returncode == 0, done.stderr
    return bin_dir


def _see_running_environment(python: Path) -> None:
    """Append this environment's site-packages to the new venv's path with a .pth file: the new
    venv's own site-packages (where pip installs) still comes first. A .pth file in an appended
    folder is not read, so this environment's editable kampy does not leak into the new venv."""
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = run([str(python), "-c", code], python.parent)
    purelib.check_returncode()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib.stdout.strip(), "running-environment.pth").write_text("\n".join(sorted(ours)) + "\n")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """Somewhere away from the repository, so only what pip installed is importable."""
    return tmp_path


def test_installed_where_pip_puts_it(venv: Path, workdir: Path) -> None:
    code = ("import kampy, kampy_hello; from importlib.metadata import entry_points; "
            "print(kampy.__file__); print(kampy_hello.__file__); "
            "print([e.value for e in entry_points(group='kampy.modules')])")
    out = run([str(venv / "python"), "-c", code], workdir)
    assert out.returncode == 0, out.stderr
    kampy_file, hello_file, eps = out.stdout.splitlines()
    assert kampy_file.startswith(str(venv.parent)) and hello_file.startswith(str(venv.parent))
    assert "kampy_hello:EXPORTS" in eps


def test_kampy_check_accepts_the_config(venv: Path, workdir: Path) -> None:
    (workdir / "hello.cfg").write_text(CONFIG)
    out = run([str(venv / "kampy"), "check", "hello.cfg"], workdir)
    assert out.returncode == 0, out.stderr
    assert "OK (3 modules" in out.stdout


def test_kampy_check_validates_hello_calls_as_built_ins(venv: Path, workdir: Path) -> None:
    (workdir / "bad.cfg").write_text(BAD_CONFIG)
    out = run([str(venv / "kampy"), "check", "bad.cfg"], workdir)
    assert out.returncode == 1
    assert "bad.cfg:4:1: error: module 'hello' has no parameter 'greetings' (did you mean 'greeting'?)" \
        in out.stderr
    assert "bad.cfg:6:5: error: hello() takes 1 argument, 0 given" in out.stderr
    assert "bad.cfg:9:5: error: hello() cannot be used in failure_route" in out.stderr
    assert "bad.cfg: 3 errors" in out.stderr


def test_kampy_doc_renders_the_installed_module(venv: Path, workdir: Path) -> None:
    out = run([str(venv / "kampy"), "doc", "hello"], workdir)
    assert out.returncode == 0, out.stderr
    assert "#### `hello(name)`" in out.stdout and "- `hello:greeted`" in out.stdout


@pytest.fixture
def served(venv: Path, workdir: Path) -> Iterator[int]:
    (workdir / "hello.cfg").write_text(CONFIG)
    port = free_port()
    log_path = workdir / "kampy.log"
    with open(log_path, "wb") as log:
        proc = start_server([str(venv / "kampy"), "run", "-f", "hello.cfg", "-E", "-n", "1",
                             "-l", f"udp:127.0.0.1:{port}"], cwd=workdir, stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while READY_MARK not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.05)
        yield port
    finally:
        stop_process(proc)


def options(port: int, local_port: int) -> bytes:
    return (f"OPTIONS sip:hello@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};branch=z9hG4bK-hello-1;rport\r\n"
            "Max-Forwards: 70\r\n"
            "From: <sip:alice@example.test>;tag=a1\r\n"
            f"To: <sip:hello@127.0.0.1:{port}>\r\n"
            "Call-ID: hello-1@127.0.0.1\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def test_hello_answers_on_the_wire(served: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as ua:
        ua.bind(("127.0.0.1", 0))
        ua.settimeout(5)
        ua.sendto(options(served, ua.getsockname()[1]), ("127.0.0.1", served))
        reply, _ = ua.recvfrom(65535)
    lines = reply.decode().split("\r\n")
    assert lines[0] == "SIP/2.0 200 Hi, alice"
    assert "X-Hello: Hi, alice" in lines
    assert "Call-ID: hello-1@127.0.0.1" in lines
