"""Debian's `kamdbctl` and `kamctl` run against the test's databases, configured through a private
rc file: each run gets a HOME of its own holding `.kamctlrc` (both tools source ~/.kamctlrc after
/etc/kamailio/kamctlrc, whose settings Debian ships commented out)."""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from kampy.testing.mariadb import PASSWORD, USER, MariaDB

ALL_TABLE_SETS = {"INSTALL_EXTRA_TABLES": "yes", "INSTALL_PRESENCE_TABLES": "yes",
                  "INSTALL_DBUID_TABLES": "yes"}


def rc_env(home: Path, settings: dict[str, str]) -> dict[str, str]:
    """Write `settings` to `home`/.kamctlrc; the environment that makes the tools read it."""
    home.mkdir(parents=True, exist_ok=True)
    (home / ".kamctlrc").write_text("".join(f'{k}="{v}"\n' for k, v in settings.items()))
    return {**os.environ, "HOME": str(home)}


def mysql_settings(server: MariaDB, database: str) -> dict[str, str]:
    """kamdbctl/kamctl on `database` of the test's MariaDB, as root without a password for kamdbctl
    and as the kamailio account for kamctl. The read-only account kamdbctl creates gets a new name
    each time: kamdbctl fails when the accounts it creates exist already."""
    reader = f"ro_{uuid.uuid4().hex[:10]}"
    return {"DBENGINE": "MYSQL", "DBHOST": "127.0.0.1", "DBPORT": str(server.port), "DBNAME": database,
            "DBRWUSER": USER, "DBRWPW": PASSWORD, "DBROUSER": reader, "DBROPW": reader, "DBROOTUSER": "root",
            "DBROOTPWSKIP": "yes", "CHARSET": "utf8mb4", **ALL_TABLE_SETS}


def kamdbctl_create_mysql(home: Path, server: MariaDB, database: str) -> dict[str, str]:
    """`kamdbctl create` of `database`, readable and writable by the kamailio account from anywhere
    (kamdbctl grants it to the account at DBHOST only, and MariaDB names 127.0.0.1 `localhost`);
    returns the kamctlrc settings that point kamctl at it."""
    settings = mysql_settings(server, database)
    run("kamdbctl", "create", env=rc_env(home, settings))
    server.as_root(*(f"GRANT ALL ON {database}.* TO '{USER}'@'{host}'" for host in ("%", "localhost")))
    return settings


def sqlite_settings(path: Path) -> dict[str, str]:
    return {"DBENGINE": "SQLITE", "DB_PATH": str(path), **ALL_TABLE_SETS}


def run(tool: str, *args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """`tool args` (kamdbctl, kamctl) with no terminal input; fails the test with its output when it
    exits non-zero and `check` is set."""
    proc = subprocess.run([tool, *args], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{tool} {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc
