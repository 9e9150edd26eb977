"""A local stand-in for Slack's Socket Mode: a WebSocket server on loopback.

Attached to a `FakeSlack`, it answers each ``apps.connections.open`` with a fresh, single-use
``ws://127.0.0.1:PORT/link/?ticket=...`` URL, greets every connection with ``hello`` as Slack
does, and lets a test push envelopes (slash commands, interactivity, events) and await each
envelope's acknowledgement. It can drop a connection (a close frame, or the TCP connection cut
without one) or ask the app to reconnect with a ``disconnect`` message, so reconnects are tested.

The message shapes are Slack's (https://docs.slack.dev/apis/events-api/using-socket-mode/):
an envelope is ``{"envelope_id", "type", "payload", "accepts_response_payload"}`` (events add
``retry_attempt`` and ``retry_reason``) and the app acknowledges it with
``{"envelope_id": ..., "payload": {...}?}``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bot.standin.serving import LoopbackServer
from bot.standin.web_api import APP_ID, FakeSlack

JSON = dict[str, Any]

# How long a URL from apps.connections.open may wait before it is used (Slack's are short-lived).
TICKET_TTL = 30.0
# Interactive payloads whose acknowledgement may carry an answer (view errors, options).
_ANSWERED_INTERACTIONS = ("view_submission", "block_suggestion")


@dataclass
class Envelope:
    """One envelope sent to the app, and the app's acknowledgement of it."""

    envelope_id: str
    type: str
    payload: JSON
    sent_at: float
    connection: Connection
    acked: asyncio.Future[JSON] = field(default_factory=asyncio.Future)
    acked_at: float | None = None

    async def ack(self, timeout: float = 5.0) -> JSON:
        """The app's acknowledgement: ``{"envelope_id": ...}``, with ``payload`` if it answered."""
        try:
            return await asyncio.wait_for(asyncio.shield(self.acked), timeout)
        except TimeoutError:
            what = f"{self.type} envelope {self.envelope_id}"
            raise TimeoutError(f"{what} was not acknowledged") from None

    @property
    def ack_seconds(self) -> float | None:
        return None if self.acked_at is None else self.acked_at - self.sent_at


@dataclass
class Connection:
    """One WebSocket connection the app opened."""

    ticket: str
    socket: web.WebSocketResponse
    transport: asyncio.Transport | None
    opened_at: float
    closed_at: float | None = None
    received: list[Any] = field(default_factory=list)  # every message the app sent on it

    @property
    def is_open(self) -> bool:
        return self.closed_at is None and not self.socket.closed


