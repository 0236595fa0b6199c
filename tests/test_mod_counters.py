"""counters: script counters as statistics, cnt_inc/cnt_add/cnt_reset and the cnt.* RPCs (the replies
are those of Kamailio 5.6.3 for the same config)."""
from __future__ import annotations

import pytest

from kampy.api import RpcFault
from kampy.errors import ConfigError
from kampy.testing import Harness
from kampy.modules.counters.counters import parse_declaration

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "kex.so"
loadmodule "counters.so"
modparam("counters", "script_counter", "foo")
modparam("counters", "script_counter", "test.bar:my bar counter")
modparam("counters", "script_counter", "baz example counter")
request_route {
  cnt_inc("foo");
  cnt_add("test.bar", 3);
  if ($rm == "INFO") { cnt_reset("foo"); cnt_add("test.bar", "$hdr(X-N)"); }
  sl_send_reply("200", "OK");
}
"""


@pytest.fixture
def sip(kampy_cfg) -> Harness:
    return kampy_cfg(CFG)


def rpc(sip: Harness, method: str, *params: object) -> object:
    return sip.core.rpc.call(method, list(params))


@pytest.mark.parametrize(("text", "parsed"), [
    ("foo", ("script", "foo", "custom script counter.")),
    ("test.bar", ("test", "bar", "custom script counter.")),
    ("baz example counter", ("script", "baz", "example counter")),
    ("test.x:another example", ("test", "x", "another example")),
    ("a.b:c d", ("a", "b", "c d")),
])
def test_script_counter_declarations_are_read_as_kamailio(text: str, parsed: tuple[str, str, str]) -> None:
    assert parse_declaration(text, "script") == parsed


def test_counters_count_and_are_statistics(sip: Harness) -> None:
    for _ in range(41):
        sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert sip.stat("script:foo") == 41 and sip.stat("test:bar") == 123
    shown = set(rpc(sip, "stats.get_statistics", "all"))  # type: ignore[arg-type]
    assert {"script:foo = 41", "test:bar = 123", "script:baz = 0"} <= shown


def test_cnt_reset_and_cnt_add_with_a_pseudo_variable(sip: Harness) -> None:
    sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    sip.send_request("INFO", "sip:x@127.0.0.1", headers={"X-N": "10"})
    assert sip.stat("script:foo") == 0 and sip.stat("test:bar") == 16


def test_an_undeclared_counter_is_a_config_error(kampy_cfg) -> None:
    with pytest.raises(ConfigError, match="counter script.nope does not exist"):
        kampy_cfg(CFG.replace('cnt_inc("foo")', 'cnt_inc("nope")'))


def test_script_cnt_grp_name_is_the_default_group(kampy_cfg) -> None:
    group = 'loadmodule "counters.so"\nmodparam("counters", "script_cnt_grp_name", "mine")'
    sip = kampy_cfg(CFG.replace('loadmodule "counters.so"', group)
                    .replace('"script_counter", "foo"', '"script_counter", "mine.foo"'))
    sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert sip.stat("mine:foo") == 1


def test_rpc_reads_and_resets_counters(sip: Harness) -> None:
    sip.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert rpc(sip, "cnt.get", "script", "foo") == 1
    assert rpc(sip, "cnt.get_raw", "test", "bar") == 3
    assert rpc(sip, "cnt.get", "test") == {"bar": 3}
    assert rpc(sip, "cnt.get_vars", "script") == rpc(sip, "cnt.grp_get_all", "script") == {"baz": 0, "foo": 1}
    assert rpc(sip, "cnt.list_vars", "script") == rpc(sip, "cnt.var_list", "script") == ["baz", "foo"]
    assert {"script", "test", "sl", "core"} <= set(rpc(sip, "cnt.list_groups"))
    assert rpc(sip, "cnt.grps_list") == rpc(sip, "cnt.list_groups")
    rpc(sip, "cnt.reset", "test", "bar")
    assert rpc(sip, "cnt.get", "test", "bar") == 0


def test_cnt_help_gives_the_description(sip: Harness) -> None:
    assert rpc(sip, "cnt.help", "test", "bar") == "my bar counter"
    assert rpc(sip, "cnt.help", "script", "foo") == "custom script counter."
    assert rpc(sip, "cnt.help", "sl", "sent_replies") == "kamailio statistic (no description)"


def test_an_unknown_counter_is_kamailios_fault(sip: Harness) -> None:
    with pytest.raises(RpcFault) as caught:
        rpc(sip, "cnt.get", "nope", "x")
    assert (caught.value.code, caught.value.message) == (400, "non-existent counter nope.x\n")
