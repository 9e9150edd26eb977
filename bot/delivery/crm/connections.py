"""A workspace's CRM connection, as its admins manage it from the Home tab: connect (the
credentials checked with the CRM, then sealed), disconnect, what it looks like now, and
trying a failed push again.

What an admin reads of each outcome (bot.intro.crm_admin.ConnectOutcome) is worded in one
template, templates/crm_modal.json.j2; nothing here is worded for a person.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from sqlalchemy import delete, desc, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.crm import (
    CrmAdapter,
    CrmError,
    CrmRateLimited,
    CrmUnauthorized,
    CrmUnavailable,
)
from bot.delivery.crm.adapters import adapter_for
from bot.delivery.crm.credentials import SecretBox
from bot.intro.clock import Clock
from bot.intro.crm import CrmVendor
from bot.intro.crm_admin import (
    FAILED_SHOWN,
    ConnectOutcome,
    ConnectResult,
    CrmState,
    FailedPush,
    PushTried,
)
from bot.settings import Settings
from storage.db import reading
from storage.models import (
    CrmConnection,
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
)

logger = logging.getLogger(__name__)

# How long the CRM may take to answer the check before the admin is told it did not answer.
CHECK_TIMEOUT = 30.0

# Builds the adapter for a vendor from its plain credentials (bot.delivery.crm.adapters).
AdapterFactory = Callable[[str, dict[str, Any]], CrmAdapter]


class PushChannel(Protocol):
    """What the CRM push channel (bot.delivery.crm.pushes) offers its admins' side."""

    async def resume(self, team_id: str) -> object:
        """The workspace connected again: its waiting pushes are due now."""
        ...

    async def retry(self, team_id: str, message_id: int) -> bool:
        """A failed push is tried again; whether there was such a push."""
        ...


class CrmConnections:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        *,
        adapters: AdapterFactory | None = None,
        channel: PushChannel | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._adapters = adapters or (
            lambda vendor, credentials: adapter_for(vendor, credentials, settings)
        )
        self._channel = channel
        secret_key = settings.INTROBOT_SECRET_KEY
        self._box = SecretBox(secret_key) if secret_key else None

    @property
    def set_in_settings(self) -> str | None:
        """The vendor the install's settings name, if any."""
        return self._settings.crm_from_env

    async def connect(
        self, team_id: str, vendor: str, credentials: dict[str, Any], by: str
    ) -> ConnectResult:
        """Check `credentials` with the CRM; when it takes them and has all introbot needs,
        seal them and store the connection (any pause cleared). Otherwise store nothing."""
        vendor = CrmVendor(vendor)
        if self.set_in_settings:
            return ConnectResult(ConnectOutcome.SET_IN_SETTINGS, vendor)
        if self._box is None:
            return ConnectResult(ConnectOutcome.NO_SECRET_KEY, vendor)
        try:
            adapter = self._adapters(vendor, credentials)
            async with asyncio.timeout(CHECK_TIMEOUT):
                missing = await adapter.check()
                account = "" if missing else await adapter.account()
        except CrmUnauthorized:
            return ConnectResult(ConnectOutcome.REFUSED, vendor)
        except (TimeoutError, CrmError) as exc:
            unanswered = isinstance(exc, TimeoutError | CrmRateLimited | CrmUnavailable)
            outcome = ConnectOutcome.NO_ANSWER if unanswered else ConnectOutcome.PROBLEM
            logger.info("crm check for %s: %s", team_id, type(exc).__name__)
            return ConnectResult(outcome, vendor, detail=str(exc))
        if missing:
            return ConnectResult(ConnectOutcome.MISSING, vendor, missing=tuple(missing))
        sealed = self._box.seal(credentials)
        async with self._sessions.begin() as session:
            row = await session.get(CrmConnection, team_id, with_for_update=True)
            if row is None:
                row = CrmConnection(team_id=team_id)
                session.add(row)
            row.vendor, row.credentials, row.account = vendor, sealed, account[:200]
            row.connected_by, row.connected_at = by, self._clock.now()
            row.paused_at = row.paused_reason = None
        if self._channel is not None:
            await self._channel.resume(team_id)
        return ConnectResult(ConnectOutcome.CONNECTED, vendor, account=account)

    async def disconnect(self, team_id: str) -> str | None:
        """Forget the workspace's connection and its credentials; the vendor it had."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(CrmConnection)
                .where(CrmConnection.team_id == team_id)
                .returning(CrmConnection.vendor)
            )
            return result.scalar_one_or_none()

    async def state(self, team_id: str, *, session: AsyncSession | None = None) -> CrmState:
        """The workspace's CRM, its last push tried and its latest failed pushes; read in
        `session` when given (the Home tab's)."""
        async with reading(self._sessions, session) as reader:
            row = await reader.get(CrmConnection, team_id)
            pushes = select(OutboundMessage).where(
                OutboundMessage.team_id == team_id,
                OutboundMessage.kind == MessageKind.CRM_PUSH,
            )
            last = await reader.scalar(
                pushes.where(OutboundMessage.attempts > 0)
                .order_by(desc(OutboundMessage.id))
                .limit(1)
            )
            failed = (
                await reader.execute(
                    select(OutboundMessage, IntroRequest.target_name)
                    .outerjoin(IntroRequest, IntroRequest.id == OutboundMessage.request_id)
                    .where(
                        OutboundMessage.team_id == team_id,
                        OutboundMessage.kind == MessageKind.CRM_PUSH,
                        OutboundMessage.status.in_(_FAILED),
                    )
                    .order_by(desc(OutboundMessage.id))
                    .limit(FAILED_SHOWN)
                )
            ).all()
        tried = PushTried(last.status, last.sent_at or last.due_at) if last is not None else None
        failures = tuple(
            FailedPush(message.id, name or "", message.last_error or "", message.due_at)
            for message, name in failed
        )
        can_connect = self._box is not None
        if row is not None:
            return CrmState(
                row.vendor,
                row.account,
                row.connected_by,
                row.connected_at,
                paused_at=row.paused_at,
                paused_reason=row.paused_reason,
                last_push=tried,
                failed=failures,
                can_connect=can_connect,
            )
        if self.set_in_settings:
            account = self._settings.INTROBOT_SALESFORCE_DOMAIN or ""
            return CrmState(
                self.set_in_settings,
                account,
                set_here=True,
                last_push=tried,
                failed=failures,
                can_connect=can_connect,
            )
        return CrmState(None, can_connect=can_connect)

    async def retry(self, team_id: str, message_id: int) -> bool:
        """Try a failed push of the workspace's again: the push channel's retry, or, until
        there is one, the row put back to pending, due now, its attempts counted afresh.
        Whether there was such a push."""
        if self._channel is not None:
            return await self._channel.retry(team_id, message_id)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == message_id,
                    OutboundMessage.team_id == team_id,
                    OutboundMessage.kind == MessageKind.CRM_PUSH,
                    OutboundMessage.status.in_(_FAILED),
                )
                .values(
                    status=DeliveryStatus.PENDING,
                    due_at=self._clock.now(),
                    attempts=0,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .returning(OutboundMessage.id)
            )
            return result.first() is not None


_FAILED = (DeliveryStatus.FAILED, DeliveryStatus.EXPIRED)
