"""The testing plugin's digest client (kampy.testing.digest) against Kamailio 5.6's auth and
auth_db modules on SQLite, on the wire: a REGISTER challenged with 401 is accepted once it
carries the credentials the client computed, for MD5 and SHA-256, with qop=auth and without qop;
a wrong password is challenged again."""
from __future__ import annotations

from pathlib import Path

import pytest

from kampy.db import connect, create_tables
from kampy.testing.digest import Credentials, pick
from tests.e2e.proxy import UA, Msg, Proxy, start_proxy

CFG = Path(__file__).resolve().parent / "configs" / "digest_sqlite.cfg"
DOMAIN = "example.test"


def kamailio(directory: Path, algorithm: str, qop: int) -> Proxy:
    url = f"sqlite://{directory}/auth.sqlite"
    db = connect(url)
    try:
        create_tables(db, ["subscriber"])
        db.insert("subscriber", {"username": "bob", "domain": DOMAIN, "password": "s3cret"})
    finally:
        db.close()
    return start_proxy("kamailio-1", directory, cfg=CFG,
                       defines=(f'DBURL="{url}"', f'ALGORITHM="{algorithm}"', f"QOP={qop}"))


def register(ua: UA, extra: tuple[str, ...] = (), cseq: int = 1,
             call_id: str | None = None) -> tuple[Msg, str]:
    d = ua.send_request("REGISTER", f"sip:{DOMAIN}", to=ua.aor, cseq=cseq, call_id=call_id,
                        extra=("Expires: 60", *extra))
    return ua.final_reply(d, 5), d.call_id


@pytest.mark.parametrize("algorithm, qop", [("MD5", 1), ("SHA-256", 1), ("MD5", 0), ("SHA-256", 0)])
def test_kamailio_accepts_the_credentials_the_client_computes(tmp_path: Path, algorithm: str,
                                                              qop: int) -> None:
    server = kamailio(tmp_path, algorithm, qop)
    phone = UA("bob", server.addr, DOMAIN)
    try:
        challenge_reply, call_id = register(phone)
        assert challenge_reply.status == 401
        challenge = pick(challenge_reply.all("WWW-Authenticate"))
        assert challenge is not None and challenge.algorithm == algorithm
        assert challenge.qop == (("auth",) if qop else ())

        value = Credentials("bob", "s3cret").answer(challenge, "REGISTER", f"sip:{DOMAIN}")
        reply, _ = register(phone, (f"Authorization: {value}",), cseq=2, call_id=call_id)

        assert (reply.status, reply.reason) == (200, "Authenticated bob")
    finally:
        phone.close()
        server.stop()


def test_kamailio_challenges_a_wrong_password_again(tmp_path: Path) -> None:
    server = kamailio(tmp_path, "SHA-256", 1)
    phone = UA("bob", server.addr, DOMAIN)
    try:
        challenge_reply, call_id = register(phone)
        challenge = pick(challenge_reply.all("WWW-Authenticate"))
        value = Credentials("bob", "wrong").answer(challenge, "REGISTER", f"sip:{DOMAIN}")

        reply, _ = register(phone, (f"Authorization: {value}",), cseq=2, call_id=call_id)

        assert reply.status == 401
    finally:
        phone.close()
        server.stop()
