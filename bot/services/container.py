"""The services container: one of each service, built by the app factory
(bot.wiring.app.build_services) and shared by the listeners, the sweep and the web server."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery.crm.connections import CrmConnections
from bot.delivery.crm.hubspot_oauth import HubSpotOAuth
from bot.delivery.crm.pushes import CrmPushes
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.tokens import BotTokens
from bot.delivery.webhooks import Webhooks
from bot.delivery.workspaces import Workspaces
from bot.intro.accounts import Accounts
from bot.intro.attribution import Attribution
from bot.intro.clock import Clock
from bot.intro.digests import Digests
from bot.intro.directory import Directory
from bot.intro.people import People
from bot.intro.profiles import Profiles
from bot.intro.target_emails import TargetEmails
from bot.intro.teams import Teams
from bot.intro.workflow import IntroWorkflow
from bot.observability.metrics import Metrics
from bot.services.event_dedupe import EventDedupe
from bot.services.work_queue import WorkQueue
from bot.settings import Settings


@dataclass
class Services:
    """What the listeners, the sweep and the web server share: one of each service."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    client: AsyncWebClient
    workflow: IntroWorkflow
    dispatcher: Dispatcher
    clock: Clock
    directory: Directory
    attribution: Attribution
    profiles: Profiles
    people: People
    event_dedupe: EventDedupe
    accounts: Accounts
    work: WorkQueue = field(default_factory=WorkQueue)
    http: aiohttp.ClientSession | None = None
    metrics: Metrics = field(default_factory=Metrics)
    # Each workspace's delivery state (paused, uninstalled), and its bot token.
    workspaces: Workspaces | None = None
    tokens: BotTokens | None = None
    # Distributed mode only: slack_sdk's store of each workspace's installation.
    installation_store: AsyncSQLAlchemyInstallationStore | None = None
    # Where each workspace's request changes are POSTed (bot.delivery.webhooks).
    webhooks: Webhooks | None = None
    # Where each workspace's intros are pushed: its CRM (bot.delivery.crm.pushes).
    crm_pushes: CrmPushes | None = None
    # Each workspace's CRM connection, as its admins manage it (bot.delivery.crm.connections).
    crm: CrmConnections | None = None
    # Installed over OAuth with INTROBOT_HUBSPOT_CLIENT_ID: admins connect HubSpot on its
    # consent page (bot.delivery.crm.hubspot_oauth).
    hubspot_oauth: HubSpotOAuth | None = None

    @property
    def teams(self) -> Teams:
        """Managers' teams and their views (no state of its own beyond the database)."""
        return Teams(self.sessions, self.attribution, self.accounts)

    # The offer-help digests: planned by the sweep, sent by the dispatcher.
    digests: Digests | None = None
    # The target's email a connector may give with "intro made", for the workspace's CRM:
    # whether to ask for it, and letting go of it (the sweep).
    target_emails: TargetEmails | None = None

    async def paused_workspaces(self) -> dict[str, str]:
        """Workspaces not delivered to, team id -> reason ("paused: token_revoked",
        "uninstalled: app_uninstalled"). In single-workspace mode a non-empty answer means
        the bot token does not work: readiness should fail with the reason."""
        return await self.workspaces.paused() if self.workspaces is not None else {}

    async def slack_auth_problem(self) -> str | None:
        """For the readiness check: in single-workspace mode, why the bot token does not work
        (delivery is paused until it does); None when it works. In distributed mode one
        workspace's uninstall is no reason to take the app out of service: always None."""
        if self.settings.distributed:
            return None
        paused = await self.paused_workspaces()
        if not paused:
            return None
        return "Slack auth failed: " + ", ".join(f"{t} {why}" for t, why in sorted(paused.items()))

    async def open_http(self) -> None:
        """One pooled, keep-alive HTTP session for every Web API call. slack_sdk's default is
        a new session (and TCP + TLS connection) per call."""
        if self.http is None:
            self.http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30)
            )
            self.client.session = self.http
            self.dispatcher.use_session(self.http)

    async def close(self) -> None:
        await self.work.close()
        if self.http is not None:
            await self.http.close()
            self.http = None
        await self.engine.dispose()
