"""The Workflow Builder steps through the signed endpoint: Slack sends `function_executed`
with the execution's own token; the step makes a request as the form would (the same checks,
the same rows) or moves an intro's outcome, and ends with completeSuccess or completeError."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.intro.contacts import ContactInput
from bot.intro.people import Teammate
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.stack import LocalStack
from bot.standin.web_api import FunctionExecution
from storage.models import IntroRequest, MessageKind, OutboundMessage, RequestEvent
from tests.handlers.flow import (
    CONNECTOR,
    GOOD_BLURB,
    OTHER,
    REQUESTER,
    SECOND,
    button,
    card_text,
    good_values,
    open_intro_modal,
    press,
    request_intro,
    submit,
)

TEAM = "T0FAKE"
ORG = "E0ORG"
REQUEST_STEP = "request_warm_intro"
OUTCOME_STEP = "record_intro_outcome"
JOHN_NOTE = GOOD_BLURB.replace("Hi Jane", "Hi John")


def step_inputs(**overrides: Any) -> dict[str, Any]:
    """What a workflow gives "Request a warm intro": the form's good values."""
    values = good_values()
    inputs: dict[str, Any] = {
        "requester": REQUESTER,
        "connector": CONNECTOR,
        "target_name": values["target_name"],
        "target_company": values["target_company"],
        "reason": values["reason"],
        "note": values["blurb"],
    }
    inputs.update(overrides)
    return {name: value for name, value in inputs.items() if value is not None}


async def run_step(
    stack: LocalStack,
    callback_id: str,
    inputs: dict[str, Any],
    *,
    org_wide: bool = False,
    envelope_team: str = TEAM,
) -> FunctionExecution:
    """A workflow reaches the step: Slack mints an execution and its token and sends the
    signed event; returns the execution once the step has completed it, one way or the
    other. Org-wide, the token is the org's, and the authorization names no workspace."""
    assert stack.slack is not None
    fake = stack.fake
    execution = fake.execute_function(
        callback_id,
        team_id=None if org_wide else TEAM,
        enterprise_id=ORG if org_wide else None,
    )
    payload = payloads.function_executed(
        callback_id,
        fake.functions[callback_id],
        inputs,
        function_execution_id=execution.id,
        bot_access_token=execution.token,
        workflow_execution_id=execution.workflow_execution_id,
        team_id=envelope_team,
        enterprise_id=ORG if org_wide else None,
    )
    status, _ = await stack.slack.event(payload)
    assert status == 200
    await stack.until(lambda: execution.state != "running", f"{callback_id} completed")
    await stack.sends_recorded()
    return execution


async def requests(stack: LocalStack) -> list[IntroRequest]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        return list((await session.scalars(select(IntroRequest).order_by(IntroRequest.id))).all())


def completed_with_execution_token(stack: LocalStack, execution: FunctionExecution) -> None:
    completed = execution.state == "completed"
    method = "functions.completeSuccess" if completed else "functions.completeError"
    (call,) = [c for c in stack.fake.calls_to(method) if c.ok]
    assert call.token == execution.token


# Columns that differ between any two requests, or name the person asked for.
_OWN_COLUMNS = {"id", "target_name", "target_surname_key", "blurb", "submission_key"}
_OWN_COLUMNS |= {"created_at", "updated_at"}


def _columns(request: IntroRequest) -> dict[str, Any]:
    return {
        column.key: getattr(request, column.key)
        for column in IntroRequest.__table__.columns
        if column.key not in _OWN_COLUMNS
    }


async def _rows_of(stack: LocalStack, request_id: int) -> tuple[list[Any], list[Any]]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        events = await session.execute(
            select(RequestEvent.actor_id, RequestEvent.action, RequestEvent.to_status).where(
                RequestEvent.request_id == request_id
            )
        )
        sent = await session.execute(
            select(OutboundMessage.kind, OutboundMessage.recipient_id, OutboundMessage.status)
            .where(OutboundMessage.request_id == request_id)
            .order_by(OutboundMessage.kind, OutboundMessage.recipient_id)
        )
        return [tuple(r) for r in events], [tuple(r) for r in sent]


# --- Request a warm intro ------------------------------------------------------------------


