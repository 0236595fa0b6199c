"""The addresses of the network interfaces (Kamailio's add_interfaces()): what `listen=eth0` and a
config without any listen address (every interface) stand for. IPv4 addresses come from the kernel
per interface (SIOCGIFADDR), IPv6 ones from /proc/net/if_inet6; link-local IPv6 addresses are left
out, as Kamailio leaves them out unless `bind_ipv6_link_local` is set."""
from __future__ import annotations

import fcntl
import ipaddress
import socket
import struct
from pathlib import Path

SIOCGIFADDR = 0x8915
IF_INET6 = Path("/proc/net/if_inet6")
_LINK_SCOPE = 0x20


def interface_names() -> list[str]:
    return [name for _, name in socket.if_nameindex()]


def _ipv4(name: str) -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            raw = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        except OSError:
            return None
    return socket.inet_ntoa(raw[20:24])


def _ipv6(name: str | None, link_local: bool) -> list[str]:
    try:
        lines = IF_INET6.read_text().splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) < 6 or (name is not None and fields[5] != name):
            continue
        if int(fields[3], 16) == _LINK_SCOPE and not link_local:
            continue
        out.append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return out


def addresses(name: str | None = None, *, ipv6: bool = True, link_local: bool = False) -> list[str]:
    """Every address of interface `name` (of every interface when None), IPv4 first."""
    names = [name] if name is not None else interface_names()
    v4 = [a for n in names if (a := _ipv4(n)) is not None]
    return v4 + (_ipv6(name, link_local) if ipv6 else [])


def is_interface(name: str) -> bool:
    return name in interface_names()
