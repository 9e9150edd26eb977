"""Dispatch: messages due among the history, delivered by one and by three `introbot serve`.

First the claim itself on PostgreSQL: `Dispatcher._claim` (the real method, in batches of 32
and of the sweep's size) in a loop until nothing is due, by one claimer and by three at once,
so the rate excludes Slack and rendering. Then whole processes: the due messages are made due
again, N replicas start with a 1 s sweep, and the time until the fake has received every one
(chat.postMessage) is taken from the fake's own clock. Duplicates would show as more posts
than messages.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import time
from typing import Any, cast

from slack_sdk.web.async_client import AsyncWebClient

from bench import seed
from bench.cells import Fake
from bench.common import DATABASE_URL, Proc, introbot_executable, memory_kb, serve_env
from bench.common import free_port as _free_port
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.tokens import FixedToken
from bot.intro.clock import SystemClock
from bot.intro.workflow import IntroWorkflow
from storage.db import create_engine_for, make_sessionmaker

# The sweep's batch: what `Dispatcher.sweep` claims at a time.
SWEEP_BATCH = int(inspect.signature(Dispatcher).parameters["batch"].default)
# Claiming never calls Slack.
NO_CLIENT = cast(AsyncWebClient, None)
NO_TOKENS = FixedToken(None)


async def claim_rate(claimers: int, batch: int, limit_s: float = 120.0) -> dict[str, Any]:
    """Claim everything due with `claimers` concurrent claimers, `batch` rows per claim (the
    sweep's batch is `Dispatcher`'s default); rows per second."""
    engine = create_engine_for(DATABASE_URL)
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    workflow = IntroWorkflow(sessions, clock)
    claimed = 0
    batches = 0
    deadline = time.monotonic() + limit_s

    async def claimer(n: int) -> None:
        nonlocal claimed, batches
        dispatcher = Dispatcher(
            sessions, NO_CLIENT, clock, workflow, owner=f"claimer-{n}", tokens=NO_TOKENS
        )
        while time.monotonic() < deadline:
            rows = await dispatcher._claim(limit=batch)
            if not rows:
                return
            claimed += len(rows)
            batches += 1

    try:
        started = time.monotonic()
        await asyncio.gather(*(claimer(n) for n in range(claimers)))
        seconds = time.monotonic() - started
    finally:
        await engine.dispose()
    return {
        "claimers": claimers,
        "claimed": claimed,
        "batches": batches,
        "batch": batch,
        "seconds": round(seconds, 3),
        "per_second": round(claimed / seconds, 1) if seconds else 0.0,
        "ms_per_batch": round(1000 * seconds * claimers / batches, 2) if batches else 0.0,
    }


async def replicas_run(
    fake: Fake, replicas: int, due: int, variant: str | None, limit_s: float
) -> dict[str, Any]:
    with seed.connect() as conn:
        seed.reset_due(conn)
        row = conn.execute("SELECT now()").fetchone()
        assert row is not None
        run_started_db = row[0]
    await fake.reset()
    procs: list[Proc] = []
    started = time.monotonic()
    for n in range(replicas):
        argv = [introbot_executable()]
        if variant:
            from bench.common import python

            argv = [python(), "-m", "bench.variants", variant, "--"]
        argv += ["serve", "--host", "127.0.0.1", "--port", str(_free_port())]
        procs.append(
            Proc(
                f"dispatch_{replicas}x_{n}",
                argv,
                serve_env(fake.api_url, INTROBOT_SWEEP_INTERVAL="1s"),
            )
        )
    posted = 0
    stats: dict[str, Any] = {}
    peaks: list[int] = []
    stalled_since = time.monotonic()
    try:
        deadline = started + limit_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            stats = await fake.stats()
            now_posted = int(stats["counts"].get("chat.postMessage", 0))
            if now_posted != posted:
                posted, stalled_since = now_posted, time.monotonic()
            if posted >= due:
                await asyncio.sleep(2.0)  # a duplicate would arrive now
                stats = await fake.stats()
                posted = int(stats["counts"].get("chat.postMessage", 0))
                break
            if time.monotonic() - stalled_since > 60:
                break
            for proc in procs:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
        peaks = [memory_kb(proc.pid).get("VmHWM", 0) for proc in procs]
    finally:
        for proc in procs:
            proc.stop()
    with seed.connect() as conn:
        statuses = seed.delivered(conn)
        # Other messages that fell due meanwhile (rescheduled ones waiting for a sweep) are
        # posted too; they are not duplicates. A duplicate would be a message claimed twice.
        row = conn.execute(
            "SELECT count(*) FROM outbound_messages WHERE sent_at >= %s "
            "AND id NOT IN (SELECT id FROM bench_due)",
            (run_started_db,),
        ).fetchone()
        others = int(row[0]) if row else 0
        row = conn.execute(
            "SELECT count(*) FROM outbound_messages WHERE id IN (SELECT id FROM bench_due) "
            "AND attempts > 1"
        ).fetchone()
        claimed_twice = int(row[0]) if row else 0
    first = float(stats.get("first_at", {}).get("chat.postMessage", started))
    last = float(stats.get("last_at", {}).get("chat.postMessage", started))
    span = max(1e-6, last - first)
    return {
        "replicas": replicas,
        "variant": variant or "as is",
        "due": due,
        "posted": posted,
        "other_messages": others,
        "duplicates": max(0, posted - due - others),
        "claimed_twice": claimed_twice,
        "statuses_after": statuses,
        "span_s": round(span, 2),
        "from_start_s": round(last - started, 2),
        "rate": round(posted / span, 1),
        "fake_calls": stats.get("counts", {}),
        "fake_errors": stats.get("errors", {}),
        "peak_rss_kb": peaks,
        "complete": posted >= due,
    }


async def run_all(fake: Fake, args: argparse.Namespace, due: dict[str, int]) -> dict[str, Any]:
    found: dict[str, Any] = {"due": due, "claims": {}, "runs": []}
    for batch in (32, SWEEP_BATCH):
        for claimers in (1, 3):
            with seed.connect() as conn:
                seed.reset_due(conn)
                conn.execute("VACUUM ANALYZE outbound_messages")
            result = await claim_rate(claimers, batch)
            label = f"batch {batch}, {claimers} claimer{'s' if claimers > 1 else ''}"
            found["claims"][label] = result
            print(
                f"claims ({label}): {result['claimed']} rows in {result['seconds']}s "
                f"= {result['per_second']}/s",
                flush=True,
            )
    for replicas in args.replicas:
        variant = getattr(args, "variant", None)
        run = await replicas_run(fake, replicas, due["due"], variant, args.dispatch_limit)
        found["runs"].append(run)
        print(
            f"dispatch: {replicas} replica(s) {run['posted']}/{run['due']} in "
            f"{run['span_s']}s ({run['rate']}/s), from start {run['from_start_s']}s",
            flush=True,
        )
    return found


async def _main_async(args: argparse.Namespace) -> dict[str, Any]:
    from bench import explain
    from bench.cells import start_fake

    fake = await start_fake(False)
    created: list[str] = []
    try:
        if args.indexes:
            created = await explain.create_indexes()
        with seed.connect() as conn:
            row = conn.execute("SELECT count(*) FROM bench_due").fetchone()
        due = {"due": int(row[0]) if row else 0}
        found = await run_all(fake, args, due)
        found["indexes"] = args.indexes
        found["variant"] = args.variant
        return found
    finally:
        await explain.drop_indexes(created)
        fake.proc.stop()


def main() -> None:
    """Dispatch again on the database the last run left (its bench_due messages), e.g. with
    the candidate indexes: `python -m bench.dispatch --indexes`."""
    import json

    from bench.common import RESULTS_DIR

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--indexes", action="store_true", help="with the candidate indexes")
    parser.add_argument("--variant", help="bench.variants names, comma-separated")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--dispatch-limit", type=float, default=300.0)
    args = parser.parse_args()
    found = asyncio.run(_main_async(args))
    name = "dispatch-indexes" if args.indexes else "dispatch"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(found, indent=2))


if __name__ == "__main__":
    main()
