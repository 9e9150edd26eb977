"""Who knows whom: suggestions, privacy, pacing, duplicate asks, imports, account owners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.directory import (
    DEFAULT_PACING,
    AskReview,
    Directory,
    Pacing,
    PacingLoad,
    workspace_pacing,
)
from bot.intro.linkedin import Connection, ParsedExport, parse_connections
from bot.intro.people import Teammate
from bot.intro.profiles import PROFILE_FRESH_FOR, Profiles
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from storage.db import create_engine_for, make_sessionmaker

TEAM = "T1"
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "Connections.csv"


@dataclass
class Rig:
    directory: Directory
    workflow: IntroWorkflow
    clock: ManualClock

    async def ask(self, requester: str, connector: str, target: str, company: str = "") -> int:
        draft = RequestDraft(
            requester=Teammate(requester),
            connector=Teammate(connector),
            target_name=target,
            target_company=company,
            reason="r",
            blurb="b",
        )
        return (await self.workflow.submit(TEAM, draft, [])).request.id


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    yield Rig(Directory(sessions, clock), IntroWorkflow(sessions, clock), clock)
    await engine.dispose()


async def test_suggestions_rank_by_closeness_recency_and_load(rig: Rig) -> None:
    d = rig.directory
    await d.add_contact(
        TEAM, "UA", ContactInput("Jane Doe", "Acme", closeness="close", since=date(2024, 1, 1))
    )
    await d.add_contact(
        TEAM, "UB", ContactInput("Jane Doe", "Acme", closeness="met_once", since=date(2012, 1, 1))
    )
    await d.add_contact(TEAM, "UC", ContactInput("John Roe", "Acme Inc.", closeness="close"))
    await d.add_contact(
        TEAM,
        "UD",
        ContactInput("Jane Doe", "Acme"),
    )
    suggestions = await d.suggest_connectors(TEAM, "jane doe (ACME)", exclude=("UD",), limit=5)
    assert [s.user_id for s in suggestions] == ["UA", "UB", "UC"]
    # A heavily loaded connector drops behind.
    for n in range(6):
        await rig.ask("UR", "UA", f"Someone {n}")
    reranked = await d.suggest_connectors(TEAM, "Jane Doe", "Acme", limit=5)
    assert reranked[0].user_id in ("UB", "UD") and reranked[-1].user_id == "UC"
    assert next(s for s in reranked if s.user_id == "UA").open_asks == 6


async def test_nobody_sees_another_teammates_list(rig: Rig) -> None:
    d = rig.directory
    contact, _ = await d.add_contact(TEAM, "UA", ContactInput("Jane Doe", "Acme"))
    assert (await d.contacts_of(TEAM, "UB"))[1] == 0
    assert (await d.contacts_of("T_OTHER", "UA"))[1] == 0
    assert not await d.delete_contact(TEAM, "UB", contact.id)  # not theirs to delete
    assert (await d.contacts_of(TEAM, "UA"))[1] == 1
    assert await d.delete_contact(TEAM, "UA", contact.id)
    assert await d.suggest_connectors("T_OTHER", "Jane Doe") == []


async def test_reimporting_updates_instead_of_duplicating(rig: Rig) -> None:
    d = rig.directory
    export = parse_connections(FIXTURE.read_bytes())
    first = await d.import_connections(TEAM, "UA", export)
    assert (first.added, first.updated) == (4, 0)
    assert len(first.skipped) == 2
    again = await d.import_connections(TEAM, "UA", export)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)
    changed = FIXTURE.read_bytes().replace(b"VP, Operations", b"COO")
    third = await d.import_connections(TEAM, "UA", parse_connections(changed))
    assert (third.added, third.updated) == (0, 1)
    assert (await d.contacts_of(TEAM, "UA"))[1] == 4


async def test_ten_thousand_connections_import_with_progress(rig: Rig) -> None:
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    rows = "".join(f"Per{i},Son{i},u,,Co {i % 50},Role,04 Mar 2021\n" for i in range(10_000))
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    report = await rig.directory.import_connections(
        TEAM, "UA", parse_connections(header + rows), progress
    )
    assert report.added == 10_000
    assert seen[-1] == (10_000, 10_000) and len(seen) == 10


async def test_an_import_that_fails_part_way_saves_nothing(rig: Rig) -> None:
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    rows = "".join(f"Per{i},Son{i},u,,Co {i % 50},Role,04 Mar 2021\n" for i in range(2_500))

    async def progress(done: int, total: int) -> None:
        if done > 1_000:  # the second batch is in; then the task dies
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await rig.directory.import_connections(
            TEAM, "UA", parse_connections(header + rows), progress
        )
    assert (await rig.directory.contacts_of(TEAM, "UA"))[1] == 0


async def test_a_write_that_fails_part_way_saves_nothing(rig: Rig) -> None:
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    rows = "".join(f"Per{i},Son{i},u,,Co {i % 50},Role,04 Mar 2021\n" for i in range(2_500))
    engine = rig.directory._sessions.kw["bind"].sync_engine
    inserts: list[str] = []

    def second_insert_fails(*args: object) -> None:
        statement = str(args[2])
        if statement.startswith("INSERT INTO contacts"):
            inserts.append(statement)
            if len(inserts) == 2:  # the first 1,000 rows are in the transaction
                raise RuntimeError("the database went away")

    event.listen(engine, "before_cursor_execute", second_insert_fails)
    try:
        with pytest.raises(RuntimeError):
            await rig.directory.import_connections(TEAM, "UA", parse_connections(header + rows))
    finally:
        event.remove(engine, "before_cursor_execute", second_insert_fails)
    assert len(inserts) == 2
    assert (await rig.directory.contacts_of(TEAM, "UA"))[1] == 0


async def test_a_connection_whose_key_would_not_fit_is_kept_under_a_digest(rig: Rig) -> None:
    # Each field within its column, but name|company is one character over the key's 400.
    export = ParsedExport(
        connections=[
            Connection("A" * 200, "B" * 200, "", "", None, ""),
            Connection("Jane Doe", "Acme", "", "", None, ""),
        ]
    )
    report = await rig.directory.import_connections(TEAM, "UA", export)
    assert (report.added, report.skipped) == (2, [])
    assert (await rig.directory.contacts_of(TEAM, "UA"))[1] == 2
    again = await rig.directory.import_connections(TEAM, "UA", export)  # the same key again
    assert (again.added, again.unchanged) == (0, 2)


async def test_pacing_limits(rig: Rig) -> None:
    d = rig.directory
    prefs = await d.prefs(TEAM, "UC")
    prefs.max_open = 1
    prefs.blocked_companies = ["Globex"]
    await d.save_prefs(prefs)
    assert await d.pacing_problems(TEAM, "UC", "Acme") == []
    await rig.ask("UR", "UC", "Jane Doe")
    codes = [p.code for p in await d.pacing_problems(TEAM, "UC", "Globex, Inc.")]
    assert codes == ["blocked_company", "max_open"]
    prefs.max_open = None
    prefs.blocked_companies = []
    prefs.max_per_30_days = 1
    prefs.snoozed_until = rig.clock.now().date() + timedelta(days=3)
    await d.save_prefs(prefs)
    assert [p.code for p in await d.pacing_problems(TEAM, "UC", "")] == [
        "snoozed",
        "max_per_30_days",
    ]
    rig.clock.advance(timedelta(days=31))
    assert await d.pacing_problems(TEAM, "UC", "") == []


async def test_a_connector_who_set_nothing_has_the_default_limits(rig: Rig) -> None:
    d = rig.directory
    for target in ("Ann One", "Bo Two"):
        await rig.ask("UR", "UC", target)
    review = await d.review_ask(TEAM, "UR", "UC", "Cy Three", "")
    assert review.pacing is None
    assert review.load == PacingLoad(open_now=2, recent=2, limits=Pacing(3, 6))
    assert review.load.near() == ("max_open", 2, 3)
    await rig.ask("UR", "UC", "Cy Three")
    assert [p.code for p in await d.pacing_problems(TEAM, "UC", "")] == ["max_open"]


async def test_a_busy_connectors_asks_are_counted_up_to_each_limit(rig: Rig) -> None:
    d = rig.directory
    for n in range(8):
        await rig.ask(f"UR{n}", "UC", f"Person {n} Surname{n}")
    review = await d.review_ask(TEAM, "UR", "UC", "Cy Three", "")
    # Past both limits: each count stops at its limit, which is all the review needs.
    assert review.load == PacingLoad(open_now=3, recent=6, limits=Pacing(3, 6))
    assert review.load.near() is None
    assert [p.code for p in await d.pacing_problems(TEAM, "UC", "")] == [
        "max_open",
        "max_per_30_days",
    ]
    # With no limit, nothing is counted.
    await d.set_workspace_pacing(TEAM, 0, 0)
    review = await d.review_ask(TEAM, "UR", "UC", "Cy Three", "")
    assert review.load == PacingLoad(0, 0, Pacing(None, None))
    assert review.pacing is None


async def test_the_workspace_default_holds_unless_the_connector_set_their_own(rig: Rig) -> None:
    d = rig.directory
    for target in ("Ann One", "Bo Two", "Cy Three"):
        await rig.ask("UR", "UC", target)
    await d.set_enforce_pacing(TEAM, True)
    assert await d.set_workspace_pacing(TEAM, 5, None) == Pacing(5, 6)
    assert await d.pacing_problems(TEAM, "UC", "") == []
    assert await d.set_workspace_pacing(TEAM, None, 3) == Pacing(5, 3)
    assert [p.code for p in await d.pacing_problems(TEAM, "UC", "")] == ["max_per_30_days"]
    # The connector's own limits win over the workspace's.
    prefs = await d.prefs(TEAM, "UC")
    prefs.max_per_30_days = 10
    await d.save_prefs(prefs)
    assert await d.pacing_problems(TEAM, "UC", "") == []
    # Off: no limit for anyone who set none; strict mode is kept apart.
    assert await d.set_workspace_pacing(TEAM, 0, 0) == Pacing(None, None)
    review = await d.review_ask(TEAM, "UR", "UD", "Di Four", "")
    assert review.load == PacingLoad(0, 0, Pacing(None, None)) and review.load.near() is None
    assert await d.workspace_pacing(TEAM) == Pacing(None, None)
    prefs.max_open = 1
    await d.save_prefs(prefs)
    assert (await d.review_ask(TEAM, "UR", "UC", "Di Four", "")).enforce_pacing  # still strict
    await d.set_enforce_pacing(TEAM, False)
    assert await d.workspace_pacing(TEAM) == Pacing(None, None)
    assert await d.workspace_pacing("T0OTHER") == DEFAULT_PACING


@pytest.mark.parametrize(
    ("stored", "pacing"),
    [
        ((None, None), Pacing(3, 6)),
        ((5, None), Pacing(5, 6)),
        ((0, 12), Pacing(None, 12)),
        ((0, 0), Pacing(None, None)),
    ],
)
def test_the_workspace_default_from_its_columns(
    stored: tuple[int | None, int | None], pacing: Pacing
) -> None:
    assert workspace_pacing(*stored) == pacing


@pytest.mark.parametrize(
    ("open_now", "recent", "limits", "near"),
    [
        (0, 0, Pacing(3, 6), None),  # nothing open: nothing to say
        (1, 1, Pacing(3, 6), ("max_open", 1, 3)),
        (2, 2, Pacing(3, 6), ("max_open", 2, 3)),
        (3, 3, Pacing(3, 6), None),  # hit: a limit problem, said apart
        (1, 5, Pacing(3, 6), ("max_per_30_days", 5, 6)),  # the month is closer
        (0, 4, Pacing(3, 6), ("max_per_30_days", 4, 6)),
        (0, 3, Pacing(3, 6), None),  # three more this month: not near yet
        (2, 2, Pacing(None, None), None),
    ],
)
def test_how_near_a_connector_is_to_a_limit(
    open_now: int, recent: int, limits: Pacing, near: tuple[str, int, int] | None
) -> None:
    assert PacingLoad(open_now, recent, limits).near() == near


async def test_an_asks_review_answers_everything_in_one_statement(rig: Rig) -> None:
    d = rig.directory
    mine = await rig.ask("UR", "UC", "Jane Doe", "Acme")
    theirs = await rig.ask("UX", "UD", "jane doe")
    await rig.ask("UY", "UD", "John Doe")  # the same surname, another person
    prefs = await d.prefs(TEAM, "UC")
    prefs.max_open = 1  # UC has one open ask already
    await d.save_prefs(prefs)
    await d.set_enforce_pacing(TEAM, True)
    await d.set_account_owner(TEAM, "Acme", "UO")
    await d.add_contact(TEAM, "UC", ContactInput("Jane Doe", "Acme", since=date(2019, 5, 1)))
    await d.add_contact(TEAM, "UC", ContactInput("Ann Other", "Acme"))  # weaker: the company
    await d.add_contact(TEAM, "UD", ContactInput("Jane Doe", "Acme"))  # someone else's tie
    rig.clock.advance(timedelta(days=400))  # recorded (and so confirmed) over a year ago
    riya, carlos = Teammate("UR", "Riya Patel", tz="Asia/Kolkata"), Teammate("UC", "Carlos")
    await Profiles(d._sessions, rig.clock).remember(TEAM, [riya, carlos])
    engine = d._sessions.kw["bind"].sync_engine
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        review = await d.review_ask(
            TEAM, "UR", "UC", "Jane Doe", "Acme", suggestions=[], profile_ids=["UR", "UC", "UZ"]
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert review.profiles == {"UR": riya, "UC": carlos}  # UZ is not stored
    assert review.mine is not None and review.mine.id == mine
    assert [(a.id, a.requester_id, a.connector_id) for a in review.held_by_others] == [
        (theirs, "UX", "UD")
    ]
    assert review.pacing is not None and review.pacing.code == "max_open"
    assert review.enforce_pacing
    assert review.account_owner == "UO"
    assert review.stale_tie is not None
    assert (review.stale_tie.name, review.stale_tie.since) == ("Jane Doe", date(2019, 5, 1))


async def test_the_review_reads_the_profiles_of_the_people_on_open_asks_when_asked(
    rig: Rig,
) -> None:
    """`name_people`: the stored profiles of everyone on the open asks for the person come
    with the review, so that naming them reads nothing more; not asked, none are read."""
    d = rig.directory
    await rig.ask("UX", "UD", "Jane Doe")
    xavi, dee = Teammate("UX", "Xavi"), Teammate("UD", "Dee")
    await Profiles(d._sessions, rig.clock).remember(TEAM, [xavi, dee, Teammate("UY", "Yan")])
    review = await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "", name_people=True)
    assert [(a.requester_id, a.connector_id) for a in review.held_by_others] == [("UX", "UD")]
    assert review.profiles == {"UX": xavi, "UD": dee}
    assert (await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "")).profiles == {}
    rig.clock.advance(PROFILE_FRESH_FOR)  # stale: asked of Slack again
    assert (await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "", name_people=True)).profiles == {}


@pytest.mark.parametrize("limit", ["max_open", "max_per_30_days", "snoozed", "blocked_company"])
async def test_at_a_limit_the_review_reads_the_next_best_paths_with_the_rest(
    rig: Rig, limit: str
) -> None:
    """At a limit, the review's statement also reads the contacts who may be the person
    (matched by every spelling of the company, merges included) and, asked to name people,
    their owners' stored profiles; only their owners' loads take a second statement."""
    d = rig.directory
    await rig.ask("UR", "UC", "Ann One")
    prefs = await d.prefs(TEAM, "UC")
    if limit == "max_open":
        prefs.max_open = 1
    elif limit == "max_per_30_days":
        prefs.max_per_30_days = 1
    elif limit == "snoozed":
        prefs.snoozed_until = rig.clock.now().date()
    else:
        prefs.blocked_companies = ["Acme Logistics"]
    await d.save_prefs(prefs)
    await d.companies.merge(TEAM, "Acme", "Acme Logistics", rig.clock.now())
    await d.add_contact(TEAM, "UD", ContactInput("Jane Doe", "Acme Logistics"))
    dee = Teammate("UD", "Dee")
    await Profiles(d._sessions, rig.clock).remember(TEAM, [dee])
    engine = d._sessions.kw["bind"].sync_engine
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        review = await d.review_ask(TEAM, "UR", "UC", "Bo Doe", "Acme", name_people=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert review.pacing is not None and review.pacing.code == limit
    assert review.next_best == "UD"  # someone at the company, under its other spelling
    assert review.profiles == {"UD": dee}  # the next best path's owner, to be named
    assert len(statements) == 2, statements
    assert "contacts" not in statements[1] and "profiles" not in statements[1]  # the loads
    # The suggestion search, asked apart, agrees.
    suggested = await d.suggest_connectors(TEAM, "Bo Doe", "Acme", exclude=("UR",))
    assert [s.user_id for s in suggested] == ["UD"]


async def test_under_the_limits_the_review_reads_no_one_elses_contacts(rig: Rig) -> None:
    d = rig.directory
    await d.add_contact(TEAM, "UD", ContactInput("Jane Doe", "Acme"))
    rows = await d._review_rows(TEAM, "UC", "Jane Doe", "Acme", rig.clock.now(), search_next=True)
    assert not rows[0].next_searched
    assert [row for row in rows if row.kind == "candidate"] == []
    review = await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "Acme")
    assert review.pacing is None and review.next_best is None


async def test_the_review_reads_only_fresh_profiles(rig: Rig) -> None:
    d = rig.directory
    await Profiles(d._sessions, rig.clock).remember(TEAM, [Teammate("UR", "Riya")])
    rig.clock.advance(PROFILE_FRESH_FOR)
    review = await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "Acme", profile_ids=["UR"])
    assert review.profiles == {}  # asked of Slack again


async def test_the_review_and_a_later_look_up_pick_the_same_tie(rig: Rig) -> None:
    """The card's first send takes the review's tie; a retry or a refresh reads it again
    (`Directory.tie`): both must name the same contact."""
    d = rig.directory
    # Two contacts that match Jane equally well, and one who only works at Acme.
    await d.add_contact(TEAM, "UC", ContactInput("Jane Doe", "Acme", since=date(2019, 5, 1)))
    await d.add_contact(TEAM, "UC", ContactInput("Jane Doe", "Acme Inc", since=date(2018, 1, 1)))
    await d.add_contact(TEAM, "UC", ContactInput("Ann Other", "Acme", since=date(2017, 1, 1)))
    rig.clock.advance(timedelta(days=400))
    for target in ("Jane Doe", "Zed Nobody"):  # the person; someone only the company links
        review = await d.review_ask(TEAM, "UR", "UC", target, "Acme", suggestions=[])
        tie = await d.tie(TEAM, "UC", target, "Acme")
        assert review.stale_tie is not None and tie is not None
        assert review.stale_tie.id == tie.id
    await d.mark_departed(TEAM, "UC", True)  # a teammate who left has no ties to offer
    review = await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "Acme", suggestions=[])
    assert review.stale_tie is None and await d.tie(TEAM, "UC", "Jane Doe", "Acme") is None


async def test_an_asks_review_with_nothing_to_find(rig: Rig) -> None:
    d = rig.directory
    await d.set_account_owner(TEAM, "Acme", "UC")  # the connector owns the account: no step
    await d.add_contact(TEAM, "UC", ContactInput("Jane Doe", "Acme"))  # recorded just now
    review = await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "Acme")
    unloaded = PacingLoad(open_now=0, recent=0, limits=DEFAULT_PACING)
    assert review == AskReview(load=unloaded)
    # No connector picked yet (the form's live review): no limits, no tie, still the owner.
    await d.set_account_owner(TEAM, "Acme", "UO")
    assert await d.review_ask(TEAM, "UR", "", "Jane Doe (Acme)", "") == AskReview(
        account_owner="UO"
    )
    # A name that folds to nothing, and no company: nothing to match on.
    assert await d.review_ask(TEAM, "UR", "UC", "!!!", "") == AskReview(load=unloaded)


async def test_sessions_bound_to_a_callers_transaction_keep_to_it(database_url: str) -> None:
    """As bench.explain binds them: the review, a read and a one-statement write all run in
    the caller's transaction, and nothing outlives its rollback."""
    if database_url.startswith("sqlite"):
        pytest.skip("pysqlite commits on a savepoint's RELEASE; bench.explain is PostgreSQL's")
    engine = create_engine_for(database_url)
    clock = ManualClock()
    async with engine.connect() as connection:
        outer = await connection.begin()
        sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        workflow = IntroWorkflow(sessions, clock)
        draft = RequestDraft(Teammate("UR"), Teammate("UC"), "Jane Doe", "Acme", "r", "b")
        outcome = await workflow.submit(TEAM, draft, [])
        review = await Directory(sessions, clock).review_ask(TEAM, "UR", "UC", "Jane Doe", "")
        assert review.mine is not None and review.mine.id == outcome.request.id
        assert [r.id for r in await workflow.requests_by(TEAM, "UR")] == [outcome.request.id]
        await outer.rollback()
    async with engine.connect() as connection:
        left = await connection.scalar(text("SELECT count(*) FROM intro_requests"))
    assert left == 0
    await engine.dispose()


