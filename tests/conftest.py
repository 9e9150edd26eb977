"""Fixtures: a database per test (SQLite, or PostgreSQL via TEST_DATABASE_URL), the local stack."""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from bot.standin.stack import LocalStack
from bot.standin.web_api import ApiCall
from storage.db import sync_url
from storage.migrate import upgrade_to_head
from storage.models import Base

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
POSTGRES_URL = os.environ.get("INTROBOT_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(sync_url(POSTGRES_URL))
        with engine.connect():
            pass
        engine.dispose()
    except OperationalError:
        return False
    return True


# For a test module that needs PostgreSQL whatever TEST_DATABASE_URL says (its pool, psycopg).
needs_postgres = pytest.mark.skipif(
    not _postgres_reachable(), reason="PostgreSQL is not reachable at INTROBOT_POSTGRES_URL"
)

_ENV_PREFIXES = ("SLACK_", "DATABASE_URL", "INTROBOT_")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting leaks in from the shell or a .env file: each test states what it needs."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) and name != "INTROBOT_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def _reset_postgres(url: str) -> None:
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        tables = inspect(connection).get_table_names()
        if tables:
            quoted = ", ".join(f'"{name}"' for name in tables)
            connection.execute(text(f"DROP TABLE {quoted} CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def migrated_postgres() -> str | None:
    if not TEST_DATABASE_URL:
        return None
    _reset_postgres(TEST_DATABASE_URL)
    upgrade_to_head(TEST_DATABASE_URL)
    return TEST_DATABASE_URL


@pytest.fixture
def database_url(migrated_postgres: str | None, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite in tmp_path, or TEST_DATABASE_URL truncated."""
    if migrated_postgres is None:
        url = f"sqlite:///{tmp_path / 'introbot-test.db'}"
        upgrade_to_head(url)
        yield url
        return
    engine = create_engine(sync_url(migrated_postgres))
    names = ", ".join(table.name for table in reversed(Base.metadata.sorted_tables))
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()
    yield migrated_postgres


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url) as local:
        yield local


# An empty or unresolved Slack mention: "<@>", "<@None>", "<@|name>".
UNRESOLVED_MENTION = re.compile(r"<@(None)?[>|]")


@pytest.fixture(autouse=True)
def every_mention_resolves(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever introbot sends the stand-in Slack in any test (messages, updates, ephemeral
    notes, views) names only people who exist: a test fails on "<@>" or "<@None>"."""
    sent: list[list[ApiCall]] = []
    leave = LocalStack.__aexit__

    async def checked(self: LocalStack, *exc: Any) -> None:
        sent.append(list(self.fake.calls))
        await leave(self, *exc)

    monkeypatch.setattr(LocalStack, "__aexit__", checked)
    yield
    for calls in sent:
        for call in calls:
            found = UNRESOLVED_MENTION.search(json.dumps(call.args))
            assert found is None, f"{call.method} named nobody ({found.group(0)}): {call.args}"
