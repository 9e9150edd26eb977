"""Teammates' profiles kept for every replica: fresh ones are read back, one replica lists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.intro.clock import ManualClock
from bot.intro.directory import Directory
from bot.intro.people import Teammate
from bot.intro.profiles import LISTING_EVERY, LISTING_LEASE, PROFILE_FRESH_FOR, Profiles
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

    def replica(self) -> Profiles:
        """Another process on the same database (each keeps its own memory of its tries)."""
        return Profiles(make_sessionmaker(self.engine), self.clock)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine_for(database_url)
    yield Rig(engine, ManualClock())
    await engine.dispose()


async def test_what_slack_said_is_read_back_while_fresh(rig: Rig) -> None:
    profiles = rig.replica()
    await profiles.remember(TEAM, [RIYA, CARLOS])
    assert await profiles.known(TEAM, ["U1", "U2", "U3"]) == {"U1": RIYA, "U2": CARLOS}
    assert await profiles.known("T2", ["U1"]) == {}  # another workspace's U1 is someone else
    assert await profiles.known(TEAM, []) == {}

    rig.clock.advance(PROFILE_FRESH_FOR)
    assert await rig.replica().known(TEAM, ["U1"]) == {}  # asked of Slack again


async def test_an_answer_older_than_the_stored_one_is_dropped(rig: Rig) -> None:
    profiles = rig.replica()
    asked_for_a_page = rig.clock.now()
    rig.clock.advance(PROFILE_FRESH_FOR / 2)
    left = Teammate("U1", "Riya Patel", title="Partnerships", email="riya@x.test", deleted=True)
    await profiles.remember(TEAM, [left])  # user_change: she was deactivated
    await profiles.remember(TEAM, [RIYA], asked_for_a_page)  # a users.list page from before
    # What is kept of someone who left: enough to refuse them on a form.
    assert await profiles.known(TEAM, ["U1"]) == {"U1": Teammate("U1", "Riya Patel", deleted=True)}
    rig.clock.advance(PROFILE_FRESH_FOR / 2)
    await profiles.remember(TEAM, [RIYA])  # brought back
    assert await profiles.known(TEAM, ["U1"]) == {"U1": RIYA}


async def test_a_long_name_is_cut_to_fit(rig: Rig) -> None:
    profiles = rig.replica()
    await profiles.remember(TEAM, [Teammate("U9", "N" * 300, title="T" * 300)])
    (stored,) = (await profiles.known(TEAM, ["U9"])).values()
    assert (len(stored.name), len(stored.title)) == (200, 200)


async def test_one_replica_lists_a_workspace_once_a_day(rig: Rig) -> None:
    first, second = rig.replica(), rig.replica()
    assert await first.claim_listing(TEAM)
    assert not await second.claim_listing(TEAM)  # under way
    assert await second.claim_listing("T2")  # each workspace on its own
    started_at = rig.clock.now()
    rig.clock.advance(LISTING_LEASE)
    await first.listed(TEAM, started_at)
    assert not await second.claim_listing(TEAM)  # done: not again today
    rig.clock.advance(LISTING_EVERY - LISTING_LEASE)
    assert await second.claim_listing(TEAM)


async def test_a_listing_cut_short_is_taken_up_after_its_lease(rig: Rig) -> None:
    assert await rig.replica().claim_listing(TEAM)  # and never marked listed
    rig.clock.advance(LISTING_LEASE / 2)
    assert not await rig.replica().claim_listing(TEAM)
    rig.clock.advance(LISTING_LEASE / 2)
    assert await rig.replica().claim_listing(TEAM)


def test_a_process_asks_whether_a_listing_is_due_once_in_a_while(rig: Rig) -> None:
    profiles = rig.replica()
    assert profiles.may_list(TEAM)
    assert not profiles.may_list(TEAM)
    assert profiles.may_list("T2")


async def test_forget_me_forgets_the_profile(rig: Rig) -> None:
    profiles = rig.replica()
    await profiles.remember(TEAM, [RIYA, CARLOS])
    directory = Directory(make_sessionmaker(rig.engine), rig.clock)
    await directory.forget_person(TEAM, "U1")
    assert await profiles.known(TEAM, ["U1", "U2"]) == {"U2": CARLOS}
