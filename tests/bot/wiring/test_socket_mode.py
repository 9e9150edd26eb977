"""`introbot run` end to end: the installed command, connected over Socket Mode to Slack's
stand-in (bot/standin/socket_mode.py), driven through the same flow as the HTTP tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.standin import payloads
from bot.standin.socket_mode import Envelope, SocketModeStandIn
from bot.standin.stack import DEFAULT_PEOPLE
from bot.standin.web_api import FakeSlack
from bot.wiring.scopes import BOT_SCOPES
from tests.handlers.flow import CONNECTOR, REQUESTER, button, card_text, good_values

INTROBOT = shutil.which("introbot") or ""
pytestmark = pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")

# Slack shows the user an error when an envelope is not acknowledged within 3 seconds.
ACK_DEADLINE = 3.0


@dataclass
class SocketBot:
    """`introbot run` as a subprocess, and Slack's stand-in it is connected to."""

    process: subprocess.Popen[bytes]
    log: Path
    fake: FakeSlack
    socket: SocketModeStandIn

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def until(self, condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"timed out waiting for {what}\n{self.output()[-3000:]}")
            await asyncio.sleep(0.02)

    async def acked(self, envelope: Envelope) -> dict[str, Any]:
        """The envelope's acknowledgement, checked to name it and to come within Slack's 3 s."""
        ack = await envelope.ack(timeout=10)
        assert ack["envelope_id"] == envelope.envelope_id
        assert envelope.ack_seconds is not None and envelope.ack_seconds < ACK_DEADLINE
        return ack

    async def open_intro_modal(self, text: str = "Jane Doe") -> dict[str, Any]:
        before = self.fake.count("views.open")
        trigger = self.fake.issue_trigger_id(REQUESTER)
        envelope = await self.socket.slash_command(payloads.slash_command(REQUESTER, text, trigger))
        assert await self.acked(envelope) == {"envelope_id": envelope.envelope_id}
        await self.until(lambda: self.fake.count("views.open") > before, "views.open")
        call = self.fake.calls_to("views.open")[-1]
        assert call.ok, call.error
        view: dict[str, Any] = call.args["view"]
        return view

    async def submit(self, view: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        payload = payloads.view_submission(REQUESTER, view, good_values(**overrides))
        return await self.acked(await self.socket.interactive(payload))

    async def press(self, user: str, message: dict[str, Any], action_id: str) -> None:
        payload = payloads.block_action(
            user,
            action_id,
            button(message, action_id)["value"],
            self.fake.issue_trigger_id(user),
            channel_id=message["channel"],
            message_ts=message["ts"],
        )
        envelope = await self.socket.interactive(payload)
        assert await self.acked(envelope) == {"envelope_id": envelope.envelope_id}

    async def open_home(self, user: str) -> None:
        before = len(self.fake.calls_to("views.publish"))
        envelope = await self.socket.event(payloads.app_home_opened(user))
        assert await self.acked(envelope) == {"envelope_id": envelope.envelope_id}
        await self.until(
            lambda: any(
                call.ok and call.args.get("user_id") == user
                for call in self.fake.calls_to("views.publish")[before:]
            ),
            "views.publish",
        )

    def connections_opened(self) -> int:
        calls = self.fake.calls_to("apps.connections.open")
        assert all(call.ok for call in calls), [call.error for call in calls]
        return len(calls)


def _start(
    fake: FakeSlack, database_url: str, cwd: Path, log: Path, **env: str
) -> subprocess.Popen[bytes]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    base |= {
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_APP_TOKEN": fake.app_token,
        "SLACK_API_URL": fake.base_url,
        "DATABASE_URL": database_url,
        "INTROBOT_SWEEP_INTERVAL": "1s",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [INTROBOT, "run"], env=base | env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
    return process


@pytest.fixture
async def slack() -> AsyncIterator[tuple[FakeSlack, SocketModeStandIn]]:
    fake = FakeSlack(scopes=BOT_SCOPES)
    for person in DEFAULT_PEOPLE:
        fake.add_user(
            person.user_id,
            name=person.name.split()[0].lower(),
            real_name=person.name,
            is_bot=person.is_bot,
            deleted=person.deleted,
            tz=person.tz,
            is_admin=person.is_admin,
        )
    async with fake, SocketModeStandIn(fake) as socket:
        yield fake, socket


@pytest.fixture
async def bot(
    slack: tuple[FakeSlack, SocketModeStandIn], database_url: str, tmp_path: Path
) -> AsyncIterator[SocketBot]:
    fake, socket = slack
    log = tmp_path / "introbot-run.log"
    process = _start(fake, database_url, tmp_path, log)
    running = SocketBot(process, log, fake, socket)
    try:
        await socket.connected(1, timeout=30)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)


async def test_the_intro_flow_over_socket_mode(bot: SocketBot) -> None:
    view = await bot.open_intro_modal("Jane Doe")
    target = next(b for b in view["blocks"] if b.get("block_id") == "target_name")
    assert target["element"]["initial_value"] == "Jane Doe"

    # The view submission is acknowledged with no payload (the modal closes) ...
    ack = await bot.submit(view)
    assert "payload" not in ack, ack
    # ... and the ask reaches the connector, the requester hears it went.
    await bot.until(lambda: len(bot.fake.messages_for(CONNECTOR)) == 1, "connector's DM")
    await bot.until(lambda: len(bot.fake.messages_for(REQUESTER)) == 1, "requester's card")
    card = bot.fake.messages_for(CONNECTOR)[0]
    assert "Jane Doe" in card_text(card)

    await bot.press(CONNECTOR, card, "intro_accept")
    await bot.until(lambda: len(bot.fake.messages_for(REQUESTER)) == 2, "accept notice")
    await bot.until(
        lambda: (
            "over to you*: tell me what jane doe says"
            in card_text(bot.fake.messages_for(CONNECTOR)[0]).lower()
        ),
        "chat.update of the connector's card",
    )
    assert bot.fake.calls_to("chat.update")[-1].ok

    await bot.open_home(REQUESTER)
    assert "Jane Doe" in str(bot.fake.home_views[REQUESTER]["blocks"])

    # One connection throughout, every message from the bot acknowledged something we sent.
    assert bot.connections_opened() == 1
    assert bot.socket.stray_messages == [] and bot.socket.refused_tickets == []
    assert bot.fake.broadcast_mentions == []


async def test_view_errors_come_back_in_the_acknowledgement(bot: SocketBot) -> None:
    view = await bot.open_intro_modal("Jane Doe")
    ack = await bot.submit(view, blurb="Hi [first name], can you intro me to Jane Doe?")
    assert ack["payload"]["response_action"] == "errors"
    assert "blurb" in ack["payload"]["errors"]
    await asyncio.sleep(0.5)
    assert bot.fake.messages_for(CONNECTOR) == []


@pytest.mark.parametrize("abort", [False, True], ids=["closed", "cut"])
async def test_a_dropped_socket_is_reopened_mid_flow(bot: SocketBot, abort: bool) -> None:
    view = await bot.open_intro_modal("Jane Doe")
    first = await bot.socket.drop(abort=abort)
    # A cut connection is noticed by slack_sdk's ping check (Bolt's 10 s interval).
    second = await bot.socket.connected(2, timeout=30)
    assert not first.is_open
    assert bot.connections_opened() == 2  # a fresh URL from apps.connections.open
    assert second.ticket != first.ticket and bot.socket.refused_tickets == []

    assert "payload" not in await bot.submit(view)
    await bot.until(lambda: len(bot.fake.messages_for(CONNECTOR)) == 1, "connector's DM")


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
async def test_a_disconnect_message_moves_the_bot_to_a_new_socket(
    bot: SocketBot, reason: str
) -> None:
    first = await bot.socket.request_reconnect(reason)
    await bot.socket.connected(2, timeout=15)
    await bot.socket.wait_closed(first)  # the bot leaves the old one itself
    assert bot.connections_opened() == 2
    await bot.open_home(REQUESTER)


async def test_a_retried_event_is_acknowledged_and_acted_on_once(bot: SocketBot) -> None:
    event = payloads.app_home_opened(REQUESTER)
    first = await bot.socket.event(event)
    await bot.acked(first)
    await bot.until(lambda: bot.fake.count("views.publish") == 1, "views.publish")
    # Slack sends an event again when it thinks the app missed it, saying why.
    retry = await bot.socket.event(event, retry_attempt=1, retry_reason="timeout")
    assert await bot.acked(retry) == {"envelope_id": retry.envelope_id}
    await asyncio.sleep(0.5)
    assert bot.fake.count("views.publish") == 1


def test_run_does_not_import_the_standin() -> None:
    # What _run_socket_mode imports, in a fresh interpreter.
    probe = (
        "import sys, bot.wiring.cli, bot.wiring.socket_mode, bot.wiring.app, "
        "bot.wiring.sweeper, handlers; "
        "print(sorted(m for m in sys.modules if m.startswith('bot.standin')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


async def test_sigterm_drains_acknowledged_work_and_exits_cleanly(bot: SocketBot) -> None:
    view = await bot.open_intro_modal("Jane Doe")
    bot.fake.latency = 0.5  # Slack slow to answer: the connector's DM is still on its way
    assert "payload" not in await bot.submit(view)
    assert bot.fake.messages_for(CONNECTOR) == []  # acknowledged, not yet delivered
    bot.process.send_signal(signal.SIGTERM)
    returncode = await asyncio.to_thread(bot.process.wait, 30)
    assert returncode == 0, bot.output()[-3000:]
    assert len(bot.fake.messages_for(CONNECTOR)) == 1  # the work after the ack was finished
    assert bot.socket.open_connections == []
    assert "Traceback" not in bot.output()


async def test_sigterm_acknowledges_envelopes_under_way_and_takes_no_new_ones(
    bot: SocketBot,
) -> None:
    view = await bot.open_intro_modal("Jane Doe")
    bot.fake.latency = 2.0  # the submission's checks before its ack wait on Slack (users.info)
    submission = await bot.socket.interactive(
        payloads.view_submission(REQUESTER, view, good_values())
    )
    await asyncio.sleep(0.3)
    assert not submission.acked.done()
    bot.process.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.3)
    late = await bot.socket.event(payloads.app_home_opened(REQUESTER))

    assert "payload" not in await bot.acked(submission)
    returncode = await asyncio.to_thread(bot.process.wait, 30)
    assert returncode == 0, bot.output()[-3000:]
    assert not late.acked.done()  # left for Slack to send again
    assert len(bot.fake.messages_for(CONNECTOR)) == 1
    assert bot.fake.count("views.publish") == 0


async def test_a_refused_app_token_stops_run_with_one_line(
    slack: tuple[FakeSlack, SocketModeStandIn], database_url: str, tmp_path: Path
) -> None:
    fake, socket = slack
    log = tmp_path / "introbot-run.log"
    process = _start(fake, database_url, tmp_path, log, SLACK_APP_TOKEN="xapp-1-AOTHER-1-revoked")
    returncode = await asyncio.to_thread(process.wait, 30)
    output = log.read_text()
    assert returncode == 2, output
    assert output.strip().splitlines()[-1] == (
        "introbot: SLACK_APP_TOKEN was refused by Slack: invalid_auth"
    )
    assert "Traceback" not in output
    assert socket.connections == []


async def test_sigterm_while_still_connecting_ends_run(
    slack: tuple[FakeSlack, SocketModeStandIn], database_url: str, tmp_path: Path
) -> None:
    fake, socket = slack
    socket.ticket_ttl = -1.0  # every URL is refused: slack_sdk keeps trying to connect
    log = tmp_path / "introbot-run.log"
    process = _start(fake, database_url, tmp_path, log)
    try:
        deadline = time.monotonic() + 30
        while not socket.refused_tickets:
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(process.wait, 10)
        assert returncode == 0, log.read_text()[-3000:]
        assert socket.connections == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)
