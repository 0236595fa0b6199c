"""Unit tgroup0001 of Kamailio's suite (group membership): `kamctl acl grant alice@127.0.0.1 test`,
kampy started with the unit's config, then with `-A WITH_MULTIDOMAIN`; an OPTIONS to alice must
log that she is in group test both times. The unit uses MySQL: here Debian's kamdbctl and
kamctl make the tables and the grant in an SQLite file."""
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
loadmodule "group.so"

modparam("group", "db_url", DBURL)
modparam("group", "use_domain", MULTIDOMAIN)

request_route {{
	if(is_user_in("Request-URI", "test")) {{
		xlog("user $rU is in group test\\n");
		sl_send_reply("200", "OK");
		exit;
	}}
	xlog("user $rU is not in group test\\n");
	sl_send_reply("404", "Not found");
	exit;
}}"""


def test_tgroup0001_alice_granted_group_test_is_in_it_with_and_without_multidomain(
        tmp_path: Path, unit_server: Callable[..., UnitServer]) -> None:
    db_path = tmp_path / "kamailio.sqlite"
    env = rc_env(tmp_path / "home", sqlite_settings(db_path))
    run("kamdbctl", "create", env=env)
    run("kamctl", "acl", "grant", "alice@127.0.0.1", "test",
        env={**env, "VERIFY_ACL": "0", "VERIFY_USER": "0"})
    cfg = CFG.format(url=f"sqlite://{db_path}")
    for options in (("-a", "no", "-ddd", "-E"), ("-A", "WITH_MULTIDOMAIN", "-a", "no", "-ddd", "-E")):
        server = unit_server(cfg, "tgroup0001")
        server.log_path.write_text("")
        server.start(*options)
        assert status(server.sipsak("sip:alice@127.0.0.1")) == 200
        server.stop()
        assert "user alice is in group test" in server.log()
