"""Module pre-script hooks (Kamailio's PRE_SCRIPT callbacks): sl absorbs ACKs to its own replies."""
from __future__ import annotations

from pathlib import Path

from kampy.runtime.server import Server
from kampy.sip.message import parse_message
from kampy.api import local_to_tag
from kampy.modules.sl.sl import SL_TAG_SEPARATOR, SL_TAG_SIGNATURE
from tests.support.runtime import SOURCE, make_server, recorded, request

HOOK_MODULE = '''
from kampy.api import Exports, Module, Need


class Hook(Module):
    def pre_script(self, ctx):
        self.core.api("fake").record("{name}:" + ctx.msg.method)
        return {go_on}


EXPORTS = Exports(name="{name}", needs=(Need("fake"),), factory=Hook)
'''


def write_hook(tmp_path: Path, name: str, go_on: bool) -> None:
    folder = tmp_path / "mods" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(HOOK_MODULE.format(name=name, go_on=go_on))


REPLY_INVITE = 'if (method == "INVITE") { sl_send_reply("486", "Busy Here"); exit; } '


def ack_to_our_reply(server: Server) -> bytes:
    """An ACK to sl's reply to an INVITE the server just answered (sl looks at ACKs for 2 s after
    a local reply)."""
    server.handle(request("INVITE"), SOURCE)
    tag = local_to_tag(server.core, parse_message(request("INVITE")), SL_TAG_SIGNATURE, SL_TAG_SEPARATOR)  # type: ignore[arg-type]
    to = b"To: <sip:bob@example.com>"
    return request("ACK").replace(to, to + b";tag=" + tag.encode())


def test_sl_drops_ack_to_its_own_reply_before_the_script(tmp_path):
    server = make_server(tmp_path, 'request_route { ' + REPLY_INVITE + 'rec("script $rm"); }',
                         modules=("fake", "pv", "sl"))
    assert server.handle(ack_to_our_reply(server), SOURCE) == []
    assert recorded(server) == []
    assert server.core.stats.get("sl:received_ACKs") == 1


def test_an_ack_sl_absorbs_is_not_counted_in_the_core_statistics(tmp_path):
    """kex counts requests in a pre-script callback that Kamailio runs after sl's ACK filter (the
    callbacks of modules loaded later run first), so an ACK sl drops never reaches kex."""
    server = make_server(tmp_path, 'request_route { ' + REPLY_INVITE + 'exit; }',
                         modules=("fake", "pv", "kex", "sl"))
    ack = ack_to_our_reply(server)
    assert server.core.stats.get("core:rcv_requests") == 1  # the INVITE
    server.handle(ack, SOURCE)
    assert server.core.stats.get("core:rcv_requests_ack") == 0
    assert server.core.stats.get("core:rcv_requests") == 1


def test_an_ack_that_reaches_the_script_is_counted_in_the_core_statistics(tmp_path):
    server = make_server(tmp_path, 'request_route { exit; }', modules=("fake", "pv", "kex", "sl"))
    server.handle(request("ACK").replace(b"To: <sip:bob@example.com>", b"To: <sip:b@example.com>;tag=x"),
                  SOURCE)
    assert server.core.stats.get("core:rcv_requests_ack") == 1
    assert server.core.stats.get("core:rcv_requests") == 1


def test_sl_lets_other_acks_reach_the_script(tmp_path):
    server = make_server(tmp_path, 'request_route { rec("script $rm"); }', modules=("fake", "pv", "sl"))
    server.handle(request("ACK").replace(b"To: <sip:bob@example.com>", b"To: <sip:b@example.com>;tag=x"),
                  SOURCE)
    assert recorded(server) == ["script ACK"]


def test_hooks_run_in_load_order_and_false_stops_the_rest(tmp_path):
    write_hook(tmp_path, "first", True)
    write_hook(tmp_path, "second", False)
    write_hook(tmp_path, "third", True)
    server = make_server(tmp_path, 'request_route { rec("script"); }',
                         modules=("fake", "first", "second", "third"))
    server.handle(request(), SOURCE)
    assert recorded(server) == ["first:OPTIONS", "second:OPTIONS"]


def test_hooks_do_not_run_for_replies(tmp_path):
    write_hook(tmp_path, "first", True)
    server = make_server(tmp_path, "request_route { exit; }", modules=("fake", "first"))
    reply = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
             b"Via: SIP/2.0/UDP 192.0.2.7:5080;branch=z9hG4bK-abc\r\nFrom: <sip:a@b>;tag=1\r\n"
             b"To: <sip:c@d>;tag=2\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
    server.handle(reply, SOURCE)
    assert recorded(server) == []


def test_module_without_hook_is_not_called(tmp_path):
    server = make_server(tmp_path, 'request_route { rec("script"); }')
    assert server._pre_script == ()
