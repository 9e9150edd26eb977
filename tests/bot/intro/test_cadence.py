"""Durations, working days and working hours in each recipient's time zone."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intro.cadence import Cadence, WorkingHours, add_working_days, follow_up_due
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


# --- the follow-up after an intro: within the day, in the requester's working day --------------

NY, TOKYO, LONDON = "America/New_York", "Asia/Tokyo", "Europe/London"
OFFICE = "9-17 mon-fri"


def _at(tz: str, *when: int) -> datetime:
    return datetime(*when, tzinfo=ZoneInfo(tz))  # type: ignore[misc]


@pytest.mark.parametrize(
    ("hours", "tz", "intro", "wait", "due"),
    [
        # Friday afternoon: before their day ends, not Monday morning.
        (OFFICE, NY, (2026, 1, 9, 16, 0), 3, (2026, 1, 9, 16, 30)),
        # Mid-morning: a few working hours later, the same day.
        (OFFICE, NY, (2026, 1, 6, 10, 0), 3, (2026, 1, 6, 13, 0)),
        # A long wait still ends with their day.
        (OFFICE, NY, (2026, 1, 6, 10, 0), 20, (2026, 1, 6, 16, 30)),
        # Late evening: counted from the start of their next working day, within a day.
        (OFFICE, NY, (2026, 1, 6, 20, 0), 3, (2026, 1, 7, 12, 0)),
        # Early morning: counted from when their day starts.
        (OFFICE, NY, (2026, 1, 6, 7, 0), 3, (2026, 1, 6, 12, 0)),
        # The last minutes of a weekday: the next morning, within a day.
        (OFFICE, NY, (2026, 1, 6, 16, 50), 3, (2026, 1, 7, 9, 0)),
        # The last minutes of a Friday: before the day ends, not three days later.
        (OFFICE, NY, (2026, 1, 9, 16, 50), 3, (2026, 1, 9, 16, 55)),
        # Friday evening and the weekend: no working time within a day, so Monday's start.
        (OFFICE, NY, (2026, 1, 9, 20, 0), 3, (2026, 1, 12, 9, 0)),
        (OFFICE, NY, (2026, 1, 10, 10, 0), 3, (2026, 1, 12, 9, 0)),
        # Sunday noon: Monday's working time within a day, up to a day after the intro.
        (OFFICE, NY, (2026, 1, 11, 12, 0), 3, (2026, 1, 12, 11, 30)),
        # Each requester's own zone: Tuesday 16:00 in Tokyo.
        (OFFICE, TOKYO, (2026, 1, 6, 16, 0), 3, (2026, 1, 6, 16, 30)),
        # The clocks spring forward that weekend: Monday 09:00 is in daylight time.
        (OFFICE, NY, (2026, 3, 6, 20, 0), 3, (2026, 3, 9, 9, 0)),
        # ... and fall back in London: Monday 09:00 in Greenwich time.
        (OFFICE, LONDON, (2026, 10, 23, 18, 0), 3, (2026, 10, 26, 9, 0)),
        # The night the clocks spring forward, working all day: three real hours later.
        ("0-24 mon-sun", NY, (2026, 3, 8, 0, 30), 3, (2026, 3, 8, 4, 30)),
        # No working hours: plain time, never more than a day.
        ("always", NY, (2026, 1, 9, 16, 0), 3, (2026, 1, 9, 19, 0)),
        ("always", NY, (2026, 1, 9, 16, 0), 30, (2026, 1, 10, 16, 0)),
    ],
)
def test_the_follow_up_comes_within_the_working_day(
    hours: str,
    tz: str,
    intro: tuple[int, ...],
    wait: int,
    due: tuple[int, ...],
) -> None:
    intro_at = _at(tz, *intro).astimezone(UTC)
    got = follow_up_due(intro_at, timedelta(hours=wait), WorkingHours.parse(hours), tz)
    assert got.astimezone(ZoneInfo(tz)) == _at(tz, *due)


def test_the_follow_up_falls_back_to_utc_for_an_unknown_zone() -> None:
    tuesday_ten_utc = datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    hours = WorkingHours.parse(OFFICE)
    got = follow_up_due(tuesday_ten_utc, timedelta(hours=3), hours, "Mars/Olympus")
    assert got == datetime(2026, 1, 6, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize("tz", [NY, TOKYO, LONDON, "Australia/Lord_Howe"])
@pytest.mark.parametrize("text", [OFFICE, "8:30-12 mon-sat", "22-24 sun-thu"])
def test_the_follow_up_is_in_working_hours_and_within_a_day_when_it_can_be(
    tz: str, text: str
) -> None:
    hours = WorkingHours.parse(text)
    assert hours is not None
    intro_at = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    for _ in range(8 * 24 * 4):  # every quarter hour for a week and a day
        due = follow_up_due(intro_at, timedelta(hours=3), hours, tz)
        assert due >= intro_at
        assert hours.next_opening(due, tz) == due  # they are at work then
        working_within_a_day = hours.next_opening(intro_at, tz) < intro_at + timedelta(days=1)
        if working_within_a_day:
            assert due - intro_at <= timedelta(days=1)
        else:
            assert due == hours.next_opening(intro_at, tz)  # the start of their next day
        intro_at += timedelta(minutes=15)
