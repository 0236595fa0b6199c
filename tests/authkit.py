"""Helpers for the auth/auth_db tests: configs around the auth functions, and a user agent's side of
digest authentication (kampy.testing.digest) to answer the challenges the config sends."""
from __future__ import annotations

import base64
import struct
from dataclasses import dataclass

from kampy.testing import Harness
from kampy.testing.result import Result
from kampy.testing.digest import Challenge, Credentials

DOMAIN = "example.test"
SECRET = "0123456789abcdef0123456789abcdef"


def cfg(route: str, *, params: str = "", modules: tuple[str, ...] = ("sl", "pv", "textops", "auth")) -> str:
    """A config loading `modules`, then `params` (modparam lines), then `route` as request_route."""
    head = "".join(f'loadmodule "{m}.so"\n' for m in modules)
    return head + params + "request_route {\n" + route + "\n}\n"


def auth_params(**values: object) -> str:
    return "".join(f'modparam("auth", "{k}", {v!r})\n'.replace("'", '"') for k, v in values.items())


def challenge_of(result: Result, header: str = "WWW-Authenticate") -> Challenge:
    reply = result.reply
    assert reply is not None, result
    value = reply.header(header)
    assert value is not None, result
    return Challenge.parse(value)


@dataclass
class Client:
    """A user agent answering challenges: REGISTER (Authorization) or other requests (Proxy-)."""

    sip: Harness
    user: str = "alice"
    password: str = "alice-pw"
    domain: str = DOMAIN
    cnonce: str = "c0ffee"

    def __post_init__(self) -> None:
        self.creds = Credentials(self.user, self.password)

    @property
    def aor(self) -> str:
        return f"sip:{self.user}@{self.domain}"

    def answer(self, challenge: Challenge, method: str, uri: str) -> str:
        return self.creds.answer(challenge, method, uri, cnonce=self.cnonce)

    def request(self, method: str = "REGISTER", ruri: str | None = None, challenge: Challenge | None = None,
                header: str | None = None, **fields: object) -> Result:
        ruri = ruri or (f"sip:{self.domain}" if method == "REGISTER" else f"sip:bob@{self.domain}")
        headers: dict[str, str] = dict(fields.pop("headers", {}) or {})  # type: ignore[arg-type]
        if challenge is not None:
            name = header or ("Authorization" if method == "REGISTER" else "Proxy-Authorization")
            headers[name] = self.answer(challenge, method, ruri)
        to = fields.pop("to", self.aor if method == "REGISTER" else ruri)
        return self.sip.send_request(method, ruri, from_=self.aor, to=to, headers=headers, **fields)  # type: ignore[arg-type]

    def register(self, **fields: object) -> tuple[Result, Result]:
        first = self.request("REGISTER", **fields)
        return first, self.request("REGISTER", challenge=challenge_of(first), cseq=2, **fields)


def nonce_times(nonce: str) -> tuple[int, int]:
    """(expires, since) of one of Kamailio's nonces."""
    raw = base64.b64decode(nonce)
    expires, since = struct.unpack(">II", raw[:8])
    return expires, since


def make_tables(url: str, *names: str) -> None:
    """Create only `names` (and `version`) in the test database: much faster on MariaDB than the
    harness creating every standard table."""
    from kampy.db import connect, create_tables
    with connect(url) as db:
        create_tables(db, ["version", *names])


def on_db(url: str, *modules: str) -> dict[str, dict[str, str]]:
    """modparams pointing `modules`' db_url at `url` (with the harness's db=None)."""
    return {module: {"db_url": url} for module in modules}
