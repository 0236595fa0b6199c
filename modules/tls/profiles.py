"""Kamailio's tls.cfg: server and client TLS domain profiles (`[server:default]`, `[client:IP:PORT]`,
`[server:any]`) with their options, read as Kamailio's tls_config.c reads them."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

METHODS = ("SSLv2", "SSLv3", "SSLv23", "TLSv1", "TLSv1.0", "TLSv1+", "TLSv1.0+", "TLSv1.1", "TLSv1.1+",
           "TLSv1.2", "TLSv1.2+")
VERIFY_CLIENT = ("off", "on", "optional", "optional_no_ca")
_ROLES = {"server": "server", "srv": "server", "s": "server", "client": "client", "cli": "client",
          "c": "client"}
_DEFAULT = ("default", "def")
_ANY = ("any", "all")
# option name in the file -> the Profile field (aliases as Kamailio's tls_config.c)
_OPTIONS = {
    "method": "method", "tls_method": "method",
    "verify_certificate": "verify_certificate", "verify_cert": "verify_certificate",
    "verify_depth": "verify_depth",
    "require_certificate": "require_certificate", "require_cert": "require_certificate",
    "private_key": "private_key", "pkey_file": "private_key",
    "certificate": "certificate", "cert_file": "certificate",
    "ca_list": "ca_list", "calist_file": "ca_list", "ca_path": "ca_path",
    "cipher_list": "cipher_list", "crl": "crl",
    "server_name": "server_name", "server_name_mode": "server_name_mode", "server_id": "server_id",
    "verify_client": "verify_client",
}
_BOOLS = {"yes": True, "true": True, "on": True, "enable": True, "1": True,
          "no": False, "false": False, "off": False, "disable": False, "0": False}
_FILES = ("private_key", "certificate", "ca_list", "ca_path", "crl")


class ProfileError(Exception):
    """A tls.cfg that cannot be used, with `file:line` in the message."""


@dataclass(frozen=True)
class Profile:
    """One TLS domain: its role, what it matches (`address` None: default; "any"; or (ip, port))
    and the settings its SSL context is made with."""

    role: str = "server"
    address: tuple[str, int] | str | None = None
    method: str = "TLSv1+"
    verify_certificate: bool = False
    verify_depth: int = 9
    require_certificate: bool = False
    verify_client: str = "off"
    private_key: str | None = "cert.pem"
    certificate: str | None = "cert.pem"
    ca_list: str | None = None
    ca_path: str | None = None
    crl: str | None = None
    cipher_list: str | None = None
    server_name: str | None = None
    server_name_mode: int = 0
    server_id: str | None = None
    origin: str = field(default="modparam", compare=False)

    @property
    def name(self) -> str:
        """`[server:default]`-like label as Kamailio's tls_domain_str() shows it."""
        where = "default" if self.address is None else (
            self.address if isinstance(self.address, str) else f"{self.address[0]}:{self.address[1]}")
        return f"{'TLSs' if self.role == 'server' else 'TLSc'}<{where}>"

    def matches_name(self, name: str | None) -> bool:
        """SNI match by `server_name_mode`: 0 the name, 1 the name and its subdomains, 2 subdomains."""
        if not self.server_name or not name:
            return False
        name, own = name.lower(), self.server_name.lower()
        sub = name.endswith("." + own)
        if self.server_name_mode == 1:
            return name == own or sub
        if self.server_name_mode == 2:
            return sub
        return name == own


def absolute(path: str | None, cfg_dir: str) -> str | None:
    """get_abs_pathname(): '/...' as is, './...' from the working directory, else from the main
    config file's directory."""
    if not path:
        return None
    if path.startswith("/") or path.startswith("."):
        return os.path.abspath(path) if path.startswith(".") else path
    return os.path.join(cfg_dir, path)


def with_paths(profile: Profile, cfg_dir: str) -> Profile:
    return replace(profile, **{f: absolute(getattr(profile, f), cfg_dir) for f in _FILES})


