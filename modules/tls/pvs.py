"""The $tls_* pseudo-variables, $tls(key) and the @tls selects: what each reads of a connection."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .certinfo import COMPONENTS, SAN, CertInfo

if TYPE_CHECKING:
    from .tls import Connection

Getter = Callable[["Connection"], str | int | None]


def _version(c: Connection) -> str | None:
    return c.session.version()


def _cipher(c: Connection) -> str | None:
    cipher = c.session.cipher()
    return cipher[0] if cipher else ""


def _bits(c: Connection) -> int | None:
    cipher = c.session.cipher()
    return cipher[2] if cipher else None


def _description(c: Connection) -> str | None:
    from .tls import _description as describe
    return describe(c.session) + "\n"  # SSL_CIPHER_description()'s line end, kept by Kamailio


def _sni(c: Connection) -> str | None:
    return c.session.server_hostname if not c.incoming else getattr(c.session, "kampy_sni", None)


def _cert(c: Connection, mine: bool) -> CertInfo | None:
    return c.my_cert() if mine else c.peer_cert()


def _check(kind: str) -> Getter:
    """check_cert(): 1 when the peer has a certificate and the verification result is `kind`. The
    handshake with verification on succeeds only with a good certificate; with it off, kampy judges
    expiry and self-signedness from the certificate (it cannot see OpenSSL's verify result)."""
    def get(c: Connection) -> int | None:
        cert = c.peer_cert()
        if cert is None:
            return 0
        if c.verified():
            return 1 if kind == "verified" else 0
        if kind == "expired":
            return int(_expired(cert))
        if kind == "selfsigned":
            return int(not _expired(cert) and cert.name("subject") == cert.name("issuer"))
        return 0
    return get


def _expired(cert: CertInfo) -> bool:
    import ssl
    now = time.time()
    try:
        return not (ssl.cert_time_to_seconds(cert.date("notBefore")) <= now
                    <= ssl.cert_time_to_seconds(cert.date("notAfter")))
    except ValueError:
        return False


def _cert_getter(mine: bool, read: Callable[[CertInfo], str | int | None]) -> Getter:
    def get(c: Connection) -> str | int | None:
        cert = _cert(c, mine)
        return read(cert) if cert is not None else None
    return get


def _names() -> dict[str, Getter]:
    pvs: dict[str, Getter] = {
        "tls_version": _version, "tls_description": _description, "tls_cipher_info": _cipher,
        "tls_cipher_bits": _bits, "tls_peer_server_name": _sni,
        "tls_peer_verified": _check("verified"), "tls_peer_revoked": _check("revoked"),
        "tls_peer_expired": _check("expired"), "tls_peer_selfsigned": _check("selfsigned"),
        "tls_peer_notBefore": _cert_getter(False, lambda x: x.date("notBefore")),
        "tls_peer_notAfter": _cert_getter(False, lambda x: x.date("notAfter")),
    }
    for who, mine in (("peer", False), ("my", True)):
        pvs[f"tls_{who}_version"] = _cert_getter(mine, lambda x: str(x.version))
        pvs[f"tls_{who}_serial"] = _cert_getter(mine, lambda x: x.serial)
        pvs[f"tls_{who}_raw_cert"] = _cert_getter(mine, lambda x: x.pem)
        pvs[f"tls_{who}_urlencoded_cert"] = _cert_getter(mine, lambda x: x.urlencoded)
        for part in ("subject", "issuer"):
            # Kamailio 5.6 asks its component lookup for no component here: always null
            pvs[f"tls_{who}_{part}"] = lambda c: None
            for comp in COMPONENTS:
                if comp == "uid" and part == "issuer":
                    continue
                pvs[f"tls_{who}_{part}_{comp}"] = _cert_getter(
                    mine, lambda x, p=part, k=comp: x.component(p, k))
        for kind in SAN:
            pvs[f"tls_{who}_san_{kind}"] = _cert_getter(mine, lambda x, k=kind: x.san(k))
    return pvs


PVS = _names()

# $tls(key)
TLS_KEYS: dict[str, Getter] = {
    "m_subject_line": _cert_getter(True, lambda x: x.oneline("subject")),
    "m_issuer_line": _cert_getter(True, lambda x: x.oneline("issuer")),
    "p_subject_line": _cert_getter(False, lambda x: x.oneline("subject")),
    "p_issuer_line": _cert_getter(False, lambda x: x.oneline("issuer")),
}

# @tls.<...>: the words of tls_select.c's table
_SEL_TOP = {"version": _version, "desc": _description, "description": _description, "cipher": _cipher,
            "serverName": _sni, "server_name": _sni}
_SEL_WHO = {"peer": False, "my": True, "me": True, "myself": True}
_SEL_COMP = {**dict.fromkeys(("cn", "commonName", "common_name", "name"), "cn"),
             **dict.fromkeys(("l", "localityName", "locality_name", "locality"), "locality"),
             **dict.fromkeys(("c", "countryName", "country_name", "country"), "country"),
             **dict.fromkeys(("st", "stateOrProvinceName", "state_or_province_name", "state"), "state"),
             **dict.fromkeys(("o", "organizationName", "organization_name", "organization"), "organization"),
             **dict.fromkeys(("ou", "organizationalUnitName", "organizational_unit_name", "unit"), "unit"),
             **dict.fromkeys(("uid", "uniqueIdentifier", "unique_identifier"), "uid")}
_SEL_SAN = {**dict.fromkeys(("email", "emailAddress", "email_address"), "email"),
            **dict.fromkeys(("host", "hostname", "dns"), "hostname"),
            **dict.fromkeys(("uri", "url", "urn"), "uri"),
            **dict.fromkeys(("ip", "IPAddress", "ip_address"), "ip")}
_SEL_CHECK = {"verified": "verified", "revoked": "revoked", "expired": "expired", "self_signed": "selfsigned"}


def select_getter(path: tuple[str | int, ...]) -> Getter:
    """The getter of `@tls[.x[.y[.z]]]`; ValueError for a path tls_select.c does not have."""
    words = [str(p) for p in path[1:]]
    if not words:
        return _description
    head, rest = words[0], words[1:]
    if head in _SEL_TOP and not rest:
        return _SEL_TOP[head]
    if head == "cipher" and rest == ["bits"]:
        return _bits
    if head in _SEL_WHO and rest:
        return _cert_select(_SEL_WHO[head], rest)
    raise ValueError(f"unknown select @{'.'.join(str(p) for p in path)}")


def _cert_select(mine: bool, words: list[str]) -> Getter:
    word, rest = words[0], words[1:]
    if word in ("subject", "subj", "issuer") and len(rest) <= 1:
        part = "issuer" if word == "issuer" else "subject"
        if not rest:
            return _cert_getter(mine, lambda x: x.oneline(part))
        if rest[0] in _SEL_COMP:
            comp = _SEL_COMP[rest[0]]
            return _cert_getter(mine, lambda x: x.component(part, comp))
    if not rest:
        if word in _SEL_CHECK and not mine:
            return _check(_SEL_CHECK[word])
        if word == "version":
            return _cert_getter(mine, lambda x: str(x.version))
        if word in ("rawCert", "raw_cert"):
            return _cert_getter(mine, lambda x: x.pem)
        if word in ("URLEncodedCert", "urlencoded_cert"):
            return _cert_getter(mine, lambda x: x.urlencoded)
        if word in ("sn", "serialNumber", "serial_number"):
            return _cert_getter(mine, lambda x: x.serial)
        if word in ("notBefore", "not_before"):
            return _cert_getter(mine, lambda x: x.date("notBefore"))
        if word in ("notAfter", "not_after"):
            return _cert_getter(mine, lambda x: x.date("notAfter"))
        if word in _SEL_SAN:
            kind = _SEL_SAN[word]
            return _cert_getter(mine, lambda x: x.san(kind))
    raise ValueError(f"unknown select @tls.{'my' if mine else 'peer'}.{'.'.join(words)}")
