"""introbot serve's resident memory: right after start, after each kind of load, and what each
package it loads only when first used would add.

`python -m bench.memory` (on the history `bench.run` left, or any migrated
`BENCH_DATABASE_URL`) starts the fake Slack and `introbot serve` against PostgreSQL as the
benchmark does, prints VmRSS once /healthz answers, then runs a submission, an Accept and
`/intro` at `--clients` closed-loop clients for `--duration` seconds each, `--rounds` times, and
prints VmRSS and VmHWM (the peak) after each with the process's thread count. Last, in a child
process that builds the app as serve does, it imports each package serve leaves for first use
and prints the RSS that import adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from typing import Any

from bench import seed
from bench.cells import measure_bot, start_fake
from bench.common import DATABASE_URL, RESULTS_DIR, child_env, memory_kb
from bench.run import start_bot

# Imported when first used, not by serve at start (tests/bot/wiring/test_layout.py).
# Each as its first use imports it; in this order, as one brings in part of another (the
# CRM clients bring cryptography).
FIRST_USE = (
    "cryptography.fernet",  # a secret box, with INTROBOT_SECRET_KEY
    "storage.migrate",  # `introbot migrate`, a child process of serve (Alembic)
    "matplotlib.figure",  # the manager's chart
    "bot.delivery.crm.hubspot",  # a HubSpot adapter
    "bot.delivery.crm.salesforce",  # a Salesforce adapter
)

_FIRST_USE_COST = textwrap.dedent(
    """
    import importlib, json, sys
    from bot.settings import load_settings
    from bot.wiring.app import build_services, create_app
    from bot.wiring.server import web_app

    def rss_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", DATABASE_URL=sys.argv[1]
    )
    services = build_services(settings)
    web_app(create_app(services), services)
    found = {"app": rss_kb()}
    for name in sys.argv[2:]:
        before = rss_kb()
        importlib.import_module(name)
        found[name] = rss_kb() - before
    print(json.dumps(found))
    """
)


def _mb(kb: int) -> float:
    return round(kb / 1024, 1)


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def first_use_cost() -> dict[str, float]:
    """MB each package adds when imported after the app is built (in that order)."""
    done = subprocess.run(
        [sys.executable, "-c", _FIRST_USE_COST, DATABASE_URL, *FIRST_USE],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    return {name: _mb(kb) for name, kb in json.loads(done.stdout).items()}


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    fake = await start_fake(False)
    bot, url = await start_bot("introbot_memory", fake.api_url)
    steps: list[dict[str, Any]] = []

    def record(step: str) -> None:
        memory = memory_kb(bot.pid)
        found = {
            "step": step,
            "rss_mb": _mb(memory.get("VmRSS", 0)),
            "peak_mb": _mb(memory.get("VmHWM", 0)),
            "threads": _threads(bot.pid),
        }
        steps.append(found)
        print(json.dumps(found), flush=True)

    try:
        record("start")
        with seed.connect() as conn:
            ids = seed.seed_requests(conn, args.pool, pool=True)
            pool = RESULTS_DIR / "pool-memory.json"
            pool.parent.mkdir(parents=True, exist_ok=True)
            pool.write_text(json.dumps(seed.pool_rows(conn, ids)))
        seq = args.seq_start
        for round_number in range(args.rounds):
            for kind in ("submit", "accept", "intro"):
                cell = await measure_bot(
                    fake, bot, url, kind, args.clients, args.duration, args.warmup, seq,
                    pool if kind == "accept" else None,
                )  # fmt: skip
                seq += int(cell["sent"])
                record(f"{kind} round {round_number + 1} ({cell['sent']} sent)")
    finally:
        bot.stop()
        fake.proc.stop()
    cost = first_use_cost()
    print(json.dumps({"first_use_mb": cost}), flush=True)
    return {"steps": steps, "first_use_mb": cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--duration", type=float, default=6.0, help="measured seconds per step")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--pool", type=int, default=4000, help="awaiting requests to accept")
    # Request numbers unused by earlier runs on the same history: submissions repeated would be
    # refused as repeats, and do less work.
    parser.add_argument("--seq-start", type=int, default=(int(time.time()) % 10**6) * 1000)
    args = parser.parse_args()
    asyncio.run(measure(args))


if __name__ == "__main__":
    main()
