"""Database URLs as Kamailio writes them: `scheme://[user[:password]@]host[:port]/database`."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from kampy.db.errors import DBError, Reason


@dataclass(frozen=True)
class DBURL:
    scheme: str
    user: str | None
    password: str | None
    host: str
    port: int | None
    database: str
    text: str

    def redacted(self) -> str:
        """The URL with its password hidden, for logs and error messages."""
        if self.password is None:
            return self.text
        auth = f"{self.user or ''}:***@"
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{auth}{self.host}{port}/{self.database}"


def parse_url(text: str) -> DBURL:
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise DBError(f"invalid database URL '{text}': expected scheme://...", Reason.URL)
    scheme = scheme.lower()
    if scheme == "sqlite":
        return _parse_sqlite(text, rest)
    return _parse_server(text, scheme, rest)


def _parse_sqlite(text: str, rest: str) -> DBURL:
    """`sqlite:///abs/path` is /abs/path. Kamailio's parser takes the part after the first '/' and
    opens it relative to its working directory, which is '/' once it runs; kampy gives the same
    file. `sqlite://rel/path` is rel/path from kampy's working directory (Kamailio would drop 'rel/'
    as a host name). A `?params` tail is ignored, as Kamailio does."""
    path = rest.split("?", 1)[0]
    if not path or path == "/":
        raise DBError(f"invalid database URL '{text}': no file path", Reason.URL)
    if path.startswith("//"):
        path = path[1:]
    return DBURL("sqlite", None, None, "", None, path, text)


def _parse_server(text: str, scheme: str, rest: str) -> DBURL:
    authority, slash, database = rest.partition("/")
    database = database.split("?", 1)[0]
    if not slash or not database:
        raise DBError(f"invalid database URL '{text}': no database name after the host", Reason.URL)
    userinfo, at, hostport = authority.rpartition("@")
    user = password = None
    if at:
        user, colon, pw = userinfo.partition(":")
        user = unquote(user)
        password = unquote(pw) if colon else None
    host, port = _split_host_port(text, hostport)
    return DBURL(scheme, user, password, host, port, database, text)


def _split_host_port(text: str, hostport: str) -> tuple[str, int | None]:
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port_text = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port_text = hostport.partition(":")
    if not host:
        raise DBError(f"invalid database URL '{text}': no host", Reason.URL)
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise DBError(f"invalid database URL '{text}': bad port '{port_text}'", Reason.URL)
    return host, int(port_text)
