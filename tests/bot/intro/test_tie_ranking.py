"""How ties rank as paths: declared ties before LinkedIn connections, lapsed ones last."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.intro.directory import (
    CONNECTED,
    KNOWN,
    LAPSED,
    rank_key,
    tie_kind,
    tie_score,
)

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
TODAY = NOW.date()


@pytest.mark.parametrize(
    ("source", "confirmed_at", "lapsed_at", "kind"),
    [
        ("manual", NOW, None, KNOWN),  # added by hand
        ("manual", None, None, KNOWN),  # by hand long ago, never asked about since
        ("linkedin", None, None, CONNECTED),  # imported, never vouched for
        ("linkedin", NOW, None, KNOWN),  # imported, then "would they take your call?": yes
        ("linkedin", NOW, NOW, LAPSED),  # imported, then "not really"
        ("manual", NOW, NOW, LAPSED),  # "Still in touch?" "Not really anymore"
    ],
)
def test_what_kind_of_tie_it_is(
    source: str, confirmed_at: datetime | None, lapsed_at: datetime | None, kind: str
) -> None:
    assert tie_kind(source, confirmed_at, lapsed_at) == kind


def _ranked(*ties: tuple[str, str, str, date | None]) -> list[str]:
    """The owners of (owner, kind, closeness, since) ties, best path first."""
    keyed = [
        (rank_key(kind, tie_score(1.0, closeness, since, TODAY, 0, 0), owner), owner)
        for owner, kind, closeness, since in ties
    ]
    return [owner for _, owner in sorted(keyed)]


@pytest.mark.parametrize(
    ("ties", "order"),
    [
        # A "know them well" of ten years outranks a LinkedIn connection of last month.
        (
            [
                ("new_link", CONNECTED, "met_once", date(2026, 11, 1)),
                ("old_friend", KNOWN, "know_well", date(2016, 1, 1)),
            ],
            ["old_friend", "new_link"],
        ),
        # Even a declared "not sure" comes before a connection that says "close".
        (
            [
                ("link", CONNECTED, "close", date(2026, 1, 1)),
                ("unsure", KNOWN, "not_sure", date(2010, 1, 1)),
            ],
            ["unsure", "link"],
        ),
        # A lapsed tie comes after both, however close it was.
        (
            [
                ("lapsed", LAPSED, "close", date(2025, 1, 1)),
                ("link", CONNECTED, "met_once", date(2018, 1, 1)),
                ("known", KNOWN, "met_once", date(2012, 1, 1)),
            ],
            ["known", "link", "lapsed"],
        ),
        # Within a kind, how well and how recently decide.
        (
            [
                ("met", KNOWN, "met_once", date(2025, 1, 1)),
                ("close", KNOWN, "close", date(2024, 1, 1)),
            ],
            ["close", "met"],
        ),
        (
            [
                ("older", CONNECTED, "met_once", date(2012, 1, 1)),
                ("newer", CONNECTED, "met_once", date(2025, 1, 1)),
            ],
            ["newer", "older"],
        ),
    ],
)
def test_declared_ties_rank_above_connections_whatever_their_age(
    ties: list[tuple[str, str, str, date | None]], order: list[str]
) -> None:
    assert _ranked(*ties) == order


@pytest.mark.parametrize(
    ("mine", "theirs", "better"),
    [
        ((0, 0), (3, 0), True),  # fewer open asks (open, made): a lighter load
        ((0, 5), (0, 0), True),  # intros made before: a track record
        ((2, 0), (0, 0), False),
    ],
)
def test_load_and_track_record_order_ties_of_one_kind(
    mine: tuple[int, int], theirs: tuple[int, int], better: bool
) -> None:
    since = date(2024, 1, 1)
    score = tie_score(1.0, "know_well", since, TODAY, *mine)
    assert (score > tie_score(1.0, "know_well", since, TODAY, *theirs)) is better
