"""Three `introbot serve` processes on one PostgreSQL database, with reminders due while
connectors check with their targets: each "did they answer?" reaches Slack once, and each ask
that went quiet moves once (one event) and tells its requester once."""

from __future__ import annotations

import asyncio
import re
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from bot.intro.states import Action, Status
from bot.standin.web_api import FakeSlack
from storage.db import sync_url
from storage.migrate import upgrade_to_head
from storage.models import IntroRequest, OutboundMessage, RequestEvent
from tests.conftest import POSTGRES_URL, _reset_postgres
from tests.storage.test_delivery_replicas import INTROBOT, USERS, _start

REQUESTS = 120
_CHECK = re.compile(r"Did \*Target (\d+)\* answer\?")
_QUIET = re.compile(r"intro to \*Target (\d+)\* has gone quiet")


@pytest.fixture
def postgres_url(database_url: str) -> str:
    """The test database when it is PostgreSQL; else INTROBOT_POSTGRES_URL, emptied and
    migrated; skipped where no PostgreSQL answers."""
    if database_url.startswith("postgresql"):
        return database_url
    try:
        _reset_postgres(POSTGRES_URL)
    except Exception:  # noqa: BLE001 - no PostgreSQL on this machine
        pytest.skip(
            f"PostgreSQL is not reachable at INTROBOT_POSTGRES_URL ({POSTGRES_URL}): "
            "three replicas need one database they can share"
        )
    upgrade_to_head(POSTGRES_URL)
    return POSTGRES_URL


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


def _quiet(n: int) -> bool:
    return n % 2 == 1


def _seed(database_url: str) -> None:
    """Requests being checked with their targets, each with one reminder due an hour ago:
    "did they answer?" to the connector (even), or the ask going quiet (odd)."""
    engine = create_engine(sync_url(database_url))
    past = datetime.now(UTC) - timedelta(hours=1)
    checking = Status.CHECKING_WITH_TARGET.value
    with engine.begin() as connection:
        connection.execute(
            insert(IntroRequest),
            [
                {
                    "id": n + 1,
                    "team_id": "T0FAKE",
                    "requester_id": USERS[n % len(USERS)],
                    "requester_name": "Requester",
                    "connector_id": USERS[(n + 1) % len(USERS)],
                    "target_name": f"Target {n}",
                    "target_company": "Acme",
                    "reason": "r",
                    "blurb": "b",
                    "closeness": "",
                    "status": checking,
                    "created_at": past,
                    "updated_at": past,
                }
                for n in range(REQUESTS)
            ],
        )
        rows = []
        for n in range(REQUESTS):
            quiet = _quiet(n)
            data: dict[str, object] = {
                "reminder": "target_quiet" if quiet else "target_check",
                "expects": [checking, Status.TARGET_QUIET.value] if quiet else [checking],
            }
            if quiet:
                data["moves"] = Action.GO_QUIET.value
            rows.append(
                {
                    "team_id": "T0FAKE",
                    "request_id": n + 1,
                    "dedupe_key": f"seed:{n}",
                    "kind": "reminder",
                    "recipient_id": USERS[(n + (0 if quiet else 1)) % len(USERS)],
                    "data": data,
                    "status": "pending",
                    "due_at": past,
                    "attempts": 0,
                    "created_at": past,
                }
            )
        connection.execute(insert(OutboundMessage), rows)
    engine.dispose()


def _sent(fake: FakeSlack, pattern: re.Pattern[str]) -> Counter[int]:
    return Counter(
        int(match.group(1))
        for call in fake.calls_to("chat.postMessage")
        if call.ok and (match := pattern.search(str(call.args.get("text", ""))))
    )


def _moves(database_url: str) -> tuple[Counter[int], Counter[str]]:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        events = Counter(
            int(request_id)
            for request_id in connection.execute(
                select(RequestEvent.request_id).where(RequestEvent.action == Action.GO_QUIET.value)
            ).scalars()
        )
        statuses = Counter(
            dict(
                connection.execute(
                    select(IntroRequest.status, func.count()).group_by(IntroRequest.status)
                ).all()
            )
        )
    engine.dispose()
    return events, statuses


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_three_replicas_send_each_reminder_once_and_move_each_ask_once(
    postgres_url: str, tmp_path: Path, replicas: list[subprocess.Popen[bytes]]
) -> None:
    fake = FakeSlack()
    fake.latency = 0.02  # every replica is mid-send most of the time, as with real Slack
    for user_id in USERS:
        fake.add_user(user_id, name=user_id.lower())
    await fake.start()
    try:
        await asyncio.to_thread(_seed, postgres_url)
        for _ in range(3):
            # Any hour of any day: this test is about replicas, not working hours. A lease
            # long enough for a batch on a loaded machine: a lapsed lease's repeat send is
            # test_delivery_replicas' subject; this one's is each move made once.
            replicas.append(
                _start(
                    fake,
                    postgres_url,
                    tmp_path,
                    {"INTROBOT_WORKING_HOURS": "always", "INTROBOT_DELIVERY_LEASE": "60s"},
                )
            )
        half = REQUESTS // 2
        deadline = asyncio.get_running_loop().time() + 180
        while len(_sent(fake, _CHECK)) < half or len(_sent(fake, _QUIET)) < half:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"{len(_sent(fake, _CHECK))} checks and {len(_sent(fake, _QUIET))} "
                    f"quiet notices of {half} each"
                )
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # one more sweep tick: anything sent twice would show now
        checks, quiet = _sent(fake, _CHECK), _sent(fake, _QUIET)
        assert set(checks) == {n for n in range(REQUESTS) if not _quiet(n)}
        assert set(quiet) == {n for n in range(REQUESTS) if _quiet(n)}
        assert max(checks.values()) == 1 and max(quiet.values()) == 1
        events, statuses = await asyncio.to_thread(_moves, postgres_url)
        assert set(events) == {n + 1 for n in range(REQUESTS) if _quiet(n)}
        assert max(events.values()) == 1
        assert statuses == Counter({"checking_with_target": half, "target_quiet": half})
    finally:
        await fake.stop()