async def _open_asks(rig: Rig, target: str) -> list[int]:
    """The open asks for a person, as the review of someone else's ask finds them."""
    review = await rig.directory.review_ask(TEAM, "U_SOMEONE", "", target, "")
    return [ask.id for ask in review.held_by_others]


async def _account_owner(rig: Rig, team_id: str, company: str) -> str | None:
    return (await rig.directory.review_ask(team_id, "U_SOMEONE", "", "", company)).account_owner


async def test_open_asks_for_the_same_person_are_found(rig: Rig) -> None:
    request_id = await rig.ask("UR", "UC", "Jane Doe", "Acme")
    assert await _open_asks(rig, "jane doe (Acme)") == [request_id]
    assert await _open_asks(rig, "John Doe") == []
    await rig.workflow.act(TEAM, request_id, "UR", Action.CANCEL)
    assert await _open_asks(rig, "Jane Doe") == []


async def test_open_asks_match_across_accents_case_and_nicknames(rig: Rig) -> None:
    request_id = await rig.ask("UR", "UC", "Ana Muñoz", "Acme")
    other_id = await rig.ask("UR", "UC", "Bob O'Neil")
    assert await _open_asks(rig, "ana munoz") == [request_id]
    assert await _open_asks(rig, "ANA MUÑOZ") == [request_id]
    assert await _open_asks(rig, "Robert O'Neil") == [other_id]
    assert await _open_asks(rig, "Ana Munro") == []


