"""Button values: what a template encodes, a listener decodes as it was; anything else
decodes as nothing (or, for a Home position, as the first page)."""

from __future__ import annotations

import pytest

from bot.intro.states import Outcome, Status
from bot.rendering import messages
from bot.rendering.values import HomePosition, RequestChoice, RequestRef, TieCheck, row_id
from tests.bot.rendering.test_templating import make_request


@pytest.mark.parametrize(
    "value",
    [RequestRef(12), RequestChoice(12, "meeting_held"), RequestChoice(3, ""), TieCheck(7, 12)],
)
def test_a_value_decodes_as_it_was_encoded(value: RequestRef | RequestChoice | TieCheck) -> None:
    assert type(value).decode(value.encode()) == value


def test_a_home_position_keeps_a_search_with_colons_and_symbols() -> None:
    position = HomePosition(2, 'acme: "ops" & <sales>')
    assert HomePosition.decode(position.encode()) == position


@pytest.mark.parametrize("raw", ["", "abc", "²", "-1", ":12", None])
def test_a_value_of_another_shape_decodes_as_nothing(raw: object) -> None:
    assert RequestRef.decode(raw) is None
    assert RequestChoice.decode(raw) is None
    assert TieCheck.decode(raw) is None
    assert row_id(raw) is None
    assert HomePosition.decode(raw).page == 0


def test_a_request_ref_reads_the_id_before_any_detail() -> None:
    assert RequestRef.decode("12:closed_won") == RequestRef(12)


def test_a_rendered_menu_carries_values_the_listener_decodes() -> None:
    request = make_request(Status.INTRO_MADE, id=12)
    listed = messages.outcome_list([request])
    options = [
        option
        for block in listed.blocks
        for option in (block.get("accessory") or {}).get("options", [])
    ]
    assert options
    for option in options:
        choice = RequestChoice.decode(option["value"])
        assert choice is not None and choice.request_id == 12
        assert choice.detail in set(Outcome)
