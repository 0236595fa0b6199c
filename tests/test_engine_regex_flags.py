"""REGEX arguments are compiled once by the engine with Kamailio's regcomp flags
(REG_EXTENDED | REG_ICASE | REG_NEWLINE), or with the flags a declaration asks for."""
from __future__ import annotations

from tests.support.runtime import SOURCE, make_server, recorded, request


def run(tmp_path, cond: str, **kw):  # type: ignore[no-untyped-def]
    server = make_server(tmp_path, f'request_route {{ if ({cond}) rec("yes"); }}', **kw)
    server.handle(request(), SOURCE)
    return recorded(server)


def test_regex_argument_ignores_case(tmp_path):
    assert run(tmp_path, 'match("ALICE", "alice")') == ["yes"]


def test_regex_argument_anchors_at_line_ends(tmp_path):
    assert run(tmp_path, 'match("^b$", "a\\nb\\nc")') == ["yes"]


def test_regex_argument_dot_does_not_match_newline(tmp_path):
    assert run(tmp_path, 'match("a.b", "a\\nb")') == []


def test_regex_from_a_pv_gets_the_same_flags(tmp_path):
    server = make_server(tmp_path, 'request_route { $var(re) = "^B$"; '
                         'if (match($var(re), "a\\nb")) rec("yes"); }',
                         modules=("fake", "pv"))
    server.handle(request(), SOURCE)
    assert recorded(server) == ["yes"]


def test_replace_body_atonce_dot_matches_newline(tmp_path):
    server = make_server(
        tmp_path, 'request_route { if (replace_body_atonce("a.b", "X")) rec("yes"); }',
        modules=("fake", "textops"))
    server.handle(request("MESSAGE", body=b"a\nb"), SOURCE)
    assert recorded(server) == ["yes"]


def test_keep_hf_regex_ignores_case(tmp_path):
    server = make_server(tmp_path, 'request_route { keep_hf("^x-keep$"); forward("198.51.100.4"); }',
                         modules=("fake", "textopsx"))
    out = server.handle(request("MESSAGE", extra="X-Keep: 1\r\nX-Drop: 2\r\n"), SOURCE)
    assert b"X-Keep: 1" in out[0].data and b"X-Drop" not in out[0].data
