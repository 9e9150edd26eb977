"""`/intro stats` and the CRM export over the whole history a benchmark run left.

`python -m bench.stats` builds the workspace funnel (what `/intro stats` shows) and then the
CSV export, each over every request in `introbot_bench`, and prints the time, the CPU time and
the process's peak RSS after each. They run after the ack, so they never hold up Slack; this is
how long a user waits for the answer, and what it costs the process.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.common import DATABASE_URL, RESULTS_DIR, TEAM_ID
from bot.intro.attribution import Attribution
from storage.db import create_engine_for, make_sessionmaker


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _timed(name: str, work: Callable[[], Awaitable[Any]]) -> tuple[dict[str, Any], Any]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = await work()
    return {
        "what": name,
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "peak_rss_mb_after": round(_peak_mb()),
    }, result


async def measure() -> dict[str, Any]:
    engine = create_engine_for(DATABASE_URL)
    attribution = Attribution(make_sessionmaker(engine))
    found: dict[str, Any] = {"peak_rss_mb_at_start": round(_peak_mb())}
    try:
        stats, report = await _timed(
            "/intro stats (the workspace funnel)", lambda: attribution.report(TEAM_ID)
        )
        export, csv_text = await _timed(
            "CRM export (CSV of every request)", lambda: attribution.export_csv(TEAM_ID, {})
        )
        found["requests"] = report.workspace.counts["requested"]
        found["export_mb"] = round(len(csv_text) / 1e6, 1)
        found["runs"] = [stats, export]
    finally:
        await engine.dispose()
    return found


def main() -> None:
    found = asyncio.run(measure())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "stats.json").write_text(json.dumps(found, indent=2))
    print(f"{found['requests']:,} requests; peak RSS at start {found['peak_rss_mb_at_start']} MB")
    for run in found["runs"]:
        print(
            f"  {run['what']}: {run['wall_s']} s ({run['cpu_s']} s CPU), "
            f"peak RSS {run['peak_rss_mb_after']} MB"
        )


if __name__ == "__main__":
    main()
