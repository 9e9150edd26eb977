"""The rule behind a target's no: whom it is about, and whether it still holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.intro.declines import TargetDecline, holding, same_person

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HOLD = timedelta(days=180)


def said_no(name: str, days_ago: float) -> TargetDecline:
    return TargetDecline(name, NOW - timedelta(days=days_ago))


@pytest.mark.parametrize(
    ("asked_for", "declined", "same"),
    [
        ("Jane Doe", "Jane Doe", True),
        ("jane doe", "Jane Doe", True),
        ("Jane Doe (Acme)", "Jane Doe", True),  # the company in the name is not the name
        ("Jane Dóe", "Jane Doe", True),
        ("John Doe", "Jane Doe", False),  # the same surname is not the same person
        ("Jane Roe", "Jane Doe", False),
        ("", "Jane Doe", False),
    ],
)
def test_whom_a_no_is_about(asked_for: str, declined: str, same: bool) -> None:
    assert same_person(asked_for, declined) is same


@pytest.mark.parametrize(
    ("declines", "held"),
    [
        ([], None),
        ([said_no("Jane Doe", 3)], 0),
        ([said_no("Jane Doe", 179.9)], 0),  # a day before the hold ends
        ([said_no("Jane Doe", 180)], None),  # the hold has ended
        ([said_no("Jane Doe", 400)], None),
        ([said_no("Jane Doe", -1)], None),  # told after now: not yet
        ([said_no("John Doe", 3)], None),  # someone else's no
        ([said_no("Jane Doe", 100), said_no("Jane Doe", 10)], 1),  # the latest counts
        ([said_no("Jane Doe", 10), said_no("Jane Doe", 300)], 0),
    ],
)
def test_whether_a_no_still_holds(declines: list[TargetDecline], held: int | None) -> None:
    found = holding(declines, "Jane Doe", NOW, HOLD)
    assert found == (declines[held] if held is not None else None)


def test_a_no_holds_until_the_hold_has_passed() -> None:
    decline = said_no("Jane Doe", 0)
    assert decline.until(HOLD) == NOW + HOLD
    assert holding([decline], "Jane Doe", NOW + HOLD - timedelta(seconds=1), HOLD) == decline
    assert holding([decline], "Jane Doe", NOW + HOLD, HOLD) is None
    assert holding([decline], "Jane Doe", NOW, timedelta(days=1)) == decline
