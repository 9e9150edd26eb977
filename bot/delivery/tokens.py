"""The bot token to send a workspace's messages with.

With one `SLACK_BOT_TOKEN` it is that token. Installed over OAuth, it is the workspace's own,
from slack_sdk's installation store (an Enterprise Grid org-wide install by its enterprise id),
refreshed first when token rotation is on and it is about to expire, and kept for a minute.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator

from bot.delivery.workspaces import Workspaces

logger = logging.getLogger(__name__)

CACHE_SECONDS = 60.0
# Rotate a token this long before it expires (Bolt's default for incoming requests too).
ROTATE_MINUTES_BEFORE_EXPIRY = 120


class BotTokens(Protocol):
    async def token_for(self, team_id: str) -> str | None:
        """The workspace's bot token, or None if the app is not installed there."""
        ...

    def forget(self, team_id: str) -> None:
        """Drop what is cached for the workspace (its token failed, or it was reinstalled)."""
        ...


class FixedToken:
    """Single-workspace mode: every message goes with the one configured token."""

    def __init__(self, token: str | None) -> None:
        self._token = token

    async def token_for(self, team_id: str) -> str | None:
        return self._token

    def forget(self, team_id: str) -> None:
        return None


class InstalledTokens:
    """Distributed mode: each workspace's token from its installation."""

    def __init__(
        self,
        store: AsyncInstallationStore,
        workspaces: Workspaces,
        rotator: AsyncTokenRotator | None,
        *,
        cache_seconds: float = CACHE_SECONDS,
        rotate_minutes_before_expiry: int = ROTATE_MINUTES_BEFORE_EXPIRY,
    ) -> None:
        self._store = store
        self._workspaces = workspaces
        self._rotator = rotator
        self._cache_seconds = cache_seconds
        self._rotate_minutes = rotate_minutes_before_expiry
        self._cache: dict[str, tuple[str, float]] = {}

    async def token_for(self, team_id: str) -> str | None:
        cached = self._cache.get(team_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        bot = await self._find(team_id)
        if bot is None or not bot.bot_token:
            self._cache.pop(team_id, None)
            return None
        if bot.bot_refresh_token and self._rotator is not None:
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self._rotate_minutes
            )
            if refreshed is not None:
                await self._store.async_save_bot(refreshed)
                logger.info("rotated the bot token of workspace %s", team_id)
                bot = refreshed
        token = str(bot.bot_token)
        keep_until = time.monotonic() + self._cache_seconds
        if bot.bot_token_expires_at is not None:
            # Never hold a token past the point where it should be rotated.
            left = bot.bot_token_expires_at - time.time() - self._rotate_minutes * 60
            keep_until = min(keep_until, time.monotonic() + max(0.0, left))
        self._cache[team_id] = (token, keep_until)
        return token

    def forget(self, team_id: str) -> None:
        self._cache.pop(team_id, None)

    async def _find(self, team_id: str) -> Bot | None:
        key = await self._workspaces.key(team_id)
        if not key.is_enterprise_install:
            bot = await self._store.async_find_bot(
                enterprise_id=key.enterprise_id, team_id=team_id, is_enterprise_install=False
            )
            if bot is not None or key.enterprise_id is None:
                return bot
        # An org-wide install on Enterprise Grid serves every workspace of the org.
        return await self._store.async_find_bot(
            enterprise_id=key.enterprise_id, team_id=None, is_enterprise_install=True
        )
