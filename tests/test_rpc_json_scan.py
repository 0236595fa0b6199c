"""Over JSON-RPC no handler sees a parameter of another type than it declares: jsonrpcs' scan
(kampy/rpc_scan.py) converts or refuses as Kamailio 5.6's jsonrpc_scan does. Arbitrary JSON sent
to every RPC method of a config loading (nearly) every module is answered with a result or a clean
error, never an internal error; and the conversions are those seen on the wire from Kamailio 5.6.3
(htable.seti/sets/get and tm.t_uac_start over its jsonrpcs datagram socket)."""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kampy.api import JsonRpc
from kampy.testing.harness import Harness

CONFIG = """#!KAMAILIO
listen=udp:127.0.0.1:5060
loadmodule "jsonrpcs.so"
loadmodule "xhttp.so"
loadmodule "kex.so"
loadmodule "corex.so"
loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "ctl.so"
loadmodule "cfg_rpc.so"
loadmodule "counters.so"
loadmodule "statistics.so"
loadmodule "htable.so"
loadmodule "dialog.so"
loadmodule "dispatcher.so"
loadmodule "pike.so"
loadmodule "debugger.so"
loadmodule "dialplan.so"
loadmodule "permissions.so"
loadmodule "domain.so"
loadmodule "auth.so"
loadmodule "auth_db.so"
loadmodule "acc.so"
loadmodule "mtree.so"
loadmodule "uac.so"
loadmodule "dmq.so"
loadmodule "presence.so"
loadmodule "presence_xml.so"
modparam("presence_xml","integrated_xcap_server",1)
loadmodule "msilo.so"
loadmodule "rtpengine.so"
loadmodule "rtimer.so"
loadmodule "topoh.so"
loadmodule "nathelper.so"
loadmodule "xhttp_prom.so"
loadmodule "tmrec.so"
loadmodule "exec.so"
loadmodule "log_custom.so"
loadmodule "sqlops.so"
loadmodule "speeddial.so"
loadmodule "group.so"
loadmodule "alias_db.so"
loadmodule "avpops.so"
loadmodule "uri_db.so"
loadmodule "outbound.so"
loadmodule "path.so"
loadmodule "regex.so"
loadmodule "sdpops.so"
loadmodule "textopsx.so"
loadmodule "cfgutils.so"
loadmodule "async.so"
loadmodule "phonenum.so"
loadmodule "sipjson.so"
loadmodule "http_client.so"
loadmodule "rtpproxy.so"
loadmodule "dmq_usrloc.so"
modparam("htable", "htable", "a=>size=4;")
modparam("dispatcher", "list_file", "{ds_list}")
modparam("mtree", "mtree", "name=mt;dbtable=mtree;type=0")
modparam("dmq", "server_address", "sip:127.0.0.1:5060")
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:22222")
modparam("rtpproxy", "rtpproxy_sock", "udp:127.0.0.1:22223")
request_route { exit; }
route[REGISTER] { save("location"); }
"""

# signals every process of the server (the test's own, in-process)
UNSAFE = {"core.kill"}


class Tracebacks(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append(record)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, JsonRpc, Tracebacks]]:
    work = tmp_path_factory.mktemp("rpcscan")
    (work / "ds.list").write_text("1 sip:127.0.0.1:5070\n")
    harness = Harness.load(CONFIG.replace("{ds_list}", str(work / "ds.list")))
    tracebacks = Tracebacks()
    logging.getLogger().addHandler(tracebacks)
    cwd = os.getcwd()
    os.chdir(work)  # where dlg.dump_file writes
    try:
        yield harness, JsonRpc(harness.core.rpc), tracebacks
    finally:
        os.chdir(cwd)
        logging.getLogger().removeHandler(tracebacks)
        harness.close()


