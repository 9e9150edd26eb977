"""The plan for a request whose connector is outside the team, without a database: the
requester takes the connector's steps, hears what the connector would (reminders by their own
names), and no message goes to an empty recipient."""

from __future__ import annotations

from typing import Any

import pytest

from bot.intro.states import ACTOR, TRANSITIONS, Action, Role, Status
from bot.intro.workflow import plan
from bot.intro.workflow.errors import NotYourRequest
from storage.models import IntroRequest, MessageKind
from tests.bot.intro.test_plan import CADENCE, NOW, OWNER, REQUEST_ID, REQUESTER

LEGAL = sorted(TRANSITIONS, key=str)


def outside_in(status: Status, **changes: Any) -> IntroRequest:
    return IntroRequest(
        id=REQUEST_ID,
        team_id="T1",
        requester_id=REQUESTER,
        connector_id="",
        connector_outside=True,
        connector_name="Dana Cole",
        account_owner_id=OWNER,
        status=status,
        **changes,
    )


@pytest.mark.parametrize(("status", "action"), LEGAL, ids=lambda v: str(v))
def test_the_requester_takes_the_outside_connectors_steps_and_no_one_else(
    status: Status, action: Action
) -> None:
    request = outside_in(status)
    role = ACTOR[action]
    if role is Role.SYSTEM:
        return
    party = REQUESTER if role in (Role.CONNECTOR, Role.REQUESTER) else OWNER
    assert plan.permitted(request, party, action) == (status, TRANSITIONS[(status, action)])
    with pytest.raises(NotYourRequest):
        plan.permitted(request, "U0ELSE", action)


@pytest.mark.parametrize(("status", "action"), LEGAL, ids=lambda v: str(v))
def test_every_message_an_outside_request_promises_has_a_recipient(
    status: Status, action: Action
) -> None:
    request = outside_in(TRANSITIONS[(status, action)], ask_again_on=NOW.date())
    cards = {MessageKind.REQUESTER_CARD: REQUESTER}
    messages = plan.promised(request, action, 9, cards, now=NOW, cadence=CADENCE)
    assert all(m.recipient_id for m in messages)
    assert all(m.kind != MessageKind.CONNECTOR_CARD for m in messages)
    # The requester reported the connector's answer themselves: no notice tells them of it.
    if ACTOR[action] is Role.CONNECTOR:
        assert [m for m in messages if m.kind == MessageKind.NOTICE] == []


def test_a_new_outside_request_sends_the_requesters_card_and_asks_them_about_the_connector() -> (
    None
):
    request = outside_in(Status.AWAITING_CONNECTOR, created_at=NOW)
    first = plan.first_messages(request, ["tip"], None, now=NOW, cadence=CADENCE)
    assert [(m.kind, m.recipient_id) for m in first] == [
        (MessageKind.REQUESTER_CARD, REQUESTER),
        (MessageKind.REMINDER, REQUESTER),
        (MessageKind.REMINDER, REQUESTER),
    ]
    assert [m.data["reminder"] for m in first[1:]] == [plan.OUTSIDE_ASKED] * 2
    # The last stands for the stall: it carries the next paths.
    assert [bool(m.data.get("last")) for m in first[1:]] == [False, True]


def test_an_outside_request_with_an_account_owner_goes_to_the_owner_first() -> None:
    request = outside_in(Status.AWAITING_OWNER, created_at=NOW)
    first = plan.first_messages(request, [], OWNER, now=NOW, cadence=CADENCE)
    assert [(m.kind, m.recipient_id) for m in first] == [
        (MessageKind.OWNER_CARD, OWNER),
        (MessageKind.REQUESTER_CARD, REQUESTER),
    ]
    approved = outside_in(Status.AWAITING_CONNECTOR)
    cards = {MessageKind.OWNER_CARD: OWNER, MessageKind.REQUESTER_CARD: REQUESTER}
    promised = plan.promised(approved, Action.OWNER_APPROVE, 5, cards, now=NOW, cadence=CADENCE)
    notices = [m for m in promised if m.kind == MessageKind.NOTICE]
    assert [(m.recipient_id, m.data) for m in notices] == [(REQUESTER, {"event": "owner_approve"})]


def test_checking_with_the_target_asks_the_requester_then_goes_quiet() -> None:
    request = outside_in(Status.CHECKING_WITH_TARGET)
    reminders = plan.reminders_for(request, now=NOW, cadence=CADENCE, round_key="3")
    assert [(m.data["reminder"], m.recipient_id) for m in reminders] == [
        (plan.OUTSIDE_CHECKING, REQUESTER),
        (plan.OUTSIDE_CHECKING, REQUESTER),
        ("target_quiet", REQUESTER),
    ]
