"""A team's companies: spellings an admin merged are one company for routing, suggestions,
pacing and the second path; merges are listed and undone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.intro.clock import ManualClock
from bot.intro.companies import Companies, canonical_key_sql
from bot.intro.contacts import ContactInput
from bot.intro.directory import Directory
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from storage.db import create_engine_for, make_sessionmaker
from storage.models import Contact

TEAM = "T1"


@dataclass
class Rig:
    directory: Directory
    workflow: IntroWorkflow
    clock: ManualClock

    @property
    def companies(self) -> Companies:
        return self.directory.companies

    async def merge(self, name: str, other: str) -> str:
        return (await self.companies.merge(TEAM, name, other, self.clock.now())).outcome

    async def owner(self, company: str) -> str | None:
        review = await self.directory.review_ask(TEAM, "U_SOMEONE", "", "", company)
        return review.account_owner

    async def ask(self, connector: str, target: str, company: str) -> int:
        draft = RequestDraft(
            requester=Teammate("UR"),
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


async def test_merged_spellings_resolve_to_one_company(rig: Rig) -> None:
    assert await rig.merge("Acme", "Acme Logistics") == "merged"
    for spelling in ("Acme Logistics", "ACME Inc.", "acme"):
        found = await rig.companies.resolve(TEAM, spelling)
        assert (found.canonical, found.keys) == ("acme", {"acme", "acme logistics"})
    assert (await rig.companies.resolve("T2", "Acme Logistics")).keys == {"acme logistics"}
    assert await rig.companies.canonical_keys(TEAM, ["acme logistics", "globex"]) == {
        "acme logistics": "acme",
        "globex": "globex",
    }


async def test_a_merge_of_one_spelling_already_the_same_is_said_so(rig: Rig) -> None:
    assert await rig.merge("Acme", "ACME, Inc.") == "same"
    assert await rig.merge("Acme", "Acme Logistics") == "merged"
    assert await rig.merge("Acme Logistics", "Acme") == "same"
    assert await rig.merge("Acme", "") == "empty"
    assert await rig.companies.merges(TEAM) != []


async def test_merging_into_a_merged_spelling_joins_its_company(rig: Rig) -> None:
    await rig.merge("Acme", "Acme Logistics")
    await rig.merge("Globex", "Globex Europe")
    # Globex (with its own merged spelling) joins Acme, through a spelling of Acme's.
    merged = await rig.companies.merge(TEAM, "Acme Logistics", "Globex", rig.clock.now())
    assert merged.name == "Acme" and set(merged.moved) == {"Globex", "Globex Europe"}
    found = await rig.companies.resolve(TEAM, "Globex Europe")
    assert found.canonical == "acme"
    assert found.keys == {"acme", "acme logistics", "globex", "globex europe"}
    listed = await rig.companies.merges(TEAM)
    assert [(m.name, set(m.aliases)) for m in listed] == [
        ("Acme", {"Acme Logistics", "Globex", "Globex Europe"})
    ]


async def test_unmerging_sets_a_spelling_or_a_companys_spellings_apart(rig: Rig) -> None:
    await rig.merge("Acme", "Acme Logistics")
    await rig.merge("Acme", "Acme Freight")
    assert await rig.companies.unmerge(TEAM, "acme logistics inc") == ["Acme Logistics"]
    assert (await rig.companies.resolve(TEAM, "Acme Logistics")).keys == {"acme logistics"}
    assert (await rig.companies.resolve(TEAM, "Acme")).keys == {"acme", "acme freight"}
    assert await rig.companies.unmerge(TEAM, "Acme") == ["Acme Freight"]
    assert await rig.companies.unmerge(TEAM, "Acme") == []
    assert await rig.companies.merges(TEAM) == []


async def test_the_account_owner_holds_for_every_merged_spelling(rig: Rig) -> None:
    await rig.directory.set_account_owner(TEAM, "Acme", "UO")
    assert await rig.owner("Acme Logistics") is None
    await rig.merge("Acme", "Acme Logistics")
    assert await rig.owner("Acme Logistics") == "UO"
    assert await rig.owner("ACME S.A.") == "UO"
    # An owner named under the other spelling is the whole company's.
    await rig.directory.set_account_owner(TEAM, "Acme Logistics", "UP")
    assert await rig.owner("Acme") == "UP"
    await rig.companies.unmerge(TEAM, "Acme Logistics")
    assert await rig.owner("Acme Logistics") is None


async def test_when_two_owned_companies_merge_the_one_merged_into_keeps_its_owner(
    rig: Rig,
) -> None:
    await rig.directory.set_account_owner(TEAM, "Acme", "UO")
    await rig.directory.set_account_owner(TEAM, "Acme Logistics", "UP")
    await rig.merge("Acme", "Acme Logistics")
    assert await rig.owner("Acme Logistics") == "UO"
    assert await rig.owner("Acme") == "UO"


async def test_suggestions_find_who_knows_someone_under_a_merged_spelling(rig: Rig) -> None:
    d = rig.directory
    await d.add_contact(TEAM, "UA", ContactInput("Bob Smith", "ACME Inc."))
    await d.add_contact(TEAM, "UB", ContactInput("Ann Lee", "Globex"))
    assert await d.suggest_connectors(TEAM, "Jane Doe", "Acme Logistics") == []
    await rig.merge("Acme", "Acme Logistics")
    found = await d.suggest_connectors(TEAM, "Jane Doe", "Acme Logistics")
    assert [s.user_id for s in found] == ["UA"]
    # A spelling with nothing in common with the other, once merged, counts all the same.
    await rig.merge("Globex", "Initech")
    assert [s.user_id for s in await d.suggest_connectors(TEAM, "Jo Ray", "Initech")] == ["UB"]


async def test_an_email_domain_finds_someone_at_the_short_form_but_not_the_reverse(
    rig: Rig,
) -> None:
    d = rig.directory
    await d.add_contact(
        TEAM, "UA", ContactInput("Jane Doe", "Acme Logistics Inc.", email="jane@acme.com")
    )
    await d.add_contact(TEAM, "UB", ContactInput("Bob Smith", "Acme", email="bob@gmail.com"))
    at_acme = await d.suggest_connectors(TEAM, "Someone", "Acme")
    assert {s.user_id for s in at_acme} == {"UA", "UB"}
    # Someone at Acme (the short form) is not someone at Acme Logistics.
    at_logistics = await d.suggest_connectors(TEAM, "Someone", "Acme Logistics")
    assert [s.user_id for s in at_logistics] == ["UA"]


async def test_a_connector_who_blocked_one_spelling_is_not_asked_about_another(
    rig: Rig,
) -> None:
    d = rig.directory
    prefs = await d.prefs(TEAM, "UC")
    prefs.blocked_companies = ["Acme"]
    await d.save_prefs(prefs)
    assert await d.pacing_problems(TEAM, "UC", "Acme Logistics") == []
    await rig.merge("Acme", "Acme Logistics")
    problems = await d.pacing_problems(TEAM, "UC", "Acme Logistics")
    assert [p.code for p in problems] == ["blocked_company"]
    review = await d.review_ask(TEAM, "UR", "UC", "Jane Doe", "Acme Logistics Inc.")
    assert review.pacing is not None and review.pacing.code == "blocked_company"


async def test_who_introduced_someone_there_before_counts_every_merged_spelling(
    rig: Rig,
) -> None:
    made = await rig.ask("UA", "Bob Smith", "ACME Inc.")
    for action in (Action.ACCEPT, Action.TARGET_AGREED):
        await rig.workflow.act(TEAM, made, "UA", action)
    stalled = await rig.ask("UC", "Jane Doe", "Acme Logistics")
    request = await rig.workflow.get(TEAM, stalled)
    assert request is not None
    assert await rig.workflow.secondary_connectors(request) == []
    await rig.merge("Acme", "Acme Logistics")
    assert await rig.workflow.secondary_connectors(request) == ["UA"]


async def test_contacts_group_by_company_in_sql(rig: Rig) -> None:
    """`canonical_key_sql`, for counting by company over many rows."""
    d = rig.directory
    await d.add_contact(TEAM, "UA", ContactInput("Bob Smith", "ACME Inc."))
    await d.add_contact(TEAM, "UB", ContactInput("Ann Lee", "Acme Logistics"))
    await d.add_contact(TEAM, "UB", ContactInput("Jo Ray", "Globex"))
    await rig.merge("Acme", "Acme Logistics")
    company = canonical_key_sql(TEAM, Contact.company_key)
    async with d._sessions() as session:
        rows = await session.execute(
            select(company, func.count()).where(Contact.team_id == TEAM).group_by(company)
        )
        assert {company: count for company, count in rows} == {"acme": 2, "globex": 1}


async def test_a_way_in_offers_the_connectors_contacts_under_every_merged_spelling(
    rig: Rig,
) -> None:
    d = rig.directory
    await d.add_contact(TEAM, "UA", ContactInput("Bob Smith", "ACME Inc."))
    await d.add_contact(TEAM, "UA", ContactInput("Ann Lee", "Acme Logistics"))
    await d.add_contact(TEAM, "UB", ContactInput("Cy Dee", "Acme"))
    assert [c.name for c in await d.contacts_at(TEAM, "UA", "Acme")] == ["Bob Smith"]
    await rig.merge("Acme", "Acme Logistics")
    picks = await d.contacts_at(TEAM, "UA", "Acme Logistics GmbH")
    assert [c.name for c in picks] == ["Ann Lee", "Bob Smith"]