async def test_account_owner_by_company(rig: Rig) -> None:
    await rig.directory.set_account_owner(TEAM, "Acme, Inc.", "UO")
    assert await _account_owner(rig, TEAM, "ACME") == "UO"
    assert await _account_owner(rig, TEAM, "Globex") is None
    assert await _account_owner(rig, "T_OTHER", "Acme") is None


async def test_old_ties_are_stale_until_confirmed(rig: Rig) -> None:
    contact, _ = await rig.directory.add_contact(
        TEAM, "UA", ContactInput("Jane Doe", "Acme", since=date(2020, 1, 1))
    )
    rig.clock.advance(timedelta(days=400))
    tie = await rig.directory.tie(TEAM, "UA", "Jane Doe", "Acme")
    assert tie is not None and Directory.is_stale(tie, rig.clock.now())
    await rig.directory.confirm_tie(TEAM, "UA", contact.id, still_in_touch=False)
    tie = await rig.directory.tie(TEAM, "UA", "Jane Doe", "Acme")
    assert tie is not None and not Directory.is_stale(tie, rig.clock.now())
    assert tie.closeness == "not_sure"


@pytest.mark.parametrize(
    ("asked", "typed"),
    [("小明 王", "王小明"), ("Xiaoming Wang", "Wang Xiaoming"), ("Wang Xiaoming", "Xiaoming Wang")],
)
async def test_names_in_either_order_or_without_spaces_are_found(
    rig: Rig, asked: str, typed: str
) -> None:
    await rig.directory.add_contact(TEAM, "UA", ContactInput(asked, "Acme"))
    request_id = await rig.ask("UR", "UA", asked)
    assert [s.user_id for s in await rig.directory.suggest_connectors(TEAM, typed)] == ["UA"]
    assert await _open_asks(rig, typed) == [request_id]


