"""A request's own path in one process, without HTTP, Bolt or the event loop's other work.

`python -m bench.in_process accept 400` submits that many requests (plus 50 to warm up), then
times pressing Accept on each: the workflow's change (`IntroWorkflow.act`) and the
dispatcher's sends (`Dispatcher.deliver_outcome`), against a Slack client that answers at
once. `submit 400` times `IntroWorkflow.submit` alone (the request's statement, no sends).
It prints the CPU per request of this process (`time.process_time`) and of its PostgreSQL
backends (`/proc/<pid>/stat`, found by `application_name`), on the benchmark's database
(`BENCH_DATABASE_URL`; the requests go to a team of their own). For an A/B, run it in two
checkouts in turn (A B B A); for where the CPU goes, under py-spy
(`py-spy record -o out.txt --format raw -- python -m bench.in_process accept 1500`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any

import psycopg

from bench.common import DATABASE_URL

APP_NAME = f"bench-in-process-{os.getpid()}"
TEAM = "T0INPROCESS"
WARM_UP = 50


class AnsweringSlack:
    """The Web API calls the dispatcher makes, answered at once."""

    token = "xoxb-in-process"

    def __init__(self) -> None:
        self.posted = 0

    async def chat_postMessage(self, **kwargs: Any) -> dict[str, Any]:  # noqa: N802 - slack_sdk's
        self.posted += 1
        return {"ok": True, "channel": "D" + kwargs["channel"], "ts": f"1.{self.posted}"}

    async def chat_update(self, **kwargs: Any) -> dict[str, Any]:
        return {"ok": True, "channel": kwargs["channel"], "ts": kwargs["ts"]}


def backends_cpu_ms() -> float:
    """CPU spent so far by this process's PostgreSQL backends."""
    ticks = 0
    with psycopg.connect(DATABASE_URL) as conn:
        pids = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
        ).fetchall()
    for (pid,) in pids:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


async def run(kind: str, count: int) -> dict[str, float]:
    os.environ["PGAPPNAME"] = APP_NAME
    from bot.delivery.dispatcher import Dispatcher
    from bot.intro.clock import SystemClock
    from bot.intro.people import Teammate
    from bot.intro.states import Action
    from bot.intro.validation import RequestDraft
    from bot.intro.workflow import IntroWorkflow
    from storage.db import create_engine_for, make_sessionmaker

    engine = create_engine_for(DATABASE_URL)
    workflow = IntroWorkflow(make_sessionmaker(engine), SystemClock())
    dispatcher = Dispatcher(
        make_sessionmaker(engine), AnsweringSlack(), SystemClock(), workflow, owner="in-process"
    )
    run_id = f"{os.getpid()}x{time.time_ns()}"

    async def submit(i: int) -> tuple[int, str]:
        draft = RequestDraft(
            requester=Teammate(f"UR{i % 37}", "Riya Patel"),
            connector=Teammate(f"UC{i % 41}", "Carlos Mendes"),
            target_name=f"Jane Doe{run_id}n{i}",
            target_company="Acme Logistics",
            reason="Acme is opening EU warehouses; we cut customs delays by a third.",
            blurb="Hi Jane, I'm Riya. We help teams like Acme cut customs delays by a third."
            " Would you be open to a 15-minute call next week?",
        )
        outcome = await workflow.submit(TEAM, draft, [], lease=dispatcher.lease())
        if kind == "accept":
            await dispatcher.deliver_outcome(outcome)
        return outcome.request.id, outcome.request.connector_id

    async def accept(request_id: int, connector_id: str) -> None:
        outcome = await workflow.act(
            TEAM, request_id, connector_id, Action.ACCEPT, lease=dispatcher.lease()
        )
        await dispatcher.deliver_outcome(outcome)

    try:
        if kind == "submit":
            for i in range(WARM_UP):
                await submit(i)
            before, started = backends_cpu_ms(), time.process_time()
            for i in range(WARM_UP, WARM_UP + count):
                await submit(i)
        else:
            asked = [await submit(i) for i in range(WARM_UP + count)]
            for request_id, connector_id in asked[:WARM_UP]:
                await accept(request_id, connector_id)
            before, started = backends_cpu_ms(), time.process_time()
            for request_id, connector_id in asked[WARM_UP:]:
                await accept(request_id, connector_id)
        app_ms = (time.process_time() - started) * 1000 / count
        pg_ms = (backends_cpu_ms() - before) / count
    finally:
        await engine.dispose()
    return {"app_ms": round(app_ms, 3), "postgres_ms": round(pg_ms, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("accept", "submit"))
    parser.add_argument("count", type=int, nargs="?", default=400)
    args = parser.parse_args()
    print(json.dumps({"kind": args.kind, **asyncio.run(run(args.kind, args.count))}))


if __name__ == "__main__":
    main()
