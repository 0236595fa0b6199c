"""What the presence tests share: a config shaped like the stock config's route[PRESENCE] (t_newtran,
handle_publish/handle_subscribe, t_release), PIDF documents, and PUBLISH/SUBSCRIBE as phones send
them through the in-process harness (kampy.testing)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kampy.api import Request
from kampy.testing import Harness
from kampy.testing.messages import Sent
from kampy.testing.ua import UserAgent

DOMAIN = "127.0.0.1"

CFG = """
loadmodule "tm"
loadmodule "sl"
loadmodule "pv"
loadmodule "textops"
loadmodule "xlog"
loadmodule "siputils"
loadmodule "presence"
loadmodule "presence_xml"
modparam("presence", "db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")
modparam("presence_xml", "db_url", "mysql://kamailio:kamailiorw@localhost/kamailio")
modparam("presence_xml", "force_active", 1)

request_route {
    if (has_totag() && !is_method("SUBSCRIBE")) {
        sl_send_reply("404", "Not here");
        exit;
    }
    if (!is_method("PUBLISH|SUBSCRIBE")) {
        sl_send_reply("404", "Not here");
        exit;
    }
    if (!t_newtran()) {
        sl_reply_error();
        exit;
    }
    if (is_method("PUBLISH")) {
        handle_publish();
        t_release();
    } else {
        handle_subscribe();
        t_release();
    }
    exit;
}
"""


def load(cfg: str = CFG, db: str = "sqlite", **modparams: dict[str, Any]) -> Harness:
    """The config on a fresh database; `presence={...}` / `presence_xml={...}` set parameters."""
    return Harness.load(cfg, db=db, modparams=modparams or None)


def pidf(
    entity: str, basic: str = "open", tuple_id: str = "t1", note: str | None = None, extra: str = ""
) -> str:
    note_line = f"    <note>{note}</note>\n" if note else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="{entity}">\n'
        f'  <tuple id="{tuple_id}">\n    <status>\n      <basic>{basic}</basic>\n    </status>\n'
        f"{note_line}  </tuple>\n{extra}</presence>\n"
    )


def publish(
    sip: Harness,
    user: str,
    body: str | None,
    *,
    expires: int | None = 3600,
    etag: str | None = None,
    event: str = "presence",
    **fields: Any,
) -> Sent:
    """A PUBLISH of `user`'s presence; its reply."""
    aor = f"sip:{user}@{DOMAIN}"
    headers: dict[str, str] = {"Event": event}
    if expires is not None:
        headers["Expires"] = str(expires)
    if etag is not None:
        headers["SIP-If-Match"] = etag
    result = sip.send_request(
        "PUBLISH",
        aor,
        from_=aor,
        to=aor,
        body=body or "",
        headers=headers,
        content_type="application/pidf+xml" if body else None,
        **fields,
    )
    return result.replies[-1]


def watcher(sip: Harness, user: str, port: int, answer: Any = 200) -> UserAgent:
    """A watcher's phone at 127.0.0.<port-5000>:<port>, answering NOTIFYs per `answer`."""
    return sip.ua(f"sip:{user}@{DOMAIN}", f"127.0.0.{port - 5000}:{port}", answer=answer)


@dataclass
class Dialog:
    """A subscription as the watcher sees it: the SUBSCRIBE sent and the reply it got."""

    ua: UserAgent
    request: Request
    reply: Sent
    cseq: int = 1

    @property
    def status(self) -> int:
        return self.reply.msg.status  # type: ignore[union-attr]

    def header(self, name: str) -> str | None:
        return self.reply.msg.header(name)

    def refresh(self, expires: int, event: str = "presence") -> Sent:
        """SUBSCRIBE again within the dialog (to the notifier's Contact); the reply."""
        self.cseq += 1
        to = self.reply.msg.to
        assert to is not None and to.tag
        result = self.ua.send_request(
            "SUBSCRIBE",
            "sip:127.0.0.1:5060;transport=udp",
            to=str(self.request.header("to")).split(";")[0],
            call_id=self.request.call_id,
            cseq=self.cseq,
            from_tag=self.request.from_.tag,
            to_tag=to.tag,
            headers={"Event": event, "Expires": str(expires)},
            contact=f"<{self.ua.contact}>",
        )
        return result.replies[-1]


def subscribe(
    ua: UserAgent, target: str, *, expires: int | None = 600, event: str = "presence", **fields: Any
) -> Dialog:
    """A SUBSCRIBE from `ua` to `target`."""
    headers: dict[str, str] = {"Event": event}
    if expires is not None:
        headers["Expires"] = str(expires)
    result = ua.send_request(
        "SUBSCRIBE", target, to=target, headers=headers, contact=f"<{ua.contact}>", **fields
    )
    assert isinstance(result.request, Request)
    return Dialog(ua, result.request, result.replies[-1])


def notifies(ua: UserAgent) -> list[Sent]:
    """The NOTIFYs a watcher got (retransmissions left out)."""
    seen: set[tuple[str | None, ...]] = set()
    out = []
    for sent in ua.requests:
        key = (sent.msg.call_id, sent.msg.header("cseq"), sent.msg.header("to"))
        if sent.msg.method == "NOTIFY" and key not in seen:
            seen.add(key)
            out.append(sent)
    return out
