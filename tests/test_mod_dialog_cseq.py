"""dialog's track_cseq_updates on the bytes (modules/dialog/cseq.py, Kamailio's dlg_cseq.c): a reply
whose top Via branch carries the `.cs<CSeq>` cookie gets the caller's CSeq back. The whole call is
on the wire in tests/e2e/test_dialog_cseq_e2e.py."""
from __future__ import annotations

from kampy.modules.dialog.cseq import DialogCseq, RawHeaders

SRC = None


def reply(branch: str, cseq: str) -> bytes:
    return (f"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch={branch};rport=5060\r\n"
            "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-a\r\nFrom: <sip:a@x>;tag=a\r\n"
            f"To: <sip:b@x>;tag=b\r\nCall-ID: c1\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n").encode()


def test_a_reply_with_the_cookie_gets_the_callers_cseq_and_a_z_parameter() -> None:
    got = DialogCseq.cseq_received(reply("z9hG4bKx.0.cs7", "8 BYE"), SRC)
    assert b"CSeq: 7 BYE\r\n" in got
    assert b"branch=z9hG4bKx.0;z=7;rport=5060" in got


def test_a_shorter_cseq_is_padded_with_spaces_as_kamailio_does() -> None:
    got = DialogCseq.cseq_received(reply("z9hG4bKx.cs9", "10 BYE"), SRC)
    assert b"CSeq:  9 BYE\r\n" in got


def test_a_reply_without_the_cookie_is_left_alone() -> None:
    data = reply("z9hG4bKx.0", "8 BYE")
    assert DialogCseq.cseq_received(data, SRC) == data


def test_a_cookie_longer_than_the_cseq_is_left_alone() -> None:
    data = reply("z9hG4bKx.cs100", "99 BYE")
    assert DialogCseq.cseq_received(data, SRC) == data


def test_a_request_is_left_alone() -> None:
    data = reply("z9hG4bKx.cs1", "2 BYE").replace(b"SIP/2.0 200 OK", b"BYE sip:b@x SIP/2.0", 1)
    assert DialogCseq.cseq_received(data, SRC) == data


def test_the_raw_spans_are_the_top_vias_branch_and_the_cseq_number() -> None:
    data = reply("z9hG4bKq", "42 INVITE")
    raw = RawHeaders(data)
    branch, number = raw.branch(), raw.cseq_number()
    assert branch is not None and data[branch[0]:branch[1]] == b"z9hG4bKq"
    assert number is not None and data[number[0]:number[1]] == b"42"
    assert raw.header("call-id") is not None and raw.header("call-id")[2] == "c1"
