"""CPU of /intro's suggestions for a name, in process on PostgreSQL: the one statement the
form reads them with (`Directory.form_findings`) against the separate reads it replaces
(`suggest_connectors`, then `review_ask` without a connector).

Counted per read: this process's CPU, and the CPU of the PostgreSQL backends serving it
(found by their application_name, read from /proc/<pid>/stat as bench.yardstick reads
them). Rounds alternate A B B A for a name no one is known to know and for one a teammate
knows; the ratio is the one statement's CPU over the separate reads', summed over the
rounds. Needs a seeded database (`bench.run`, or `bench.seed`); it adds one contact.

    python -m bench.intro_reads [--rounds 8] [--requests 300]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from bench.common import DATABASE_URL, TEAM_ID, user_id
from bench.yardstick import TICK, _ticks
from bot.intro.clock import SystemClock
from bot.intro.contacts import ContactInput
from bot.intro.directory import Directory
from storage.db import create_engine_for, make_sessionmaker

APP_NAME = "bench-intro-reads"
REQUESTER = user_id(7)
NAMES = {"no one known": "Nobody Readbench", "one teammate known": "Jane Readbench"}


def backend_ticks(conn: psycopg.Connection[Any]) -> int:
    """CPU ticks so far of the backends serving this benchmark's engine."""
    rows = conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (APP_NAME,)
    ).fetchall()
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return sum(_ticks(int(pid)) or 0 for (pid,) in rows)


async def run(rounds: int, requests: int) -> None:
    separator = "&" if "?" in DATABASE_URL else "?"
    engine = create_engine_for(f"{DATABASE_URL}{separator}application_name={APP_NAME}")
    directory = Directory(make_sessionmaker(engine), SystemClock())
    await directory.add_contact(
        TEAM_ID, user_id(9), ContactInput(NAMES["one teammate known"], "Counting Labs")
    )

    async def apart(name: str) -> None:
        found = await directory.suggest_connectors(TEAM_ID, name, "", exclude=(REQUESTER,))
        await directory.review_ask(TEAM_ID, REQUESTER, "", name, "", suggestions=found, ties=False)

    async def together(name: str) -> None:
        await directory.form_findings(TEAM_ID, REQUESTER, name)

    ways: dict[str, Callable[[str], Awaitable[None]]] = {"apart": apart, "together": together}
    with psycopg.connect(DATABASE_URL.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.autocommit = True
        for known, name in NAMES.items():
            for way in ways.values():  # connections open, statements cached
                for _ in range(50):
                    await way(name)
            spent = {way: [0.0, 0.0] for way in ways}  # app, PostgreSQL seconds
            for round_ in range(rounds):
                way = ["apart", "together", "together", "apart"][round_ % 4]
                app, pg = time.process_time(), backend_ticks(conn)
                for _ in range(requests):
                    await ways[way](name)
                spent[way][0] += time.process_time() - app
                spent[way][1] += (backend_ticks(conn) - pg) / TICK
            each = requests * rounds / 2 / 1000
            print(f"/intro's suggestions, {known}, {rounds} rounds x {requests}:")
            for way, (app, pg) in spent.items():
                print(
                    f"  {way}: app {app / each:.3f} + PostgreSQL {pg / each:.3f}"
                    f" = {(app + pg) / each:.3f} ms of CPU per /intro"
                )
            total = {way: sum(seconds) for way, seconds in spent.items()}
            print(f"  ratio together / apart: {total['together'] / total['apart']:.2f}")
    await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="A B B A ... (a multiple of 4)")
    parser.add_argument("--requests", type=int, default=300, help="per round")
    args = parser.parse_args(argv)
    asyncio.run(run(args.rounds, args.requests))


if __name__ == "__main__":
    main()
