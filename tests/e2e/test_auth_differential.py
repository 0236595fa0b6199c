"""auth, auth_db, permissions, domain, alias_db and speeddial on the wire, Kamailio 5.6 beside kampy
(two workers) on one MariaDB, running configs/auth.cfg unchanged: each step is sent to both servers
and their replies must agree (status, reason, the header lines in order, the results the config
puts in X-Rc/X-Result, the challenge with its nonce masked). Both servers share the `secret`, so a
nonce one of them issued must authenticate at the other."""
from __future__ import annotations

import itertools
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kampy.db import connect, create_tables, subscribers
from kampy.testing import mariadb
from tests.e2e.kampy_process import CONFIGS
from tests.e2e.proxy import Msg, Proxy, start_proxy
from kampy.testing.digest import Challenge, Credentials

CFG = CONFIGS / "auth.cfg"
TARGETS = ("kamailio-2", "kampy-2")
TABLES = ["version", "subscriber", "address", "trusted", "domain", "domain_attrs", "dbaliases", "speed_dial"]
_seq = itertools.count(1)


@pytest.fixture(scope="module")
def database(mariadb_server: mariadb.MariaDB) -> Iterator[str]:
    with mariadb.fresh_database(mariadb_server) as url:
        with connect(url) as db:
            create_tables(db, TABLES)
            users = (("alice", "example.test", "alice-pw"), ("bob", "example.test", "bob-pw"),
                     ("alice", "example.org", "org-pw"))
            for user, domain, password in users:
                subscribers.add(db, subscribers.Account(user, domain), password)
            db.insert("address", {"grp": 1, "ip_addr": "127.0.0.31", "mask": 32, "port": 0, "tag": "gw"})
            db.insert("trusted", {"src_ip": "127.0.0.32", "proto": "udp",
                                  "from_pattern": "^sip:.*@pstn\\.test$", "tag": "carrier", "priority": 1})
            for domain, did in (("example.test", None), ("example.org", "org")):
                db.insert("domain", {"domain": domain, "did": did})
            db.insert("domain_attrs", {"did": "org", "name": "tier", "type": 0, "value": "2"})
            db.insert("dbaliases", {"alias_username": "support", "alias_domain": "example.test",
                                    "username": "bob", "domain": "example.test"})
            db.insert("speed_dial", {"username": "alice", "domain": "example.test", "sd_username": "11",
                                     "sd_domain": "example.test", "new_uri": "sip:bob@example.test"})
        yield url


@pytest.fixture(scope="module")
def servers(database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Proxy]]]:
    """Both servers for each set of defines, started on first use."""
    started: dict[str, dict[str, Proxy]] = {}
    workdir = tmp_path_factory.mktemp("auth-differential")
    yield _Lazy(started, database, workdir)  # type: ignore[misc]
    for pair in started.values():
        for server in pair.values():
            server.stop()


class _Lazy(dict):  # type: ignore[type-arg]
    def __init__(self, started: dict[str, dict[str, Proxy]], url: str, workdir: Path) -> None:
        super().__init__()
        self.started, self.url, self.workdir = started, url, workdir

    def __getitem__(self, defines: str) -> dict[str, Proxy]:
        if defines not in self.started:
            extra = [d for d in defines.split(",") if d] + [f'DBURL="{self.url}"']
            self.started[defines] = {t: start_proxy(t, self.workdir, cfg=CFG, defines=extra) for t in TARGETS}
        return self.started[defines]


@dataclass
class Agent:
    """A user agent on a loopback address of its own, sending the same bytes to both servers."""

    user: str
    domain: str = "example.test"
    host: str = "127.0.0.1"
    password: str = ""

    def __post_init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((self.host, 0))
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.creds = Credentials(self.user, self.password or f"{self.user}-pw")

    def close(self) -> None:
        self.sock.close()

    def request(self, server: Proxy, method: str, ruri: str, *, to: str | None = None,
                authorization: str | None = None, call_id: str | None = None,
                from_: str | None = None) -> Msg:
        n = next(_seq)
        header = "Authorization" if method == "REGISTER" else "Proxy-Authorization"
        lines = [f"{method} {ruri} SIP/2.0",
                 f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK-{n}",
                 "Max-Forwards: 70",
                 f"From: <{from_ or f'sip:{self.user}@{self.domain}'}>;tag=t{n}",
                 f"To: <{to or ruri}>",
                 f"Call-ID: {call_id or f'call-{n}'}",
                 f"CSeq: {n} {method}",
                 *([f"{header}: {authorization}"] if authorization else []),
                 "Content-Length: 0"]
        self.sock.sendto(("\r\n".join(lines) + "\r\n\r\n").encode(), server.addr)
        return Msg.parse(self.sock.recv(65535))

    def answer(self, challenge: Challenge, method: str, ruri: str) -> str:
        return self.creds.answer(challenge, method, ruri, cnonce="0a4f113b")