def call(rpc: JsonRpc, method: str, params: Any) -> dict[str, Any]:
    answer = rpc.handle(json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1}))
    assert isinstance(answer, dict), method
    return answer


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8) | st.sampled_from(["a", "1", "-2", "0x10", "sip:a@b", "4.5"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6)
PARAMS = st.lists(JSON, max_size=6) | st.dictionaries(st.text(max_size=4), JSON, max_size=6)


@settings(max_examples=60, deadline=None)
@given(params=PARAMS)
def test_every_rpc_method_answers_any_json_params_without_an_internal_error(server, params) -> None:
    harness, rpc, tracebacks = server
    for method in harness.core.rpc.names():
        if method in UNSAFE:
            continue
        answer = call(rpc, method, params)
        assert "result" in answer or answer["error"]["code"] != -32603, (method, params)
        assert not tracebacks.seen, (method, params, tracebacks.seen[0].getMessage())


def htable_value(rpc: JsonRpc, key: str) -> Any:
    return call(rpc, "htable.get", ["a", key])["result"]["item"]["value"]


@pytest.mark.parametrize(("sent", "read"), [("5", 0), (7.9, 7), (-7.9, -7), (True, 1), ({"x": 3}, 0),
                                            (None, 0), (1e20, -2147483648)])
def test_an_integer_parameter_takes_the_json_number_and_0_for_what_is_no_number(server, sent, read) -> None:
    _, rpc, _ = server
    assert call(rpc, "htable.seti", ["a", "i", sent])["result"] == "Ok. Key set to new value."
    assert htable_value(rpc, "i") == read


@pytest.mark.parametrize(("sent", "read"), [(12, "12"), (1.9, "1"), (-3, "18446744073709551613")])
def test_a_string_parameter_scanned_with_autoconversion_takes_a_number_as_its_integer_text(
        server, sent, read) -> None:
    _, rpc, _ = server
    call(rpc, "htable.sets", ["a", "s", sent])
    assert htable_value(rpc, "s") == read


@pytest.mark.parametrize("sent", [True, [1], {"a": "b"}, None])
def test_a_string_parameter_of_another_json_type_is_the_methods_own_fault(server, sent) -> None:
    _, rpc, _ = server
    assert call(rpc, "htable.sets", ["a", "s", sent])["error"] == {
        "code": 500, "message": "Not enough parameters (htable name, key name and value)"}


def test_a_number_where_a_method_scans_a_string_without_autoconversion_is_its_fault(server) -> None:
    _, rpc, _ = server
    assert call(rpc, "htable.get", [1, "k"])["error"] == {
        "code": 500, "message": "Not enough parameters (htable name and key name)"}
    assert call(rpc, "tm.t_uac_start", [1])["error"] == {"code": 400, "message": "too few parameters (0/5)"}


@pytest.mark.parametrize(("sent", "read"), [(4294967295, 4294967295), (-1, 4294967295), (7.9, 7), ("5", 0),
                                            (2**32 + 3, 3)])
def test_an_unsigned_parameter_takes_the_json_number_modulo_2_to_the_32(server, sent, read) -> None:
    _, rpc, _ = server
    aor = f"u{abs(hash(str(sent)))}@example.test"
    call(rpc, "ul.add", ["location", aor, f"sip:{aor}", 0, 1.0, "", 0, 0, sent])
    contacts = call(rpc, "ul.lookup", ["location", aor])["result"]["Contacts"]
    assert contacts[0]["Contact"]["Methods"] == read


def test_a_number_as_dlg_dump_file_path_names_a_file_and_never_a_descriptor(server) -> None:
    _, rpc, _ = server
    assert "result" in call(rpc, "dlg.dump_file", [1])
    assert Path("1").is_file()
    os.fstat(1)  # the server's stdout is still open


def test_nan_and_infinity_are_not_json(server) -> None:
    _, rpc, _ = server
    for constant in ("NaN", "Infinity", "-Infinity"):
        request = f'{{"jsonrpc": "2.0", "method": "htable.seti", "params": ["a", "i", {constant}], "id": 1}}'
        assert rpc.handle(request) == {"jsonrpc": "2.0", "error": {"code": -32700, "message": "Parse Error"},
                                       "id": None}
