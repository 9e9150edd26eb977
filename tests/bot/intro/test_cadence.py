"""Durations, working days and working hours in each recipient's time zone."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intro.cadence import Cadence, WorkingHours, add_working_days
from bot.intro.durations import LONGEST, parse_duration

MONDAY_NOON_UTC = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("20h", timedelta(hours=20)),
        ("2d", timedelta(days=2)),
        (" 7d ", timedelta(days=7)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "d", "2w", "-1d", "1.5h", "2 days"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_working_days_skip_the_weekend() -> None:
    friday = datetime(2026, 1, 9, 15, 0, tzinfo=UTC)
    assert add_working_days(friday, 1) == datetime(2026, 1, 12, 15, 0, tzinfo=UTC)
    assert add_working_days(MONDAY_NOON_UTC, 2) == datetime(2026, 1, 7, 12, 0, tzinfo=UTC)


def test_nudges_count_working_days_only_when_given_in_days() -> None:
    friday = datetime(2026, 1, 9, 15, 0, tzinfo=UTC)
    assert Cadence(nudge_after=timedelta(days=2)).nudge_due(friday).weekday() == 1  # Tuesday
    assert Cadence(nudge_after=timedelta(hours=30)).nudge_due(friday) == friday + timedelta(
        hours=30
    )


def test_working_hours_parse() -> None:
    hours = WorkingHours.parse("9-17 mon-fri")
    assert hours == WorkingHours(time(9), time(17), frozenset(range(5)))
    assert WorkingHours.parse("08:30-18:00") == WorkingHours(
        time(8, 30), time(18), frozenset(range(5))
    )
    assert WorkingHours.parse("10-16 sun-thu") == WorkingHours(
        time(10), time(16), frozenset({6, 0, 1, 2, 3})
    )
    assert WorkingHours.parse("always") is None


@pytest.mark.parametrize("text", ["9 to 5", "17-9", "9-17 mon", "25-26"])
def test_bad_working_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        WorkingHours.parse(text)


def test_inside_the_window_is_now() -> None:
    hours = WorkingHours.parse("9-17 mon-fri")
    assert hours is not None
    # Noon UTC is 07:00 in New York (held) but 13:00 in Paris (now).
    assert hours.next_opening(MONDAY_NOON_UTC, "Europe/Paris") == MONDAY_NOON_UTC
    assert hours.next_opening(MONDAY_NOON_UTC, "America/New_York") == datetime(
        2026, 1, 5, 14, 0, tzinfo=UTC
    )


def test_after_hours_and_weekends_wait_for_the_next_working_morning() -> None:
    hours = WorkingHours.parse("9-17 mon-fri")
    assert hours is not None
    friday_evening_tokyo = datetime(2026, 1, 9, 10, 0, tzinfo=UTC)  # 19:00 in Tokyo
    assert hours.next_opening(friday_evening_tokyo, "Asia/Tokyo") == datetime(
        2026, 1, 12, 0, 0, tzinfo=UTC
    )  # Monday 09:00 in Tokyo


def test_unknown_time_zone_falls_back_to_utc() -> None:
    hours = WorkingHours.parse("9-17 mon-fri")
    assert hours is not None
    assert hours.next_opening(MONDAY_NOON_UTC, "Mars/Olympus") == MONDAY_NOON_UTC
    assert hours.next_opening(MONDAY_NOON_UTC, None) == MONDAY_NOON_UTC


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from("smhd"))
def test_every_written_duration_reads_as_itself_up_to_ten_years(amount: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    if amount * seconds > LONGEST.total_seconds():
        with pytest.raises(ValueError, match="longer than 3650d"):
            parse_duration(f"{amount}{unit}")
        return
    assert parse_duration(f"{amount}{unit}").total_seconds() == amount * seconds
    assert parse_duration(f" {amount} {unit} ") == parse_duration(f"{amount}{unit}")


@given(st.text(max_size=30))
def test_anything_else_is_refused_with_a_value_error(text: str) -> None:
    try:
        parse_duration(text)
    except ValueError as exc:
        assert repr(text) in str(exc)


@given(st.text(max_size=30))
def test_working_hours_refuse_junk_with_a_value_error(text: str) -> None:
    with contextlib.suppress(ValueError):
        WorkingHours.parse(text)
