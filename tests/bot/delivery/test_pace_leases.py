"""Leased turns: a batch books every turn it needs in one statement, each call spends one in
memory, and a turn not spent in time lapses without ever letting a call crowd Slack's limit."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pace import (
    POST,
    WORKSPACE,
    ChannelWant,
    Limit,
    LocalBudgets,
    Pacer,
    Rates,
    SharedBudgets,
    Want,
    gcra,
)
from bot.intro.clock import ManualClock, SystemClock
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from bot.standin.web_api import FakeSlack
from storage.db import create_engine_for, make_sessionmaker

TEAM = "T0FAKE"


class Clock:
    """Time that moves only when told to, or when the pacer sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def _pacer(budgets: LocalBudgets, clock: Clock, rates: Rates | None = None) -> Pacer:
    return Pacer(budgets, rates or Rates.slack(), clock=clock, sleep=clock.sleep)


async def test_a_batch_books_its_turns_once_and_its_calls_spend_them() -> None:
    clock = Clock()
    budgets = LocalBudgets(clock=clock)
    leases = []
    lease = budgets.lease

    async def counted(*args: Any) -> Any:
        leases.append(args)
        return await lease(*args)

    budgets.lease = counted  # type: ignore[method-assign]
    pacer = _pacer(budgets, clock)
    calls = [(TEAM, "chat.update", None)] * 2 + [(TEAM, POST, "D1"), (TEAM, POST, "D2")]
    await pacer.reserve(calls)
    assert len(leases) == 1
    assert len(pacer.held(TEAM, "chat.update")) == 2
    assert len(pacer.held(TEAM, POST)) == 2
    assert len(pacer.held(TEAM, POST, "D1")) == 1
    for team_id, method, channel in calls:
        assert (await pacer.turn(team_id, method, channel)).granted
    assert len(leases) == 1, "a call leased what its batch had booked"
    assert pacer.held(TEAM, "chat.update") == [] and pacer.held(TEAM, POST, "D2") == []


async def test_a_leased_turn_not_spent_in_time_lapses_and_the_budget_stays_spent() -> None:
    clock = Clock()
    budgets = LocalBudgets(clock=clock)
    pacer = _pacer(budgets, clock)
    limit = pacer.rates.tiers["t3"]  # chat.update: 0.675 a second, burst 3
    await pacer.reserve([(TEAM, "chat.update", None)] * 3)
    held = pacer.held(TEAM, "chat.update")
    assert len(held) == 3
    # Each turn is good until a little after its place in the budget, no longer.
    ends = [slot.end - clock.now for slot in held]
    late = pacer.lateness("chat.update", WORKSPACE)
    assert ends == pytest.approx([late + n * limit.interval for n in range(3)])
    clock.now += ends[-1] + 0.01
    assert pacer.held(TEAM, "chat.update") == []
    # The lapsed turns were not given back: the next one comes after them.
    grant = await pacer.turn(TEAM, "chat.update")
    assert grant.granted
    tat = 1_000.0 + 3 * limit.interval
    assert clock.now == pytest.approx(max(clock.now - (grant.wait or 0.0), tat - limit.tolerance))


async def test_a_call_with_no_turn_held_leases_a_slice_of_about_a_second() -> None:
    clock = Clock()
    pacer = _pacer(LocalBudgets(clock=clock), clock)
    assert (await pacer.turn(TEAM, "users.info")).granted
    per_second = 1 / pacer.rates.tiers["t4"].interval  # 1.5 a second
    assert len(pacer.held(TEAM, "users.info")) == int(per_second) - 1
    assert (await pacer.turn(TEAM, POST, "D1")).granted
    posts = int(1 / pacer.rates.per_workspace.interval)  # 4.5 a second
    assert len(pacer.held(TEAM, POST)) == posts - 1
    assert pacer.held(TEAM, POST, "D1") == []  # a channel's: only the one it needed