def challenge_of(reply: Msg) -> Challenge:
    value = reply.header("www-authenticate") or reply.header("proxy-authenticate")
    assert value is not None, reply
    return Challenge.parse(value)


def seen(reply: Msg) -> tuple[object, ...]:
    """What both servers must agree on: the status line's code and reason, the header names in
    order (but Server, which names the server), X-Rc, X-Result and the challenge, nonce masked."""
    challenge = reply.header("www-authenticate") or reply.header("proxy-authenticate") or ""
    return (reply.status, reply.reason, [n for n, _ in reply.headers if n != "server"],
            reply.header("x-rc"), reply.header("x-result"), re.sub(r'nonce="[^"]*"', 'nonce="*"', challenge))


def both(servers: dict[str, Proxy], step) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    """Run `step(server)` (returning the replies to compare) against both; they must agree."""
    results = [step(servers[t]) for t in TARGETS]
    assert results[0] == results[1], f"Kamailio: {results[0]}\nkampy:    {results[1]}"
    return results[0]


def register(agent: Agent, server: Proxy, **kw: object) -> list[Msg]:
    ruri = f"sip:{agent.domain}"
    first = agent.request(server, "REGISTER", ruri, to=f"sip:{agent.user}@{agent.domain}", **kw)
    if first.status != 401:
        return [first]
    answer = agent.answer(challenge_of(first), "REGISTER", ruri)
    return [first, agent.request(server, "REGISTER", ruri, to=f"sip:{agent.user}@{agent.domain}",
                                 authorization=answer, **kw)]


def invite(agent: Agent, server: Proxy, ruri: str, **kw: object) -> list[Msg]:
    first = agent.request(server, "INVITE", ruri, **kw)
    if first.status != 407:
        return [first]
    answer = agent.answer(challenge_of(first), "INVITE", ruri)
    return [first, agent.request(server, "INVITE", ruri, authorization=answer, **kw)]


def test_register_is_challenged_then_accepted(servers) -> None:
    alice = Agent("alice")
    replies = both(servers[""], lambda s: [seen(r) for r in register(alice, s)])
    assert [r[0] for r in replies] == [401, 200]
    assert (replies[0][3], replies[1][3]) == ("-5", "1 pw=alice-pw")


def test_a_wrong_password_is_minus_2(servers) -> None:
    eve = Agent("alice", password="wrong")
    replies = both(servers[""], lambda s: [seen(r) for r in register(eve, s)])
    assert [(r[0], r[3]) for r in replies] == [(401, "-5"), (401, "-2")]


def test_a_user_of_another_domain_has_its_own_password(servers) -> None:
    org = Agent("alice", "example.org", password="org-pw")
    assert [r[0] for r in both(servers[""], lambda s: [seen(r) for r in register(org, s)])] == [401, 200]
    unknown = Agent("carol", "example.org")
    assert both(servers[""], lambda s: [seen(r) for r in register(unknown, s)])[1][3] == "-3"


@pytest.mark.parametrize(("ruri", "result"), [
    ("sip:support@example.test",
     "to=alias ruri=sip:bob@example.test local=yes myself did=example.test tier=<null>"),
    ("sip:11@example.test",
     "to=speeddial ruri=sip:bob@example.test local=yes myself did=example.test tier=<null>"),
    ("sip:carol@example.org", "to=user ruri=sip:carol@example.org local=yes myself did=org tier=2"),
    ("sip:x@else.test", "to=user ruri=sip:x@else.test local=no did=<null> tier=<null>"),
])
def test_an_invite_is_challenged_407_then_routed_by_alias_speeddial_and_domain(servers, ruri: str,
                                                                               result: str) -> None:
    alice = Agent("alice")
    replies = both(servers[""], lambda s: [seen(r) for r in invite(alice, s, ruri)])
    assert [(r[0], r[3]) for r in replies] == [(407, "-5"), (200, None)]
    assert replies[1][4] == f"by=digest {result} peer=<null>"


