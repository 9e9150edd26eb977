"""What every listener gets in its Bolt context: the services, and who is acting where.

A middleware puts the services in the context once per request, so listeners are plain
module-level functions (`services_of(context)`), callable in a test with a context of their
own. The acting user and team are Bolt's (`context.user_id`, `context.team_id`), with the
payload's team as the fallback for a payload Bolt finds none in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from slack_bolt.async_app import AsyncBoltContext

from bot.services.container import Services

SERVICES = "services"


class ProvideServices:
    """Bolt middleware: the services, and the team when Bolt found none in the payload."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def __call__(
        self, body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> None:
        context[SERVICES] = self._services
        if not context.team_id:
            context["team_id"] = team_of(body) or None
        await next()


def team_of(body: dict[str, Any]) -> str:
    """The team a payload names at its top level ("team", or "team_id" for a command)."""
    return str((body.get("team") or {}).get("id") or body.get("team_id") or "")


def services_of(context: AsyncBoltContext) -> Services:
    return cast(Services, context[SERVICES])


@dataclass(frozen=True)
class Actor:
    """Who pressed, typed or submitted, in which workspace."""

    user_id: str
    team_id: str
    enterprise_id: str | None = None


def actor_of(context: AsyncBoltContext) -> Actor:
    return Actor(context.user_id or "", context.team_id or "", context.enterprise_id)
