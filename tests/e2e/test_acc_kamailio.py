"""acc beside Kamailio 5.6: both run configs/acc.cfg (syslog and MariaDB accounting, report_ack,
report_cancels, extra attributes) for the same calls (INVITE/200/ACK/BYE, a missed call answered
486, a CANCELed call, a MESSAGE accounted from the script, a call tm answers itself) and write
the same log lines and the same acc and missed_calls rows."""
from __future__ import annotations

import re
import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from kampy.db import connect, create_tables
from kampy.testing import mariadb
from tests.e2e.kampy_process import CONFIGS
from tests.e2e.proxy import UA, start_proxy

ACC_CFG = CONFIGS / "acc.cfg"
DEFAULT_URL = '"mysql://kamailio:kamailiorw@localhost/kamailio"'
COLUMNS = "method, from_tag, to_tag, callid, sip_code, sip_reason, src_user, dst_user, leg_src, leg_dst"


def _tables(url: str) -> None:
    with connect(url) as db:
        create_tables(db, ["acc", "missed_calls"])
        for table in ("acc", "missed_calls"):
            for column in ("src_user", "dst_user", "leg_src", "leg_dst"):
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(64) DEFAULT ''")
            db.execute(f"ALTER TABLE {table} ADD COLUMN time_attr DOUBLE")


def _calls(alice: UA, bob: UA) -> str:
    """The calls, each finished (final replies seen) before the next starts."""
    # answered, acknowledged, hung up
    d = alice.send_request("INVITE", bob.contact, to=bob.aor, call_id="acc-call-1", extra=("User-Agent: t1",))
    bob.respond(bob.wait_request("INVITE"), 200, "OK", to_tag="bob-1", contact=True)
    ok = alice.final_reply(d)
    alice.ack(d, ok)
    bob.wait_request("ACK")
    bye = alice.bye(d)
    bob.respond(bob.wait_request("BYE"), 200, "OK", to_tag=None)
    alice.final_reply(bye)
    # busy: a missed call and a failed transaction
    d = alice.send_request("INVITE", bob.contact, to=bob.aor, call_id="acc-call-2")
    bob.respond(bob.wait_request("INVITE"), 486, "Busy Here", to_tag="bob-2",
                extra=('Reason: SIP;cause=486;text="busy"',))
    alice.ack(d, alice.final_reply(d))
    # early media, then CANCELed: 200 to the CANCEL, 487 relayed to the INVITE
    d = alice.send_request("INVITE", bob.contact, to=bob.aor, call_id="acc-call-3")
    invite = bob.wait_request("INVITE")
    bob.respond(invite, 183, "Session Progress", to_tag="bob-3", body=b"v=0\r\n")
    alice.reply_status(d, 183)
    c = alice.cancel(d)
    alice.final_reply(c)
    cancel = bob.wait_request("CANCEL")
    bob.respond(cancel, 200, "OK", to_tag="bob-3")
    bob.respond(invite, 487, "Request Terminated", to_tag="bob-3")
    alice.ack(d, alice.final_reply(d))
    # accounted by the script
    m = alice.send_request("MESSAGE", bob.contact, to=bob.aor, call_id="acc-msg-1", body=b"hi")
    alice.final_reply(m)
    # answered by tm itself: Kamailio's reason text, tm's To-tag for the missed call (last: Kamailio
    # keeps that To-tag and writes it into later records without one, which kampy does not)
    d = alice.send_request("INVITE", "sip:nobody@example.test", call_id="acc-call-4")
    nobody = alice.final_reply(d)
    alice.ack(d, nobody)
    time.sleep(0.3)  # the last ACK reaches tm
    return nobody.to_tag or ""


def _normal(line: str, local_tag: str) -> str:
    """A log line without what differs between runs: the time, tm's own To-tag."""
    line = re.sub(r"timestamp=\d+", "timestamp=T", line)
    return re.sub(r"time_attr=\d+\.\d{3};", "time_attr=SEC.MSEC;", line).replace(local_tag, "TM-TAG")


