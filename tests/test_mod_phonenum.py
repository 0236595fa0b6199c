"""phonenum: numbers matched with libphonenumber's rules, results read with $phn(pvc=>key). The
expected values are those Kamailio 5.6's phonenum gives for the same numbers (unit tphonu0001)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "phonenum.so"
%s
request_route {
    %s
    $avp(valid) = $phn(src=>valid);
    $avp(normalized) = $phn(src=>normalized);
    $avp(cctel) = $phn(src=>cctel);
    $avp(ccname) = $phn(src=>ccname);
    $avp(ltype) = $phn(src=>ltype);
    $avp(ndesc) = $phn(src=>ndesc);
    $avp(error) = $phn(src=>error);
    $avp(number) = $phn(src=>number);
    sl_send_reply("200", "OK");
}
"""


def match(kampy_cfg: Any, call: str, params: str = "") -> Any:
    return kampy_cfg(CFG % (params, f"$avp(rc) = {call};")).send_request("OPTIONS", "sip:a@example.test")


@pytest.mark.parametrize(("call", "expected"), [
    ('phonenum_match_cn("1 (212) 937-7844", "US", "src")',
     (1, "+12129377844", 1, "US", "fixed-line-or-mobile", "New York, NY")),
    ('phonenum_match_cn("1-484-555-8888", "US", "src")',
     (1, "+14845558888", 1, "US", "fixed-line-or-mobile", "Pennsylvania")),
    ('phonenum_match("+49 800 330 1000", "src")', (1, "+498003301000", 49, "DE", "toll-free", "Germany")),
])
def test_a_valid_number_is_normalized_with_its_country_and_line_type(
        kampy_cfg: Any, call: str, expected: tuple[Any, ...]) -> None:
    r = match(kampy_cfg, call)
    assert r.avp("rc") == 1
    assert tuple(r.avp(k) for k in ("valid", "normalized", "cctel", "ccname", "ltype", "ndesc")) == expected


def test_the_matched_number_is_kept_as_given(kampy_cfg: Any) -> None:
    assert match(kampy_cfg, 'phonenum_match("+49 800 330 1000", "src")').avp("number") == "+49 800 330 1000"


def test_a_national_number_without_a_country_fails_to_parse(kampy_cfg: Any) -> None:
    r = match(kampy_cfg, 'phonenum_match("1-484-555-8888", "src")')
    assert (r.avp("rc"), r.avp("valid"), r.avp("error"), r.avp("normalized")) == (
        1, 0, "Parsing number failed", None)


def test_an_impossible_number_is_invalid(kampy_cfg: Any) -> None:
    r = match(kampy_cfg, 'phonenum_match("+1 555 000", "src")')
    assert (r.avp("valid"), r.avp("error"), r.avp("cctel")) == (0, "Invalid number", 0)


def test_a_container_no_phn_names_is_refused(kampy_cfg: Any) -> None:
    assert match(kampy_cfg, 'phonenum_match("+498003301000", "other")').avp("rc") == -4


def test_resid_registers_a_container(kampy_cfg: Any) -> None:
    r = match(kampy_cfg, 'phonenum_match("+498003301000", "other")', 'modparam("phonenum", "resid", "other")')
    assert r.avp("rc") == 1


def test_a_number_over_255_characters_is_refused(kampy_cfg: Any) -> None:
    assert match(kampy_cfg, f'phonenum_match("+{"1" * 256}", "src")').avp("rc") == -3


def test_an_unknown_key_is_a_config_error(kampy_cfg: Any) -> None:
    with pytest.raises(Exception, match="phonenum"):
        kampy_cfg(CFG % ("", '$avp(x) = $phn(src=>country);'))


def test_loading_the_module_leaves_the_geocoder_data_for_the_first_match() -> None:
    """The geocoder's data (for `ndesc`) takes about 0.4 s to load; a server that loaded it with its
    config would listen too late for scripts that send one second after the start (Kamailio's
    unit tphonu0001 does)."""
    probe = ("import sys; import modules.phonenum; "
             "print('phonenumbers.geocoder' in sys.modules, 'phonenumbers.geodata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_the_server_loads_the_geocoder_data_before_its_workers_fork() -> None:
    """kampy.net.run calls each module's preload once the listeners are bound, before the fork:
    the workers share the geocoder's data instead of loading 100 MB each."""
    probe = ("import sys; from kampy.config.compile import compile_config; "
             "from kampy.runtime.engine import preload_modules; "
             "from kampy.testing.harness import read_config; "
             "cfg = read_config('loadmodule \"phonenum.so\"\\nrequest_route { exit; }', None); "
             "preload_modules(compile_config(cfg)); print('phonenumbers.geocoder' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True"]
