"""Work that failed after the ack: logged, the person told, an event left to Slack's retry."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.observability.metrics import request_kind
from bot.rendering import messages
from handlers.context import SERVICES, services_of
from handlers.replies import tell_privately


async def work_failed(
    error: Exception,
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    # The payload stays out of the log: it may hold names and notes.
    kind = request_kind(body)
    logger.error("%s listener failed: %r", kind, error, exc_info=error)
    if SERVICES not in context:  # failed before the services were in the context
        return
    services = services_of(context)
    services.metrics.listener_errors.labels(kind).inc()
    if body.get("type") == "event_callback":
        if body.get("event_id"):
            team_id = context.team_id or ""
            await services.event_dedupe.forget_delivery(team_id, str(body["event_id"]))
        return
    user_id = context.user_id
    if not user_id:
        return
    team_id = context.team_id or ""  # the middleware fell back to the payload's team
    try:
        await tell_privately(services, client, body, team_id, user_id, messages.note("work_failed"))
    except Exception:  # noqa: BLE001 - the error is logged above; don't fail the handler
        logger.warning("could not tell %s their work failed", user_id)


def register(app: AsyncApp) -> None:
    app.error(work_failed)
