"""What the request form shows before a connector is picked, read in one statement: the same
suggestions and review as the contacts' search and the review without a connector."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import event

from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.directory import Directory
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from storage.db import create_engine_for, make_sessionmaker

TEAM = "T1"


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

    async def act(self, request_id: int, actor: str, action: Action) -> None:
        await self.workflow.act(TEAM, request_id, actor, action)

    def count_statements(self) -> list[str]:
        """The statements sent from now on, until `stop_counting`."""
        statements: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *args: object) -> None:
            statements.append(statement)

        event.listen(self._engine, "before_cursor_execute", count)
        self._listener = count
        return statements

    def stop_counting(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._listener)

    @property
    def _engine(self) -> object:
        return self.directory._sessions.kw["bind"].sync_engine


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    yield Rig(Directory(sessions, clock), IntroWorkflow(sessions, clock), clock)
    await engine.dispose()


async def _history(rig: Rig) -> None:
    """Ties of every kind to Jane Doe and to Acme, teammates with asks open and intros made,
    one who shares tie details, one who left, asks open for her and her no that holds."""
    d = rig.directory
    await d.add_contact(TEAM, "UA", ContactInput("Jane Doe", "Acme", closeness="close"))
    await d.add_contact(TEAM, "UB", ContactInput("Jane Doe", "", closeness="met_once"))
    await d.add_contact(
        TEAM,
        "UC",
        ContactInput("J. Doe", "Acme Labs", closeness="know_well", since=date(2018, 1, 1)),
    )
    await d.add_contact(TEAM, "UE", ContactInput("Ann Other", "Acme"))  # the company only
    await d.add_contact(TEAM, "UR", ContactInput("Jane Doe", "Acme"))  # the requester's own
    await d.add_contact(TEAM, "UL", ContactInput("Jane Doe", "Acme"))
    await d.mark_departed(TEAM, "UL", True)
    lapsed, _ = await d.add_contact(TEAM, "UF", ContactInput("Jane Doe", "Acme"))
    await d.confirm_tie(TEAM, "UF", lapsed.id, still_in_touch=False)
    await d.add_contact(TEAM, "UX", ContactInput("Jane Doe", "Other Co"))  # at another company
    await d.companies.merge(TEAM, "Acme", "Acme Labs", rig.clock.now())
    await d.set_share_tie_details(TEAM, "UA", True)
    await d.set_enforce_pacing(TEAM, True)
    await rig.ask("UR", "UA", "Jane Doe", "Acme")  # the requester's own ask, open
    await rig.ask("UY", "UB", "jane doe")  # someone else's
    await rig.ask("UY", "UB", "John Doe")  # the same surname, another person
    made = await rig.ask("UZ", "UA", "Kim Lee")
    await rig.act(made, "UA", Action.ACCEPT)
    await rig.act(made, "UA", Action.TARGET_AGREED)
    no = await rig.ask("UZ", "UC", "Jane Doe")
    await rig.act(no, "UC", Action.ACCEPT)
    await rig.act(no, "UC", Action.TARGET_DECLINED)
    rig.clock.advance(timedelta(days=3))


QUERIES = [
    ("Jane Doe", ""),
    ("jane doe (ACME)", ""),
    ("Jane Doe", "Acme Labs"),
    ("", "Acme"),  # a way in: no name, a company
    ("Nobody Known", ""),
    ("Kim Lee", "Elsewhere"),
]


@pytest.mark.parametrize("target, company", QUERIES)
async def test_the_form_finds_what_the_search_and_the_review_find(
    rig: Rig, target: str, company: str
) -> None:
    await _history(rig)
    d = rig.directory
    suggestions, found = await d.form_findings(TEAM, "UR", target, company)
    apart = await d.suggest_connectors(TEAM, target, company, exclude=("UR",))
    review = await d.review_ask(TEAM, "UR", "", target, company, suggestions=apart, ties=False)
    assert suggestions == apart
    assert (found.mine, found.held_by_others) == (review.mine, review.held_by_others)
    assert found.target_declined == review.target_declined
    assert found.target_declined_hold == review.target_declined_hold
    assert found.enforce_pacing == review.enforce_pacing
    assert (found.pacing, found.load, found.next_best) == (None, None, None)


async def test_the_form_has_what_it_shows_for_a_known_person(rig: Rig) -> None:
    await _history(rig)
    suggestions, found = await rig.directory.form_findings(TEAM, "UR", "Jane Doe", "Acme")
    shown = [s.user_id for s in suggestions]
    assert shown[0] == "UA" and not {"UR", "UL"} & set(shown)  # the requester, who left
    first = suggestions[0]
    assert (first.open_asks, first.intros_made, first.shares_details) == (1, 1, True)
    assert found.mine is not None and found.mine.requester_id == "UR"
    assert [a.requester_id for a in found.held_by_others] == ["UY"]
    assert found.target_declined is not None and found.enforce_pacing


async def test_an_ask_replaced_is_not_its_own_duplicate(rig: Rig) -> None:
    await _history(rig)
    mine = (await rig.directory.form_findings(TEAM, "UR", "Jane Doe"))[1].mine
    assert mine is not None
    _, found = await rig.directory.form_findings(TEAM, "UR", "Jane Doe", replaces_id=mine.id)
    assert found.mine is None


@pytest.mark.parametrize("known", [False, True])
async def test_the_form_reads_its_findings_in_one_statement(rig: Rig, known: bool) -> None:
    d = rig.directory
    await rig.ask("UY", "UB", "Jane Doe")
    if known:
        await d.add_contact(TEAM, "UA", ContactInput("Jane Doe", "Acme"))
    statements = rig.count_statements()
    try:
        suggestions, found = await d.form_findings(TEAM, "UR", "Jane Doe (Acme)")
    finally:
        rig.stop_counting()
    assert len(statements) == 1
    assert [s.user_id for s in suggestions] == (["UA"] if known else [])
    assert len(found.held_by_others) == 1
