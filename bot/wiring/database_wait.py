"""Wait for the database at start: a container started beside its database must not crash-loop
while the database is still coming up."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bot.observability.logs import redact
from bot.settings import SettingsError
from storage.db import sync_url

logger = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 0.25
MAX_DELAY_SECONDS = 5.0


def shown_url(url: str) -> str:
    """The URL with its password hidden, for a log line or an error."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - settings validated the scheme; hide everything else
        return url.split("://", 1)[0] + "://..."


def _reachable(url: str, timeout: float) -> None:
    target = sync_url(url)
    connect_args = (
        {"connect_timeout": max(1, int(timeout))}
        if target.get_backend_name() == "postgresql"
        else {}
    )
    engine = create_engine(target, connect_args=connect_args, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def wait_for_database(
    url: str,
    wait: timedelta,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once the database answers; retry with exponential backoff for `wait`, then stop
    with a SettingsError of one line naming DATABASE_URL (password hidden)."""
    deadline = clock() + wait.total_seconds()
    delay = FIRST_DELAY_SECONDS
    attempts = 0
    while True:
        attempts += 1
        try:
            _reachable(url, timeout=min(MAX_DELAY_SECONDS, max(1.0, deadline - clock())))
        except Exception as exc:  # noqa: BLE001 - any failure to connect means "not yet"
            reason = redact((str(exc).strip().splitlines() or [type(exc).__name__])[0])
            left = deadline - clock()
            if left <= 0:
                waited = f" after {wait.total_seconds():g} s" if wait else ""
                raise SettingsError(
                    f"DATABASE_URL {shown_url(url)} is not reachable{waited}: {reason}"
                ) from None
            if attempts == 1:
                logger.warning(
                    "database %s not reachable yet (%s); waiting up to %g s",
                    shown_url(url),
                    reason,
                    wait.total_seconds(),
                )
            sleep(min(delay, left))
            delay = min(delay * 2, MAX_DELAY_SECONDS)
            continue
        if attempts > 1:
            logger.info("database reachable after %d attempts", attempts)
        return
