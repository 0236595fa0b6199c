"""Debian's stock kamailio.cfg under test, unchanged, with the kampy pytest plugin.

The config is tests/data/kamailio-stock.cfg, a copy of /etc/kamailio/kamailio.cfg from Debian's
kamailio 5.6.3 package (see tests/data/README.md). It has no listen= and no alias= lines, so the
harness listens on 127.0.0.1:5060 and the tests give the domain as an alias. Every define is
exercised: those whose modules kampy has run on them, the modules kampy lacks are stood in
(docs/testing-your-cfg.md, "Stand-ins"). WITH_AUTH runs auth and auth_db on the test database, the
subscribers added as `kamctl add` adds them, so the phones' 401/407 answers go through the
config's AUTH route.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kampy.db import subscribers
from kampy.testing import NEVER, Answer, Harness, Tables, UdpPeer, UserAgent, stand_in
from tests.e2e.stock.certs import make as make_certificates

STOCK = Path(__file__).resolve().parents[2] / "tests" / "data" / "kamailio-stock.cfg"
DOMAIN = "example.test"
ALICE, BOB = f"sip:alice@{DOMAIN}", f"sip:bob@{DOMAIN}"
SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"


def stock(kampy_cfg, *defines: str, db: str = "sqlite", **standins) -> Harness:
    """The stock config with `defines` (on the test database `db`); kampy has every module it always
    loads, so only what a define adds that kampy lacks is stood in."""
    return kampy_cfg(STOCK, aliases=[DOMAIN], defines={name: None for name in defines}, db=db,
                     standins=standins)


def seeded_db(folder: Path, rows: dict[str, list[dict]], users: tuple[tuple[str, str, str], ...]) -> str:
    """An SQLite database with Kamailio's tables, `rows` and the subscribers (user, domain, password)
    in it before the server starts (what domain and permissions load at startup)."""
    url = f"sqlite://{folder / 'seeded.sqlite'}"
    Tables.create(url)
    tables = Tables(url)
    try:
        for table, table_rows in rows.items():
            for row in table_rows:
                tables[table].insert(row)
        for user, domain, password in users:  # as `kamctl add` adds them
            subscribers.add(tables.db, subscribers.Account(user, domain), password)
    finally:
        tables.close()
    return url


@pytest.fixture
def sip(kampy_cfg) -> Harness:
    return stock(kampy_cfg)


@pytest.fixture
def bob(sip: Harness) -> UserAgent:
    """Bob's phone, registered; the test answers his calls."""
    phone = sip.ua(BOB, "192.0.2.20:5062", answer=NEVER)
    phone.register().assert_reply(200)
    return phone


# ------------------------------------------------------------ the config as Debian ships it


def test_where_it_listens(sip: Harness) -> None:
    assert sip.listen == ["udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"]
    assert sip.aliases == [DOMAIN]


def test_keepalive(sip: Harness) -> None:
    result = sip.send_request("OPTIONS", f"sip:{DOMAIN}")
    result.assert_reply(200, "Keepalive")
    assert result.routes == ["request_route", "route[REQINIT]"]


def test_scanners_are_dropped_silently(sip: Harness) -> None:
    result = sip.send_request("OPTIONS", f"sip:{DOMAIN}", headers={"User-Agent": "friendly-scanner"})
    result.assert_no_reply()


def test_foreign_domains_are_not_relayed(sip: Harness) -> None:
    result = sip.send_request("INVITE", "sip:carol@elsewhere.test")
    result.assert_reply(403, "Not relaying")
    result.assert_route("route[AUTH]")


def test_unknown_user(sip: Harness) -> None:
    result = sip.send_request("MESSAGE", f"sip:nobody@{DOMAIN}", from_=ALICE, body="hi")
    result.assert_reply(404, "Not Found")
    assert result.codes("lookup") == [-1]


def test_register_then_a_message_is_relayed(sip: Harness) -> None:
    bob = sip.ua(BOB, "192.0.2.20:5062")
    bob.register(expires=600).assert_reply(200)

    result = sip.send_request("MESSAGE", BOB, from_=ALICE, body="hi")

    result.assert_reply(200)
    assert result.assert_forwarded("MESSAGE", to="192.0.2.20:5062").ruri == "sip:bob@192.0.2.20:5062"


# ------------------------------------------------------------ whole calls


