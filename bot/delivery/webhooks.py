"""Signed webhooks: each change of a request POSTed as JSON to the URL a workspace's admin set
(or INTROBOT_WEBHOOK_URL), signed the way Slack signs its requests to apps.

`X-Introbot-Request-Timestamp` is the Unix time of the POST; `X-Introbot-Signature` is `v0=`
and the hex HMAC-SHA256, under the webhook's secret, of `v0:{timestamp}:{body}`. A 2xx answer
is delivered; anything else, or no answer, is tried again with backoff for a day.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import delete, desc, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.channels import Refused
from bot.delivery.crm.credentials import SecretBox, UnreadableCredentials
from bot.delivery.outbox import Moot, NotYet
from bot.intro.clock import Clock
from storage.db import reading
from storage.models import IntroRequest, MessageKind, OutboundMessage, RequestEvent, Webhook

TIMESTAMP_HEADER = "X-Introbot-Request-Timestamp"
SIGNATURE_HEADER = "X-Introbot-Signature"
# A receiver that answers slower than this is taken as not having answered (and tried again).
TIMEOUT = aiohttp.ClientTimeout(total=10)
WORTH_SENDING_FOR = timedelta(days=1)
# A secret stored sealed under INTROBOT_SECRET_KEY starts so; one stored before the key was
# set is plain, and still signs.
SEALED = "sealed:"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v0=` and the hex HMAC-SHA256 of `v0:{timestamp}:{body}` under `secret`."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def new_secret() -> str:
    return secrets.token_hex(32)


def payload(request: IntroRequest, event: RequestEvent, stage: str | None) -> dict[str, Any]:
    """What a receiver gets of a change: the request's ids, its state and outcome stage, who
    asked and who connects, whom it is about. Never a teammate's contacts."""
    return {
        "event": event.action,
        "request_id": request.id,
        "team_id": request.team_id,
        "state": event.to_status,
        "previous_state": event.from_status,
        "stage": stage,
        "at": event.at.isoformat(),
        "requester_id": request.requester_id,
        "connector_id": request.connector_id or None,
        "target_name": request.target_name,
        "target_company": request.target_company,
    }


@dataclass(frozen=True)
class WebhookState:
    """A workspace's webhook, for its admins: where it posts, and its last delivery."""

    url: str
    set_here: bool  # set by INTROBOT_WEBHOOK_URL, not by an admin
    last_status: str | None
    last_at: datetime | None
    last_error: str | None


class Webhooks:
    """Where each workspace's changes go (its admin's webhook, else the one set for the
    install), and the channel that POSTs them."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        fixed: tuple[str, str] | None = None,
        box: SecretBox | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._fixed = fixed
        # Seals the secrets admins set, when INTROBOT_SECRET_KEY is set: a copy of the
        # database then cannot forge the workspace's POSTs.
        self._box = box

    @property
    def everywhere(self) -> bool:
        """Whether every workspace's changes go to a webhook (one set for the install)."""
        return self._fixed is not None

    @property
    def kind(self) -> MessageKind:
        return MessageKind.WEBHOOK

    @property
    def worth_sending_for(self) -> timedelta:
        return WORTH_SENDING_FOR

    async def set(self, team_id: str, url: str, set_by: str) -> str:
        """Point the workspace's webhook at `url`, with a new secret, which is returned."""
        secret = new_secret()
        async with self._sessions.begin() as session:
            row = await session.get(Webhook, team_id, with_for_update=True)
            if row is None:
                row = Webhook(team_id=team_id)
                session.add(row)
            row.url, row.set_by, row.set_at = url, set_by, self._clock.now()
            row.secret = self._seal(secret)
        return secret

    def _seal(self, secret: str) -> str:
        return SEALED + self._box.seal({"secret": secret}) if self._box else secret

    def _open(self, stored: str) -> str:
        if not stored.startswith(SEALED):
            return stored
        if self._box is None:
            raise UnreadableCredentials("sealed, and INTROBOT_SECRET_KEY is not set")
        return str(self._box.open(stored.removeprefix(SEALED))["secret"])

    async def remove(self, team_id: str) -> bool:
        """Stop posting the workspace's changes; whether it had a webhook of its own."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Webhook).where(Webhook.team_id == team_id).returning(Webhook.team_id)
            )
            return result.first() is not None

    async def target(self, team_id: str) -> tuple[str, str] | None:
        """The URL and secret the workspace's changes go to, if any."""
        async with reading(self._sessions) as session:
            row = await session.get(Webhook, team_id)
        return (row.url, self._open(row.secret)) if row is not None else self._fixed

    async def state(
        self, team_id: str, *, session: AsyncSession | None = None
    ) -> WebhookState | None:
        """The workspace's webhook and its last delivery tried, if it has one; read in
        `session` when given (the Home tab's)."""
        if session is not None:
            return await self._state(session, team_id)
        async with reading(self._sessions) as own:
            return await self._state(own, team_id)

    async def _state(self, session: AsyncSession, team_id: str) -> WebhookState | None:
        row = await session.get(Webhook, team_id)
        if row is None and self._fixed is None:
            return None
        last = await session.scalar(
            select(OutboundMessage)
            .where(
                OutboundMessage.team_id == team_id,
                OutboundMessage.kind == MessageKind.WEBHOOK,
                OutboundMessage.attempts > 0,
            )
            .order_by(desc(OutboundMessage.id))
            .limit(1)
        )
        url = row.url if row is not None else self._fixed[0] if self._fixed else ""
        return WebhookState(
            url=url,
            set_here=row is None,
            last_status=last.status if last is not None else None,
            last_at=(last.sent_at or last.due_at) if last is not None else None,
            last_error=last.last_error if last is not None else None,
        )

    async def send(self, message: OutboundMessage, request: IntroRequest | None) -> None:
        try:
            target = await self.target(message.team_id)
        except UnreadableCredentials as exc:
            # Sealed under another INTROBOT_SECRET_KEY: kept and retried, so putting the key
            # back delivers it; an admin setting the webhook again makes a new secret.
            raise Refused("the webhook's secret cannot be read with INTROBOT_SECRET_KEY") from exc
        if target is None:
            raise Moot("the workspace has no webhook any more")
        if request is None:
            raise NotYet("request row not visible yet", self._clock.now() + timedelta(seconds=5))
        async with reading(self._sessions) as session:
            event = await session.get(RequestEvent, message.data.get("event_id"))
        if event is None:
            raise Moot("the change is gone")
        url, secret = target
        body = json.dumps(payload(request, event, message.data.get("stage"))).encode()
        timestamp = int(self._clock.now().timestamp())
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as http,
                http.post(url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                if not 200 <= response.status < 300:
                    raise Refused(f"HTTP {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise Refused(f"no answer: {type(exc).__name__}") from exc
