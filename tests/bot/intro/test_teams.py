"""A manager's view: which asks are stuck and on whom, which connectors carry the most, and
how many of the team's accounts have a way in."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.accounts import Accounts
from bot.intro.attribution import Attribution, Funnel
from bot.intro.clock import ManualClock
from bot.intro.matching import company_key
from bot.intro.people import Teammate
from bot.intro.states import Action, Status
from bot.intro.teams import (
    ConnectorLoad,
    Coverage,
    OpenAsk,
    Step,
    Team,
    Teams,
    rank_connectors,
    resolve,
    stuck_asks,
)
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from storage.db import create_engine_for, make_sessionmaker
from storage.models import Contact, DepartedUser, TargetAccount

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TEAM = "T1"


def _ask(status: str, days: float, **fields: object) -> OpenAsk:
    values: dict = {
        "request_id": 1,
        "requester_id": "UR",
        "connector_id": "UC",
        "account_owner_id": "UO",
    }
    values.update(fields)
    return OpenAsk(status=status, since=NOW - timedelta(days=days), **values)


@pytest.mark.parametrize(
    ("status", "days", "step", "waiting_on"),
    [
        (Status.AWAITING_OWNER, 8, Step.OWNER, "UO"),
        (Status.AWAITING_CONNECTOR, 8, Step.CONNECTOR, "UC"),
        (Status.CHECKING_WITH_TARGET, 8, Step.TARGET, "UC"),
        (Status.INTRO_MADE, 8, Step.OUTCOME, "UR"),
        (Status.FOLLOWED_UP, 30, Step.OUTCOME, "UR"),
        # A week exactly is not more than a week; a date set to ask again is not stuck.
        (Status.AWAITING_CONNECTOR, 7, None, None),
        (Status.AWAITING_CONNECTOR, 6.9, None, None),
        (Status.ASK_LATER, 40, None, None),
        (Status.MEETING_HELD, 40, None, None),
    ],
)
def test_an_ask_is_stuck_after_more_than_a_week_at_a_step_waiting_on_its_party(
    status: str, days: float, step: Step | None, waiting_on: str | None
) -> None:
    stuck = stuck_asks([_ask(status, days)], NOW)
    if step is None:
        assert stuck == []
    else:
        (found,) = stuck
        assert (found.step, found.waiting_on, found.days) == (step, waiting_on, int(days))


def test_an_ask_with_a_connector_outside_the_team_waits_on_them_by_name() -> None:
    ask = _ask(
        Status.AWAITING_CONNECTOR,
        10,
        connector_id="",
        connector_outside=True,
        connector_name="Dana Lee",
    )
    (found,) = stuck_asks([ask], NOW)
    assert (found.waiting_on, found.waiting_on_name) == ("", "Dana Lee")


def test_stuck_asks_come_by_step_then_longest_wait() -> None:
    asks = [
        _ask(Status.INTRO_MADE, 20, request_id=1),
        _ask(Status.AWAITING_CONNECTOR, 9, request_id=2),
        _ask(Status.AWAITING_CONNECTOR, 15, request_id=3),
        _ask(Status.AWAITING_OWNER, 8, request_id=4),
    ]
    assert [s.ask.request_id for s in stuck_asks(asks, NOW)] == [4, 3, 2, 1]


def _funnel(asks: int, intros: int) -> Funnel:
    funnel = Funnel()
    funnel.counts["requested"], funnel.counts["intro_made"] = asks, intros
    return funnel


@pytest.mark.parametrize(
    ("funnels", "carried", "expected"),
    [
        # Most asks first.
        ({"A": (2, 2), "B": (5, 0)}, {}, ["B", "A"]),
        # Equal asks: most open now first, then most intros made, then a stable order.
        ({"A": (3, 0), "B": (3, 0)}, {"B": 2}, ["B", "A"]),
        ({"A": (3, 1), "B": (3, 2)}, {}, ["B", "A"]),
        ({"B": (3, 1), "A": (3, 1)}, {}, ["A", "B"]),
        # Nobody with no asks from the team; at most five.
        ({"A": (0, 0), "B": (1, 0)}, {}, ["B"]),
        ({k: (i + 1, 0) for i, k in enumerate("ABCDEFG")}, {}, list("GFEDC")),
    ],
)
def test_connectors_rank_by_asks_then_open_then_intros(
    funnels: dict[str, tuple[int, int]], carried: dict[str, int], expected: list[str]
) -> None:
    ranked = rank_connectors(
        {k: _funnel(*counts) for k, counts in funnels.items()}, Counter(carried)
    )
    assert [c.connector for c in ranked] == expected


def test_a_connectors_load_counts_asks_open_and_intros() -> None:
    (load,) = rank_connectors({"C1": _funnel(4, 2)}, Counter({"C1": 1}))
    assert load == ConnectorLoad("C1", asks=4, open=1, intros=2)


class Groups:
    def __init__(self, members: dict[str, list[str] | None]) -> None:
        self.members = members

    async def members_of(self, group_id: str) -> list[str] | None:
        return self.members[group_id]


async def test_a_teams_members_are_its_people_and_its_groups_members_now() -> None:
    team = Team("UM", ("UA",), (("S1", "sales-east"), ("S2", "sales-west")))
    found = await resolve(team, Groups({"S1": ["UB", "UA"], "S2": None}))
    assert found.ids == {"UA", "UB"}
    assert found.unread_groups == ["sales-west"]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine_for(database_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


def _account(owner: str, company: str) -> TargetAccount:
    return TargetAccount(
        team_id=TEAM,
        list_owner_id=owner,
        company=company,
        company_key=company_key(company),
        added_by=owner,
        added_at=NOW,
    )


def _contact(owner: str, name: str, company: str, *, lapsed: bool = False) -> Contact:
    return Contact(
        team_id=TEAM,
        owner_id=owner,
        identity_key=f"{name}|{company}",
        name=name,
        name_key=name.lower(),
        surname_key=name.split()[-1].lower(),
        company=company,
        company_key=company_key(company),
        lapsed_at=NOW if lapsed else None,
        created_at=NOW,
        updated_at=NOW,
    )


async def test_coverage_counts_the_teams_accounts_a_teammate_knows_someone_at(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions.begin() as session:
        session.add_all(
            [
                _account("UA", "Acme"),
                _account("UB", "Acme"),  # on two lists: one account
                _account("UA", "Globex"),
                _account("UB", "Initech"),
                _account("UB", "Umbrella"),
                _account("UZ", "Hooli"),  # not the team's
                _contact("UX", "Jane Doe", "Acme"),  # anyone in the workspace counts
                _contact("UX", "Hank Scorpio", "Globex", lapsed=True),  # no longer in touch
                _contact("UGONE", "Ann Poe", "Initech"),  # deactivated teammate
                _contact("UX", "Gavin Belson", "Hooli"),
                DepartedUser(team_id=TEAM, user_id="UGONE", departed_at=NOW),
            ]
        )
    teams = Teams(sessions, Attribution(sessions), Accounts(sessions, ManualClock(NOW)))
    team = await teams.set_team(TEAM, "UM", ["UA", "UB"], [], by="UADMIN", now=NOW)
    view = await teams.view(TEAM, team, await resolve(team, Groups({})), NOW)
    assert view.coverage == Coverage(4, 1)
    nobody = await teams.set_team(TEAM, "UN", [], [], by="UADMIN", now=NOW)
    assert (await teams.view(TEAM, nobody, await resolve(nobody, Groups({})), NOW)).coverage == (
        Coverage(0, 0)
    )


async def test_the_view_counts_only_the_teams_asks_and_says_which_are_stuck(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock(NOW)
    workflow = IntroWorkflow(sessions, clock)

    async def ask(requester: str, connector: str, target: str) -> int:
        draft = RequestDraft(
            requester=Teammate(requester, requester),
            connector=Teammate(connector),
            target_name=target,
            target_company="Acme",
            reason="r",
            blurb="b",
        )
        return (await workflow.submit(TEAM, draft, [])).request.id

    first = await ask("UA", "C1", "Jane Doe")
    await ask("UB", "C1", "John Roe")
    await ask("UOUT", "C2", "Ann Poe")  # not on the team
    clock.advance(timedelta(days=3))
    await workflow.act(TEAM, first, "C1", Action.ACCEPT)
    clock.advance(timedelta(days=6))  # 9 days after the asks, 6 after accepting

    teams = Teams(sessions, Attribution(sessions), Accounts(sessions, clock))
    team = await teams.set_team(TEAM, "UM", ["UA", "UB"], [], by="UADMIN", now=NOW)
    members = await resolve(team, Groups({}))
    view = await teams.view(TEAM, team, members, clock.now())
    assert view.funnel.counts["requested"] == 2 and view.funnel.counts["accepted"] == 1
    # The accepted ask moved 6 days ago; the other has waited on C1 for 9.
    assert [(s.ask.requester_id, s.step, s.waiting_on, s.days) for s in view.stuck] == [
        ("UB", Step.CONNECTOR, "C1", 9)
    ]
    assert view.connectors == [ConnectorLoad("C1", asks=2, open=2, intros=0)]
    assert await teams.team_of(TEAM, "UA") is None
    assert await teams.remove_team(TEAM, "UM") and await teams.team_of(TEAM, "UM") is None


async def test_forget_me_takes_a_person_off_teams_and_ends_the_team_they_manage(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from bot.intro.privacy import forget_me

    teams = Teams(sessions, Attribution(sessions), Accounts(sessions, ManualClock(NOW)))
    await teams.set_team(TEAM, "UM", ["UA", "UB"], [("S1", "east")], by="UADMIN", now=NOW)
    await teams.set_team(TEAM, "UA", ["UC"], [], by="UADMIN", now=NOW)
    await teams.remember_chart(TEAM, "UA", "hash", "F1", NOW)
    await forget_me(sessions, TEAM, "UA")
    assert await teams.team_of(TEAM, "UA") is None and await teams.chart(TEAM, "UA") is None
    assert await teams.team_of(TEAM, "UM") == Team("UM", ("UB",), (("S1", "east"),))
