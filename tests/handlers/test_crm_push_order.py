"""Two stages of one request pushed at once (one replica retrying the intro's push as another
sends the meeting's), while HubSpot's search does not show the contact just made yet: the
CRM gets one record for the request, not one per stage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.delivery.outbox import NotYet
from bot.standin.hubspot import FakeHubSpot
from bot.standin.stack import LocalStack
from storage.models import DeliveryStatus, IntroRequest, MessageKind, OutboundMessage, RequestEvent

TEAM = "T0FAKE"


@pytest.fixture
async def hubspot() -> AsyncIterator[FakeHubSpot]:
    async with FakeHubSpot(token=f"pat-na1-{uuid.uuid4()}") as fake:
        yield fake


@pytest.fixture
async def stack(database_url: str, hubspot: FakeHubSpot) -> AsyncIterator[LocalStack]:
    settings = {"INTROBOT_HUBSPOT_TOKEN": hubspot.token, "INTROBOT_HUBSPOT_API_URL": hubspot.url}
    async with LocalStack(database_url, settings=settings) as local:
        yield local


async def _claimed_pushes(stack: LocalStack) -> list[OutboundMessage]:
    """A request met after its intro, with both stages' pushes claimed (being sent)."""
    assert stack.services is not None
    past = datetime.now(UTC) - timedelta(minutes=5)
    rows = []
    async with stack.services.sessions.begin() as session:
        session.add(
            IntroRequest(
                id=1,
                team_id=TEAM,
                requester_id="U0REQUESTER",
                requester_name="Riya Patel",
                connector_id="U0CONNECTOR",
                connector_name="Carlos Mendes",
                target_name="Jane Doe",
                target_company="Acme",
                reason="r",
                blurb="b",
                status="meeting_held",
                created_at=past,
                updated_at=past,
            )
        )
        await session.flush()
        for n, (action, stage) in enumerate(
            (("target_agreed", "intro_made"), ("report_meeting_held", "meeting_held")), 1
        ):
            session.add(
                RequestEvent(
                    id=n,
                    team_id=TEAM,
                    request_id=1,
                    actor_id="U0CONNECTOR",
                    action=action,
                    from_status="checking_with_target",
                    to_status=stage,
                    at=past,
                )
            )
            row = OutboundMessage(
                team_id=TEAM,
                request_id=1,
                dedupe_key=f"request:1:crm_push:crm:{stage}",
                kind=MessageKind.CRM_PUSH,
                recipient_id="",
                data={"stage": stage, "event_id": n},
                status="sending",
                lease_owner=f"replica-{n}",  # claimed by two replicas
                lease_expires_at=past + timedelta(minutes=10),
                due_at=past,
                attempts=1,
                created_at=past,
            )
            session.add(row)
            rows.append(row)
    return rows


async def _request(stack: LocalStack) -> IntroRequest:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        request = await session.get(IntroRequest, 1)
    assert request is not None
    return request


async def test_two_stages_pushed_at_once_make_one_contact(
    stack: LocalStack, hubspot: FakeHubSpot
) -> None:
    assert stack.services is not None and stack.services.crm_pushes is not None
    channel = stack.services.crm_pushes
    intro, meeting = await _claimed_pushes(stack)
    hubspot.unindexed.add("100001")  # the first contact made: HubSpot's index lags behind
    # Each as its own replica has it: the request as read when the push was claimed.
    first, second = await _request(stack), await _request(stack)
    results = await asyncio.gather(
        channel.send(intro, first), channel.send(meeting, second), return_exceptions=True
    )
    assert results[0] is None
    assert len(hubspot.contacts) == 1
    assert isinstance(results[1], NotYet)  # the later stage waits for the intro's
    async with stack.services.sessions.begin() as session:
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id == intro.id)
            .values(status=DeliveryStatus.SENT, lease_owner=None)
        )
    # Tried again with the request as its replica read it before the intro was pushed.
    await channel.send(meeting, second)
    [contact] = hubspot.contacts.values()
    assert contact.id == "100001"
    assert len(hubspot.notes_of(contact.id)) == 2
    request = await _request(stack)
    assert request.crm_object_id == contact.id
