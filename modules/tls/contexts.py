"""SSL contexts made from TLS domain profiles, as Kamailio's tls_domain.c sets up its SSL_CTXs."""
from __future__ import annotations

import ssl
import warnings

from .profiles import Profile

# method -> (minimum, maximum) protocol version; SSLv2/SSLv3 are gone from OpenSSL 3
_VERSIONS: dict[str, tuple[ssl.TLSVersion, ssl.TLSVersion]] = {
    "SSLv23": (ssl.TLSVersion.MINIMUM_SUPPORTED, ssl.TLSVersion.MAXIMUM_SUPPORTED),
    "TLSv1": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1),
    "TLSv1.0": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1),
    "TLSv1+": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.MAXIMUM_SUPPORTED),
    "TLSv1.0+": (ssl.TLSVersion.TLSv1, ssl.TLSVersion.MAXIMUM_SUPPORTED),
    "TLSv1.1": (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_1),
    "TLSv1.1+": (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.MAXIMUM_SUPPORTED),
    "TLSv1.2": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
    "TLSv1.2+": (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED),
}


class ContextError(Exception):
    """A profile whose files or settings OpenSSL refuses."""


def make_context(profile: Profile, *, disable_compression: bool = True,
                 renegotiation: bool = False) -> ssl.SSLContext:
    """The SSL context of one domain: method, certificate and key, CA list/path, CRL, ciphers,
    and the peer verification Kamailio derives from verify_certificate/require_certificate
    (server side: verify_client overrides them when not 'off')."""
    server = profile.role == "server"
    if profile.method not in _VERSIONS:
        raise ContextError(f"{profile.name}: TLS method {profile.method} is not supported by this OpenSSL")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False  # Kamailio checks the chain, not the name
    low, high = _VERSIONS[profile.method]
    try:
        with warnings.catch_warnings():  # TLSv1/TLSv1.1: deprecated by Python, asked for by the config
            warnings.simplefilter("ignore", DeprecationWarning)
            if low is not ssl.TLSVersion.MINIMUM_SUPPORTED:
                context.minimum_version = low
            if high is not ssl.TLSVersion.MAXIMUM_SUPPORTED:
                context.maximum_version = high
        if low in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1) or profile.method == "SSLv23":
            context.set_ciphers((profile.cipher_list or "DEFAULT") + ":@SECLEVEL=0")
        elif profile.cipher_list:
            context.set_ciphers(profile.cipher_list)
        if profile.certificate:
            context.load_cert_chain(profile.certificate, profile.private_key or profile.certificate)
        if profile.ca_list or profile.ca_path:
            context.load_verify_locations(cafile=profile.ca_list, capath=profile.ca_path)
        if profile.crl:
            context.load_verify_locations(cafile=profile.crl)
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ContextError(f"{profile.name}: {exc}") from None
    context.verify_mode = verify_mode(profile)
    if disable_compression:
        context.options |= ssl.OP_NO_COMPRESSION
    if not renegotiation:
        context.options |= ssl.OP_NO_RENEGOTIATION
    return context


def verify_mode(profile: Profile) -> ssl.VerifyMode:
    """SSL_VERIFY_* as Kamailio sets them: verify_certificate asks for (server) or checks (client)
    the peer's certificate, require_certificate makes one mandatory; verify_client ('on',
    'optional', 'optional_no_ca') takes over on a server domain."""
    if profile.role == "server" and profile.verify_client != "off":
        return {"on": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL,
                "optional_no_ca": ssl.CERT_OPTIONAL}[profile.verify_client]
    if not profile.verify_certificate:
        return ssl.CERT_NONE
    if profile.role == "server":
        return ssl.CERT_REQUIRED if profile.require_certificate else ssl.CERT_OPTIONAL
    return ssl.CERT_REQUIRED
