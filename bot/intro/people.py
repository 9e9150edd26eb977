"""Teammates' profiles as Slack last gave them, kept in the database for every replica.

Filled from users.list (a workspace's members, listed at most once a day), users.info (anyone
not listed yet) and user_change / team_join events (kept current between listings). A form's
submission reads its two people here instead of asking Slack before its 3-second ack.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.validation import Teammate
from storage.db import on_postgres, reading
from storage.models import Profile, ProfileListing

# A profile this old is asked of Slack again: events keep it current, this bounds what a
# missed event can leave wrong.
PROFILE_FRESH_FOR = timedelta(days=1)
# How often a workspace's members are listed again (a little less than the above, so a
# listing renews profiles before they go stale).
LISTING_EVERY = timedelta(hours=23)
# A listing that failed half-way is tried again after this long, not a day later.
LISTING_RETRY_AFTER = timedelta(minutes=10)
_BATCH = 500  # rows per upsert statement


def _row(team_id: str, person: Teammate, now: datetime) -> dict[str, object]:
    return {
        "team_id": team_id,
        "user_id": person.user_id,
        "name": person.name[:200],
        "title": person.title[:200],
        "email": person.email[:254],
        "tz": person.tz[:64],
        "is_bot": person.is_bot,
        "deleted": person.deleted,
        "refreshed_at": now,
    }


class People:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._insert = postgresql.insert if on_postgres(sessions) else sqlite.insert
        self._tried: dict[str, float] = {}  # team -> when this process last tried to claim

    async def known(self, team_id: str, user_ids: Iterable[str]) -> dict[str, Teammate]:
        """The fresh profiles among `user_ids` (one read); the rest are not known here."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(
                    Profile.user_id,
                    Profile.name,
                    Profile.is_bot,
                    Profile.deleted,
                    Profile.title,
                    Profile.email,
                    Profile.tz,
                ).where(
                    Profile.team_id == team_id,
                    Profile.user_id.in_(wanted),
                    Profile.refreshed_at > self._clock.now() - PROFILE_FRESH_FOR,
                )
            )
            return {row.user_id: Teammate(**row._mapping) for row in rows}

    async def remember(self, team_id: str, people: Iterable[Teammate]) -> None:
        """Store what Slack just said of these people (the newer answer wins)."""
        rows = [_row(team_id, person, self._clock.now()) for person in people]
        for start in range(0, len(rows), _BATCH):
            statement = self._insert(Profile).values(rows[start : start + _BATCH])
            columns = ("name", "title", "email", "tz", "is_bot", "deleted", "refreshed_at")
            upsert = statement.on_conflict_do_update(
                index_elements=[Profile.team_id, Profile.user_id],
                set_={column: statement.excluded[column] for column in columns},
            )
            async with self._sessions.begin() as session:
                await session.execute(upsert)

    async def claim_listing(self, team_id: str) -> bool:
        """Whether this replica should list the workspace's members now: not listed within
        LISTING_EVERY, and no other replica just took it. The claim is the listing's mark."""
        tried = time.monotonic()
        if tried < self._tried.get(team_id, -LISTING_RETRY_AFTER.total_seconds()) + (
            LISTING_RETRY_AFTER.total_seconds()
        ):
            return False  # asked the database a moment ago: every miss need not ask again
        self._tried[team_id] = tried
        now = self._clock.now()
        async with self._sessions.begin() as session:
            inserted = await session.execute(
                self._insert(ProfileListing)
                .values(team_id=team_id, listed_at=now)
                .on_conflict_do_nothing(index_elements=[ProfileListing.team_id])
                .returning(ProfileListing.team_id)
            )
            if inserted.first() is not None:
                return True
            claimed = await session.execute(
                update(ProfileListing)
                .where(
                    ProfileListing.team_id == team_id,
                    ProfileListing.listed_at <= now - LISTING_EVERY,
                )
                .values(listed_at=now)
                .returning(ProfileListing.team_id)
            )
            return claimed.first() is not None

    async def listing_failed(self, team_id: str) -> None:
        """A listing stopped half-way: let it be claimed again after LISTING_RETRY_AFTER."""
        retry_at = self._clock.now() - LISTING_EVERY + LISTING_RETRY_AFTER
        async with self._sessions.begin() as session:
            await session.execute(
                update(ProfileListing)
                .where(ProfileListing.team_id == team_id)
                .values(listed_at=retry_at)
            )
