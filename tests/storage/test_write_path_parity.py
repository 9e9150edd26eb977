"""Both write paths write the same rows: every move of the state machine, and every kind of
submission, made once through the ORM path and once through PostgreSQL's single statement.

Each run starts from an empty database with its sequences restarted and the same clock, so
the request's id, the event ids inside dedupe keys and every other id compare as they are:
the request row, its event rows and its outbox rows (kind, recipient, key, data, status, due
time, lease; cancelled reminders) must match column for column, as must what the change hands
back to delivery. PostgreSQL only: SQLite has one path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from bot.intro.cadence import Cadence
from bot.intro.clock import ManualClock
from bot.intro.crm import stage_of
from bot.intro.people import Teammate
from bot.intro.states import ACTOR, TRANSITIONS, Action, Role, Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import (
    IntroWorkflow,
    InvalidSuggestion,
    Lease,
    Outcome,
    TieUnknown,
    one_statement,
)
from storage.db import create_engine_for, make_sessionmaker, sync_url
from storage.models import (
    Base,
    Contact,
    CrmConnection,
    IntroRequest,
    OutboundMessage,
    RequestEvent,
    Webhook,
)
from tests.conftest import TEST_DATABASE_URL

postgres_only = pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="the single-statement path runs on PostgreSQL only (set TEST_DATABASE_URL)",
)

TEAM = "T1"
REQUESTER = Teammate("UR", "Riya Patel", title="Partnerships", email="riya@example.com")
CONNECTOR = Teammate("UC", "Carlos Mendes")
OWNER, SAM = "UO", "US"
PARTY = {Role.REQUESTER: REQUESTER.user_id, Role.CONNECTOR: CONNECTOR.user_id, Role.OWNER: OWNER}
CADENCE = Cadence(nudge_after=timedelta(hours=30), target_check_after=timedelta(hours=50))
DETAILS: dict[str, Any] = {
    "reason": "Not my area",
    "suggested_user_id": SAM,
    "suggested_name": "Bob Lee",
    "suggested_title": "Procurement lead",
    "suggested_company": "Acme",
    "note": "Sam knows her",
    "blurb": "Hi Jane, edited by the owner.",
    "ask_again_on": date(2026, 2, 2).isoformat(),
    "tz_name": "Europe/Lisbon",
    "how_known": "from DHL, where you worked together",
    "target_email": " Jane.Doe@Acme.example ",  # given with "intro made", for the CRM
}

Start = str  # how a fresh request begins: "submitted", "owned" (an owner approves) or "cold"
_STARTS: dict[Start, Status] = {
    "submitted": Status.AWAITING_CONNECTOR,
    "owned": Status.AWAITING_OWNER,
    "cold": Status.WENT_COLD,
}


def _routes() -> dict[Status, tuple[Start, list[Action]]]:
    """The shortest way from a fresh request to each status the state machine reaches."""
    routes: dict[Status, tuple[Start, list[Action]]] = {}
    queue: deque[Status] = deque()
    for start, status in _STARTS.items():
        routes.setdefault(status, (start, []))
        queue.append(status)
    while queue:
        status = queue.popleft()
        start, actions = routes[status]
        for (source, action), target in TRANSITIONS.items():
            if source == status and target not in routes:
                routes[target] = (start, [*actions, action])
                queue.append(target)
    return routes


ROUTES = _routes()
PAIRS = [
    pytest.param(status, action, id=f"{status.value}-{action.value}")
    for status, action in sorted(TRANSITIONS, key=str)
]


def draft(**overrides: Any) -> RequestDraft:
    values: dict[str, Any] = {
        "requester": REQUESTER,
        "connector": CONNECTOR,
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "Expansion",
        "blurb": "Hi Jane, I'm Riya. Would you be open to a call?",
        "share_name": True,
        **overrides,
    }
    return RequestDraft(**values)


def _empty(url: str) -> None:
    engine = create_engine(sync_url(url))
    names = ", ".join(table.name for table in reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


Run = Callable[[IntroWorkflow, ManualClock], Awaitable[Outcome]]


class Paths:
    """Runs the same story once per write path, each in an empty database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statement_writes: list[Action] = []  # changes the single statement made

    async def run(
        self, one_statement_path: bool, story: Run, *, webhook: bool = True, crm: bool = True
    ) -> dict[str, Any]:
        _empty(self.url)
        engine = create_engine_for(self.url)
        try:
            sessions = make_sessionmaker(engine)
            clock = ManualClock()
            if webhook:  # its changes are POSTed too: both paths write those rows alike
                async with sessions.begin() as session:
                    session.add(
                        Webhook(
                            team_id=TEAM,
                            url="https://hooks.example.com/introbot",
                            secret="s" * 32,
                            set_by="UA",
                            set_at=clock.now(),
                        )
                    )
            if crm:  # its intros are pushed to its CRM: both paths write those rows alike
                async with sessions.begin() as session:
                    session.add(
                        CrmConnection(
                            team_id=TEAM,
                            vendor="hubspot",
                            credentials="sealed",
                            connected_by="UA",
                            connected_at=clock.now(),
                        )
                    )
            workflow = IntroWorkflow(sessions, clock, CADENCE, one_statement=one_statement_path)
            outcome = await story(workflow, clock)
            async with sessions() as session:
                tables = {
                    model.__tablename__: [
                        dict(row)
                        for row in (
                            await session.execute(
                                select(model.__table__).order_by(model.__table__.c.id)
                            )
                        ).mappings()
                    ]
                    for model in (IntroRequest, RequestEvent, OutboundMessage)
                }
        finally:
            await engine.dispose()
        return {**tables, "handed back": _handed_back(outcome)}


