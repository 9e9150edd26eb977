"""The CRM push, end to end: the whole app (signed requests, the stand-in Slack, the outbox and
its sweep) with the CRM set in its settings, pointed at the stand-in HubSpot or Salesforce.
An intro made and each outcome stage land on the target's CRM record once each, through 429s
and 5xxs; a declined or cancelled ask pushes nothing; a cold approach pushes as cold."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.standin import payloads
from bot.standin.hubspot import FakeHubSpot
from bot.standin.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce
from bot.standin.stack import LocalStack
from storage.models import DeliveryStatus, IntroRequest, MessageKind, OutboundMessage
from tests.handlers.flow import (
    CONNECTOR,
    REQUESTER,
    button,
    card_text,
    good_values,
    open_intro_modal,
    press,
    request_intro,
)

TEAM = "T0FAKE"
EMAIL = "jane.doe@acme.example"
STAGES = ("Intro made", "Meeting held", "Closed won")


# --- the flow, through the signed endpoint ---------------------------------------------------


async def accepted(stack: LocalStack) -> dict:
    """An ask the connector accepted: their card, with the target's answers on it."""
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(
        lambda: any(
            b.get("block_id") == "target_answer_actions"
            for b in stack.fake.messages_for(CONNECTOR)[0]["blocks"]
        ),
        "the card with the target's answers",
    )
    await stack.sends_recorded()
    return stack.fake.messages_for(CONNECTOR)[0]


async def intro_made(stack: LocalStack, email: str) -> None:
    """They agreed: the connector presses it, and submits the modal with the target's email."""
    assert stack.slack is not None
    card = await accepted(stack)
    before = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_target_agreed")
    await stack.until(lambda: stack.fake.count("views.open") > before, "the intro-made modal")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    assert modal["callback_id"] == "intro_made_modal"
    values = {"target_email": email} if email else {}
    status, body = await stack.slack.interaction(payloads.view_submission(CONNECTOR, modal, values))
    assert status == 200 and body == "", body
    await stack.until(
        lambda: "Meeting held" in str(stack.fake.messages_for(REQUESTER)[0]["blocks"]),
        "the requester's card with the outcomes",
    )
    await stack.sends_recorded()


async def report(stack: LocalStack, outcome: str) -> None:
    """The requester reports an outcome from their card."""
    card = stack.fake.messages_for(REQUESTER)[0]
    assert any(
        e.get("action_id") == f"intro_outcome_{outcome}"
        for b in card["blocks"]
        for e in b.get("elements", [])
    )
    await press(stack, REQUESTER, card, f"intro_outcome_{outcome}")
    deadline = time.monotonic() + 10
    while (await the_request(stack)).outcome != outcome:
        assert time.monotonic() < deadline, f"the outcome {outcome} never recorded"
        await asyncio.sleep(0.05)
    await stack.settled()
    await stack.sends_recorded()


async def made_met_and_won(stack: LocalStack, email: str = EMAIL) -> None:
    await intro_made(stack, email)
    await report(stack, "meeting_held")
    await report(stack, "closed_won")


async def target_declines(stack: LocalStack) -> None:
    """The connector reports that the target said no to an accepted ask."""
    card = await accepted(stack)
    await press(stack, CONNECTOR, card, "intro_target_declined")
    await stack.until(
        lambda: "declined" in card_text(stack.fake.messages_for(REQUESTER)[-1]).lower(),
        "the requester hears",
    )


async def requester_cancels(stack: LocalStack) -> None:
    """The requester withdraws an accepted ask."""
    await accepted(stack)
    await press(stack, REQUESTER, stack.fake.messages_for(REQUESTER)[0], "intro_cancel")
    await stack.until(
        lambda: "Cancelled" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "card update"
    )


async def go_cold(stack: LocalStack) -> None:
    """No teammate knows the target: the requester goes in cold from the form."""
    assert stack.slack is not None
    await open_intro_modal(stack, text="Jane Doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "the no-warm-path hint")
    call = stack.fake.calls_to("views.update")[0]
    hinted = {**call.args["view"], "id": call.args["view_id"]}
    cold = button(hinted, "intro_go_cold_form")
    typed = {k: v for k, v in good_values().items() if k not in ("connector", "closeness")}
    await stack.slack.interaction(
        payloads.view_action(REQUESTER, hinted, {**cold, "block_id": "no_warm_path"}, typed)
    )
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "the cold DM")
    await stack.sends_recorded()