def test_call_is_set_up_and_torn_down_through_the_record_route(sip: Harness, bob: UserAgent) -> None:
    call = sip.invite(BOB, body=SDP)
    invite = call.result.assert_forwarded("INVITE", to="192.0.2.20:5062")
    assert invite.headers("Record-Route") == ["<sip:127.0.0.1;lr>"]

    ringing = call.ringing()
    ringing.assert_route("onreply_route[MANAGE_REPLY]")
    call.answer(body=SDP)
    assert call.status == 200 and call.caller_view.route_set == ["<sip:127.0.0.1;lr>"]

    ack = call.ack()
    ack.assert_route("route[WITHINDLG]")
    ack.assert_forwarded("ACK", to="192.0.2.20:5062")
    bye = call.bye()
    bye.assert_reply(200)
    assert bye.flag(1), "FLT_ACC: the BYE is accounted"
    assert call.state == "terminated"


def test_cancel_of_a_ringing_call(sip: Harness, bob: UserAgent) -> None:
    call = sip.invite(BOB, body=SDP)
    call.ringing()

    result = call.cancel()

    result.assert_reply(200)
    result.assert_route("failure_route[MANAGE_FAILURE]")
    assert call.status == 487
    assert [m.method for m in bob.requests] == ["INVITE", "CANCEL", "ACK"]


def test_reinvite_within_the_call(sip: Harness, bob: UserAgent) -> None:
    call = sip.invite(BOB, body=SDP)
    call.answer(body=SDP)
    call.ack()

    result = call.reinvite(body=SDP.replace(b"4000", b"4002"))

    result.assert_route("route[WITHINDLG]")
    assert result.assert_forwarded("INVITE", to="192.0.2.20:5062").header("CSeq") == "2 INVITE"
    result.assert_reply(200)
    call.ack()
    call.bye(by="callee").assert_reply(200)


def test_a_call_to_two_phones_is_taken_by_one_and_cancelled_at_the_other(sip: Harness) -> None:
    desk = sip.ua(BOB, "192.0.2.20:5062", answer=NEVER)
    mobile = sip.ua(BOB, "192.0.2.21:5062", answer=NEVER)
    desk.register().assert_reply(200)
    mobile.register().assert_reply(200)

    call = sip.invite(BOB, body=SDP)
    call.ringing(by=mobile)
    call.ringing(by=desk)
    answered = call.answer(by=desk, body=SDP)

    assert [m.dest for m in call.result.forwarded] == ["udp:192.0.2.20:5062", "udp:192.0.2.21:5062"]
    answered.assert_forwarded("CANCEL", to="192.0.2.21:5062")
    assert call.callee is desk and call.caller_view.remote_target == "sip:bob@192.0.2.20:5062"
    call.ack()
    call.bye().assert_forwarded("BYE", to="192.0.2.20:5062")


# ------------------------------------------------------------ WITH_MYSQL, WITH_USRLOCDB


def test_registrations_are_written_to_the_location_table(kampy_cfg) -> None:
    sip = stock(kampy_cfg, "WITH_MYSQL", "WITH_USRLOCDB")
    sip.ua(BOB, "192.0.2.20:5062").register(expires=600).assert_reply(200)
    assert sip.tables["location"].rows() == [], "db_mode 2: written back by the timer"

    sip.advance(60)  # usrloc's timer_interval

    (row,) = sip.tables["location"].rows()
    assert (row["username"], row["contact"]) == ("bob", "sip:bob@192.0.2.20:5062")


# ------------------------------------------------------------ WITH_AUTH: auth and auth_db on the test DB


@pytest.fixture
def authsip(kampy_cfg) -> Harness:
    sip = stock(kampy_cfg, "WITH_MYSQL", "WITH_AUTH")
    for user, password in (("alice", "alice-secret"), ("bob", "bob-secret")):  # as `kamctl add` adds them
        subscribers.add(sip.tables.db, subscribers.Account(user, DOMAIN), password)
    return sip


def test_register_is_challenged_and_the_phone_answers_with_digest(authsip: Harness) -> None:
    bob = authsip.ua(BOB, "192.0.2.20:5062", password="bob-secret")

    result = bob.register()

    result.assert_reply(200)
    assert result.challenge.status == 401
    assert result.request.header("Authorization").startswith(f'Digest username="bob", realm="{DOMAIN}"')


def test_a_wrong_password_is_challenged_again(authsip: Harness) -> None:
    result = authsip.ua(BOB, "192.0.2.20:5062", password="guess").register()
    result.assert_reply(401)


def test_a_call_is_challenged_407_and_relayed_with_credentials(authsip: Harness) -> None:
    authsip.ua(BOB, "192.0.2.20:5062", password="bob-secret", answer=[180, 200]).register().assert_reply(200)
    alice = authsip.ua(ALICE, "192.0.2.10:5060", password="alice-secret")

    call = alice.invite(BOB, body=SDP)

    assert call.result.challenge.status == 407
    assert call.status == 200
    forwarded = call.result.assert_forwarded("INVITE", to="192.0.2.20:5062")
    assert forwarded.header("Proxy-Authorization") is None, "consume_credentials() took them off"
    call.ack()
    call.bye().assert_reply(200)