def _handed_back(outcome: Outcome) -> dict[str, Any]:
    """What a change hands delivery: the request as changed and the messages due now."""
    request = {c.key: getattr(outcome.request, c.key) for c in IntroRequest.__table__.c}
    due_now = [
        (m.id, str(m.kind), m.recipient_id, m.dedupe_key, m.data, str(m.status), m.lease_owner)
        for m in outcome.due_now
    ]
    return {"request": request, "due_now": due_now}


@pytest.fixture
async def paths(database_url: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Paths]:
    spied = Paths(database_url)
    act_at_once = one_statement.act_at_once

    async def recorded(*args: Any, **kwargs: Any) -> Outcome | None:
        done = await act_at_once(*args, **kwargs)
        if done is not None:
            spied.statement_writes.append(args[4])
        return done

    monkeypatch.setattr(one_statement, "act_at_once", recorded)
    yield spied


async def _fresh(workflow: IntroWorkflow, start: Start) -> int:
    if start == "cold":
        return (await workflow.go_cold(TEAM, REQUESTER, draft())).request.id
    owner_id = OWNER if start == "owned" else None
    return (await workflow.submit(TEAM, draft(), ["tip"], owner_id=owner_id)).request.id


async def _take(
    workflow: IntroWorkflow, request_id: int, action: Action, lease: Lease | None = None
) -> Outcome:
    role = ACTOR[action]
    if role is Role.SYSTEM:
        return await workflow.system_act(TEAM, request_id, action)
    return await workflow.act(TEAM, request_id, PARTY[role], action, lease=lease, **DETAILS)


