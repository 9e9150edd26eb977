"""Several `introbot serve` processes on one database deliver each due message once.

On PostgreSQL: three processes, then three with one killed (SIGKILL) mid-sweep. On SQLite:
the same with one process, the way SQLite is meant to be run.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from bot.standin.web_api import FakeSlack
from storage.db import sync_url
from storage.models import IntroRequest, OutboundMessage, RequestEvent
from tests.webhook_receiver import Receiver

MESSAGES = 1000
USERS = [f"U{n:04d}" for n in range(20)]
INTROBOT = shutil.which("introbot") or ""
_TARGET = re.compile(r"check with \*Target (\d+)\*")


def _requests(count: int, past: datetime) -> list[dict[str, object]]:
    """`count` requests waiting on their connector's check with the target since `past`."""
    return [
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
            "status": "checking_with_target",
            "created_at": past,
            "updated_at": past,
        }
        for n in range(count)
    ]


def _seed_due_messages(database_url: str, count: int) -> None:
    """`count` requests, each with one notice that fell due an hour ago."""
    engine = create_engine(sync_url(database_url))
    past = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as connection:
        connection.execute(insert(IntroRequest), _requests(count, past))
        connection.execute(
            insert(OutboundMessage),
            [
                {
                    "team_id": "T0FAKE",
                    "request_id": n + 1,
                    "dedupe_key": f"seed:{n}",
                    "kind": "notice",
                    "recipient_id": USERS[n % len(USERS)],
                    "data": {"event": "accept"},
                    "status": "pending",
                    "due_at": past,
                    "attempts": 0,
                    "created_at": past,
                }
                for n in range(count)
            ],
        )
    engine.dispose()


def _leases(database_url: str) -> Counter[int]:
    """Rows being sent, by the pid of the process holding them (owners are host:pid:nonce)."""
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        owners = connection.execute(
            select(OutboundMessage.lease_owner).where(OutboundMessage.status == "sending")
        ).scalars()
        held = Counter(int(owner.split(":")[1]) for owner in owners if owner)
    engine.dispose()
    return held


