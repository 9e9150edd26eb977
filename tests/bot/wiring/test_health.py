"""GET /healthz (alive) and GET /readyz (ready), each way of not being ready."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import update

from bot.services.container import Services
from bot.settings import load_settings
from bot.standin.stack import LocalStack
from bot.standin.web_api import FakeSlack
from bot.wiring.app import build_services, create_app
from bot.wiring.health import Readiness, default_checks, templates_check
from bot.wiring.server import web_app
from storage.models import DeliveryStatus, MessageKind, OutboundMessage


async def get(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, json.loads(await response.text())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe closes


async def test_ready_when_every_check_passes(stack: LocalStack) -> None:
    status, body = await get(f"{stack.root}/readyz")
    assert status == 200
    assert body == {
        "ok": True,
        "checks": {
            "database": {"ok": True},
            "templates": {"ok": True},
            "delivery_backlog": {"ok": True},
            "slack_auth": {"ok": True},
            "delivery": {"ok": True},
        },
    }
    assert (await get(f"{stack.root}/healthz")) == (200, {"ok": True})


async def test_not_ready_while_slack_refuses_the_token_and_auth_test_is_cached(
    stack: LocalStack,
) -> None:
    stack.fake.fail_next("auth.test", error="invalid_auth")
    status, body = await get(f"{stack.root}/readyz")
    assert status == 503
    assert body["ok"] is False
    assert body["checks"]["slack_auth"] == {"ok": False, "reason": "auth.test failed: invalid_auth"}
    assert body["checks"]["database"] == {"ok": True}
    calls = stack.fake.count("auth.test")
    # A load balancer polling again soon gets the kept answer; Slack is not asked again.
    for _ in range(3):
        assert (await get(f"{stack.root}/readyz"))[0] == 503
    assert stack.fake.count("auth.test") == calls
    # Alive all the same: a restart would not help.
    assert (await get(f"{stack.root}/healthz"))[0] == 200


@pytest.fixture
async def unreachable_database(tmp_path: Path) -> AsyncIterator[tuple[str, FakeSlack]]:
    """introbot served against a PostgreSQL URL on a port where nothing listens."""
    async with FakeSlack(scopes=("commands", "chat:write", "users:read")) as fake:
        settings = load_settings(
            SLACK_BOT_TOKEN=fake.token,
            SLACK_SIGNING_SECRET="secret",
            DATABASE_URL=f"postgresql://introbot:s3cret@127.0.0.1:{closed_port()}/introbot",
            SLACK_API_URL=fake.base_url,
        )
        services = build_services(settings)
        runner = web.AppRunner(web_app(create_app(services), services, sweep=False))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        try:
            yield f"http://127.0.0.1:{port}", fake
        finally:
            await runner.cleanup()
            await services.close()


async def test_not_ready_without_the_database_but_alive(
    unreachable_database: tuple[str, FakeSlack],
) -> None:
    root, _ = unreachable_database
    status, body = await get(f"{root}/readyz")
    assert status == 503
    database = body["checks"]["database"]
    assert database["ok"] is False
    assert "Connection refused" in database["reason"] or "connect" in database["reason"]
    assert "s3cret" not in json.dumps(body)
    assert body["checks"]["templates"] == {"ok": True}
    assert body["checks"]["slack_auth"] == {"ok": True}
    assert (await get(f"{root}/healthz")) == (200, {"ok": True})
    # /metrics still answers with what it counts when the outbox can't be read.
    async with aiohttp.ClientSession() as session, session.get(f"{root}/metrics") as response:
        assert response.status == 200
        assert "introbot_slack_requests" in await response.text()


def _jinja(directory: Path) -> Environment:
    return Environment(loader=FileSystemLoader(directory))


async def test_not_ready_when_a_template_does_not_load(tmp_path: Path) -> None:
    (tmp_path / "good.txt.j2").write_text("Hello {{ name }}")
    (tmp_path / "broken.json.j2").write_text('{"text": "{% if %}"}')
    readiness = Readiness()
    readiness.add("templates", templates_check(lambda: _jinja(tmp_path)))
    ok, checks = await readiness.run()
    assert not ok
    assert checks["templates"]["ok"] is False
    assert checks["templates"]["reason"].startswith("template broken.json.j2 does not load")


async def test_not_ready_when_no_templates_were_installed(tmp_path: Path) -> None:
    readiness = Readiness()
    readiness.add("templates", templates_check(lambda: _jinja(tmp_path / "missing")))
    ok, checks = await readiness.run()
    assert not ok and checks["templates"]["reason"].startswith("no templates found")


async def test_a_check_that_hangs_or_raises_fails_with_a_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    monkeypatch.setattr("bot.wiring.health.CHECK_TIMEOUT_SECONDS", 0.05)

    async def hangs() -> None:
        await asyncio.sleep(10)

    async def raises() -> None:
        raise RuntimeError("token xoxb-123-secret expired\nsecond line")

    async def passes() -> None:
        return None

    readiness = Readiness()
    for name, check in (("hangs", hangs), ("raises", raises), ("passes", passes)):
        readiness.add(name, check)
    ok, checks = await readiness.run()
    assert not ok
    assert checks["hangs"] == {"ok": False, "reason": "no answer within 0.05 s"}
    assert checks["raises"] == {
        "ok": False,
        "reason": "RuntimeError: token xoxb-[redacted] expired",
    }
    assert checks["passes"] == {"ok": True}


def _services(tmp_path: Path, **settings: str) -> Services:
    return build_services(load_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", **settings))


async def test_without_a_bot_token_slack_auth_is_not_checked(tmp_path: Path) -> None:
    # Multi-workspace (OAuth) mode has no one token to test.
    services = _services(tmp_path, SLACK_SIGNING_SECRET="s")
    try:
        names = [name for name, _ in default_checks(services).checks]
        assert names == ["database", "templates", "delivery_backlog"]
    finally:
        await services.close()
    services = _services(tmp_path, SLACK_SIGNING_SECRET="s", SLACK_BOT_TOKEN="xoxb-1")
    try:
        names = [name for name, _ in default_checks(services).checks]
        assert names == ["database", "templates", "delivery_backlog", "slack_auth", "delivery"]
    finally:
        await services.close()


async def test_not_ready_is_logged_when_it_changes_not_at_every_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = {"now": True}

    async def flaky() -> None:
        if failing["now"]:
            raise RuntimeError("down")

    readiness = Readiness()
    readiness.add("flaky", flaky)
    with caplog.at_level("INFO", logger="bot.wiring.health"):
        for _ in range(3):
            await readiness.run()
        failing["now"] = False
        for _ in range(3):
            await readiness.run()
    assert [r.getMessage() for r in caplog.records] == [
        "not ready: flaky: RuntimeError: down",
        "ready again",
    ]


async def test_not_ready_while_delivery_is_paused_on_the_apps_token(stack: LocalStack) -> None:
    """Single-workspace mode: a revoked token pauses delivery; readiness says why until the
    token works again."""
    assert stack.services is not None and stack.services.workspaces is not None
    await stack.services.workspaces.pause("T0FAKE", "token_revoked")
    status, body = await get(f"{stack.root}/readyz")
    assert status == 503
    assert "token_revoked" in body["checks"]["delivery"]["reason"]
    await stack.services.workspaces.resume("T0FAKE")
    status, body = await get(f"{stack.root}/readyz")
    assert (status, body["checks"]["delivery"]) == (200, {"ok": True})


async def test_not_ready_while_due_messages_are_not_drained(stack: LocalStack) -> None:
    """A message due longer than any wait between retries, in a workspace delivered to, means
    the sweep stopped: readiness says so, and the gauge shows the wait. A paused workspace's
    messages wait by design and do not count."""
    assert stack.services is not None and stack.services.workspaces is not None
    now = stack.services.clock.now()
    async with stack.services.sessions.begin() as session:
        for team_id, key in (("T0FAKE", "stuck"), ("T0PAUSED", "waits")):
            session.add(
                OutboundMessage(
                    team_id=team_id,
                    dedupe_key=key,
                    kind=MessageKind.NOTICE,
                    recipient_id="U1",
                    data={},
                    status=DeliveryStatus.PENDING,
                    due_at=now - timedelta(minutes=42),
                    created_at=now - timedelta(minutes=42),
                )
            )
    await stack.services.workspaces.pause("T0PAUSED", "token_revoked")
    status, body = await get(f"{stack.root}/readyz")
    assert status == 503
    assert body["checks"]["delivery_backlog"] == {
        "ok": False,
        "reason": "delivery is not draining: a message has been due for 42 min",
    }
    async with aiohttp.ClientSession() as session, session.get(f"{stack.root}/metrics") as answer:
        scraped = await answer.text()
    (waited,) = [
        float(line.split()[1])
        for line in scraped.splitlines()
        if line.startswith("introbot_outbox_oldest_due_seconds ")
    ]
    assert 42 * 60 <= waited < 43 * 60
    async with stack.services.sessions.begin() as session:
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.dedupe_key.in_(["stuck", "waits"]))
            .values(status=DeliveryStatus.SENT)
        )
    await stack.services.workspaces.resume("T0PAUSED")
    status, body = await get(f"{stack.root}/readyz")
    assert (status, body["checks"]["delivery_backlog"]) == (200, {"ok": True})
