"""`bench.in_process` still runs a request's own path (on PostgreSQL only): the figures it
prints are quoted in docs/performance.md, so a change that breaks the tool fails here."""

from __future__ import annotations

import json

import pytest

from tests.bench.conftest import run_bench
from tests.bench.test_same_work import INTROBOT
from tests.conftest import TEST_DATABASE_URL

pytestmark = [
    pytest.mark.skipif(
        not (TEST_DATABASE_URL or "").startswith("postgresql"),
        reason="the benchmark runs on PostgreSQL only (set TEST_DATABASE_URL)",
    ),
    pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed"),
]


def _run(bench_database: str, *argv: str) -> str:
    done = run_bench(bench_database, *argv)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


@pytest.mark.parametrize("kind", ["accept", "submit"])
def test_a_requests_own_path_is_timed_in_one_process(bench_database: str, kind: str) -> None:
    _run(bench_database, "-c", "from bench import seed; seed.migrate()")
    printed = json.loads(_run(bench_database, "-m", "bench.in_process", kind, "5"))
    assert printed["kind"] == kind
    assert printed["app_ms"] > 0
    assert printed["postgres_ms"] >= 0
