"""The debugger's config trace beside Kamailio 5.6: the same config and request give the same trace
lines (route type and block, line, action type number and name), the same logged assignments, and
the same module levels applied (an xlog line hidden by `mod_level`), the same `cfgpkgcheck` lines."""
from __future__ import annotations

import re
import socket
import subprocess
import time
from pathlib import Path

from tests.e2e.kampy_process import REPO, free_port, start_server, stop_process
from tests.support.kamailio_cli import KAMAILIO, KAMAILIO_MODULES, kampy_cmd

CFG = """#!KAMAILIO
listen=udp:127.0.0.1:PORT
children=1
debug=3
#!ifdef KAMAILIO
mpath="MODULES"
#!endif
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "textops.so"
loadmodule "debugger.so"
modparam("debugger", "cfgtrace", 1)
modparam("debugger", "log_level_name", "exec")
modparam("debugger", "log_assign", 1)
modparam("debugger", "cfgpkgcheck", 1)
modparam("debugger", "mod_hash_size", 4)
modparam("debugger", "mod_level_mode", 1)
modparam("debugger", "mod_level", "xlog=1")
route[SUB] {
  if ($rU == "nobody") {
    return 3;
  }
  return 2;
}
request_route {
  $var(temp) = 1;
  $avp(more_avp) = 2;
  $xavp(x=>more) = "bye";
  route(SUB);
  if ($rc == 2) {
    xlog("L_INFO", "rc is 2\\n");
  } else {
    xlog("L_INFO", "no\\n");
  }
  if (is_present_hf("X-None")) { xlog("L_ERR", "never\\n"); }
  append_hf("P-Hint: My hint\\r\\n");
  switch($rm) {
    case "OPTIONS":
      $var(a) = "x";
      break;
    default:
      $var(a) = "y";
  }
  switch($var(temp)) {
    case 1:
      $var(b) = 1;
      break;
  }
  while($var(temp) < 3) { $var(temp) = $var(temp) + 1; }
  sl_send_reply("200", "OK");
  exit;
}
"""


def run(name: str, directory: Path) -> list[str]:
    """The trace and assignment lines the server logs for one OPTIONS."""
    directory.mkdir()
    port = free_port()
    cfg = directory / "k.cfg"
    cfg.write_text(CFG.replace("PORT", str(port)).replace("MODULES", KAMAILIO_MODULES))
    args = ["-f", str(cfg), "-DD", "-E", "-Y", str(directory)]
    cmd = [KAMAILIO, *args, "-A", "KAMAILIO"] if name == "kamailio" else kampy_cmd(*args)
    log_path = directory / "log"
    with open(log_path, "wb") as log:
        proc = start_server(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            s.settimeout(0.5)
            lport = s.getsockname()[1]
            request = (f"OPTIONS sip:x@127.0.0.1:{port} SIP/2.0\r\n"
                       f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK-1;rport\r\n"
                       "From: <sip:a@127.0.0.1>;tag=t1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: trace-1\r\n"
                       "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
                s.sendto(request, ("127.0.0.1", port))
                try:
                    s.recv(4096)
                    break
                except TimeoutError:
                    continue
        time.sleep(0.3)
    finally:
        stop_process(proc)
    lines = log_path.read_text(errors="replace").splitlines()
    out = []
    for line in lines:
        if "cfgtrace:" in line:
            out.append(re.sub(r"c=\[[^]]*\] ", "", line.split("exec: ", 1)[1]))
        elif "_dbg_log_assign_action_pvar()" in line or "<script>" in line or "cfg pkg check" in line:
            out.append(line.split("(): ", 1)[-1] if "()" in line else line.split("<script>: ", 1)[1])
    # the trace of the first request only (the retries, if any, trace again)
    end = next((i for i, line in enumerate(out) if line.endswith("n=exit") and "l=" in line
                and "a=2" in line and i > 0 and "sl_send_reply" in out[i - 1]), len(out) - 1)
    return out[:end + 1]


def test_the_trace_of_a_request_is_kamailios(tmp_path: Path) -> None:
    kamailio = run("kamailio", tmp_path / "kamailio")
    kampy = run("kampy", tmp_path / "kampy")
    assert len(kamailio) > 20 and "cfg pkg check is disbled due to missing qm handler" in kamailio
    assert kampy == kamailio
