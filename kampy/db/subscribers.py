"""The `subscriber` table as `kamctl add|passwd|rm` change it: the same rows, with `ha1` and `ha1b`
computed as kamctl computes them (MD5 of `user:domain:password` and of
`user@domain:domain:password`, the realm being the domain)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from kampy.db.errors import DBError, Reason

# hashlib names of the digest algorithms Kamailio's auth module knows
ALGORITHMS = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


@dataclass(frozen=True)
class Account:
    user: str
    domain: str

    @classmethod
    def parse(cls, text: str, default_domain: str | None = None) -> Account:
        """`user@domain` as kamctl's set_user reads it: the first two '@'-separated fields; a
        missing domain is `default_domain` (kamctl's SIP_DOMAIN)."""
        fields = text.split("@")
        user = fields[0]
        domain = fields[1] if len(fields) > 1 and fields[1] else (default_domain or "")
        if not domain:
            raise DBError(f"domain unknown for '{text}': use user@domain or set a default domain "
                          "(SIP_DOMAIN)", Reason.USAGE)
        return cls(user, domain)

    def __str__(self) -> str:
        return f"{self.user}@{self.domain}"


def ha1(user: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """HA1 of RFC 2617/8760: H(user:realm:password) in lower-case hex."""
    return hashlib.new(ALGORITHMS[algorithm], f"{user}:{realm}:{password}".encode()).hexdigest()


def credentials(account: Account, password: str, algorithm: str = "MD5") -> dict[str, str]:
    """The `ha1` and `ha1b` columns for `account` (kamctl's credentials())."""
    return {"ha1": ha1(account.user, account.domain, password, algorithm),
            "ha1b": ha1(f"{account.user}@{account.domain}", account.domain, password, algorithm)}


def _where(account: Account) -> dict[str, str]:
    return {"username": account.user, "domain": account.domain}


def exists(db: Any, account: Account) -> bool:
    return bool(db.query("subscriber", ["id"], _where(account), limit=1))


def add(db: Any, account: Account, password: str, *, plaintext: bool = True, algorithm: str = "MD5") -> int:
    """Insert the subscriber as `kamctl add` does (the password kept in clear unless `plaintext` is
    off, as kamctl's STORE_PLAINTEXT_PW=0); refuses an account that exists."""
    if exists(db, account):
        raise DBError(f"user '{account}' already exists", Reason.USAGE)
    return db.insert("subscriber", {**_where(account), **credentials(account, password, algorithm),
                                    "password": password if plaintext else ""})


def change_password(db: Any, account: Account, password: str, *, plaintext: bool = True,
                    algorithm: str = "MD5") -> None:
    """`kamctl passwd`: new ha1, ha1b and password for an existing subscriber."""
    if not exists(db, account):
        raise DBError(f"non-existent user '{account}'", Reason.USAGE)
    db.update("subscriber", _where(account),
              {**credentials(account, password, algorithm), "password": password if plaintext else ""})


def remove(db: Any, account: Account) -> None:
    """`kamctl rm`: the user's group memberships (`grp`), the aliases that point at the user
    (`dbaliases`) and the subscriber row. (kamctl also removes the user's registrations from a
    running server over RPC: `kampy rpc ul.rm location user@domain` does that part.)"""
    if not exists(db, account):
        raise DBError(f"non-existent user '{account}'", Reason.USAGE)
    for table in ("grp", "dbaliases"):
        if db.table_exists(table):
            db.delete(table, _where(account))
    db.delete("subscriber", _where(account))
