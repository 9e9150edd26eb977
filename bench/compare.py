"""One change at a time: the same cells against `introbot serve` as is and with each
recommended change, on the database the last run left (no reseeding).

`python -m bench.compare --variants none indexes indexes+shared_http indexes+cached_users all`

A variant is changes joined by "+": `indexes` creates the candidate indexes (bench/explain.py)
for its cells and drops them after; `shared_http` and `cached_users` are bench/variants.py
patches; `all` is every change; `none` the code as it is. Writes bench/results/compare.json
and .md (`--out` to name them otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bench import explain, profile, report, seed
from bench.cells import measure_bot, start_fake
from bench.common import RESULTS_DIR, memory_kb
from bench.run import start_bot


def changes(name: str) -> tuple[bool, str | None]:
    """(with the indexes, the bench.variants patches) for a variant name."""
    parts = {"indexes", "shared_http", "cached_users"} if name == "all" else set(name.split("+"))
    patches = sorted(parts - {"indexes", "none"})
    return "indexes" in parts, ",".join(patches) or None


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    fake = await start_fake(False)
    found: dict[str, Any] = {"variants": {}, "config": vars(args)}
    with seed.connect() as conn:
        found["rows"] = seed.counts(conn)
        row = conn.execute("SELECT coalesce(max(id), 0) FROM intro_requests").fetchone()
        seq = [int(row[0]) if row else 0]  # fresh submission numbers
    try:
        for name in args.variants:
            with_indexes, patches = changes(name)
            created = await explain.create_indexes() if with_indexes else []
            bot, url = await start_bot(f"compare_{name}", fake.api_url, patches)
            cells = []
            try:
                with seed.connect() as conn:
                    pool = seed.pool_rows(conn, seed.seed_requests(conn, args.pool, pool=True))
                pool_file = RESULTS_DIR / f"pool-compare-{name.replace('+', '-')}.json"
                pool_file.write_text(json.dumps(pool))
                accept_seq = 0
                for scenario in args.scenarios:
                    for concurrency in args.concurrency:
                        start = accept_seq if scenario == "accept" else seq[0]
                        spy = None
                        if args.profile and concurrency == max(args.concurrency):
                            tag = name.replace("+", "-")
                            spy = RESULTS_DIR / f"profile-compare-{tag}-{scenario}.txt"
                        ours = await measure_bot(
                            fake,
                            bot,
                            url,
                            scenario,
                            concurrency,
                            args.duration,
                            args.warmup,
                            start,
                            pool_file if scenario == "accept" else None,
                            profile_to=spy,
                        )
                        if spy is not None and spy.exists():
                            ours["profile"] = profile.summarise(spy)
                        if scenario == "accept":
                            accept_seq += ours["sent"]
                        else:
                            seq[0] += ours["sent"]
                        cells.append(
                            {"scenario": scenario, "concurrency": concurrency, "introbot": ours}
                        )
                        print(
                            f"{name:<14} {report.LABEL[scenario]:<13} c={concurrency:<3} "
                            f"{ours['throughput']:>6.1f} acks/s p50 {ours['p50_ms']:>6.1f} "
                            f"p99 {ours['p99_ms']:>7.1f} done {ours['completion_rate']:>6.1f}/s "
                            f"cpu {ours['cpu_ms_per_request']} ms/request",
                            flush=True,
                        )
                found["variants"][name] = {"cells": cells, "memory_kb": memory_kb(bot.pid)}
            finally:
                bot.stop()
                await explain.drop_indexes(created)
    finally:
        fake.proc.stop()
    return found


def markdown(found: dict[str, Any]) -> str:
    lines = [
        "| change | request | clients | acks/s | p50 / p99 ms | work done/s "
        "| CPU ms per request | peak RSS |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, entry in found["variants"].items():
        for cell in entry["cells"]:
            ours = cell["introbot"]
            lines.append(
                f"| {name} | {report.LABEL[cell['scenario']]} | {cell['concurrency']} "
                f"| {ours['throughput']:.0f} | {ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} "
                f"| {ours['completion_rate']:.0f} | {ours['cpu_ms_per_request']} "
                f"| {entry['memory_kb'].get('VmHWM', 0) / 1024:.0f} MB |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["none", "indexes"],
    )
    parser.add_argument("--scenarios", nargs="+", default=["intro", "submit", "accept"])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 50])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--pool", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="py-spy the busiest cells")
    parser.add_argument("--out", default="compare", help="results file name in bench/results")
    args = parser.parse_args()
    started = time.monotonic()
    found = asyncio.run(main_async(args))
    found["elapsed_s"] = round(time.monotonic() - started, 1)
    (RESULTS_DIR / f"{args.out}.json").write_text(json.dumps(found, indent=2))
    text = markdown(found)
    (RESULTS_DIR / f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
