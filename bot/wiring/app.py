"""The app factory: settings in, a Bolt app with its services out."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.crm.connections import CrmConnections
from bot.delivery.crm.credentials import SecretBox
from bot.delivery.crm.hubspot_oauth import HubSpotOAuth, HubSpotTokens
from bot.delivery.crm.pushes import CrmPushes
from bot.delivery.digests import DigestView
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pace import LocalBudgets, Pacer, Rates, SharedBudgets
from bot.delivery.tokens import BotTokens, FixedToken, InstalledTokens
from bot.delivery.webhooks import Webhooks
from bot.delivery.workspaces import Workspaces
from bot.intro.accounts import Accounts
from bot.intro.attribution import Attribution
from bot.intro.clock import Clock, SystemClock
from bot.intro.digests import Digests
from bot.intro.directory import Directory
from bot.intro.people import People
from bot.intro.profiles import Profiles
from bot.intro.target_emails import TargetEmails
from bot.intro.workflow import IntroWorkflow
from bot.observability.metrics import Metrics
from bot.services.container import Services
from bot.services.event_dedupe import EventDedupe
from bot.settings import Settings
from bot.wiring.metrics import instrument
from storage.db import create_engine_for, make_sessionmaker

logger = logging.getLogger(__name__)


def web_client(settings: Settings) -> AsyncWebClient:
    """A Web API client that retries what is safe to retry: resets, 5xx, and 429s."""
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )


def delivery_client(settings: Settings) -> AsyncWebClient:
    """For delivery: a 429 or a 5xx comes back to the dispatcher, which reschedules the message
    for its Retry-After instead of holding a send slot while it waits."""
    return AsyncWebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=settings.SLACK_API_URL,
        timeout=10,
        retry_handlers=[],
    )


def bot_tokens(
    settings: Settings, engine: AsyncEngine, sender: AsyncWebClient, workspaces: Workspaces
) -> tuple[AsyncSQLAlchemyInstallationStore | None, BotTokens]:
    """Each workspace's bot token: the one configured, or in distributed mode each
    installation's (kept in the installation store, rotated by the sender)."""
    if not settings.distributed:
        return None, FixedToken(settings.SLACK_BOT_TOKEN)
    from bot.wiring.oauth import installation_store

    store = installation_store(settings, engine)
    rotator = AsyncTokenRotator(
        client_id=settings.SLACK_CLIENT_ID or "",
        client_secret=settings.SLACK_CLIENT_SECRET or "",
        client=sender,
    )
    return store, InstalledTokens(store, workspaces, rotator, engine=engine)


def slack_pacer(settings: Settings, engine: AsyncEngine) -> Pacer | None:
    """Paces Web API calls to Slack's rate tiers, scaled; none when the scale is 0."""
    if settings.INTROBOT_SLACK_RATE_SCALE <= 0:
        return None
    # Every replica draws on the same budgets on PostgreSQL; SQLite runs one process.
    shared = engine.dialect.name == "postgresql"
    return Pacer(
        SharedBudgets(engine) if shared else LocalBudgets(),
        Rates.slack(settings.INTROBOT_SLACK_RATE_SCALE),
    )


