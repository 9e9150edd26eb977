"""EXPLAIN (ANALYZE, BUFFERS) of the queries introbot runs on its hot paths, captured from the
real code (not copied SQL): each operation runs inside a transaction that is rolled back, the
SQL it sends is recorded with its parameters, and each SELECT/UPDATE is then explained (twice,
keeping the second, warm run; inside a transaction that is rolled back, so nothing changes).

Then, for the plans that scan the whole history, the same statements with candidate indexes
created by hand in introbot_bench (and dropped again afterwards): what a migration adding
them would gain.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.common import DATABASE_URL, TEAM_ID
from bench.dispatch import NO_CLIENT, NO_TOKENS, SWEEP_BATCH
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.reminders import Reminders
from bot.intro.attribution import Attribution
from bot.intro.clock import SystemClock
from bot.intro.directory import Directory
from bot.intro.states import Action
from bot.intro.workflow import IntroWorkflow
from storage.db import create_engine_for
from storage.models import IntroRequest, OutboundMessage

Operation = Callable[[async_sessionmaker[AsyncSession]], Awaitable[Any]]

# Candidate indexes: name -> (DDL, the plans it is meant to fix). Those the migrations already
# create (0004: team_status, team_target, team_company; 0005: team_target_surname, which
# replaced the trigram candidate measured in the run before it) are left alone: the benchmark
# creates and drops only the ones missing from the schema it finds.
INDEXES: dict[str, tuple[str, list[str]]] = {
    "ix_intro_requests_team_status": (
        "CREATE INDEX ix_intro_requests_team_status ON intro_requests (team_id, status)",
        # The open asks, before migration 0005's surname index (now in review_ask's statement).
        ["review_ask (submission, before the ack: one statement)"],
    ),
    "ix_intro_requests_team_target": (
        "CREATE INDEX ix_intro_requests_team_target ON intro_requests "
        "(team_id, lower(target_name))",
        ["secondary_connectors (the stalled reminder)"],
    ),
    "ix_intro_requests_team_company": (
        "CREATE INDEX ix_intro_requests_team_company ON intro_requests "
        "(team_id, lower(target_company))",
        ["secondary_connectors (the stalled reminder)"],
    ),
}


async def capture(engine: AsyncEngine, operation: Operation) -> list[tuple[str, Any]]:
    """The statements `operation` sends, run in a transaction that is then rolled back."""
    captured: list[tuple[str, Any]] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool
    ) -> None:
        if not many and statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH")):
            captured.append((statement, parameters))

    async with engine.connect() as connection:
        outer = await connection.begin()
        sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            await operation(sessions)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
            await outer.rollback()
    return captured


async def explain(engine: AsyncEngine, statement: str, parameters: Any) -> str:
    plan = ""
    for _ in range(2):  # keep the warm run
        async with engine.connect() as connection:
            outer = await connection.begin()
            result = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
            )
            plan = "\n".join(str(row[0]) for row in result)
            await outer.rollback()
    return plan


def _inline(statement: str, parameters: Any) -> str:
    """The statement with its parameters written in, for reading."""
    if not isinstance(parameters, dict):
        return statement
    shown = statement
    for key in sorted(parameters, key=len, reverse=True):
        value = parameters[key]
        literal = "NULL" if value is None else repr(value if isinstance(value, int) else str(value))
        shown = shown.replace(f"%({key})s", literal)
    return shown


async def _pick(engine: AsyncEngine) -> dict[str, Any]:
    """Real rows to run the operations on: the busiest rep, an unanswered ask, a due message."""
    async with engine.connect() as connection:
        busiest = (
            await connection.execute(
                text(
                    "SELECT requester_id FROM intro_requests GROUP BY requester_id "
                    "ORDER BY count(*) DESC LIMIT 1"
                )
            )
        ).scalar_one()
        busiest_connector = (
            await connection.execute(
                text(
                    "SELECT connector_id FROM intro_requests WHERE status = 'awaiting_connector' "
                    "GROUP BY connector_id ORDER BY count(*) DESC LIMIT 1"
                )
            )
        ).scalar_one()
        waiting_id = (
            await connection.execute(
                text(
                    "SELECT r.id FROM intro_requests r JOIN outbound_messages m ON "
                    "m.request_id = r.id AND m.kind = 'connector_card' AND m.status = 'sent' "
                    "WHERE r.status = 'awaiting_connector' ORDER BY r.id DESC LIMIT 1"
                )
            )
        ).scalar_one()
        due_reminder = (
            await connection.execute(
                text(
                    "SELECT id FROM outbound_messages WHERE kind = 'reminder' AND "
                    "status = 'pending' AND due_at <= now() ORDER BY id LIMIT 1"
                )
            )
        ).scalar_one_or_none()
    return {
        "busiest": busiest,
        "busiest_connector": busiest_connector,
        "waiting_id": waiting_id,
        "due_reminder": due_reminder,
    }


def operations(picked: dict[str, Any]) -> dict[str, Operation]:
    clock = SystemClock()

    async def claim(sessions: async_sessionmaker[AsyncSession]) -> Any:
        workflow = IntroWorkflow(sessions, clock)
        return await Dispatcher(sessions, NO_CLIENT, clock, workflow, tokens=NO_TOKENS)._claim(
            limit=SWEEP_BATCH
        )

    async def act_accept(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session:
            request = await session.get(IntroRequest, picked["waiting_id"])
            assert request is not None
            connector = request.connector_id
        return await IntroWorkflow(sessions, clock).act(
            TEAM_ID, picked["waiting_id"], connector, Action.ACCEPT
        )

    async def requests_by(sessions: async_sessionmaker[AsyncSession]) -> Any:
        return await IntroWorkflow(sessions, clock).requests_by(TEAM_ID, picked["busiest"])

    async def waiting_on(sessions: async_sessionmaker[AsyncSession]) -> Any:
        return await IntroWorkflow(sessions, clock).waiting_on(TEAM_ID, picked["busiest_connector"])

    async def home_funnel(sessions: async_sessionmaker[AsyncSession]) -> Any:
        return await Attribution(sessions).report(TEAM_ID, picked["busiest"])

    async def secondary(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session:
            request = await session.get(IntroRequest, picked["waiting_id"])
        assert request is not None
        return await IntroWorkflow(sessions, clock).secondary_connectors(request)

    async def review(sessions: async_sessionmaker[AsyncSession]) -> Any:
        async with sessions() as session:
            request = await session.get(IntroRequest, picked["waiting_id"])
        assert request is not None
        return await Directory(sessions, clock).review_ask(
            TEAM_ID,
            request.requester_id,
            request.connector_id,
            request.target_name,
            request.target_company,
        )

    async def superseded(sessions: async_sessionmaker[AsyncSession]) -> Any:
        if picked["due_reminder"] is None:
            return None
        async with sessions() as session:
            message = await session.scalar(
                select(OutboundMessage).where(OutboundMessage.id == picked["due_reminder"])
            )
        assert message is not None
        workflow = IntroWorkflow(sessions, clock)
        return await Reminders(sessions, clock, workflow, None, None).superseded(message)

    return {
        f"claim (Dispatcher._claim, {SWEEP_BATCH} due rows: the sweep's batch)": claim,
        "act: Accept (load, compare-and-set, moot reminders, cards)": act_accept,
        "requests_by (App Home: my requests)": requests_by,
        "waiting_on (App Home: asks waiting on me)": waiting_on,
        "Attribution.report (App Home: my funnel; the busiest rep)": home_funnel,
        "secondary_connectors (the stalled reminder)": secondary,
        "review_ask (submission, before the ack: one statement)": review,
        "Reminders.superseded (each reminder sent)": superseded,
    }


def _is_setup(statement: str) -> bool:
    """The lookups the operations above make to get their arguments, not the paths measured."""
    return (
        "FOR UPDATE" not in statement
        and statement.count("WHERE") == 1
        and (
            "WHERE intro_requests.id = %(pk_1)s" in statement
            or "WHERE outbound_messages.id = %(id_1)s" in statement
        )
    )


async def run_all(create_indexes: bool = True) -> dict[str, Any]:
    engine = create_engine_for(DATABASE_URL)
    plans: dict[str, dict[str, Any]] = {}
    with_index: dict[str, dict[str, Any]] = {}
    try:
        in_schema = sorted(await existing_indexes(engine))
        picked = await _pick(engine)
        captured: dict[str, list[tuple[str, Any]]] = {}
        for name, operation in operations(picked).items():
            statements = await capture(engine, operation)
            kept = [s for s in statements if not _is_setup(s[0])]
            captured[name] = kept
            for index, (statement, parameters) in enumerate(kept, start=1):
                key = name if len(kept) == 1 else f"{name} [{index}/{len(kept)}]"
                plan = await explain(engine, statement, parameters)
                plans[key] = {
                    "sql": _inline(statement, parameters),
                    "plan": plan,
                    "ms": _execution_ms(plan),
                }
        if create_indexes:
            with_index = await _with_indexes(engine, captured)
    finally:
        await engine.dispose()
    return {
        "indexes_in_schema": in_schema,
        "picked": {k: str(v) for k, v in picked.items()},
        "plans": plans,
        "with_index": with_index,
    }


async def _with_indexes(
    engine: AsyncEngine, captured: dict[str, list[tuple[str, Any]]]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    created = await create_indexes(engine)
    try:
        targets = {op for index in created for op in INDEXES[index][1]}
        for name in sorted(targets):
            for statement, parameters in captured.get(name, []):
                plan = await explain(engine, statement, parameters)
                found[name] = {
                    "index": "; ".join(
                        INDEXES[index][0] for index in created if name in INDEXES[index][1]
                    ),
                    "plan": plan,
                    "ms": _execution_ms(plan),
                }
    finally:
        await drop_indexes(created, engine)
    return found


async def existing_indexes(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT indexname FROM pg_indexes WHERE tablename = 'intro_requests'")
        )
        return {str(row[0]) for row in rows}


async def create_indexes(engine: AsyncEngine | None = None) -> list[str]:
    """Create the candidate indexes the schema lacks; the names of those created."""
    own = engine is None
    engine = engine or create_engine_for(DATABASE_URL)
    present = await existing_indexes(engine)
    created = [name for name in INDEXES if name not in present]
    async with engine.begin() as connection:
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        await connection.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
        for name in created:
            await connection.execute(text(INDEXES[name][0]))
        await connection.execute(text("ANALYZE intro_requests"))
    if own:
        await engine.dispose()
    return created


async def drop_indexes(names: list[str], engine: AsyncEngine | None = None) -> None:
    """Drop the indexes `create_indexes` created (never one the migrations made)."""
    own = engine is None
    engine = engine or create_engine_for(DATABASE_URL)
    async with engine.begin() as connection:
        for name in names:
            await connection.execute(text(f"DROP INDEX IF EXISTS {name}"))
    if own:
        await engine.dispose()


def _execution_ms(plan: str) -> float:
    for line in plan.splitlines():
        if line.strip().startswith("Execution Time:"):
            return float(line.split(":")[1].split()[0])
    return 0.0


def main() -> None:
    """EXPLAIN the hot-path queries again on the database a run left:
    `python -m bench.explain` (writes bench/results/runs/explain.json)."""
    import json

    from bench.common import RESULTS_DIR

    found = asyncio.run(run_all(create_indexes=False))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "explain.json").write_text(json.dumps(found, indent=2))
    for name, plan in found["plans"].items():
        print(f"{plan['ms']:9.3f} ms  {name}")


if __name__ == "__main__":
    main()
