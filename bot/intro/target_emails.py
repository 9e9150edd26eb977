"""The target's email a connector may give with "intro made": asked for only when the
workspace has a CRM to push it to, and not kept in plain text for long.

The email is a third party's, given for one purpose: the CRM record of the person who agreed
to meet. The CRM push reads it and then keeps only its keyed hash
(`bot.intro.privacy.email_fingerprint`). When no push is left to use it (the CRM was
disconnected before the push ran, the push gave up), the sweep does the same a day after it
was given: `TargetEmails.let_go`. Nothing else reads the column.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.privacy import email_fingerprint
from storage.models import (
    CrmConnection,
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
)

# How long a target's email is kept in plain text when no CRM push waits to use it.
KEEP_FOR = timedelta(days=1)
# A replica looks for emails to let go of this often at most (the sweep runs every few
# seconds).
LOOK_EVERY = timedelta(minutes=10)
# Rows handled in one transaction.
BATCH = 200
# A push row in one of these may still read the email.
_WAITING = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


class TargetEmails:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        hash_key: bytes | None,
        *,
        crm_everywhere: bool = False,
        keep_for: timedelta = KEEP_FOR,
        look_every: timedelta = LOOK_EVERY,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._hash_key = hash_key
        # The install's settings name a CRM (its one workspace's): bot.settings.crm_from_env.
        self._crm_everywhere = crm_everywhere
        self._keep_for = keep_for
        self._look_every = look_every
        self._looked_at: datetime | None = None

    async def wanted(self, team_id: str) -> bool:
        """Whether the connector is asked for the target's email: the workspace has a CRM
        (connected by an admin, or named in the install's settings)."""
        if self._crm_everywhere:
            return True
        async with self._sessions() as session:
            found = await session.scalar(
                select(CrmConnection.team_id).where(CrmConnection.team_id == team_id)
            )
        return found is not None

    async def let_go_when_due(self) -> int:
        """`let_go`, unless this process did so lately (the sweep calls it every tick)."""
        now = self._clock.now()
        if self._looked_at is not None and now - self._looked_at < self._look_every:
            return 0
        self._looked_at = now
        return await self.let_go()

    async def let_go(self) -> int:
        """Every target's email given more than `keep_for` ago that no CRM push waits to use
        becomes its keyed hash (or, with no key, goes). Returns how many went."""
        cutoff = self._clock.now() - self._keep_for
        waiting = exists().where(
            OutboundMessage.request_id == IntroRequest.id,
            OutboundMessage.kind == MessageKind.CRM_PUSH,
            OutboundMessage.status.in_(_WAITING),
        )
        given_at = func.coalesce(IntroRequest.intro_made_at, IntroRequest.updated_at)
        done = 0
        while True:
            async with self._sessions.begin() as session:
                rows = (
                    await session.execute(
                        select(IntroRequest.id, IntroRequest.target_email)
                        .where(
                            IntroRequest.target_email.is_not(None),
                            given_at <= cutoff,
                            ~waiting,
                        )
                        .order_by(IntroRequest.id)
                        .limit(BATCH)
                    )
                ).all()
                for request_id, email in rows:
                    fingerprint = (
                        email_fingerprint(self._hash_key, email)
                        if self._hash_key is not None and email and email.strip()
                        else None
                    )
                    values: dict[str, str | None] = {"target_email": None}
                    if fingerprint is not None:
                        values["target_email_hash"] = fingerprint
                    await session.execute(
                        update(IntroRequest)
                        .where(
                            IntroRequest.id == request_id,
                            IntroRequest.target_email == email,
                        )
                        .values(**values)
                        .execution_options(synchronize_session=False)
                    )
            done += len(rows)
            if len(rows) < BATCH:
                return done
