"""Does the same-work app do introbot's work? Both apps' Slack calls and writes, compared.

`python -m bench.verify [--requests N]` serves `introbot serve` and `bench.same_work` on one
database, each against a fake Slack of its own (`bench.fake_proc --record-sizes`), sends both
the same kinds of request one at a time, side by side (`/intro`, a submission, an Accept on a
seeded awaiting request), and records per request kind:

- the Slack calls, per method: how many per request, and the mean size of their arguments as
  compact JSON;
- the rows written, per table and operation (INSERT, UPDATE, DELETE), counted by a row
  trigger this check installs on every table of the database it is given.

It fails (exit status 1) if the apps differ in which methods they call or how often, if a
method's payloads differ by more than 3 % in size, or if the rows written to a table differ by
more than 3 %. tests/bench runs it; `bench.run` trusts what it checked.

The database is `BENCH_DATABASE_URL` (default `introbot_bench`): its tables are dropped and
migrated again, so never point it at data you keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import loadgen, seed
from bench.cells import EFFECT, Fake, drain, settle, start_fake
from bench.common import APP_NAMES, RESULTS_DIR, Proc

SCENARIOS = ("intro", "submit", "accept")
TOLERANCE = 0.03

TRIGGERS = """
CREATE TABLE bench_writes (tbl text NOT NULL, op text NOT NULL, app text NOT NULL);
CREATE FUNCTION bench_log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO bench_writes VALUES (TG_TABLE_NAME, TG_OP, current_setting('application_name'));
    RETURN NULL;
END $$;
"""


def reset_schema() -> None:
    """Every table dropped, then migrated to head, then a write counter on every table."""
    with seed.connect() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        if tables:
            conn.execute("DROP TABLE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
        conn.execute("DROP FUNCTION IF EXISTS bench_log_write() CASCADE")
    seed.migrate()
    with seed.connect() as conn:
        conn.execute(TRIGGERS)
        for (table,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('bench_writes', 'alembic_version')"
        ).fetchall():
            conn.execute(
                f'CREATE TRIGGER bench_log AFTER INSERT OR UPDATE OR DELETE ON "{table}"'
                " FOR EACH ROW EXECUTE FUNCTION bench_log_write()"
            )


def _writes(conn: psycopg.Connection[Any], app: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT tbl || ' ' || op, count(*) FROM bench_writes WHERE app = %s GROUP BY 1 ORDER BY 1",
        (app,),
    ).fetchall()
    return {key: int(n) for key, n in rows}


async def _quiet_writes(app: str, quiet: float = 0.5) -> dict[str, int]:
    """An app's write counts once they stop changing for `quiet` seconds (at most 30 s)."""
    with seed.connect() as conn:
        last, since = _writes(conn, app), time.monotonic()
        deadline = since + 30
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            now = _writes(conn, app)
            if now != last:
                last, since = now, time.monotonic()
        return last


@dataclass
class Side:
    """One app under check: its fake Slack, its URL, its connections' application_name."""

    name: str
    fake: Fake
    url: str
    app: str
    seq_start: int
    pool_file: Path


async def _send(side: Side, scenario: str, requests: int, seq_start: int) -> dict[str, Any]:
    # The load generator's own code, in this process: the requests are few, one at a time.
    sent = await loadgen.run(
        argparse.Namespace(
            url=side.url,
            scenario=scenario,
            concurrency=1,
            duration=60.0,
            warmup=0.0,
            max_requests=requests,
            rate=0.0,
            seq_start=seq_start,
            pool=str(side.pool_file),
            intro_text="name",
        )
    )
    method, per_request = EFFECT[scenario]
    await drain(side.fake, method, requests * per_request, quiet=10.0, limit=60.0)
    sent["seen"] = await settle(side.fake, quiet=0.5)
    sent["writes"] = await _quiet_writes(side.app)
    return sent


async def record(sides: list[Side], scenario: str, requests: int) -> list[dict[str, Any]]:
    """Each app's Slack calls and writes per request of one kind, `requests` sent in turn,
    after one unrecorded (a first request may do one-off work, such as reading the team's
    directory). The apps run side by side, each on a fake of its own."""
    await asyncio.gather(*(_send(side, scenario, 1, side.seq_start) for side in sides))
    with seed.connect() as conn:
        conn.execute("TRUNCATE bench_writes")
    await asyncio.gather(*(side.fake.reset() for side in sides))
    done = await asyncio.gather(
        *(_send(side, scenario, requests, side.seq_start + 1) for side in sides)
    )
    for side in sides:
        side.seq_start += requests + 1
    return [_per_request(sent) for sent in done]