async def test_a_turn_further_off_than_the_wait_allowed_is_refused_and_books_nothing() -> None:
    clock = Clock()
    budgets = LocalBudgets(clock=clock)
    pacer = Pacer(budgets, Rates.slack(), max_wait=0.01, clock=clock, sleep=clock.sleep)
    burst = pacer.rates.tiers["t3"].burst
    grants = [await pacer.turn(TEAM, "chat.update") for _ in range(burst + 2)]
    assert [g.granted for g in grants] == [True] * burst + [False, False]
    assert grants[-1].retry_in == pytest.approx(pacer.rates.tiers["t3"].interval)
    await pacer.reserve([(TEAM, "chat.update", None)])
    assert pacer.held(TEAM, "chat.update") == []


@pytest.mark.parametrize("seed", range(12))
async def test_turns_spent_late_or_never_keep_every_call_within_slacks_limits(seed: int) -> None:
    """Three replicas share the budgets, book batches, stall at random (so many turns lapse)
    and send what they can, often at the last moment a turn allows; each call reaches Slack
    at once or as late as the margin allows. Slack's
    own budgets, run over the arrivals in order, refuse none."""
    rng = random.Random(seed)
    clock = Clock()
    budgets = LocalBudgets(clock=clock)
    rates = Rates.slack(scale=rng.choice([1, 10]))
    replicas = [_pacer(budgets, clock, rates) for _ in range(3)]
    channels = ["D1", "D2", "D3"]
    arrivals: list[tuple[float, str, str | None]] = []
    pending: list[tuple[Pacer, str, str | None]] = []
    for _ in range(1500):
        pacer = rng.choice(replicas)
        if rng.random() < 0.15:
            batch: list[tuple[str, str, str | None]] = []
            for _ in range(rng.randint(1, 12)):
                if rng.random() < 0.3:
                    batch.append((TEAM, "chat.update", None))
                else:
                    batch.append((TEAM, POST, rng.choice(channels)))
            await pacer.reserve(batch)
            pending += [(pacer, method, channel) for _, method, channel in batch]
            continue
        if rng.random() < 0.3:
            # A stall: turns lapse meanwhile, or are spent at the last moment they may be.
            ends = sorted(s.end for held in pacer._held.values() for s in held if s.end > clock.now)
            if ends and rng.random() < 0.7:
                clock.now = ends[0]
            else:
                clock.now += rng.uniform(0, 1.5)
        if pending and rng.random() < 0.8:
            pacer, method, channel = pending.pop(rng.randrange(len(pending)))
        else:
            method, channel = rng.choice(
                [("users.info", None), ("chat.update", None), (POST, rng.choice(channels))]
            )
        if (await pacer.turn(TEAM, method, channel)).granted:
            arrivals.append(
                (clock.now + rng.choice([0, _trip(pacer, method, channel)]), method, channel)
            )
    assert len(arrivals) > 100
    slack: dict[tuple[str, str], float | None] = {}
    for n, (at, method, channel) in enumerate(sorted(arrivals)):
        for scope, limit in rates.rules(method, channel):
            tat, grant = gcra(slack.get((method, scope)), at, limit, max_wait=0.0)
            assert grant.granted, f"call {n} ({method} {scope}) would meet a 429"
            slack[(method, scope)] = tat


