"""The PostgreSQL pool: a connection that died while idle is replaced before it is lent."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from storage import db
from storage.db import create_engine_for, sync_url
from tests.conftest import POSTGRES_URL, needs_postgres

pytestmark = needs_postgres


async def _backend_pid(engine: object) -> int:
    async with engine.connect() as connection:  # type: ignore[attr-defined]
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


def _terminate(pid: int) -> None:
    admin = create_engine(sync_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


async def test_a_connection_killed_while_idle_is_replaced_before_it_is_lent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = create_engine_for(POSTGRES_URL)
    try:
        first = await _backend_pid(engine)
        _terminate(first)  # a restart or failover while it sat in the pool
        monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # it has been idle long enough
        second = await _backend_pid(engine)
        assert second != first
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_lent_without_a_check() -> None:
    """No round trip before each statement: a dead connection in steady use fails the one
    statement, and the pool is then renewed."""
    engine = create_engine_for(POSTGRES_URL)
    try:
        first = await _backend_pid(engine)
        _terminate(first)
        with pytest.raises(OperationalError):
            await _backend_pid(engine)  # lent unchecked: it was in use a moment ago
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()
