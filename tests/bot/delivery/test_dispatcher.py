"""Delivery: rows claimed with a lease, sent once, retried on faults, never lost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.outbox import LEASE, LEASE_MARGIN, RETRY_CAP, WORTH_SENDING_FOR
from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from bot.standin.web_api import FakeSlack
from storage.db import create_engine_for, make_sessionmaker
from storage.models import DeliveryStatus, MessageKind, OutboundMessage

TEAM = "T0FAKE"


@dataclass
class Rig:
    fake: FakeSlack
    clock: ManualClock
    workflow: IntroWorkflow
    client: AsyncWebClient
    sessions: object

    def dispatcher(self, owner: str = "a") -> Dispatcher:
        return Dispatcher(
            self.sessions,  # type: ignore[arg-type]
            self.client,
            self.clock,
            self.workflow,
            owner=owner,
        )

    async def rows(self, *, reminders: bool = False) -> list[OutboundMessage]:
        """The outbound rows in order; reminders (due days later) only when asked for."""
        query = select(OutboundMessage).order_by(OutboundMessage.id)
        if not reminders:
            query = query.where(OutboundMessage.kind != MessageKind.REMINDER)
        async with self.sessions() as session:  # type: ignore[operator]
            return list((await session.scalars(query)).all())


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    fake = FakeSlack()
    for user_id, name in (("U1", "Riya Patel"), ("U2", "Carlos Mendes")):
        fake.add_user(user_id, name=name.split()[0].lower(), real_name=name)
    base_url = await fake.start()
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    # No retry handlers: each fault reaches the dispatcher, which must reschedule it itself.
    client = AsyncWebClient(token=fake.token, base_url=base_url, retry_handlers=[])
    yield Rig(fake, clock, IntroWorkflow(sessions, clock), client, sessions)
    await engine.dispose()
    await fake.stop()


def _draft(connector: str = "U2") -> RequestDraft:
    return RequestDraft(
        requester=Teammate("U1", "Riya Patel"),
        connector=Teammate(connector, ""),
        target_name="Jane Doe",
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Jane, I'm Riya. Would you be open to a call?",
    )


async def test_new_messages_are_delivered_at_once_and_recorded(rig: Rig) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    await rig.dispatcher().deliver(outcome.message_ids)
    rows = await rig.rows()
    assert [r.status for r in rows] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert all(r.slack_ts and r.slack_channel_id for r in rows)
    assert rig.fake.count("chat.postMessage") == 2
    await rig.dispatcher("b").deliver(outcome.message_ids)  # already sent: nothing more
    assert await rig.dispatcher("b").sweep() == 0
    assert rig.fake.count("chat.postMessage") == 2


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 503},
        {"reset_connection": True},
        {"status": 429, "retry_after": 30},
        # A proxy's error page instead of Slack's JSON, in each shape slack_sdk reports it.
        {"status": 502, "raw_body": ("text/plain", "Bad Gateway")},
        {"status": 502, "raw_body": ("text/html", "<html><h1>502 Bad Gateway</h1></html>")},
        {"status": 503, "raw_body": ("application/json", "<html>upstream down</html>")},
    ],
    ids=["503", "reset", "429", "502-text", "502-html", "503-not-json"],
)
async def test_transient_faults_are_retried_by_the_sweep(rig: Rig, fault: dict) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    rig.fake.fail_next("chat.postMessage", **fault)
    await rig.dispatcher().deliver(outcome.message_ids[:1])
    (row, _) = await rig.rows()
    assert row.status == DeliveryStatus.PENDING and row.last_error
    if fault.get("status") == 429:
        assert row.due_at >= rig.clock.now() + timedelta(seconds=30)
        rig.clock.advance(timedelta(seconds=29))
        await rig.dispatcher().sweep()
        assert (await rig.rows())[0].status == DeliveryStatus.PENDING  # not before Retry-After
    rig.clock.advance(timedelta(minutes=10))
    await rig.dispatcher().sweep()
    rows = await rig.rows()
    assert [r.status for r in rows] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    delivered = [c for c in rig.fake.calls_to("chat.postMessage") if c.ok]
    assert len(delivered) == 2


async def test_permanent_errors_mark_the_message_failed(rig: Rig) -> None:
    rig.fake.add_user("U9", name="gone", deleted=True)
    outcome = await rig.workflow.submit(TEAM, _draft(connector="U9"), [])
    await rig.dispatcher().deliver(outcome.message_ids)
    card, confirmation, told = await rig.rows()
    assert card.status == DeliveryStatus.FAILED and card.last_error == "user_disabled"
    assert confirmation.status == DeliveryStatus.SENT
    # The requester is told the ask could not reach the connector.
    assert (told.recipient_id, told.status) == ("U1", DeliveryStatus.SENT)
    assert any("couldn't reach" in m["text"] for m in rig.fake.messages_for("U1"))
    rig.clock.advance(timedelta(days=1))
    assert await rig.dispatcher().sweep() == 0
    # The nudges to the same connector fail too; the requester is told only once.
    rig.clock.advance(timedelta(days=2))
    await rig.dispatcher().sweep()
    notices = [m for m in rig.fake.messages_for("U1") if "couldn't reach" in m["text"]]
    assert len(notices) == 1


async def test_a_sender_that_died_mid_send_is_taken_over_after_its_lease(rig: Rig) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    crashed = rig.dispatcher("crashed")
    claimed = await crashed._claim(ids=outcome.message_ids)  # claimed, then the process died
    assert len(claimed) == 2
    survivor = rig.dispatcher("survivor")
    assert await survivor.sweep() == 0  # still leased
    rig.clock.advance(timedelta(minutes=3))
    assert await survivor.sweep() == 2
    assert rig.fake.count("chat.postMessage") == 2


async def test_a_claim_takes_the_earliest_due_first_whether_pending_or_lapsed(rig: Rig) -> None:
    first = await rig.workflow.submit(TEAM, _draft(), [])
    await rig.dispatcher("crashed")._claim(ids=first.message_ids)  # its lease will lapse
    rig.clock.advance(timedelta(seconds=1))
    later = [(await rig.workflow.submit(TEAM, _draft(), [])).message_ids for _ in range(2)]
    rig.clock.advance(timedelta(minutes=3))
    survivor = rig.dispatcher("survivor")
    batch = await survivor._claim(limit=3)
    # Two lapsed rows (due first), then the earliest pending one; no more than the limit.
    assert [m.id for m in batch] == first.message_ids + later[0][:1]
    assert [m.attempts for m in batch] == [2, 2, 1]
    assert [m.id for m in await survivor._claim(limit=10)] == later[0][1:] + later[1]
    assert await survivor._claim(limit=10) == []


async def test_card_refresh_waits_for_the_card_it_updates(rig: Rig) -> None:
    submitted = await rig.workflow.submit(TEAM, _draft(), [])
    accepted = await rig.workflow.act(TEAM, submitted.request.id, "U2", Action.ACCEPT)
    await rig.dispatcher().deliver(accepted.message_ids)  # the cards are not sent yet
    assert rig.fake.count("chat.update") == 0
    await rig.dispatcher().deliver(submitted.message_ids)
    rig.clock.advance(timedelta(seconds=10))
    await rig.dispatcher().sweep()
    assert rig.fake.count("chat.update") == 2
    assert all(r.status == DeliveryStatus.SENT for r in await rig.rows())


async def test_slack_down_for_hours_loses_nothing_and_waits_at_most_the_cap(rig: Rig) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    rig.fake.fail_next("chat.postMessage", status=503, times=40)  # twenty tries of each
    await rig.dispatcher().deliver(outcome.message_ids)
    for _ in range(20):
        for row in await rig.rows():
            assert row.status == DeliveryStatus.PENDING
            assert row.due_at - rig.clock.now() <= RETRY_CAP
        rig.clock.advance(RETRY_CAP)
        await rig.dispatcher().sweep()
    rows = await rig.rows()
    assert [r.status for r in rows] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert [r.attempts for r in rows] == [21, 21]
    assert len([c for c in rig.fake.calls_to("chat.postMessage") if c.ok]) == 2


async def test_slacks_rate_limit_answers_are_waits_not_failed_tries(rig: Rig) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    rig.fake.fail_next("chat.postMessage", status=429, retry_after=1, times=24)
    await rig.dispatcher().deliver(outcome.message_ids)
    for _ in range(12):
        rig.clock.advance(timedelta(seconds=1))
        await rig.dispatcher().sweep()
    rows = await rig.rows()
    assert [r.status for r in rows] == [DeliveryStatus.SENT, DeliveryStatus.SENT]
    assert [r.attempts for r in rows] == [1, 1]


async def test_a_card_slack_never_takes_expires_after_a_week_and_the_requester_is_told(
    rig: Rig,
) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    card_id, confirmation_id = outcome.message_ids
    await rig.dispatcher().deliver([confirmation_id])
    rig.fake.fail_next("chat.postMessage", status=503, times=2)
    await rig.dispatcher().deliver([card_id])
    rig.clock.advance(WORTH_SENDING_FOR)
    await rig.dispatcher().sweep()
    card, confirmation, told = await rig.rows()
    assert (card.kind, card.status) == (MessageKind.CONNECTOR_CARD, DeliveryStatus.EXPIRED)
    assert card.last_error == "fatal_error"  # what Slack answers with its 503
    assert confirmation.status == DeliveryStatus.SENT
    assert (told.recipient_id, told.status) == ("U1", DeliveryStatus.SENT)
    assert any("couldn't reach" in m["text"] for m in rig.fake.messages_for("U1"))


async def test_a_sender_that_lost_its_lease_sends_nothing_more_of_its_batch(rig: Rig) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    slow = rig.dispatcher("slow")
    claimed = await slow._claim(ids=outcome.message_ids)
    # The slow replica stalls past its lease; another takes the batch over and sends it.
    rig.clock.advance(timedelta(minutes=3))
    assert await rig.dispatcher("other").sweep() == 2
    await slow._send_all(claimed)
    assert rig.fake.count("chat.postMessage") == 2
    assert [r.status for r in await rig.rows()] == [DeliveryStatus.SENT, DeliveryStatus.SENT]


async def test_a_lease_running_short_is_extended_before_the_send(rig: Rig) -> None:
    outcome = await rig.workflow.submit(TEAM, _draft(), [])
    slow = rig.dispatcher("slow")
    claimed = await slow._claim(ids=outcome.message_ids)
    rig.clock.advance(LEASE - LEASE_MARGIN + timedelta(seconds=1))
    await slow._send_all(claimed)
    rows = await rig.rows()
    assert [(r.status, r.lease_owner) for r in rows] == [(DeliveryStatus.SENT, "slow")] * 2
    rig.clock.advance(timedelta(minutes=5))
    assert await rig.dispatcher("other").sweep() == 0
    assert rig.fake.count("chat.postMessage") == 2
