"""Engines and sessions for SQLite (embedded default) and PostgreSQL, from one URL."""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 5000
POOL_TIMEOUT_S = 2.0
# A connection idle in the pool this long is checked before it is lent (see _ping_if_idle).
PING_AFTER_IDLE_S = 10.0


def _driver_url(url: str, *, asynchronous: bool) -> URL:
    """Map the usual `postgresql://` and `sqlite:///` forms to the drivers introbot ships."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite+pysqlite")
    raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")


def async_url(url: str) -> URL:
    return _driver_url(url, asynchronous=True)


def sync_url(url: str) -> URL:
    return _driver_url(url, asynchronous=False)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer writes; the busy timeout makes a writer wait
    # for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine_for(url: str) -> AsyncEngine:
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(target)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    # Enough kept-open connections for the listeners' work slots
    # (bot.services.work_queue.WORK_SLOTS) and the dispatcher's sends: past pool_size, every
    # checkout opens and closes a connection, a new server process each time on PostgreSQL.
    # A short pool timeout: the checks made before an ack fail within Slack's 3 s instead of
    # waiting 30 s for a connection (the person is then told; see handlers/errors.py).
    engine = create_async_engine(target, pool_size=20, max_overflow=5, pool_timeout=POOL_TIMEOUT_S)
    event.listen(engine.sync_engine, "connect", _note_returned)
    event.listen(engine.sync_engine, "checkin", _note_returned)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


def _note_returned(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Checks a connection lent after a while in the pool, as pool_pre_ping would check every
    one: a restart or failover meanwhile leaves it dead, and the pool then opens a new one.
    One in steady use is lent as it is, which saves a round trip per checkout; should it
    have died, the statement's error invalidates the pool, and the next checkout is fresh."""
    if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_S:
        return
    autocommit_before = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # no transaction left open by the check
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.autocommit = autocommit_before
    except Exception as exc:  # noqa: BLE001 - any failure: this connection is done
        raise DisconnectionError("connection lost while idle in the pool") from exc


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def on_postgres(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether these sessions talk to PostgreSQL (which the one-statement paths need)."""
    bind = sessions.kw.get("bind")
    return getattr(getattr(bind, "dialect", None), "name", "") == "postgresql"


@contextlib.asynccontextmanager
async def autocommit(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A bare connection whose each statement commits on its own, for one-statement writes
    and Core reads: one round trip each, not three (BEGIN, the statement, COMMIT or
    ROLLBACK), and none of a session's bookkeeping.

    Sessions bound to a caller's connection (a benchmark's or a test's transaction, rolled
    back after) get that connection: the statement runs in its transaction."""
    bind = sessions.kw["bind"]
    if isinstance(bind, AsyncConnection):
        yield bind
        return
    async with _autocommitting(bind).connect() as connection:
        yield connection


_AUTOCOMMITTING: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommitting(engine: AsyncEngine) -> AsyncEngine:
    """The engine's pool, its connections lent in autocommit (and put back as they were)."""
    found = _AUTOCOMMITTING.get(engine)
    if found is None:
        found = _AUTOCOMMITTING[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


@contextlib.asynccontextmanager
async def reading(
    sessions: async_sessionmaker[AsyncSession], session: AsyncSession | None = None
) -> AsyncIterator[AsyncSession]:
    """The caller's session when it passes one (a page built from several reads holds one
    connection, not one per read), else a session of its own for reads only.

    On PostgreSQL that session's statements run in autocommit: under READ COMMITTED each
    statement sees its own snapshot either way, and a read then costs one round trip instead
    of three (BEGIN, the statement, ROLLBACK)."""
    if session is not None:
        yield session
        return
    async with sessions() as own:
        # (Not in a caller's transaction: its isolation cannot change mid-way.)
        if on_postgres(sessions) and not isinstance(sessions.kw["bind"], AsyncConnection):
            await own.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield own
