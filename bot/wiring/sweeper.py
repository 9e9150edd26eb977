"""APScheduler only ticks the sweep; the schedule itself lives in the database."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services.container import Services

logger = logging.getLogger(__name__)


async def sweep_until_idle(services: Services) -> int:
    """Deliver batches until nothing is due; returns how many messages were handled."""
    total = 0
    try:
        if services.digests is not None:
            # Offer-help digests due (at most one a period per connector, on every replica).
            await services.digests.plan_due()
        while (handled := await services.dispatcher.sweep()) > 0:
            total += handled
        await services.event_dedupe.forget_events_before(services.clock.now() - timedelta(days=1))
        await services.dispatcher.resume_when_token_works()
        if services.workspaces is not None:
            await services.workspaces.forget_uninstalled(services.settings.uninstall_retention)
        await services.directory.purge_departed(services.settings.uninstall_retention)
        if services.target_emails is not None:
            # A target's email no CRM push will use: only its hash is kept.
            await services.target_emails.let_go_when_due()
    except Exception:  # noqa: BLE001 - the next tick tries again
        logger.exception("sweep failed")
    return total


def start_sweeper(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        services.work.tracked(sweep_until_idle),
        "interval",
        args=[services],
        seconds=services.settings.sweep_interval_seconds,
        next_run_time=datetime.now(UTC),  # first tick at start: deliver what came due while down
        max_instances=1,
        coalesce=True,
        id="sweep",
    )
    scheduler.start()
    return scheduler
