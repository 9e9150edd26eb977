"""How introbot's listeners and middleware sit in Bolt's dispatch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware

from bot.settings import load_settings
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


def test_introbots_middleware_takes_the_request_as_bolt_has_it(app: AsyncApp) -> None:
    """Not a function Bolt would wrap, building every listener argument for it per request."""
    ours = app._async_middleware_list[-2:]
    assert all(isinstance(middleware, AsyncMiddleware) for middleware in ours)
    assert [type(middleware).__name__ for middleware in ours] == ["ProvideServices", "OncePerEvent"]