async def push_rows(stack: LocalStack) -> list[OutboundMessage]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        return list(
            await session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.kind == MessageKind.CRM_PUSH)
                .order_by(OutboundMessage.id)
            )
        )


async def pushed(stack: LocalStack, count: int, timeout: float = 45.0) -> list[OutboundMessage]:
    """Wait until `count` pushes are written and every one of them is sent (the sweep retries
    those the CRM asked to wait or could not take); fails at once on one that failed."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await push_rows(stack)
        done = [r for r in rows if r.status != DeliveryStatus.PENDING and r.status != "sending"]
        assert all(r.status == DeliveryStatus.SENT for r in done), [
            (r.data, r.status, r.last_error) for r in done
        ]
        if len(rows) == count and len(done) == count:
            return rows
        if time.monotonic() > deadline:
            raise TimeoutError([(r.data, r.status, r.attempts, r.last_error) for r in rows])
        await asyncio.sleep(0.1)


async def the_request(stack: LocalStack) -> IntroRequest:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        request = await session.scalar(select(IntroRequest))
    assert request is not None
    return request


async def nothing_pushed(stack: LocalStack) -> None:
    """The app's work after its acks is done, a sweep or two has run, and no push was written."""
    await stack.settled()
    await asyncio.sleep(2.5)  # the sweep ticks every second
    assert await push_rows(stack) == []


# --- HubSpot -----------------------------------------------------------------------------------


@pytest.fixture
async def hubspot() -> AsyncIterator[FakeHubSpot]:
    # A token of its own: the adapter counts each token's calls in one process-wide window.
    async with FakeHubSpot(token=f"pat-na1-{uuid.uuid4()}") as fake:
        yield fake


@pytest.fixture
async def hubspot_stack(database_url: str, hubspot: FakeHubSpot) -> AsyncIterator[LocalStack]:
    settings = {
        "INTROBOT_HUBSPOT_TOKEN": hubspot.token,
        "INTROBOT_HUBSPOT_API_URL": hubspot.url,
    }
    async with LocalStack(database_url, settings=settings, sweep=True) as local:
        yield local


def notes_by_stage(hubspot: FakeHubSpot, contact_id: str) -> Counter[str]:
    said: Counter[str] = Counter()
    for note in hubspot.notes_of(contact_id):
        body = note.properties["hs_note_body"]
        said.update(stage for stage in STAGES if f"intro: {stage}</strong>" in body)
        assert note.properties.get("hs_timestamp")
    return said


def hubspot_contact(hubspot: FakeHubSpot) -> Any:
    [contact] = hubspot.contacts.values()
    return contact