def _trip(pacer: Pacer, method: str, channel: str | None) -> float:
    """How long a call may take to reach Slack: what the margin under Slack's tolerance
    leaves beyond the lateness a turn is allowed, in every budget the call draws on."""
    ours, theirs = pacer.rates.rules(method, channel), pacer.slack.rules(method, channel)
    return min(
        b.tolerance - a.tolerance - pacer.lateness(method, scope)
        for (scope, a), (_, b) in zip(ours, theirs, strict=True)
    )


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[Counter[str]]:
    """Statements sent, commits made (an autocommit statement counts as one), and those about
    the rate budgets."""
    seen: Counter[str] = Counter()

    def record(connection: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen["statements"] += 1
        autocommit = connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        if "rate_budgets" in statement:
            seen["pacing"] += 1
            seen["pacing in autocommit"] += autocommit
        if autocommit and not statement.lstrip().upper().startswith("SELECT"):
            seen["commits"] += 1

    def commit(_connection: Any) -> None:
        seen["commits"] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    event.listen(engine.sync_engine, "commit", commit)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
        event.remove(engine.sync_engine, "commit", commit)


async def test_an_accept_with_pacing_on_takes_its_turns_in_one_statement(
    database_url: str,
) -> None:
    """An Accept's delivery (two cards updated, a notice posted) with pacing on costs what it
    costs with pacing off, plus, on PostgreSQL, one statement in autocommit."""
    fake = FakeSlack(rate_limits=Rates.slack())
    people = {"plain": ("U1", "U2"), "paced": ("U3", "U4")}
    for requester, connector in people.values():
        fake.add_user(requester, name="riya", real_name="Riya Patel")
        fake.add_user(connector, name="carlos", real_name="Carlos Mendes")
    base_url = await fake.start()
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    workflow = IntroWorkflow(sessions, clock)
    client = AsyncWebClient(token=fake.token, base_url=base_url, retry_handlers=[])
    postgres = database_url.startswith("postgresql")
    budgets = SharedBudgets(engine) if postgres else LocalBudgets()
    paced = Dispatcher(
        sessions, client, clock, workflow, owner="paced", pacer=Pacer(budgets, Rates.slack())
    )
    plain = Dispatcher(sessions, client, clock, workflow, owner="plain")
    try:
        found = {}
        for name, dispatcher in (("plain", plain), ("paced", paced)):
            requester, connector = people[name]
            draft = RequestDraft(
                requester=Teammate(requester, "Riya Patel"),
                connector=Teammate(connector, ""),
                target_name=f"Jane {name.title()}",
                target_company="Acme",
                reason="Expansion",
                blurb="Hi Jane, I'm Riya. Would you be open to a call?",
            )
            # The cards go out unpaced: the notice's channel has spent none of its budget
            # here, as when the Accept comes more than a second after them.
            submitted = await workflow.submit(TEAM, draft, [], lease=plain.lease())
            await plain.deliver_outcome(submitted)
            outcome = await workflow.act(
                TEAM, submitted.request.id, connector, Action.ACCEPT, lease=dispatcher.lease()
            )
            with counted(engine) as seen:
                await dispatcher.deliver_outcome(outcome)
            found[name] = seen
        assert fake.count("chat.update") == 4 and fake.count("chat.postMessage") == 6
        assert [c for c in fake.calls if c.error == "ratelimited"] == []
        pacing = 1 if postgres else 0
        assert found["paced"]["pacing"] == pacing
        assert found["paced"]["pacing in autocommit"] == pacing
        assert found["paced"]["statements"] == found["plain"]["statements"] + pacing
        assert found["paced"]["commits"] == found["plain"]["commits"] + pacing
    finally:
        await engine.dispose()
        await fake.stop()


async def test_leases_on_postgresql_match_the_budgets_of_one_process(database_url: str) -> None:
    """The same leases, booked in PostgreSQL and in the process, give the same turns; a
    channel's begin with the workspace turn its post pairs with; a refusal says when."""
    if not database_url.startswith("postgresql"):
        pytest.skip("shared budgets live in PostgreSQL")
    wide = Limit(per_minute=60, burst=3)  # interval 1 s, tolerance 2 s
    narrow = Limit(per_minute=30)  # interval 2 s
    engine = create_engine_for(database_url)
    try:
        now = [0.0]
        local = LocalBudgets(clock=lambda: now[0])
        for budgets in (SharedBudgets(engine), local):
            first = await budgets.lease(
                [Want(TEAM, POST, 6, wide), Want(TEAM, "chat.update", 1, wide, 0.0)],
                [ChannelWant(TEAM, "D1", 2, after=5), ChannelWant(TEAM, "D2", 1)],
                narrow,
            )
            offsets = {key: base - first.now for key, base in first.bases.items()}
            assert offsets[(TEAM, POST, WORKSPACE)] == pytest.approx(0.0, abs=0.5)
            # The sixth post's workspace turn starts 5 - 2 = 3 s on: D1's first is no earlier.
            assert offsets[(TEAM, POST, "D1")] == pytest.approx(3.0, abs=0.5)
            assert offsets[(TEAM, POST, "D2")] == pytest.approx(0.0, abs=0.5)
            # Another lease: chat.update (1 of a burst of 3 spent) is granted; the posts'
            # workspace budget is 6 s ahead, more than max_wait + tolerance: refused.
            second = await budgets.lease(
                [Want(TEAM, POST, 1, wide, 1.0), Want(TEAM, "chat.update", 1, wide, 0.0)],
                [ChannelWant(TEAM, "D3", 1, after=0)],
                narrow,
            )
            assert set(second.bases) == {(TEAM, "chat.update", WORKSPACE)}
            assert second.refused[(TEAM, POST)] == pytest.approx(4.0, abs=0.5)
    finally:
        await engine.dispose()


class _Unchecked(FakeSlack):
    """Block Kit goes unchecked here (the flow tests check every message's): the fake shares
    the test's event loop, and checking 160 cards there would make every replica late."""

    def _validate_message(self, args: dict[str, Any]) -> None:
        return None


async def test_three_replicas_leasing_turns_stay_under_slacks_limits(database_url: str) -> None:
    """Three dispatchers (one on SQLite, which runs one process) sweep 80 requests' cards,
    due at once, against a fake that answers 429 past Slack's limits (5 times faster here):
    each card goes once, none meets a 429, and the budgets are leased once per batch, with
    a few more for turns that lapsed, not once per send."""
    scale = 5
    postgres = database_url.startswith("postgresql")
    fake = _Unchecked(rate_limits=Rates.slack(scale))
    people = [f"U{n:03d}" for n in range(40)]
    for user_id in people:
        fake.add_user(user_id, name=user_id.lower(), real_name=f"Person {user_id}")
    await fake.start()
    engines = [create_engine_for(database_url) for _ in range(3 if postgres else 1)]
    # Real time: a send refused a turn goes back to the outbox, due when the turn comes.
    clock = SystemClock()
    workflow = IntroWorkflow(make_sessionmaker(engines[0]), clock)
    for n in range(80):
        draft = RequestDraft(
            requester=Teammate(people[n % 40], f"Person {people[n % 40]}"),
            connector=Teammate(people[(n + 1) % 40], ""),
            target_name=f"Target Number{n}",
            target_company="Acme",
            reason="Expansion",
            blurb="Hi, would you be open to a call? It is about the expansion.",
        )
        await workflow.submit(TEAM, draft, [])
    local = LocalBudgets()
    replicas = []
    for n, engine in enumerate(engines):
        sessions = make_sessionmaker(engine)
        client = AsyncWebClient(token=fake.token, base_url=fake.base_url, retry_handlers=[])
        budgets = SharedBudgets(engine) if postgres else local
        replicas.append(
            Dispatcher(
                sessions,
                client,
                clock,
                IntroWorkflow(sessions, clock),
                owner=f"replica-{n}",
                pacer=Pacer(budgets, Rates.slack(scale)),
                batch=16,
            )
        )
    leases = Counter[str]()

    def count_leases(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        leases["statements"] += "rate_budgets" in statement and "INSERT" in statement

    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", count_leases)
    try:

        async def sweep_until_done(dispatcher: Dispatcher) -> None:
            while fake.count("chat.postMessage") < 160:
                if await dispatcher.sweep():
                    leases["batches"] += 1
                else:
                    await asyncio.sleep(0.05)  # nothing due: as the sweeper's tick would

        await asyncio.wait_for(
            asyncio.gather(*(sweep_until_done(d) for d in replicas)), timeout=120
        )
        posts = [c for c in fake.calls_to("chat.postMessage")]
        assert [c for c in fake.calls if c.error == "ratelimited"] == []
        assert len(posts) == 160 and all(c.ok for c in posts)
        sent = Counter((c.args["channel"], c.args["text"]) for c in posts)
        assert max(sent.values()) == 1, "a card went out twice"
        if postgres:
            assert 0 < leases["statements"] <= leases["batches"] + 160 // 8, leases
        else:
            assert leases["statements"] == 0
    finally:
        for engine in engines:
            event.remove(engine.sync_engine, "before_cursor_execute", count_leases)
            await engine.dispose()
        await fake.stop()
