"""Alembic environment: the URL comes from introbot's settings (or the caller's config)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from storage.db import sync_url
from storage.models import Base

# Held while migrating, so replicas starting together on PostgreSQL migrate one at a time.
MIGRATION_LOCK_ID = 0x1A7B0

config = context.config


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from bot.settings import load_settings

    return load_settings().DATABASE_URL


def run_migrations_online() -> None:
    engine = create_engine(sync_url(_database_url()))
    with engine.connect() as connection:
        is_postgres = connection.dialect.name == "postgresql"
        if is_postgres:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                compare_type=True,
                render_as_batch=connection.dialect.name == "sqlite",
            )
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_postgres:
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                connection.commit()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("introbot migrates online only: set DATABASE_URL and run `introbot migrate`")
run_migrations_online()
