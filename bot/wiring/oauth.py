"""Distributed mode: "Add to Slack" over OAuth v2, installations in introbot's database.

Bolt's OAuth flow with slack_sdk's SQLAlchemy stores (tables from migration 0006). Every
call, oauth.v2.access and token rotation included, goes through the app's client, so
SLACK_API_URL is honoured; the installer's browser goes to SLACK_AUTHORIZE_URL.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.sqlalchemy_utils import normalize_datetime_for_db
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.tokens import BotTokens, InstalledTokens, SerializedRotator
from bot.delivery.workspaces import Workspaces
from bot.rendering.templating import render_html
from bot.services.container import Services
from bot.settings import Settings
from bot.wiring.scopes import BOT_SCOPES

logger = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600  # how long an "Add to Slack" link stays good
HTML = {"Content-Type": "text/html; charset=utf-8"}
# Tokens whose auth.test answer is kept (one per workspace, and one more per rotation): the
# least recently used are dropped beyond this.
AUTHORIZE_CACHE_SIZE = 10_000


class OAuthStates(AsyncSQLAlchemyOAuthStateStore):
    """slack_sdk's state store, with two changes. Issuing a state deletes the expired ones
    (every anonymous visit to the install page issues one). Consuming a state is one
    DELETE ... RETURNING, so of several replicas given the same redirect, one accepts it."""

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        states = self.oauth_states
        async with self.engine.begin() as connection:
            await connection.execute(states.delete().where(states.c.expire_at <= _db_now()))
        return await super().async_issue(*args, **kwargs)

    async def async_consume(self, state: str) -> bool:
        states = self.oauth_states
        async with self.engine.begin() as connection:
            consumed = await connection.execute(
                states.delete()
                .where(states.c.state == state, states.c.expire_at > _db_now())
                .returning(states.c.id)
            )
            return consumed.first() is not None


def _db_now() -> datetime | None:
    """Now, as slack_sdk writes expiry times (naive UTC where the column is naive)."""
    return normalize_datetime_for_db(datetime.now(UTC))


class LeastRecentlyUsed(OrderedDict[str, Any]):
    """A dict that keeps at most `size` entries, dropping the least recently used."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def installation_store(settings: Settings, engine: AsyncEngine) -> AsyncSQLAlchemyInstallationStore:
    return AsyncSQLAlchemyInstallationStore(client_id=settings.SLACK_CLIENT_ID or "", engine=engine)


class InstallFlow(AsyncOAuthFlow):
    """Bolt's flow, with introbot's own install page (its words live in templates/)."""

    async def build_install_page_html(self, url: str, request: AsyncBoltRequest) -> str:
        return render_html("install_page.html.j2", authorize_url=url)


def oauth_flow(
    settings: Settings,
    engine: AsyncEngine,
    client: AsyncWebClient,
    store: AsyncSQLAlchemyInstallationStore,
    workspaces: Workspaces,
    tokens: BotTokens,
) -> InstallFlow:
    client_id, client_secret = settings.SLACK_CLIENT_ID or "", settings.SLACK_CLIENT_SECRET or ""
    oauth_settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=settings.SLACK_AUTHORIZE_URL,
        installation_store=store,
        installation_store_bot_only=True,
        state_store=OAuthStates(expiration_seconds=STATE_SECONDS, engine=engine),
        state_expiration_seconds=STATE_SECONDS,
        callback_options=install_callbacks(workspaces, tokens),
    )
    # Bolt's default authorize rotates tokens with a client of its own, on slack.com; this
    # one uses the app's client (SLACK_API_URL, the shared HTTP session).
    authorize = AsyncInstallationStoreAuthorize(
        logger=logger,
        installation_store=store,
        client_id=client_id,
        client_secret=client_secret,
        bot_only=True,
        # auth.test once per token, not once per request (a new token is a new entry).
        cache_enabled=True,
        client=client,
    )
    # Each rotation adds a token: bounded, or the cache grows for as long as the process runs.
    authorize.authorize_result_cache = LeastRecentlyUsed(AUTHORIZE_CACHE_SIZE)
    # A refresh token works once: a request's rotation takes the same per-installation lock
    # as a send's, across replicas.
    if isinstance(tokens, InstalledTokens) and authorize.token_rotator is not None:
        authorize.token_rotator = SerializedRotator(tokens, authorize.token_rotator)
    oauth_settings.authorize = authorize
    return InstallFlow(client=client, settings=oauth_settings)


def install_callbacks(workspaces: Workspaces, tokens: BotTokens) -> AsyncCallbackOptions:
    """The page the installer's browser is shown; on success, delivery to the workspace
    resumes with its new token."""

    async def installed(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        team_id, enterprise_id = installation.team_id, installation.enterprise_id
        # Reinstalled: delivery resumes, with the new token.
        if team_id:
            await workspaces.remember(
                team_id, enterprise_id, bool(installation.is_enterprise_install)
            )
            if await workspaces.resume(team_id):
                logger.warning("workspace %s reinstalled: delivery resumes", team_id)
            tokens.forget(team_id)
        elif enterprise_id:
            await workspaces.resume_org(enterprise_id)
        logger.info("installed in team %s (enterprise %s)", team_id, enterprise_id)
        name = installation.team_name or installation.enterprise_name
        body = render_html("install_result.html.j2", installed=True, team_name=name)
        return BoltResponse(status=200, body=body, headers=dict(HTML))

    return AsyncCallbackOptions(success=installed, failure=install_refused)


async def install_refused(args: AsyncFailureArgs) -> BoltResponse:
    logger.warning("installation refused: %s", args.reason)
    body = render_html(
        "install_result.html.j2",
        installed=False,
        reason=args.reason,
        install_path=INSTALL_PATH,
    )
    return BoltResponse(status=args.suggested_status_code, body=body, headers=dict(HTML))


def installed_app(services: Services) -> AsyncApp:
    """The Bolt app of distributed mode: each request authorized with its workspace's
    installation, and each workspace's Grid org remembered for delivery."""
    settings = services.settings
    if (
        services.installation_store is None
        or services.workspaces is None
        or services.tokens is None
    ):
        raise RuntimeError("distributed mode needs the installation store")
    flow = oauth_flow(
        settings,
        services.engine,
        services.client,
        services.installation_store,
        services.workspaces,
        services.tokens,
    )
    app = AsyncApp(
        client=services.client,
        signing_secret=settings.SLACK_SIGNING_SECRET or "",
        oauth_flow=flow,
        installation_store_bot_only=True,
        raise_error_for_unhandled_request=False,
    )
    workspaces = services.workspaces

    async def remember_workspace(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        if context.team_id:
            await workspaces.remember(
                context.team_id, context.enterprise_id, bool(context.is_enterprise_install)
            )
        await next()

    app.use(remember_workspace)
    return app
