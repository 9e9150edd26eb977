"""People are looked up one way: this process's memory, the stored profiles, then Slack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

import bot.intro.people
from bot.intro.clock import ManualClock
from bot.intro.people import People, Teammate
from bot.intro.profiles import Profiles
from storage.db import create_engine_for, make_sessionmaker
from tests.bot.intro.test_profiles import CARLOS, RIYA, TEAM, Rig

ADMIN = Teammate("U3", "Ana Admin", is_admin=True)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine_for(database_url)
    yield Rig(engine, ManualClock())
    await engine.dispose()


class Slack:
    """Slack as a PeopleSource: the people it knows, and who was asked about."""

    def __init__(self, *people: Teammate) -> None:
        self.people = {person.user_id: person for person in people}
        self.asked: list[str] = []
        self.listings = 0

    async def user(self, user_id: str) -> Teammate | None:
        self.asked.append(user_id)
        return self.people.get(user_id)

    async def members(self) -> AsyncIterator[list[Teammate]]:
        self.listings += 1
        yield list(self.people.values())


class Later:
    """Runs what a look-up leaves for after the ack, and lets a test wait for it."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []

    def __call__(self, work: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.create_task(work))

    async def done(self) -> None:
        await asyncio.gather(*self.tasks)


async def test_slack_is_asked_once_then_memory_answers(rig: Rig) -> None:
    people, slack = People(rig.replica()), Slack(RIYA)
    assert await people.look_up(slack, TEAM, "U1", "U9") == [RIYA, None]
    assert await people.look_up(slack, TEAM, "U1") == [RIYA]
    assert slack.asked == ["U1", "U9"]  # nobody unknown to Slack is remembered as known


async def test_the_stored_profiles_answer_before_slack(rig: Rig) -> None:
    profiles = rig.replica()
    await profiles.remember(TEAM, [RIYA, CARLOS])
    people, slack = People(profiles), Slack()
    assert await people.look_up(slack, TEAM, "U1", "U2") == [RIYA, CARLOS]
    assert slack.asked == []


async def test_what_slack_said_is_stored_and_the_members_listed_once(rig: Rig) -> None:
    profiles, later = rig.replica(), Later()
    people, slack = People(profiles), Slack(RIYA, CARLOS)
    assert await people.one(slack, TEAM, "U1", later=later) == RIYA
    await later.done()
    assert slack.listings == 1
    assert await profiles.known(TEAM, ["U1", "U2"]) == {"U1": RIYA, "U2": CARLOS}

    another = People(rig.replica())  # another replica, the same day: no second listing
    await another.one(Slack(RIYA), TEAM, "U1", later=later)
    await later.done()
    assert slack.listings == 1


async def test_memory_is_per_workspace_and_forgets_after_its_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    people, slack = People(None), Slack(RIYA)
    await people.one(slack, TEAM, "U1")
    await people.one(slack, "T2", "U1")  # another workspace's U1 is someone else
    await people.one(slack, TEAM, "U1")
    assert slack.asked == ["U1", "U1"]

    monkeypatch.setattr(bot.intro.people, "MEMORY_TTL", 0.0)
    forgetful, slack = People(None), Slack(RIYA)
    await forgetful.one(slack, TEAM, "U1")
    await forgetful.one(slack, TEAM, "U1")
    assert slack.asked == ["U1", "U1"]


async def test_memory_keeps_the_latest_answers_when_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.intro.people, "MEMORY_SIZE", 2)
    people = People(None)
    for person in (RIYA, CARLOS, ADMIN):
        people.keep(TEAM, person)
    assert people.remembered(TEAM, ["U1", "U2", "U3"]) == {"U2": CARLOS, "U3": ADMIN}


async def test_the_admin_check_asks_slack_over_a_stored_profile(rig: Rig) -> None:
    profiles = rig.replica()
    await profiles.remember(TEAM, [ADMIN])  # the stored profile does not say who is admin
    people, slack = People(profiles), Slack(ADMIN)
    assert await people.one(slack, TEAM, "U3") == ADMIN
    assert slack.asked == []
    assert await people.is_admin(slack, TEAM, "U3")
    assert await people.is_admin(slack, TEAM, "U3")
    assert slack.asked == ["U3"]  # then remembered, for a few minutes

    # Slack says they are admin no longer (user_change): believed at once.
    await people.changed(TEAM, Teammate("U3", "Ana Admin", is_admin=False))
    assert not await people.is_admin(slack, TEAM, "U3")
    assert not await people.is_admin(slack, TEAM, "U9")  # Slack doesn't know them


async def test_unreadable_stored_profiles_leave_slack_to_answer(rig: Rig) -> None:
    class Unreadable(Profiles):
        async def known(self, *_args: Any, **_kwargs: Any) -> dict[str, Teammate]:
            raise OperationalError("SELECT FROM profiles", {}, Exception("connection lost"))

    people, slack = People(Unreadable(make_sessionmaker(rig.engine), rig.clock)), Slack(RIYA)
    assert await people.one(slack, TEAM, "U1") == RIYA
    assert slack.asked == ["U1"]