@postgres_only
@pytest.mark.parametrize("leased", [False, True], ids=["unleased", "leased"])
@pytest.mark.parametrize(("status", "action"), PAIRS)
async def test_every_move_writes_the_same_rows_on_both_paths(
    paths: Paths, status: Status, action: Action, leased: bool
) -> None:
    start, route = ROUTES[status]

    async def story(workflow: IntroWorkflow, clock: ManualClock) -> Outcome:
        # The same way there on both runs (the ORM path), then the move through the path
        # under test.
        setup = IntroWorkflow(workflow._sessions, clock, CADENCE, one_statement=False)
        request_id = await _fresh(setup, start)
        for step in route:
            clock.advance(timedelta(hours=1))
            await _take(setup, request_id, step)
        clock.advance(timedelta(hours=1))
        lease = Lease("replica-1", clock.now() + timedelta(minutes=2)) if leased else None
        return await _take(workflow, request_id, action, lease)

    by_orm = await paths.run(False, story)
    assert paths.statement_writes == []
    by_statement = await paths.run(True, story)
    # The single statement made every change it can express (else both runs took one path).
    expected = [action] if one_statement.expressible(action) else []
    assert paths.statement_writes == expected
    assert by_statement["intro_requests"] == by_orm["intro_requests"]
    if action is Action.TARGET_AGREED:  # the email given with it, kept on both paths alike
        assert by_orm["intro_requests"][0]["target_email"] == "jane.doe@acme.example"
    assert by_statement["request_events"] == by_orm["request_events"]
    assert by_statement["outbound_messages"] == by_orm["outbound_messages"]
    assert by_statement["handed back"] == by_orm["handed back"]
    # Every change of the request, this one included, is POSTed to the webhook once.
    posted = [m["data"]["event_id"] for m in by_orm["outbound_messages"] if m["kind"] == "webhook"]
    changes = [e["id"] for e in by_orm["request_events"] if e["from_status"] != e["to_status"]]
    assert posted == changes
    # Each stage the CRM hears of that the request reached is pushed once, this one included.
    pushed = [m["data"] for m in by_orm["outbound_messages"] if m["kind"] == "crm_push"]
    reached: dict[str, int] = {}
    for e in by_orm["request_events"]:
        if (stage := stage_of(e["action"])) is not None:
            reached.setdefault(stage, e["id"])
    assert pushed == [{"stage": stage, "event_id": at} for stage, at in reached.items()]


@postgres_only
@pytest.mark.parametrize(
    "action", [a for a in dict.fromkeys(a for _, a in sorted(TRANSITIONS, key=str)) if stage_of(a)]
)
async def test_a_workspace_without_a_crm_gets_no_pushes_on_either_path(
    paths: Paths, action: Action
) -> None:
    status = next(s for s, a in sorted(TRANSITIONS, key=str) if a == action)
    start, route = ROUTES[status]

    async def story(workflow: IntroWorkflow, clock: ManualClock) -> Outcome:
        setup = IntroWorkflow(workflow._sessions, clock, CADENCE, one_statement=False)
        request_id = await _fresh(setup, start)
        for step in route:
            clock.advance(timedelta(hours=1))
            await _take(setup, request_id, step)
        clock.advance(timedelta(hours=1))
        return await _take(workflow, request_id, action)

    by_orm = await paths.run(False, story, crm=False)
    by_statement = await paths.run(True, story, crm=False)
    assert by_statement["outbound_messages"] == by_orm["outbound_messages"]
    assert [m for m in by_orm["outbound_messages"] if m["kind"] == "crm_push"] == []


def test_every_move_is_reached_from_a_fresh_request() -> None:
    unreached = {status for status, _ in TRANSITIONS} - set(ROUTES)
    assert unreached == set()
    assert any(one_statement.expressible(action) for _, action in TRANSITIONS)


SUBMISSIONS: dict[str, dict[str, Any]] = {
    "plain": {},
    "with an owner to approve": {"owner_id": OWNER},
    "leased": {"lease": True},
    "with the tie its review found": {"stale_tie": Contact(id=7, name="Jane", since=None)},
    "reviewed, no tie": {"stale_tie": None},
    "not reviewed": {"stale_tie": TieUnknown.UNKNOWN},
    "in a workspace with no webhook": {"webhook": False},
}


