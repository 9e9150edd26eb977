"""A target's no is final: while it holds, no one in the workspace is steered back to them.

Pure: the declines come in as plain values, the moment and the hold as arguments. Whom a
decline is about is decided as the duplicate-ask check decides it (the same surname key and
a close enough name, `bot.intro.matching`), so "Jane Doe" and "jane doe" are one person and
"John Doe" is another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.intro.matching import name_key, name_score, parse_person
from bot.intro.states import TransitionError

# How close two names must be to be one person: the duplicate-ask check's bar.
SAME_PERSON = 85


@dataclass(frozen=True)
class TargetDecline:
    """The person said no to an intro: their name as asked for, and when the connector told."""

    target_name: str
    declined_at: datetime

    def until(self, hold: timedelta) -> datetime:
        return self.declined_at + hold


def same_person(asked_for: str, declined: str) -> bool:
    key = name_key(parse_person(asked_for).name_key)
    return bool(key) and name_score(key, name_key(declined)) >= SAME_PERSON


def holding(
    declines: Iterable[TargetDecline], asked_for: str, now: datetime, hold: timedelta
) -> TargetDecline | None:
    """The latest decline by the person asked for that still holds at `now`, if any: it holds
    from the moment it was told until `hold` has passed."""
    current = [
        d
        for d in declines
        if same_person(asked_for, d.target_name) and d.declined_at <= now < d.until(hold)
    ]
    return max(current, key=lambda d: d.declined_at, default=None)


class TargetOnHold(TransitionError):
    """A way back to a person whose no still holds (asking someone else, going in cold, a
    second voice): refused until the hold ends."""

    def __init__(self, decline: TargetDecline, until: datetime) -> None:
        super().__init__(f"{decline.target_name} declined an intro; held until {until:%Y-%m-%d}")
        self.decline = decline
        self.until = until
