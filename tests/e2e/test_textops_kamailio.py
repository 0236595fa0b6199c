"""textops/textopsx edits beside Kamailio 5.6: the same config edits a request (chosen by its X-Case
header) and relays it statelessly to the test's socket; kampy forwards the same bytes as Kamailio
(the Via the proxy adds is left out of the comparison: its branch differs by nature)."""
from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.beside import pair
from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process
from tests.support.kamailio_cli import KAMAILIO, KAMAILIO_MODULES, kampy_cmd

CFG = r"""#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "textops.so"
loadmodule "textopsx.so"
request_route {
  if ($rU == "ping") { sl_send_reply("200", "OK"); exit; }
ROUTES
  $du = "sip:127.0.0.1:" + $hdr(X-Back);
  forward();
}
ROUTE_BLOCKS"""
ROUTE_BLOCKS = r"""
route[hfit] {
  hf_iterator_start("i");
  while (hf_iterator_next("i")) {
    if ($hfitname(i) == "X-Rm") { hf_iterator_rm("i"); }
    if ($hfitname(i) == "X-A") { hf_iterator_append("i", "X-After: [$hfitbody(i)]\r\n"); }
    if ($hfitname(i) == "Subject") { hf_iterator_insert("i", "X-Before: 1\r\nX-Before: 2\r\n"); }
  }
  hf_iterator_end("i");
  hf_iterator_start("j");
  hf_iterator_next("j"); hf_iterator_next("j"); hf_iterator_next("j");
  hf_iterator_prev("j");
  append_hf("X-Second: $hfitname(j)\r\n");
}
route[blit] {
  bl_iterator_start("b");
  while (bl_iterator_next("b")) {
    if ($blitval(b) =~ "^a=rm") { bl_iterator_rm("b"); }
    if ($blitval(b) =~ "^m=") { bl_iterator_append("b", "a=after\r\n"); }
    if ($blitval(b) =~ "^c=") { bl_iterator_insert("b", "i=before\r\n"); }
  }
  bl_iterator_end("b");
}
route[hfvappend] {
  append_hf_value("foo", "gogo;stamp=1");
  append_hf_value("x-list[1]", "ins1");
  append_hf_value("x-list[-1]", "last");
  append_hf_value("x-other[0]", "zero");
  append_hf_value("x-none[2]", "new");
}
route[hfvinsert] {
  insert_hf_value("x-list", "first");
  insert_hf_value("x-other[2]", "before2");
  insert_hf_value("x-new[1]", "n");
  insert_hf_value("x-new[2]", "never");
}
route[hfvremove] {
  remove_hf_value("x-list[2]");
  remove_hf_value("x-other[-1]");
  remove_hf_value("contact[1].expires");
  remove_hf_value("x-single");
  remove_hf_value("x-list[-1]");
}
route[hfvstar] {
  remove_hf_value("x-p[*].tag");
  remove_hf_value("x-list[*]");
  $var(rc) = $rc;
  append_hf("X-Rc: $var(rc)\r\n");
}
route[hfvassign] {
  assign_hf_value("x-list[2]", "new2");
  assign_hf_value("contact[1].expires", "60");
  assign_hf_value("contact[2].q", "0.5");
  assign_hf_value("x-p[*].flag", "");
  assign_hf_value("x-other[1]", "");
  assign_hf_value("x-single.p", "1");
}
route[hfvtwo] {
  assign_hf_value2("authorization.realm", "new.example.com");
  remove_hf_value2("authorization.nonce");
  assign_hf_value2("authorization.opaque", "op1");
  remove_hf_value2("x-other");
  assign_hf_value2("x-single[1]", "replaced");
  remove_hf_value2("x-list[-1]");
}
route[hfvinc] {
  include_hf_value("x-list", "ONE");
  include_hf_value("x-list", "five");
  include_hf_value("x-absent", "v");
  exclude_hf_value("x-other", "B");
  exclude_hf_value("x-p", "<sip:q@h>;tag=2");
  if (hf_value_exists("x-list", "two")) { append_hf("X-Has: two\r\n"); }
  if (!hf_value_exists("x-list", "nine")) { append_hf("X-Has-Not: nine\r\n"); }
}
route[hfvcompact] {
  assign_hf_value("contact[1].expires", "5");
  remove_hf_value("v[2].ttl");
  append_hf_value("m[-1]", "<sip:c@h>");
}
route[mpreplace] {
  set_body_multipart("new", "text/plain", "XyZ");
}
route[mpkeep] {
  set_body_multipart();
  $var(rc) = $rc;
  append_hf("X-Rc: $var(rc)\r\n");
}
route[singlepart] {
  get_body_part("text/plain", "$var(p)");
  append_hf("X-Part: $(var(p){s.len}) $(var(p){s.md5})\r\n");
}
route[applied] {
  set_body_multipart("hello", "text/plain", "b2");
  msg_apply_changes();
}
route[hfitfold] {
  hf_iterator_start("f");
  while (hf_iterator_next("f")) {
    if ($hfitname(f) == "X-Fold") { append_hf("X-Len: $(hfitbody(f){s.len}) $(hfitbody(f){s.md5})\r\n"); }
  }
  bl_iterator_start("l");
  while (bl_iterator_next("l")) {
    if ($blitval(l) =~ "^v=") { append_hf("X-Line: $(blitval(l){s.len})\r\n"); }
    if ($blitval(l) =~ "^x=") {
      bl_iterator_append("l", "\r\ny=2");
      $var(rc) = $rc;
      bl_iterator_insert("l", "w=0\r\n");
      append_hf("X-Rc: $var(rc) $rc\r\n");
    }
  }
}
route[multipart] {
  set_body_multipart("hello", "text/plain", "b1");
}
route[convert] {
  set_body_multipart();
  msg_apply_changes();
  append_body_part("<x/>", "application/pidf+xml", "render");
}
route[hex] {
  set_body_multipart("abc", "text/plain", "delim");
  msg_apply_changes();
  append_body_part_hex("6b 61 6d 61", "application/x-k");
}
route[twoparts] {
  set_body_multipart("one");
  msg_apply_changes();
  append_body_part("two\r\n", "text/two");
  append_body_part("three", "text/three", "session");
}
route[rmpart] {
  remove_body_part("application/isup");
}
route[getpart] {
  get_body_part("application/sdp", "$var(p)");
  get_body_part_raw("application/isup", "$var(r)");
  append_hf("X-Part: $(var(p){s.len}) $(var(p){s.md5})\r\n");
  append_hf("X-Raw: $(var(r){s.len}) $(var(r){s.md5})\r\n");
}
route[filter] {
  filter_body("application/sdp");
}
route[hold] {
  is_audio_on_hold();
  $var(rc) = $rc;
  append_hf("X-Hold: $var(rc)\r\n");
}
route[privacy] {
  if (is_privacy("id")) { append_hf("X-Id: yes\r\n"); }
  if (is_privacy("session")) { append_hf("X-Session: yes\r\n"); }
}
route[hfmatch] {
  remove_hf_match("X-Info", "re", "^data");
  $var(rc) = $rc;
  remove_hf_match("X-Eq", "eq", "same");
  remove_hf_match("X-Ne", "ne", "keep");
  remove_hf_match("X-In", "in", "mid");
  append_hf("X-Rc: $var(rc)\r\n");
}
route[regex] {
  regex_substring("$hdr(X-Str)", "([a-z]+)-([0-9]+)", 2, 3, "$var(r)");
  $var(rc) = $rc;
  append_hf("X-Got: $var(r) $var(rc)\r\n");
}
"""


