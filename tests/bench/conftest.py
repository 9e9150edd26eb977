"""What the benchmark's checks share: a database of their own beside the tests'."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from storage.db import sync_url
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def bench_database() -> Iterator[str]:
    """A database of this test's own beside TEST_DATABASE_URL's (the check drops its tables)."""
    server = make_url(TEST_DATABASE_URL or "")
    name = f"{server.database}_samework"
    admin = create_engine(sync_url(TEST_DATABASE_URL or ""), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_bench(database_url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python ARGV` from the repository's root, on this database and none of the bot's
    settings, as a benchmark tool runs."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "INTROBOT_", "DATABASE_URL"))
    }
    env["BENCH_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, *argv],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
