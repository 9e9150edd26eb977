"""What an operator polls: GET /healthz (alive), GET /readyz (ready), GET /metrics.

Readiness is a list of named async checks; each raises `NotReady` (or anything else) with a
reason a person can act on. To add a check, append it in `default_checks`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiohttp import web
from jinja2 import Environment
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.observability.logs import redact
from bot.observability.metrics import oldest_due_at
from bot.observability.slack_errors import slack_error_code
from bot.rendering.templating import environment
from bot.services.container import Services

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 5.0
# A load balancer polls every few seconds; Slack need not hear from us each time.
AUTH_CACHE_SECONDS = 30.0
# A due message unclaimed this long (beyond two sweeps) means delivery stopped draining:
# longer than any wait between retries (bot.delivery.outbox RETRY_CAP) plus a sweep.
STALLED_AFTER = timedelta(minutes=20)

Check = Callable[[], Awaitable[None]]


class NotReady(Exception):
    """A check failed; the message says why, in one line."""


@dataclass
class Readiness:
    checks: list[tuple[str, Check]] = field(default_factory=list)
    # What was last logged about failing checks: a probe polling every few seconds logs a
    # change, not every poll.
    reported: str = ""

    def add(self, name: str, check: Check) -> None:
        self.checks.append((name, check))

    async def run(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Every check at once; a check that hangs fails after CHECK_TIMEOUT_SECONDS."""
        outcomes = await asyncio.gather(*(_outcome(check) for _, check in self.checks))
        results = {name: outcome for (name, _), outcome in zip(self.checks, outcomes, strict=True)}
        failing = ", ".join(f"{name}: {o['reason']}" for name, o in results.items() if not o["ok"])
        if failing != self.reported:
            if failing:
                logger.warning("not ready: %s", failing)
            else:
                logger.info("ready again")
            self.reported = failing
        return not failing, results


async def _outcome(check: Check) -> dict[str, Any]:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except NotReady as exc:
        return {"ok": False, "reason": redact(str(exc))}
    except TimeoutError:
        return {"ok": False, "reason": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready", said in one line
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return {"ok": False, "reason": redact(f"{type(exc).__name__}: {first_line}"[:300])}
    return {"ok": True}


def database_check(engine: AsyncEngine) -> Check:
    async def database() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    return database


def templates_check(jinja: Callable[[], Environment] = environment) -> Check:
    """Every template under the templates directory loads: a wheel without its templates, or
    a template with a syntax error, answers every Slack request with a 500."""

    async def templates() -> None:
        env = jinja()
        names = env.list_templates()
        if not names:
            raise NotReady(f"no templates found by {type(env.loader).__name__}")
        for name in names:
            try:
                env.get_template(name)
            except Exception as exc:  # noqa: BLE001 - name the template that fails
                raise NotReady(f"template {name} does not load: {exc}") from exc

    return templates


def slack_auth_check(client: AsyncWebClient, cache_seconds: float = AUTH_CACHE_SECONDS) -> Check:
    """auth.test with the bot token; its answer, good or bad, is kept for `cache_seconds`."""
    last: dict[str, Any] = {"at": float("-inf"), "error": None}

    async def slack_auth() -> None:
        if time.monotonic() - last["at"] > cache_seconds:
            try:
                await client.auth_test()
                error = None
            except SlackApiError as exc:
                error = f"auth.test failed: {slack_error_code(exc)}"
            last.update(at=time.monotonic(), error=error)
        if last["error"]:
            raise NotReady(last["error"])

    return slack_auth


def backlog_check(services: Services, stalled_after: timedelta = STALLED_AFTER) -> Check:
    """Delivery drains: no message due longer than `stalled_after` (the longest wait between
    retries) is still waiting to be claimed. A Slack outage does not trip it (those messages
    are rescheduled, not left due); a sweep that stopped, or a database that refuses the
    claims, does."""

    async def backlog() -> None:
        now = services.clock.now()
        async with services.sessions() as session:
            oldest = await oldest_due_at(session, now)
        if oldest is not None and now - oldest > stalled_after:
            minutes = int((now - oldest).total_seconds() // 60)
            raise NotReady(f"delivery is not draining: a message has been due for {minutes} min")

    return backlog


def default_checks(services: Services) -> Readiness:
    readiness = Readiness()
    readiness.add("database", database_check(services.engine))
    readiness.add("templates", templates_check())
    sweeps = timedelta(seconds=2 * services.settings.sweep_interval_seconds)
    readiness.add("delivery_backlog", backlog_check(services, max(STALLED_AFTER, sweeps)))
    # In multi-workspace (OAuth) mode there is no one bot token to test.
    if services.settings.SLACK_BOT_TOKEN:
        readiness.add("slack_auth", slack_auth_check(services.client))
        readiness.add("delivery", delivery_check(services))
    return readiness


def delivery_check(services: Services) -> Check:
    """Single-workspace mode: delivery paused on an error of the app's token (revoked,
    invalid) keeps the app out of service, with the reason, until the token works again."""

    async def delivery() -> None:
        problem = await services.slack_auth_problem()
        if problem:
            raise NotReady(problem)

    return delivery


SERVICES_KEY = web.AppKey("operator_services", Services)
READINESS_KEY = web.AppKey("readiness", Readiness)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def readyz(request: web.Request) -> web.Response:
    ok, checks = await request.app[READINESS_KEY].run()
    return web.json_response({"ok": ok, "checks": checks}, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    services = request.app[SERVICES_KEY]
    try:
        await services.metrics.read_outbox(services.sessions, services.clock.now())
    except Exception as exc:  # noqa: BLE001 - the counters are still worth serving
        logger.warning("outbox gauges not read: %s", redact(type(exc).__name__))
    body, content_type = services.metrics.exposition(request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})


def add_operator_routes(
    app: web.Application, services: Services, readiness: Readiness | None = None
) -> None:
    app[SERVICES_KEY] = services
    app[READINESS_KEY] = readiness or default_checks(services)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)


async def start_operator_server(services: Services) -> web.AppRunner | None:
    """`introbot run`: /healthz, /readyz and /metrics on INTROBOT_HEALTH_PORT, if it is set."""
    settings = services.settings
    if settings.INTROBOT_HEALTH_PORT is None:
        return None
    app = web.Application()
    add_operator_routes(app, services)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.INTROBOT_HEALTH_HOST, settings.INTROBOT_HEALTH_PORT).start()
    logger.info(
        "health and metrics on http://%s:%d/readyz",
        settings.INTROBOT_HEALTH_HOST,
        settings.INTROBOT_HEALTH_PORT,
    )
    return runner
