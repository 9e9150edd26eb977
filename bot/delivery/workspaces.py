"""Each workspace's delivery state, in the database so every replica sees it at once.

A workspace with no row (or an `active` one) is delivered to. `paused` means the app's own
token failed (invalid_auth, token_revoked, account_inactive, not_authed): its messages wait,
pending, until the token works again. `uninstalled` means Slack told us the app was removed:
its messages wait until it is installed again, and its data is deleted after the retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Delete,
    Select,
    Table,
    and_,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from storage.models import Base, Workspace, WorkspaceStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkspaceKey:
    """How to find a workspace's installation: by team, or by its Grid org."""

    team_id: str
    enterprise_id: str | None = None
    is_enterprise_install: bool = False


# A workspace whose token stopped working is deleted like an uninstalled one, but never sooner
# than this: a retention of 0 must not delete a workspace over a token that fails for a day.
PAUSED_AT_LEAST = timedelta(days=7)


class Workspaces:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        # Teams whose row (and Grid org) this process has already recorded.
        self._known: set[tuple[str, str | None, bool]] = set()

    @staticmethod
    def not_delivered_to() -> Select[str]:
        """Teams whose messages must wait, for the dispatcher's claim (a subquery)."""
        return select(Workspace.team_id).where(Workspace.status != WorkspaceStatus.ACTIVE)

    async def remember(
        self, team_id: str, enterprise_id: str | None, is_enterprise_install: bool
    ) -> None:
        """Record a team's Grid org as seen on a request, so its installation can be found
        when a message is sent later. Leaves the status alone."""
        seen = (team_id, enterprise_id, is_enterprise_install)
        if not team_id or seen in self._known:
            return
        async with self._sessions.begin() as session:
            await self._ensure_row(session, team_id)
            await session.execute(
                update(Workspace)
                .where(Workspace.team_id == team_id)
                .values(enterprise_id=enterprise_id, is_enterprise_install=is_enterprise_install)
            )
        self._known.add(seen)

    async def _ensure_row(self, session: AsyncSession, team_id: str) -> None:
        """An active row for the team unless there is one; replicas may race to add it."""
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        await session.execute(
            insert(Workspace)
            .values(
                team_id=team_id,
                is_enterprise_install=False,
                status=WorkspaceStatus.ACTIVE,
                changed_at=self._clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["team_id"])
        )

    async def key(self, team_id: str) -> WorkspaceKey:
        async with self._sessions() as session:
            row = await session.get(Workspace, team_id)
        if row is None:
            return WorkspaceKey(team_id)
        return WorkspaceKey(team_id, row.enterprise_id, row.is_enterprise_install)

    async def pause(self, team_id: str, reason: str) -> bool:
        """Stop delivery to a workspace whose token failed. True if it was delivered to
        until now (so the caller logs it once, not once per message)."""
        return await self._set(team_id, WorkspaceStatus.PAUSED, reason, only_from_active=True)

    async def uninstalled(self, team_id: str, reason: str) -> bool:
        return await self._set(team_id, WorkspaceStatus.UNINSTALLED, reason)

    async def uninstalled_org(self, enterprise_id: str, reason: str) -> None:
        """An org-wide install was removed: every workspace of the org we know of."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Workspace)
                .where(Workspace.enterprise_id == enterprise_id)
                .values(
                    status=WorkspaceStatus.UNINSTALLED,
                    reason=reason,
                    changed_at=self._clock.now(),
                    uninstalled_at=self._clock.now(),
                )
            )

    async def resume(self, team_id: str) -> bool:
        """Deliver to the workspace again (reinstalled, or its token works). True if it was
        paused or uninstalled."""
        return await self._set(team_id, WorkspaceStatus.ACTIVE, None)

    async def resume_org(self, enterprise_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Workspace)
                .where(Workspace.enterprise_id == enterprise_id)
                .values(
                    status=WorkspaceStatus.ACTIVE,
                    reason=None,
                    changed_at=self._clock.now(),
                    uninstalled_at=None,
                )
            )

    async def paused(self) -> dict[str, str]:
        """Workspaces not delivered to, with the reason."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Workspace.team_id, Workspace.status, Workspace.reason).where(
                    Workspace.status != WorkspaceStatus.ACTIVE
                )
            )
            return {team: f"{status}: {reason or 'unknown'}" for team, status, reason in rows}

    async def not_active(self) -> list[str]:
        """Workspaces paused or uninstalled, whose token may work again."""
        async with self._sessions() as session:
            found = await session.scalars(
                select(Workspace.team_id).where(Workspace.status != WorkspaceStatus.ACTIVE)
            )
            return list(found)

    async def forget_uninstalled(self, retention: timedelta) -> list[str]:
        """Delete every row of each workspace uninstalled longer ago than the retention, or
        paused that long on a token that stopped working (uninstalled without Slack saying
        so: its data goes as an uninstalled workspace's would, and it is no longer probed)."""
        now = self._clock.now()
        cutoff = now - retention
        paused_cutoff = now - max(retention, PAUSED_AT_LEAST)
        async with self._sessions() as session:
            due = list(
                await session.scalars(select(Workspace.team_id).where(_gone(cutoff, paused_cutoff)))
            )
        for team_id in due:
            await self._forget(team_id, cutoff, paused_cutoff)
        return due

    async def _forget(self, team_id: str, cutoff: datetime, paused_cutoff: datetime) -> None:
        async with self._sessions.begin() as session:
            # Still uninstalled, and not since reinstalled by another replica.
            still = await session.scalar(
                select(Workspace.team_id)
                .where(Workspace.team_id == team_id, _gone(cutoff, paused_cutoff))
                .with_for_update()
            )
            if still is None:
                return
            # Children before parents; every table keyed by team_id, the stored
            # installations included.
            for table in reversed(Base.metadata.sorted_tables):
                if "team_id" in table.c and table.name != Workspace.__tablename__:
                    await session.execute(_rows_of(table, team_id))
            await session.execute(delete(Workspace).where(Workspace.team_id == team_id))
        self._known = {seen for seen in self._known if seen[0] != team_id}
        logger.warning("deleted the data of uninstalled or unreachable workspace %s", team_id)

    async def _set(
        self,
        team_id: str,
        status: WorkspaceStatus,
        reason: str | None,
        *,
        only_from_active: bool = False,
    ) -> bool:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            if status is not WorkspaceStatus.ACTIVE:
                await self._ensure_row(session, team_id)
            row = await session.get(Workspace, team_id, with_for_update=True)
            if row is None:
                return False
            if row.status == status or (only_from_active and row.status != WorkspaceStatus.ACTIVE):
                return False
            row.status, row.reason, row.changed_at = status, reason, now
            row.uninstalled_at = now if status is WorkspaceStatus.UNINSTALLED else None
            return True


def _gone(cutoff: datetime, paused_cutoff: datetime) -> ColumnElement[bool]:
    """Uninstalled since before `cutoff`, or paused on its token since before `paused_cutoff`."""
    return or_(
        and_(Workspace.status == WorkspaceStatus.UNINSTALLED, Workspace.uninstalled_at <= cutoff),
        and_(Workspace.status == WorkspaceStatus.PAUSED, Workspace.changed_at <= paused_cutoff),
    )


def _rows_of(table: Table, team_id: str) -> Delete:
    return delete(table).where(table.c.team_id == team_id)