@postgres_only
@pytest.mark.parametrize("kind", list(SUBMISSIONS))
async def test_every_kind_of_submission_writes_the_same_rows_on_both_paths(
    paths: Paths, kind: str
) -> None:

    async def story(workflow: IntroWorkflow, clock: ManualClock) -> Outcome:
        options = dict(SUBMISSIONS[kind])
        options.pop("webhook", None)
        if options.pop("lease", False):
            options["lease"] = Lease("replica-1", clock.now() + timedelta(minutes=2))
        return await workflow.submit(TEAM, draft(), ["tip"], **options)

    webhook = SUBMISSIONS[kind].get("webhook", True)
    by_orm = await paths.run(False, story, webhook=webhook)
    by_statement = await paths.run(True, story, webhook=webhook)
    hooked = [m for m in by_orm["outbound_messages"] if m["kind"] == "webhook"]
    assert len(hooked) == (1 if webhook else 0)
    assert by_statement["intro_requests"] == by_orm["intro_requests"]
    assert by_statement["request_events"] == by_orm["request_events"]
    assert by_statement["outbound_messages"] == by_orm["outbound_messages"]
    assert by_statement["handed back"] == by_orm["handed back"]


# --- an ask for a way in: the person is picked as the connector accepts -------------------------

WAY_IN = {"target_name": "", "target_role": "whoever runs logistics"}
WAY_IN_MOVES: dict[str, tuple[Action, dict[str, Any], bool]] = {
    # A pick is checked against the row before it is kept: the ORM path on both runs.
    "accepted with the person picked": (Action.ACCEPT, {"picked_name": " Jane  Doe "}, False),
    "declined before any pick": (Action.DECLINE, {"reason": "Not my area"}, True),
    "a teammate suggested instead": (Action.REDIRECT, {"suggested_user_id": SAM}, False),
}


@postgres_only
@pytest.mark.parametrize("move", list(WAY_IN_MOVES))
async def test_an_ask_for_a_way_in_writes_the_same_rows_on_both_paths(
    paths: Paths, move: str
) -> None:
    action, details, at_once = WAY_IN_MOVES[move]

    async def story(workflow: IntroWorkflow, clock: ManualClock) -> Outcome:
        submitted = await workflow.submit(TEAM, draft(**WAY_IN), ["tip"])
        clock.advance(timedelta(hours=1))
        role = PARTY[ACTOR[action]]
        return await workflow.act(TEAM, submitted.request.id, role, action, **details)

    by_orm = await paths.run(False, story)
    by_statement = await paths.run(True, story)
    assert paths.statement_writes == ([action] if at_once else [])
    assert by_statement["intro_requests"] == by_orm["intro_requests"]
    assert by_statement["request_events"] == by_orm["request_events"]
    assert by_statement["outbound_messages"] == by_orm["outbound_messages"]
    assert by_statement["handed back"] == by_orm["handed back"]
    [request] = by_orm["intro_requests"]
    assert request["way_in"] and request["target_role"] == "whoever runs logistics"
    if action is Action.ACCEPT:
        assert (request["target_name"], request["target_surname_key"]) == ("Jane  Doe", "doe")


@postgres_only
async def test_an_ask_for_a_way_in_is_not_accepted_without_its_person_on_either_path(
    paths: Paths,
) -> None:
    async def story(workflow: IntroWorkflow, clock: ManualClock) -> Outcome:
        submitted = await workflow.submit(TEAM, draft(**WAY_IN), ["tip"])
        request_id = submitted.request.id
        clock.advance(timedelta(hours=1))
        for action in (Action.ACCEPT, Action.MENTION_NAME):
            with pytest.raises(InvalidSuggestion):
                await workflow.act(TEAM, request_id, CONNECTOR.user_id, action)
        # An ordinary request takes no pick.
        other = await workflow.submit(TEAM, draft(submission_key="second"), ["tip"])
        with pytest.raises(InvalidSuggestion):
            await workflow.act(
                TEAM, other.request.id, CONNECTOR.user_id, Action.ACCEPT, picked_name="Bob Lee"
            )
        return submitted

    by_orm = await paths.run(False, story)
    by_statement = await paths.run(True, story)
    assert paths.statement_writes == []
    assert [r["status"] for r in by_orm["intro_requests"]] == ["awaiting_connector"] * 2
    assert [r["target_name"] for r in by_orm["intro_requests"]] == ["", "Jane Doe"]
    assert by_statement["intro_requests"] == by_orm["intro_requests"]
    assert by_statement["request_events"] == by_orm["request_events"]
    assert by_statement["outbound_messages"] == by_orm["outbound_messages"]