class SocketModeStandIn(LoopbackServer):
    """Slack's Socket Mode side: hands out URLs via the fake Web API, serves the WebSocket."""

    scheme = "ws"

    def __init__(
        self,
        fake: FakeSlack,
        *,
        ticket_ttl: float = TICKET_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fake = fake
        fake.socket_mode_url = self._issue_url
        self.ticket_ttl = ticket_ttl
        self._clock = clock
        self.connections: list[Connection] = []
        self.envelopes: dict[str, Envelope] = {}
        self.refused_tickets: list[str] = []  # unknown, used or expired URLs the app tried
        self.stray_messages: list[Any] = []  # what the app sent that acknowledged nothing
        self._tickets: dict[str, float] = {}
        LoopbackServer.__init__(self)

    # ------------------------------------------------------------------ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._not_running()
        app = web.Application()
        app.router.add_get("/link/", self._link)
        return await self._serve(app, host, port)

    async def stop(self) -> None:
        for connection in self.connections:
            if connection.is_open:
                await connection.socket.close(code=WSCloseCode.GOING_AWAY)
        await super().stop()

    def _issue_url(self) -> str:
        if self._url is None:
            raise RuntimeError("SocketModeStandIn has not been started")
        ticket = uuid.uuid4().hex
        self._tickets[ticket] = self._clock()
        return f"{self._url}/link/?ticket={ticket}&app_id={APP_ID}"

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        issued_at = self._tickets.pop(ticket, None)  # a URL is good for one connection
        if issued_at is None or self._clock() - issued_at > self.ticket_ttl:
            self.refused_tickets.append(ticket)
            return web.Response(status=401, text="invalid_ticket")
        socket = web.WebSocketResponse(autoping=True)  # pongs the app's pings, as Slack does
        await socket.prepare(request)
        connection = Connection(
            ticket=ticket, socket=socket, transport=request.transport, opened_at=self._clock()
        )
        await socket.send_json(
            {
                "type": "hello",
                "num_connections": len(self.open_connections) + 1,
                "debug_info": {
                    "host": "applink-standin",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        self.connections.append(connection)  # only now: a test may send once it is listed
        try:
            async for message in socket:
                if message.type == WSMsgType.TEXT:
                    self._receive(connection, message.data)
        finally:
            connection.closed_at = self._clock()
        return socket

    def _receive(self, connection: Connection, data: str) -> None:
        try:
            message = json.loads(data)
        except ValueError:
            message = data
        connection.received.append(message)
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        envelope = self.envelopes.get(str(envelope_id)) if envelope_id else None
        if envelope is None or envelope.acked.done():  # unknown, or acknowledged twice
            self.stray_messages.append(message)
            return
        envelope.acked_at = self._clock()
        envelope.acked.set_result(message)

    # ------------------------------------------------------------- inspection

    @property
    def open_connections(self) -> list[Connection]:
        return [connection for connection in self.connections if connection.is_open]

    async def connected(self, count: int = 1, timeout: float = 15.0) -> Connection:
        """Wait until the app has opened its ``count``-th connection (and it is open)."""
        deadline = time.monotonic() + timeout
        while len(self.connections) < count or not self.connections[count - 1].is_open:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the app did not open connection {count} "
                    f"({len(self.connections)} opened, refused: {self.refused_tickets})"
                )
            await asyncio.sleep(0.01)
        return self.connections[count - 1]

    # ------------------------------------------------------------------ sending

    async def send(
        self,
        envelope_type: str,
        payload: JSON,
        *,
        accepts_response_payload: bool,
        extra: JSON | None = None,
        timeout: float = 15.0,
    ) -> Envelope:
        """Send an envelope on the newest open connection, waiting for one if none is open
        (Slack holds envelopes while an app reconnects)."""
        deadline = time.monotonic() + timeout
        while not self.open_connections:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no open connection to send a {envelope_type} envelope on")
            await asyncio.sleep(0.01)
        connection = self.open_connections[-1]
        envelope = Envelope(
            envelope_id=str(uuid.uuid4()),
            type=envelope_type,
            payload=payload,
            sent_at=self._clock(),
            connection=connection,
        )
        self.envelopes[envelope.envelope_id] = envelope
        await connection.socket.send_json(
            {
                "envelope_id": envelope.envelope_id,
                "payload": payload,
                "type": envelope_type,
                "accepts_response_payload": accepts_response_payload,
                **(extra or {}),
            }
        )
        return envelope

    async def slash_command(self, fields: dict[str, str]) -> Envelope:
        """A slash command, with the fields Slack would POST (`payloads.slash_command`)."""
        return await self.send("slash_commands", dict(fields), accepts_response_payload=True)

    async def interactive(self, payload: JSON) -> Envelope:
        """A block action, shortcut or view submission (`payloads.block_action`, ...)."""
        answered = payload.get("type") in _ANSWERED_INTERACTIONS
        return await self.send("interactive", payload, accepts_response_payload=answered)

    async def event(
        self, payload: JSON, *, retry_attempt: int = 0, retry_reason: str = ""
    ) -> Envelope:
        """An Events API callback (`payloads.app_home_opened`, ...)."""
        return await self.send(
            "events_api",
            payload,
            accepts_response_payload=False,
            extra={"retry_attempt": retry_attempt, "retry_reason": retry_reason},
        )

    # --------------------------------------------------------------- disruption

    async def drop(self, *, abort: bool = False) -> Connection:
        """End the newest open connection: with a close frame, or (``abort``) by cutting the TCP
        connection with no goodbye, as a network failure would."""
        connection = self.open_connections[-1]
        if abort:
            if connection.transport is not None:
                connection.transport.abort()
        else:
            await connection.socket.close(code=WSCloseCode.GOING_AWAY)
        return connection

    async def request_reconnect(self, reason: str = "refresh_requested") -> Connection:
        """Send ``disconnect`` on the newest open connection, as Slack does before it refreshes
        one (``warning`` comes a few seconds ahead, ``refresh_requested`` at the time)."""
        connection = self.open_connections[-1]
        await connection.socket.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-standin"}}
        )
        return connection

    async def wait_closed(self, connection: Connection, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while connection.is_open:
            if time.monotonic() > deadline:
                raise TimeoutError("the connection is still open")
            await asyncio.sleep(0.01)
