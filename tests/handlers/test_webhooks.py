"""Signed webhooks: every change of a request POSTed to the workspace's receiver, signed as
the README says, through the outbox (retried, expired after a day), set by an admin with
`/intro webhook` or for the install with INTROBOT_WEBHOOK_URL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.intro.clock import ManualClock
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import DeliveryStatus, MessageKind, OutboundMessage, Webhook
from tests.handlers.flow import CONNECTOR, GOOD_BLURB, REQUESTER, press, request_intro
from tests.webhook_receiver import Receiver

TEAM = "T0FAKE"
ADMIN = "U0ADMIN"
SECRET = "a-secret-only-the-receiver-knows"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def receiver(clock: ManualClock) -> AsyncIterator[Receiver]:
    hook = Receiver(SECRET, lambda: clock.now().timestamp())
    await hook.start()
    yield hook
    await hook.stop()


@pytest.fixture
async def stack(
    database_url: str, clock: ManualClock, receiver: Receiver
) -> AsyncIterator[LocalStack]:
    settings = {"INTROBOT_WEBHOOK_URL": receiver.url, "INTROBOT_WEBHOOK_SECRET": SECRET}
    async with LocalStack(database_url, clock=clock, settings=settings) as local:
        yield local


async def _settled(stack: LocalStack) -> None:
    assert stack.services is not None
    await stack.services.work.drain()
    await stack.sends_recorded()


async def _hooks(stack: LocalStack) -> list[OutboundMessage]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.kind == MessageKind.WEBHOOK)
            .order_by(OutboundMessage.id)
        )
        return list(rows)


async def _sweep(stack: LocalStack) -> None:
    assert stack.services is not None
    await stack.services.dispatcher.sweep()


async def test_a_receiver_gets_every_change_of_a_request_signed(
    stack: LocalStack, receiver: Receiver, clock: ManualClock
) -> None:
    card = await request_intro(stack)
    await stack.until(lambda: len(receiver.received) == 1, "the submission POSTed")
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(receiver.received) == 2, "the accept POSTed")
    assert receiver.refused == []
    submitted, accepted = receiver.received
    request_id = submitted["request_id"]
    assert receiver.events() == [
        (request_id, "submit", "awaiting_connector"),
        (request_id, "accept", "checking_with_target"),
    ]
    assert accepted == {
        "event": "accept",
        "request_id": request_id,
        "team_id": TEAM,
        "state": "checking_with_target",
        "previous_state": "awaiting_connector",
        "stage": None,
        "at": clock.now().isoformat(),
        "requester_id": REQUESTER,
        "connector_id": CONNECTOR,
        "target_name": "Jane Doe",
        "target_company": "Acme",
    }
    await _settled(stack)
    assert [h.status for h in await _hooks(stack)] == [DeliveryStatus.SENT] * 2


async def test_a_post_refused_with_a_500_is_tried_again_until_it_is_taken(
    stack: LocalStack, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.answer = 500
    await request_intro(stack)
    await stack.until(lambda: receiver.posts == 1, "the first try")
    await _settled(stack)
    (hook,) = await _hooks(stack)
    assert (hook.status, hook.last_error) == (DeliveryStatus.PENDING, "HTTP 500")
    clock.advance(timedelta(minutes=1))
    await _sweep(stack)
    assert receiver.posts == 2 and receiver.received == []
    receiver.answer = 204
    clock.advance(timedelta(minutes=1))
    await _sweep(stack)
    assert [p["event"] for p in receiver.received] == ["submit"]
    (hook,) = await _hooks(stack)
    assert hook.status == DeliveryStatus.SENT
    clock.advance(timedelta(minutes=30))
    await _sweep(stack)
    assert receiver.posts == 3  # delivered once: nothing more goes


async def test_a_post_never_taken_is_expired_after_a_day(
    stack: LocalStack, receiver: Receiver, clock: ManualClock
) -> None:
    receiver.answer = 503
    await request_intro(stack)
    await stack.until(lambda: receiver.posts == 1, "the first try")
    await _settled(stack)
    for _ in range(24 * 4 + 2):  # a day and a bit, a sweep every quarter of an hour or so
        clock.advance(timedelta(minutes=16))
        await _sweep(stack)
    (hook,) = await _hooks(stack)
    assert (hook.status, hook.last_error) == (DeliveryStatus.EXPIRED, "HTTP 503")
    tries = receiver.posts
    assert tries > 10
    clock.advance(timedelta(hours=1))
    await _sweep(stack)
    assert receiver.posts == tries


async def _command(stack: LocalStack, user: str, text: str) -> str:
    assert stack.slack is not None
    replies = len(stack.fake.responses)
    fields = payloads.slash_command(
        user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
    )
    status, _ = await stack.slack.command(fields)
    assert status == 200
    await stack.until(lambda: len(stack.fake.responses) > replies, "the reply")
    response = stack.fake.responses[-1]["body"]
    assert response.get("response_type") == "ephemeral"
    return str(response["text"])


@pytest.fixture
async def plain_stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def test_an_admin_sets_the_webhook_and_sees_its_secret_once(
    plain_stack: LocalStack, clock: ManualClock
) -> None:
    stack = plain_stack
    assert "No webhook is set" in await _command(stack, ADMIN, "webhook")
    await request_intro(stack)
    await _settled(stack)
    assert await _hooks(stack) == []  # no webhook, nothing written for one

    hook = Receiver("", lambda: clock.now().timestamp())
    await hook.start()
    try:
        reply = await _command(stack, ADMIN, f"webhook <{hook.url}>")
        assert hook.url in reply
        secrets = re.findall(r"`([0-9a-f]{64})`", reply)
        assert len(secrets) == 1
        hook.secret = secrets[0]
        card = await request_intro(
            stack, target_name="Ann Lee", blurb=GOOD_BLURB.replace("Jane", "Ann")
        )
        await press(stack, CONNECTOR, card, "intro_accept")
        await stack.until(lambda: len(hook.received) == 2, "both changes POSTed")
        assert hook.refused == []
        assert [p["event"] for p in hook.received] == ["submit", "accept"]
        for _ in range(500):  # the receiver's answers recorded, not only received
            if {h.status for h in await _hooks(stack)} == {DeliveryStatus.SENT}:
                break
            await asyncio.sleep(0.01)
        shown = await _command(stack, ADMIN, "webhook")
        assert hook.url in shown and "The last one was delivered." in shown
        assert hook.secret not in shown  # the secret is shown once, when set
        # The Home tab tells admins the same.
        assert stack.slack is not None
        await stack.slack.event(payloads.app_home_opened(ADMIN))
        await stack.until(lambda: stack.fake.count("views.publish") >= 1, "the Home tab")
        home = str(stack.fake.calls_to("views.publish")[-1].args["view"])
        assert "*Webhook* (admins only)" in home and "The last one was delivered." in home
        assert "no longer POSTed" in await _command(stack, ADMIN, "webhook off")
        await request_intro(stack, target_name="Bo Park", blurb=GOOD_BLURB.replace("Jane", "Bo"))
        await _settled(stack)
        assert len(hook.received) == 2  # turned off: no more POSTs
    finally:
        await hook.stop()


async def test_only_admins_set_a_webhook_and_only_to_an_https_url(
    plain_stack: LocalStack,
) -> None:
    stack = plain_stack
    refused = await _command(stack, REQUESTER, "webhook https://hooks.example.com/x")
    assert refused == "Only workspace admins can do that."
    bad = await _command(stack, ADMIN, "webhook http://hooks.example.com/x")
    assert bad.startswith("I can only POST to an https URL")
    assert stack.services is not None and stack.services.webhooks is not None
    assert await stack.services.webhooks.target(TEAM) is None


async def test_a_secret_set_with_a_secret_key_is_kept_sealed_and_still_signs(
    database_url: str, clock: ManualClock
) -> None:
    key = {"INTROBOT_SECRET_KEY": "k" * 40}
    hook = Receiver("", lambda: clock.now().timestamp())
    await hook.start()
    try:
        async with LocalStack(database_url, clock=clock, settings=key) as stack:
            reply = await _command(stack, ADMIN, f"webhook <{hook.url}>")
            hook.secret = re.findall(r"`([0-9a-f]{64})`", reply)[0]
            assert stack.services is not None
            async with stack.services.sessions() as session:
                stored = await session.scalar(select(Webhook.secret))
            assert stored is not None and stored.startswith("sealed:")
            assert hook.secret not in stored  # a copy of the database can't sign POSTs
            await request_intro(stack)
            await stack.until(lambda: len(hook.received) == 1, "the change POSTed")
            assert hook.refused == []  # signed with the secret the admin was shown
        # Without the key the sealed secret can't sign: the change waits rather than going
        # out unsigned or signed wrongly.
        async with LocalStack(database_url, clock=clock) as stack:
            await request_intro(
                stack, target_name="Ann Lee", blurb=GOOD_BLURB.replace("Jane", "Ann")
            )
            await _settled(stack)
            rows = await _hooks(stack)
            assert rows[-1].status == DeliveryStatus.PENDING
            assert "INTROBOT_SECRET_KEY" in (rows[-1].last_error or "")
            assert len(hook.received) == 1
    finally:
        await hook.stop()
