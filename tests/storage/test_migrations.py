"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from storage.db import create_engine_for, sync_url
from storage.models import Base


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite pragmas only apply to SQLite")
    engine = create_engine_for(database_url)
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    await engine.dispose()
