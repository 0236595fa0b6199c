"""The tls module's parts that need no network: Kamailio's tls.cfg read into domain profiles, the
TLS sockets `enable_tls` adds to listen addresses, SSL contexts made from profiles, the @tls
selects a config may name, and what `kampy check` says of a config using the module."""
from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from kampy.cli import main
from kampy.config.pipeline import load_text
from kampy.runtime.sockets import sockets_from_config
from kampy.modules.tls.contexts import make_context
from kampy.modules.tls.profiles import Profile, ProfileError, parse
from kampy.modules.tls.pvs import select_getter
from tests.e2e.tls_material import make

TLS_CFG = """
# comment
[server:default]
method = TLSv1.2+
verify_certificate = yes
require_certificate = no
private_key = server.key
certificate = /abs/server.pem
ca_list = ./ca.pem

[client:default]
verify_certificate = no

[server:127.0.0.1:5061]
server_name = sip.example.com
server_name_mode = 1

[cli:any]
server_id = peer1
server_name = "peer1.example.com"
"""


def test_tls_cfg_sections_become_server_and_client_profiles() -> None:
    profiles = parse(TLS_CFG, "tls.cfg", "/etc/kamailio")
    assert [(p.role, p.address) for p in profiles] == [
        ("server", None), ("client", None), ("server", ("127.0.0.1", 5061)), ("client", "any")]


def test_tls_cfg_file_names_are_relative_to_the_main_config_directory() -> None:
    server = parse(TLS_CFG, "tls.cfg", "/etc/kamailio")[0]
    assert server.private_key == "/etc/kamailio/server.key"
    assert server.certificate == "/abs/server.pem"
    assert server.ca_list == str(Path("./ca.pem").resolve())


def test_tls_cfg_options_take_kamailios_defaults_per_role() -> None:
    server, client, named, peer = parse(TLS_CFG, "tls.cfg", "/etc/kamailio")
    assert (server.method, server.verify_certificate, server.require_certificate) == ("TLSv1.2+", True, False)
    assert (client.method, client.certificate, client.private_key) == ("TLSv1+", None, None)
    assert named.certificate == "/etc/kamailio/cert.pem"  # srv_defaults: cert.pem
    assert (peer.server_id, peer.server_name) == ("peer1", "peer1.example.com")


@pytest.mark.parametrize(("mode", "name", "matches"), [
    (0, "sip.example.com", True), (0, "a.sip.example.com", False),
    (1, "sip.example.com", True), (1, "a.sip.example.com", True), (1, "other.com", False),
    (2, "sip.example.com", False), (2, "a.sip.example.com", True),
])
def test_server_name_mode_matches_the_name_or_its_subdomains(mode: int, name: str, matches: bool) -> None:
    assert Profile(server_name="sip.example.com", server_name_mode=mode).matches_name(name) is matches


@pytest.mark.parametrize(("text", "message"), [
    ("method = TLSv1\n", "outside of a"),
    ("[server:default]\nmethod = TLSv9\n", "unknown TLS method"),
    ("[server:default]\nverify_certificate = maybe\n", "yes or no expected"),
    ("[server:default]\nfoo = 1\n", "unknown option 'foo'"),
    ("[server:nowhere]\n", "'IP:port', 'default' or 'any' expected"),
    ("[proxy:default]\n", r"'\[server:...\]' or '\[client:...\]' expected"),
])
def test_a_bad_tls_cfg_is_refused_with_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message) as info:
        parse(text, "tls.cfg")
    assert str(info.value).startswith("tls.cfg:")


def _sockets(cfg: str) -> list[str]:
    compiled = load_text(cfg + "\nrequest_route { exit; }", resolve=False)
    return [str(s) for s in sockets_from_config(compiled)[0]]


