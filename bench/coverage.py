"""Coverage of a long account list against a large workspace: `python -m bench.coverage`.

Seeds a workspace with `--contacts` contacts (100,000) among 200 teammates, spread over 20,000
companies of which the list's `--accounts` (500) hold a fifth, 5,000 intro requests, and a
rep's list of those accounts; then times `Accounts.coverage` for that list a few times and
prints each run and the median. A benchmark, not a test: the target is under a second.

The database is a new SQLite file by default; `--database-url` names another (it is migrated
and the workspace `TBENCHCOV` in it replaced).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert

from bot.intro.accounts import AccountInput, Accounts
from bot.intro.clock import ManualClock
from bot.intro.matching import company_key, name_key, surname_key
from bot.intro.states import Status
from storage.db import create_engine_for, make_sessionmaker
from storage.migrate import upgrade_to_head
from storage.models import Contact, IntroRequest, TargetAccount

TEAM = "TBENCHCOV"
REP = "UBENCHREP"
TEAMMATES = 200
COMPANIES = 20_000
REQUESTS = 5_000
BATCH = 5_000


def _company(n: int) -> str:
    return f"Company {n:05d} Inc."


async def seed(database_url: str, contacts: int, accounts: int) -> Accounts:
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    rng = random.Random(7)
    async with sessions.begin() as session:
        for table in (Contact, IntroRequest, TargetAccount):
            await session.execute(delete(table).where(table.team_id == TEAM))
    rows = []
    for n in range(contacts):
        # A fifth of the contacts work at an account on the list.
        firm = rng.randrange(accounts) if rng.random() < 0.2 else rng.randrange(COMPANIES)
        name = f"Person{n} Surname{n % 977}"
        linkedin = rng.random() < 0.7
        rows.append(
            {
                "team_id": TEAM,
                "owner_id": f"UBENCH{rng.randrange(TEAMMATES):04d}",
                "identity_key": f"{n}",
                "name": name,
                "name_key": name_key(name),
                "surname_key": surname_key(name_key(name)),
                "company": _company(firm),
                "company_key": company_key(_company(firm)),
                "closeness": rng.choice(("close", "know_well", "met_once")),
                "since": date(2010, 1, 1) + timedelta(days=rng.randrange(5000)),
                "source": "linkedin" if linkedin else "manual",
                "confirmed_at": None if linkedin else now,
                "created_at": now,
                "updated_at": now,
            }
        )
    requests = [
        {
            "team_id": TEAM,
            "requester_id": REP,
            "connector_id": f"UBENCH{rng.randrange(TEAMMATES):04d}",
            "target_name": f"Target {n}",
            "target_company": _company(rng.randrange(accounts * 2)),
            "reason": "",
            "blurb": "",
            "status": rng.choice((Status.AWAITING_CONNECTOR, Status.INTRO_MADE, Status.CLOSED)),
            "created_at": now,
            "updated_at": now,
        }
        for n in range(REQUESTS)
    ]
    async with sessions.begin() as session:
        for start in range(0, len(rows), BATCH):
            await session.execute(insert(Contact), rows[start : start + BATCH])
        await session.execute(insert(IntroRequest), requests)
    service = Accounts(sessions, ManualClock(now))
    await service.add(TEAM, REP, [AccountInput(_company(n)) for n in range(accounts)], REP)
    return service


async def measure(database_url: str, contacts: int, accounts: int, runs: int) -> list[float]:
    service = await seed(database_url, contacts, accounts)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        coverage = await service.coverage(TEAM, [REP], viewer_id=REP)
        timings.append(time.perf_counter() - started)
    print(f"{coverage.with_way_in} of {coverage.total} accounts have a way in")
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = options.database_url or f"sqlite:///{Path(scratch) / 'coverage.db'}"
        upgrade_to_head(url)
        timings = asyncio.run(measure(url, options.contacts, options.accounts, options.runs))
    for n, seconds in enumerate(timings, start=1):
        print(f"run {n}: {seconds * 1000:.0f} ms")
    print(
        f"coverage of {options.accounts} accounts against {options.contacts} contacts: "
        f"median {statistics.median(timings) * 1000:.0f} ms (target: under 1000 ms)"
    )


if __name__ == "__main__":
    main()