def load(path: str, cfg_dir: str) -> list[Profile]:
    """The profiles of a tls.cfg file, or of every file in a directory (in name order)."""
    target = Path(path)
    files = sorted(p for p in target.iterdir() if p.is_file()) if target.is_dir() else [target]
    profiles: list[Profile] = []
    for file in files:
        try:
            text = file.read_text()
        except OSError as exc:
            raise ProfileError(f"{file}: cannot read the TLS configuration: {exc.strerror or exc}") from None
        profiles += parse(text, str(file), cfg_dir)
    _check_unique(profiles)
    return profiles


def parse(text: str, filename: str = "tls.cfg", cfg_dir: str = ".") -> list[Profile]:
    profiles: list[Profile] = []
    current: dict[str, object] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{filename}:{number}"
        if line.startswith("["):
            if current is not None:
                profiles.append(with_paths(Profile(**current), cfg_dir))  # type: ignore[arg-type]
            current = _section(line, where)
            continue
        if current is None:
            raise ProfileError(f"{where}: an option outside of a [server:...] or [client:...] section")
        name, eq, value = line.partition("=")
        if not eq:
            raise ProfileError(f"{where}: 'option = value' expected")
        key, value = name.strip().lower(), _unquote(value.strip())
        if key not in _OPTIONS:
            raise ProfileError(f"{where}: unknown option '{name.strip()}'")
        current[_OPTIONS[key]] = _value(_OPTIONS[key], value, where)
    if current is not None:
        profiles.append(with_paths(Profile(**current), cfg_dir))  # type: ignore[arg-type]
    return profiles


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _section(line: str, where: str) -> dict[str, object]:
    match = re.fullmatch(r"\[\s*([A-Za-z]+)\s*:\s*(.+?)\s*\]", line)
    if match is None or match.group(1).lower() not in _ROLES:
        raise ProfileError(f"{where}: '[server:...]' or '[client:...]' expected, not {line}")
    role, where_text = _ROLES[match.group(1).lower()], match.group(2)
    address: tuple[str, int] | str | None
    if where_text.lower() in _DEFAULT:
        address = None
    elif where_text.lower() in _ANY:
        address = "any"
    else:
        host, colon, port = where_text.rpartition(":")
        if not colon or not port.isdigit() or not host:
            raise ProfileError(f"{where}: 'IP:port', 'default' or 'any' expected, not '{where_text}'")
        address = (host.strip("[]"), int(port))
    files = {"certificate": None, "private_key": None} if role == "client" else {}  # cli_defaults
    return {"role": role, "address": address, "origin": where, **files}


def _value(field_name: str, value: str, where: str) -> object:
    if field_name in ("verify_certificate", "require_certificate"):
        if value.lower() not in _BOOLS:
            raise ProfileError(f"{where}: yes or no expected, not '{value}'")
        return _BOOLS[value.lower()]
    if field_name in ("verify_depth", "server_name_mode"):
        if not re.fullmatch(r"-?\d+", value):
            raise ProfileError(f"{where}: a number expected, not '{value}'")
        return int(value)
    if field_name == "method":
        found = next((m for m in METHODS if m.lower() == value.lower()), None)
        if found is None:
            raise ProfileError(f"{where}: unknown TLS method '{value}'")
        return found
    if field_name == "verify_client":
        if value.lower() not in VERIFY_CLIENT:
            raise ProfileError(f"{where}: unknown verify_client '{value}'")
        return value.lower()
    return value


def _check_unique(profiles: list[Profile]) -> None:
    """One [server:default] and one [client:default]; others repeated only with server_name."""
    seen: dict[tuple[str, object, str | None], Profile] = {}
    for p in profiles:
        key = (p.role, p.address, p.server_name)
        if key in seen:
            raise ProfileError(f"{p.origin}: duplicate TLS domain {p.name} (also at {seen[key].origin})")
        seen[key] = p
