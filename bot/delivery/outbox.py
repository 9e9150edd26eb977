"""The outbox's rows: claimed with a lease, put back for later, their results written.

Every replica claims from the same table; a lease (owner, expiry) says who is sending a row,
and a row whose lease lapsed (its sender died mid-send) is claimable again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CTE, ColumnElement, Table, bindparam, or_, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.workspaces import Workspaces
from bot.intro.clock import Clock
from storage.db import array_literal, execute_raw, on_postgres, one_statement, reading
from storage.models import DeliveryStatus, OutboundMessage, UTCDateTime

LEASE = timedelta(minutes=2)
# A send starts only with at least this much of its lease left (three times the delivery
# client's 10 s timeout); with less, the lease is extended first. Another replica takes a row
# over only once its lease lapsed, so a send never overlaps a takeover.
LEASE_MARGIN = timedelta(seconds=30)
# A transient failure (Slack's 5xx or 429, a timeout, a reset) is retried, never final: the
# waits double up to this cap, for as long as the message is worth sending.
RETRY_CAP = timedelta(minutes=15)
# After this long since it was written, a message still not sent is expired, not sent late:
# a card a week old asks about a request its requester has given up on.
WORTH_SENDING_FOR = timedelta(days=7)


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        owner: str,
        lease: timedelta = LEASE,
        workspaces: Workspaces | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._owner = owner
        self._lease = lease
        self._workspaces = workspaces
        self._postgres = on_postgres(sessions)

    async def claim(
        self,
        *,
        ids: list[int] | None = None,
        limit: int = 100,
        team: str | None = None,
        kinds: list[str] | None = None,
    ) -> list[OutboundMessage]:
        now = self._clock.now()
        limit = limit if ids is None else len(ids)
        pending = (OutboundMessage.status == DeliveryStatus.PENDING) & (
            OutboundMessage.due_at <= now
        )
        lapsed = (OutboundMessage.status == DeliveryStatus.SENDING) & (
            OutboundMessage.lease_expires_at < now
        )
        if self._workspaces is not None:
            # A paused or uninstalled workspace's messages wait where they are.
            waiting = OutboundMessage.team_id.not_in(self._workspaces.not_delivered_to())
            pending, lapsed = pending & waiting, lapsed & waiting
        if team is not None:
            mine = OutboundMessage.team_id == team
            pending, lapsed = pending & mine, lapsed & mine
        if kinds is not None:
            of_kind = OutboundMessage.kind.in_(kinds)
            pending, lapsed = pending & of_kind, lapsed & of_kind
        async with self._sessions.begin() as session:
            claim = update(OutboundMessage)
            if self._postgres:
                claim = claim.where(
                    OutboundMessage.id == _claimable(pending, lapsed, ids, limit).c.id
                )
            else:
                candidates = select(OutboundMessage.id).where(or_(pending, lapsed))
                if ids is not None:
                    candidates = candidates.where(OutboundMessage.id.in_(ids))
                candidates = candidates.order_by(OutboundMessage.due_at, OutboundMessage.id)
                claim = claim.where(
                    OutboundMessage.id.in_(candidates.limit(limit).scalar_subquery())
                )
            # The due condition is repeated in the UPDATE: on SQLite this compare-and-set is
            # what makes the claim atomic.
            result = await session.scalars(
                claim.where(or_(pending, lapsed))
                .values(
                    status=DeliveryStatus.SENDING,
                    lease_owner=self._owner,
                    lease_expires_at=now + self._lease,
                    attempts=OutboundMessage.attempts + 1,
                )
                .returning(OutboundMessage)
                .execution_options(synchronize_session=False)
            )
            return sorted(result.all(), key=lambda m: (m.due_at, m.id))

    async def teams_due(self) -> list[str]:
        """The workspaces with messages due (or leases lapsed): a skip scan over
        ix_outbound_messages_team_due, one step per workspace, not per message."""
        async with reading(self._sessions) as session:
            rows = await session.execute(_TEAMS_DUE, {"now": self._clock.now()})
            return sorted({team_id for (team_id,) in rows})

    async def write_results(self, results: list[Result]) -> None:
        """Record a batch of sends' results: one statement, committed on its own, on
        PostgreSQL; one transaction elsewhere. Only rows this process still holds change."""
        if self._postgres:
            async with one_statement(self._sessions) as connection:
                await execute_raw(
                    connection,
                    _WRITE_RESULTS,
                    {
                        "owner": self._owner,
                        "ids": array_literal([r.message_id for r in results]),
                        "statuses": array_literal([r.status for r in results]),
                        "channels": array_literal([r.channel for r in results]),
                        "tss": array_literal([r.ts for r in results]),
                        "errors": array_literal([r.error for r in results]),
                        "sent_ats": array_literal(
                            [None if r.sent_at is None else r.sent_at.isoformat() for r in results]
                        ),
                    },
                )
            return
        table = cast(Table, OutboundMessage.__table__)
        async with self._sessions.begin() as session:
            await session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("result_id"),
                    table.c.lease_owner == self._owner,
                    table.c.status == DeliveryStatus.SENDING,
                )
                .values(
                    status=bindparam("result_status"),
                    slack_channel_id=bindparam("result_channel"),
                    slack_ts=bindparam("result_ts"),
                    last_error=bindparam("result_error"),
                    sent_at=bindparam("result_sent_at"),
                    lease_expires_at=None,
                ),
                [
                    {
                        "result_id": r.message_id,
                        "result_status": str(r.status),
                        "result_channel": r.channel,
                        "result_ts": r.ts,
                        "result_error": r.error,
                        "result_sent_at": r.sent_at,
                    }
                    for r in results
                ],
            )

    async def extend(self, ids: list[int]) -> dict[int, datetime]:
        """A fresh lease on these rows, where this process still holds them: their new
        expiry by id. A row missing from the answer was taken over (its lease had lapsed)."""
        expires = self._clock.now() + self._lease
        async with self._sessions.begin() as session:
            held = await session.scalars(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(ids),
                    OutboundMessage.lease_owner == self._owner,
                    OutboundMessage.status == DeliveryStatus.SENDING,
                )
                .values(lease_expires_at=expires)
                .returning(OutboundMessage.id)
                .execution_options(synchronize_session=False)
            )
            return {message_id: expires for message_id in held.all()}

    async def reschedule(
        self, message: OutboundMessage, error: str, until: datetime, *, count_attempt: bool = True
    ) -> None:
        values: dict[str, Any] = {
            "status": DeliveryStatus.PENDING,
            "due_at": until,
            "last_error": error,
            "lease_expires_at": None,
        }
        if not count_attempt:
            values["attempts"] = OutboundMessage.attempts - 1
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == message.id,
                    OutboundMessage.lease_owner == self._owner,
                    OutboundMessage.status == DeliveryStatus.SENDING,
                )
                .values(**values)
            )


@dataclass(frozen=True)
class Result:
    """How a send ended, for its row."""

    message_id: int
    status: DeliveryStatus
    channel: str | None
    ts: str | None
    error: str | None
    sent_at: datetime | None


_WRITE_RESULTS = text(
    """
    UPDATE outbound_messages m SET status = r.status, slack_channel_id = r.channel,
        slack_ts = r.ts, last_error = r.error, sent_at = r.sent_at, lease_expires_at = NULL
    FROM unnest(CAST(:ids AS integer[]), CAST(:statuses AS text[]), CAST(:channels AS text[]),
        CAST(:tss AS text[]), CAST(:errors AS text[]), CAST(:sent_ats AS timestamptz[]))
        AS r(id, status, channel, ts, error, sent_at)
    WHERE m.id = r.id AND m.lease_owner = :owner AND m.status = 'sending'
    """
)


_TEAMS_DUE = text(
    """
    WITH RECURSIVE teams(team_id) AS (
        SELECT min(team_id) FROM outbound_messages WHERE status = 'pending'
        UNION ALL
        SELECT (
            SELECT min(m.team_id) FROM outbound_messages m
            WHERE m.status = 'pending' AND m.team_id > teams.team_id
        )
        FROM teams WHERE teams.team_id IS NOT NULL
    )
    SELECT team_id FROM teams
    WHERE team_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM outbound_messages m
        WHERE m.status = 'pending' AND m.team_id = teams.team_id AND m.due_at <= :now
    )
    UNION
    SELECT team_id FROM outbound_messages WHERE status = 'sending' AND lease_expires_at < :now
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def _claimable(
    pending: ColumnElement[bool], lapsed: ColumnElement[bool], ids: list[int] | None, limit: int
) -> CTE:
    """PostgreSQL: the first `limit` claimable rows, locked, skipping rows other replicas hold.

    Each way a row can be claimable is its own index-ordered, limited scan (pending rows by
    due_at; rows whose lease lapsed), merged afterwards. One scan with an OR would collect and
    sort every due row on every claim, so a claim would cost more the larger the backlog.
    The scans are MATERIALIZED CTEs: as an IN (subquery), PostgreSQL may run the LIMIT once per
    outer row and claim far more than a batch.
    """
    scans = []
    for name, condition in (("pending", pending), ("lapsed", lapsed)):
        scan = select(OutboundMessage.id, OutboundMessage.due_at).where(condition)
        if ids is not None:
            scan = scan.where(OutboundMessage.id.in_(ids))
        scans.append(
            scan.order_by(OutboundMessage.due_at, OutboundMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte(name)
            .prefix_with("MATERIALIZED")
        )
    either = union_all(*(select(scan.c.id, scan.c.due_at) for scan in scans)).subquery("either")
    return select(either.c.id).order_by(either.c.due_at, either.c.id).limit(limit).cte("claimable")


def backoff(attempts: int) -> timedelta:
    """How long a failed send waits before its next try: doubling from a second, jittered,
    never more than RETRY_CAP."""
    base = min(RETRY_CAP.total_seconds(), 2.0 ** min(30, max(0, attempts - 1)))
    return min(RETRY_CAP, timedelta(seconds=base * random.uniform(0.5, 1.5)))


def worth_sending_until(message: OutboundMessage, span: timedelta = WORTH_SENDING_FOR) -> datetime:
    """The last moment a message may still go out (`span` after it was written); later, it is
    expired."""
    return message.created_at + span


class LeaseLost(Exception):
    """Another replica took this message over: this one must not send it."""


class NotYet(Exception):
    """Not now: the message depends on something not there yet, or waits for working hours."""

    def __init__(self, why: str, until: datetime) -> None:
        super().__init__(why)
        self.until = until


class Moot(Exception):
    """The message no longer makes sense: its request moved on."""