async def test_the_same_person_added_several_times_at_once_is_one_contact(
    database_url: str,
) -> None:
    # Separate engines, as from a double press reaching two replicas.
    engines = [create_engine_for(database_url) for _ in range(4)]
    try:
        directories = [Directory(make_sessionmaker(engine), ManualClock()) for engine in engines]
        added = await asyncio.gather(
            *(
                directory.add_contact(TEAM, "U1", ContactInput("Jane Doe", "Acme"))
                for directory in directories
                for _ in range(2)
            )
        )
        assert sorted(new for _, new in added) == [False] * 7 + [True]
        _, count = await directories[0].contacts_of(TEAM, "U1")
        assert count == 1
    finally:
        for engine in engines:
            await engine.dispose()


async def test_one_person_importing_on_two_replicas_at_once_keeps_one_contact_each(
    database_url: str,
) -> None:
    # The per-person import limit holds within a process; two replicas may each run one.
    engines = [create_engine_for(database_url) for _ in range(2)]
    export = parse_connections(FIXTURE.read_bytes())
    try:
        directories = [Directory(make_sessionmaker(engine), ManualClock()) for engine in engines]
        reports = await asyncio.gather(
            *(directory.import_connections(TEAM, "UA", export) for directory in directories)
        )
        assert sorted(report.added for report in reports) == [0, 4]
        assert all(len(report.skipped) == 2 for report in reports)
        _, count = await directories[0].contacts_of(TEAM, "UA")
        assert count == 4
    finally:
        for engine in engines:
            await engine.dispose()
