"""The RPC registry, JSON-RPC errors and kex's stats.*/core.* methods, in process (Kamailio 5.6 shapes)."""
from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from kampy.config.pipeline import load_text
from kampy.rpc import JsonRpc
from kampy.runtime.server import Server
from kampy.runtime.shared import SharedStore
from tests.support.runtime import SOCKET, SOURCE, request

CFG = """loadmodule "sl"
loadmodule "kex"
loadmodule "statistics"
modparam("statistics", "variable", "my_stat")
modparam("statistics", "variable", "frozen/no_reset")
request_route { update_stat("my_stat", "+1"); update_stat("dyn_stat", "2"); sl_send_reply("404", "Nope"); }
"""


@pytest.fixture
def server() -> Iterator[Server]:
    store = SharedStore.create()
    srv = Server.from_config(load_text(CFG), sockets=[SOCKET], shared=store)
    srv.child_init(1)
    for _ in range(3):
        srv.handle(request(), SOURCE)
    yield srv
    srv.shutdown()
    store.remove()


def call(server: Server, method: str, *params: object) -> dict:
    body = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
    return JsonRpc(server.core.rpc).handle(json.dumps(body).encode())


def result(server: Server, method: str, *params: object) -> object:
    response = call(server, method, *params)
    assert "error" not in response, response
    return response["result"]


def test_get_statistics_of_a_group_lists_group_name_equals_value(server):
    lines = result(server, "stats.get_statistics", "sl:")
    assert "sl:404_replies = 3" in lines and all(line.startswith("sl:") for line in lines)


def test_get_statistics_takes_several_single_names(server):
    assert result(server, "stats.get_statistics", "404_replies", "my_stat", "rcv_requests") == [
        "sl:404_replies = 3", "script:my_stat = 3", "core:rcv_requests = 3"]


def test_get_statistics_all_covers_every_group(server):
    groups = {line.split(":")[0] for line in result(server, "stats.get_statistics", "all")}
    assert {"core", "sl", "script"} <= groups


def test_get_statistics_of_an_unknown_name_is_an_empty_list(server):
    assert result(server, "stats.get_statistics", "nosuch") == []


def test_get_statistics_without_params_is_fault_400(server):
    assert call(server, "stats.get_statistics")["error"] == {
        "code": 400, "message": "Please provide which stats to retrieve"}


def test_fetch_answers_dotted_names_with_string_values(server):
    assert result(server, "stats.fetch", "404_replies", "sl.200_replies") == {
        "sl.404_replies": "3", "sl.200_replies": "0"}


def test_fetchn_answers_numbers(server):
    assert result(server, "stats.fetchn", "my_stat") == {"script.my_stat": 3}


def test_update_stat_creates_an_undeclared_stat(server):
    assert result(server, "stats.fetchn", "script:dyn_stat") == {"script.dyn_stat": 6}


def test_reset_statistics_answers_an_empty_struct_and_zeroes(server):
    assert result(server, "stats.reset_statistics", "sl:") == {}
    assert result(server, "stats.fetchn", "404_replies") == {"sl.404_replies": 0}


def test_reset_statistics_leaves_no_reset_stats(server):
    server.core.stats.inc("script:frozen", 5)
    result(server, "stats.reset_statistics", "frozen")
    assert server.core.stats.get("script:frozen") == 5


def test_clear_statistics_answers_the_last_line_with_the_old_value(server):
    assert result(server, "stats.clear_statistics", "rcv_requests", "my_stat") == "script:my_stat = 0 (3)"


def test_clear_statistics_without_params_is_fault_400(server):
    error = call(server, "stats.clear_statistics")["error"]
    assert error == {"code": 400, "message": "Please provide stats name"}


def test_unknown_method_is_kamailios_500_method_not_found(server):
    expected = {"jsonrpc": "2.0", "error": {"code": 500, "message": "Method Not Found"}, "id": 1}
    assert call(server, "no.such") == expected


def test_malformed_json_is_parse_error_32700(server):
    error = JsonRpc(server.core.rpc).handle(b'{"jsonrpc":')["error"]
    assert error == {"code": -32700, "message": "Parse Error"}


def test_raw_cr_lf_inside_a_string_is_taken_as_kamailios_srjson_takes_it(server):
    raw = b'{"jsonrpc":"2.0","method":"core.echo","params":["From:a\r\nTo:b\r\n"],"id":1}'  # CR LF as is
    response = JsonRpc(server.core.rpc).handle(raw)
    assert response["result"] == ["From:a\r\nTo:b\r\n"]


def test_a_request_without_method_is_invalid_request_32600(server):
    assert JsonRpc(server.core.rpc).handle(b'{"jsonrpc":"2.0","id":4}') == {
        "jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"}, "id": 4}


def test_params_that_are_not_a_list_or_object_are_invalid_params(server):
    response = JsonRpc(server.core.rpc).handle(b'{"jsonrpc":"2.0","method":"core.echo","params":3,"id":1}')
    assert response["error"]["code"] == -32602


def test_a_huge_request_is_refused(server):
    response = JsonRpc(server.core.rpc, max_request=100).handle(b" " * 200)
    assert response["error"]["code"] == -32600


def test_a_notification_is_answered_without_id(server):
    response = JsonRpc(server.core.rpc).handle(b'{"jsonrpc":"2.0","method":"core.version"}')
    assert "id" not in response and response["result"].startswith("kampy ")


def test_core_echo_returns_its_scalar_params_as_strings(server):
    assert result(server, "core.echo", 1, 2.5, "x", {"a": 1}) == ["1", "2", "x"]


def test_core_uptime_has_now_up_since_uptime(server):
    up = result(server, "core.uptime")
    assert set(up) == {"now", "up_since", "uptime"} and isinstance(up["uptime"], int)


def test_core_psx_lists_idx_pid_dsc(server):
    procs = result(server, "core.psx")
    assert procs and set(procs[0]) == {"IDX", "PID", "DSC"}


def test_core_ps_is_a_flat_pid_description_list(server):
    ps = result(server, "core.ps")
    assert isinstance(ps[0], int) and isinstance(ps[1], str)


def test_core_info_has_kamailios_keys(server):
    assert set(result(server, "core.info")) == {"version", "id", "compiler", "compiled", "flags"}


def test_list_methods_has_core_kex_and_module_methods(server):
    names = result(server, "system.listMethods")
    assert {"core.version", "stats.get_statistics", "system.methodHelp", "sl.stats"} <= set(names)
    assert names == sorted(names)


def test_method_help_of_an_unknown_method_is_400_command_not_found(server):
    error = call(server, "system.methodHelp", "nosuch")["error"]
    assert error == {"code": 400, "message": "command not found"}


def test_method_help_without_a_name_is_400(server):
    assert call(server, "system.methodHelp")["error"] == {"code": 400, "message": "Method Name Expected"}


def test_a_module_rpc_method_declared_in_exports_is_bound_to_its_handler(server):
    assert isinstance(result(server, "sl.stats"), dict)


def test_parameters_beyond_those_a_method_reads_are_ignored_as_kamailio_ignores_them(server):
    assert call(server, "core.version", "extra")["result"].startswith("kampy ")


def test_too_few_parameters_is_the_methods_fault(server):
    server.core.rpc.register("test.two", lambda a, b: [a, b], params_fault=(500, "Not enough parameters"))
    assert call(server, "test.two", "a")["error"] == {"code": 500, "message": "Not enough parameters"}
    assert call(server, "test.two", "a", "b", "c")["result"] == "b"  # several values: the last one
