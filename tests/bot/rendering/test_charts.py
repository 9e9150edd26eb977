"""The manager's chart: a small, labelled PNG whose key changes exactly when what it shows
does."""

from __future__ import annotations

import struct

from bot.rendering.charts import ChartData, render_chart

FUNNEL = (
    ("Requested", 12),
    ("Accepted", 9),
    ("Intro made", 6),
    ("Meeting", 3),
    ("Opportunity", 2),
    ("Won", 1),
)


def test_the_chart_is_a_small_png_drawn_the_same_each_time() -> None:
    data = ChartData(FUNNEL, covered=14, accounts=20)
    png = render_chart(data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (720, 280)
    assert len(png) < 60_000
    assert render_chart(data) == png  # no timestamp in it: the same chart, the same bytes


def test_the_key_follows_what_the_chart_shows() -> None:
    data = ChartData(FUNNEL, covered=14, accounts=20)
    assert data.key == ChartData(FUNNEL, 14, 20).key
    assert data.key != ChartData(FUNNEL, 15, 20).key
    assert data.key != ChartData((("Requested", 13), *FUNNEL[1:]), 14, 20).key


def test_the_description_says_the_numbers_for_screen_readers() -> None:
    alt = ChartData(FUNNEL, covered=14, accounts=20).alt_text()
    assert "Requested 12, Accepted 9, Intro made 6, Meeting 3, Opportunity 2, Won 1" in alt
    assert "14 of 20 have a way in" in alt


def test_an_empty_team_draws_no_chart() -> None:
    empty = tuple((label, 0) for label, _ in FUNNEL)
    assert not ChartData(empty, 0, 0).worth_drawing
    assert ChartData(empty, 0, 3).worth_drawing


def test_a_team_with_no_accounts_gets_the_funnel_alone() -> None:
    data = ChartData(FUNNEL, covered=0, accounts=0)
    assert render_chart(data).startswith(b"\x89PNG")
    assert data.alt_text().endswith("No accounts on your team's lists yet.")
