"""registrar's sock_flag, sock_hdr_name and sock_mode: which socket save() stores with a binding
(Kamailio 5.6's save.c get_sock_val and REG_SOCK_USE_ADVERTISED)."""
from __future__ import annotations

from kampy.api import Socket, Source
from kampy.config.pipeline import load_text
from kampy.runtime.server import Server
from kampy.modules.registrar.sockets import parse_phostport
from tests.reg_helpers import SOCKET, FakeClock, register

OTHER = Socket("udp", "127.0.0.2", 5062)
ADVERTISED = Socket("udp", "127.0.0.1", 5060, advertise_host="198.51.100.1", advertise_port=5080)

ROUTE = r'''
request_route {
    SETUP
    save("location");
    exit;
}
'''


def stored_socket(registrar: str, setup: str = "", extra: str = "", local: Socket = SOCKET) -> str | None:
    cfg = "".join(f'loadmodule "{m}"\n' for m in ("sl", "pv", "usrloc", "registrar"))
    cfg += "".join(f'modparam("registrar", {p})\n' for p in filter(None, registrar.split(";")))
    cfg += ROUTE.replace("SETUP", setup)
    srv = Server.from_config(load_text(cfg, "t.cfg"), sockets=[local, OTHER], clock=FakeClock())
    srv.child_init(1)
    srv.handle(register(extra=extra), Source("udp", "127.0.0.1", 5070, local))
    (contact,) = srv.core.modules["usrloc"].contacts("alice")
    return contact.socket


def test_sock_flag_set_stores_the_socket_named_in_sock_hdr_name() -> None:
    assert stored_socket('"sock_hdr_name", "X-Sock";"sock_flag", 18', "setflag(18);",
                         "X-Sock: udp:127.0.0.2:5062") == "udp:127.0.0.2:5062"


def test_sock_flag_not_set_stores_the_receiving_socket() -> None:
    assert stored_socket('"sock_hdr_name", "X-Sock";"sock_flag", 18', "",
                         "X-Sock: udp:127.0.0.2:5062") == "udp:127.0.0.1:5060"


def test_sock_hdr_name_without_sock_flag_is_reset() -> None:
    stored = stored_socket('"sock_hdr_name", "X-Sock"', "", "X-Sock: udp:127.0.0.2:5062")
    assert stored == "udp:127.0.0.1:5060"


def test_sock_flag_takes_the_socket_from_the_xavp_cfg_socket_field() -> None:
    assert stored_socket('"xavp_cfg", "reg";"sock_flag", 18',
                         '$xavp(reg=>socket) = "udp:127.0.0.2:5062"; setflag(18);') == "udp:127.0.0.2:5062"


def test_sock_flag_with_a_non_local_socket_stores_the_receiving_one() -> None:
    assert stored_socket('"sock_hdr_name", "X-Sock";"sock_flag", 18', "setflag(18);",
                         "X-Sock: udp:192.0.2.9:5060") == "udp:127.0.0.1:5060"


def test_sock_mode_1_stores_the_advertised_address() -> None:
    assert stored_socket('"sock_mode", 1', local=ADVERTISED) == "udp:198.51.100.1:5080"


def test_sock_mode_0_stores_the_bind_address() -> None:
    assert stored_socket("", local=ADVERTISED) == "udp:127.0.0.1:5060"


def test_parse_phostport_reads_proto_host_and_port() -> None:
    assert [parse_phostport(t) for t in ("udp:10.0.0.1:5060", "10.0.0.1:5061", "tcp:[::1]:5060", "host")] == [
        ("10.0.0.1", 5060, "udp"), ("10.0.0.1", 5061, None), ("::1", 5060, "tcp"), ("host", 0, None)]