SDP = ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\na=rm:1\r\na=sendrecv\r\na=rm:2\r\n")

MIXED = ("--XyZ\r\nContent-Type: application/sdp\r\n\r\n" + SDP + "\r\n--XyZ\r\n"
         "Content-Type: application/isup\r\nContent-Disposition: signal;handling=optional\r\n\r\n"
         "isup-data\r\n--XyZ--\r\n")
MIXED_TYPE = 'multipart/mixed;boundary="XyZ"'
HOLD_SDP = SDP.replace("a=sendrecv", "a=sendonly")
ZERO_SDP = SDP.replace("c=IN IP4 10.0.0.1", "c=IN IP4 0.0.0.0")

HFV = ["X-List: one, two,three", "X-List: four", "X-Other: a, b, c", "X-Single: only",
       'Contact: "A" <sip:a@10.0.0.1>;expires=30;q=0.7, <sip:b@h>',
       "X-P: <sip:p@h>;tag=1;flag, <sip:q@h>;tag=2",
       'Authorization: Digest username="alice", realm="example.com", nonce="abc", uri="sip:bob@example.com", '
       'response="0123"']

CASES = {
    "hfvappend": (HFV, "", ""),
    "hfvinsert": (HFV, "", ""),
    "hfvremove": (HFV, "", ""),
    "hfvstar": (HFV, "", ""),
    "hfvassign": (HFV, "", ""),
    "hfvtwo": (HFV, "", ""),
    "hfvinc": (HFV, "", ""),
    "hfvcompact": (["m: <sip:a@h>;expires=30 , <sip:b@h>", "v: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK-2;ttl=3"],
                   "", ""),
    "multipart": ([], SDP, "application/sdp"),
    "mpreplace": ([], MIXED, MIXED_TYPE),
    "hfitfold": (["X-Fold: a,\r\n b ,c"], "v=0\r\nx=1", "text/plain"),
    "applied": ([], SDP, "application/sdp"),
    "mpkeep": ([], MIXED, MIXED_TYPE),
    "singlepart": ([], SDP, "application/sdp"),
    "convert": ([], SDP, "application/sdp"),
    "hex": ([], SDP, "application/sdp"),
    "twoparts": ([], SDP, "application/sdp"),
    "rmpart": ([], MIXED, MIXED_TYPE),
    "getpart": ([], MIXED, MIXED_TYPE),
    "filter": ([], MIXED, MIXED_TYPE),
    "hold": ([], HOLD_SDP, "application/sdp"),
    "hold-zero": ([], ZERO_SDP, "application/sdp"),
    "hold-none": ([], SDP, "application/sdp"),
    "hold-mixed": ([], MIXED.replace("a=sendrecv", "a=inactive"), MIXED_TYPE),
    "privacy": (["Privacy: id;header"], "", ""),
    "hfmatch": (["X-Info: data1", "X-Info: other", "X-Info: Data2", "X-Eq: same", "X-Eq: samer",
                 "X-Ne: keep", "X-Ne: drop", "X-In: amidst", "X-In: none"], "", ""),
    "regex": (["X-Str: call abc-123 now"], "", ""),
    "hfit": (["X-A: alpha", "X-Rm: one", "Subject: s", "X-Rm: two"], SDP, "application/sdp"),
    "blit": ([], SDP, "application/sdp"),
}


