"""The outcome stages' and the secondary intro's messages: escaped, valid, and each saying what
happened to the person who reads it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.intro.states import Outcome, Status, next_outcomes
from bot.rendering import messages
from bot.rendering.templating import escape_mrkdwn
from tests.bot.rendering.test_templating import (
    CONNECTOR,
    HOSTILE,
    HOSTILE_ESCAPED,
    NOW,
    REQUESTER,
    action_ids,
    assert_valid_message,
    assert_valid_view,
    make_request,
    mrkdwn_texts,
)

THANKS = {
    "meeting_held": "* after your intro",
    "opportunity": "is now an opportunity",
    "closed_won": ":trophy: Closed-won:",
    "closed_lost": "didn't close",
    "not_a_fit": "not a fit this time",
}

NAME_USED = {
    "meeting_held": "after reaching out with your name",
    "opportunity": "Reaching out with your name to",
    "closed_won": "it started with your name",
    "closed_lost": "your name got them a real shot",
    "not_a_fit": "reaching out with your name to",
}
INTRO_AT = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(("outcome", "fragment"), list(THANKS.items()))
def test_each_stage_tells_the_connector_what_happened(outcome: str, fragment: str) -> None:
    # Rendered from the stage it was sent for, whatever the request is at by delivery.
    message = messages.notice(
        make_request(Status.CLOSED, outcome="closed_won", intro_made_at=INTRO_AT),
        "outcome",
        {"outcome": outcome},
    )
    assert_valid_message(message)
    assert fragment in message.text and HOSTILE_ESCAPED in message.text
    assert f"<@{REQUESTER}>" in message.text
    others = [f for stage, f in THANKS.items() if stage != outcome]
    assert not [f for f in others if f in message.text]
    assert "Closed-won" not in message.text or outcome == "closed_won"
    # What happened, in introbot's words: the thanks are the requester's to give.
    assert "thank" not in message.text.lower()


@pytest.mark.parametrize(("outcome", "fragment"), list(NAME_USED.items()))
def test_after_mention_my_name_each_stage_says_their_name_not_an_intro(
    outcome: str, fragment: str
) -> None:
    used = make_request(Status.CLOSED, outcome=outcome)  # no intro was made
    message = messages.notice(used, "outcome", {"outcome": outcome})
    assert_valid_message(message)
    assert fragment in message.text and "intro" not in message.text


def test_the_secondary_offer_names_the_second_voices_and_the_nudge() -> None:
    request = make_request(
        Status.NO_RESPONSE, connector_name="Carlos Mendes", intro_made_at=INTRO_AT
    )
    offer = messages.notice(
        request,
        "secondary_offer",
        {"event": "secondary_offer"},
        secondary=["U0OLI", "U0SAM"],
        names={"U0OLI": "Olivia Chen", "U0SAM": HOSTILE},
    )
    assert_valid_message(offer)
    assert "agreed to the intro, then went quiet" in offer.text
    assert f"*a nudge* from <@{CONNECTOR}>" in offer.text
    assert "*a second voice*: a teammate who also knows" in offer.text
    assert action_ids(offer.blocks) == [
        "intro_secondary_ask_1",
        "intro_secondary_ask_2",
        "intro_secondary_bump",
        "intro_secondary_leave",
    ]
    labels = [e["text"]["text"] for b in offer.blocks for e in b.get("elements", [])]
    assert labels[0] == "Ask Olivia Chen to add a voice"
    assert labels[2].startswith("Ask Carlos to nudge ")
    alone = messages.notice(request, "secondary_offer", {"event": "secondary_offer"})
    assert f"<@{CONNECTOR}> can send *a nudge*, the same voice once more" in alone.text
    assert "No one else on the team is known to know" in alone.text
    assert action_ids(alone.blocks) == ["intro_secondary_bump", "intro_secondary_leave"]


def test_the_bump_is_in_the_connectors_voice_and_names_the_requester() -> None:
    request = make_request(
        Status.NO_RESPONSE,
        target_name="Jane Doe",
        requester_name="Riya Patel",
        connector_name="Carlos Mendes",
    )
    message = messages.notice(request, "bump", {"event": "bump"})
    assert_valid_message(message)
    text = messages.bump_message(request)
    assert text.startswith("Hi Jane,") and "Riya Patel" in text and text.rstrip().endswith("Carlos")
    assert f"```{escape_mrkdwn(text.strip())}```" in [
        t.strip() for t in mrkdwn_texts(message.blocks)
    ]
    # Why it is worth answering: what is in it for them, and how small the ask is.
    assert f"a 15-minute call would be worth your while: {request.reason}" in text
    # A requester who asked to be forgotten is not named.
    assert "my colleague" in messages.bump_message(make_request(requester_name=""))


def test_the_question_asked_again_names_the_stage_its_day_and_only_what_may_follow() -> None:
    met = make_request(Status.MEETING_HELD, meeting_at=NOW, outcome="meeting_held")
    again = messages.reminder(met, "outcome_again", now=NOW + timedelta(days=30))
    assert_valid_message(again)
    assert "since your meeting with" in again.text and "on May 1" in again.text
    assert action_ids(again.blocks) == [
        f"intro_outcome_{o}" for o in next_outcomes(Status.MEETING_HELD)
    ]
    deal = make_request(Status.OPPORTUNITY, opportunity_at=NOW + timedelta(days=2))
    again = messages.reminder(deal, "outcome_again", now=NOW + timedelta(days=40))
    assert "Where does the opportunity with" in again.text and "on May 3" in again.text
    assert action_ids(again.blocks) == ["intro_outcome_closed_won", "intro_outcome_closed_lost"]


def test_the_outcome_list_and_the_home_menu_offer_only_what_may_follow() -> None:
    requests = [
        make_request(Status.INTRO_MADE, id=1),
        make_request(Status.OPPORTUNITY, id=2),
        make_request(Status.CLOSED, id=3, outcome=Outcome.CLOSED_WON),
        make_request(Status.AWAITING_CONNECTOR, id=4),
    ]
    listed = messages.outcome_list(requests)
    assert_valid_message(listed)
    menus = [b["accessory"] for b in listed.blocks if "accessory" in b]
    assert [[o["value"] for o in m["options"]] for m in menus] == [
        [f"1:{o}" for o in Outcome],
        ["2:closed_won", "2:closed_lost"],
    ]
    empty = messages.outcome_list(requests[2:], HOSTILE)
    assert HOSTILE_ESCAPED in empty.text and len(empty.blocks) == 1
    home = messages.home_view(requests, [], first_time=False)
    assert_valid_view(home)
    home_menus = [b["accessory"] for b in home["blocks"] if "options" in b.get("accessory", {})]
    assert [m["action_id"] for m in home_menus] == ["intro_outcome_select"] * 2


def test_the_connector_card_shows_each_reported_stage() -> None:
    card = messages.connector_card(make_request(Status.OPPORTUNITY, outcome="opportunity"))
    assert_valid_message(card)
    assert any(
        t.endswith("*Opportunity*") and f"<@{REQUESTER}>" in t for t in mrkdwn_texts(card.blocks)
    )
    assert action_ids(card.blocks) == []  # nothing left for the connector to do
