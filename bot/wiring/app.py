"""The app factory: settings in, a Bolt app with its services out."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pace import LocalBudgets, Pacer, Rates, SharedBudgets
from bot.delivery.tokens import BotTokens, FixedToken, InstalledTokens
from bot.delivery.workspaces import Workspaces
from bot.intro.attribution import Attribution
from bot.intro.clock import Clock, SystemClock
from bot.intro.directory import Directory
from bot.intro.people import People
from bot.intro.profiles import Profiles
from bot.intro.workflow import IntroWorkflow
from bot.wiring.metrics import Metrics, instrument
from bot.wiring.settings import Settings
from storage.db import create_engine_for, make_sessionmaker
from storage.migrate import upgrade_to_head

logger = logging.getLogger(__name__)


Listener = TypeVar("Listener", bound=Callable[..., Awaitable[Any]])

# Listeners working after their ack at once. With the dispatcher's 8 sends, fewer than the
# database pool's 20 kept connections, so the checks some listeners make before their ack
# still find a free one.
WORK_SLOTS = 10
# Acked listeners waiting for a slot, beyond which a new request's ack is held (back-pressure)
# until the queue shrinks, for at most ACK_HOLD_SECONDS: Slack wants its ack within 3 s.
QUEUE_LIMIT = 400
ACK_HOLD_SECONDS = 1.5


@dataclass
class Services:
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
    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    http: aiohttp.ClientSession | None = None
    metrics: Metrics = field(default_factory=Metrics)
    # Each workspace's delivery state (paused, uninstalled), and its bot token.
    workspaces: Workspaces | None = None
    tokens: BotTokens | None = None
    # Distributed mode only: slack_sdk's store of each workspace's installation.
    installation_store: AsyncSQLAlchemyInstallationStore | None = None

    work_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(WORK_SLOTS))
    queue_limit: int = QUEUE_LIMIT
    ack_hold_seconds: float = ACK_HOLD_SECONDS
    queued: int = 0
    queue_full_logged_at: float = 0.0
    queue_has_room: asyncio.Event = field(default_factory=asyncio.Event)

    def tracked(self, listener: Listener) -> Listener:
        """Mark a listener's work so shutdown waits for it instead of cutting a transaction,
        and bound the work listeners do.

        Slack gets its ack at once; what the listener does after it waits for one of
        `WORK_SLOTS` slots, in the order the requests came. Without the bound, a burst above
        capacity is acked and then worked on all at once: every request finishes late, memory
        grows with the backlog, and listeners time out waiting for a database connection
        (docs/performance.md). When more than `queue_limit` wait, a new request is held
        before any work, for at most `ack_hold_seconds` (back-pressure on the sender).
        """
        return self._track(listener, slot_at_ack=True)

    def opens_modal(self, listener: Listener) -> Listener:
        """`tracked`, for a listener that opens a modal after its ack: its trigger_id expires
        about 3 s after the click, so the modal is opened at once, never behind a queue. Work
        after the modal takes a slot itself (`work_slot`)."""
        return self._track(listener, slot_at_ack=False)

    def bounded_apart(self, listener: Listener) -> Listener:
        """`tracked`, for a listener whose work has limits of its own (a LinkedIn import: one
        per person, a few at once) and can take long: it takes no work slot, so files sent
        together cannot hold every slot while they wait their turn."""
        return self._track(listener, slot_at_ack=False)

    @property
    def busy(self) -> bool:
        """More work is waiting than the queue limit: optional work is better left out."""
        return self.queued >= self.queue_limit

    @contextlib.asynccontextmanager
    async def work_slot(self) -> AsyncIterator[None]:
        """One of the work slots, for work after a listener's modal."""
        await self._take_slot()
        try:
            yield
        finally:
            self.work_slots.release()

    def _track(self, listener: Listener, *, slot_at_ack: bool) -> Listener:
        @functools.wraps(listener)
        async def run(*args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            if task is not None:
                self.in_flight.add(task)
            holding = False
            ack = kwargs.get("ack")
            if slot_at_ack and ack is not None:

                async def ack_then_take_a_slot(*ack_args: Any, **ack_kwargs: Any) -> None:
                    nonlocal holding
                    await ack(*ack_args, **ack_kwargs)
                    if not holding:
                        await self._take_slot()
                        holding = True

                kwargs["ack"] = ack_then_take_a_slot
            try:
                if slot_at_ack:
                    await self._wait_for_room()
                    if ack is None:
                        # An event: Bolt acked it before the listener ran, so its work takes a
                        # slot now, like any other work after an ack.
                        await self._take_slot()
                        holding = True
                return await listener(*args, **kwargs)
            finally:
                if holding:
                    self.work_slots.release()
                if task is not None:
                    self.in_flight.discard(task)

        return run  # type: ignore[return-value]

    async def _take_slot(self) -> None:
        self._queue_changed(+1)
        try:
            await self.work_slots.acquire()
        finally:
            self._queue_changed(-1)

    async def _wait_for_room(self) -> None:
        if not self.busy:
            return
        try:
            await asyncio.wait_for(self.queue_has_room.wait(), self.ack_hold_seconds)
        except TimeoutError:
            now = time.monotonic()
            if now - self.queue_full_logged_at > 10:  # once in a while, not once per request
                self.queue_full_logged_at = now
                logger.warning("work queue full (%d waiting): working anyway", self.queued)

    def _queue_changed(self, delta: int) -> None:
        self.queued += delta
        if self.busy:
            self.queue_has_room.clear()
        else:
            self.queue_has_room.set()

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work nobody waits for and nothing is lost without (filling the stored
        profiles): shutdown cancels what is still running after the drain."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for work already under way (Bolt runs listeners after answering Slack)."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=timeout)

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
        await self.drain()
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.http is not None:
            await self.http.close()
            self.http = None
        await self.engine.dispose()


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