def test_a_stranger_claiming_a_local_user_gets_user_mismatch(servers) -> None:
    alice = Agent("alice")

    def step(server: Proxy) -> list[tuple[object, ...]]:
        first = alice.request(server, "INVITE", "sip:bob@example.test")
        answer = alice.answer(challenge_of(first), "INVITE", "sip:bob@example.test")
        second = alice.request(server, "INVITE", "sip:bob@example.test", authorization=answer,
                               from_="sip:bob@example.test")
        return [seen(first), seen(second)]
    assert both(servers[""], step)[1][3] == "-8"


def test_ip_authentication_from_the_address_and_trusted_tables(servers) -> None:
    gateway, carrier = Agent("gw", host="127.0.0.31"), Agent("pstn", "pstn.test", host="127.0.0.32")
    replies = both(servers[""], lambda s: [seen(r) for r in invite(gateway, s, "sip:bob@example.test")]
                   + [seen(r) for r in invite(carrier, s, "sip:support@example.test")])
    assert [r[4].split(" to=")[0] + " " + r[4].split(" peer=")[1] for r in replies] == [  # type: ignore[union-attr]
        "by=address gw", "by=trusted carrier"]


def test_a_nonce_of_one_server_authenticates_at_the_other(servers) -> None:
    pair = servers[""]
    alice = Agent("alice")
    ruri = "sip:example.test"
    for issuer, checker in ((TARGETS[0], TARGETS[1]), (TARGETS[1], TARGETS[0])):
        challenge = challenge_of(alice.request(pair[issuer], "REGISTER", ruri, to="sip:alice@example.test"))
        reply = alice.request(pair[checker], "REGISTER", ruri, to="sip:alice@example.test",
                              authorization=alice.answer(challenge, "REGISTER", ruri))
        assert reply.status == 200, (issuer, checker, reply)


def test_one_time_nonces_authenticate_once(servers) -> None:
    alice = Agent("alice")

    def step(server: Proxy) -> list[tuple[object, ...]]:
        first, second = register(alice, server)
        again = alice.request(server, "REGISTER", "sip:example.test", to="sip:alice@example.test",
                              authorization=alice.answer(challenge_of(first), "REGISTER", "sip:example.test"))
        return [seen(first), seen(second), seen(again)]
    replies = both(servers["OTN"], step)
    assert [(r[0], r[3]) for r in replies] == [(401, "-5"), (200, "1 pw=alice-pw"), (401, "-6")]


def test_nonce_counts_must_grow(servers) -> None:
    alice = Agent("alice")
    ruri = "sip:example.test"

    def step(server: Proxy) -> list[tuple[object, ...]]:
        alice.creds.counts.clear()
        first = alice.request(server, "REGISTER", ruri, to="sip:alice@example.test")
        challenge = challenge_of(first)
        replies = [first]
        for _ in range(2):
            replies.append(alice.request(server, "REGISTER", ruri, to="sip:alice@example.test",
                                         authorization=alice.answer(challenge, "REGISTER", ruri)))
        alice.creds.counts[challenge.nonce] = 0
        replies.append(alice.request(server, "REGISTER", ruri, to="sip:alice@example.test",
                                     authorization=alice.answer(challenge, "REGISTER", ruri)))
        return [seen(r) for r in replies]
    replies = both(servers["NC"], step)
    assert [(r[0], r[3]) for r in replies] == [(401, "-5"), (200, "1 pw=alice-pw"), (200, "1 pw=alice-pw"),
                                               (401, "-4")]


def test_auth_checks_bind_the_nonce_to_the_call_id(servers) -> None:
    alice = Agent("alice")
    ruri = "sip:example.test"

    def step(server: Proxy) -> list[tuple[object, ...]]:
        first = alice.request(server, "REGISTER", ruri, to="sip:alice@example.test", call_id="reg-a")
        answer = alice.answer(challenge_of(first), "REGISTER", ruri)
        other = alice.request(server, "REGISTER", ruri, to="sip:alice@example.test", call_id="reg-b",
                              authorization=answer)
        same = alice.request(server, "REGISTER", ruri, to="sip:alice@example.test", call_id="reg-a",
                             authorization=answer)
        return [seen(first), seen(other), seen(same)]
    replies = both(servers["CHECKS"], step)
    assert [(r[0], r[3]) for r in replies] == [(401, "-5"), (401, "-4"), (200, "1 pw=alice-pw")]