def hubspot_oauth(settings: Settings, engine: AsyncEngine) -> HubSpotOAuth | None:
    """Installed over OAuth with a HubSpot public app: its consent, with single-use states
    kept where Slack's install keeps its own."""
    tokens = HubSpotTokens.from_settings(settings)
    if tokens is None or not settings.INTROBOT_SECRET_KEY:
        return None
    from bot.wiring.oauth import STATE_SECONDS, OAuthStates

    return HubSpotOAuth(
        tokens,
        authorize_url=settings.INTROBOT_HUBSPOT_AUTHORIZE_URL,
        signing_secret=settings.INTROBOT_SECRET_KEY,
        states=OAuthStates(expiration_seconds=STATE_SECONDS, engine=engine),
    )


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    engine = create_engine_for(settings.DATABASE_URL)
    sessions = make_sessionmaker(engine)
    client = web_client(settings)
    settings.require_webhook_pair()
    settings.require_crm_settings()
    metrics = Metrics()
    box = SecretBox(settings.INTROBOT_SECRET_KEY) if settings.INTROBOT_SECRET_KEY else None
    webhooks = Webhooks(sessions, clock, settings.webhook, box)
    crm_pushes = CrmPushes(sessions, clock, settings, metrics=metrics)
    workflow = IntroWorkflow(
        sessions,
        clock,
        settings.cadence,
        webhooks_everywhere=webhooks.everywhere,
        crm_everywhere=crm_pushes.everywhere,
    )
    directory = Directory(
        sessions,
        clock,
        settings.contact_hash_key,
        target_declined_hold=settings.target_declined_hold,
    )
    profiles = Profiles(sessions, clock)
    people = People(profiles)  # one memory of people for the listeners and delivery
    workspaces = Workspaces(sessions, clock)
    sender = delivery_client(settings)
    store, tokens = bot_tokens(settings, engine, sender, workspaces)
    pacer = slack_pacer(settings, engine)
    digests = Digests(
        sessions,
        clock,
        every=settings.digest_every,
        declined_hold=settings.target_declined_hold,
    )
    dispatcher = Dispatcher(
        sessions,
        sender,
        clock,
        workflow,
        working_hours=settings.working_hours,
        directory=directory,
        lease=settings.delivery_lease,
        metrics=metrics,
        tokens=tokens,
        workspaces=workspaces,
        pacer=pacer,
        people=people,
        channels=[webhooks, crm_pushes],
        digests=DigestView(digests, clock, settings.working_hours),
    )
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        client=client,
        workflow=workflow,
        dispatcher=dispatcher,
        clock=clock,
        directory=directory,
        attribution=Attribution(sessions),
        profiles=profiles,
        people=people,
        event_dedupe=EventDedupe(sessions, clock),
        accounts=Accounts(sessions, clock),
        metrics=metrics,
        workspaces=workspaces,
        tokens=tokens,
        installation_store=store,
        webhooks=webhooks,
        crm_pushes=crm_pushes,
        crm=CrmConnections(sessions, clock, settings, channel=crm_pushes),
        hubspot_oauth=hubspot_oauth(settings, engine),
        digests=digests,
        target_emails=TargetEmails(
            sessions,
            clock,
            settings.contact_hash_key,
            crm_everywhere=crm_pushes.everywhere,
        ),
    )


def migrate(settings: Settings) -> None:
    from storage.migrate import upgrade_to_head  # Alembic: not resident in a serving process

    upgrade_to_head(settings.DATABASE_URL, settings.contact_hash_key)


def create_app(services: Services) -> AsyncApp:
    from handlers import ProvideServices, register_listeners

    settings = services.settings
    if settings.distributed:
        from bot.wiring.oauth import installed_app

        app = installed_app(services)
    else:
        app = AsyncApp(
            client=services.client,
            signing_secret=settings.SLACK_SIGNING_SECRET or "",
            raise_error_for_unhandled_request=False,
        )
    # First: every middleware and listener after it, the error handler too, finds the
    # services in the context.
    app.use(ProvideServices(services))
    instrument(app, services.metrics)
    app.use(OncePerEvent(services))
    register_listeners(app, services.work)
    return app


class OncePerEvent(AsyncMiddleware):
    """Slack retries an event it thinks we missed (X-Slack-Retry-Num); act on it only once.

    An `AsyncMiddleware`, not a function Bolt wraps: Bolt calls it with the request as is
    instead of building every argument a listener could take for each request."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        body, context = req.body, req.context
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        team_id = context.team_id or ""  # the workspace the event is acted on for
        if event_id and not await self._services.event_dedupe.first_delivery(
            team_id, str(event_id)
        ):
            return BoltResponse(status=200, body="")
        # Bolt's next() only lets the chain go on; a listener that fails has the event id
        # forgotten by the error handler (handlers/errors.py), so Slack's retry is acted on.
        await next()
        return None
