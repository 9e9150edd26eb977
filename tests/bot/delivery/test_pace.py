"""Slack's rate limits as budgets: the GCRA arithmetic, the sender's margin, and the budgets
shared through the database by several replicas."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta

import pytest
from aiohttp import ClientSession
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pace import (
    DISPATCHER_METHODS,
    SAFETY_MARGIN_S,
    WORKSPACE,
    Limit,
    LocalBudgets,
    Pacer,
    Rates,
    SharedBudgets,
    gcra,
    slots_within,
    with_margin,
)
from bot.intro.clock import ManualClock
from bot.intro.workflow import IntroWorkflow
from bot.standin.web_api import DEFAULT_METHODS_PATH, FakeSlack
from storage.db import create_engine_for, make_sessionmaker
from storage.models import DeliveryStatus, MessageKind, OutboundMessage

FOUR_A_SECOND_BURST_3 = Limit(per_minute=240, burst=3)  # interval 0.25 s, tolerance 0.5 s


def test_a_burst_goes_at_once_then_one_per_interval() -> None:
    tat = None
    waits = []
    for _ in range(5):
        tat, grant = gcra(tat, 100.0, FOUR_A_SECOND_BURST_3, max_wait=10.0)
        waits.append(grant.wait)
    assert waits == [0.0, 0.0, 0.0, 0.25, 0.5]
    assert tat == pytest.approx(101.25)


def test_a_slot_further_away_than_the_wait_allowed_is_refused_and_costs_nothing() -> None:
    tat = None
    for _ in range(3):
        tat, _grant = gcra(tat, 100.0, FOUR_A_SECOND_BURST_3, max_wait=0.0)
    refused_tat, grant = gcra(tat, 100.0, FOUR_A_SECOND_BURST_3, max_wait=0.1)
    assert refused_tat is None
    assert not grant.granted and grant.retry_in == pytest.approx(0.25)
    # Time passes: the budget comes back at the limit's rate, not before.
    assert gcra(tat, 100.2, FOUR_A_SECOND_BURST_3, max_wait=0.0)[0] is None
    assert gcra(tat, 100.25, FOUR_A_SECOND_BURST_3, max_wait=0.0)[0] is not None
    # A long pause refills the burst, and no more than the burst.
    assert slots_within(tat, 200.0, FOUR_A_SECOND_BURST_3, 0.0) == 3


def test_slots_within_counts_the_grants_that_would_follow() -> None:
    limit = FOUR_A_SECOND_BURST_3
    for max_wait in (0.0, 0.3, 1.0):
        tat, granted = 100.5, 0
        expected = slots_within(tat, 100.0, limit, max_wait)
        while (taken := gcra(tat, 100.0, limit, max_wait))[0] is not None:
            tat, granted = taken[0], granted + 1
        assert granted == expected


def test_the_sender_keeps_under_slacks_limit_with_room_for_the_trip() -> None:
    for limit in (Limit(60, 3), Limit(300, 20), Limit(1, 1), Limit(100, 10)):
        ours = with_margin(limit)
        assert ours.per_minute < limit.per_minute
        assert ours.burst >= 1
        assert ours.tolerance <= max(0.0, limit.tolerance - SAFETY_MARGIN_S)
    # Calls granted to the sender, each arriving up to SAFETY_MARGIN_S late or early, are all
    # within Slack's limit.
    slack, ours = Limit(60, 3), with_margin(Limit(60, 3))
    sent, theirs, now = None, None, 0.0
    for n in range(50):
        sent, grant = gcra(sent, now, ours, max_wait=100.0)
        assert grant.wait is not None
        arrives = now + grant.wait + (SAFETY_MARGIN_S if n % 2 else 0.0)
        theirs, answer = gcra(theirs, arrives, slack, max_wait=0.0)
        assert answer.granted, f"call {n} would be rate limited"
        now += 0.05


def test_rules_follow_the_tiers_and_chat_post_message_counts_per_channel_too() -> None:
    rates = Rates.slack()
    assert rates.rules("users.info") == [(WORKSPACE, Limit(100, 10))]
    assert rates.rules("chat.update") == [(WORKSPACE, Limit(50, 5))]
    assert [scope for scope, _ in rates.rules("chat.postMessage", "D123")] == [WORKSPACE, "D123"]
    assert rates.rules("auth.test") == []  # no tier of its own
    assert Rates.slack(10).rules("users.info")[0][1].per_minute == 1000


def test_the_dispatchers_methods_have_the_tiers_of_the_vendored_reference() -> None:
    reference = json.loads(DEFAULT_METHODS_PATH.read_text(encoding="utf-8"))
    for method, tier in DISPATCHER_METHODS.items():
        assert reference[method]["tier"] == tier
    assert reference["chat.postMessage"]["tier"] == "t5"  # "special": per channel


async def test_local_budgets_pace_the_sender() -> None:
    now = [0.0]
    budgets = LocalBudgets(clock=lambda: now[0])
    limit = Limit(60, 2)
    grants = [await budgets.take("T1", "m", "", limit, max_wait=0.0) for _ in range(3)]
    assert [g.granted for g in grants] == [True, True, False]
    assert (await budgets.take("T2", "m", "", limit, max_wait=0.0)).granted  # its own budget
    assert await budgets.slots(["T1", "T2", "T3"], "m", limit, 0.0) == {"T1": 0, "T2": 1, "T3": 2}
    now[0] = 1.0
    assert (await budgets.take("T1", "m", "", limit, max_wait=0.0)).granted


async def test_replicas_share_one_budget_on_postgresql(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("shared budgets live in PostgreSQL")
    engines = [create_engine_for(database_url) for _ in range(3)]
    try:
        replicas = [SharedBudgets(engine) for engine in engines]
        limit = Limit(per_minute=6, burst=5)  # 5 at once, then one every 10 s
        grants = await asyncio.gather(
            *(
                replicas[n % 3].take("T1", "chat.postMessage", "", limit, max_wait=0.0)
                for n in range(12)
            )
        )
        assert sum(g.granted for g in grants) == 5
        refused = [g for g in grants if not g.granted]
        # (A transaction that waited for the row lock counts from when it began.)
        assert all(9.0 < g.retry_in <= 10.5 for g in refused), refused
        # Another workspace, and another channel, have budgets of their own.
        assert (await replicas[1].take("T2", "chat.postMessage", "", limit, 0.0)).granted
        assert (await replicas[2].take("T1", "chat.postMessage", "D1", limit, 0.0)).granted
        slots = await replicas[0].slots(["T1", "T2", "T3"], "chat.postMessage", limit, 0.0)
        assert slots == {"T1": 0, "T2": 4, "T3": 5}
        # Waiting is allowed up to max_wait: the sixth call gets the slot 10 s away.
        waited = await replicas[0].take("T1", "chat.postMessage", "", limit, max_wait=11.0)
        assert waited.wait is not None and 9.0 < waited.wait <= 10.5
    finally:
        for engine in engines:
            await engine.dispose()


async def test_booked_turns_follow_on_from_each_other(database_url: str) -> None:
    limit = Limit(per_minute=6, burst=3)  # interval 10 s, tolerance 20 s
    if database_url.startswith("postgresql"):
        engines = [create_engine_for(database_url) for _ in range(2)]
        first, second = SharedBudgets(engines[0]), SharedBudgets(engines[1])
    else:
        engines, now = [], [50.0]
        first = second = LocalBudgets(clock=lambda: now[0])
    try:
        booked = await first.book("T1", "chat.postMessage", {"D1": 4, "D2": 1}, limit)
        assert booked["D1"] == pytest.approx([0.0, 0.0, 0.0, 10.0], abs=0.5)
        assert booked["D2"] == [0.0]
        # Another replica books after it: its turns come after those already booked.
        later = await second.book("T1", "chat.postMessage", {"D1": 2}, limit)
        assert later["D1"] == pytest.approx([20.0, 30.0], abs=0.5)
        grant = await second.take("T1", "chat.postMessage", "D1", limit, max_wait=0.1)
        assert not grant.granted and grant.retry_in == pytest.approx(40.0, abs=0.5)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_the_fake_answers_429_with_retry_after_past_the_limit() -> None:
    fake = FakeSlack(rate_limits=Rates.slack())
    fake.add_user("U1", name="riya")
    base_url = await fake.start()
    try:
        async with ClientSession() as http:

            async def post(channel: str) -> tuple[int, str | None]:
                async with http.post(
                    f"{base_url}chat.postMessage",
                    data={"channel": channel, "text": "hi"},
                    headers={"Authorization": f"Bearer {fake.token}"},
                ) as response:
                    return response.status, response.headers.get("Retry-After")

            # About one a second per channel, with a burst of 3.
            answers = [await post("U1") for _ in range(4)]
            assert [status for status, _ in answers] == [200, 200, 200, 429]
            assert answers[-1][1] == "1"
            assert (await post("C2"))[0] == 200  # another channel
        assert [c.error for c in fake.calls_to("chat.postMessage")].count("ratelimited") == 1
    finally:
        await fake.stop()


async def test_the_pacer_waits_for_a_near_slot_and_refuses_a_far_one() -> None:
    now = [0.0]
    budgets = LocalBudgets(clock=lambda: now[0])
    rates = Rates.slack(scale=600)  # users.info: 1,000 a second, burst 10
    pacer = Pacer(budgets, rates, max_wait=0.01)
    grants = [await pacer.slot("T1", "users.info") for _ in range(20)]
    granted = [g for g in grants if g.granted]
    assert 8 <= len(granted) < 20
    assert all(g.wait is not None and g.wait <= 0.01 for g in granted)
    assert all(g.retry_in > 0.01 for g in grants if not g.granted)


async def test_a_sweep_claims_each_workspaces_share_within_its_budget(database_url: str) -> None:
    """300 messages due in one workspace, 3 due later in another: the first claim takes the
    second's at once, and of the first's no more than its budget lets out."""
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    due = clock.now() - timedelta(hours=1)
    rows = [("T0BUSY", n, due) for n in range(300)]
    rows += [("T0QUIET", 300 + n, due + timedelta(minutes=1)) for n in range(3)]
    async with sessions.begin() as session:
        session.add_all(
            OutboundMessage(
                team_id=team_id,
                dedupe_key=f"m{n}",
                kind=MessageKind.NOTICE,
                recipient_id=f"U{n}",
                data={},
                status=DeliveryStatus.PENDING,
                due_at=when,
                attempts=0,
                created_at=when,
            )
            for team_id, n, when in rows
        )
    budgets = SharedBudgets(engine) if database_url.startswith("postgresql") else LocalBudgets()
    # chat.postMessage across a workspace: 5 a second with a burst of 20 at Slack's pace;
    # the sender's margin and 2 s of reach make it about 27.
    pacer = Pacer(budgets, Rates.slack(), max_wait=2.0)
    reach = (await pacer.sends_within_reach(["T0BUSY"]))["T0BUSY"]
    assert 20 <= reach <= 30
    dispatcher = Dispatcher(
        sessions,
        AsyncWebClient(token="xoxb-unused"),
        clock,
        IntroWorkflow(sessions, clock),
        pacer=pacer,
    )
    try:
        claimed = await dispatcher._claim_fairly(limit=128)
        teams = Counter(message.team_id for message in claimed)
        assert teams == {"T0BUSY": reach, "T0QUIET": 3}
        # The busy workspace's budget, once booked, holds its next claim back to what came
        # back meanwhile (4.5 a second).
        await pacer.book_posts("T0BUSY", [f"U{n}" for n in range(reach)])
        assert len(await dispatcher._claim_fairly(limit=128, patience=0.0)) < 5
    finally:
        await engine.dispose()
