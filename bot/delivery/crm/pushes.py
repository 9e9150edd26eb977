"""Intros pushed to a workspace's CRM: the outbox's channel for CRM_PUSH rows.

The workflow writes a row with each stage an intro reaches (bot.intro.crm), in the change's own
transaction; this channel sends it through the workspace's adapter (bot.delivery.crm), with the
outbox's lease, retries and expiry. What the CRM answers decides what becomes of the row:

- taken: the record's ids are kept on the request (later stages update that record), and once
  the intro (or cold approach) is pushed the target's email is kept only as its keyed hash;
- credentials refused (a 401): the workspace's connection is paused, the admin who connected it
  hears so once, and its pushes wait, none lost, until it is connected again (`resume`);
- asked to wait (a 429): tried again when the CRM said;
- unavailable (a 5xx, no answer): tried again with backoff, for up to 30 days;
- rejected (a field the CRM lacks): the row fails, with the CRM's reason, until an admin
  presses Retry (`retry`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.channels import Failed, Refused
from bot.delivery.crm import (
    CrmAdapter,
    CrmIds,
    CrmRateLimited,
    CrmRejected,
    CrmUnauthorized,
    CrmUnavailable,
)
from bot.delivery.crm.adapters import adapter_for, credentials_from_settings
from bot.delivery.crm.credentials import SecretBox, UnreadableCredentials
from bot.delivery.outbox import Moot, NotYet
from bot.intro.clock import Clock
from bot.intro.crm import (
    CRM_PAUSED,
    PAUSED_REFUSED,
    PAUSED_UNREADABLE,
    VENDOR_LABEL,
    CrmRecord,
    CrmStage,
    crm_record,
)
from bot.intro.privacy import email_fingerprint
from bot.intro.states import Status
from bot.observability.metrics import Metrics
from bot.settings import Settings
from storage.db import reading
from storage.models import (
    CrmConnection,
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    RequestEvent,
)

logger = logging.getLogger(__name__)

# A push is still worth making long after its stage: a paused connection may wait days for an
# admin, and the CRM's record is as true then as now.
WORTH_SENDING_FOR = timedelta(days=30)
# How often a paused workspace's pushes look again whether it was connected again (resume()
# makes them due at once; this is for a connection mended some other way).
PAUSED_RECHECK = timedelta(minutes=15)
# A row whose request is not visible yet (written by a replica still committing) waits this
# long; after NOT_VISIBLE_FOR, the request is taken to be gone (the workspace's data deleted).
NOT_VISIBLE_WAIT = timedelta(seconds=5)
NOT_VISIBLE_FOR = timedelta(minutes=1)
# A stage whose request's earlier stage is still to be pushed looks again after this long (or
# when that push is due, if later).
EARLIER_STAGE_WAIT = timedelta(seconds=5)
# The stages whose push is the last use of the target's email (bot.intro.crm): after them the
# request keeps only its keyed hash.
EMAIL_USED_BY = frozenset({CrmStage.INTRO_MADE, CrmStage.WENT_COLD})
# Workspaces' adapters kept built at once, the least recently used dropped beyond this.
ADAPTERS_KEPT = 256
# The admin's notice of a pause: once per pause (its time is in the key).
PAUSED_KEY = "crm_paused:{at}"

AdapterFactory = Callable[[str, dict[str, Any], Settings], CrmAdapter]


@dataclass(frozen=True)
class Connection:
    """A workspace's CRM as the channel sends to it."""

    vendor: str
    credentials: dict[str, Any] | None  # None: stored, but not readable with this key
    stored: bool  # connected by an admin (a crm_connections row), not set in the settings
    connected_at: datetime | None
    paused: bool