def _claimed_twice(database_url: str) -> int:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        taken_over = connection.execute(
            select(func.count())
            .select_from(OutboundMessage)
            .where(OutboundMessage.attempts >= 2, OutboundMessage.status == "sent")
        ).scalar_one()
    engine.dispose()
    return int(taken_over)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def replicas(database_url: str, tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
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


def _start(
    fake: FakeSlack, database_url: str, cwd: Path, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env |= {
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": "replica-secret",
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "INTROBOT_SWEEP_INTERVAL": "1s",
        "INTROBOT_DELIVERY_LEASE": "10s",
        "INTROBOT_SLACK_RATE_SCALE": "0",
    } | (extra_env or {})
    return subprocess.Popen(
        [INTROBOT, "serve", "--host", "127.0.0.1", "--port", str(_free_port())],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _delivered(fake: FakeSlack) -> Counter[int]:
    return Counter(
        int(match.group(1))
        for call in fake.calls_to("chat.postMessage")
        if call.ok and (match := _TARGET.search(str(call.args.get("text", ""))))
    )


async def _wait_for(fake: FakeSlack, condition: object, seconds: float) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"only {len(_delivered(fake))} of {MESSAGES} delivered")
        await asyncio.sleep(0.05)


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
@pytest.mark.parametrize("kill_one", [False, True], ids=["all-alive", "one-killed"])
async def test_each_due_message_reaches_slack_once(
    database_url: str,
    tmp_path: Path,
    replicas: list[subprocess.Popen[bytes]],
    kill_one: bool,
) -> None:
    postgres = database_url.startswith("postgresql")
    if kill_one and not postgres:
        pytest.skip("killing one of several replicas needs PostgreSQL (SQLite runs one process)")
    fake = FakeSlack()
    fake.latency = 0.02  # every replica is mid-send most of the time, as with real Slack
    for user_id in USERS:
        fake.add_user(user_id, name=user_id.lower())
    await fake.start()
    try:
        await asyncio.to_thread(_seed_due_messages, database_url, MESSAGES)
        for _ in range(3 if postgres else 1):
            replicas.append(_start(fake, database_url, tmp_path))
        held = 0  # rows the killed replica was sending when it died
        if kill_one:
            await _wait_for(fake, lambda: len(_delivered(fake)) >= MESSAGES // 5, 120)
            # Kill a replica while it holds leased rows (mid-sweep): freeze it, check it still
            # holds some, then SIGKILL it.
            pids = {process.pid for process in replicas}
            while True:
                holders = set(await asyncio.to_thread(_leases, database_url)) & pids
                if not holders:
                    continue
                victim = holders.pop()
                os.kill(victim, signal.SIGSTOP)
                # A write it sent before it froze still completes: results are written in
                # statements that commit on their own. Let them land before looking.
                await asyncio.sleep(0.5)
                held = (await asyncio.to_thread(_leases, database_url))[victim]
                if held:
                    os.kill(victim, signal.SIGKILL)
                    break
                os.kill(victim, signal.SIGCONT)
        await _wait_for(fake, lambda: len(_delivered(fake)) == MESSAGES, 180)
        if kill_one:
            # The victim may have sent its leased rows before it froze, without recording them:
            # then every message is delivered before its lease (10 s) lapses. Wait for the others
            # to take those rows over, so the counts below include the repeats this costs.
            deadline = asyncio.get_running_loop().time() + 60
            while await asyncio.to_thread(_leases, database_url):
                assert asyncio.get_running_loop().time() < deadline, "leased rows never taken over"
                await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # one more sweep tick: anything sent twice would show now
        delivered = _delivered(fake)
        assert set(delivered) == set(range(MESSAGES))
        repeats = sum(count - 1 for count in delivered.values())
        if kill_one:
            # At-least-once: only rows the killed process held may be repeated (those it sent
            # but had not recorded: up to its 8 sends in flight, and results waiting to be written).
            assert repeats <= held, delivered.most_common(10)
            # The killed process held leased rows that the others took over.
            assert await asyncio.to_thread(_claimed_twice, database_url) > 0
        else:
            assert repeats == 0, delivered.most_common(10)
    finally:
        await fake.stop()


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_a_slack_outage_with_a_replica_killed_delivers_each_message_once(
    database_url: str, tmp_path: Path, replicas: list[subprocess.Popen[bytes]]
) -> None:
    """Slack answers 503 to everything for a while (longer than the eight tries that used to
    make a message final), one of three replicas is killed during it, then Slack recovers:
    every message goes out, once, and none is marked failed or expired."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite runs one process)")
    fake = FakeSlack()
    for user_id in USERS:
        fake.add_user(user_id, name=user_id.lower())
    await fake.start()
    try:
        await asyncio.to_thread(_seed_due_messages, database_url, MESSAGES)
        fake.down_for(30)
        for _ in range(3):
            replicas.append(_start(fake, database_url, tmp_path))
        await asyncio.sleep(10)
        assert _delivered(fake) == Counter()  # nothing gets through the outage
        os.kill(replicas[0].pid, signal.SIGKILL)
        await _wait_for(fake, lambda: len(_delivered(fake)) == MESSAGES, 240)
        await asyncio.sleep(1.5)  # one more sweep tick: anything sent twice would show now
        delivered = _delivered(fake)
        assert set(delivered) == set(range(MESSAGES))
        assert sum(count - 1 for count in delivered.values()) == 0, delivered.most_common(5)
        refused = [c for c in fake.calls_to("chat.postMessage") if not c.ok]
        assert len(refused) > 8  # each message was tried through the outage, more than once
        statuses = await asyncio.to_thread(_statuses, database_url)
        assert statuses == {"sent": MESSAGES}
    finally:
        await fake.stop()


def _statuses(database_url: str) -> dict[str, int]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
            )
            return {status: count for status, count in rows}
    finally:
        engine.dispose()


HOOKS = 300
HOOK_SECRET = "replicas-share-this-webhook-secret"


def _seed_due_webhooks(database_url: str, count: int) -> None:
    """`count` requests, each with one change whose POST fell due an hour ago."""
    engine = create_engine(sync_url(database_url))
    past = datetime.now(UTC) - timedelta(hours=1)
    with engine.begin() as connection:
        connection.execute(insert(IntroRequest), _requests(count, past))
        connection.execute(
            insert(RequestEvent),
            [
                {
                    "id": n + 1,
                    "team_id": "T0FAKE",
                    "request_id": n + 1,
                    "actor_id": USERS[(n + 1) % len(USERS)],
                    "action": "accept",
                    "from_status": "awaiting_connector",
                    "to_status": "checking_with_target",
                    "at": past,
                }
                for n in range(count)
            ],
        )
        connection.execute(
            insert(OutboundMessage),
            [
                {
                    "team_id": "T0FAKE",
                    "request_id": n + 1,
                    "dedupe_key": f"request:{n + 1}:webhook:change:{n + 1}",
                    "kind": "webhook",
                    "recipient_id": "",
                    "data": {"event_id": n + 1, "stage": None},
                    "status": "pending",
                    "due_at": past,
                    "attempts": 0,
                    "created_at": past,
                }
                for n in range(count)
            ],
        )
    engine.dispose()


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_each_change_reaches_the_webhook_once_with_a_replica_killed(
    database_url: str, tmp_path: Path, replicas: list[subprocess.Popen[bytes]]
) -> None:
    """Three replicas POST the same outbox's webhook rows; one is killed while it holds some:
    the receiver gets every change, each once but for those the killed one had sent without
    recording, and every signature checks out."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite runs one process)")
    fake = FakeSlack()
    await fake.start()
    receiver = Receiver(HOOK_SECRET, lambda: datetime.now(UTC).timestamp(), latency=0.02)
    await receiver.start()
    hook = {"INTROBOT_WEBHOOK_URL": receiver.url, "INTROBOT_WEBHOOK_SECRET": HOOK_SECRET}
    try:
        await asyncio.to_thread(_seed_due_webhooks, database_url, HOOKS)
        for _ in range(3):
            replicas.append(_start(fake, database_url, tmp_path, hook))
        deadline = asyncio.get_running_loop().time() + 120
        while len(receiver.received) < HOOKS // 5:
            assert asyncio.get_running_loop().time() < deadline, "the replicas never started"
            await asyncio.sleep(0.05)
        pids = {process.pid for process in replicas}
        while True:
            holders = set(await asyncio.to_thread(_leases, database_url)) & pids
            if not holders:
                continue
            victim = holders.pop()
            os.kill(victim, signal.SIGSTOP)
            await asyncio.sleep(0.5)
            held = (await asyncio.to_thread(_leases, database_url))[victim]
            if held:
                os.kill(victim, signal.SIGKILL)
                break
            os.kill(victim, signal.SIGCONT)
        deadline = asyncio.get_running_loop().time() + 120
        while {p["request_id"] for p in receiver.received} != set(range(1, HOOKS + 1)):
            assert asyncio.get_running_loop().time() < deadline, len(receiver.received)
            await asyncio.sleep(0.2)
        deadline = asyncio.get_running_loop().time() + 60
        while await asyncio.to_thread(_leases, database_url):
            assert asyncio.get_running_loop().time() < deadline, "leased rows never taken over"
            await asyncio.sleep(0.5)
        await asyncio.sleep(1.5)  # one more sweep tick: anything sent twice would show now
        assert receiver.refused == []
        posted = Counter(p["request_id"] for p in receiver.received)
        assert sum(count - 1 for count in posted.values()) <= held, posted.most_common(5)
        assert await asyncio.to_thread(_claimed_twice, database_url) > 0
        assert await asyncio.to_thread(_statuses, database_url) == {"sent": HOOKS}
    finally:
        await receiver.stop()
        await fake.stop()
