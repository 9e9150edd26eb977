"""The bot token to send a workspace's messages with.

With one `SLACK_BOT_TOKEN` it is that token. Installed over OAuth, it is the workspace's own,
from slack_sdk's installation store (an Enterprise Grid org-wide install by its enterprise id),
refreshed first when token rotation is on and it is about to expire, and kept for a minute.

A refresh token works once: two replicas rotating the same token at once would leave one of
them with Slack's `invalid_refresh_token`. A rotation is therefore serialized per workspace (a
PostgreSQL advisory lock across replicas, a lock in the process on SQLite), and the bot is read
again under it, so the second replica finds the token the first one stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Protocol

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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
        engine: AsyncEngine | None = None,
        cache_seconds: float = CACHE_SECONDS,
        rotate_minutes_before_expiry: int = ROTATE_MINUTES_BEFORE_EXPIRY,
    ) -> None:
        self._store = store
        self._workspaces = workspaces
        self._rotator = rotator
        self._cache_seconds = cache_seconds
        self._rotate_minutes = rotate_minutes_before_expiry
        self._cache: dict[str, tuple[str, float]] = {}
        self._engine = (
            engine if engine is not None and engine.dialect.name == "postgresql" else None
        )
        self._rotating: dict[str, asyncio.Lock] = {}

    async def token_for(self, team_id: str) -> str | None:
        cached = self._cache.get(team_id)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        bot = await self._find(team_id)
        if bot is None or not bot.bot_token:
            self._cache.pop(team_id, None)
            return None
        if self._due_for_rotation(bot):
            bot = await self._rotate(team_id) or bot
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

    def _due_for_rotation(self, bot: Bot) -> bool:
        if not bot.bot_refresh_token or self._rotator is None:
            return False
        expires = bot.bot_token_expires_at
        return expires is None or expires - time.time() < self._rotate_minutes * 60

    async def _rotate(self, team_id: str) -> Bot | None:
        """Rotate the workspace's token, one replica at a time; the bot to use after."""
        assert self._rotator is not None
        async with self._rotation_lock(team_id):
            bot = await self._find(team_id)  # another replica may have rotated it meanwhile
            if bot is None:
                return None
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=self._rotate_minutes
            )
            if refreshed is None:
                return bot
            await self._store.async_save_bot(refreshed)
            logger.info("rotated the bot token of workspace %s", team_id)
            return refreshed

    @contextlib.asynccontextmanager
    async def _rotation_lock(self, team_id: str) -> AsyncIterator[None]:
        async with self._rotating.setdefault(team_id, asyncio.Lock()):
            if self._engine is None:
                yield
                return
            digest = hashlib.sha256(f"introbot rotate {team_id}".encode()).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            async with self._engine.connect() as connection:
                await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
                try:
                    yield
                finally:
                    await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})

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
