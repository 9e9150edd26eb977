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
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import aiohttp

from bench import seed
from bench.cells import start_fake
from bench.common import RESULTS_DIR, child_env, free_port, python, serve_env

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


async def _healthy(port: int, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("introbot serve did not start")


async def profile(scenario: str, clients: int, seconds: float) -> dict[str, object]:
    out = RESULTS_DIR / f"cprofile-{scenario}.prof"
    fake = await start_fake(False)
    port = free_port()
    log = (RESULTS_DIR / "logs" / "cprofile-serve.log").open("w")
    bot = subprocess.Popen(
        [python(), "-m", "cProfile", "-o", str(out), "-m", "bot.cli", "serve"]
        + ["--host", "127.0.0.1", "--port", str(port)],
        env=child_env(serve_env(fake.api_url)),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        await _healthy(port)
        argv = [python(), "-m", "bench.loadgen", "--url", f"http://127.0.0.1:{port}/slack/events"]
        argv += ["--scenario", scenario, "--concurrency", str(clients)]
        argv += ["--duration", str(seconds), "--warmup", "0.5"]
        if scenario == "accept":
            with seed.connect() as conn:
                pool = seed.pool_rows(conn, seed.seed_requests(conn, 3000, pool=True))
            pool_file = RESULTS_DIR / "pool-cprofile.json"
            pool_file.write_text(json.dumps(pool))
            argv += ["--pool", str(pool_file), "--seq-start", "0"]
        else:
            argv += ["--seq-start", str(int(time.time()) % 1_000_000)]
        done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, check=True)
        load = json.loads(done.stdout.strip().splitlines()[-1])
        await asyncio.sleep(3)  # the work after the acks
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(60)
        fake.proc.stop()
        log.close()
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
