"""When reminders fall due, and when a person may receive them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.intro.durations import parse_duration

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS = re.compile(
    r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?"
    r"(?:\s+(mon|tue|wed|thu|fri|sat|sun)\s*-\s*(mon|tue|wed|thu|fri|sat|sun))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class WorkingHours:
    """A daily window on some weekdays, in each recipient's own time zone; None means always."""

    start: time
    end: time
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, text: str) -> WorkingHours | None:
        if text.strip().lower() == "always":
            return None
        match = _HOURS.match(text)
        if not match:
            raise ValueError(f"{text!r} is not working hours such as '9-17 mon-fri' or 'always'")
        h1, m1, h2, m2, d1, d2 = match.groups()
        start, end = time(int(h1), int(m1 or 0)), time(int(h2) % 24, int(m2 or 0))
        if not start < end and (h2, m2) != ("24", None):
            raise ValueError(f"{text!r}: the day must start before it ends")
        first, last = _DAYS.index((d1 or "mon").lower()), _DAYS.index((d2 or "fri").lower())
        days = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        return cls(start, end, frozenset(days))

    def next_opening(self, moment: datetime, tz_name: str | None) -> datetime:
        """`moment` if it falls inside the window in that zone, else when the window next opens."""
        local_zone = zone(tz_name)
        local = moment.astimezone(local_zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            if day.weekday() not in self.weekdays:
                continue
            opens = datetime.combine(day, self.start, local_zone)
            closes = (
                datetime.combine(day, self.end, local_zone)
                if self.end != time(0)
                else (datetime.combine(day + timedelta(days=1), time(0), local_zone))
            )
            if local < opens:
                return opens.astimezone(moment.tzinfo)
            if local < closes:
                return moment
        return moment  # no weekday at all: never hold a message back forever

    def windows(self, moment: datetime, tz_name: str | None) -> Iterator[tuple[datetime, datetime]]:
        """The working days (opens, closes), in UTC, that end after `moment`, for a week on:
        each day's window in that zone's wall time, whatever its offset that day."""
        local_zone = zone(tz_name)
        first = moment.astimezone(local_zone).date()
        for offset in range(8):
            day = first + timedelta(days=offset)
            if day.weekday() not in self.weekdays:
                continue
            closing_day = day + timedelta(days=1) if self.end == time(0) else day
            opens = datetime.combine(day, self.start, local_zone).astimezone(UTC)
            closes = datetime.combine(closing_day, self.end, local_zone).astimezone(UTC)
            if closes > moment:
                yield opens, closes


def zone(tz_name: str | None) -> ZoneInfo:
    """A person's time zone from Slack's `tz`; UTC when it is missing or unknown."""
    try:
        return ZoneInfo(tz_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# The follow-up after an intro comes within a day of it, in the requester's working day: a
# few working hours after, or before their day ends, whichever is first.
WITHIN_A_DAY = timedelta(hours=24)
# "Before their day ends": this long before the window closes, so a sweep running a little
# late still finds them at work.
END_OF_DAY = timedelta(minutes=30)


def follow_up_due(
    intro_at: datetime, wait: timedelta, hours: WorkingHours | None, tz_name: str | None
) -> datetime:
    """When to suggest following up on an intro made at `intro_at`, for a requester in
    `tz_name` working `hours` (None: any time).

    `wait` after the intro, counted from when their working day starts if it made outside
    it, but no later than the end of that working day and never more than a day after the
    intro. When the intro came in the last minutes of their day, the start of their next
    working day if that is within a day, else before this one ends. When none of their
    working time falls within a day of the intro (a weekend), the start of the next."""
    wait = min(wait, WITHIN_A_DAY)
    if hours is None:
        return intro_at + wait
    latest = intro_at + WITHIN_A_DAY
    upcoming = hours.windows(intro_at, tz_name)
    for opens, closes in upcoming:
        if opens >= latest:
            return opens  # no working time within a day: the start of their next working day
        start, end = max(opens, intro_at), min(closes, latest)
        last_call = end - END_OF_DAY
        if last_call > start:
            return min(start + wait, last_call)
        # Their day is all but over: tomorrow morning if it comes within a day, else now-ish.
        following = next(upcoming, None)
        if following is not None and following[0] < latest:
            return following[0]
        return start + (end - start) / 2
    return intro_at + wait  # no working day at all


def add_working_days(start: datetime, days: int) -> datetime:
    """`days` weekdays after `start` (Saturdays and Sundays don't count)."""
    moment = start
    while days > 0:
        moment += timedelta(days=1)
        if moment.weekday() < 5:
            days -= 1
    return moment


@dataclass(frozen=True)
class Cadence:
    nudge_after: timedelta = timedelta(days=2)
    follow_up_after: timedelta = timedelta(hours=3)
    outcome_after: timedelta = timedelta(days=7)
    nudges: int = 2
    # After a meeting or an opportunity: ask how it went again, this long after, twice at most.
    outcome_again_after: timedelta = timedelta(days=30)
    outcome_asks_again: int = 2
    # While the connector checks with the target: "Did they answer?" this often, at most
    # `target_checks` times; as long again after the last, the ask has gone quiet.
    target_check_after: timedelta = timedelta(days=3)
    target_checks: int = 2

    @classmethod
    def from_text(
        cls,
        nudge_after: str,
        follow_up_after: str,
        outcome_after: str,
        outcome_again_after: str = "30d",
        target_check_after: str = "3d",
    ) -> Cadence:
        return cls(
            parse_duration(nudge_after),
            parse_duration(follow_up_after),
            parse_duration(outcome_after),
            outcome_again_after=parse_duration(outcome_again_after),
            target_check_after=parse_duration(target_check_after),
        )

    def nudge_due(self, start: datetime) -> datetime:
        """Nudges wait working days when given in days ("2d" skips a weekend), else plain time."""
        return _after(start, self.nudge_after)

    def target_check_due(self, start: datetime) -> datetime:
        """Like nudges: days count working days."""
        return _after(start, self.target_check_after)


def _after(start: datetime, wait: timedelta) -> datetime:
    if wait >= timedelta(days=1) and wait % timedelta(days=1) == timedelta(0):
        return add_working_days(start, wait.days)
    return start + wait