async def test_the_step_makes_the_request_the_form_makes_and_completes_with_its_id_and_card(
    stack: LocalStack,
) -> None:
    # Through the form, for Jane, with what the step asks for (no guess of how well the
    # connector knows her: the step has no such input).
    values = good_values()
    del values["closeness"]
    status, body = await submit(stack, await open_intro_modal(stack), values)
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "the form's card")
    await stack.sends_recorded()
    execution = await run_step(
        stack, REQUEST_STEP, step_inputs(target_name="John Roe", note=JOHN_NOTE)
    )
    assert execution.state == "completed", execution.error
    by_form, by_step = await requests(stack)
    assert by_step.target_name == "John Roe" and by_step.blurb == JOHN_NOTE
    assert _columns(by_step) == _columns(by_form)
    assert await _rows_of(stack, by_step.id) == await _rows_of(stack, by_form.id)
    # The connector has the ask; the requester has their card, which the step links to.
    assert "John Roe" in card_text(stack.fake.messages_for(CONNECTOR)[-1])
    card = next(m for m in stack.fake.messages_for(REQUESTER) if "John Roe" in card_text(m))
    assert execution.outputs == {
        "request_id": by_step.id,
        "request_link": (
            f"https://fake.slack.com/archives/{card['channel']}/p{card['ts'].replace('.', '')}"
        ),
        "connector": CONNECTOR,
    }
    completed_with_execution_token(stack, execution)


async def test_a_step_run_twice_by_slack_makes_one_request(stack: LocalStack) -> None:
    assert stack.slack is not None
    execution = stack.fake.execute_function(REQUEST_STEP, team_id=TEAM)
    payload = payloads.function_executed(
        REQUEST_STEP,
        stack.fake.functions[REQUEST_STEP],
        step_inputs(),
        function_execution_id=execution.id,
        bot_access_token=execution.token,
        workflow_execution_id=execution.workflow_execution_id,
    )
    for _ in range(2):  # Slack's retry of the same event
        status, _ = await stack.slack.event(payload)
        assert status == 200
    await stack.until(lambda: execution.state != "running", "the step completed")
    assert stack.services is not None
    await stack.services.work.drain()
    assert len(await requests(stack)) == 1
    assert len(stack.fake.messages_for(CONNECTOR)) == 1


async def test_a_note_the_form_would_refuse_fails_the_step_in_the_forms_words(
    stack: LocalStack,
) -> None:
    note = GOOD_BLURB.replace("Northwind", "[company]")
    execution = await run_step(stack, REQUEST_STEP, step_inputs(note=note))
    assert execution.state == "failed"
    assert execution.error == (
        "The intro request for Jane Doe wasn't sent: Fill in the placeholder [company] before "
        "sending."
    )
    assert await requests(stack) == []
    assert stack.fake.messages_for(CONNECTOR) == stack.fake.messages_for(REQUESTER) == []
    completed_with_execution_token(stack, execution)


async def test_words_the_form_would_coach_fail_the_step_unless_sent_as_written(
    stack: LocalStack,
) -> None:
    weak = {"reason": "you two should meet"}
    execution = await run_step(stack, REQUEST_STEP, step_inputs(**weak))
    assert execution.state == "failed"
    assert execution.error is not None
    assert "its words could do better first. Say what Jane gets from talking to you" in (
        execution.error
    )
    assert "turn on “Send the note as written”" in execution.error
    assert await requests(stack) == []
    sent = await run_step(stack, REQUEST_STEP, step_inputs(send_anyway=True, **weak))
    assert sent.state == "completed", sent.error
    (request,) = await requests(stack)
    assert request.reason == "you two should meet"


async def _asks_to(stack: LocalStack, connector: str, count: int) -> None:
    """`count` open asks for `connector`, from a teammate, for other people."""
    assert stack.services is not None
    for n in range(count):
        draft = RequestDraft(
            requester=Teammate(OTHER, "Olivia Chen"),
            connector=Teammate(connector, "Someone"),
            target_name=f"Person {chr(65 + n)} Example",
            target_company="Globex",
            reason="We cut freight costs by a third for teams like theirs.",
            blurb="b",
        )
        await stack.services.workflow.submit(TEAM, draft, [])