def test_enable_tls_adds_a_tls_socket_on_tls_port_no_to_an_address_without_port() -> None:
    assert _sockets("enable_tls=yes\nlisten=127.0.0.1") == [
        "udp:127.0.0.1:5060", "tcp:127.0.0.1:5060", "tls:127.0.0.1:5061"]
    assert _sockets("enable_tls=yes\ntls_port_no=6061\nlisten=127.0.0.1")[-1] == "tls:127.0.0.1:6061"


def test_enable_tls_adds_the_next_port_to_an_address_with_a_port_as_kamailio() -> None:
    assert _sockets("enable_tls=yes\nlisten=127.0.0.1:7000")[-1] == "tls:127.0.0.1:7001"


def test_an_explicit_tls_listen_keeps_its_port_and_tls_off_adds_no_tls_socket() -> None:
    assert _sockets("enable_tls=yes\nlisten=tls:127.0.0.1:7000") == ["tls:127.0.0.1:7000"]
    assert _sockets("listen=127.0.0.1:7000") == ["udp:127.0.0.1:7000", "tcp:127.0.0.1:7000"]


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory):
    return make(tmp_path_factory.mktemp("tls-material"))


def test_a_server_profile_makes_a_context_with_its_method_and_verification(material) -> None:
    profile = Profile(method="TLSv1.2", certificate=material.path("server.pem"),
                      private_key=material.path("server.key"), ca_list=material.path("ca.pem"),
                      verify_certificate=True, require_certificate=True)
    context = make_context(profile)
    assert context.minimum_version == context.maximum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.options & ssl.OP_NO_COMPRESSION and context.options & ssl.OP_NO_RENEGOTIATION


def test_verify_client_optional_asks_for_a_certificate_without_requiring_it(material) -> None:
    profile = Profile(verify_client="optional", certificate=material.path("server.pem"),
                      private_key=material.path("server.key"))
    assert make_context(profile).verify_mode == ssl.CERT_OPTIONAL


def test_a_missing_certificate_file_is_an_error_naming_the_domain(material) -> None:
    from kampy.modules.tls.contexts import ContextError
    with pytest.raises(ContextError, match=r"TLSs<default>"):
        make_context(Profile(certificate=material.path("nope.pem"), private_key=material.path("nope.key")))


@pytest.mark.parametrize("path", [("tls",), ("tls", "version"), ("tls", "cipher", "bits"),
                                  ("tls", "peer", "subject", "cn"), ("tls", "my", "issuer", "organization"),
                                  ("tls", "peer", "self_signed"), ("tls", "me", "not_after"),
                                  ("tls", "peer", "ip_address"), ("tls", "server_name")])
def test_tls_selects_of_kamailio_resolve(path: tuple[str, ...]) -> None:
    assert callable(select_getter(path))


def test_an_unknown_tls_select_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown select"):
        select_getter(("tls", "peer", "shoe_size"))


def test_kampy_check_warns_about_a_tls_parameter_kampy_cannot_honour(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "k.cfg"
    cfg.write_text('loadmodule "tls.so"\nmodparam("tls", "engine", "pkcs11")\nrequest_route { exit; }\n')
    main(["check", str(cfg)])
    out = capsys.readouterr()
    assert "engine" in out.out + out.err and "warning" in out.out + out.err


STOCK_CFG = Path("/etc/kamailio/kamailio.cfg")  # installed by Debian's kamailio package


def _stock_defines() -> list[str]:
    import re
    return sorted(set(re.findall(r"^#!ifn?def\s+(WITH_\w+)", STOCK_CFG.read_text(), re.MULTILINE)))


@pytest.mark.parametrize("defines", [("WITH_TLS",), "every"], ids=["WITH_TLS", "every-define"])
def test_kampy_check_passes_the_stock_config_with_tls(defines: object,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    names = _stock_defines() if defines == "every" else list(defines)  # type: ignore[arg-type]
    assert "WITH_TLS" in names
    code = main(["check", str(STOCK_CFG), *(a for name in names for a in ("-A", name))])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
