"""introbot wired to a local stand-in for Slack, all on loopback: for the demo and the tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web
from sqlalchemy import func, select

from bot.intro.clock import Clock
from bot.rendering.texts import step_definitions
from bot.services.container import Services
from bot.settings import load_settings
from bot.standin.payloads import SlackSender
from bot.standin.web_api import FakeSlack
from bot.wiring.app import build_services, create_app, migrate
from bot.wiring.scopes import BOT_SCOPES
from bot.wiring.server import web_app
from storage.models import DeliveryStatus, OutboundMessage

SIGNING_SECRET = "local-signing-secret"
# Distributed mode's app credentials, as the stand-in's oauth.v2.access knows them.
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "local-client-secret"


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    is_bot: bool = False
    deleted: bool = False
    tz: str = "America/New_York"
    is_admin: bool = False


DEFAULT_PEOPLE = (
    Person("U0REQUESTER", "Riya Patel"),
    Person("U0CONNECTOR", "Carlos Mendes"),
    Person("U0OTHER", "Olivia Chen"),
    Person("U0SECOND", "Sam Okafor"),
    Person("U0DEACTIVATED", "Dana Gone", deleted=True),
    Person("U0SOMEBOT", "Deploy Bot", is_bot=True),
    Person("U0ADMIN", "Alex Admin", is_admin=True),
)


class LocalStack:
    """A fake Slack Web API and introbot's real HTTP endpoint, started together."""

    def __init__(
        self,
        database_url: str,
        *,
        clock: Clock | None = None,
        people: tuple[Person, ...] = DEFAULT_PEOPLE,
        sweep: bool = False,
        sweep_interval: str = "1s",
        oauth: bool = False,
        token_rotation: bool = False,
        settings: dict[str, str] | None = None,
        port: int = 0,
    ) -> None:
        self.database_url = database_url
        self.people = people
        self._clock = clock
        self._sweep = sweep
        self._sweep_interval = sweep_interval
        # It refuses calls that BOT_SCOPES (what the app asks for) do not cover.
        self.fake = FakeSlack(scopes=BOT_SCOPES)
        # The Workflow Builder steps the app's manifest declares, for function executions.
        self.fake.declare_functions(step_definitions())
        # Distributed over OAuth: no bot token; each workspace installs through the flow.
        self.oauth = oauth
        if oauth:
            self.fake.enable_oauth(CLIENT_ID, CLIENT_SECRET, token_rotation=token_rotation)
        self._extra_settings = settings or {}
        # 0: any free port. A fixed one when a setting must name the app's own URL.
        self._port = port
        for person in people:
            self.fake.add_user(
                person.user_id,
                name=person.name.split()[0].lower(),
                real_name=person.name,
                is_bot=person.is_bot,
                deleted=person.deleted,
                tz=person.tz,
                is_admin=person.is_admin,
            )
        self._runner: web.AppRunner | None = None
        self.endpoint = ""
        self.root = ""
        self.services: Services | None = None
        self.slack: SlackSender | None = None

    async def __aenter__(self) -> LocalStack:
        api_url = await self.fake.start()
        mode = (
            {
                "SLACK_CLIENT_ID": CLIENT_ID,
                "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                "SLACK_AUTHORIZE_URL": self.fake.authorize_url,
            }
            if self.oauth
            else {"SLACK_BOT_TOKEN": self.fake.token}
        )
        settings = load_settings(
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            DATABASE_URL=self.database_url,
            SLACK_API_URL=api_url,
            SLACK_FILES_URL=self.fake.files_url,
            INTROBOT_SWEEP_INTERVAL=self._sweep_interval,
            # Flows here send in a moment what Slack would pace over minutes; tests of pacing
            # set a scale of their own.
            **{"INTROBOT_SLACK_RATE_SCALE": "0", **mode, **self._extra_settings},
        )
        await asyncio.to_thread(migrate, settings)
        self.services = build_services(settings, clock=self._clock)
        self._runner = web.AppRunner(
            web_app(create_app(self.services), self.services, sweep=self._sweep)
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.root = f"http://127.0.0.1:{port}"
        self.endpoint = f"{self.root}/slack/events"
        self.fake.redirect_uri = f"{self.root}/slack/oauth_redirect"
        self.slack = await SlackSender(self.endpoint, SIGNING_SECRET).__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.slack is not None:
            await self.slack.__aexit__()
        if self._runner is not None:
            await self._runner.cleanup()
        if self.services is not None:
            await self.services.close()
        await self.fake.stop()

    async def until(
        self, condition: Callable[[], bool], what: str = "condition", timeout: float = 10.0
    ) -> None:
        """Wait for the bot's work after an ack (Bolt runs listeners after answering Slack)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def sends_recorded(self, timeout: float = 10.0) -> None:
        """Wait until the bot has recorded Slack's answer to every message it sent. A message
        reaches the fake a moment before its ts is stored; a person cannot press its buttons
        that fast, and a press in between finds the card "not sent yet"."""
        assert self.services is not None
        deadline = time.monotonic() + timeout
        while True:
            async with self.services.sessions() as session:
                sending = await session.scalar(
                    select(func.count())
                    .select_from(OutboundMessage)
                    .where(OutboundMessage.status == DeliveryStatus.SENDING)
                )
            if not sending:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{sending} sends still unrecorded")
            await asyncio.sleep(0.01)

    async def settled(self, timeout: float = 10.0) -> None:
        """Wait for the work the bot does after its acks, the background work included (the
        listing of the workspace's members a first look-up starts)."""
        assert self.services is not None
        await self.services.work.drain()
        deadline = time.monotonic() + timeout
        while self.services.work.background:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"{len(self.services.work.background)} background tasks still running"
                )
            await asyncio.wait(set(self.services.work.background), timeout=left)