def build_services(settings: Settings, *, clock: Clock | None = None) -> Services:
    clock = clock or SystemClock()
    engine = create_engine_for(settings.DATABASE_URL)
    sessions = make_sessionmaker(engine)
    client = web_client(settings)
    workflow = IntroWorkflow(sessions, clock, settings.cadence)
    directory = Directory(sessions, clock, settings.contact_hash_key)
    profiles = Profiles(sessions, clock)
    people = People(profiles)  # one memory of people for the listeners and delivery
    metrics = Metrics()
    workspaces = Workspaces(sessions, clock)
    sender = delivery_client(settings)
    store: AsyncSQLAlchemyInstallationStore | None = None
    tokens: BotTokens = FixedToken(settings.SLACK_BOT_TOKEN)
    if settings.distributed:
        from bot.wiring.oauth import installation_store

        store = installation_store(settings, engine)
        rotator = AsyncTokenRotator(
            client_id=settings.SLACK_CLIENT_ID or "",
            client_secret=settings.SLACK_CLIENT_SECRET or "",
            client=sender,
        )
        tokens = InstalledTokens(store, workspaces, rotator)
    pacer = None
    if settings.INTROBOT_SLACK_RATE_SCALE > 0:
        # Every replica draws on the same budgets on PostgreSQL; SQLite runs one process.
        shared = engine.dialect.name == "postgresql"
        pacer = Pacer(
            SharedBudgets(engine) if shared else LocalBudgets(),
            Rates.slack(settings.INTROBOT_SLACK_RATE_SCALE),
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
        metrics=metrics,
        workspaces=workspaces,
        tokens=tokens,
        installation_store=store,
    )


def migrate(settings: Settings) -> None:
    upgrade_to_head(settings.DATABASE_URL, settings.contact_hash_key)


def create_app(services: Services) -> AsyncApp:
    from handlers import register_listeners

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
    instrument(app, services.metrics)
    app.use(_once_per_event(services))
    register_listeners(app, services)
    return app


def _once_per_event(services: Services) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Slack retries an event it thinks we missed (X-Slack-Retry-Num); act on it only once."""

    async def once_per_event(
        body: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        team_id = str(body.get("team_id") or "")
        if event_id and not await services.workflow.first_delivery(team_id, str(event_id)):
            return BoltResponse(status=200, body="")
        # Bolt's next() only lets the chain go on; a listener that fails has the event id
        # forgotten by the error handler (handlers/errors.py), so Slack's retry is acted on.
        await next()
        return None

    return once_per_event
