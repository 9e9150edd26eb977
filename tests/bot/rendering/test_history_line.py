"""The line on a connector's first card about their history with the requester."""

from __future__ import annotations

import pytest

from bot.intro.workflow.queries import History
from bot.rendering import messages
from tests.bot.rendering.test_messages import make_request


def _line(history: History, **changes: str) -> str | None:
    card = messages.connector_card(make_request(**changes), history=history)
    for block in card.blocks:
        if block.get("block_id") == "history":
            return str(block["elements"][0]["text"])
    return None


@pytest.mark.parametrize(
    ("history", "line"),
    [
        (
            History(asks=2, made=1, met=1, declined=1, made_for_them=1),
            "Sam has asked you for an intro twice in the last year: one intro made (a meeting "
            "came of it), one you declined. Sam has made one intro for you.",
        ),
        (
            History(asks=1, made=1),
            "Sam has asked you for an intro once in the last year: one intro made.",
        ),
        (
            History(asks=3, made=2, met=2, open=1),
            "Sam has asked you for an intro three times in the last year: two intros made "
            "(a meeting came of both), one still open.",
        ),
        (
            History(asks=4, made=3, met=1),
            "Sam has asked you for an intro four times in the last year: three intros made "
            "(a meeting came of one), one that went no further.",
        ),
        (
            History(asks=12, declined=12),
            "Sam has asked you for an intro 12 times in the last year: 12 you declined.",
        ),
        (History(made_for_them=2), "Sam has made two intros for you in the last year."),
    ],
)
def test_the_history_line_says_what_happened_between_them(history: History, line: str) -> None:
    assert _line(history) == f":repeat: {line}"


def test_no_history_no_line() -> None:
    assert _line(History()) is None


def test_an_unknown_name_is_a_mention_and_the_line_leaves_later_cards() -> None:
    assert _line(History(asks=1, declined=1), requester_name="") == (
        ":repeat: <@U0REQ> has asked you for an intro once in the last year: one you declined."
    )
    assert _line(History(asks=1, declined=1), status="checking_with_target") is None
