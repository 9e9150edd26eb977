"""The people of a workspace as the bot knows them, looked up one way for everyone.

The listeners, delivery and the admin check ask `People`, which looks where it costs least:
this process's memory (a few minutes), then the profiles every replica shares (Profiles,
kept about a day), then Slack, through a `PeopleSource` the caller passes in (the Slack side
lives outside the domain: bot.delivery.slack_people).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

if TYPE_CHECKING:
    from bot.intro.profiles import Profiles

logger = logging.getLogger(__name__)

# How long this process trusts what it was told of someone: Slack's answers change rarely,
# and user_change events update the memory at once; a few minutes spare Slack (and a
# submission's 3-second ack) a call per person per request.
MEMORY_TTL = 300.0
MEMORY_SIZE = 10_000

# Runs work after the caller has answered Slack (Services.in_background).
Later = Callable[[Coroutine[Any, Any, None]], None]


@dataclass(frozen=True)
class Teammate:
    """What the workflow needs to know of a Slack user."""

    user_id: str
    name: str = ""
    is_bot: bool = False
    deleted: bool = False
    title: str = ""  # from their Slack profile, for the intro email
    email: str = ""
    tz: str = ""  # their time zone (IANA name), to name a day as they live it
    # Whether they administer the workspace; None where the answer did not say (a stored
    # profile). Not part of who they are: two answers about one person compare equal.
    is_admin: bool | None = field(default=None, compare=False)


class PeopleSource(Protocol):
    """Where people are asked about when nobody here knows them: Slack."""

    async def user(self, user_id: str) -> Teammate | None:
        """One person as Slack has them now; None when Slack does not know them."""

    def members(self) -> AsyncIterator[list[Teammate]]:
        """Everyone in the workspace, a page at a time."""


class People:
    def __init__(self, profiles: Profiles | None) -> None:
        self._profiles = profiles
        # (team, user) -> (expires at, on time.monotonic(), what was said of them).
        self._memory: dict[tuple[str, str], tuple[float, Teammate]] = {}

    def keep(self, team_id: str, person: Teammate) -> None:
        key = (team_id, person.user_id)
        self._memory.pop(key, None)
        if len(self._memory) >= MEMORY_SIZE:
            del self._memory[next(iter(self._memory))]  # the oldest answer
        self._memory[key] = (time.monotonic() + MEMORY_TTL, person)

    def remembered(self, team_id: str, user_ids: Iterable[str]) -> dict[str, Teammate]:
        """Those of `user_ids` this process was told of in the last MEMORY_TTL seconds."""
        now = time.monotonic()
        found: dict[str, Teammate] = {}
        for user_id in user_ids:
            kept = self._memory.get((team_id, user_id))
            if kept is not None and kept[0] > now:
                found[user_id] = kept[1]
        return found

    async def look_up(
        self,
        source: PeopleSource,
        team_id: str,
        *user_ids: str,
        stored: dict[str, Teammate] | None = None,
        later: Later | None = None,
    ) -> list[Teammate | None]:
        """Each of `user_ids` (None: Slack does not know them), from memory, then the stored
        profiles (one read for all; `stored` when the caller has read them already, as a
        submission's review does), then the source. With `later`, what the source answered
        is stored, and the workspace's members listed when due, after the caller's ack."""
        found: dict[str, Teammate | None] = dict(self.remembered(team_id, user_ids))
        missing = [user_id for user_id in dict.fromkeys(user_ids) if user_id not in found]
        if not missing:
            return [found[user_id] for user_id in user_ids]
        if stored is None:
            stored = await self._stored(team_id, missing)
        for person in stored.values():
            self.keep(team_id, person)
        found.update(stored)
        asked = [user_id for user_id in missing if user_id not in found]
        said_at = self._profiles.now() if self._profiles is not None else None
        answers = list(await asyncio.gather(*(self._ask(source, team_id, uid) for uid in asked)))
        found.update(zip(asked, answers, strict=True))
        if later is not None and said_at is not None:
            self._store_later(source, team_id, answers, said_at, later)
        return [found[user_id] for user_id in user_ids]

    async def one(
        self, source: PeopleSource, team_id: str, user_id: str, *, later: Later | None = None
    ) -> Teammate | None:
        (person,) = await self.look_up(source, team_id, user_id, later=later)
        return person

    async def recall(self, team_id: str, user_ids: Iterable[str]) -> None:
        """Bring the stored profiles of `user_ids` into memory in one read, ahead of a batch
        that looks them up one by one (reminders due together)."""
        missing = set(user_ids) - set(self.remembered(team_id, user_ids))
        for person in (await self._stored(team_id, missing)).values():
            self.keep(team_id, person)

    async def is_admin(self, source: PeopleSource, team_id: str, user_id: str) -> bool:
        """Whether they administer the workspace. The stored profiles do not keep it: a
        privilege is asked of Slack and trusted only for MEMORY_TTL (or until a user_change
        says otherwise), where a stored profile may lag a day behind a demotion."""
        person = self.remembered(team_id, [user_id]).get(user_id)
        if person is None or person.is_admin is None:
            person = await self._ask(source, team_id, user_id)
        return bool(person is not None and person.is_admin)

    async def changed(self, team_id: str, person: Teammate) -> None:
        """Slack said how someone is now (they joined, or changed): keep it."""
        self.keep(team_id, person)
        if self._profiles is not None:
            await self._profiles.remember(team_id, [person])

    async def list_members(self, source: PeopleSource, team_id: str) -> None:
        """Store every member's profile, a page at a time (a few calls for a team of
        thousands), unless a replica listed them lately or is listing them now. A listing
        cut short is taken up again when its lease lapses."""
        profiles = self._profiles
        if profiles is None or not await profiles.claim_listing(team_id):
            return
        started_at = asked_at = profiles.now()
        async for page in source.members():
            await profiles.remember(team_id, page, asked_at)
            asked_at = profiles.now()  # the next page is asked for now
        await profiles.listed(team_id, started_at)

    async def _ask(self, source: PeopleSource, team_id: str, user_id: str) -> Teammate | None:
        person = await source.user(user_id)
        if person is not None:
            self.keep(team_id, person)
        return person

    async def _stored(self, team_id: str, user_ids: Iterable[str]) -> dict[str, Teammate]:
        """The stored profiles of `user_ids`; none without a workspace, or when they cannot
        be read: the stored copy only spares Slack calls."""
        if not team_id or self._profiles is None:
            return {}
        try:
            return await self._profiles.known(team_id, user_ids)
        except SQLAlchemyError:
            logger.warning("stored profiles unreadable; asking Slack", exc_info=True)
            return {}

    def _store_later(
        self,
        source: PeopleSource,
        team_id: str,
        answers: list[Teammate | None],
        said_at: datetime,
        later: Later,
    ) -> None:
        assert self._profiles is not None
        answered = [person for person in answers if person is not None]
        listing = bool(team_id) and self._profiles.may_list(team_id)
        if team_id and (answered or listing):
            later(self._store(source, team_id, answered, said_at, listing=listing))

    async def _store(
        self,
        source: PeopleSource,
        team_id: str,
        answered: list[Teammate],
        said_at: datetime,
        *,
        listing: bool,
    ) -> None:
        assert self._profiles is not None
        try:
            await self._profiles.remember(team_id, answered, said_at)
            if listing:
                await self.list_members(source, team_id)
        except Exception:  # noqa: BLE001 - Slack answers meanwhile; the lease lapses
            logger.exception("could not store the profiles of workspace %s", team_id)
