"""The Socket Mode stand-in, driven by a plain aiohttp WebSocket client so each message it sends
and expects is checked as it goes over the wire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.standin import payloads
from bot.standin.socket_mode import SocketModeStandIn
from bot.standin.web_api import APP_ID, FakeSlack


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def slack(clock: FakeClock) -> AsyncIterator[tuple[FakeSlack, SocketModeStandIn]]:
    fake = FakeSlack()
    async with fake, SocketModeStandIn(fake, clock=clock) as socket:
        yield fake, socket


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _new_url(fake: FakeSlack) -> str:
    client = AsyncWebClient(base_url=fake.base_url)
    response = await client.apps_connections_open(app_token=fake.app_token)
    return str(response["url"])


async def _receive(ws: aiohttp.ClientWebSocketResponse) -> Any:
    message = await asyncio.wait_for(ws.receive(), 5)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    return json.loads(message.data)


async def test_apps_connections_open_takes_only_the_app_level_token(
    slack: tuple[FakeSlack, SocketModeStandIn], http: aiohttp.ClientSession
) -> None:
    fake, _ = slack
    client = AsyncWebClient(base_url=fake.base_url)
    for token, error in ((fake.token, "not_allowed_token_type"), ("xapp-1-A1-1-x", "invalid_auth")):
        with pytest.raises(SlackApiError) as refused:
            await client.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error
    async with http.post(f"{fake.base_url}apps.connections.open") as response:
        assert await response.json() == {"ok": False, "error": "not_authed"}

    first, second = await _new_url(fake), await _new_url(fake)
    assert first.startswith("ws://127.0.0.1:") and f"app_id={APP_ID}" in first
    assert first != second  # a fresh URL each time, as Slack hands out
    assert [call.ok for call in fake.calls_to("apps.connections.open")] == [False] * 3 + [True] * 2


async def test_hello_then_envelopes_each_acknowledged_by_id(
    slack: tuple[FakeSlack, SocketModeStandIn], http: aiohttp.ClientSession
) -> None:
    fake, socket = slack
    async with http.ws_connect(await _new_url(fake)) as ws:
        hello = await _receive(ws)
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": APP_ID}
        await socket.connected(1)

        fields = payloads.slash_command("U1", "Jane Doe", "trigger")
        command = await socket.slash_command(fields)
        sent = await _receive(ws)
        assert sent == {
            "envelope_id": command.envelope_id,
            "payload": fields,
            "type": "slash_commands",
            "accepts_response_payload": True,
        }
        await ws.send_json({"envelope_id": command.envelope_id, "payload": {"text": "hi"}})
        assert await command.ack() == {
            "envelope_id": command.envelope_id,
            "payload": {"text": "hi"},
        }
        assert command.ack_seconds == 0.0  # the stand-in's clock did not move

        event = await socket.event(payloads.app_home_opened("U1"), retry_attempt=1)
        sent = await _receive(ws)
        assert sent["type"] == "events_api" and sent["accepts_response_payload"] is False
        assert (sent["retry_attempt"], sent["retry_reason"]) == (1, "")
        assert sent["payload"]["event"]["type"] == "app_home_opened"

        view = {"type": "modal", "callback_id": "c", "blocks": []}
        submission = await socket.interactive(payloads.view_submission("U1", view, {}))
        press = await socket.interactive(payloads.block_action("U1", "a", "v", "t", on_home=True))
        answers = [(await _receive(ws))["accepts_response_payload"] for _ in range(2)]
        assert answers == [True, False]  # only a view submission's ack may carry an answer

        # Acknowledgements may come in any order; one naming nothing sent is kept as stray.
        for envelope in (press, submission, event):
            await ws.send_json({"envelope_id": envelope.envelope_id})
        await ws.send_json({"envelope_id": "not-sent"})
        await ws.send_json({"envelope_id": event.envelope_id})  # twice
        for envelope in (event, submission, press):
            assert await envelope.ack() == {"envelope_id": envelope.envelope_id}
        await _until(lambda: len(socket.stray_messages) == 2)
        assert socket.stray_messages == [
            {"envelope_id": "not-sent"},
            {"envelope_id": event.envelope_id},
        ]


async def test_an_envelope_without_an_acknowledgement_times_out(
    slack: tuple[FakeSlack, SocketModeStandIn], http: aiohttp.ClientSession
) -> None:
    fake, socket = slack
    async with http.ws_connect(await _new_url(fake)):
        await socket.connected(1)
        envelope = await socket.event(payloads.app_home_opened("U1"))
        with pytest.raises(TimeoutError, match="not acknowledged"):
            await envelope.ack(timeout=0.1)
        assert envelope.ack_seconds is None


async def test_a_url_is_good_for_one_connection_and_expires(
    slack: tuple[FakeSlack, SocketModeStandIn], http: aiohttp.ClientSession, clock: FakeClock
) -> None:
    fake, socket = slack
    url = await _new_url(fake)
    async with http.ws_connect(url):
        await socket.connected(1)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(url)
        assert refused.value.status == 401

    late = await _new_url(fake)
    clock.now += socket.ticket_ttl + 1
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await http.ws_connect(late)
    assert len(socket.refused_tickets) == 2 and len(socket.connections) == 1


@pytest.mark.parametrize("abort", [False, True], ids=["closed", "cut"])
async def test_drop_ends_the_connection(
    slack: tuple[FakeSlack, SocketModeStandIn], http: aiohttp.ClientSession, abort: bool
) -> None:
    fake, socket = slack
    async with http.ws_connect(await _new_url(fake)) as ws:
        await _receive(ws)  # hello
        connection = await socket.connected(1)
        assert await socket.drop(abort=abort) is connection
        message = await asyncio.wait_for(ws.receive(), 5)
        if abort:  # cut: no close frame, the client finds the connection gone
            assert message.type == aiohttp.WSMsgType.CLOSED
        else:
            assert (message.type, message.data) == (aiohttp.WSMsgType.CLOSE, 1001)  # going away
        await socket.wait_closed(connection)
        assert socket.open_connections == []


async def test_disconnect_message_and_envelopes_after_reconnecting(
    slack: tuple[FakeSlack, SocketModeStandIn], http: aiohttp.ClientSession
) -> None:
    fake, socket = slack
    async with http.ws_connect(await _new_url(fake)) as first:
        await _receive(first)
        await socket.connected(1)
        await socket.request_reconnect("warning")
        assert await _receive(first) == {
            "type": "disconnect",
            "reason": "warning",
            "debug_info": {"host": "applink-standin"},
        }
        async with http.ws_connect(await _new_url(fake)) as second:
            hello = await _receive(second)
            assert hello["num_connections"] == 2
            await socket.connected(2)
            await first.close()
            await socket.wait_closed(socket.connections[0])
            # Envelopes go to the connection that is open.
            envelope = await socket.event(payloads.app_home_opened("U1"))
            assert (await _receive(second))["envelope_id"] == envelope.envelope_id
            assert envelope.connection is socket.connections[1]


async def test_an_envelope_waits_for_a_connection(
    slack: tuple[FakeSlack, SocketModeStandIn], http: aiohttp.ClientSession
) -> None:
    fake, socket = slack
    sending = asyncio.ensure_future(socket.event(payloads.app_home_opened("U1")))
    await asyncio.sleep(0.1)
    assert not sending.done()
    async with http.ws_connect(await _new_url(fake)) as ws:
        await _receive(ws)  # hello
        envelope = await asyncio.wait_for(sending, 5)
        assert (await _receive(ws))["envelope_id"] == envelope.envelope_id


async def _until(condition: Any, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)