async def test_a_connector_over_strict_pacing_fails_the_step_naming_the_limit(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    await _asks_to(stack, CONNECTOR, 3)
    await stack.services.directory.set_enforce_pacing(TEAM, True)
    execution = await run_step(stack, REQUEST_STEP, step_inputs())
    assert execution.state == "failed"
    assert execution.error == (
        "The intro request for Jane Doe wasn't sent: Carlos Mendes already has 3 open asks, "
        "their limit."
    )
    assert len(await requests(stack)) == 3
    assert stack.fake.messages_for(CONNECTOR) == []


async def test_a_connector_over_pacing_is_only_warned_about_unless_pacing_is_strict(
    stack: LocalStack,
) -> None:
    await _asks_to(stack, CONNECTOR, 3)
    execution = await run_step(stack, REQUEST_STEP, step_inputs())
    assert execution.state == "completed", execution.error
    tips = card_text(stack.fake.messages_for(REQUESTER)[0])
    assert "Carlos Mendes already has 3 open asks, their limit." in tips


async def test_a_person_who_declined_lately_fails_the_step_until_their_no_ends(
    stack: LocalStack,
) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[-1]["updates"] >= 1, "card")
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[-1], "intro_target_declined")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 2, "the no")
    # Someone else's workflow asks another teammate for Jane: not while her no holds.
    execution = await run_step(stack, REQUEST_STEP, step_inputs(requester=OTHER, connector=SECOND))
    assert execution.state == "failed"
    assert execution.error is not None
    assert execution.error.startswith(
        "The intro request for Jane Doe wasn't sent: Jane Doe declined an intro on "
    )
    assert "so an ask for them can't go before then." in execution.error
    assert stack.fake.messages_for(SECOND) == []
    # Nor by leaving the connector to the directory.
    assert stack.services is not None
    await stack.services.directory.add_contact(TEAM, SECOND, ContactInput("Jane Doe", "Acme"))
    again = await run_step(stack, REQUEST_STEP, step_inputs(requester=OTHER, connector=None))
    assert again.state == "failed" and "Jane Doe declined an intro on" in (again.error or "")
    assert len(await requests(stack)) == 1


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        (
            {"requester": "U0NOBODY"},
            "I can't find the requester among this workspace's active members, so the intro "
            "request wasn't sent.",
        ),
        (
            {"connector": "U0NOBODY"},
            "I can't find the connector in this workspace, so the intro request wasn't sent.",
        ),
        (
            {"connector": "U0DEACTIVATED"},
            "The intro request for Jane Doe wasn't sent: That teammate's account is "
            "deactivated; pick someone else.",
        ),
        (
            {"requester": "U0DEACTIVATED"},
            "I can't find the requester among this workspace's active members, so the intro "
            "request wasn't sent.",
        ),
    ],
)
async def test_a_person_slack_does_not_know_fails_the_step(
    stack: LocalStack, inputs: dict[str, str], error: str
) -> None:
    execution = await run_step(stack, REQUEST_STEP, step_inputs(**inputs))
    assert (execution.state, execution.error) == ("failed", error)
    assert await requests(stack) == []


async def test_without_a_connector_the_step_asks_who_knows_them_best_and_has_room(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    # Olivia knows Jane best, but has as many asks open as she takes; Sam knows her too.
    await directory.add_contact(TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close"))
    await directory.add_contact(TEAM, SECOND, ContactInput("Jane Doe", "Acme"))
    suggested = await directory.suggest_connectors(TEAM, "Jane Doe", "Acme", exclude=(REQUESTER,))
    assert [s.user_id for s in suggested] == [OTHER, SECOND]
    await _asks_to(stack, OTHER, 3)
    execution = await run_step(stack, REQUEST_STEP, step_inputs(connector=None))
    assert execution.state == "completed", execution.error
    assert execution.outputs is not None and execution.outputs["connector"] == SECOND
    *_, request = await requests(stack)
    assert (request.requester_id, request.connector_id) == (REQUESTER, SECOND)
    assert "Jane Doe" in card_text(stack.fake.messages_for(SECOND)[0])


async def test_without_a_connector_and_nobody_known_the_step_fails_saying_so(
    stack: LocalStack,
) -> None:
    execution = await run_step(stack, REQUEST_STEP, step_inputs(connector=None))
    assert execution.state == "failed"
    assert execution.error == (
        "No teammate is known to know Jane Doe yet, so the intro request wasn't sent. Name a "
        "connector in the step, or the requester can go in cold with `/intro`."
    )


# --- Record an intro outcome ---------------------------------------------------------------


async def _intro_made(stack: LocalStack) -> int:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_target_agreed")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "intro notice")
    assert stack.services is not None
    await stack.services.work.drain()
    (request,) = await requests(stack)
    return request.id


async def test_the_requester_records_an_outcome_stage_from_a_workflow(stack: LocalStack) -> None:
    request_id = await _intro_made(stack)
    heard = len(stack.fake.messages_for(CONNECTOR))
    execution = await run_step(
        stack,
        OUTCOME_STEP,
        {"request_id": request_id, "requester": REQUESTER, "stage": "meeting_held"},
    )
    assert execution.state == "completed", execution.error
    assert execution.outputs == {"request_id": request_id, "stage": "meeting_held"}
    (request,) = await requests(stack)
    assert (request.status, request.outcome) == ("meeting_held", "meeting_held")
    assert request.meeting_at is not None
    # As after the button: the connector hears it, and the requester may thank them.
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) > heard, "the notice")
    offer = stack.fake.messages_for(REQUESTER)[-1]
    assert "A line of thanks in your own words" in card_text(offer)
    assert button(offer, "intro_thank_connector")["text"]["text"] == "Thank Carlos"
    completed_with_execution_token(stack, execution)


