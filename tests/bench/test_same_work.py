"""The benchmark's yardstick does introbot's work: `bench.verify` against both apps.

Not the benchmark (CI never runs that): one check, on PostgreSQL only, that the same-work app
(bench/same_work.py) makes the Slack calls introbot makes for /intro, a submission and an
Accept, with payloads within 3 % in size, and writes the same rows. It fails when introbot's
work changes and the yardstick was not changed with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from storage.db import sync_url
from tests.conftest import TEST_DATABASE_URL

REPO = Path(__file__).resolve().parents[2]
INTROBOT = shutil.which("introbot") or Path(sys.executable).with_name("introbot").exists()

pytestmark = [
    pytest.mark.skipif(
        not (TEST_DATABASE_URL or "").startswith("postgresql"),
        reason="the benchmark runs on PostgreSQL only (set TEST_DATABASE_URL)",
    ),
    pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed"),
]


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


def test_the_same_work_app_makes_introbots_slack_calls_and_writes(bench_database: str) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "INTROBOT_", "DATABASE_URL"))
    }
    env["BENCH_DATABASE_URL"] = bench_database
    done = subprocess.run(
        [sys.executable, "-m", "bench.verify", "--requests", "5"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-2000:]
    assert "within 3 %" in done.stdout
