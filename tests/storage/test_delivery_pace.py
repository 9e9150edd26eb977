"""Delivery at Slack's pace: three `introbot serve` processes on PostgreSQL, one workspace with
a backlog of reminders due at once and another with a few, against a fake Slack that enforces
Slack's limits (429 past them).

The limits run 10 times faster than Slack's, in the fake and in the replicas alike
(INTROBOT_SLACK_RATE_SCALE), so the backlog drains in under a minute instead of 8. The
backlog is 2,000: at 10,000 the replicas' CPU, not the limits, sets the pace on a small
machine (over 4 minutes on two cores); set BACKLOG to see it.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import create_engine, insert

from bot.delivery.pace import Rates
from bot.standin.web_api import FakeSlack
from storage.db import sync_url
from storage.models import IntroRequest, OutboundMessage

SCALE = 10
BUSY, QUIET = "T0BUSY", "T0QUIET"
BACKLOG, FEW = 2_000, 5
CLIENT_ID, CLIENT_SECRET = "5555.6666", "pace-client-secret"
INTROBOT = shutil.which("introbot") or ""
_TARGET = re.compile(r"intro to \*Target (\d+)\*")


class _Fake(FakeSlack):
    """Block Kit goes unchecked here (the flow tests check every message's): at thousands of
    messages slack_sdk's models would make the fake, not the limits, set the pace."""

    def _validate_message(self, args: dict[str, Any]) -> None:
        return None


def _people(team_id: str, count: int) -> list[str]:
    return [f"U{team_id[-4:]}{n:03d}" for n in range(count)]


def _seed(database_url: str, tokens: dict[str, str], nine: datetime) -> None:
    """Each workspace installed; BACKLOG reminders due at `nine` in the busy one, FEW due a
    minute later (so behind all of them by due time) in the quiet one."""
    engine = create_engine(sync_url(database_url))
    store = SQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=engine)
    for team_id, token in tokens.items():
        store.save(
            Installation(
                app_id="A0INTROBOT",
                team_id=team_id,
                user_id=_people(team_id, 1)[0],
                bot_token=token,
                bot_id=f"B{team_id}",
                bot_user_id=f"UB{team_id}",
                bot_scopes=["chat:write", "users:read", "commands"],
                installed_at=time.time(),
            )
        )
    plan = [(BUSY, n, nine) for n in range(BACKLOG)]
    plan += [(QUIET, BACKLOG + n, nine + timedelta(minutes=1)) for n in range(FEW)]
    people = {BUSY: _people(BUSY, 100), QUIET: _people(QUIET, FEW)}
    with engine.begin() as connection:
        connection.execute(
            insert(IntroRequest),
            [
                {
                    "id": n + 1,
                    "team_id": team_id,
                    "requester_id": people[team_id][(n + 1) % len(people[team_id])],
                    "requester_name": "Requester",
                    "connector_id": people[team_id][n % len(people[team_id])],
                    "target_name": f"Target {n}",
                    "target_company": "Acme",
                    "reason": "r",
                    "blurb": "b",
                    "closeness": "",
                    "status": "awaiting_connector",
                    "created_at": due - timedelta(days=2),
                    "updated_at": due - timedelta(days=2),
                }
                for team_id, n, due in plan
            ],
        )
        connection.execute(
            insert(OutboundMessage),
            [
                {
                    "team_id": team_id,
                    "request_id": n + 1,
                    "dedupe_key": f"request:{n + 1}:reminder:nudge:1",
                    "kind": "reminder",
                    "recipient_id": people[team_id][n % len(people[team_id])],
                    "data": {"reminder": "nudge", "expects": ["awaiting_connector"]},
                    "status": "pending",
                    "due_at": due,
                    "attempts": 0,
                    "created_at": due - timedelta(days=2),
                }
                for team_id, n, due in plan
            ],
        )
    engine.dispose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def replicas() -> Iterator[list[subprocess.Popen[bytes]]]:
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


def _start(fake: FakeSlack, database_url: str, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env |= {
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "SLACK_SIGNING_SECRET": "pace-secret",
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "INTROBOT_SWEEP_INTERVAL": "1s",
        "INTROBOT_DELIVERY_LEASE": "30s",
        "INTROBOT_WORKING_HOURS": "always",
        "INTROBOT_SLACK_RATE_SCALE": str(SCALE),
    }
    return subprocess.Popen(
        [INTROBOT, "serve", "--host", "127.0.0.1", "--port", str(_free_port())],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _delivered(fake: FakeSlack) -> list[tuple[float, int]]:
    """(when, target number) of each reminder Slack accepted, in order."""
    return [
        (call.at, int(match.group(1)))
        for call in fake.calls_to("chat.postMessage")
        if call.ok and (match := _TARGET.search(str(call.args.get("text", ""))))
    ]


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_a_backlog_goes_at_slacks_pace_and_another_workspace_is_not_held_behind_it(
    database_url: str, tmp_path: Path, replicas: list[subprocess.Popen[bytes]]
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("three replicas share their budgets through PostgreSQL")
    fake = _Fake(team_id=BUSY, token="xoxb-busy", rate_limits=Rates.slack(SCALE))
    fake.add_workspace(QUIET, "Quiet", token="xoxb-quiet")
    for team_id, count in ((BUSY, 100), (QUIET, FEW)):
        for user_id in _people(team_id, count):
            fake.add_user(user_id, name=user_id.lower(), team_id=team_id)
    await fake.start()
    try:
        nine = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
        tokens = {BUSY: "xoxb-busy", QUIET: "xoxb-quiet"}
        await asyncio.to_thread(_seed, database_url, tokens, nine)
        for _ in range(3):
            replicas.append(_start(fake, database_url, tmp_path))
        deadline = time.monotonic() + 240
        # Counting is cheap; reading every call's text while they arrive would slow the fake.
        while fake.count("chat.postMessage") < BACKLOG + FEW:
            assert time.monotonic() < deadline, f"{len(_delivered(fake))} delivered"
            assert all(process.poll() is None for process in replicas), "a replica exited"
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # another sweep: anything sent twice would show now
        delivered = _delivered(fake)
        counts = Counter(target for _, target in delivered)
        assert set(counts) == set(range(BACKLOG + FEW))
        assert max(counts.values()) == 1, "a reminder went out twice"
        rate_limited = [c for c in fake.calls if c.error == "ratelimited"]
        assert rate_limited == [], f"{len(rate_limited)} calls answered 429"
        # The quiet workspace's reminders all went out while the busy one's backlog had
        # barely begun to drain.
        quiet_done = max(at for at, target in delivered if target >= BACKLOG)
        busy_before = sum(1 for at, target in delivered if target < BACKLOG and at <= quiet_done)
        # Without fairness it would wait for the whole backlog; a fifth leaves room for a
        # loaded machine.
        assert busy_before < BACKLOG // 5, f"{busy_before} of the backlog went first"
        # And the backlog went at the pace Slack allows across the workspace, not faster.
        busy = [at for at, target in delivered if target < BACKLOG]
        per_second = Rates.slack(SCALE).per_workspace.per_minute / 60
        assert busy[-1] - busy[0] >= (BACKLOG - 20) / per_second * 0.95
    finally:
        await fake.stop()
