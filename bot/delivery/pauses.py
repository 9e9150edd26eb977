"""Workspaces whose bot token stopped working: their delivery paused, and resumed once the
token answers again (fixed, rotated, or the app reinstalled)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.outbox import Outbox, backoff
from bot.delivery.tokens import BotTokens
from bot.delivery.workspaces import Workspaces
from bot.intro.clock import Clock
from bot.observability.slack_errors import slack_error_code
from storage.models import OutboundMessage

logger = logging.getLogger(__name__)

# Errors of the app's own token, not of a recipient: the workspace's delivery pauses and its
# messages stay pending until the token works again (or the app is reinstalled). An expired
# rotating token is looked up again first, which refreshes it.
APP_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired"}
)
# How often a workspace paused on an auth error is asked (auth.test) whether it works again.
PROBE_INTERVAL = timedelta(minutes=2)


class Pauses:
    def __init__(
        self,
        client: AsyncWebClient,
        clock: Clock,
        tokens: BotTokens,
        workspaces: Workspaces | None,
        outbox: Outbox,
        probe_interval: timedelta = PROBE_INTERVAL,
    ) -> None:
        self._client = client
        self._clock = clock
        self._tokens = tokens
        self._workspaces = workspaces
        self._outbox = outbox
        self._probe_interval = probe_interval
        self._probed_at: dict[str, datetime] = {}

    async def resume_when_token_works(self) -> list[str]:
        """Workspaces paused on an auth error (or uninstalled) resume once their token answers
        auth.test again: SLACK_BOT_TOKEN fixed, or a new installation's token. Asked at most
        every `probe_interval` per workspace. Returns the workspaces resumed."""
        if self._workspaces is None:
            return []
        resumed = []
        for team_id in await self._workspaces.not_active():
            now = self._clock.now()
            probed_at = self._probed_at.get(team_id)
            if probed_at is not None and now - probed_at < self._probe_interval:
                continue
            self._probed_at[team_id] = now
            self._tokens.forget(team_id)
            try:
                token = await self._tokens.token_for(team_id)
                if not token:
                    continue
                answer = await self._client.auth_test(token=token)
            except SlackApiError as exc:
                logger.info("workspace %s still paused: %s", team_id, slack_error_code(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - try again next time
                logger.info("workspace %s still paused: %r", team_id, exc)
                continue
            if answer.get("team_id") == team_id and await self._workspaces.resume(team_id):
                logger.warning("workspace %s: the bot token works again; delivery resumes", team_id)
                resumed.append(team_id)
        return resumed

    async def token_replaced(self, team_id: str, failed: str) -> bool:
        self._tokens.forget(team_id)
        try:
            current = await self._tokens.token_for(team_id)
        except Exception:  # noqa: BLE001 - no better token to be found now
            return False
        return bool(current) and current != failed

    async def app_cannot_send(self, message: OutboundMessage, reason: str) -> None:
        """The app has no working token for this workspace: pause its delivery (logged once,
        not per message) and put the message back as it was, pending."""
        self._tokens.forget(message.team_id)
        if self._workspaces is None:  # nowhere to record a pause: try again later
            await self._outbox.reschedule(
                message, reason, self._clock.now() + backoff(message.attempts)
            )
            return
        if await self._workspaces.pause(message.team_id, reason):
            logger.error(
                "delivery to workspace %s paused: %s (messages are kept until it works again)",
                message.team_id,
                reason,
            )
        await self._outbox.reschedule(message, reason, message.due_at, count_attempt=False)
