"""Bolt tries the listeners' matchers in the order they were registered, until one matches:
the requests that come most are found first, and no other listener would take them."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.rendering import messages
from bot.settings import load_settings
from bot.standin import payloads
from bot.wiring.app import build_services, create_app


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[AsyncApp]:
    settings = load_settings(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-listener-order",
        SLACK_SIGNING_SECRET="listener-order-secret",
    )
    services = build_services(settings)
    yield create_app(services)
    await services.close()


def accept() -> str:
    payload = payloads.block_action("U0CONNECTOR", "intro_accept", "7", "t.1", channel_id="D0C")
    return urlencode({"payload": json.dumps(payload)})


def intro() -> str:
    return urlencode(payloads.slash_command("U0REQUESTER", "", "t.2"))


def submission() -> str:
    view = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
    payload = payloads.view_submission("U0REQUESTER", {**view, "id": "V1"}, {})
    return urlencode({"payload": json.dumps(payload)})


def message_shortcut() -> str:
    payload = payloads.message_shortcut("U0REQUESTER", "meet Jane", "t.3")
    return urlencode({"payload": json.dumps(payload)})


async def matching(app: AsyncApp, body: str) -> list[int]:
    """The positions of the listeners whose matchers take this request."""
    found = []
    for position, listener in enumerate(app._async_listeners):
        request = AsyncBoltRequest(body=body, headers={})
        if await listener.async_matches(req=request, resp=BoltResponse(status=200)):
            found.append(position)
    return found


@pytest.mark.parametrize(
    ("body", "position"),
    [(accept, 0), (intro, 1), (submission, 2)],
    ids=["accept", "intro", "submission"],
)
async def test_the_requests_that_come_most_are_matched_first_and_only_once(
    app: AsyncApp, body: Any, position: int
) -> None:
    assert await matching(app, body()) == [position]


async def test_a_listener_registered_after_them_is_the_only_one_to_match(app: AsyncApp) -> None:
    assert len(await matching(app, message_shortcut())) == 1


def test_introbots_middleware_takes_the_request_as_bolt_has_it(app: AsyncApp) -> None:
    """Not a function Bolt would wrap, building every listener argument for it per request."""
    ours = app._async_middleware_list[-2:]
    assert all(isinstance(middleware, AsyncMiddleware) for middleware in ours)
    assert [type(middleware).__name__ for middleware in ours] == ["ProvideServices", "OncePerEvent"]