def _per_request(sent: dict[str, Any]) -> dict[str, Any]:
    n = max(1, int(sent["sent"]))
    seen = sent["seen"]
    counts = seen["counts"]
    return {
        "sent": sent["sent"],
        "refused": sent["rejected_all"] + sent["failed_all"],
        "errors": seen["errors"],
        "calls": {m: round(c / n, 3) for m, c in sorted(counts.items())},
        "bytes": {m: round(seen["sizes"].get(m, 0) / c, 1) for m, c in sorted(counts.items()) if c},
        "rows": {key: round(c / n, 3) for key, c in sent["writes"].items()},
        "examples": seen.get("examples", {}),
    }


def _off(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b)) if max(abs(a), abs(b)) else 0.0


def differences(ours: dict[str, Any], same: dict[str, Any]) -> list[str]:
    """What differs by more than TOLERANCE between introbot's record and the same-work app's."""
    found = []
    if ours["refused"] or same["refused"] or ours["errors"] or same["errors"]:
        found.append(
            f"refused or failed: introbot {ours['refused']} {ours['errors']},"
            f" same-work {same['refused']} {same['errors']}"
        )
    for what in ("calls", "bytes", "rows"):
        for key in sorted(set(ours[what]) | set(same[what])):
            a, b = ours[what].get(key, 0.0), same[what].get(key, 0.0)
            if _off(a, b) > TOLERANCE:
                found.append(f"{what} {key}: introbot {a}, same-work {b}")
    return found


async def verify(requests: int) -> dict[str, Any]:
    from bench.run import start_bot, start_same_work

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fakes = asyncio.gather(*(start_fake(False, record_sizes=True) for _ in range(2)))
    reset_schema()
    with seed.connect() as conn:
        ids = seed.seed_requests(conn, 2 * (requests + 1), pool=True)
        seed.finish(conn)
        pool = seed.pool_rows(conn, ids)
    half = len(pool) // 2
    pools = {}
    for name, part in (("introbot", pool[:half]), ("same_work", pool[half:])):
        pools[name] = RESULTS_DIR / f"verify-pool-{name}.json"
        pools[name].write_text(json.dumps(part))
    ours_fake, same_fake = await fakes
    procs: list[Proc] = [ours_fake.proc, same_fake.proc]
    found: dict[str, Any] = {}
    try:
        (bot, bot_url), (same, same_url) = await asyncio.gather(
            start_bot("verify_introbot", ours_fake.api_url),
            start_same_work(same_fake.api_url, name="verify_same_work"),
        )
        procs += [bot, same]
        sides = [
            Side("introbot", ours_fake, bot_url, APP_NAMES["introbot"], 0, pools["introbot"]),
            Side("same_work", same_fake, same_url, APP_NAMES["same_work"], 1_000_000,
                 pools["same_work"]),
        ]  # fmt: skip
        for scenario in SCENARIOS:
            # The same /intro texts (an /intro only reads), other submitters (an ask open
            # already would be refused), a pool of awaiting requests each.
            sides[0].seq_start = 0
            sides[1].seq_start = 1_000_000 if scenario == "submit" else 0
            ours, theirs = await record(sides, scenario, requests)
            found[scenario] = {
                "introbot": ours,
                "same_work": theirs,
                "differences": differences(ours, theirs),
            }
    finally:
        for proc in reversed(procs):
            proc.stop()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=10, help="requests of each kind")
    args = parser.parse_args(argv)
    found = asyncio.run(verify(args.requests))
    out = RESULTS_DIR / "verify.json"
    out.write_text(json.dumps(found, indent=1))  # with each method's first payloads
    for cell in found.values():
        for side in ("introbot", "same_work"):
            cell[side].pop("examples", None)
    print(json.dumps(found, indent=1))
    print(f"wrote {out}")
    bad = {scenario: cell["differences"] for scenario, cell in found.items() if cell["differences"]}
    for scenario, lines in bad.items():
        for line in lines:
            print(f"DIFFERS {scenario}: {line}", file=sys.stderr)
    if not bad:
        print("the same-work app makes introbot's Slack calls and writes, within 3 %")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
