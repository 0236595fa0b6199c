"""Unit tauthx0001 of Kamailio's suite (user authentication - basic tests): `kamctl add
alice@127.0.0.1 alice123`, the server started with the unit's config, then with `-A
WITH_MULTIDOMAIN`; sipsak's OPTIONS from alice to bob is challenged (auth_challenge), sent again
with alice's credentials, and the log says that alice is authenticated, both times. The unit uses
MySQL: here Debian's kamdbctl and kamctl make the tables and the subscriber in an SQLite file."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.units.harness import UnitServer, status
from tests.support.kamctl import rc_env, run, sqlite_settings

CFG = """#!KAMAILIO

children=2

#!define DBURL "{url}"

#!ifdef WITH_MULTIDOMAIN
#!define MULTIDOMAIN 1
#!else
#!define MULTIDOMAIN 0
#!endif

loadmodule "db_sqlite.so"
loadmodule "jsonrpcs.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "auth.so"
loadmodule "auth_db.so"

modparam("auth_db", "db_url", DBURL)
modparam("auth_db", "calculate_ha1", yes)
modparam("auth_db", "password_column", "password")
modparam("auth_db", "load_credentials", "")
modparam("auth_db", "use_domain", MULTIDOMAIN)

request_route {{
	if (!auth_check("$fd", "subscriber", "0")) {{
		auth_challenge("$fd", "0");
		exit;
	}}

	xlog("user $au is authenticated\\n");
	sl_send_reply("200", "OK");
	exit;
}}"""


def test_tauthx0001_alice_is_authenticated_with_her_password_with_and_without_multidomain(
        tmp_path: Path, unit_server: Callable[..., UnitServer]) -> None:
    db_path = tmp_path / "kamailio.sqlite"
    env = rc_env(tmp_path / "home", sqlite_settings(db_path))
    run("kamdbctl", "create", env=env)
    run("kamctl", "add", "alice@127.0.0.1", "alice123", env=env)
    cfg = CFG.format(url=f"sqlite://{db_path}")
    for options in (("-a", "no", "-ddd", "-E"), ("-A", "WITH_MULTIDOMAIN", "-a", "no", "-ddd", "-E")):
        server = unit_server(cfg, "tauthx0001")
        server.log_path.write_text("")
        server.start(*options)
        reply = server.sipsak_auth("sip:bob@127.0.0.1", "alice", "alice123", from_uri="sip:alice@127.0.0.1")
        assert status(reply) == 200
        server.stop()
        assert "user alice is authenticated" in server.log()