# ------------------------------------------------ WITH_IPAUTH, WITH_ALIASDB, WITH_SPEEDDIAL, WITH_MULTIDOMAIN
# permissions, alias_db, speeddial and domain on the test database, as the stock config sets them up.

GATEWAY = "192.0.2.30:5060"
USERS = (("alice", DOMAIN, "alice-secret"), ("bob", DOMAIN, "bob-secret"))


def test_an_address_of_the_address_table_calls_without_a_challenge(kampy_cfg, tmp_path) -> None:
    url = seeded_db(tmp_path, {"address": [{"grp": 1, "ip_addr": "192.0.2.30", "mask": 32, "port": 0,
                                            "tag": "gateway"}]}, USERS)
    sip = stock(kampy_cfg, "WITH_MYSQL", "WITH_AUTH", "WITH_IPAUTH", db=url)
    sip.ua(BOB, "192.0.2.20:5062", password="bob-secret", answer=[180, 200]).register().assert_reply(200)

    stranger = sip.send_request("INVITE", BOB, from_=f"sip:gw@{DOMAIN}", src="192.0.2.31:5060")
    gateway = sip.ua(f"sip:gw@{DOMAIN}", GATEWAY).invite(BOB, body=SDP)

    stranger.assert_reply(407)
    assert gateway.status == 200
    assert gateway.result.assert_forwarded("INVITE", to="192.0.2.20:5062").ruri == "sip:bob@192.0.2.20:5062"
    assert gateway.result.codes("allow_source_address") == [1]


def test_an_alias_from_dbaliases_reaches_its_user(kampy_cfg) -> None:
    sip = stock(kampy_cfg, "WITH_MYSQL", "WITH_AUTH", "WITH_ALIASDB")
    sip.tables["dbaliases"].insert({"alias_username": "support", "alias_domain": DOMAIN,
                                    "username": "bob", "domain": DOMAIN})
    for user, domain, password in USERS:
        subscribers.add(sip.tables.db, subscribers.Account(user, domain), password)
    sip.ua(BOB, "192.0.2.20:5062", password="bob-secret", answer=[180, 200]).register().assert_reply(200)
    alice = sip.ua(ALICE, "192.0.2.10:5060", password="alice-secret")

    call = alice.invite(f"sip:support@{DOMAIN}", body=SDP)

    assert call.status == 200
    invite = call.result.assert_forwarded("INVITE", to="192.0.2.20:5062")
    assert invite.ruri == "sip:bob@192.0.2.20:5062"
    assert invite.header("To") == f"<sip:support@{DOMAIN}>"


def test_a_speed_dial_number_reaches_its_target(kampy_cfg) -> None:
    sip = stock(kampy_cfg, "WITH_MYSQL", "WITH_AUTH", "WITH_SPEEDDIAL")
    sip.tables["speed_dial"].insert({"username": "alice", "domain": DOMAIN, "sd_username": "11",
                                     "sd_domain": DOMAIN, "new_uri": BOB, "fname": "Bob", "lname": "B",
                                     "description": "bob"})
    for user, domain, password in USERS:
        subscribers.add(sip.tables.db, subscribers.Account(user, domain), password)
    sip.ua(BOB, "192.0.2.20:5062", password="bob-secret", answer=[180, 200]).register().assert_reply(200)
    alice = sip.ua(ALICE, "192.0.2.10:5060", password="alice-secret")

    call = alice.invite(f"sip:11@{DOMAIN}", body=SDP)

    assert call.status == 200
    assert call.result.assert_forwarded("INVITE", to="192.0.2.20:5062").ruri == "sip:bob@192.0.2.20:5062"
    assert call.result.codes("sd_lookup") == [1]