# Kamailio's route() does not take $hdr(...) (the name runs on to the end of the message)
ROUTES = "\n".join(f'  if ($rU == "{case}") {{ route({case.partition("-")[0]}); }}' for case in CASES)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    dir: Path


def start(name: str, tmp: Path) -> Server:
    directory = tmp / name
    directory.mkdir()
    port = free_port()
    (directory / "k.cfg").write_text(CFG.replace("PORT", str(port)).replace("MODULES", KAMAILIO_MODULES)
                                     .replace("ROUTES", ROUTES).replace("ROUTE_BLOCKS", ROUTE_BLOCKS))
    args = ["-f", str(directory / "k.cfg"), "-DD", "-E", "-Y", str(directory)]
    kamailio = [KAMAILIO, *args, "-A", "KAMAILIO", "-m", "64", "-M", "8"]
    cmd = kamailio if name == "kamailio" else kampy_cmd(*args)
    with open(directory / "log", "wb") as log:
        proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    server = Server(name, port, proc, directory)
    deadline = time.monotonic() + 30
    while not ping(server):
        assert proc.poll() is None and time.monotonic() < deadline, (directory / "log").read_text()
    return server


def ping(server: Server) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(0.5)
        port = s.getsockname()[1]
        s.sendto((f"OPTIONS sip:ping@127.0.0.1 SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-p\r\n"
                  "From: <sip:t@t>;tag=1\r\nTo: <sip:ping@t>\r\nCall-ID: ping\r\nCSeq: 1 OPTIONS\r\n"
                  "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", server.port))
        try:
            return s.recv(65536).startswith(b"SIP/2.0 200")
        except OSError:
            return False


def request(case: str, back: int) -> bytes:
    headers, body, ctype = CASES[case]
    lines = [f"INVITE sip:{case}@127.0.0.1 SIP/2.0",
             f"Via: SIP/2.0/UDP 127.0.0.1:{back};branch=z9hG4bK-{case}",
             "From: <sip:alice@example.com>;tag=ft1", "To: <sip:bob@example.com>", f"Call-ID: tx-{case}",
             "CSeq: 1 INVITE", "Max-Forwards: 70", f"X-Back: {back}", *headers]
    if ctype:
        lines.append(f"Content-Type: {ctype}")
    lines.append(f"Content-Length: {len(body.encode())}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def relayed(server: Server, case: str) -> bytes:
    """What the server forwards for the case, its own (first) Via line left out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        back = s.getsockname()[1]
        s.sendto(request(case, back), ("127.0.0.1", server.port))
        data = s.recv(65536).replace(b"%d" % back, b"BACK")
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[1].startswith(b"Via: SIP/2.0/UDP 127.0.0.1:%d" % server.port), data
    return b"\r\n".join(lines[:1] + lines[2:]) + sep + body


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    tmp = tmp_path_factory.mktemp("textops")
    yield from pair(lambda name: start(name, tmp), lambda server: stop_process(server.proc))


@pytest.mark.parametrize("case", sorted(CASES))
def test_kampy_forwards_the_bytes_kamailio_forwards(servers, case):  # type: ignore[no-untyped-def]
    kamailio, kampy = servers
    assert relayed(kampy, case).split(b"\r\n") == relayed(kamailio, case).split(b"\r\n")