def record_of(request: IntroRequest, stage: CrmStage, at: datetime) -> CrmRecord:
    """What the CRM is told of `request` at `stage`, reached at `at`."""
    cold = (
        request.went_cold_at is not None
        or request.status == Status.WENT_COLD
        or (not request.connector_id and not request.connector_outside)
    )
    return crm_record(
        team_id=request.team_id,
        request_id=request.id,
        stage=stage,
        at=at,
        target_name=request.target_name,
        target_company=request.target_company,
        target_role=request.target_role,
        target_email=request.target_email,
        requester_name=request.requester_name,
        connector_name=request.connector_name,
        cold=cold,
    )


class CrmPushes:
    """Each workspace's CRM (connected by its admin, else the one set for the install), and
    the channel that pushes its intros there."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        settings: Settings,
        *,
        adapters: AdapterFactory = adapter_for,
        metrics: Metrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._settings = settings
        self._fixed = credentials_from_settings(settings)
        key = settings.INTROBOT_SECRET_KEY
        self._box = SecretBox(key) if key else None
        self._hash_key = settings.contact_hash_key
        # Builds a workspace's adapter from its vendor and credentials (a test's own, there).
        self._factory = adapters
        # Adapters kept between pushes, by vendor and credentials: a Salesforce adapter signs in
        # once (Salesforce caps sign-ins per user and hour), not once per push.
        self._built: dict[tuple[str, str], CrmAdapter] = {}
        # Whether the CRM set in the settings was checked in this process (see _ready).
        self._fixed_ready = False
        self._metrics = metrics or Metrics()

    @property
    def adapters(self) -> AdapterFactory:
        return self._factory

    @adapters.setter
    def adapters(self, factory: AdapterFactory) -> None:
        self._factory = factory
        self._built.clear()

    def _adapter(self, vendor: str, credentials: dict[str, Any]) -> CrmAdapter:
        """The workspace's adapter, built once for these credentials; new credentials (a
        reconnect) build a new one."""
        sealed = json.dumps(credentials, sort_keys=True, default=str).encode()
        key = (vendor, hashlib.sha256(sealed).hexdigest())
        adapter = self._built.pop(key, None) or self._factory(vendor, credentials, self._settings)
        self._built[key] = adapter  # the most recently used last
        while len(self._built) > ADAPTERS_KEPT:
            oldest = next(iter(self._built))
            dropped = self._built.pop(oldest)
            close = getattr(dropped, "close", None)
            if callable(close):
                close()
        return adapter

    @property
    def everywhere(self) -> bool:
        """Whether every workspace's intros go to a CRM (one set for the install)."""
        return self._fixed is not None

    @property
    def kind(self) -> MessageKind:
        return MessageKind.CRM_PUSH

    @property
    def worth_sending_for(self) -> timedelta:
        return WORTH_SENDING_FOR

    async def connection(self, team_id: str) -> Connection | None:
        """The workspace's CRM, its credentials opened; None when it has none."""
        async with reading(self._sessions) as session:
            row = await session.get(CrmConnection, team_id)
        if row is None:
            if self._fixed is None:
                return None
            vendor, credentials = self._fixed
            return Connection(vendor, credentials, stored=False, connected_at=None, paused=False)
        try:
            if self._box is None:
                raise UnreadableCredentials("INTROBOT_SECRET_KEY is not set")
            opened: dict[str, Any] | None = self._box.open(row.credentials)
        except UnreadableCredentials:
            opened = None
        return Connection(
            row.vendor,
            opened,
            stored=True,
            connected_at=row.connected_at,
            paused=row.paused_at is not None,
        )

    async def send(self, message: OutboundMessage, request: IntroRequest | None) -> None:
        now = self._clock.now()
        connection = await self.connection(message.team_id)
        if connection is None:
            raise Moot("the workspace has no CRM any more")
        if connection.paused:
            raise NotYet("waiting for an admin to connect the CRM again", now + PAUSED_RECHECK)
        if request is None:
            if now - message.created_at > NOT_VISIBLE_FOR:
                raise Moot("the request is gone")
            raise NotYet("request row not visible yet", now + NOT_VISIBLE_WAIT)
        await self._in_turn(message, request, now)
        async with reading(self._sessions) as session:
            event = await session.get(RequestEvent, message.data.get("event_id"))
        if event is None:
            raise Moot("the change is gone")
        stage = CrmStage(message.data["stage"])
        vendor = connection.vendor
        if connection.credentials is None:
            self._count(vendor, "unreadable")
            reason = "introbot can no longer read the credentials it was given"
            await self._pause(message.team_id, connection, PAUSED_UNREADABLE, reason)
            raise NotYet(reason, now + PAUSED_RECHECK)
        adapter = self._adapter(vendor, connection.credentials)
        known = (
            CrmIds(request.crm_object_type, request.crm_object_id)
            if request.crm_object_type and request.crm_object_id
            else None
        )
        try:
            await self._ready(adapter, connection)
            ids = await adapter.push(record_of(request, stage, event.at), known)
        except CrmUnauthorized as exc:
            self._count(vendor, "unauthorized")
            if connection.stored:
                await self._pause(message.team_id, connection, PAUSED_REFUSED, str(exc))
            else:
                logger.error(
                    "%s refused the credentials set in the settings: %s",
                    VENDOR_LABEL.get(vendor, vendor),
                    exc,
                )
            raise NotYet(f"credentials refused: {exc}", now + PAUSED_RECHECK) from exc
        except CrmRateLimited as exc:
            self._count(vendor, "rate_limited")
            raise NotYet(str(exc), exc.until) from exc
        except CrmUnavailable as exc:
            self._count(vendor, "unavailable")
            raise Refused(str(exc)) from exc
        except CrmRejected as exc:
            self._count(vendor, "rejected")
            raise Failed(str(exc)) from exc
        await self._pushed(request, stage, ids)
        self._count(vendor, "pushed")

    async def _in_turn(
        self, message: OutboundMessage, request: IntroRequest, now: datetime
    ) -> None:
        """A request's stages reach the CRM one after another, each onto the record the one
        before made: a stage waits while an earlier one is still to be pushed, and the record's
        ids are read afresh (`request` may have been read before an earlier push kept them, and
        the CRM's search may not show that record yet: a second record would be made)."""
        async with reading(self._sessions) as session:
            earlier = await session.scalar(
                select(func.max(OutboundMessage.due_at)).where(
                    OutboundMessage.team_id == message.team_id,
                    OutboundMessage.request_id == message.request_id,
                    OutboundMessage.kind == MessageKind.CRM_PUSH,
                    OutboundMessage.id < message.id,
                    # Pending, or being pushed elsewhere: this process pushes a request's
                    # stages in order, and records them together after the last.
                    (OutboundMessage.status == DeliveryStatus.PENDING)
                    | (
                        (OutboundMessage.status == DeliveryStatus.SENDING)
                        & (OutboundMessage.lease_owner != message.lease_owner)
                    ),
                )
            )
            kept = (
                await session.execute(
                    select(IntroRequest.crm_object_type, IntroRequest.crm_object_id).where(
                        IntroRequest.id == request.id, IntroRequest.team_id == request.team_id
                    )
                )
            ).one_or_none()
        if earlier is not None:
            raise NotYet(
                "an earlier stage of this request is still to be pushed",
                max(now + EARLIER_STAGE_WAIT, earlier),
            )
        if kept is not None and kept[1]:
            request.crm_object_type, request.crm_object_id = kept[0], kept[1]

    async def _ready(self, adapter: CrmAdapter, connection: Connection) -> None:
        """A CRM set in the settings was never checked by an admin connecting it: before its
        first push in this process it is checked as connecting would (HubSpot's properties
        made where the token may), and what it still lacks refuses the push."""
        if connection.stored or self._fixed_ready:
            return
        missing = await adapter.check()
        if missing:
            raise CrmRejected(" ".join(missing))
        self._fixed_ready = True

    def _count(self, vendor: str, result: str) -> None:
        self._metrics.crm_pushes.labels(vendor, result).inc()

    async def _pushed(self, request: IntroRequest, stage: CrmStage, ids: CrmIds) -> None:
        """The CRM record's ids kept on the request; after the push that used it, the target's
        email replaced by its keyed hash (or, with no key to hash with, dropped)."""
        values: dict[str, Any] = {
            "crm_object_type": ids.object_type,
            "crm_object_id": ids.object_id,
        }
        if stage in EMAIL_USED_BY and request.target_email:
            values["target_email"] = None
            values["target_email_hash"] = (
                email_fingerprint(self._hash_key, request.target_email)
                if self._hash_key is not None
                else None
            )
        async with self._sessions.begin() as session:
            await session.execute(
                update(IntroRequest)
                .where(IntroRequest.id == request.id, IntroRequest.team_id == request.team_id)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        # A later push of this request in the same batch updates the same record.
        for name, value in values.items():
            setattr(request, name, value)

    async def _pause(self, team_id: str, connection: Connection, why: str, reason: str) -> None:
        """Pause the workspace's connection (the one the push used: not one connected again
        meanwhile) and tell the admin who connected it, through the outbox, once per pause."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            connected_by = await session.scalar(
                update(CrmConnection)
                .where(
                    CrmConnection.team_id == team_id,
                    CrmConnection.connected_at == connection.connected_at,
                    CrmConnection.paused_at.is_(None),
                )
                .values(paused_at=now, paused_reason=reason)
                .returning(CrmConnection.connected_by)
                .execution_options(synchronize_session=False)
            )
            if connected_by is None:
                return  # paused already (its admin was told then), or connected again
            session.add(
                OutboundMessage(
                    team_id=team_id,
                    request_id=None,
                    dedupe_key=PAUSED_KEY.format(at=now.isoformat()),
                    kind=MessageKind.NOTICE,
                    recipient_id=connected_by,
                    data={"event": CRM_PAUSED, "vendor": connection.vendor, "why": why},
                    status=DeliveryStatus.PENDING,
                    due_at=now,
                    created_at=now,
                    attempts=0,
                )
            )
        logger.warning("workspace %s: CRM pushes paused: %s", team_id, reason)

    async def resume(self, team_id: str) -> int:
        """The workspace's CRM was connected again: its pause is cleared and its waiting
        pushes are due now. Returns how many were waiting."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await session.execute(
                update(CrmConnection)
                .where(CrmConnection.team_id == team_id)
                .values(paused_at=None, paused_reason=None)
                .execution_options(synchronize_session=False)
            )
            waiting = await session.scalars(
                update(OutboundMessage)
                .where(
                    OutboundMessage.team_id == team_id,
                    OutboundMessage.kind == MessageKind.CRM_PUSH,
                    OutboundMessage.status == DeliveryStatus.PENDING,
                )
                .values(due_at=now)
                .returning(OutboundMessage.id)
                .execution_options(synchronize_session=False)
            )
            return len(waiting.all())

    async def retry(self, team_id: str, message_id: int) -> bool:
        """A push that failed (or expired) goes again, due now, as if just written: its
        attempts and its span start over. Whether there was such a push."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            retried = await session.scalar(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == message_id,
                    OutboundMessage.team_id == team_id,
                    OutboundMessage.kind == MessageKind.CRM_PUSH,
                    OutboundMessage.status.in_([DeliveryStatus.FAILED, DeliveryStatus.EXPIRED]),
                )
                .values(
                    status=DeliveryStatus.PENDING,
                    due_at=now,
                    created_at=now,
                    attempts=0,
                    lease_owner=None,
                    lease_expires_at=None,
                )
                .returning(OutboundMessage.id)
                .execution_options(synchronize_session=False)
            )
            return retried is not None
