"""What the $tls_* pseudo-variables read of a certificate, from its DER or PEM form."""
from __future__ import annotations

import os
import ssl
import tempfile
import urllib.parse
from dataclasses import dataclass
from typing import Any

# X509_NAME_oneline()'s short names
_SHORT = {"countryName": "C", "stateOrProvinceName": "ST", "localityName": "L", "organizationName": "O",
          "organizationalUnitName": "OU", "commonName": "CN", "emailAddress": "emailAddress",
          "userId": "UID", "serialNumber": "serialNumber", "domainComponent": "DC", "title": "title",
          "surname": "SN", "givenName": "GN"}
# the component suffixes of the PV names -> the attribute
COMPONENTS = {"cn": "commonName", "organization": "organizationName", "unit": "organizationalUnitName",
              "country": "countryName", "state": "stateOrProvinceName", "locality": "localityName",
              "uid": "userId"}
SAN = {"email": "email", "hostname": "DNS", "uri": "URI", "ip": "IP Address"}


@dataclass(frozen=True)
class CertInfo:
    fields: dict[str, Any]
    pem: str

    def name(self, part: str) -> tuple[tuple[str, str], ...]:
        return tuple(pair for rdn in self.fields.get(part, ()) for pair in rdn)

    def oneline(self, part: str) -> str:
        return "".join(f"/{_SHORT.get(k, k)}={v}" for k, v in self.name(part))

    def component(self, part: str, comp: str) -> str | None:
        """The first entry of a name attribute (X509_NAME_get_index_by_NID from the start)."""
        attr = COMPONENTS[comp]
        return next((v for k, v in self.name(part) if k == attr), None)

    def san(self, kind: str) -> str | None:
        return next((v for k, v in self.fields.get("subjectAltName", ()) if k == SAN[kind]), None)

    @property
    def version(self) -> int:
        """X509_get_version(): 0-based (2 for a v3 certificate)."""
        return int(self.fields.get("version", 1)) - 1

    @property
    def serial(self) -> str:
        """The serial number in decimal (BN_bn2dec)."""
        return str(int(self.fields.get("serialNumber", "0"), 16))

    def date(self, which: str) -> str:
        return str(self.fields.get(which, ""))

    @property
    def urlencoded(self) -> str:
        return urllib.parse.quote(self.pem, safe="")


def from_der(der: bytes) -> CertInfo:
    return from_pem(ssl.DER_cert_to_PEM_cert(der))


def from_pem(pem: str) -> CertInfo:
    """Decode with OpenSSL through the ssl module's own certificate decoder (it reads a file)."""
    fd, path = tempfile.mkstemp(suffix=".pem")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        fields = ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]
    finally:
        os.unlink(path)
    return CertInfo(fields, pem)


def first_pem(path: str) -> str | None:
    """The first certificate of a PEM file (the one SSL_CTX_use_certificate_chain_file uses)."""
    try:
        text = open(path).read()
    except OSError:
        return None
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        return None
    return text[begin:end + len("-----END CERTIFICATE-----")] + "\n"
