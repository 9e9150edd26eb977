"""Running one measured cell: the load generator against an app, and what the fake saw."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import seed
from bench.common import REPO_DIR, Proc, child_env, cpu_seconds, get_json, memory_kb, python

# What each scenario's work looks like at the fake once it is done, and how many calls one
# request makes there: /intro opens a modal then shows suggestions in it; a submission DMs the
# connector and the requester; an Accept sends the requester a notice (and updates both cards).
EFFECT = {
    # The modal opened. Its suggestions (views.update) follow, except when the bot is busy
    # and leaves them out; they are counted apart.
    "intro": ("views.open", 1),
    "submit": ("chat.postMessage", 2),
    "accept": ("chat.postMessage", 1),
}


@dataclass
class Fake:
    proc: Proc
    api_url: str
    stats_url: str

    async def stats(self) -> dict[str, Any]:
        found: dict[str, Any] = await get_json(f"{self.stats_url}/bench/stats")
        return found

    async def reset(self) -> None:
        await get_json(f"{self.stats_url}/bench/reset", method="POST")


async def start_fake(strict: bool, record_sizes: bool = False) -> Fake:
    argv = [python(), "-m", "bench.fake_proc"] + (["--strict"] if strict else [])
    argv += ["--record-sizes"] if record_sizes else []
    proc = Proc("fake_slack", argv)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith("ready "):
                _, api_url, stats_url = line.split()
                return Fake(proc, api_url, stats_url)
        if not proc.alive():
            break
        await asyncio.sleep(0.1)
    raise RuntimeError(f"fake Slack did not start:\n{proc.log_tail()}")


def run_loadgen(
    url: str,
    scenario: str,
    concurrency: int,
    duration: float,
    warmup: float,
    seq_start: int,
    pool_file: Path | None,
    rate: float = 0.0,
    max_requests: int = 0,
) -> dict[str, Any]:
    argv = [
        python(),
        "-m",
        "bench.loadgen",
        "--url",
        url,
        "--scenario",
        scenario,
        "--concurrency",
        str(concurrency),
        "--duration",
        str(duration),
        "--warmup",
        str(warmup),
        "--seq-start",
        str(seq_start),
    ]
    if pool_file is not None:
        argv += ["--pool", str(pool_file)]
    if rate:
        argv += ["--rate", str(rate)]
    if max_requests:
        argv += ["--max-requests", str(max_requests)]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=duration + warmup + 60,
        check=False,
        cwd=str(REPO_DIR),
        env=child_env(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def drain(
    fake: Fake, method: str, expected: int, quiet: float = 30.0, limit: float = 240.0
) -> dict[str, Any]:
    """The fake's counters once `expected` calls of `method` arrived, or nothing arrived for
    `quiet` seconds, or after `limit` seconds: a backlog is waited for, never forever."""
    deadline = time.monotonic() + limit
    last = await fake.stats()
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if int(last["counts"].get(method, 0)) >= expected:
            return last
        await asyncio.sleep(0.2)
        now = await fake.stats()
        if now["counts"] != last["counts"]:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet:
            break
    last["timed_out"] = True
    return last


async def settle(fake: Fake, quiet: float = 1.0, limit: float = 60.0) -> dict[str, Any]:
    """The fake's counters once no call has arrived for `quiet` seconds (at most `limit`)."""
    deadline = time.monotonic() + limit
    last = await fake.stats()
    quiet_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < quiet:
        await asyncio.sleep(0.2)
        now = await fake.stats()
        if now["counts"] != last["counts"]:
            last, quiet_since = now, time.monotonic()
    return last


def db_sessions() -> int:
    """Connections ever opened to introbot_bench (pg_stat_database.sessions, PostgreSQL 14+),
    read over one connection kept for the purpose so reading does not count."""
    global _STATS_CONN
    if _STATS_CONN is None or _STATS_CONN.closed:
        _STATS_CONN = seed.connect()
    row = _STATS_CONN.execute(
        "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
    ).fetchone()
    _STATS_CONN.execute("SELECT pg_stat_clear_snapshot()")
    return int(row[0]) if row else 0


_STATS_CONN: Any = None


async def measure_bot(
    fake: Fake,
    bot: Proc,
    url: str,
    scenario: str,
    concurrency: int,
    duration: float,
    warmup: float,
    seq_start: int,
    pool_file: Path | None,
    profile_to: Path | None = None,
    rate: float = 0.0,
) -> dict[str, Any]:
    """A cell against introbot: acks from the load generator, completed work from the fake."""
    await fake.reset()
    sessions_before = db_sessions()
    cpu_before = cpu_seconds(bot.pid)
    spy = None
    if profile_to is not None:
        from bench import profile

        spy = profile.start(bot.pid, profile_to, duration + warmup)
    result = await asyncio.to_thread(
        run_loadgen, url, scenario, concurrency, duration, warmup, seq_start, pool_file, rate
    )
    method, per_request = EFFECT[scenario]
    acted_on = result["sent"] - result["failed_all"] - result["rejected_all"]
    if scenario == "accept":
        acted_on -= result["stale_presses"]
    seen = await drain(fake, method, acted_on * per_request)
    if scenario == "intro":
        seen = await settle(fake)  # the suggestions that follow the modals
        result["suggestions_shown"] = int(seen["counts"].get("views.update", 0))
    if spy is not None:
        spy.wait(60)
    calls = int(seen["counts"].get(method, 0))
    failed = sum(n for key, n in seen["errors"].items() if key.startswith(method + ":"))
    completed = (calls - failed) / per_request
    last_at = float(seen["last_at"].get(method, result["ended_at"]))
    span = max(1e-6, last_at - result["started_at"])
    result["completed"] = int(completed)
    result["expected"] = acted_on
    result["completion_rate"] = round(completed / span, 1)
    result["work_done_after_load_s"] = round(max(0.0, last_at - result["ended_at"]), 2)
    result["fake_calls"] = seen["counts"]
    result["fake_errors"] = seen["errors"]
    result["db_connections_opened"] = db_sessions() - sessions_before
    cpu = cpu_seconds(bot.pid) - cpu_before
    result["cpu_s"] = round(cpu, 2)
    result["cpu_ms_per_request"] = round(1000 * cpu / completed, 2) if completed else None
    if seen.get("timed_out"):
        result["drain_timed_out"] = True
    result["memory_kb"] = memory_kb(bot.pid)
    return result


def measure_bare(
    proc: Proc,
    url: str,
    scenario: str,
    concurrency: int,
    duration: float,
    warmup: float,
    seq_start: int,
    pool_file: Path | None,
    rate: float = 0.0,
) -> dict[str, Any]:
    cpu_before = cpu_seconds(proc.pid)
    result = run_loadgen(url, scenario, concurrency, duration, warmup, seq_start, pool_file, rate)
    cpu = cpu_seconds(proc.pid) - cpu_before
    result["cpu_s"] = round(cpu, 2)
    result["cpu_ms_per_request"] = round(1000 * cpu / result["sent"], 3) if result["sent"] else None
    return result