@pytest.mark.parametrize(
    ("inputs", "error"),
    [
        (
            {"requester": CONNECTOR, "stage": "meeting_held"},
            "Only the person who asked for this intro can record what came of it, so nothing "
            "changed.",
        ),
        (
            {"requester": REQUESTER, "stage": "won"},
            "“won” isn't an outcome stage, so nothing changed. Pick one of: Meeting held, "
            "Opportunity, Closed-won, Closed-lost, No response, Not a fit.",
        ),
        (
            {"requester": REQUESTER, "stage": "meeting_held", "request_id": 999},
            "There's no intro request 999 in this workspace, so nothing changed.",
        ),
    ],
)
async def test_an_outcome_step_anyone_but_the_requester_runs_or_that_names_no_stage_fails(
    stack: LocalStack, inputs: dict[str, Any], error: str
) -> None:
    request_id = await _intro_made(stack)
    execution = await run_step(stack, OUTCOME_STEP, {"request_id": request_id, **inputs})
    assert (execution.state, execution.error) == ("failed", error)
    (request,) = await requests(stack)
    assert request.status == "intro_made"


async def test_an_outcome_stage_only_moves_forward_from_a_workflow_too(stack: LocalStack) -> None:
    request_id = await _intro_made(stack)
    won = {"request_id": request_id, "requester": REQUESTER, "stage": "closed_won"}
    assert (await run_step(stack, OUTCOME_STEP, won)).state == "completed"
    back = await run_step(stack, OUTCOME_STEP, {**won, "stage": "meeting_held"})
    assert back.state == "failed"
    assert back.error is not None
    assert back.error.startswith("“Meeting held” can't be recorded for this intro now")
    (request,) = await requests(stack)
    assert (request.status, request.outcome) == ("closed", "closed_won")


async def test_an_outcome_step_before_the_intro_is_made_changes_nothing(stack: LocalStack) -> None:
    await request_intro(stack)
    (request,) = await requests(stack)
    execution = await run_step(
        stack,
        OUTCOME_STEP,
        {"request_id": request.id, "requester": REQUESTER, "stage": "meeting_held"},
    )
    assert execution.state == "failed"
    (still,) = await requests(stack)
    assert still.status == "awaiting_connector"


# --- An Enterprise Grid org-wide install ---------------------------------------------------


@pytest.mark.parametrize("envelope_team", [TEAM, ORG], ids=["names-workspace", "names-org"])
async def test_steps_run_org_wide_are_filed_under_the_requesters_workspace(
    stack: LocalStack, envelope_team: str
) -> None:
    stack.fake.teams[TEAM]["enterprise_id"] = ORG  # the workspace is one of the org's
    execution = await run_step(
        stack, REQUEST_STEP, step_inputs(), org_wide=True, envelope_team=envelope_team
    )
    assert execution.state == "completed", execution.error
    (request,) = await requests(stack)
    assert (request.team_id, request.requester_id) == (TEAM, REQUESTER)
    assert execution.outputs is not None and execution.outputs["request_id"] == request.id
    assert "Jane Doe" in card_text(stack.fake.messages_for(CONNECTOR)[0])
    # The outcome step finds the request in the same workspace.
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_accept")
    await stack.until(lambda: stack.fake.messages_for(CONNECTOR)[0]["updates"] >= 1, "card")
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_target_agreed")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 3, "intro notice")
    recorded = await run_step(
        stack,
        OUTCOME_STEP,
        {"request_id": request.id, "requester": REQUESTER, "stage": "opportunity"},
        org_wide=True,
        envelope_team=envelope_team,
    )
    assert recorded.state == "completed", recorded.error
    (request,) = await requests(stack)
    assert request.status == "opportunity"


async def test_the_card_link_is_the_home_tab_until_the_card_is_delivered(
    stack: LocalStack,
) -> None:
    stack.fake.fail_next("chat.postMessage", status=503, times=2)
    execution = await run_step(stack, REQUEST_STEP, step_inputs())
    assert execution.state == "completed", execution.error
    assert execution.outputs is not None
    assert execution.outputs["request_link"] == f"slack://app?team={TEAM}&id=A0INTROBOT&tab=home"
    assert stack.services is not None
    async with stack.services.sessions() as session:
        cards = (
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.kind == MessageKind.REQUESTER_CARD)
            )
        ).all()
    assert [card.status for card in cards] == ["pending"]