def _run(target: str, directory: Path, url: str, *defines: str) -> dict[str, list]:
    _tables(url)
    cfg = directory / f"acc-{target}.cfg"
    cfg.write_text(ACC_CFG.read_text().replace(DEFAULT_URL, f'"{url}"'))
    proxy = start_proxy(target, directory, cfg=cfg, defines=defines)
    alice, bob = UA("alice", proxy.addr), UA("bob", proxy.addr)
    try:
        local_tag = _calls(alice, bob)
    finally:
        alice.close()
        bob.close()
        proxy.stop()
    lines = [_normal(line, local_tag) for line in re.findall(r"ACC: [^\n]*", proxy.output())]
    with connect(url) as db:
        rows = {t: [tuple("TM-TAG" if v == local_tag else v for v in row)
                    for row in db.raw_query(f"SELECT {COLUMNS} FROM {t} ORDER BY id")]
                for t in ("acc", "missed_calls")}
        seconds = db.raw_query("SELECT MAX(ABS(TIMESTAMPDIFF(SECOND, time, NOW()))) FROM acc")[0][0]
        time_attrs = [r[0] for r in db.raw_query("SELECT time_attr - UNIX_TIMESTAMP(time) FROM acc")]
    return {"log": lines, "acc": rows["acc"], "missed_calls": rows["missed_calls"], "seconds": seconds,
            "time_attrs": time_attrs}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, mariadb_server: mariadb.MariaDB) -> dict[str, dict]:
    directory = tmp_path_factory.mktemp("acc")
    targets = ("kamailio-1", "kampy-1", "kampy-4")
    with ExitStack() as stack:
        urls = [stack.enter_context(mariadb.fresh_database(mariadb_server)) for _ in targets]
        return {target: _run(target, directory, url) for target, url in zip(targets, urls, strict=True)}


@pytest.fixture
def both(runs: dict[str, dict]) -> tuple[dict, dict]:
    return runs["kamailio-1"], runs["kampy-1"]


def test_the_log_lines_are_kamailios(both: tuple[dict, dict]) -> None:
    kamailio, kampy = both
    assert kamailio["log"][0] == ("ACC: transaction answered: timestamp=T;method=INVITE;from_tag=tag-alice;"
                                  "to_tag=bob-1;call_id=acc-call-1;code=200;reason=OK;src_user=alice;"
                                  "dst_user=bob;ua=t1")
    assert kampy["log"] == kamailio["log"]


def test_the_acc_rows_are_kamailios(both: tuple[dict, dict]) -> None:
    kamailio, kampy = both
    busy = ("INVITE", "tag-alice", "bob-2", "acc-call-2", "486", "Busy Here", "alice", "bob", "", "")
    assert busy in kamailio["acc"]
    assert kampy["acc"] == kamailio["acc"]


def test_the_missed_calls_rows_are_kamailios(both: tuple[dict, dict]) -> None:
    kamailio, kampy = both
    assert [r[3:6] for r in kamailio["missed_calls"]] == [("acc-call-2", "486", "Busy Here"),
                                                          ("acc-call-3", "487", "Request Terminated"),
                                                          ("acc-call-4", "404", "Not Found")]
    assert kampy["missed_calls"] == kamailio["missed_calls"]


def test_the_time_column_holds_the_local_time_of_the_record(both: tuple[dict, dict]) -> None:
    kamailio, kampy = both
    assert kamailio["seconds"] < 120
    assert kampy["seconds"] < 120


def test_four_workers_account_as_one(runs: dict[str, dict]) -> None:
    """The ACKs, BYEs and CANCELs reach any worker; the transaction's owner accounts them."""
    four, kamailio = runs["kampy-4"], runs["kamailio-1"]
    assert (four["log"], four["acc"], four["missed_calls"]) == (kamailio["log"], kamailio["acc"],
                                                                 kamailio["missed_calls"])


@pytest.fixture(scope="module")
def more(tmp_path_factory: pytest.TempPathFactory, mariadb_server: mariadb.MariaDB) -> tuple[dict, dict]:
    """The same calls with ACC_MORE: time_mode 2, multi_leg_info, acc_extra_nullable, failed_filter
    487, reason_from_hf, early_media."""
    directory = tmp_path_factory.mktemp("acc-more")
    with ExitStack() as stack:
        urls = [stack.enter_context(mariadb.fresh_database(mariadb_server)) for _ in range(2)]
        return (_run("kamailio-1", directory, urls[0], "ACC_MORE"),
                _run("kampy-1", directory, urls[1], "ACC_MORE"))


def test_legs_time_attr_and_filters_are_kamailios(more: tuple[dict, dict]) -> None:
    kamailio, kampy = more
    assert kamailio["log"][0].endswith(";code=200;reason=OK;src_user=alice;dst_user=bob;ua=t1"
                                       ";leg_src=c;leg_dst=b;leg_src=a;leg_dst=")
    assert "time_attr=SEC.MSEC;" in kamailio["log"][0]
    assert any(';code=486;reason=SIP;cause=486;text="busy";' in line for line in kamailio["log"])
    assert any(";code=183;reason=Session Progress;" in line for line in kamailio["log"])
    assert (kampy["log"], kampy["acc"], kampy["missed_calls"]) == (kamailio["log"], kamailio["acc"],
                                                                   kamailio["missed_calls"])


def test_time_mode_2_writes_the_seconds_with_their_fraction(more: tuple[dict, dict]) -> None:
    for run in more:
        assert run["time_attrs"] and all(0 <= t < 1 for t in run["time_attrs"]), run["time_attrs"]
