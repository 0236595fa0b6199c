"""The TLS engine the network layer asks for SSL contexts (kampy.api.TlsEngine): the domain
profiles of tls.cfg (or of the module parameters), picked per listener, per SNI and per outgoing
destination as Kamailio's tls_lookup_cfg() does, reloaded in every worker after `tls.reload`."""
from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass


from .profiles import Profile

log = logging.getLogger("kampy.tls")


@dataclass
class Domain:
    profile: Profile
    context: ssl.SSLContext


class Domains:
    """The contexts of one generation of the profiles."""

    def __init__(self, profiles: list[Profile], make: Callable[[Profile], ssl.SSLContext]) -> None:
        self.profiles = profiles
        self.domains = [Domain(p, make(p)) for p in profiles]

    def server(self, host: str, port: int) -> Domain | None:
        """[server:IP:PORT] of the listener, else [server:default]."""
        return self._lookup("server", host, port, None) or self._default("server")

    def server_by_name(self, host: str, port: int, name: str) -> Domain | None:
        """A server domain of this listener (or 'any') whose server_name matches the SNI."""
        for d in self.domains:
            p = d.profile
            if p.role == "server" and (p.address == "any" or _same(p.address, host, port)) \
                    and p.matches_name(name):
                return d
        return None

    def client(self, host: str, port: int, server_name: str | None, server_id: str | None) -> Domain | None:
        """By server_id when one is set, else [client:IP:PORT] (with server_name when given),
        else [client:default]."""
        if server_id:
            found = next((d for d in self.domains if d.profile.role == "client"
                          and d.profile.server_id == server_id), None)
            if found is not None:
                return found
        return self._lookup("client", host, port, server_name) or self._default("client")

    def _lookup(self, role: str, host: str, port: int, name: str | None) -> Domain | None:
        candidates = [d for d in self.domains
                      if d.profile.role == role and _same(d.profile.address, host, port)]
        if name:
            named = next((d for d in candidates if d.profile.matches_name(name)), None)
            if named is not None:
                return named
        unnamed = [d for d in candidates if not d.profile.server_name]
        return (unnamed or candidates or [None])[0]

    def _default(self, role: str) -> Domain | None:
        return next((d for d in self.domains if d.profile.role == role and d.profile.address is None), None)


def _same(address: object, host: str, port: int) -> bool:
    return isinstance(address, tuple) and address[1] == port and address[0].strip("[]") == host.strip("[]")


class ListenerContext(ssl.SSLContext):
    """The context asyncio gets for a `tls:` listener: each connection is wrapped with the current
    generation's domain for the listener (so `tls.reload` takes effect for new connections), and
    the SNI the client sends may switch it to a domain with that server_name."""

    engine: TlsEngineImpl
    listen: tuple[str, int]

    def wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):  # type: ignore[no-untyped-def,override]
        domain = self.engine.current().server(*self.listen)
        if domain is None:
            raise ssl.SSLError(f"no TLS server domain for {self.listen[0]}:{self.listen[1]}")
        sslobj = domain.context.wrap_bio(incoming, outgoing, server_side=server_side,
                                         server_hostname=server_hostname, session=session)
        sslobj.kampy_listen = self.listen  # type: ignore[attr-defined]  # for the SNI lookup
        return _Accepting(sslobj, self.listen)


class _Accepting:
    """The SSLObject asyncio drives for an accepted connection, whose failed handshake is logged
    (asyncio's TLS transport reports it only in its debug mode); everything else is the object's."""

    __slots__ = ("_obj", "_listen")

    def __init__(self, obj: ssl.SSLObject, listen: tuple[str, int]) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "_listen", listen)

    def do_handshake(self) -> None:
        try:
            self._obj.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except (ssl.SSLError, OSError) as exc:
            log.error("TLS accept on %s:%d failed: %s", self._listen[0], self._listen[1], exc)
            raise

    def __getattr__(self, name: str) -> object:
        return getattr(self._obj, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._obj, name, value)


class TlsEngineImpl:
    """Holds the current generation of domains of this process."""

    def __init__(self, load: Callable[[], list[Profile]], make: Callable[[Profile], ssl.SSLContext],
                 generation: Callable[[], int]) -> None:
        self._load = load
        self._make = make
        self._generation = generation
        self._seen = generation()
        self._domains = Domains(load(), make)
        self._sni_callbacks_set: set[int] = set()

    def current(self) -> Domains:
        now = self._generation()
        if now != self._seen:
            try:
                self._domains = Domains(self._load(), self._make)
                log.info("TLS configuration reloaded")
            except Exception as exc:  # a reload that fails keeps the working configuration
                log.error("TLS configuration not reloaded: %s", exc)
            self._seen = now
        self._set_sni_callbacks()
        return self._domains

    def _set_sni_callbacks(self) -> None:
        for d in self._domains.domains:
            if d.profile.role == "server" and id(d.context) not in self._sni_callbacks_set:
                d.context.sni_callback = self._sni
                self._sni_callbacks_set.add(id(d.context))

    def _sni(self, sslobj: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        listen = getattr(sslobj, "kampy_listen", None)
        sslobj.kampy_sni = name  # type: ignore[attr-defined]  # $tls_peer_server_name
        if not name or listen is None:
            return
        domain = self._domains.server_by_name(listen[0], listen[1], name)
        if domain is not None and domain.context is not sslobj.context:
            log.debug("TLS SNI %s: using %s", name, domain.profile.name)
            sslobj.context = domain.context

    def listener_context(self, host: str, port: int) -> ssl.SSLContext | None:
        if self.current().server(host, port) is None:
            return None
        context = ListenerContext(ssl.PROTOCOL_TLS_SERVER)
        context.engine = self
        context.listen = (host, port)
        return context

    def client(self, host: str, port: int, server_name: str | None, server_id: str | None) -> Domain | None:
        return self.current().client(host, port, server_name, server_id)
