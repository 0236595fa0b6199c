"""tmrec: tmrec_match(), is_leap_year() and time_period_match() on the examples of Kamailio's
documentation, with fixed timestamps and time zone (tests/e2e/test_misc_modules_kamailio.py runs
the same cases against Kamailio 5.6)."""
from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from typing import Any

import pytest

HEAD = """
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "tmrec.so"
{params}
request_route {{
    {body}
    sl_send_reply("200", "OK");
}}
"""


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC for these tests (tmrec works in local time, as Kamailio's does)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def ts(text: str) -> int:
    """A UTC timestamp from 'YYYY-MM-DD HH:MM'."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M"))


def match(kampy_cfg: Any, call: str, params: str = "") -> int:
    sip = kampy_cfg(HEAD.format(params=params, body=f"$avp(r) = {call};"), db=None)
    return sip.send_request("OPTIONS", "sip:a@example.test").avp("r")


WEEKEND = "20120101T000000|PT24H|weekly|||SA,SU"
WORKING_HOURS = "20120101T083000|PT10H|weekly|||MO,TU,WE,TH,FR"


@pytest.mark.parametrize(("when", "expected"), [
    ("2024-06-08 12:00", 1),   # a Saturday
    ("2024-06-09 23:59", 1),   # a Sunday
    ("2024-06-10 00:00", -1),  # a Monday
])
def test_the_weekend_example_matches_saturdays_and_sundays(kampy_cfg: Any, when: str, expected: int) -> None:
    assert match(kampy_cfg, f'tmrec_match("{WEEKEND}", "{ts(when)}")') == expected


@pytest.mark.parametrize(("when", "expected"), [
    ("2024-06-10 08:30", 1),   # Monday, the start
    ("2024-06-12 18:29", 1),   # Wednesday, before the end
    ("2024-06-12 18:30", -1),  # Wednesday, at the end (the duration is excluded)
    ("2024-06-10 08:29", -1),
    ("2024-06-08 10:00", -1),  # Saturday
])
def test_the_working_hours_example(kampy_cfg: Any, when: str, expected: int) -> None:
    assert match(kampy_cfg, f'tmrec_match("{WORKING_HOURS}", "{ts(when)}")') == expected


def test_before_the_start_date_nothing_matches(kampy_cfg: Any) -> None:
    assert match(kampy_cfg, f'tmrec_match("20300101T000000|PT24H|daily", "{ts("2024-06-10 10:00")}")') == -1


def test_the_first_period_itself_matches_without_a_frequency(kampy_cfg: Any) -> None:
    rec = "20240610T100000|PT1H"
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-10 10:30")}")') == 1
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-11 10:30")}")') == -1


def test_until_bounds_the_recurrence(kampy_cfg: Any) -> None:
    rec = "20240601T100000|PT1H|daily|20240605T000000"
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-04 10:30")}")') == 1
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-06 10:30")}")') == -1


def test_interval_skips_the_days_between(kampy_cfg: Any) -> None:
    rec = "20240601T100000|PT1H|daily||2"
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-03 10:30")}")') == 1
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-04 10:30")}")') == -1


def test_bymonth_limits_a_daily_rule_to_those_months_counted_from_0_as_kamailio_does(kampy_cfg: Any) -> None:
    rec = "20240101T000000|PT24H|daily|||||||3"  # Kamailio 5.6 compares with tm_mon: 3 is April
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-04-15 12:00")}")') == 1
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-03-15 12:00")}")') == -1


def test_a_counted_byday_of_a_monthly_rule_matches_that_weekday_of_the_month(kampy_cfg: Any) -> None:
    monday = ts("2024-06-10 12:00")  # the second Monday of June
    assert match(kampy_cfg, f'tmrec_match("20240101T000000|PT24H|monthly|||2MO", "{monday}")') == 1
    # without a count, Kamailio 5.6's monthly byday never matches
    assert match(kampy_cfg, f'tmrec_match("20240101T000000|PT24H|monthly|||MO", "{monday}")') == -1


def test_interval_adds_up_its_digits_as_kamailio_does(kampy_cfg: Any) -> None:
    # "12" is read as 1 + 2 = 3: 2024-01-01 + 162 days is a match, + 161 days is not
    rec = "20240101T000000|PT24H|daily||12"
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-11 12:00")}")') == 1
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-10 12:00")}")') == -1


def test_the_separator_parameter_changes_the_field_separator(kampy_cfg: Any) -> None:
    rec = WEEKEND.replace("|", ";")
    assert match(kampy_cfg, f'tmrec_match("{rec}", "{ts("2024-06-08 12:00")}")',
                 'modparam("tmrec", "separator", ";")') == 1


def test_a_recurrence_that_does_not_parse_does_not_match(kampy_cfg: Any) -> None:
    assert match(kampy_cfg, 'tmrec_match("2012|PT24H|weekly")') == -1
    assert match(kampy_cfg, 'tmrec_match("20120101T000000|24H|weekly")') == -1


def test_a_recurrence_without_start_date_always_matches(kampy_cfg: Any) -> None:
    assert match(kampy_cfg, 'tmrec_match("|PT1H|daily")') == 1


def test_without_timestamp_the_current_time_is_used(kampy_cfg: Any) -> None:
    # the plugin's clock starts at 2024-01-01 00:00:00 UTC, a Monday
    assert match(kampy_cfg, 'tmrec_match("20240101T000000|PT1H|weekly|||MO")') == 1


@pytest.mark.parametrize(("call", "expected"), [
    ('is_leap_year("2024")', 1), ('is_leap_year("2023")', -1), ('is_leap_year("1900")', -1),
    ('is_leap_year("2000")', 1), ("is_leap_year()", 1),  # the plugin's clock: 2024
])
def test_is_leap_year(kampy_cfg: Any, call: str, expected: int) -> None:
    assert match(kampy_cfg, call) == expected


OFFICE = "wd{2-6} hr{8-16}, wd{2-6} hr{17} min{0-29}"
CLOSED = "wday { sat sun }, wday {mo-fr} hr {17-8},wd{mo-wed}hr{15 16 9}"


@pytest.mark.parametrize(("period", "when", "expected"), [
    (OFFICE, "2024-06-10 08:00", 1), (OFFICE, "2024-06-14 17:29", 1), (OFFICE, "2024-06-14 17:30", -1),
    (OFFICE, "2024-06-15 10:00", -1),
    (CLOSED, "2024-06-15 12:00", 1), (CLOSED, "2024-06-10 20:00", 1), (CLOSED, "2024-06-10 15:30", 1),
    (CLOSED, "2024-06-13 11:00", -1),
    ("", "2024-06-10 08:00", 1), ("none", "2024-06-10 08:00", -1), ("never", "2024-06-10 08:00", -1),
    ("month{jan-mar}", "2024-02-10 08:00", 1), ("mo{nov-feb}", "2024-02-10 08:00", 1),
    ("month{apr}", "2024-02-10 08:00", -1), ("yd{42}", "2024-02-11 08:00", 1),
    ("md{10} hr{8}", "2024-02-10 08:15", 1), ("wk{2}", "2024-06-10 08:00", 1),
    ("year{2024}", "2024-06-10 08:00", 1), ("yr{2023}", "2024-06-10 08:00", -1),
    ("sec{0-30}", "2024-06-10 08:00", 1),
])
def test_time_period_match(kampy_cfg: Any, period: str, when: str, expected: int) -> None:
    assert match(kampy_cfg, f'time_period_match("{period}", "{ts(when)}")') == expected


def test_a_period_with_a_syntax_error_matches_as_in_kamailio(kampy_cfg: Any) -> None:
    assert match(kampy_cfg, f'time_period_match("hr{{25}}", "{ts("2024-06-10 08:00")}")') == 1
    assert match(kampy_cfg, f'time_period_match("nonsense{{1}}", "{ts("2024-06-10 08:00")}")') == 1
