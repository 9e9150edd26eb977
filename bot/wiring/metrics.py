"""Every request the Bolt app dispatches, counted, timed and named in the log lines it leads
to; the metrics themselves are bot.observability.metrics."""

from __future__ import annotations

import logging
import random
import time

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.observability import logs
from bot.observability.metrics import Metrics, request_kind

logger = logging.getLogger(__name__)


def instrument(app: AsyncApp, metrics: Metrics) -> None:
    """Count and time every request the Bolt app dispatches (HTTP and Socket Mode alike), name
    its team, user and request in the log lines it leads to. (Listener errors are counted by
    the error handler, handlers/errors.py.)

    The ack is what `async_dispatch` returns (Bolt runs the listener after it), so its latency
    is measured around that call; a middleware's `next()` returns before any listener runs.
    """
    dispatch = app.async_dispatch
    # A request's id in the log lines: random, not secret; getrandbits makes no system call.
    new_request_id = random.Random().getrandbits

    async def measured(req: AsyncBoltRequest) -> BoltResponse:
        body = req.body if isinstance(req.body, dict) else {}
        # Listeners Bolt starts inside copy these; they are reset once the ack is out.
        with logs.bound(
            team=req.context.team_id,
            user=req.context.user_id,
            request=str(body.get("event_id") or f"{new_request_id(64):016x}"),
        ):
            started = time.perf_counter()
            response: BoltResponse | None = None
            try:
                response = await dispatch(req)
                return response
            finally:
                elapsed = time.perf_counter() - started
                if response is not None and response.status == 401:
                    # Not from Slack (or too late to be trusted): not a Slack request.
                    metrics.refused_requests.inc()
                else:
                    kind = request_kind(req.body)
                    metrics.request_acked(kind, elapsed)
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug("%s acked in %.1f ms", kind, elapsed * 1000)

    app.async_dispatch = measured  # type: ignore[method-assign]
