"""Teammates' profiles kept for every replica: fresh ones are read back, one replica lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.intro.clock import ManualClock
from bot.intro.directory import Directory
from bot.intro.people import LISTING_EVERY, LISTING_RETRY_AFTER, PROFILE_FRESH_FOR, People
from bot.intro.validation import Teammate
from storage.db import create_engine_for, make_sessionmaker

TEAM = "T1"
RIYA = Teammate(
    "U1", "Riya Patel", title="Partnerships", email="riya@northwind.test", tz="Asia/Kolkata"
)
CARLOS = Teammate("U2", "Carlos Mendes", tz="Europe/Lisbon")


@dataclass
class Rig:
    engine: AsyncEngine
    clock: ManualClock

    def replica(self) -> People:
        """Another process on the same database (each keeps its own memory of its tries)."""
        return People(make_sessionmaker(self.engine), self.clock)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine_for(database_url)
    yield Rig(engine, ManualClock())
    await engine.dispose()


async def test_what_slack_said_is_read_back_while_fresh(rig: Rig) -> None:
    people = rig.replica()
    await people.remember(TEAM, [RIYA, CARLOS])
    assert await people.known(TEAM, ["U1", "U2", "U3"]) == {"U1": RIYA, "U2": CARLOS}
    assert await people.known("T2", ["U1"]) == {}  # another workspace's U1 is someone else
    assert await people.known(TEAM, []) == {}

    rig.clock.advance(PROFILE_FRESH_FOR)
    assert await rig.replica().known(TEAM, ["U1"]) == {}  # asked of Slack again


async def test_the_newer_answer_wins(rig: Rig) -> None:
    people = rig.replica()
    await people.remember(TEAM, [RIYA])
    rig.clock.advance(PROFILE_FRESH_FOR / 2)
    left = Teammate("U1", "Riya Patel", deleted=True)
    await people.remember(TEAM, [left])
    rig.clock.advance(PROFILE_FRESH_FOR / 2)
    assert await people.known(TEAM, ["U1"]) == {"U1": left}  # fresh from the second answer


async def test_a_long_name_is_cut_to_fit(rig: Rig) -> None:
    people = rig.replica()
    await people.remember(TEAM, [Teammate("U9", "N" * 300, title="T" * 300)])
    (stored,) = (await people.known(TEAM, ["U9"])).values()
    assert (len(stored.name), len(stored.title)) == (200, 200)


async def test_one_replica_lists_a_workspace_once_a_day(rig: Rig) -> None:
    first, second = rig.replica(), rig.replica()
    assert await first.claim_listing(TEAM)
    assert not await second.claim_listing(TEAM)  # taken
    assert await second.claim_listing("T2")  # each workspace on its own
    rig.clock.advance(LISTING_EVERY)
    assert await rig.replica().claim_listing(TEAM)


async def test_a_failed_listing_is_tried_again_soon(rig: Rig) -> None:
    assert await rig.replica().claim_listing(TEAM)
    await rig.replica().listing_failed(TEAM)
    assert not await rig.replica().claim_listing(TEAM)
    rig.clock.advance(LISTING_RETRY_AFTER)
    assert await rig.replica().claim_listing(TEAM)


async def test_a_process_asks_the_database_for_a_listing_once_in_a_while(rig: Rig) -> None:
    people = rig.replica()
    assert await people.claim_listing(TEAM)
    rig.clock.advance(LISTING_EVERY)  # due again, but this process asked a moment ago
    assert not await people.claim_listing(TEAM)


async def test_forget_me_forgets_the_profile(rig: Rig) -> None:
    people = rig.replica()
    await people.remember(TEAM, [RIYA, CARLOS])
    directory = Directory(make_sessionmaker(rig.engine), rig.clock)
    await directory.forget_person(TEAM, "U1")
    assert await people.known(TEAM, ["U1", "U2"]) == {"U2": CARLOS}
