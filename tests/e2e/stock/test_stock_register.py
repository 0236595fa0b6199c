"""Digest-authenticated REGISTER with the stock config (WITH_AUTH on MariaDB, location in the database)."""
from __future__ import annotations

import shutil
from pathlib import Path

from tests.e2e.sipp_proxy import run_uac
from tests.e2e.stock.scenario import on
from tests.e2e.stock.world import DOMAIN, SIP, Stock

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


@on("kamailio", "kampy")
def test_register_is_challenged_then_accepted(stock: Stock) -> None:
    stock.add_user("alice", "alice-pw")
    stock.start()
    alice = stock.ua("alice")
    replies = alice.register()
    assert [r.status for r in replies] == [401, 200]
    assert 'realm="127.0.0.1"' in (replies[0].header("www-authenticate") or "")
    stock.observe("replies", [r.first for r in replies])


@on("kamailio", "kampy")
def test_a_wrong_password_is_challenged_again_and_registers_nothing(stock: Stock) -> None:
    stock.add_user("alice", "alice-pw")
    stock.start()
    replies = stock.ua("alice", password="not-alice-pw").register()
    assert [r.status for r in replies] == [401, 401]
    stock.stop()
    assert "location" not in stock.rows()
    stock.observe("replies", [r.first for r in replies])


@on("kamailio", "kampy")
def test_sipp_registers_users_with_digest_authentication(stock: Stock) -> None:
    users = [(f"user{n}", DOMAIN, f"user{n}-pw") for n in range(1, 4)]
    for user, domain, password in users:
        stock.add_user(user, password, domain)
    stock.start()
    injection = stock.workdir / "users.csv"
    injection.write_text("SEQUENTIAL\n" + "".join(f"{u};{d};[authentication username={u} password={p}]\n"
                                                   for u, d, p in users))
    # Call-IDs without sipp's pid (its default -cid_str is %u-%p@%s): both servers get the same bytes
    run = run_uac(shutil.which("sipp") or "sipp", SCENARIOS / "register_auth.xml", SIP, stock.workdir,
                  calls=len(users), rate=10, timeout=20, local=("127.0.0.40", 5070),
                  prefix=stock.ns.run_prefix(), extra=["-inf", str(injection), "-cid_str", "%u@%s"])
    assert (run.exit_code, run.succeeded, run.failed) == (0, 3, 0), run.output
    stock.stop()
    assert sorted(r["username"] for r in stock.rows()["location"]) == ["user1", "user2", "user3"]
