"""The whole app: a connector reports the target agreed, and the intro reaches the
workspace's CRM through the outbox, after Slack has its answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery.crm import CrmIds
from bot.intro.clock import ManualClock
from bot.intro.crm import CrmRecord, CrmStage
from bot.settings import Settings
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import DeliveryStatus, IntroRequest, MessageKind, OutboundMessage
from tests.handlers.flow import CONNECTOR, REQUESTER, press, request_intro

TOKEN = "pat-na1-00000000-0000-0000-0000-000000000000"


class GatedCrm:
    """A CRM adapter (the CrmAdapter protocol) that holds each push until the test lets it
    through, and keeps what it was given."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.started: list[CrmRecord] = []
        self.pushed: list[tuple[CrmRecord, CrmIds | None]] = []
        self.built_with: list[tuple[str, dict[str, Any]]] = []

    async def check(self) -> list[str]:
        return []

    async def account(self) -> str:
        return "portal 12345"

    async def push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        self.started.append(record)
        await self.gate.wait()
        self.pushed.append((record, known))
        return CrmIds("contact", "901")

    def factory(self, vendor: str, credentials: dict[str, Any], settings: Settings) -> GatedCrm:
        self.built_with.append((vendor, credentials))
        return self


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[LocalStack]:
    settings = {"INTROBOT_HUBSPOT_TOKEN": TOKEN}
    async with LocalStack(database_url, clock=ManualClock(), settings=settings) as local:
        yield local


async def test_the_intro_a_connector_reports_reaches_the_crm_after_the_ack(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.services.crm_pushes is not None
    crm = GatedCrm()
    stack.services.crm_pushes.adapters = crm.factory
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    assert crm.started == []  # neither the ask nor its accept is a stage the CRM hears of
    card = stack.fake.messages_for(CONNECTOR)[0]
    # With a CRM, "They agreed" asks for the target's email (optional) first.
    opened = stack.fake.count("views.open")
    await press(stack, CONNECTOR, card, "intro_target_agreed")
    await stack.until(lambda: stack.fake.count("views.open") > opened, "the email modal")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    assert stack.slack is not None
    # Slack has its answer while the push is still held: nothing waits on the CRM.
    status, _ = await stack.slack.interaction(
        payloads.view_submission(CONNECTOR, modal, {"target_email": "Jane@Acme.example"})
    )
    assert status == 200
    await stack.until(lambda: len(crm.started) == 1, "the push started")
    assert crm.pushed == []
    crm.gate.set()
    await stack.until(lambda: len(crm.pushed) == 1, "the push made")
    await stack.settled()
    await stack.sends_recorded()
    [(record, known)] = crm.pushed
    assert crm.built_with == [("hubspot", {"token": TOKEN})]
    assert known is None
    assert (record.stage, record.first_name, record.last_name, record.company) == (
        CrmStage.INTRO_MADE,
        "Jane",
        "Doe",
        "Acme",
    )
    assert record.email == "jane@acme.example"
    assert (record.requester_name, record.connector_name, record.cold) == (
        "Riya Patel",
        "Carlos Mendes",
        False,
    )
    async with stack.services.sessions() as session:
        rows = list(
            await session.scalars(
                select(OutboundMessage).where(OutboundMessage.kind == MessageKind.CRM_PUSH)
            )
        )
        request = await session.get(IntroRequest, record.request_id)
    assert [(r.status, r.data["stage"]) for r in rows] == [(DeliveryStatus.SENT, "intro_made")]
    assert request is not None and request.crm_object_id == "901"
    # Used by the push, the email is kept only as its keyed hash.
    assert request.target_email is None and request.target_email_hash
    assert len(crm.pushed) == 1  # sent once