def test_users_of_several_domains_are_told_apart(kampy_cfg, tmp_path) -> None:
    domains = [{"domain": d, "last_modified": "2000-01-01 00:00:01"} for d in ("example.org", "example.net")]
    url = seeded_db(tmp_path, {"domain": domains},
                    (("alice", "example.org", "org-pw"), ("alice", "example.net", "net-pw"),
                     ("bob", "example.org", "bob-pw")))
    sip = stock(kampy_cfg, "WITH_MYSQL", "WITH_AUTH", "WITH_MULTIDOMAIN", db=url)
    sip.ua("sip:alice@example.org", "192.0.2.11:5060", password="net-pw").register().assert_reply(401)
    alice_org = sip.ua("sip:alice@example.org", "192.0.2.12:5060", password="org-pw", answer=NEVER)
    alice_net = sip.ua("sip:alice@example.net", "192.0.2.13:5060", password="net-pw", answer=NEVER)
    bob = sip.ua("sip:bob@example.org", "192.0.2.14:5060", password="bob-pw")
    for phone in (alice_org, alice_net, bob):
        phone.register().assert_reply(200)

    call = bob.invite("sip:alice@example.net", body=SDP)

    assert call.result.assert_forwarded("INVITE", to="192.0.2.13:5060").ruri == "sip:alice@192.0.2.13:5060"
    assert alice_org.requests == []
    other = bob.invite("sip:alice@example.org", body=SDP)
    assert other.result.assert_forwarded("INVITE", to="192.0.2.12:5060").ruri == "sip:alice@192.0.2.12:5060"


# ------------------------------------------------------------ WITH_NAT
# nathelper and rtpproxy are kampy's own modules. Bob's phone is behind NAT: it registers a private
# Contact, which nat_uac_test("19") finds. The RTPProxy of the config is played by a few lines that
# answer its control protocol on a free port (rtpproxy_sock pointed there by modparams).


REPLIES = {"U": "35000 203.0.113.9", "L": "35002 203.0.113.9", "V": "20040107", "VF": "1"}


def rtpproxy_answer(data: bytes) -> bytes:
    """RTPProxy's control protocol, `<cookie> <command>` answered `<cookie> <result>`: U and L
    (offer, answer) get a media port and address, V/VF the version and capabilities, the rest 0."""
    cookie, _, command = data.decode().partition(" ")
    result = REPLIES.get(command[:2]) or REPLIES.get(command[:1], "0")
    return f"{cookie} {result}".encode()


@pytest.fixture
def rtpproxy() -> Iterator[UdpPeer]:
    with UdpPeer(rtpproxy_answer) as proxy:
        yield proxy


def test_nat_register_is_fixed_and_the_call_anchored(kampy_cfg, rtpproxy: UdpPeer) -> None:
    sip = kampy_cfg(STOCK, aliases=[DOMAIN], defines={"WITH_NAT": None},
                    modparams={"rtpproxy": {"rtpproxy_sock": [rtpproxy.url]}})
    private = SDP.replace(b"192.0.2.10", b"10.0.0.20")
    answer = Answer(200, headers={"Content-Type": "application/sdp"}, body=private)
    bob = sip.ua(BOB, "192.0.2.20:5062", answer=[180, answer])

    registered = bob.register(contact="<sip:bob@10.0.0.20:5062>")
    call = sip.invite(BOB, body=SDP)

    registered.assert_reply(200)
    assert registered.flag(5), "FLT_NATS"
    assert registered.avp("RECEIVED") == "sip:192.0.2.20:5062", "fix_nated_register()"
    assert call.status == 200
    invite = call.result.assert_forwarded("INVITE", to="192.0.2.20:5062")  # the NAT address
    assert invite.header("Record-Route") == "<sip:127.0.0.1;lr;nat=yes>"
    assert b"c=IN IP4 203.0.113.9" in invite.body and b"m=audio 35000 " in invite.body
    commands = [d.decode().split()[1] for d in rtpproxy.received]
    assert [c for c in commands if c[:1] in "UL"] == ["Uc0", "Lc0"]
    answered = call.result.reply.body  # the 200's SDP, private: rtpproxy_manage("co")
    assert b"c=IN IP4 203.0.113.9" in answered and b"m=audio 35002 " in answered


# ------------------------------------------------------------ WITH_ANTIFLOOD


def test_a_flooding_address_is_banned(kampy_cfg) -> None:
    sip = stock(kampy_cfg, "WITH_ANTIFLOOD")

    flood = [sip.send_request("OPTIONS", f"sip:{DOMAIN}", src="192.0.2.66:5060") for _ in range(30)]

    assert [r.status for r in flood].count(200) == 21  # 16 a 2 s unit, the tree grown first
    assert flood[21].codes("pike_check_req") == [-2] and not flood[22].called("pike_check_req")
    assert [slot["slot"][0]["name"] for slot in sip.core.rpc.call("htable.dump", ["ipban"])] == ["192.0.2.66"]


