"""Teammates' profiles as Slack last gave them, kept in the database for every replica.

A mirror of the workspace's member directory: filled from users.list (listed about once a day),
users.info (anyone not listed yet) and team_join / user_change events (current between
listings). A form's submission reads its two people here instead of asking Slack before its
3-second ack, and delivery reads the time zones its reminders need.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Row, String, bindparam, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.people import Teammate
from storage.db import execute_raw, fetch_all, on_postgres, one_statement
from storage.models import Profile, ProfileListing, UTCDateTime

# A profile this old is asked of Slack again: events keep it current, this bounds what a
# missed event (the app down when it came) can leave wrong.
PROFILE_FRESH_FOR = timedelta(days=1)
# How often a workspace's members are listed again: a little less than the above, so a
# listing renews the profiles before they go stale.
LISTING_EVERY = timedelta(hours=23)
# A listing's claim lasts this long: one that failed or was cut short (a crash, a shutdown)
# is taken up again by any replica after it.
LISTING_LEASE = timedelta(minutes=10)
# Rows per upsert: a users.list page (200) in one statement, well within SQLite's limit
# on bound parameters.
_BATCH = 500
# Built once, as the review's statement is (which reads a submission's people itself): it
# runs before acks and for each batch of reminders, where composing a select costs more than
# the read.
_KNOWN = (
    text(
        """
        SELECT user_id, name, is_bot, deleted, title, email, tz FROM profiles
        WHERE team_id = :team_id AND user_id IN :user_ids AND refreshed_at > :fresh_after
        """
    )
    .bindparams(
        bindparam("user_ids", type_=String(), expanding=True),
        bindparam("fresh_after", type_=UTCDateTime()),
    )
    .columns(is_bot=Boolean, deleted=Boolean)
)
_COLUMNS = ("name", "title", "email", "tz", "is_bot", "deleted", "refreshed_at")
# PostgreSQL's upsert of a batch, each column's values as one array: one statement built
# once, where a Core insert of many rows is put together and compiled again for each batch
# (about 9 bound values a row). An answer older than the one stored changes nothing.
_ARRAYS = (
    ("user_id", "TEXT"),
    ("name", "TEXT"),
    ("title", "TEXT"),
    ("email", "TEXT"),
    ("tz", "TEXT"),
    ("is_bot", "BOOLEAN"),
    ("deleted", "BOOLEAN"),
)
_REMEMBER = text(
    f"""
    INSERT INTO profiles (team_id, {", ".join(name for name, _ in _ARRAYS)}, refreshed_at)
    SELECT :team_id, said.*, :refreshed_at
    FROM unnest({", ".join(f"CAST(:{name} AS {sql}[])" for name, sql in _ARRAYS)}) AS said
    ON CONFLICT (team_id, user_id) DO UPDATE
    SET {", ".join(f"{column} = excluded.{column}" for column in _COLUMNS)}
    WHERE profiles.refreshed_at <= excluded.refreshed_at
    """
).bindparams(bindparam("refreshed_at", type_=UTCDateTime()))


def profile_from(row: Row[Any]) -> Teammate:
    """A stored profile, from a row with the profile's columns (this module's read, or the
    review's, which reads a submission's people with it)."""
    return Teammate(
        user_id=row.user_id,
        name=row.name,
        is_bot=row.is_bot,
        deleted=row.deleted,
        title=row.title,
        email=row.email,
        tz=row.tz,
    )


def _row(team_id: str, person: Teammate, said_at: datetime) -> dict[str, object]:
    if person.deleted:
        # Someone who left: only what refusing them on a form takes.
        person = Teammate(person.user_id, person.name, is_bot=person.is_bot, deleted=True)
    return {
        "team_id": team_id,
        "user_id": person.user_id,
        "name": person.name[:200],
        "title": person.title[:200],
        "email": person.email[:254],
        "tz": person.tz[:64],
        "is_bot": person.is_bot,
        "deleted": person.deleted,
        "refreshed_at": said_at,
    }


class Profiles:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._on_postgres = on_postgres(sessions)
        self._insert = postgresql.insert if self._on_postgres else sqlite.insert
        # Workspace -> when this process last asked whether a listing is due (monotonic).
        self._asked: dict[str, float] = {}

    def now(self) -> datetime:
        return self._clock.now()

    async def known(self, team_id: str, user_ids: Iterable[str]) -> dict[str, Teammate]:
        """The fresh profiles among `user_ids` (one read); the rest are not known here."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        params = {
            "team_id": team_id,
            "user_ids": wanted,
            "fresh_after": self._clock.now() - PROFILE_FRESH_FOR,
        }
        async with one_statement(self._sessions) as connection:
            rows = await fetch_all(connection, _KNOWN, params)
        return {row.user_id: profile_from(row) for row in rows}

    async def remember(
        self, team_id: str, people: Iterable[Teammate], said_at: datetime | None = None
    ) -> None:
        """Store what Slack said of these people at `said_at` (when the answer was asked for;
        now by default). An answer older than the one stored is dropped: a users.list page
        asked for before a deactivation must not bring the teammate back."""
        said_at = said_at or self._clock.now()
        rows = [_row(team_id, person, said_at) for person in people]
        if self._on_postgres:
            for start in range(0, len(rows), _BATCH):
                batch = rows[start : start + _BATCH]
                params: dict[str, Any] = {name: [r[name] for r in batch] for name, _ in _ARRAYS}
                params |= {"team_id": team_id, "refreshed_at": said_at}
                async with one_statement(self._sessions) as connection:
                    await execute_raw(connection, _REMEMBER, params)
            return
        for start in range(0, len(rows), _BATCH):
            statement = self._insert(Profile).values(rows[start : start + _BATCH])
            upsert = statement.on_conflict_do_update(
                index_elements=[Profile.team_id, Profile.user_id],
                set_={column: statement.excluded[column] for column in _COLUMNS},
                where=Profile.refreshed_at <= statement.excluded.refreshed_at,
            )
            async with self._sessions.begin() as session:
                await session.execute(upsert)

    def may_list(self, team_id: str) -> bool:
        """Whether to ask the database if a listing is due: once per LISTING_LEASE per
        process, so a look-up costs nothing more the rest of the time."""
        now = time.monotonic()
        if now < self._asked.get(team_id, float("-inf")) + LISTING_LEASE.total_seconds():
            return False
        self._asked[team_id] = now
        return True

    async def claim_listing(self, team_id: str) -> bool:
        """Whether this replica lists the workspace's members now: not listed within
        LISTING_EVERY, and no listing under way elsewhere. The claim is a lease
        (LISTING_LEASE); `listed` marks the listing done."""
        now = self._clock.now()
        leased_until = now - LISTING_EVERY + LISTING_LEASE
        async with self._sessions.begin() as session:
            inserted = await session.execute(
                self._insert(ProfileListing)
                .values(team_id=team_id, listed_at=leased_until)
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
                .values(listed_at=leased_until)
                .returning(ProfileListing.team_id)
            )
            return claimed.first() is not None

    async def listed(self, team_id: str, started_at: datetime) -> None:
        """A listing that started at `started_at` went through every page."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(ProfileListing)
                .where(ProfileListing.team_id == team_id)
                .values(listed_at=started_at)
            )
