"""xhttp_prom in-process: the prom_counter/prom_gauge/prom_histogram declarations, the functions
that change them, the xhttp_prom.* RPC commands and the text /metrics and metric_list_print give
(Kamailio 5.6's prom_metric.c). The same text over HTTP, against Kamailio itself, is checked in
tests/e2e/test_xhttp_prom_kamailio.py."""
from __future__ import annotations

import logging
import re

import pytest

from kampy.api import RpcFault

HEAD = """
loadmodule "sl"
loadmodule "pv"
loadmodule "xhttp"
loadmodule "xhttp_prom"
{params}
request_route {{
{body}
  sl_send_reply("200", "r=$var(r)");
}}
event_route[xhttp:request] {{ prom_dispatch(); }}
"""
METRICS = """
modparam("xhttp_prom", "prom_counter", "name=cnt01; label=m1:m2")
modparam("xhttp_prom", "prom_counter", "name=cnt02")
modparam("xhttp_prom", "prom_gauge", "name=gg01; label=g")
modparam("xhttp_prom", "prom_histogram", "name=h1; buckets=1:2.5")
"""
STAMP = re.compile(r" \d+$", re.MULTILINE)


def load(kampy_cfg, body: str = "", params: str = METRICS, **kwargs):
    return kampy_cfg(HEAD.format(params=params, body=body), **kwargs)


def text(h) -> str:
    return STAMP.sub(" TS", h.module("xhttp_prom").metrics_text().decode())


def reason(h) -> str:
    return h.send_request("OPTIONS", "sip:x@127.0.0.1").responses[0].reason


def test_declared_metrics_without_values_print_only_the_heading(kampy_cfg):
    assert text(load(kampy_cfg)) == "# User defined metrics\n"


def test_no_declared_metric_prints_kamailios_no_metrics_line(kampy_cfg):
    assert text(load(kampy_cfg, params="")) == "# NO User defined metrics\n"


def test_counter_inc_adds_per_label_set_in_creation_order(kampy_cfg):
    h = load(kampy_cfg, 'prom_counter_inc("cnt01", "2", "$rm", "b");'
                        'prom_counter_inc("cnt01", "1", "x", "y");')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == ('# User defined metrics\nkamailio_cnt01{m1="OPTIONS", m2="b"} 4 TS\n'
                       'kamailio_cnt01{m1="x", m2="y"} 2 TS\n')


def test_samples_carry_the_time_of_printing_in_milliseconds(kampy_cfg):
    h = load(kampy_cfg, 'prom_counter_inc("cnt02", "1");')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    line = h.module("xhttp_prom").metrics_text().decode().splitlines()[1]
    assert line == f"kamailio_cnt02 1 {int(h.clock.time() * 1000)}"


def test_functions_return_1_on_success(kampy_cfg):
    h = load(kampy_cfg, '$var(r) = 0; if (prom_counter_inc("cnt02", "1")) { $var(r) = 1; }')
    assert reason(h) == "r=1"


@pytest.mark.parametrize("call", [
    'prom_counter_inc("nosuch", "1")',
    'prom_counter_inc("cnt01", "1", "only")',
    'prom_counter_inc("cnt02", "1", "extra")',
    'prom_counter_inc("cnt02", "-1")',
    'prom_gauge_set("cnt02", "1")',
    'prom_gauge_set("gg01", "", "a")',
    'prom_gauge_reset("gg01", "")',
    'prom_histogram_observe("gg01", "1", "a")',
    'prom_counter_reset("")',
], ids=["unknown", "too-few-labels", "too-many-labels", "negative", "wrong-type", "empty-number",
        "empty-label", "histogram-of-a-gauge", "empty-name"])
def test_a_refused_update_returns_false(kampy_cfg, call):
    h = load(kampy_cfg, f'$var(r) = 1; if (!{call}) {{ $var(r) = 0; }}')
    assert reason(h) == "r=0"


def test_a_refused_update_changes_nothing(kampy_cfg):
    h = load(kampy_cfg, 'prom_counter_inc("cnt01", "1", "only"); prom_gauge_set("cnt02", "3");')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == "# User defined metrics\n"


def test_a_refusal_is_logged_with_kamailios_words(kampy_cfg, caplog):
    h = load(kampy_cfg, 'prom_counter_inc("nosuch", "1");')
    with caplog.at_level(logging.ERROR, logger="kampy.xhttp_prom"):
        h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert "No metric found for name: nosuch" in caplog.text


def test_counter_reset_zeroes_one_label_set(kampy_cfg):
    h = load(kampy_cfg, 'prom_counter_inc("cnt01", "5", "a", "b"); prom_counter_inc("cnt01", "5", "c", "d");'
                        'prom_counter_reset("cnt01", "a", "b");')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == ('# User defined metrics\nkamailio_cnt01{m1="a", m2="b"} 0 TS\n'
                       'kamailio_cnt01{m1="c", m2="d"} 5 TS\n')