def test_a_banned_address_is_dropped_and_others_served(kampy_cfg) -> None:
    sip = stock(kampy_cfg, "WITH_ANTIFLOOD")
    sip.core.rpc.call("htable.sets", ["ipban", "192.0.2.66", "1"])

    sip.send_request("OPTIONS", f"sip:{DOMAIN}", src="192.0.2.66:5060").assert_no_reply()
    sip.send_request("OPTIONS", f"sip:{DOMAIN}", src="192.0.2.67:5060").assert_reply(200)
    sip.advance(301)  # autoexpire=300: the ban is lifted
    sip.send_request("OPTIONS", f"sip:{DOMAIN}", src="192.0.2.66:5060").assert_reply(200)


# ------------------------------------------------------------ WITH_PSTN, WITH_VOICEMAIL ($sel of cfg_get)

# the gateways the config reads with $sel(cfg_get...), set as an operator does: kamcmd cfg.sets ...
SETTINGS = [("pstn", "gw_ip", "192.0.2.30"), ("pstn", "gw_port", ""),
            ("voicemail", "srv_ip", "192.0.2.31"), ("voicemail", "srv_port", "5060")]


def configured(sip: Harness, group: str) -> Harness:
    for name, var, value in SETTINGS:
        if name == group:
            sip.core.rpc.call("cfg.sets", [group, var, value])
    return sip


def test_numbers_go_to_the_pstn_gateway(kampy_cfg) -> None:
    sip = configured(stock(kampy_cfg, "WITH_PSTN"), "pstn")
    gateway = sip.ua("sip:gw@192.0.2.30", "192.0.2.30:5060")

    call = sip.invite(f"sip:004930123456@{DOMAIN}")

    assert call.status == 200
    assert gateway.requests[0].ruri == "sip:+4930123456@192.0.2.30"


def test_only_local_users_may_call_the_pstn(kampy_cfg) -> None:
    sip = configured(stock(kampy_cfg, "WITH_PSTN"), "pstn")
    result = sip.send_request("INVITE", f"sip:+4930123456@{DOMAIN}", from_="sip:mallory@elsewhere.test")
    result.assert_reply(403, "Not Allowed")


def test_an_unreachable_user_goes_to_voicemail(kampy_cfg) -> None:
    sip = configured(stock(kampy_cfg, "WITH_VOICEMAIL"), "voicemail")
    voicemail = sip.ua("sip:vm@192.0.2.31", "192.0.2.31:5060")
    sip.ua(BOB, "192.0.2.20:5062", answer=Answer(486)).register()

    busy = sip.invite(BOB)
    offline = sip.invite(f"sip:carol@{DOMAIN}")

    assert (busy.status, offline.status) == (200, 200)
    assert [r.ruri for r in voicemail.requests if r.method == "INVITE"] == [
        "sip:bob@192.0.2.31:5060", "sip:carol@192.0.2.31:5060"]


# ------------------------------------------------------------ every other define loads


@pytest.mark.parametrize("defines, standins", [
    (("WITH_MYSQL", "WITH_AUTH", "WITH_IPAUTH"), ()),
    (("WITH_MYSQL", "WITH_ALIASDB", "WITH_SPEEDDIAL", "WITH_MULTIDOMAIN"), ()),
    (("WITH_MYSQL", "WITH_PRESENCE", "WITH_MSGREBUILD"), ("presence", "presence_xml", "tm")),
    (("WITH_MYSQL", "WITH_ACCDB", "WITH_JSONRPC", "WITH_DEBUG"), ()),
    (("WITH_NAT", "WITH_NATSIPPING", "WITH_RTPENGINE"), ()),
])
def test_the_config_runs_with_every_define(kampy_cfg, defines, standins) -> None:
    sip = stock(kampy_cfg, *defines, **{name: stand_in() for name in standins})
    sip.send_request("OPTIONS", f"sip:{DOMAIN}").assert_reply(200, "Keepalive")


def test_the_config_runs_with_tls(kampy_cfg, tmp_path) -> None:
    """WITH_TLS loads kampy's tls module with Debian's tls.cfg, its certificate files made by the test
    (the package ships none: Kamailio does not start without them either)."""
    certs = make_certificates(tmp_path / "certs")
    tls_cfg = tmp_path / "tls.cfg"
    debian = Path("/etc/kamailio/tls.cfg").read_text()
    tls_cfg.write_text(debian.replace("/etc/kamailio/", f"{certs.directory}/"))
    sip = kampy_cfg(STOCK, aliases=[DOMAIN], defines={d: None for d in ("WITH_TLS", "WITH_BLOCK3XX",
                                                                        "WITH_BLOCK401407")},
                    db="sqlite", modparams={"tls": {"config": str(tls_cfg)}})
    sip.send_request("OPTIONS", f"sip:{DOMAIN}").assert_reply(200, "Keepalive")
