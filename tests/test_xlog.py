"""xlog functions: levels, Python logging mapping, the debug= threshold, $C colors."""
from __future__ import annotations

import logging
import logging.handlers
from collections.abc import Iterator

import pytest

import kampy.modules.xlog as xlog_module
from kampy.api import parse_pv
from kampy.api import L_CRIT2, L_DBG, L_ERR, L_INFO, L_WARN, debug_threshold
from kampy.runtime import loglevels
from kampy.runtime.loglevels import NOTICE, set_log_stderr
from kampy.modules.xlog.impl import parse_level
from kampy.runtime.core import Core
from tests.modkit import module
from tests.pv_helpers import make_ctx


@pytest.fixture
def xlog() -> object:
    return module(xlog_module.EXPORTS, Core(), prefix="<script>: ")


def records(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "kampy.script"]


def test_xlog_one_arg_logs_at_error(xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    assert xlog.xlog(make_ctx(), "hello\n") == 1  # type: ignore[attr-defined]
    assert records(caplog) == [(logging.ERROR, "<script>: hello")]


def test_xlog_level_name(xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    xlog.xlog(make_ctx(), "L_INFO", "info msg")  # type: ignore[attr-defined]
    assert records(caplog) == [(logging.INFO, "<script>: info msg")]


def test_xlog_with_facility_uses_level(xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    xlog.xlog(make_ctx(), "LOG_LOCAL0", "L_WARN", "w")  # type: ignore[attr-defined]
    assert records(caplog)[0][0] == logging.WARNING


def test_xlog_numeric_level_from_pv(xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    xlog.xlog(make_ctx(), "3", "dbg")  # type: ignore[attr-defined]
    assert records(caplog)[0][0] == logging.DEBUG


def test_xlog_bad_level_fails(xlog: object) -> None:
    assert xlog.xlog(make_ctx(), "loud", "x") == -1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("func", "level"), [
    ("xdbg", logging.DEBUG), ("xinfo", logging.INFO), ("xnotice", NOTICE), ("xwarn", logging.WARNING),
    ("xerr", logging.ERROR), ("xbug", logging.CRITICAL), ("xcrit", logging.CRITICAL),
    ("xalert", logging.CRITICAL),
])
def test_level_functions(xlog: object, caplog: pytest.LogCaptureFixture, func: str, level: int) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    assert getattr(xlog, func)(make_ctx(), "m") == 1
    assert records(caplog) == [(level, "<script>: m")]


def test_xlogl_prefixes_line(xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    xlog.xlogl(make_ctx(), "L_ERR", "m")  # type: ignore[attr-defined]
    assert records(caplog)[0][1].endswith(":m")


def test_below_threshold_is_not_logged(xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "kampy.script")
    xlog.xdbg(make_ctx(), "hidden")  # type: ignore[attr-defined]
    assert records(caplog) == []


def test_debug_2_shows_info_not_dbg() -> None:
    assert debug_threshold(2) == logging.INFO


def test_debug_3_shows_dbg() -> None:
    assert debug_threshold(3) == logging.DEBUG


def test_debug_0_shows_warn() -> None:
    assert debug_threshold(0) == logging.WARNING


def test_level_names_by_third_letter() -> None:
    assert [parse_level(n) for n in ("L_ERR", "L_WARN", "L_INFO", "L_DBG")] == [L_ERR, L_WARN, L_INFO, L_DBG]


@pytest.fixture
def stderr_log() -> Iterator[None]:
    """The log goes to stderr (-E), as the command line sets it up."""
    set_log_stderr(True)
    yield
    set_log_stderr(False)


def test_color_pv_gives_the_escape_when_the_log_goes_to_stderr(xlog: object, stderr_log: None) -> None:
    acc = xlog.pv_color(parse_pv("$C(rx)"))  # type: ignore[attr-defined]
    assert acc.get(make_ctx()) == "\033[0;31;49m"


def test_an_uppercase_foreground_is_bold_as_kamailio_prints_it(xlog: object, stderr_log: None) -> None:
    acc = xlog.pv_color(parse_pv("$C(Gb)"))  # type: ignore[attr-defined]
    assert acc.get(make_ctx()) == "\033[1;32;44m"


def test_color_pv_is_empty_when_the_log_goes_to_syslog(xlog: object) -> None:
    acc = xlog.pv_color(parse_pv("$C(rx)"))  # type: ignore[attr-defined]
    assert acc.get(make_ctx()) == ""


def test_force_color_gives_the_escape_whatever_the_log(caplog: pytest.LogCaptureFixture) -> None:
    mod = module(xlog_module.EXPORTS, Core(), force_color=1)
    assert mod.pv_color(parse_pv("$C(yx)")).get(make_ctx()) == "\033[0;33;49m"


# ---------------------------------------------------------------- log_colors


@pytest.fixture
def colors() -> Iterator[None]:
    """The level colours as they were (log_colors changes them for the process)."""
    saved = dict(loglevels._LEVEL_COLORS)
    yield
    loglevels._LEVEL_COLORS.clear()
    loglevels._LEVEL_COLORS.update(saved)


def test_log_colors_sets_the_colours_of_the_levels_it_names(colors: None) -> None:
    module(xlog_module.EXPORTS, Core(), log_colors=["L_ERR=cr;l_warn=0w;"])
    assert loglevels.level_color(L_ERR) == "\033[0;36;41m"
    assert loglevels.level_color(L_WARN) == "\033[0;35;47m"  # "0" keeps the foreground
    assert loglevels.level_color(L_INFO) == "\033[0;36;49m"  # Kamailio's default, untouched


@pytest.mark.parametrize(("value", "error"), [("L_LOUD=rx", "invalid level name L_LOUD"),
                                              ("L_ERR=r", r"invalid color spec for level L_ERR \(r\)")])
def test_a_bad_log_colors_value_stops_the_module_loading(colors: None, value: str, error: str) -> None:
    with pytest.raises(Exception, match=error):
        module(xlog_module.EXPORTS, Core(), log_colors=[value])


def test_a_coloured_log_shows_an_xlog_line_in_the_colour_of_its_own_level(colors: None) -> None:
    from kampy.cmdline.logsetup import KamailioFormatter

    module(xlog_module.EXPORTS, Core(), log_colors=["L_CRIT2=gx"])
    record = logging.LogRecord("kampy.script", logging.CRITICAL, __file__, 1, "m", None, None)
    record.kamailio_levelno = L_CRIT2
    assert KamailioFormatter(process=False, color=True).format(record).startswith("\033[0;32;49m")


# ---------------------------------------------------------------- buf_size, prefix_mode (a running config)

XLOG_CFG = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "xlog.so"
%s
request_route {
    $var(rc) = xlog("L_ERR", "ruri $ru\\n");
    $avp(rc) = $var(rc);
    xlogl("L_ERR", "with line\\n");
    sl_send_reply("200", "OK");
}
"""


def script_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kampy.script"]


def test_a_message_longer_than_buf_size_is_not_logged_and_xlog_fails(
        kampy_cfg: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sip = kampy_cfg(XLOG_CFG % 'modparam("xlog", "buf_size", 20)')  # type: ignore[operator]
    assert sip.send_request("OPTIONS", "sip:alice-with-a-long-name@example.test").avp("rc") == -1
    assert not any("ruri" in line for line in script_lines(caplog))
    assert "buffer overflow -- increase the buffer size..." in caplog.text


def test_a_message_within_buf_size_is_logged(kampy_cfg: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sip = kampy_cfg(XLOG_CFG % 'modparam("xlog", "buf_size", 100)')  # type: ignore[operator]
    assert sip.send_request("OPTIONS", "sip:bob@example.test").avp("rc") == 1
    assert "<script>: ruri sip:bob@example.test" in script_lines(caplog)


def test_prefix_mode_1_evaluates_the_prefix_for_each_message(
        kampy_cfg: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sip = kampy_cfg(XLOG_CFG % 'modparam("xlog", "prefix", "[$rm $rU] ")\n'  # type: ignore[operator]
                    'modparam("xlog", "prefix_mode", 1)')
    sip.send_request("OPTIONS", "sip:carol@example.test")
    sip.send_request("MESSAGE", "sip:dave@example.test")
    lines = script_lines(caplog)
    assert "[OPTIONS carol] ruri sip:carol@example.test" in lines
    assert "[MESSAGE dave] ruri sip:dave@example.test" in lines


def test_prefix_mode_0_prints_the_prefix_as_written(
        kampy_cfg: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sip = kampy_cfg(XLOG_CFG % 'modparam("xlog", "prefix", "[$rm] ")')  # type: ignore[operator]
    sip.send_request("OPTIONS", "sip:erin@example.test")
    assert "[$rm] ruri sip:erin@example.test" in script_lines(caplog)


def test_xlogl_without_long_format_keeps_the_prefix_as_written_as_kamailio_does(
        kampy_cfg: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sip = kampy_cfg(XLOG_CFG % 'modparam("xlog", "prefix", "[$rm] ")\n'  # type: ignore[operator]
                    'modparam("xlog", "prefix_mode", 1)')
    sip.send_request("OPTIONS", "sip:frank@example.test")
    assert any(line.startswith("[$rm] ") and line.endswith(":with line") for line in script_lines(caplog))


# ------------------------------------------------ facilities (on the wire: tests/e2e/test_syslog.py)

def facilities(caplog: pytest.LogCaptureFixture) -> list[int | None]:
    return [getattr(r, "kamailio_facility", None) for r in caplog.records if r.name == "kampy.script"]


def test_without_log_facility_xlog_leaves_the_facility_to_the_core(
        xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    xlog.xlog(make_ctx(), "L_ERR", "m")  # type: ignore[attr-defined]
    assert facilities(caplog) == [None]


def test_log_facility_sends_every_message_of_the_module_to_that_facility(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    mod = module(xlog_module.EXPORTS, Core(), log_facility="LOG_LOCAL5")
    mod.xinfo(make_ctx(), "m")
    assert facilities(caplog) == [logging.handlers.SysLogHandler.LOG_LOCAL5]


def test_the_facility_argument_of_xlog_wins_over_log_facility(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "kampy.script")
    mod = module(xlog_module.EXPORTS, Core(), log_facility="LOG_LOCAL5")
    assert mod.xlog(make_ctx(), "log_local1", "L_WARN", "m") == 1
    assert facilities(caplog) == [logging.handlers.SysLogHandler.LOG_LOCAL1]


def test_an_unknown_facility_argument_fails_the_call(xlog: object, caplog: pytest.LogCaptureFixture) -> None:
    assert xlog.xlog(make_ctx(), "LOG_NOWHERE", "L_ERR", "m") == -1  # type: ignore[attr-defined]
    assert "invalid syslog facility LOG_NOWHERE" in caplog.text


def test_an_unknown_log_facility_stops_the_module_loading() -> None:
    with pytest.raises(Exception, match="invalid syslog facility LOCAL5"):
        module(xlog_module.EXPORTS, Core(), log_facility="LOCAL5")