def test_counter_reset_of_a_new_label_set_creates_it_at_zero(kampy_cfg):
    h = load(kampy_cfg, 'prom_counter_reset("cnt02");')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == "# User defined metrics\nkamailio_cnt02 0 TS\n"


def test_gauge_set_reads_the_number_as_c_atof_and_prints_it_with_six_decimals(kampy_cfg):
    h = load(kampy_cfg, 'prom_gauge_set("gg01", "-2.5e1xyz", "a"); prom_gauge_set("gg01", "abc", "b");')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == ('# User defined metrics\nkamailio_gg01{g="a"} -25.000000 TS\n'
                       'kamailio_gg01{g="b"} 0.000000 TS\n')


def test_gauge_reset_sets_zero(kampy_cfg):
    h = load(kampy_cfg, 'prom_gauge_set("gg01", "7", "a"); prom_gauge_reset("gg01", "a");')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == '# User defined metrics\nkamailio_gg01{g="a"} 0.000000 TS\n'


def test_histogram_observe_counts_cumulative_buckets_sum_and_count(kampy_cfg):
    h = load(kampy_cfg, 'prom_histogram_observe("h1", "$hdr(X-V)");')
    for value in ("0.5", "2", "9"):
        h.send_request("OPTIONS", "sip:x@127.0.0.1", headers={"X-V": value})
    assert text(h) == ('# User defined metrics\n'
                       'kamailio_h1_bucket{le="1.000000"} 1 TS\n'
                       'kamailio_h1_bucket{le="2.500000"} 2 TS\n'
                       'kamailio_h1_bucket{le="+Inf"} 3 TS\n'
                       'kamailio_h1_sum 11.500000 TS\n'
                       'kamailio_h1_count 3 TS\n')


def test_histogram_without_buckets_has_kamailios_eleven_default_ones(kampy_cfg):
    h = load(kampy_cfg, 'prom_histogram_observe("h2", "0.3", "x");',
             params='modparam("xhttp_prom", "prom_histogram", "name=h2; label=l")')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    lines = text(h).splitlines()
    assert [line.split("le=")[1].split("}")[0] for line in lines[1:13]] == [
        '"0.005000"', '"0.010000"', '"0.025000"', '"0.050000"', '"0.100000"', '"0.250000"', '"0.500000"',
        '"1.000000"', '"2.500000"', '"5.000000"', '"10.000000"', '"+Inf"']
    assert lines[7] == 'kamailio_h2_bucket{l="x", le="0.500000"} 1 TS'
    assert lines[13:] == ['kamailio_h2_sum{l="x"} 0.300000 TS', 'kamailio_h2_count{l="x"} 1 TS']


def test_xhttp_prom_beginning_prefixes_the_metric_names(kampy_cfg):
    h = load(kampy_cfg, 'prom_counter_inc("cnt02", "1");',
             params=METRICS + 'modparam("xhttp_prom", "xhttp_prom_beginning", "my_")')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == "# User defined metrics\nmy_cnt02 1 TS\n"


def test_statistics_follow_the_user_defined_metrics(kampy_cfg):
    h = load(kampy_cfg, params=METRICS + 'modparam("xhttp_prom", "xhttp_prom_stats", "sl:")')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    body = text(h)
    assert body.startswith("# User defined metrics\n\n# Kamailio statistics for group: sl:\n")
    assert "\nkamailio_sl_200_replies 1 TS\n" in body


def test_one_statistic_by_name(kampy_cfg):
    h = load(kampy_cfg, params='modparam("xhttp_prom", "xhttp_prom_stats", "200_replies")')
    h.send_request("OPTIONS", "sip:x@127.0.0.1")
    assert text(h) == ("# NO User defined metrics\n\n# Kamailio statistics for: 200_replies\n"
                       "kamailio_sl_200_replies 1 TS\n")


def test_label_sets_not_updated_for_xhttp_prom_timeout_minutes_go_on_the_next_update(kampy_cfg):
    h = load(kampy_cfg, 'prom_gauge_set("gg01", "1", "$hdr(X-L)");',
             params=METRICS + 'modparam("xhttp_prom", "xhttp_prom_timeout", 1)')
    h.send_request("OPTIONS", "sip:x@127.0.0.1", headers={"X-L": "old"})
    h.advance(61)
    assert 'g="old"' in text(h)  # printing expires nothing, as in Kamailio
    h.send_request("OPTIONS", "sip:x@127.0.0.1", headers={"X-L": "new"})
    assert text(h) == '# User defined metrics\nkamailio_gg01{g="new"} 1.000000 TS\n'


def test_xhttp_prom_timeout_0_keeps_label_sets_for_ever(kampy_cfg):
    h = load(kampy_cfg, 'prom_gauge_set("gg01", "1", "$hdr(X-L)");',
             params=METRICS + 'modparam("xhttp_prom", "xhttp_prom_timeout", 0)')
    h.send_request("OPTIONS", "sip:x@127.0.0.1", headers={"X-L": "old"})
    h.advance(100000)
    h.send_request("OPTIONS", "sip:x@127.0.0.1", headers={"X-L": "new"})
    assert 'g="old"' in text(h) and 'g="new"' in text(h)


