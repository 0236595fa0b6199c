"""`kampy db add|passwd|rm` change the `subscriber` table (and the tables kamctl cleans up) exactly
as Debian's `kamctl add|passwd|rm` do: each is compared with kamctl run on a second database of the
same kind, row for row except the id."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kampy.cli import main
from kampy.db import connect
from kampy.testing.mariadb import MariaDB
from tests.support import kamctl

COLUMNS = ["username", "domain", "password", "ha1", "ha1b"]


@dataclass
class Twins:
    """Two databases with Kamailio's tables: `ours` made by `kampy db create`, `theirs` by kamdbctl,
    with the environment that points kamctl at `theirs`."""

    ours: str
    theirs: str
    home: Path
    settings: dict[str, str]

    def env(self, **extra: str) -> dict[str, str]:
        """kamctl's environment, with `extra` kamctlrc settings."""
        return kamctl.rc_env(self.home, {**self.settings, **extra})

    def rows(self, url: str, table: str = "subscriber",
             columns: list[str] = COLUMNS) -> list[tuple[object, ...]]:
        with connect(url) as db:
            return sorted(db.query(table, columns))

    def same(self, table: str = "subscriber", columns: list[str] = COLUMNS) -> list[tuple[object, ...]]:
        """The rows of `table`, asserted equal in both databases."""
        ours, theirs = self.rows(self.ours, table, columns), self.rows(self.theirs, table, columns)
        assert ours == theirs
        return ours


@pytest.fixture(params=["sqlite", "mysql"])
def twins(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Twins]:
    if request.param == "sqlite":
        ours, theirs = tmp_path / "kampy.db", tmp_path / "kamailio.db"
        pair = Twins(f"sqlite://{ours}", f"sqlite://{theirs}", tmp_path / "home",
                     kamctl.sqlite_settings(theirs))
        kamctl.run("kamdbctl", "create", env=pair.env())
        assert main(["db", "create", "--db-url", pair.ours]) == 0
        yield pair
        return
    server: MariaDB = request.getfixturevalue("mariadb_server")
    ours_url = request.getfixturevalue("mysql_url")
    reference = f"kamctl_{uuid.uuid4().hex[:10]}"
    pair = Twins(ours_url, ours_url.rsplit("/", 1)[0] + "/" + reference, tmp_path / "home",
                 kamctl.kamdbctl_create_mysql(tmp_path / "home", server, reference))
    assert main(["db", "create", "--db-url", ours_url]) == 0
    try:
        yield pair
    finally:
        server.as_root(f"DROP DATABASE IF EXISTS {reference}")


def test_db_add_writes_the_row_kamctl_add_writes(twins: Twins) -> None:
    assert main(["db", "add", "--db-url", twins.ours, "alice@example.org", "s3cret"]) == 0
    kamctl.run("kamctl", "add", "alice@example.org", "s3cret", env=twins.env())
    assert twins.same() == [("alice", "example.org", "s3cret",
                             hashlib.md5(b"alice:example.org:s3cret").hexdigest(),
                             hashlib.md5(b"alice@example.org:example.org:s3cret").hexdigest())]


def test_db_add_without_plaintext_leaves_the_password_empty_as_kamctl(twins: Twins) -> None:
    assert main(["db", "add", "--db-url", twins.ours, "--no-plaintext", "bob@example.org", "pw"]) == 0
    kamctl.run("kamctl", "add", "bob@example.org", "pw", env=twins.env(STORE_PLAINTEXT_PW="0"))
    assert twins.same()[0][2] == ""


def test_db_add_takes_the_domain_from_sip_domain_as_kamctl(twins: Twins,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIP_DOMAIN", "example.net")
    assert main(["db", "add", "--db-url", twins.ours, "carol", "pw"]) == 0
    kamctl.run("kamctl", "add", "carol", "pw", env=twins.env(SIP_DOMAIN="example.net"))
    assert [r[:2] for r in twins.same()] == [("carol", "example.net")]


def test_db_passwd_writes_what_kamctl_passwd_writes(twins: Twins) -> None:
    assert main(["db", "add", "--db-url", twins.ours, "alice@example.org", "old"]) == 0
    assert main(["db", "passwd", "--db-url", twins.ours, "alice@example.org", "new"]) == 0
    kamctl.run("kamctl", "add", "alice@example.org", "old", env=twins.env())
    kamctl.run("kamctl", "passwd", "alice@example.org", "new", env=twins.env())
    assert twins.same()[0][2:4] == ("new", hashlib.md5(b"alice:example.org:new").hexdigest())


def test_db_rm_removes_what_kamctl_rm_removes(twins: Twins) -> None:
    for url in (twins.ours, twins.theirs):
        with connect(url) as db:
            for user in ("alice", "bob"):
                db.insert("subscriber", {"username": user, "domain": "example.org"})
                db.insert("dbaliases", {"alias_username": f"{user}-alias", "alias_domain": "example.org",
                                        "username": user, "domain": "example.org"})
                db.insert("grp", {"username": user, "domain": "example.org", "grp": "local",
                                  "last_modified": "2024-01-01 00:00:00"})
    assert main(["db", "rm", "--db-url", twins.ours, "alice@example.org"]) == 0
    # kamctl's exit status is its `ul rm`'s, which needs a running server
    kamctl.run("kamctl", "rm", "alice@example.org", env=twins.env(), check=False)
    assert twins.same(columns=["username"]) == [("bob",)]
    assert twins.same("dbaliases", ["alias_username", "username"]) == [("bob-alias", "bob")]
    assert twins.same("grp", ["username", "grp"]) == [("bob", "local")]


def test_db_add_refuses_an_existing_user(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite://{tmp_path}/k.db"
    assert main(["db", "create", "--db-url", url, "--groups", "auth_db"]) == 0
    assert main(["db", "add", "--db-url", url, "alice@example.org", "pw"]) == 0
    assert main(["db", "add", "--db-url", url, "alice@example.org", "other"]) == 1
    assert "user 'alice@example.org' already exists" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["passwd", "rm"])
def test_db_passwd_and_rm_refuse_a_user_that_does_not_exist(verb: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite://{tmp_path}/k.db"
    assert main(["db", "create", "--db-url", url, "--groups", "auth_db"]) == 0
    args = ["nobody@example.org", "pw"] if verb == "passwd" else ["nobody@example.org"]
    assert main(["db", verb, "--db-url", url, *args]) == 1
    assert "non-existent user 'nobody@example.org'" in capsys.readouterr().err


def test_db_add_without_a_domain_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIP_DOMAIN", raising=False)
    assert main(["db", "add", "--db-url", f"sqlite://{tmp_path}/k.db", "alice", "pw"]) == 2
    assert "domain unknown for 'alice'" in capsys.readouterr().err


def test_db_add_with_sha_256_stores_sha_256_hashes(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path}/k.db"
    assert main(["db", "create", "--db-url", url, "--groups", "auth_db"]) == 0
    assert main(["db", "add", "--db-url", url, "--algorithm", "SHA-256", "alice@example.org", "pw"]) == 0
    with connect(url) as db:
        assert db.query("subscriber", ["ha1", "ha1b"]) == [(
            hashlib.sha256(b"alice:example.org:pw").hexdigest(),
            hashlib.sha256(b"alice@example.org:example.org:pw").hexdigest())]

