"""The bot token to send a workspace's messages with.

With one `SLACK_BOT_TOKEN` it is that token. Installed over OAuth, it is the workspace's own,
from slack_sdk's installation store (an Enterprise Grid org-wide install by its enterprise id),
refreshed first when token rotation is on and it is about to expire, and kept for a minute.

A refresh token works once: two replicas rotating the same token at once would leave one of
them with Slack's `invalid_refresh_token`. A rotation is therefore serialized per installation
(a PostgreSQL advisory lock across replicas, a lock in the process on SQLite), and the bot is
read again under it, so the second replica finds the token the first one stored. Bolt's
authorize rotates the token of an incoming request through the same lock
(`SerializedRotator`), so a request and a send never rotate it at once either.
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
            bot = await self.rotate(bot)
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

    async def rotate(self, bot: Bot) -> Bot:
        """The installation's bot with a fresh token, rotated by one replica at a time: the
        bot as stored under the lock, rotated if it still needs it."""
        assert self._rotator is not None
        org_wide = bool(bot.is_enterprise_install)
        async with self._rotation_lock(_installation_key(bot)):
            # Another replica, or a request, may have rotated it meanwhile.
            latest = await self._store.async_find_bot(
                enterprise_id=bot.enterprise_id,
                team_id=None if org_wide else bot.team_id,
                is_enterprise_install=org_wide,
            )
            if latest is None:
                return bot
            refreshed = await self._rotator.perform_bot_token_rotation(
                bot=latest, minutes_before_expiration=self._rotate_minutes
            )
            if refreshed is None:
                return latest
            await self._store.async_save_bot(refreshed)
            logger.info("rotated the bot token of %s", _installation_key(bot))
            return refreshed

    @contextlib.asynccontextmanager
    async def _rotation_lock(self, installation: str) -> AsyncIterator[None]:
        async with self._rotating.setdefault(installation, asyncio.Lock()):
            if self._engine is None:
                yield
                return
            digest = hashlib.sha256(f"introbot rotate {installation}".encode()).digest()
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


def _installation_key(bot: Bot) -> str:
    """One installation's name: an org-wide install serves every workspace of its org, so its
    workspaces share one lock."""
    if bot.is_enterprise_install:
        return f"enterprise {bot.enterprise_id}"
    return f"team {bot.team_id}"


class SerializedRotator(AsyncTokenRotator):
    """The rotator Bolt's authorize calls for an incoming request, rotating through
    `InstalledTokens.rotate` (its lock, its re-read) rather than on its own."""

    def __init__(self, tokens: InstalledTokens, rotator: AsyncTokenRotator) -> None:
        super().__init__(
            client_id=rotator.client_id, client_secret=rotator.client_secret, client=rotator.client
        )
        self._tokens = tokens

    async def perform_bot_token_rotation(  # type: ignore[override]
        self, *, bot: Bot, minutes_before_expiration: int = ROTATE_MINUTES_BEFORE_EXPIRY
    ) -> Bot | None:
        expires = bot.bot_token_expires_at
        if expires is None or expires > time.time() + minutes_before_expiration * 60:
            return None  # as slack_sdk's rotator decides
        rotated = await self._tokens.rotate(bot)
        return rotated if rotated.bot_token != bot.bot_token else None
