"""The hot statements through psycopg directly against through SQLAlchemy's async adapter:
CPU of this process (`time.process_time`) per submission + Accept + review, and per request
form's findings (`/intro`), the two paths taking turns A B B A in one process.

`python -m bench.raw_statements [write|intro] [calls per round]` recreates the benchmark
database (BENCH_DATABASE_URL) empty: what is measured is the work around each statement, not
PostgreSQL's. `python -m bench.raw_statements calls` counts the Python function calls of each
operation under cProfile instead (deterministic). `python -m bench.raw_statements lending
[calls per round]` measures submission + Accept + review with each statement's connection
lent bare from the pool (`storage.db.one_statement`) against through a SQLAlchemy
`Connection` (`storage.db.autocommit`), both running the statement through psycopg.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import sys
import time
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

import bot.delivery.outbox as outbox
import bot.intro.directory as directory
import bot.intro.workflow.one_statement as one_statement
import storage.db
from bench import seed
from bench.common import DATABASE_URL
from bot.intro.clock import ManualClock
from bot.intro.directory import Directory
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow, Lease
from storage.db import create_engine_for, execute_raw, fetch_all, make_sessionmaker

TEAM, REQUESTER, CONNECTOR = "T1", "U1", "U2"


async def _through_sqlalchemy(connection: Any, statement: Any, params: Any) -> Any:
    return (await connection.execute(statement, params)).mappings().all()


async def _all_through_sqlalchemy(connection: Any, statement: Any, params: Any) -> Any:
    return (await connection.execute(statement, params)).all()


def _use(path: str) -> None:
    raw = path != "sqlalchemy"
    one_statement.execute_raw = execute_raw if raw else _through_sqlalchemy  # type: ignore[assignment]
    directory.fetch_all = fetch_all if raw else _all_through_sqlalchemy  # type: ignore[assignment]
    lend = storage.db.one_statement if path != "connection" else storage.db.autocommit
    for module in (one_statement, directory, outbox):
        module.one_statement = lend  # type: ignore[attr-defined]


def _draft(n: int, target: str = "") -> RequestDraft:
    return RequestDraft(
        requester=Teammate(REQUESTER, "Riya Patel"),
        connector=Teammate(CONNECTOR, "Carlos Mendes"),
        target_name=target or f"Jane Doe{n}",
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Jane, I'm Riya. Would you be open to a call?",
    )


def _fresh() -> tuple[AsyncEngine, ManualClock, IntroWorkflow, Directory]:
    """An empty benchmark database, migrated, and the workflow and directory on it."""
    seed.recreate_database()
    seed.migrate()
    engine = create_engine_for(DATABASE_URL)
    clock = ManualClock()
    sessions = make_sessionmaker(engine)
    return engine, clock, IntroWorkflow(sessions, clock), Directory(sessions, clock)


async def measure(kind: str, calls: int, paths: tuple[str, str]) -> dict[str, float]:
    engine, clock, workflow, found = _fresh()
    seq = 0

    async def one_round(path: str) -> float:
        nonlocal seq
        _use(path)
        gc.collect()
        started = time.process_time()
        for _ in range(calls):
            seq += 1
            if kind == "intro":
                await found.form_findings(TEAM, REQUESTER, f"Jane Doe{seq % 20}", "Acme")
                continue
            lease = Lease("bench", clock.now() + timedelta(seconds=30))
            out = await workflow.submit(TEAM, _draft(seq), [], lease=lease)
            await workflow.act(TEAM, out.request.id, CONNECTOR, Action.ACCEPT, lease=lease)
            await found._review_rows(TEAM, CONNECTOR, f"Jane Doe{seq}", "Acme", clock.now())
        return time.process_time() - started

    first, second = paths
    totals = {first: 0.0, second: 0.0}
    try:
        await one_round(first)  # warm-up: statements rendered, prepared
        await one_round(second)
        for path in (second, first, first, second) * 2:
            totals[path] += await one_round(path)
    finally:
        _use("psycopg")
        await engine.dispose()
    return {path: total / (4 * calls) * 1000 for path, total in totals.items()}


async def _profiled(step: Awaitable[Any]) -> tuple[Any, int]:
    profile = cProfile.Profile()
    profile.enable()
    done = await step
    profile.disable()
    return done, pstats.Stats(profile).total_calls  # type: ignore[attr-defined]


async def count_calls() -> dict[str, dict[str, int]]:
    """Python function calls per submission, Accept, review and form's findings, each path
    after a few runs of each (statements rendered and prepared)."""
    engine, clock, workflow, found = _fresh()
    counts: dict[str, dict[str, int]] = {}
    try:
        for path in ("psycopg", "sqlalchemy"):
            _use(path)
            seen = counts[path] = {}
            for n in range(6):  # the last run counts
                lease = Lease("bench", clock.now() + timedelta(seconds=30))
                target = f"Jane Doe{path}{n}"
                submitted, seen["submit"] = await _profiled(
                    workflow.submit(TEAM, _draft(n, target), [], lease=lease)
                )
                request_id = submitted.request.id
                _, seen["accept"] = await _profiled(
                    workflow.act(TEAM, request_id, CONNECTOR, Action.ACCEPT, lease=lease)
                )
                _, seen["review"] = await _profiled(
                    found._review_rows(TEAM, CONNECTOR, target, "Acme", clock.now())
                )
                _, seen["intro"] = await _profiled(
                    found.form_findings(TEAM, REQUESTER, target, "Acme")
                )
    finally:
        _use("psycopg")
        await engine.dispose()
    return counts


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else "write"
    if kind == "calls":
        for path, by_step in asyncio.run(count_calls()).items():
            print(f"{path:>10}: " + ", ".join(f"{k} {v}" for k, v in by_step.items()))
        return
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    new, old = ("lent", "connection") if kind == "lending" else ("psycopg", "sqlalchemy")
    ms = asyncio.run(measure("intro" if kind == "intro" else "write", calls, (new, old)))
    what = "form's findings" if kind == "intro" else "submission + Accept + review"
    for path, value in ms.items():
        print(f"{path:>10}: {value:.3f} ms of CPU per {what}")
    saved = ms[old] - ms[new]
    print(f"{new} / {old}: {ms[new] / ms[old]:.3f}; saved {saved:.3f} ms")


if __name__ == "__main__":
    main()
