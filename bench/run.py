"""introbot's benchmark, in one command: `python -m bench.run` (or `--quick` for a smoke run).

0. CPU per request (a submission, an Accept, /intro) of `introbot serve` and of the same work
   done plainly (bench/same_work.py), in one run, ABBA order: the app process and the
   PostgreSQL backends serving it, apart and together, with py-spy profiles when py-spy is
   installed; and the ratios against the targets (bench/yardstick.py). `--yardstick-only`
   stops after it. `--variants NAME[,NAME]` adds introbot with a part taken out
   (bench/variants.py) to its rounds, one app per variant: what each part costs.
1. Ack latency and throughput of `introbot serve` for /intro, an intro form submission and an
   Accept press, at 1, 10 and 50 concurrent clients, beside a bare Bolt app that only acks the
   same signed requests, and beside the same work done plainly (bench/same_work.py), cell by
   cell in the same run.
2. The same with 10,000 and then 1,000,000 intro requests of history on PostgreSQL, and
   EXPLAIN (ANALYZE, BUFFERS) of the hot-path queries and the due-message claim.
3. Dispatch: 10,000 messages due among the history, to a fake Slack that answers at once, with
   one `introbot serve` and with three; and claims per second on PostgreSQL.
4. Peak RSS of the bot process under all of the above.

Writes bench/results/runs/latest.json and .md (`--out` to name them otherwise) and prints the
tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report, seed, variants, yardstick
from bench.cells import Fake, measure_bare, measure_bot, start_fake
from bench.common import (
    APP_NAMES,
    DATABASE_URL,
    RESULTS_DIR,
    Proc,
    free_port,
    introbot_executable,
    memory_kb,
    python,
    serve_env,
    wait_http,
)

SCENARIOS = ("intro", "submit", "accept")
CHUNK = 100_000


def machine() -> dict[str, Any]:
    def run(*argv: str) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    with seed.connect() as conn:
        row = conn.execute("SHOW server_version").fetchone()
        settings = conn.execute(
            "SELECT name, setting, unit FROM pg_settings WHERE name IN "
            "('shared_buffers', 'work_mem', 'max_connections', 'synchronous_commit')"
        ).fetchall()
    import aiohttp
    import slack_bolt
    import sqlalchemy

    return {
        "nproc": int(run("nproc") or 0),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": row[0] if row else "",
        "postgresql_settings": {name: f"{value}{unit or ''}" for name, value, unit in settings},
        "slack_bolt": slack_bolt.version.__version__,
        "aiohttp": aiohttp.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "load_average_at_start": run("cat", "/proc/loadavg"),
    }


def grow_history(target: int, have: int) -> float:
    """Seed history up to `target` requests; seconds it took."""
    started = time.monotonic()
    with seed.connect() as conn:
        while have < target:
            step = min(CHUNK, target - have)
            seed.seed_requests(conn, step)
            have += step
    return time.monotonic() - started


async def start_bot(
    name: str, api_url: str, variant: str | None = None, **env: str
) -> tuple[Proc, str]:
    port = free_port()
    argv = [introbot_executable()]
    if variant:
        argv = [python(), "-m", "bench.variants", variant, "--"]
    argv += ["serve", "--host", "127.0.0.1", "--port", str(port)]
    env.setdefault("PGAPPNAME", APP_NAMES["introbot"])
    proc = Proc(name, argv, serve_env(api_url, **env))
    await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
    return proc, f"http://127.0.0.1:{port}/slack/events"


async def start_bare(api_url: str) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        "bare_bolt",
        [python(), "-m", "bench.bare_bolt", "--port", str(port), "--api-url", api_url],
    )
    await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
    return proc, f"http://127.0.0.1:{port}/slack/events"


async def start_same_work(api_url: str, name: str = "same_work") -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        name,
        [python(), "-m", "bench.same_work", "--port", str(port), "--api-url", api_url],
        {**os.environ, "PGAPPNAME": APP_NAMES["same_work"]},
    )
    await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=proc)
    return proc, f"http://127.0.0.1:{port}/slack/events"


def _ratio(ours: float, theirs: float) -> float | None:
    return round(ours / theirs, 3) if theirs else None


async def latency_phase(
    args: argparse.Namespace,
    fake: Fake,
    bot: Proc,
    bot_url: str,
    bare_proc: Proc,
    bare_url: str,
    history: int,
    seq: list[int],
    same: tuple[Proc, str] | None = None,
) -> dict[str, Any]:
    timings: dict[str, float] = {}
    with seed.connect() as conn:
        with seed.timed("pool_s", timings):
            pool_ids = seed.seed_requests(conn, args.pool, pool=True)
            # The same-work baseline presses Accept on requests of its own.
            same_ids = seed.seed_requests(conn, args.pool, pool=True) if same else None
        with seed.timed("analyze_s", timings):
            seed.finish(conn)
        pool = seed.pool_rows(conn, pool_ids)
        same_pool = seed.pool_rows(conn, same_ids) if same_ids else []
        rows = seed.counts(conn)
    pool_file = RESULTS_DIR / f"pool-{history}.json"
    pool_file.write_text(json.dumps(pool))
    same_pool_file = RESULTS_DIR / f"pool-{history}-same-work.json"
    same_pool_file.write_text(json.dumps(same_pool))
    same_accept_seq = 0
    cells: list[dict[str, Any]] = []
    accept_seq = 0
    # The paced cells before the heaviest, so they press Accept on fresh requests too.
    heaviest = max(args.concurrency)
    plan = [(c, 0.0) for c in args.concurrency if c != heaviest]
    plan += [(c, r) for c, r in args.paced] + [(heaviest, 0.0)]
    for scenario in SCENARIOS:
        for concurrency, rate in plan:
            start = accept_seq if scenario == "accept" else seq[0]
            pool_arg = pool_file if scenario == "accept" else None
            bare = await asyncio.to_thread(
                measure_bare,
                bare_proc,
                bare_url,
                scenario,
                concurrency,
                args.duration,
                args.warmup,
                start,
                pool_arg,
                rate,
            )
            same_work = None
            if same is not None:
                # Submissions from the same senders as introbot's, on fresh sequence numbers.
                same_start = same_accept_seq if scenario == "accept" else seq[0] + 1_000_000
                same_work = await measure_bot(
                    fake,
                    same[0],
                    same[1],
                    scenario,
                    concurrency,
                    args.duration,
                    args.warmup,
                    same_start,
                    same_pool_file if scenario == "accept" else None,
                    rate=rate,
                )
                if scenario == "accept":
                    same_accept_seq += same_work["sent"]
            ours = await measure_bot(
                fake,
                bot,
                bot_url,
                scenario,
                concurrency,
                args.duration,
                args.warmup,
                start,
                pool_arg,
                rate=rate,
            )
            if scenario == "accept":
                accept_seq += ours["sent"]
            else:
                seq[0] += ours["sent"]
            cell = {
                "history": history,
                "scenario": scenario,
                "concurrency": concurrency,
                "rate": rate,
                "bare": bare,
                "introbot": ours,
                "ack_throughput_ratio": round(ours["throughput"] / bare["throughput"], 3)
                if bare["throughput"]
                else None,
                "completion_ratio": round(ours["completion_rate"] / bare["throughput"], 3)
                if bare["throughput"]
                else None,
            }
            if same_work is not None:
                cell["same_work"] = same_work
                # introbot's work done per second and CPU per request against the same work
                # done plainly, measured in the same cell.
                cell["same_work_ratio"] = _ratio(
                    ours["completion_rate"], same_work["completion_rate"]
                )
                cell["same_work_cpu_ratio"] = _ratio(
                    ours.get("cpu_ms_per_request") or 0.0,
                    same_work.get("cpu_ms_per_request") or 0.0,
                )
            cells.append(cell)
            print(report.cell_line(cell), flush=True)
    return {
        "history": history,
        "rows_at_start": rows,
        "pool": len(pool),
        "timings": timings,
        "cells": cells,
        "bot_memory_kb": memory_kb(bot.pid),
    }


async def profile_cells(
    args: argparse.Namespace, fake: Fake, bot: Proc, bot_url: str, seq: list[int]
) -> dict[str, Any]:
    """Each request at the highest concurrency again, with py-spy attached (not in the table:
    the sampler takes CPU from the same two cores)."""
    from bench import profile

    found: dict[str, Any] = {}
    concurrency = max(args.concurrency)
    with seed.connect() as conn:
        pool_ids = seed.seed_requests(conn, args.pool // 2, pool=True)
        pool = seed.pool_rows(conn, pool_ids)
    pool_file = RESULTS_DIR / "pool-profile.json"
    pool_file.write_text(json.dumps(pool))
    for scenario in SCENARIOS:
        raw = RESULTS_DIR / f"profile-{scenario}.txt"
        ours = await measure_bot(
            fake,
            bot,
            bot_url,
            scenario,
            concurrency,
            args.duration,
            args.warmup,
            0 if scenario == "accept" else seq[0],
            pool_file if scenario == "accept" else None,
            profile_to=raw,
        )
        if scenario != "accept":
            seq[0] += ours["sent"]
        if raw.exists():
            found[scenario] = {
                "concurrency": concurrency,
                "acks_per_s": ours["throughput"],
                "summary": profile.summarise(raw),
            }
    return found


async def run_yardstick(
    args: argparse.Namespace,
    fake: Fake,
    apps: dict[str, tuple[Proc, str]],
    history: int,
    seq: list[int],
) -> dict[str, Any]:
    """The first step: `history` requests seeded, then bench.yardstick's rounds, with a
    process of its own for each of `--variants` (stopped after)."""
    seeded = grow_history(history, 0)
    print(f"history {history:,} requests seeded in {seeded:.1f}s", flush=True)
    started: list[Proc] = []
    try:
        for name in args.variants:
            # introbot with a part taken out, its connections under a name of their own.
            apps[name] = await start_bot(
                f"introbot_{name.replace('+', '_')}",
                fake.api_url,
                variant=name.replace("+", ","),
                PGAPPNAME=yardstick.app_name(name),
            )
            started.append(apps[name][0])
        found = await yardstick.run(args, fake, apps, seq)
    finally:
        for proc in started:
            proc.stop()
    print("\n".join(yardstick.table(found)), flush=True)
    return found


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
        "config": {
            "sizes": args.sizes,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "paced": args.paced,
            "pool": args.pool,
            "due": args.due,
            "replicas": args.replicas,
            "strict_fake": args.strict_fake,
            "variants": args.variants,
            "database_url": DATABASE_URL,
        },
    }
    seed.recreate_database()
    seed.migrate()
    results["machine"] = machine()
    fake = await start_fake(args.strict_fake)
    procs: list[Proc] = [fake.proc]
    try:
        bot, bot_url = await start_bot("introbot_serve", fake.api_url)
        procs.append(bot)
        bare, bare_url = await start_bare(fake.api_url)
        procs.append(bare)
        same = await start_same_work(fake.api_url) if args.same_work else None
        procs += [same[0]] if same is not None else []
        phases = []
        have = 0
        seq = [0]
        if args.yardstick and same is not None:
            have = args.sizes[0]
            apps = {"introbot": (bot, bot_url), "same_work": same}
            results["yardstick"] = await run_yardstick(args, fake, apps, have, seq)
            if args.yardstick_only:
                results["elapsed_s"] = round(time.monotonic() - started, 1)
                return results
        for size in args.sizes:
            seeded = grow_history(size, have)
            have = size
            print(f"history {size:,} requests seeded in {seeded:.1f}s", flush=True)
            phase = await latency_phase(args, fake, bot, bot_url, bare, bare_url, size, seq, same)
            phase["timings"]["seed_s"] = round(seeded, 1)
            phases.append(phase)
        results["phases"] = phases
        results["bot_memory_kb"] = memory_kb(bot.pid)
        if args.profile:
            results["profiles"] = await profile_cells(args, fake, bot, bot_url, seq)
            results["bot_memory_kb_after_profiles"] = memory_kb(bot.pid)
        bot.stop()
        created: list[str] = []
        if not args.skip_after:
            # The same cells with the recommended changes, at the largest history.
            from bench import explain

            created = await explain.create_indexes()
        if not args.skip_after and not created and not args.after_variant:
            # Nothing to compare: every candidate index is in the schema already.
            results["after"] = {"skipped": "every candidate index is in the schema already"}
        elif not args.skip_after:
            after_bot, after_url = await start_bot(
                "introbot_serve_after", fake.api_url, variant=args.after_variant or None
            )
            procs.append(after_bot)
            try:
                after = await latency_phase(
                    args, fake, after_bot, after_url, bare, bare_url, have, seq
                )
            finally:
                after_bot.stop()
                await explain.drop_indexes(created)
            after["changes"] = (
                ", ".join(
                    [f"index {name}" for name in created]
                    + ([f"bench.variants {args.after_variant}"] if args.after_variant else [])
                )
                or "nothing: every candidate is in the schema already"
            )
            results["after"] = after
        results["bare_memory_kb"] = memory_kb(bare.pid)
        bare.stop()
        if same is not None:
            results["same_work_memory_kb"] = memory_kb(same[0].pid)
            same[0].stop()
        with seed.connect() as conn:
            due = seed.make_due(conn, args.due)
            results["rows_at_end"] = seed.counts(conn)
        if not args.skip_explain:
            from bench import explain

            results["explain"] = await explain.run_all()
        if not args.skip_dispatch:
            from bench import dispatch

            results["dispatch"] = await dispatch.run_all(fake, args, due)
    finally:
        for proc in reversed(procs):
            proc.stop()
    results["elapsed_s"] = round(time.monotonic() - started, 1)
    return results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (~3 minutes)")
    parser.add_argument("--sizes", type=int, nargs="+", help="history sizes (requests)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument(
        "--paced",
        nargs="*",
        default=["50@20"],
        help="CLIENTS@RATE cells: that many clients sending RATE requests/s in all",
    )
    parser.add_argument("--duration", type=float, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per cell")
    parser.add_argument("--pool", type=int, help="awaiting requests to press Accept on")
    parser.add_argument("--due", type=int, help="messages due in the dispatch test")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 3])
    parser.add_argument("--strict-fake", action="store_true", help="validate Block Kit too")
    parser.add_argument(
        "--no-profile", dest="profile", action="store_false", help="skip the py-spy cells"
    )
    parser.add_argument(
        "--no-same-work",
        dest="same_work",
        action="store_false",
        help="skip the same-work baseline (bench.same_work) in each cell",
    )
    parser.add_argument(
        "--no-yardstick",
        dest="yardstick",
        action="store_false",
        help="skip the first step: CPU per request against the same-work app, ABBA",
    )
    parser.add_argument(
        "--yardstick-only",
        action="store_true",
        help="only that step (about 7 minutes, 4 with --quick), then stop",
    )
    parser.add_argument(
        "--yardstick-clients", type=int, default=10, help="clients in its rounds (CPU-bound)"
    )
    parser.add_argument(
        "--yardstick-rounds",
        type=int,
        default=8,
        help="rounds per kind in ABBA order (8: A B B A A B B A)",
    )
    parser.add_argument(
        "--variants",
        default="",
        help="bench.variants measuring variants to run in the yardstick's rounds too, each"
        " as one more app (NAME[,NAME]; A+B: one app with both patches)",
    )
    parser.add_argument("--skip-explain", action="store_true")
    parser.add_argument("--skip-dispatch", action="store_true")
    parser.add_argument(
        "--skip-after", action="store_true", help="skip the run with recommended changes"
    )
    parser.add_argument("--dispatch-limit", type=float, default=300.0, help="seconds per run")
    parser.add_argument(
        "--after-variant", default="", help="bench.variants patches for the 'after' phase too"
    )
    parser.add_argument(
        "--out",
        default=str(RESULTS_DIR / "latest"),
        help="path of the results without suffix (.json and .md are written)",
    )
    args = parser.parse_args(argv)
    if args.yardstick_only and not (args.yardstick and args.same_work):
        parser.error("--yardstick-only needs the yardstick and the same-work app")
    variants.patches(args.after_variant)  # an unknown name stops here, not after the cells
    args.variants = [name for name in args.variants.split(",") if name and name != "none"]
    for name in args.variants:
        variants.patches(name.replace("+", ","))
    if args.variants and not (args.yardstick and args.same_work):
        parser.error("--variants runs in the yardstick, beside the same-work app")
    args.paced = [(int(c), float(r)) for c, r in (item.split("@") for item in args.paced)]
    if args.quick:
        args.sizes = args.sizes or [2_000, 20_000]
        args.duration = args.duration or 2.0
        args.pool = args.pool or 1_500
        args.due = args.due or 1_000
    else:
        args.sizes = args.sizes or [10_000, 1_000_000]
        args.duration = args.duration or 6.0
        args.pool = args.pool or 3_000
        args.due = args.due or 10_000
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = asyncio.run(main_async(args))
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    markdown = report.markdown(results)
    out.with_suffix(".md").write_text(markdown)
    print(markdown)


if __name__ == "__main__":
    main()
