"""The benchmark's yardstick does introbot's work: `bench.verify` against both apps.

Not the benchmark (CI never runs that): one check, on PostgreSQL only, that the same-work app
(bench/same_work.py) makes the Slack calls introbot makes for /intro, a submission and an
Accept, with payloads within 3 % in size, and writes the same rows. It fails when introbot's
work changes and the yardstick was not changed with it.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.bench.conftest import run_bench
from tests.conftest import TEST_DATABASE_URL

INTROBOT = shutil.which("introbot") or Path(sys.executable).with_name("introbot").exists()

pytestmark = [
    pytest.mark.skipif(
        not (TEST_DATABASE_URL or "").startswith("postgresql"),
        reason="the benchmark runs on PostgreSQL only (set TEST_DATABASE_URL)",
    ),
    pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed"),
]


def test_the_same_work_app_makes_introbots_slack_calls_and_writes(bench_database: str) -> None:
    done = run_bench(bench_database, "-m", "bench.verify", "--requests", "5")
    assert done.returncode == 0, done.stderr[-4000:] + done.stdout[-2000:]
    assert "within 3 %" in done.stdout
