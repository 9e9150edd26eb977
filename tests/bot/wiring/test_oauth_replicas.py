"""Distributed mode on three `introbot serve` processes sharing PostgreSQL: workspaces
installed through one replica are served, each with its own token, by the others."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine, select
from yarl import URL

from bot.standin.payloads import SlackSender
from bot.standin.web_api import FakeSlack
from bot.wiring.scopes import BOT_SCOPES
from storage.db import sync_url
from storage.models import Workspace
from tests.bot.wiring.oauth_flow import (
    CONNECTOR_B,
    REQUESTER_B,
    TEAM_B,
    add_to_slack_link,
    request_intro_in,
    uninstalled_event,
)
from tests.handlers.flow import CONNECTOR, OTHER, REQUESTER, SECOND

INTROBOT = shutil.which("introbot") or ""
SIGNING_SECRET = "replica-secret"
CLIENT_ID, CLIENT_SECRET = "3333.4444", "replica-client-secret"
TEAM_A = "T0FAKE"


@dataclass
class Replica:
    """One `introbot serve` process, driven like LocalStack (the flow helpers take either)."""

    process: subprocess.Popen[bytes]
    root: str
    fake: FakeSlack
    slack: SlackSender | None = None

    async def until(
        self, condition: Callable[[], bool], what: str = "condition", timeout: float = 20.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def _start(
    fake: FakeSlack, database_url: str, cwd: Path, processes: list[subprocess.Popen[bytes]]
) -> Replica:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env |= {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.base_url,
        "SLACK_AUTHORIZE_URL": fake.authorize_url,
        "DATABASE_URL": database_url,
        "INTROBOT_SWEEP_INTERVAL": "1s",
    }
    process = subprocess.Popen(
        [INTROBOT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(process)
    return Replica(process, f"http://127.0.0.1:{port}", fake)


async def _healthy(replica: Replica) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(600):
            assert replica.process.poll() is None, "introbot serve exited"
            try:
                async with session.get(f"{replica.root}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError("replica never became healthy")


async def _install(replica: Replica, team_id: str) -> str:
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(replica.root)])
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.get(f"{replica.root}/slack/install") as response:
            link = add_to_slack_link(await response.text())
        replica.fake.installing_team = team_id
        replica.fake.redirect_uri = f"{replica.root}/slack/oauth_redirect"
        async with browser.get(link) as response:
            assert response.status == 200
            return await response.text()


def _status_of(database_url: str, team_id: str) -> str | None:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        status = connection.scalar(select(Workspace.status).where(Workspace.team_id == team_id))
    engine.dispose()
    return status


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_three_replicas_serve_workspaces_installed_on_one(
    database_url: str, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite runs one process)")
    fake = FakeSlack(scopes=BOT_SCOPES)
    fake.enable_oauth(CLIENT_ID, CLIENT_SECRET)
    fake.add_workspace(TEAM_B, "Beta Corp")
    for user_id, name, team in (
        (REQUESTER, "Riya Patel", TEAM_A),
        (CONNECTOR, "Carlos Mendes", TEAM_A),
        (OTHER, "Olivia Chen", TEAM_A),
        (SECOND, "Sam Okafor", TEAM_A),
        (REQUESTER_B, "Bea Lind", TEAM_B),
        (CONNECTOR_B, "Bo Strand", TEAM_B),
    ):
        fake.add_user(user_id, name=name.split()[0].lower(), real_name=name, team_id=team)
    await fake.start()
    try:
        # The first replica migrates; the others wait for its lock.
        replicas = [await _start(fake, database_url, tmp_path, processes) for _ in range(3)]
        await asyncio.gather(*(_healthy(replica) for replica in replicas))
        installer, serves_a, serves_b = replicas
        assert "introbot is installed in Fake Team" in await _install(installer, TEAM_A)
        assert "introbot is installed in Beta Corp" in await _install(installer, TEAM_B)
        (token_a,) = [t for t in fake.tokens_of(TEAM_A) if t != fake.token]
        (token_b,) = fake.tokens_of(TEAM_B)

        for replica in (serves_a, serves_b):
            replica.slack = await SlackSender(
                f"{replica.root}/slack/events", SIGNING_SECRET
            ).__aenter__()
        try:
            await request_intro_in(serves_a, TEAM_A, REQUESTER, CONNECTOR)  # type: ignore[arg-type]
            await request_intro_in(serves_b, TEAM_B, REQUESTER_B, CONNECTOR_B)  # type: ignore[arg-type]
            sent = {(c.args["channel"], c.token) for c in fake.calls_to("chat.postMessage")}
            assert sent == {
                (REQUESTER, token_a),
                (CONNECTOR, token_a),
                (REQUESTER_B, token_b),
                (CONNECTOR_B, token_b),
            }
            assert [c for c in fake.calls if not c.ok] == []

            # Uninstalled, as told to one replica; reinstalled through another; served by
            # the third with the new token.
            fake.revoke_workspace(TEAM_A)
            assert serves_b.slack is not None
            status, _ = await serves_b.slack.event(uninstalled_event(TEAM_A))
            assert status == 200
            await serves_b.until(lambda: _status_of(database_url, TEAM_A) == "uninstalled")
            assert "introbot is installed" in await _install(serves_b, TEAM_A)
            assert _status_of(database_url, TEAM_A) == "active"
            newest = fake.tokens_of(TEAM_A)[-1]
            await request_intro_in(serves_a, TEAM_A, OTHER, SECOND)  # type: ignore[arg-type]
            later = [
                c for c in fake.calls_to("chat.postMessage") if c.args["channel"] in (OTHER, SECOND)
            ]
            # A replica may still hold the old token for its cache's minute: that send meets
            # token_revoked, finds the new token and goes again; nothing pauses.
            assert {c.token for c in later if c.ok} == {newest}
            assert {c.error for c in later if not c.ok} <= {"token_revoked"}
            assert _status_of(database_url, TEAM_A) == "active"
        finally:
            for replica in (serves_a, serves_b):
                if replica.slack is not None:
                    await replica.slack.__aexit__()
    finally:
        await fake.stop()
