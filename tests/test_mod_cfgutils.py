"""cfgutils: rand_event() and its probability, global flags, locks, sleep, core_hash, route checks,
$RANDOM and the cfgutils.* RPC methods, in-process (what every worker shares is shown by
tests/e2e/test_misc_modules_e2e.py with several workers)."""
from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from kampy.api import core_hash, hash2_raw
from kampy.module import RpcFault

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
loadmodule "cfgutils.so"
{params}
request_route {{
    {body}
    sl_send_reply("200", "OK");
}}
route[EXISTS] {{
    $avp(in_route) = "yes";
    return 7;
}}
"""


def server(kampy_cfg: Any, body: str = "", params: str = "") -> Any:
    return kampy_cfg(HEAD.format(params=params, body=body), db=None)


def options(sip: Any) -> Any:
    return sip.send_request("OPTIONS", "sip:alice@example.test")


# ---------------------------------------------------------------- probability


def test_rand_event_is_always_true_at_100_and_never_at_0(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'rand_set_prob("100"); $avp(a) = rand_event(); rand_set_prob("0"); '
                            '$avp(b) = rand_event();')
    result = options(sip)
    assert (result.avp("a"), result.avp("b")) == (1, -1)


def test_rand_event_is_true_about_as_often_as_the_probability_says(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$var(i) = 0; $var(n) = 0; while ($var(i) < 2000) { '
                            'if (rand_event()) { $var(n) = $var(n) + 1; } $var(i) = $var(i) + 1; } '
                            '$avp(n) = $var(n);',
                 'max_while_loops=5000\nmodparam("cfgutils", "initial_probability", 25)')
    assert 380 < options(sip).avp("n") < 620  # 500 expected; a 1-in-10^9 chance of falling outside


def test_rand_get_prob_returns_the_initial_probability_then_the_one_set(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$avp(a) = rand_get_prob(); rand_set_prob("42"); $avp(b) = rand_get_prob(); '
                            'rand_reset_prob(); $avp(c) = rand_get_prob();',
                 'modparam("cfgutils", "initial_probability", 15)')
    result = options(sip)
    assert (result.avp("a"), result.avp("b"), result.avp("c")) == (15, 42, 15)


def test_a_probability_over_100_is_refused_at_load(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match=r"invalid probability <101>"):
        server(kampy_cfg, 'rand_set_prob("101");')


def test_an_initial_probability_over_100_refuses_the_start(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match=r"invalid probability <150>"):
        server(kampy_cfg, params='modparam("cfgutils", "initial_probability", 150)')


def test_rpc_sets_gets_and_resets_the_probability(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, "$avp(p) = rand_get_prob();")
    rpc = sip.core.rpc
    assert rpc.call("cfgutils.rand_get_prob") == "actual probability: 10 percent"
    rpc.call("cfgutils.rand_set_prob", [70])
    assert options(sip).avp("p") == 70
    with pytest.raises(RpcFault) as fault:
        rpc.call("cfgutils.rand_set_prob", [101])
    assert (fault.value.code, fault.value.message) == (500, "Invalid Percent")
    rpc.call("cfgutils.rand_reset_prob")
    assert rpc.call("cfgutils.rand_get_prob") == "actual probability: 10 percent"


def test_random_pv_is_a_number_below_2_to_the_31(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, "$avp(r1) = $RANDOM; $avp(r2) = $RANDOM;")
    result = options(sip)
    values = (result.avp("r1"), result.avp("r2"))
    assert all(isinstance(v, int) and 0 <= v < 2 ** 31 for v in values)
    assert values[0] != values[1]


# ---------------------------------------------------------------- global flags


def test_global_flags_are_set_tested_and_reset(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$avp(a) = is_gflag("4"); set_gflag("4"); $avp(b) = is_gflag("4"); '
                            'reset_gflag("4"); $avp(c) = is_gflag("4");')
    result = options(sip)
    assert (result.avp("a"), result.avp("b"), result.avp("c")) == (-1, 1, -1)


def test_initial_gflags_sets_the_flags_at_start(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$avp(a) = is_gflag("0"); $avp(b) = is_gflag("3"); $avp(c) = is_gflag("4");',
                 'modparam("cfgutils", "initial_gflags", 15)')
    result = options(sip)
    assert (result.avp("a"), result.avp("b"), result.avp("c")) == (1, 1, -1)
    assert sip.core.rpc.call("cfgutils.get_gflags") == "0xF (15)"


@pytest.mark.parametrize(("flag", "message"), [("32", "flag <32> out of range [0..31]"),
                                                ("x", "bad number <x>")])
def test_a_flag_outside_0_to_31_is_refused_at_load(kampy_cfg: Any, flag: str, message: str) -> None:
    with pytest.raises(Exception, match=re.escape(message)):
        server(kampy_cfg, f'set_gflag("{flag}");')


def test_rpc_works_on_bitmasks(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$avp(f10) = is_gflag("10");')
    rpc = sip.core.rpc
    rpc.call("cfgutils.set_gflag", [1024 + 1])
    assert rpc.call("cfgutils.is_gflag", [1024]) == "TRUE"
    assert rpc.call("cfgutils.is_gflag", [1024 + 2]) == "FALSE"  # every flag of the mask must be set
    assert options(sip).avp("f10") == 1
    rpc.call("cfgutils.reset_gflag", [1024])
    assert rpc.call("cfgutils.get_gflags") == "0x1 (1)"
    with pytest.raises(RpcFault) as fault:
        rpc.call("cfgutils.set_gflag", [])
    assert (fault.value.code, fault.value.message) == (500, "Invalid Parameters")


# ---------------------------------------------------------------- locks


def test_trylock_fails_on_a_lock_held_and_succeeds_once_released(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$avp(a) = trylock("$rU"); $avp(b) = trylock("$rU"); unlock("$rU"); '
                            '$avp(c) = trylock("$rU"); unlock("$rU");',
                 'modparam("cfgutils", "lock_set_size", 4)')
    result = options(sip)
    assert (result.avp("a"), result.avp("b"), result.avp("c")) == (1, -1, 1)


def test_lock_and_unlock_without_a_lock_set_fail_with_an_error(kampy_cfg: Any,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    sip = server(kampy_cfg, '$avp(a) = lock("k");')
    with caplog.at_level(logging.ERROR, logger="kampy.cfgutils"):
        assert options(sip).avp("a") == -1
    assert "lock set not initialized (attempt to do op: 0 on: k) - see param lock_set_size" in caplog.text


def test_a_lock_is_held_against_another_process(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, 'lock("$rU");', 'modparam("cfgutils", "lock_set_size", 2)')
    options(sip)  # request_route locks alice's lock and never unlocks it
    other = _other_process_tries(sip, "alice")
    assert other == "held"


def _other_process_tries(sip: Any, key: str) -> str:
    """What a forked process of the same server gets from trylock on the lock `key` hashes to."""
    import os

    locks = sip.core.shared.lock_set("cfgutils", 4)
    position = core_hash(key.lower()) & 3  # Kamailio's core_case_hash of the key
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a process of its own, as a worker
        try:
            os.write(write, b"free" if locks.try_acquire(position) else b"held")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    answer = os.read(read, 16).decode()
    os.close(read)
    return answer


# ---------------------------------------------------------------- sleep, hashes, routes


def test_usleep_waits(kampy_cfg: Any) -> None:
    import time

    sip = server(kampy_cfg, 'usleep("50000");')
    started = time.monotonic()
    options(sip).assert_reply(200)
    assert time.monotonic() - started >= 0.05


def test_core_hash_is_kamailios_slot_plus_one(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$avp(one) = core_hash("$ci", "", 4); $avp(two) = core_hash("$ci", "$fu", 0);')
    result = sip.send_request("OPTIONS", "sip:alice@example.test", call_id="hash-me",
                              from_="sip:bob@example.test")
    assert result.avp("one") == (core_hash("hash-me") & 15) + 1
    assert result.avp("two") == (hash2_raw("hash-me", "sip:bob@example.test") & 1) + 1


def test_route_if_exists_runs_an_existing_route_and_returns_its_code(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg, '$avp(a) = route_if_exists("EXISTS"); $avp(b) = route_if_exists("NOPE"); '
                            '$avp(c) = check_route_exists("EXISTS"); $avp(d) = check_route_exists("NOPE");')
    result = options(sip)
    assert (result.avp("a"), result.avp("b"), result.avp("c"), result.avp("d")) == (7, -1, 1, -1)
    assert result.avp("in_route") == "yes"
    assert result.routes == ["request_route", "route[EXISTS]"]


# ---------------------------------------------------------------- the config's hash


def test_config_hash_is_the_md5_of_hash_file_and_notices_a_change(kampy_cfg: Any, tmp_path: Path) -> None:
    watched = tmp_path / "watched.cfg"
    watched.write_text("first\n")
    sip = server(kampy_cfg, params=f'modparam("cfgutils", "hash_file", "{watched}")')
    rpc = sip.core.rpc
    assert rpc.call("cfgutils.get_config_hash") == hashlib.md5(b"first\n").hexdigest()
    assert rpc.call("cfgutils.check_config_hash") == "Identical hash"
    watched.write_text("second\n")
    assert rpc.call("cfgutils.check_config_hash") == "Different hash"
    watched.unlink()
    with pytest.raises(RpcFault, match="Failed to hash the file"):
        rpc.call("cfgutils.check_config_hash")


def test_check_config_hash_without_hash_file_is_a_fault(kampy_cfg: Any) -> None:
    sip = server(kampy_cfg)
    with pytest.raises(RpcFault) as fault:
        sip.core.rpc.call("cfgutils.check_config_hash")
    assert (fault.value.code, fault.value.message) == (500, "No hash file")
    assert sip.core.rpc.call("cfgutils.get_config_hash") == ""


def test_a_hash_file_that_cannot_be_read_refuses_the_start(kampy_cfg: Any, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="could not hash the config file"):
        server(kampy_cfg, params=f'modparam("cfgutils", "hash_file", "{tmp_path / "missing"}")')


def test_memory_status_functions_log_at_memlog(kampy_cfg: Any, caplog: pytest.LogCaptureFixture) -> None:
    sip = server(kampy_cfg, "pkg_status(); shm_status(); pkg_summary(); shm_summary();")
    with caplog.at_level(logging.DEBUG, logger="kampy"):
        options(sip).assert_reply(200)
    for title in ("Memory status (pkg):", "Memory status (shm):", "Memory still-in-use summary (pkg):",
                  "Memory still-in-use summary (shm):"):
        assert title in caplog.text