async def test_an_intro_made_met_and_won_is_one_hubspot_contact_with_a_note_per_stage(
    hubspot_stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    stack = hubspot_stack
    await made_met_and_won(stack)
    rows = await pushed(stack, 3)
    assert [r.data["stage"] for r in rows] == ["intro_made", "meeting_held", "closed_won"]
    request = await the_request(stack)
    contact = hubspot_contact(hubspot)
    props = contact.properties
    assert props["introbot_lead_source"] == "Warm Introduction"
    assert props["introbot_referred_by"] == "Carlos Mendes"
    assert props["introbot_request_id"] == f"{TEAM}-{request.id}"
    assert (props["firstname"], props["lastname"], props["company"], props["email"]) == (
        "Jane",
        "Doe",
        "Acme",
        EMAIL,
    )
    assert notes_by_stage(hubspot, contact.id) == Counter(dict.fromkeys(STAGES, 1))
    assert len(hubspot.notes) == 3
    # The contact is kept on the request; the email, once pushed, only as its hash.
    assert (request.crm_object_type, request.crm_object_id) == ("contact", contact.id)
    assert request.target_email is None and request.target_email_hash


async def test_hubspot_asking_to_wait_or_failing_still_gets_one_note_per_stage(
    hubspot_stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    stack = hubspot_stack
    # The intro's push meets a 429 and then a 500 on its first calls; later stages too.
    hubspot.fail_next(1, 429, retry_after=1)
    hubspot.fail_next(1, 500)
    await intro_made(stack, EMAIL)
    await pushed(stack, 1)
    hubspot.fail_next(1, 502)
    hubspot.fail_next(1, 429, retry_after=1)
    await report(stack, "meeting_held")
    await pushed(stack, 2)
    # Past the search and the contact's update: the note itself is refused once.
    calls = len(hubspot.calls)
    await report(stack, "closed_won")
    await pushed(stack, 3)
    closed_won_calls = [c.path for c in hubspot.calls[calls:]]
    assert closed_won_calls[-1] == "/crm/v3/objects/notes"
    contact = hubspot_contact(hubspot)
    assert notes_by_stage(hubspot, contact.id) == Counter(dict.fromkeys(STAGES, 1))
    refused = Counter(c.status for c in hubspot.calls if c.status >= 400)
    assert refused == Counter({429: 2, 500: 1, 502: 1})


async def test_a_note_refused_once_is_added_once_when_tried_again(
    hubspot_stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    """A 500 on the note's own create (the contact already written): the retry finds the
    contact by the request's id and adds the one note."""
    stack = hubspot_stack
    await intro_made(stack, EMAIL)
    await pushed(stack, 1)
    await report(stack, "meeting_held")
    await pushed(stack, 2)
    # closed won's push reads the contact, updates it, reads its notes, then adds the note:
    # that fourth call is refused.
    calls_before = len(hubspot.calls)

    original = hubspot._fault

    def fault_on_note() -> None:
        if len(hubspot.calls) == calls_before + 3 and not refused:
            refused.append(True)
            hubspot.fail_next(1, 503)
        original()

    refused: list[bool] = []
    hubspot._fault = fault_on_note  # type: ignore[method-assign]
    await report(stack, "closed_won")
    await pushed(stack, 3)
    assert refused == [True]
    paths = [(c.method, c.path, c.status) for c in hubspot.calls[calls_before:]]
    assert ("POST", "/crm/v3/objects/notes", 503) in paths
    contact = hubspot_contact(hubspot)
    assert notes_by_stage(hubspot, contact.id) == Counter(dict.fromkeys(STAGES, 1))


async def test_a_declined_ask_pushes_nothing_to_hubspot(
    hubspot_stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    stack = hubspot_stack
    assert stack.slack is not None
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_decline")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "the decline modal")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    status, _ = await stack.slack.interaction(
        payloads.view_submission(CONNECTOR, modal, {"reason": "Not close enough."})
    )
    assert status == 200
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "the decline notice")
    await nothing_pushed(stack)
    assert hubspot.calls == [] and hubspot.contacts == {}


async def test_an_ask_the_target_declined_pushes_nothing_to_hubspot(
    hubspot_stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    stack = hubspot_stack
    await target_declines(stack)
    await nothing_pushed(stack)
    assert hubspot.calls == [] and hubspot.contacts == {}


async def test_a_cancelled_ask_pushes_nothing_to_hubspot(
    hubspot_stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    stack = hubspot_stack
    await requester_cancels(stack)
    await nothing_pushed(stack)
    assert hubspot.calls == [] and hubspot.contacts == {}


async def test_a_cold_approach_pushes_cold_outreach_to_hubspot(
    hubspot_stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    stack = hubspot_stack
    await go_cold(stack)
    [row] = await pushed(stack, 1)
    assert row.data["stage"] == "went_cold"
    contact = hubspot_contact(hubspot)
    assert contact.properties["introbot_lead_source"] == "Cold Outreach"
    assert not contact.properties.get("introbot_referred_by")
    [note] = hubspot.notes_of(contact.id)
    assert "Cold outreach: Reached out directly" in note.properties["hs_note_body"]


# --- Salesforce --------------------------------------------------------------------------------


@pytest.fixture
async def salesforce() -> AsyncIterator[FakeSalesforce]:
    async with FakeSalesforce() as fake:
        yield fake


@pytest.fixture
async def salesforce_stack(
    database_url: str, salesforce: FakeSalesforce, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[LocalStack]:
    # The app trusts the stand-in's certificate as an operator would a company's own
    # authority: requests (under simple-salesforce) reads REQUESTS_CA_BUNDLE.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", salesforce.ca_file)
    settings = {
        "INTROBOT_SALESFORCE_CLIENT_ID": CLIENT_ID,
        "INTROBOT_SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
        # An org of its own per test: the adapter keeps each org's daily allocation.
        "INTROBOT_SALESFORCE_DOMAIN": f"acme{uuid.uuid4().hex[:8]}.my.salesforce.com",
        "INTROBOT_SALESFORCE_LOGIN_URL": salesforce.url,
    }
    async with LocalStack(database_url, settings=settings, sweep=True) as local:
        yield local


def tasks_by_stage(salesforce: FakeSalesforce, who_id: str) -> Counter[str]:
    return Counter(
        str(task["Subject"]).removeprefix("Warm intro: ").removeprefix("Cold outreach: ")
        for task in salesforce.of("Task", WhoId=who_id)
    )


async def test_an_intro_made_met_and_won_is_one_salesforce_lead_with_a_task_per_stage(
    salesforce_stack: LocalStack, salesforce: FakeSalesforce
) -> None:
    stack = salesforce_stack
    await made_met_and_won(stack)
    await pushed(stack, 3)
    request = await the_request(stack)
    [lead] = salesforce.records["Lead"].values()
    assert lead["LeadSource"] == "Warm Introduction"
    assert lead["Referred_By__c"] == "Carlos Mendes"
    assert lead["Introbot_Key__c"] == f"{TEAM}-{request.id}"
    assert (lead["FirstName"], lead["LastName"], lead["Company"], lead["Email"]) == (
        "Jane",
        "Doe",
        "Acme",
        EMAIL,
    )
    assert tasks_by_stage(salesforce, lead["Id"]) == Counter(dict.fromkeys(STAGES, 1))
    assert len(salesforce.records["Task"]) == 3
    assert all(t["Status"] == "Completed" for t in salesforce.records["Task"].values())
    assert (request.crm_object_type, request.crm_object_id) == ("Lead", lead["Id"])


async def test_salesforce_asking_to_wait_or_failing_still_gets_one_task_per_stage(
    salesforce_stack: LocalStack, salesforce: FakeSalesforce
) -> None:
    stack = salesforce_stack
    salesforce.fail_next(1, status=429, retry_after=1)
    salesforce.fail_next(1, status=500)
    await intro_made(stack, EMAIL)
    await pushed(stack, 1)
    salesforce.fail_next(1, status=503)
    salesforce.fail_next(1, status=429, retry_after=1)
    await report(stack, "meeting_held")
    await pushed(stack, 2)
    await report(stack, "closed_won")
    await pushed(stack, 3)
    [lead] = salesforce.records["Lead"].values()
    assert tasks_by_stage(salesforce, lead["Id"]) == Counter(dict.fromkeys(STAGES, 1))
    refused = Counter(c.status for c in salesforce.rest_calls if c.status >= 400)
    assert refused == Counter({429: 2, 500: 1, 503: 1})


async def test_a_salesforce_contact_with_the_targets_email_gets_the_tasks_and_no_lead(
    salesforce_stack: LocalStack, salesforce: FakeSalesforce
) -> None:
    stack = salesforce_stack
    contact = salesforce.add_contact(first_name="Jane", last_name="Doe", email=EMAIL)
    await made_met_and_won(stack)
    await pushed(stack, 3)
    assert salesforce.records["Lead"] == {}
    assert tasks_by_stage(salesforce, contact) == Counter(dict.fromkeys(STAGES, 1))
    request = await the_request(stack)
    assert (request.crm_object_type, request.crm_object_id) == ("Contact", contact)


async def test_a_declined_ask_pushes_nothing_to_salesforce(
    salesforce_stack: LocalStack, salesforce: FakeSalesforce
) -> None:
    stack = salesforce_stack
    await target_declines(stack)
    await nothing_pushed(stack)
    assert salesforce.calls == []


async def test_a_cancelled_ask_pushes_nothing_to_salesforce(
    salesforce_stack: LocalStack, salesforce: FakeSalesforce
) -> None:
    stack = salesforce_stack
    await requester_cancels(stack)
    await nothing_pushed(stack)
    assert salesforce.calls == []


async def test_a_cold_approach_pushes_cold_outreach_to_salesforce(
    salesforce_stack: LocalStack, salesforce: FakeSalesforce
) -> None:
    stack = salesforce_stack
    await go_cold(stack)
    await pushed(stack, 1)
    [lead] = salesforce.records["Lead"].values()
    assert lead["LeadSource"] == "Cold Outreach"
    assert not lead.get("Referred_By__c")
    assert tasks_by_stage(salesforce, lead["Id"]) == Counter({"Reached out directly": 1})
