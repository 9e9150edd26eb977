"""What every listener gets in its Bolt context: the services, and who is acting where.

A middleware puts the services in the context once per request, so listeners are plain
module-level functions (`services_of(context)`), callable in a test with a context of their
own. The acting user and team are Bolt's (`context.user_id`, `context.team_id`), with the
workspace the payload names as the fallback where Bolt finds no team, or only the org: an
Enterprise Grid org-wide install's payloads carry "team": null, authorizations with a null
team_id, and views installed on the org."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.services.container import Services

SERVICES = "services"


class ProvideServices(AsyncMiddleware):
    """Bolt middleware: the services, and the workspace when Bolt found none in the payload
    (or found the org's id in its place).

    An `AsyncMiddleware` of its own rather than a function Bolt wraps: Bolt then calls it
    with the request as is, instead of building every argument a listener could take (the
    payload's parts, say, respond, ...) for each request to pick three of them."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> None:
        await self(req.body, req.context, next)

    async def __call__(
        self, body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]
    ) -> None:
        context[SERVICES] = self._services
        if not context.team_id or context.team_id == context.enterprise_id:
            context["team_id"] = team_of(body) or context.team_id or None
        await next()


def team_of(body: dict[str, Any]) -> str:
    """The workspace a payload was sent from: its top-level team, else the acting user's team
    (an org-wide install's actions and views), else the view's, else the workspace the app was
    installed on for the view. "" when it names none."""
    team, user, view = body.get("team"), _part(body, "user"), _part(body, "view")
    candidates = (
        team.get("id") if isinstance(team, dict) else team,
        body.get("team_id"),
        user.get("team_id"),
        view.get("team_id"),
        view.get("app_installed_team_id"),
    )
    org = body.get("enterprise_id") or _part(body, "enterprise").get("id")
    return next((str(c) for c in candidates if c and c != org), "")


def _part(body: dict[str, Any], key: str) -> dict[str, Any]:
    part = body.get(key)
    return part if isinstance(part, dict) else {}


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
