"""The core's mapping of Kamailio's `debug=` onto Python logging, shared by the CLI, log() and xlog."""
from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator

import pytest

from kampy.cli import debug_level
from kampy.runtime.loglevels import L_NOTICE, NOTICE, apply_debug, debug_threshold, python_level


@pytest.fixture
def kampy_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("kampy")
    saved = logger.level
    yield logger
    logger.setLevel(saved)


def run_args(debug: int | None = None, verbose: int = 0) -> argparse.Namespace:
    return argparse.Namespace(debug=debug, verbose=verbose)


def test_debug_1_shows_notice_but_not_info() -> None:
    assert debug_threshold(1) == NOTICE == python_level(L_NOTICE)


def test_debug_beyond_range_is_clamped() -> None:
    assert (debug_threshold(9), debug_threshold(-9)) == (logging.DEBUG, logging.CRITICAL)


def test_apply_debug_2_shows_script_info_not_debug(kampy_logger: logging.Logger) -> None:
    apply_debug(2)
    script = logging.getLogger("kampy.script")
    assert script.isEnabledFor(logging.INFO) and not script.isEnabledFor(logging.DEBUG)


def test_apply_debug_0_hides_core_info(kampy_logger: logging.Logger) -> None:
    apply_debug(0)
    core = logging.getLogger("kampy.core")
    assert core.isEnabledFor(logging.WARNING) and not core.isEnabledFor(NOTICE)


def test_cfg_debug_used_without_flags() -> None:
    assert debug_level(run_args(), {"debug": 3}) == 3


def test_each_d_flag_adds_one_over_cfg() -> None:
    assert debug_level(run_args(verbose=2), {"debug": 0}) == 2


def test_debug_option_wins() -> None:
    assert debug_level(run_args(debug=-1, verbose=3), {"debug": 3}) == -1
