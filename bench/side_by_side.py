"""Two apps on one kind of request, in turn, on the same fake: where each spends its CPU.

`python -m bench.side_by_side submit` runs `introbot serve` and the same-work app
(`bench/same_work.py`) in turn at 10 clients (A then B, then B then A), each sampled with
py-spy.
For every round it prints the work done per second, the CPU per completed request from
/proc, and the samples turned into milliseconds per completed request, grouped by where the
sampled frame was (SQLAlchemy, introbot's own code, ...). `--variant NAME` puts introbot with
a `bench.variants` patch in the same-work app's place: an A/B of one change, in turn, so
that a noisy machine slows both sides alike. Like `bench.run`, it starts from a new benchmark
database (`introbot_bench`) with a history of `--history` requests: forms sent to an older
one could repeat an open ask and be refused as duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench import profile, seed, variants
from bench.cells import measure_bot, start_fake
from bench.common import RESULTS_DIR, Proc
from bench.cpuprofile import package_of
from bench.run import grow_history, start_bot, start_same_work

# Packages (bench.cpuprofile.package_of) grouped as docs/performance.md tabulates them.
GROUPS = {
    "sqlalchemy": "SQLAlchemy",
    "greenlet": "SQLAlchemy",
    "psycopg": "psycopg",
    "bot": "introbot's own code",
    "handlers": "introbot's own code",
    "storage": "introbot's own code",
    "bench": "the benchmark's code (the same-work app, a variant)",
    "aiohttp": "aiohttp, asyncio, selectors",
    "asyncio": "aiohttp, asyncio, selectors",
    "selectors": "aiohttp, asyncio, selectors",
    "yarl": "aiohttp, asyncio, selectors",
    "multidict": "aiohttp, asyncio, selectors",
    "urllib": "parsing the form body (urllib)",
    "slack_bolt": "slack_bolt, slack_sdk",
    "slack_sdk": "slack_bolt, slack_sdk",
    "json": "json, Jinja2, markupsafe",
    "jinja2": "json, Jinja2, markupsafe",
    "markupsafe": "json, Jinja2, markupsafe",
}
OTHER = "the rest (built-ins, logging, ...)"


def place_of(frame: str) -> str:
    """Where a py-spy frame ("function (path:line)") was, as GROUPS names it."""
    match = profile._FRAME.match(frame.strip())
    if match is None:
        return OTHER
    # py-spy gives paths from the package on ("handlers/home.py"); package_of expects the
    # whole path cProfile gives ("/work/main/handlers/home.py").
    return GROUPS.get(package_of("/" + match.group("file"), match.group("func")), OTHER)


def sampled_ms(raw: Path, completed: int, hz: int) -> dict[str, float]:
    """Samples by where their innermost frame was, as ms per completed request."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if f.strip()]
        if frames and count.isdigit():
            counts[place_of(frames[-1])] += int(count)
    scale = 1000 / hz / max(1, completed)
    found = {place: round(n * scale, 2) for place, n in counts.most_common()}
    found["sampled, in all"] = round(sum(counts.values()) * scale, 2)
    return found


async def rounds(args: argparse.Namespace) -> list[dict[str, Any]]:
    seed.recreate_database()
    seed.migrate()
    grow_history(args.history, 0)
    with seed.connect() as conn:
        seed.finish(conn)  # the planner's statistics, as bench.run has them
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fake = await start_fake(False)
    procs: list[Proc] = [fake.proc]
    try:
        ours, ours_url = await start_bot("introbot_serve", fake.api_url)
        procs.append(ours)
        if args.variant:
            other, other_url = await start_bot("introbot_serve_after", fake.api_url, args.variant)
        else:
            other, other_url = await start_same_work(fake.api_url)
        procs.append(other)
        sides = (("introbot", ours, ours_url), (args.variant or "same-work", other, other_url))
        seq = 0
        found = []
        for number in range(args.rounds):
            # A, B, then B, A: neither side always runs first, on the smaller table.
            for name, proc, url in sides if number % 2 == 0 else sides[::-1]:
                raw = RESULTS_DIR / f"side-by-side-{number}-{name}.txt"
                raw.unlink(missing_ok=True)  # an earlier run's samples are not this round's
                cell = await measure_bot(
                    fake, proc, url, args.scenario, args.clients, args.seconds, 2.0, seq, None,
                    profile_to=raw,
                )  # fmt: skip
                seq += int(cell["sent"]) + 1
                row = {
                    "round": number,
                    "app": name,
                    "done_per_s": cell["completion_rate"],
                    "cpu_ms_per_request": cell["cpu_ms_per_request"],
                    "refused_forms": cell["rejected_all"],
                    "sampled_ms": sampled_ms(raw, int(cell["completed"]), profile.RATE)
                    if raw.exists()
                    else {},
                }
                print(json.dumps(row), flush=True)
                found.append(row)
        return found
    finally:
        for proc in reversed(procs):
            proc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=("intro", "submit"))
    parser.add_argument("--variant", default="", help="bench.variants patch for the B side")
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--history", type=int, default=10_000, help="requests seeded first")
    args = parser.parse_args()
    variants.patches(args.variant)  # an unknown name stops here, not after the seeding
    found = asyncio.run(rounds(args))
    out = RESULTS_DIR / f"side-by-side-{args.scenario}-{args.variant or 'same-work'}.json"
    out.write_text(json.dumps(found, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
