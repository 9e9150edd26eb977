"""Where `introbot serve` spends its CPU on one kind of request, by library.

`python -m bench.cpuprofile accept` (or `intro`, `submit`) runs the fake Slack, then
`introbot serve` under cProfile, drives it with the load generator (4 clients, closed loop,
8 s), stops it with SIGTERM (it drains, and cProfile writes its file), and prints the self time
of every function grouped by the package it lives in (time the event loop spent waiting in
epoll is left out: it is idle, not CPU). Run it on the database a
benchmark run left (`introbot_bench`). cProfile slows everything down by about half, so read
the shares, not the milliseconds; py-spy (`bench/profile.py`) samples without that cost but
cannot see into SQLAlchemy's greenlets well.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import pstats
import time
from collections import Counter
from pathlib import Path

from bench import seed
from bench.cells import run_loadgen, start_fake
from bench.common import RESULTS_DIR, Proc, free_port, python, serve_env, wait_http

# A frame's package: the first of these its file path contains.
PACKAGES = (
    "sqlalchemy",
    "psycopg",
    "greenlet",
    "aiohttp",
    "slack_bolt",
    "slack_sdk",
    "jinja2",
    "markupsafe",
    "asyncio",
    "selectors",
    "json",
    "yarl",
    "multidict",
    "urllib",
    "logging",
    "/bot/",
    "/handlers/",
    "/storage/",
    "/bench/",
)


IDLE = "idle (waiting in epoll)"


def package_of(path: str, function: str) -> str:
    if path == "~":  # a built-in: name the object it belongs to
        if "of 'select." in function:
            return IDLE  # the event loop waiting for I/O: not CPU
        if "greenlet" in function:
            return "greenlet"
        return "built-ins"
    for package in PACKAGES:
        if package in path:
            return package.strip("/")
    return "other"


def by_package(profile: Path) -> Counter[str]:
    stats = pstats.Stats(str(profile))
    seconds: Counter[str] = Counter()
    for (path, _line, function), (_cc, _nc, self_time, _cum, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        seconds[package_of(path, function)] += self_time
    return seconds


async def profile(scenario: str, clients: int, seconds: float) -> dict[str, object]:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / f"cprofile-{scenario}.prof"
    fake = await start_fake(False)
    port = free_port()
    bot = Proc(
        "cprofile-serve",
        [python(), "-m", "cProfile", "-o", str(out), "-m", "bot.wiring.cli", "serve"]
        + ["--host", "127.0.0.1", "--port", str(port)],
        serve_env(fake.api_url),
    )
    try:
        await wait_http(f"http://127.0.0.1:{port}/healthz", timeout=60, proc=bot)
        pool_file = None
        seq_start = int(time.time()) % 1_000_000
        if scenario == "accept":
            with seed.connect() as conn:
                pool = seed.pool_rows(conn, seed.seed_requests(conn, 3000, pool=True))
            pool_file = RESULTS_DIR / "pool-cprofile.json"
            pool_file.write_text(json.dumps(pool))
            seq_start = 0  # the pool is pressed from its start
        url = f"http://127.0.0.1:{port}/slack/events"
        load = run_loadgen(url, scenario, clients, seconds, 0.5, seq_start, pool_file)
        await asyncio.sleep(3)  # the work after the acks
    finally:
        bot.stop(timeout=60)  # SIGTERM: the bot drains, then cProfile writes its file
        fake.proc.stop()
    requests = int(load["sent"]) - int(load.get("stale_presses", 0))
    seconds_by_package = by_package(out)
    idle = seconds_by_package.pop(IDLE, 0.0)
    total = sum(seconds_by_package.values())
    return {
        "scenario": scenario,
        "requests": requests,
        "acks_per_s": load["throughput"],
        "busy_s": round(total, 2),
        "idle_s": round(idle, 2),
        "shares": {
            name: round(100 * spent / total, 1) for name, spent in seconds_by_package.most_common()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=("intro", "submit", "accept"))
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    found = asyncio.run(profile(args.scenario, args.clients, args.seconds))
    (RESULTS_DIR / f"cprofile-{args.scenario}.json").write_text(json.dumps(found, indent=2))
    print(
        f"{found['scenario']}: {found['requests']} requests; {found['busy_s']} s busy "
        f"(startup included), {found['idle_s']} s idle; busy time by package:"
    )
    for name, share in found["shares"].items():  # type: ignore[attr-defined]
        print(f"  {share:5.1f} %  {name}")


if __name__ == "__main__":
    main()
