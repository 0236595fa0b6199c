"""sqlops, dialplan, avpops, group, uri_db, tmrec and cfgutils beside Kamailio 5.6: the same config
(configs/misc_modules.cfg) and the same requests on both servers, each with a database of its
own in the session's MariaDB, seeded alike. The replies (what each function returned and gave,
in X-* headers: values and their types, rows, translations, AVPs, matches) and the rows written to
usr_preferences must be the same; so must what exec's commands find in their environment."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kampy.db import connect, create_tables
from kampy.testing import mariadb
from tests.e2e.kampy_process import CONFIGS
from tests.e2e.proxy import UA, start_proxy

CFG = CONFIGS / "misc_modules.cfg"
TZ = "Europe/Berlin"  # the recurrences and DATETIME values are local time: one with summer time

RULES = [  # dpid, pr, match_op, match_exp, match_len, subst_exp, repl_exp, attrs
    (1, 1, 1, "^0[1-9][0-9]+$", 0, "^0([1-9][0-9]+)$", "0049\\1", "de"),
    (1, 2, 1, "^0[1-9][0-9]+$", 0, "^0(.+)$", "$var(prefix)\\1", "xyz"),
    (2, 1, 0, "112", 0, "", "911", "emergency"),
    (2, 2, 2, "8*", 0, "", "", "fn"),
    (3, 5, 1, "^1", 0, "^1(.*)", "short\\1", "four"),
    (3, 9, 1, "^1", 4, "^1(.*)", "len4-\\1", "by length"),
    (4, 1, 1, "^(49)(.*)$", 0, "^(49)(.*)$", "+\\1 \\2", "groups"),
    (5, 1, 1, "^9", 0, "^9(.*)$", "\\1\\n$rU", "pv"),
    (6, 1, 1, "^\\Q+49\\E[[:digit:]]+\\z", 0, "^\\Q+49\\E(?<rest>[[:digit:]]+)$", "0\\1", "pcre spellings"),
]
PREFERENCES = [  # uuid, username, domain, attribute, type, value
    ("", "alice", "example.test", "fwd", 0, "sip:voicemail@example.test"),
    ("", "alice", "example.test", "timeout", 1, "30"),
    ("", "alice", "other.test", "fwd", 0, "sip:other@other.test"),
    ("", "alice", "example.test", "678", 2, "sip:by-id@example.test"),
    ("u-42", "", "", "lang", 0, "de"),
]


def ts(text: str) -> int:
    """A timestamp from local time 'YYYY-MM-DD HH:MM' in TZ."""
    return int(time.mktime(time.strptime(text, "%Y-%m-%d %H:%M")))


def requests() -> list[tuple[str, dict[str, str]]]:
    found: list[tuple[str, dict[str, str]]] = []
    for query in ("select id, domain, did, last_modified from domain order by id",
                  "select count(*) from domain",
                  "select i, b, d, t, dt, n, dec_v, bl from kinds", "select 1, 'a', 2.5, null",
                  "select nonsense from nowhere", "select * from domain where id < 0"):
        found.append(("sql", {"X-Arg": query}))
    for query in ("update domain set did = 'x' where id > 0", "delete from domain where id < 0"):
        found.append(("sqlrows", {"X-Arg": query}))
    found += [("xquery", {}), ("pvquery", {}), ("sqlval", {"X-Arg": "it's \"q\""})]
    for dpid, value in ((1, "0301234567"), (1, "0"), (2, "112"), (2, "8765"), (3, "1234"), (3, "12345"),
                        (4, "49301"), (5, "9876"), (6, "+49301"), (6, "49301"), (9, "1"), (2, "999")):
        found.append(("dp", {"X-Dpid": str(dpid), "X-Arg": value}))
    for rec in ("20120101T000000|PT24H|weekly|||SA,SU", "20120101T083000|PT10H|weekly|||MO,TU,WE,TH,FR",
                "20240101T000000|PT24H|daily|||||||3", "20240101T000000|PT24H|monthly|||2MO",
                "20240101T000000|PT24H|monthly|||-1FR", "20240101T000000|PT24H|yearly|||||||10",
                "20240101T000000|PT24H|daily||12", "20240101T000000|PT24H|daily||||31",
                "20240101T000000|PT24H|daily||||-1", "20240101T000000|PT24H|yearly||||||60",
                "20240101T020000|PT1H|daily|20241231T000000", "20240101T000000|P1W", "bogus"):
        for when in ("2024-03-31 02:30", "2024-03-31 12:00", "2024-04-15 12:00", "2024-06-08 09:00",
                     "2024-06-10 12:00", "2024-06-28 12:00", "2024-10-27 02:30", "2024-12-31 23:59"):
            found.append(("tmrec", {"X-Arg": rec, "X-Ts": str(ts(when))}))
    for period in ("wd{2-6} hr{8-16}, wd{2-6} hr{17} min{0-29}", "wday { sat sun }, wday {mo-fr} hr {17-8}",
                   "month{jan-mar}", "mo{nov-feb} md{10}", "yd{100-200}", "wk{2}", "year{2024}", "yr{24}",
                   "sec{0-30} min{0}", "hr{25}", "nonsense{1}", "none", ""):
        for when in ("2024-02-10 08:00", "2024-06-10 17:15", "2024-06-15 12:00"):
            found.append(("period", {"X-Arg": period, "X-Ts": str(ts(when))}))
    found += [("avpload", {}), ("avpflags", {}), ("avpalias", {}), ("avpquery", {}), ("avpops", {}),
              ("group", {}), ("uridb", {}),
              ("cfgutils", {"X-Arg": "some-key"}), ("exec", {"X-Dup": "one", "X-Odd.Name": "odd"}),
              ("avpstore", {})]
    return found


def seed(url: str) -> None:
    with connect(url) as db:
        create_tables(db, ["domain", "dialplan", "usr_preferences", "grp", "re_grp", "subscriber"])
        db.insert("subscriber", {"username": "alice", "domain": "example.test", "password": "pw",
                                 "ha1": "h1", "ha1b": "h2"})
        for name, did in (("example.test", "d1"), ("other.test", None)):
            db.insert("domain", {"domain": name, "did": did})
        for dpid, pr, op, match, length, subst, repl, attrs in RULES:
            db.insert("dialplan", {"dpid": dpid, "pr": pr, "match_op": op, "match_exp": match,
                                   "match_len": length, "subst_exp": subst, "repl_exp": repl, "attrs": attrs})
        for uuid, user, domain, attribute, kind, value in PREFERENCES:
            db.insert("usr_preferences", {"uuid": uuid, "username": user, "domain": domain,
                                          "attribute": attribute, "type": kind, "value": value})
        db.insert("grp", {"username": "alice", "domain": "example.test", "grp": "test"})
        db.insert("re_grp", {"reg_exp": "^sip:[a-c].*@example\\.test$", "group_id": 1})
        db.insert("re_grp", {"reg_exp": "^sip:alice@", "group_id": 2})
        db.execute("create table kinds (i int, b bigint, d double, t varchar(10), dt datetime, n int, "
                   "dec_v decimal(6,2), bl blob)")
        db.execute("insert into kinds values (7, 12345678901, 1.5, 'text', '2024-06-10 12:00:00', null, "
                   "3.25, 'bytes')")


def run(target: str, url: str, directory: Path) -> tuple[list[tuple[str, list[tuple[str, str]]]], list[Any]]:
    seed(url)
    defines = [f'DBURL="{url}"', f'SQLCON="ca=>{url}"']
    proxy = start_proxy(target, directory, cfg=CFG, defines=defines)
    replies: list[tuple[str, list[tuple[str, str]]]] = []
    ua = UA("alice", proxy.addr)
    try:
        for op, headers in requests():
            extra = [f"X-Op: {op}", *(f"{k}: {v}" for k, v in headers.items())]
            if "X-Dup" in headers:
                extra.append("X-Dup: two")
            sent = ua.send_request("OPTIONS", "sip:bob@example.test", extra=tuple(extra))
            reply = ua.final_reply(sent, timeout=10)
            replies.append((f"{op} {headers}: {reply.first}",
                            [(n, v) for n, v in reply.headers if n.startswith("x-")]))
    finally:
        ua.close()
        proxy.stop()
    with connect(url) as db:
        columns = ["uuid", "username", "domain", "attribute", "type", "value"]
        rows = sorted(db.query("usr_preferences", columns))
    return replies, rows


@pytest.fixture
def local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", TZ)  # both servers inherit it
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_kampy_gives_what_kamailio_gives(tmp_path: Path, mariadb_server: mariadb.MariaDB,
                                        local_time: None) -> None:
    results = {}
    for target in ("kamailio", "kampy-2"):
        with mariadb.fresh_database(mariadb_server) as url:
            directory = tmp_path / target
            directory.mkdir()
            results[target] = run(target, url, directory)
    (kamailio_replies, kamailio_rows), (kampy_replies, kampy_rows) = results["kamailio"], results["kampy-2"]
    differing = [(k, p) for k, p in zip(kamailio_replies, kampy_replies, strict=True) if k != p]
    assert not differing, "\n\n".join(f"Kamailio: {k}\nkampy:    {p}" for k, p in differing[:20])
    assert kampy_rows == kamailio_rows
    # both fwd of alice deleted; red, blue, i:7 and a second timeout stored
    assert len(kampy_rows) == len(PREFERENCES) - 2 + 4
    assert ("avpload {}: SIP/2.0 200 Done", [
        ("x-rc", "1"), ("x-fwd", "sip:other@other.test sip:voicemail@example.test 2"), ("x-timeout", "31"),
        ("x-id", "sip:by-id@example.test"), ("x-lang", "1 de")]) in kampy_replies
    # uri_db without credentials: not in subscriber (-5), the same user (case aside), another (-10),
    # no credentials (-2), a user found in subscriber whatever the domain
    assert ("uridb {}: SIP/2.0 200 Done", [("x-u", "-5 1 1 -10 -2 -2 1")]) in kampy_replies