@pytest.mark.parametrize("param,spec", [
    ("prom_counter", "label=a"),
    ("prom_counter", "name=c; colour=red"),
    ("prom_gauge", "name=g; label=a::b"),
    ("prom_histogram", "name=h; buckets=2:1"),
    ("prom_histogram", "name=h; buckets=1::2"),
    ("prom_counter", "name=c; buckets=1"),
], ids=["no-name", "unknown-field", "empty-label", "decreasing-buckets", "empty-bucket", "counter-buckets"])
def test_a_bad_declaration_is_a_config_error(kampy_cfg, param, spec):
    with pytest.raises(Exception, match=f"bad value for '{param}'"):
        load(kampy_cfg, params=f'modparam("xhttp_prom", "{param}", "{spec}")')


def test_rpc_counter_inc_and_metric_list_print(kampy_cfg):
    h = load(kampy_cfg)
    assert h.rpc("xhttp_prom.counter_inc", ["cnt01", 3, "a", "b"]) is None
    printed = h.rpc("xhttp_prom.metric_list_print")
    assert STAMP.sub(" TS", printed) == '# User defined metrics\nkamailio_cnt01{m1="a", m2="b"} 3 TS\n'


def test_rpc_gauge_set_histogram_observe_and_resets(kampy_cfg):
    h = load(kampy_cfg)
    h.rpc("xhttp_prom.gauge_set", ["gg01", 2.5, "a"])
    h.rpc("xhttp_prom.histogram_observe", ["h1", 2.0])
    h.rpc("xhttp_prom.counter_inc", ["cnt02", 4])
    h.rpc("xhttp_prom.counter_reset", ["cnt02"])
    h.rpc("xhttp_prom.gauge_reset", ["gg01", "a"])
    assert text(h) == ('# User defined metrics\nkamailio_cnt02 0 TS\nkamailio_gg01{g="a"} 0.000000 TS\n'
                       'kamailio_h1_bucket{le="1.000000"} 0 TS\nkamailio_h1_bucket{le="2.500000"} 1 TS\n'
                       'kamailio_h1_bucket{le="+Inf"} 1 TS\nkamailio_h1_sum 2.000000 TS\n'
                       'kamailio_h1_count 1 TS\n')


@pytest.mark.parametrize("method,params,fault", [
    ("xhttp_prom.counter_inc", [], (400, "required counter identifier")),
    ("xhttp_prom.counter_inc", ["cnt02"], (400, "required number argument")),
    ("xhttp_prom.counter_inc", ["nosuch", 1], (500, "Failed to add 1 to counter: nosuch")),
    ("xhttp_prom.counter_inc", ["cnt01", 1, "a"], (500, "Failed to add 1 to counter: cnt01 (a)")),
    ("xhttp_prom.gauge_set", ["gg01", 1], (400, "required number argument")),
    ("xhttp_prom.gauge_set", ["cnt02", 1.5], (500, "Failed to assign 1.500000 gauge: cnt02")),
    ("xhttp_prom.gauge_reset", ["", 1], (400, "invalid gauge identifier")),
    ("xhttp_prom.histogram_observe", ["h1", 1.0, "x"],
     (500, "Failed to observe 1.000000 in histogram: h1 (x)")),
    ("xhttp_prom.counter_reset", ["gg01"], (500, "Failed to reset counter: gg01")),
])
def test_rpc_faults_are_kamailios(kampy_cfg, method, params, fault):
    h = load(kampy_cfg)
    with pytest.raises(RpcFault) as raised:
        h.rpc(method, params)
    assert (raised.value.code, raised.value.message) == fault


def test_rpc_counter_inc_of_a_negative_number_answers_without_a_fault_and_adds_nothing(kampy_cfg):
    h = load(kampy_cfg)
    assert h.rpc("xhttp_prom.counter_inc", ["cnt02", -1]) is None
    assert text(h) == "# User defined metrics\n"


def test_values_are_shared_by_processes_as_by_kamailios_workers(store):
    import os
    import time as _time

    from kampy.modules.xhttp_prom.metrics import COUNTER, MetricStore, parse_metric

    class Clock:
        def time(self) -> float:
            return _time.time()

    def metrics() -> MetricStore:
        return MetricStore([parse_metric(COUNTER, "name=c; label=w")], store.table("xhttp_prom", 64),
                           Clock(), 60)

    pid = os.fork()
    if pid == 0:  # a second worker
        try:
            for _ in range(50):
                metrics().counter_inc("c", 1, ["x"])
        finally:
            os._exit(0)
    mine = metrics()
    for _ in range(50):
        mine.counter_inc("c", 2, ["x"])
    os.waitpid(pid, 0)
    assert STAMP.sub(" TS", mine.text("k_")) == '# User defined metrics\nk_c{w="x"} 150 TS\n'
