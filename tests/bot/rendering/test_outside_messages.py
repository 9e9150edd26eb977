"""The requester's card and reminders for a connector outside the team, in every status: valid
Block Kit, hostile values escaped, the connector by name (never a mention), the ask to send
only while it waits on them, and a button for each answer the requester can report."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.intro.states import REPORT_ACTION, Action, Outcome, Role, Status, allowed_actions
from bot.intro.validation import BLURB_MAX, REASON_MAX
from bot.rendering import messages
from bot.rendering.templating import escape_mrkdwn
from bot.rendering.texts import outside_email
from storage.models import IntroRequest
from tests.bot.rendering.test_templating import (
    HOSTILE,
    HOSTILE_ESCAPED,
    NOW,
    action_ids,
    assert_valid_message,
    make_request,
)

STEPS = {
    Status.AWAITING_CONNECTOR: ["intro_outside_agreed", "intro_outside_declined"],
    Status.CHECKING_WITH_TARGET: ["intro_outside_target_agreed", "intro_outside_target_declined"],
}


def outside_request(status: Status, **changes: Any) -> IntroRequest:
    values: dict[str, Any] = {
        "connector_id": "",
        "connector_outside": True,
        "connector_name": HOSTILE,
        "connector_email": "dana@example.com",
        "intro_made_at": NOW,
        **changes,
    }
    return make_request(status, **values)


@pytest.mark.parametrize("status", list(Status))
def test_outside_card_in_every_status(status: Status) -> None:
    message = messages.requester_card(outside_request(status), ["advice"])
    assert_valid_message(message)
    dumped = json.dumps(message.blocks)
    assert "<@>" not in dumped and HOSTILE not in dumped
    assert HOSTILE_ESCAPED in message.blocks[0]["text"]["text"]
    has_email = any(b.get("block_id") == "outside_email" for b in message.blocks)
    assert has_email is (status == Status.AWAITING_CONNECTOR)
    allowed = allowed_actions(status, Role.REQUESTER)
    expected = list(STEPS.get(status, []))
    if Action.FOLLOW_UP in allowed:
        expected.append("intro_followed_up")
    expected += [f"intro_outcome_{o.value}" for o in Outcome if REPORT_ACTION[o] in allowed]
    if Action.CANCEL in allowed:
        expected.append("intro_cancel")
    assert action_ids(message.blocks) == expected


@pytest.mark.parametrize(
    "kind", ["outside_asked", "outside_checking", "follow_up", "outcome", "target_quiet"]
)
def test_outside_reminders_name_the_connector_and_mention_no_one_empty(kind: str) -> None:
    status = {
        "outside_asked": Status.AWAITING_CONNECTOR,
        "outside_checking": Status.CHECKING_WITH_TARGET,
        "target_quiet": Status.TARGET_QUIET,
    }.get(kind, Status.INTRO_MADE)
    message = messages.reminder(outside_request(status), kind, [], now=NOW)
    assert_valid_message(message)
    assert message.text.strip()
    assert "<@" not in message.text and "connector" not in message.text
    assert (
        action_ids(message.blocks)
        == {
            "outside_asked": STEPS[Status.AWAITING_CONNECTOR],
            "outside_checking": STEPS[Status.CHECKING_WITH_TARGET],
            "follow_up": ["intro_followed_up"],
            "outcome": [f"intro_outcome_{o.value}" for o in Outcome],
            "target_quiet": ["intro_ask_secondary", "intro_go_cold"],
        }[kind]
    )


def test_the_ask_to_forward_names_no_one_until_the_target_agrees() -> None:
    request = outside_request(
        Status.AWAITING_CONNECTOR,
        requester_name="Riya Patel",
        requester_title="Head of Partnerships",
        requester_email="riya@northwind.com",
        connector_name="Dana Cole",
        target_name="Jane Doe",
        target_company="Acme",
        reason="Riya's team cut customs delays by a third for shippers like Acme",
        blurb="Hi Jane, I'm Riya. Would you be open to a 20-minute call?",
    )
    email = outside_email(request)
    before_yes, after_yes = email.split("If Jane says yes")
    forwarded = before_yes.split('"Hi Jane,')[1]
    assert "Riya" not in forwarded and "riya@" not in forwarded and "Partnerships" not in forwarded
    assert "cut customs delays by a third for shippers like Acme." in forwarded
    assert email.startswith("Subject: Would you introduce me to Jane Doe at Acme?\n\nHi Dana,")
    assert "fine to say no, or to point me to someone better placed" in before_yes
    assert after_yes.rstrip().endswith("Riya Patel\nHead of Partnerships\nriya@northwind.com")


def test_the_longest_ask_is_shown_whole_across_sections() -> None:
    request = outside_request(
        Status.AWAITING_CONNECTOR,
        target_name="Jane Doe",
        connector_name="Dana Cole",
        reason="& " * (REASON_MAX // 2),
        blurb="Would you & I talk? " * (BLURB_MAX // 20),
    )
    message = messages.requester_card(request, [])
    assert_valid_message(message)
    parts = [
        b["text"]["text"]
        for b in message.blocks
        if b.get("block_id", "").startswith("outside_email")
    ]
    assert len(parts) > 1 and all(len(part) <= 3000 for part in parts)
    shown = "\n\n".join(part.strip("`") for part in parts)
    assert "…" not in shown
    assert shown == escape_mrkdwn(outside_email(request))
