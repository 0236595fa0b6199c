"""Starting and stopping a service the way systemd does from its unit file, for a test without systemd.

What systemd.service(5) and systemd.exec(5) say is done for the keys a unit like Debian's
kamailio.service uses: `Environment=` (quoted assignments), `EnvironmentFile=` (`-` for an optional
file, a glob), `User=`/`Group=` (with the user's supplementary groups, and USER, LOGNAME, HOME,
SHELL set), `RuntimeDirectory=` under /run with `RuntimeDirectoryMode=`, owned by the user;
`ExecStart=` split into words, `$VAR` becoming as many words as the value has and `${VAR}` one word;
`Type=forking`: the start succeeds when the command exits 0, and the main process is the one
`PIDFile=` names; stopping (`KillMode=control-group`): SIGTERM to every process of the service at
once, then the runtime directory removed.

Run as `python -m tests.support.systemd_unit UNIT RESULT.json [KAMPY]` inside a private namespace
(tests/e2e/test_systemd_unit.py): it starts the service, checks it serves (an OPTIONS to
127.0.0.1:5060, `kamcmd core.version` on its default socket), stops it and writes what it saw.
"""
from __future__ import annotations

import glob
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.kampy_process import group_members
from tests.e2e.sip import UDPClient

BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class Unit:
    service: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, path: Path) -> Unit:
        unit = cls()
        section = ""
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            key, _, value = line.partition("=")
            if section == "Service":
                unit.service.setdefault(key.strip(), []).append(value.strip())
        return unit

    def one(self, key: str, default: str = "") -> str:
        return self.service.get(key, [default])[-1]

    def environment(self) -> dict[str, str]:
        env = {"PATH": BASE_PATH, "LANG": "C.UTF-8"}
        user = self.one("User")
        if user:
            entry = pwd.getpwnam(user)
            env.update(USER=user, LOGNAME=user, HOME=entry.pw_dir, SHELL=entry.pw_shell)
        for value in self.service.get("Environment", []):
            for word in shlex.split(value):
                name, _, val = word.partition("=")
                env[name] = val
        for value in self.service.get("EnvironmentFile", []):
            optional = value.startswith("-")
            paths = sorted(glob.glob(value.lstrip("-"))) or ([] if optional else [value])
            for path in paths:
                env.update(read_environment_file(Path(path)))
        return env

    def exec_start(self, env: dict[str, str]) -> list[str]:
        words: list[str] = []
        for word in shlex.split(self.one("ExecStart").lstrip("-@:+!")):
            whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
            if whole:
                words += env.get(whole.group(1), "").split()
                continue
            words.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word))
        return words


def read_environment_file(path: Path) -> dict[str, str]:
    found = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#;" or "=" not in line:
            continue
        name, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name.strip()] = value
    return found


def runtime_directory(unit: Unit) -> Path | None:
    name = unit.one("RuntimeDirectory")
    if not name:
        return None
    path = Path("/run") / name
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(int(unit.one("RuntimeDirectoryMode", "0755"), 8))
    user, group = unit.one("User"), unit.one("Group")
    if user:
        os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid if group else -1)
    return path


def start(unit: Unit, binary: str | None, log: Path) -> tuple[int, int | None]:
    """(the start command's exit status, the main pid from PIDFile or None)."""
    env = unit.environment()
    argv = unit.exec_start(env)
    if binary:
        argv[0] = binary  # where kampy is installed here, for the unit's /usr/local/bin/kampy
    user, group = unit.one("User") or None, unit.one("Group") or None
    extra = os.getgrouplist(user, pwd.getpwnam(user).pw_gid) if user else None
    with open(log, "wb") as out:
        code = subprocess.run(argv, env=env, cwd="/", stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                              user=user, group=group, extra_groups=extra, timeout=60).returncode
    pid_file = Path(unit.one("PIDFile"))
    deadline = time.monotonic() + 5
    while code == 0 and not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text().split()[0]) if code == 0 and pid_file.exists() else None
    return code, pid


def stop(pgid: int, timeout: float = 15) -> bool:
    """KillMode=control-group: SIGTERM to every process at once; True when all are gone in time."""
    for pid in group_members(pgid):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_members(pgid):
        if time.monotonic() > deadline:
            for pid in group_members(pgid):
                os.kill(pid, signal.SIGKILL)
            return False
        time.sleep(0.05)
    return True


def sip_options(port: int = 5060) -> str:
    client = UDPClient()
    try:
        return client.request(("127.0.0.1", port)).split(b"\r\n")[0].decode()
    finally:
        client.close()


def users_of(pids: list[int]) -> list[str]:
    out = []
    for pid in pids:
        uid = int(next(line.split()[2] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                       if line.startswith("Uid:")))
        out.append(pwd.getpwuid(uid).pw_name)
    return sorted(set(out))


def main(unit_path: str, result_path: str, binary: str | None = None) -> None:
    unit = Unit.parse(Path(unit_path))
    rundir = runtime_directory(unit)
    env = unit.environment()
    result: dict[str, object] = {"environment": env, "argv": unit.exec_start(env)}
    code, pid = start(unit, binary, Path(result_path).with_suffix(".log"))
    result.update(start_status=code, main_pid=pid)
    if pid is not None:
        pgid = os.getpgid(pid)
        members = group_members(pgid)
        result.update(processes=len(members), users=users_of(members),
                      main_parent=int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]),
                      options=sip_options(),
                      kamcmd=subprocess.run([shutil.which("kamcmd") or "/usr/sbin/kamcmd", "core.version"],
                                            capture_output=True, text=True, timeout=10).stdout,
                      run_files=sorted(os.listdir(rundir)) if rundir else [])
        result["stopped"] = stop(pgid)
        result["left"] = group_members(pgid)
        if rundir:
            result["run_files_after"] = sorted(os.listdir(rundir))
            shutil.rmtree(rundir)  # systemd removes RuntimeDirectory= when the service stops
    Path(result_path).write_text(json.dumps(result))


if __name__ == "__main__":
    main(*sys.argv[1:])
