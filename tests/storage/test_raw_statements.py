"""The hot statements sent through psycopg directly on PostgreSQL: SQLAlchemy renders them once
(casts, bind and result types), psycopg runs them with `$n` placeholders, and they behave as
they did through SQLAlchemy: rows read by name, errors as SQLAlchemy's, a dead connection
dropped from the pool."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import String, bindparam, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.intro.clock import ManualClock
from bot.intro.directory import _REVIEW, Directory
from bot.intro.states import Action
from bot.intro.workflow import IntroWorkflow, Lease
from storage.db import (
    Lent,
    array_literal,
    async_url,
    autocommit,
    create_engine_for,
    execute_raw,
    make_sessionmaker,
    one_statement,
    raw_statement,
    sync_url,
)
from storage.models import UTCDateTime
from tests.bot.intro.test_workflow import CARLOS, TEAM, draft
from tests.conftest import POSTGRES_URL, needs_postgres

pytestmark = needs_postgres


@pytest.fixture
async def engine() -> AsyncIterator[AsyncEngine]:
    found = create_engine_for(POSTGRES_URL)
    yield found
    await found.dispose()


_SOME = text(
    "SELECT :when AS at, CAST(:when AS timestamptz) AS raw_at, :name AS name, "
    "'50%' AS literal, :name || '!' AS again, 'b' IN :names AS listed, "
    "'z' NOT IN :names AS unlisted"
).bindparams(
    bindparam("when", type_=UTCDateTime()), bindparam("names", type_=String(), expanding=True)
)


async def test_a_statement_is_rendered_once_with_positional_parameters(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
        (row,) = await execute_raw(connection, _SOME, {"when": when, "name": "a", "names": ["b"]})
    raw = raw_statement(_SOME, engine.dialect)
    assert raw is raw_statement(_SOME, engine.dialect)  # rendered once
    sql, _ = raw.texts((1,))
    assert sql is raw.texts((1,))[0]  # once for each length of the list
    assert [sql.count(f"${n}".encode()) for n in (1, 2, 3, 4)] == [2, 2, 2, 0]  # by name
    assert b"'b' IN ($3)" in sql and b"'z' NOT IN ($3)" in sql
    # A list's elements each take a placeholder, as SQLAlchemy renders them: prepared so, the
    # statement gets a generic plan, which PostgreSQL did not find for `= ANY($3)`.
    assert b"IN ($3, $4, $5)" in raw.texts((3,))[0]
    assert row.at == when and row["raw_at"] == when and row[2] == "a"
    assert (row.literal, row.again, row.listed, row.unlisted) == ("50%", "a!", True, True)


async def test_typed_result_columns_come_back_as_through_sqlalchemy(engine: AsyncEngine) -> None:
    """`_REVIEW`'s UTCDateTime columns are aware UTC timestamps; an empty expanding list
    matches nothing, as SQLAlchemy's rendering of it does."""
    typed = text("SELECT now() AS confirmed_at, 'x' IN :names AS listed").columns(
        confirmed_at=UTCDateTime()
    )
    typed = typed.bindparams(bindparam("names", type_=String(), expanding=True))
    async with engine.connect() as connection:
        (row,) = await execute_raw(connection, typed, {"names": []})
    assert row.confirmed_at.tzinfo is UTC
    assert row.listed is False
    assert raw_statement(_REVIEW, engine.dialect).results  # its timestamps are converted


_ARRAYS = text(
    "SELECT CAST(:texts AS text[]) AS texts, CAST(:ints AS integer[]) AS ints, "
    "CAST(:ats AS timestamptz[]) AS ats, CAST(:none AS text[]) AS none"
)


async def test_an_array_sent_as_one_literal_reads_back_as_the_list(engine: AsyncEngine) -> None:
    texts = ['say "hi"', "back\\slash", None, "", "NULL", "{a,b}", " padded ", "naïve", "it's\n"]
    at = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    async with engine.connect() as connection:
        (row,) = await execute_raw(
            connection,
            _ARRAYS,
            {
                "texts": array_literal(texts),
                "ints": array_literal([1, -22, None]),
                "ats": array_literal([at.isoformat(), None]),
                "none": array_literal([]),
            },
        )
    assert row.texts == texts
    assert row.ints == [1, -22, None]
    assert row.ats == [at, None]
    assert row.none == []


async def test_a_unique_violation_surfaces_as_sqlalchemys_integrity_error(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        await execute_raw(connection, text("CREATE TEMP TABLE t (id int PRIMARY KEY)"), {})
        insert = text("INSERT INTO t VALUES (:id)")
        await execute_raw(connection, insert, {"id": 1})
        with pytest.raises(IntegrityError):
            await execute_raw(connection, insert, {"id": 1})


async def _pids(engine: AsyncEngine, count: int) -> list[int]:
    """The backends of `count` connections, all then back in the pool."""
    async with contextlib.AsyncExitStack() as stack:
        connections = [await stack.enter_async_context(engine.connect()) for _ in range(count)]
        return [
            (await execute_raw(c, text("SELECT pg_backend_pid() AS pid"), {}))[0].pid
            for c in connections
        ]


def _terminate(pids: list[int]) -> None:
    admin = create_engine(sync_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as killer:
        for pid in pids:
            killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


async def test_a_dead_connection_is_invalidated_with_the_pool(engine: AsyncEngine) -> None:
    """As through SQLAlchemy: the statement that finds its connection dead fails, and
    neither it nor the pool's other connections (a restart took them too) are lent again."""
    pids = await _pids(engine, 2)
    _terminate(pids)  # a restart, while both sat in the pool
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as failed:
            await execute_raw(connection, text("SELECT 1 AS one"), {})
        assert failed.value.connection_invalidated
        assert connection.invalidated
    for _ in range(2):
        async with engine.connect() as connection:
            (row,) = await execute_raw(connection, text("SELECT pg_backend_pid() AS pid"), {})
        assert row.pid not in pids


async def test_a_statement_cancelled_midway_leaves_its_connection_out_of_the_pool(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        running = asyncio.create_task(
            execute_raw(connection, text("SELECT pg_sleep(5) AS slept"), {})
        )
        await asyncio.sleep(0.3)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert connection.invalidated


async def test_a_statement_runs_in_the_callers_transaction(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        outer = await connection.begin()
        await execute_raw(connection, text("CREATE TABLE raw_t (id int)"), {})
        await outer.rollback()
        (row,) = await execute_raw(
            connection, text("SELECT to_regclass('raw_t') IS NULL AS gone"), {}
        )
    assert row.gone


async def test_the_hot_statements_bypass_sqlalchemys_execute(database_url: str) -> None:
    """A submission, an Accept, a review and the form's findings each send their one
    statement through psycopg: SQLAlchemy's `Connection.execute` (its `before_execute`) is
    not involved, while a statement counter listening on the engine still sees each one."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite keeps SQLAlchemy's path")
    engine = create_engine_for(database_url)
    clock = ManualClock()
    sessions = make_sessionmaker(engine)
    workflow = IntroWorkflow(sessions, clock)
    directory = Directory(sessions, clock)
    lease = Lease("me", clock.now() + timedelta(seconds=30))
    executed: list[object] = []
    sent: list[str] = []

    def before_execute(_conn: object, clause: object, *_rest: object) -> None:
        executed.append(clause)

    def before_cursor_execute(_conn: object, _cur: object, statement: str, *_rest: object) -> None:
        sent.append(statement)

    event.listen(engine.sync_engine, "before_execute", before_execute)
    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        submitted = await workflow.submit(TEAM, draft(), [], lease=lease)
        assert (len(executed), len(sent)) == (0, 1)
        await workflow.act(TEAM, submitted.request.id, CARLOS, Action.ACCEPT, lease=lease)
        assert (len(executed), len(sent)) == (0, 2)
        async with autocommit(sessions) as connection:
            (row,) = await execute_raw(
                connection,
                text("SELECT status FROM intro_requests WHERE id = :id"),
                {"id": submitted.request.id},
            )
        assert row.status == "checking_with_target"
        executed.clear()
        sent.clear()
        rows = await directory._review_rows(TEAM, CARLOS, "Jane Doe", "Acme", clock.now())
        await directory.form_findings(TEAM, "U1", "Jane Doe", "Acme")
        assert (len(executed), len(sent)) == (0, 2)
    finally:
        event.remove(engine.sync_engine, "before_execute", before_execute)
        event.remove(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
        await engine.dispose()
    assert rows


@pytest.fixture
async def one_connection() -> AsyncIterator[AsyncEngine]:
    """A pool of one, so each borrower gets the connection the last one gave back."""
    found = create_async_engine(async_url(POSTGRES_URL), pool_size=1, max_overflow=0)
    yield found
    await found.dispose()


async def test_a_lent_connection_commits_each_statement_and_goes_back_for_transactions(
    one_connection: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(one_connection)
    async with one_statement(sessions) as lent:
        assert isinstance(lent, Lent)
        await execute_raw(lent, text("CREATE TABLE lent_t (id int)"), {})
        await execute_raw(lent, text("INSERT INTO lent_t VALUES (1)"), {})
    try:
        # Committed, each on its own: another connection sees them.
        async with autocommit(make_sessionmaker(create_engine_for(POSTGRES_URL))) as other:
            (row,) = await execute_raw(other, text("SELECT count(*) AS n FROM lent_t"), {})
            assert row.n == 1
            await other.engine.dispose()
        # The same connection, back out of autocommit: a session's rollback undoes its work.
        async with sessions() as session:
            await session.execute(text("INSERT INTO lent_t VALUES (2)"))
            await session.rollback()
        async with one_statement(sessions) as lent:
            (row,) = await execute_raw(lent, text("SELECT count(*) AS n FROM lent_t"), {})
        assert row.n == 1
        assert one_connection.sync_engine.pool.checkedout() == 0
    finally:
        async with one_statement(sessions) as lent:
            await execute_raw(lent, text("DROP TABLE lent_t"), {})


async def test_connections_lent_past_the_pool_size_are_closed_on_their_return() -> None:
    engine = create_async_engine(async_url(POSTGRES_URL), pool_size=1, max_overflow=2)
    sessions = make_sessionmaker(engine)
    drivers = []
    try:
        async with contextlib.AsyncExitStack() as lending:
            for _ in range(3):
                lent = await lending.enter_async_context(one_statement(sessions))
                assert isinstance(lent, Lent)
                await execute_raw(lent, text("SELECT 1 AS one"), {})
                drivers.append(lent.driver)
            assert engine.sync_engine.pool.checkedout() == 3
        # Given back last first: the last fills the pool, the two after it are closed.
        assert [driver.closed for driver in drivers] == [True, True, False]
        assert engine.sync_engine.pool.checkedout() == 0
        async with one_statement(sessions) as lent:
            (row,) = await execute_raw(lent, text("SELECT 1 AS one"), {})
        assert row.one == 1
    finally:
        await engine.dispose()


async def test_a_lent_connection_found_dead_is_dropped_with_the_pool(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    pids = await _pids(engine, 2)
    _terminate(pids)
    with pytest.raises(DBAPIError) as failed:
        async with one_statement(sessions) as lent:
            await execute_raw(lent, text("SELECT 1 AS one"), {})
    assert failed.value.connection_invalidated
    for _ in range(2):
        async with one_statement(sessions) as lent:
            (row,) = await execute_raw(lent, text("SELECT pg_backend_pid() AS pid"), {})
        assert row.pid not in pids
    assert engine.sync_engine.pool.checkedout() == 0


async def test_a_lent_connection_cancelled_midway_is_not_lent_again(
    one_connection: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(one_connection)
    async with one_statement(sessions) as lent:
        (before,) = await execute_raw(lent, text("SELECT pg_backend_pid() AS pid"), {})

    async def sleep() -> None:
        async with one_statement(sessions) as lent:
            await execute_raw(lent, text("SELECT pg_sleep(5) AS slept"), {})

    running = asyncio.create_task(sleep())
    await asyncio.sleep(0.3)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    async with one_statement(sessions) as lent:
        (after,) = await execute_raw(lent, text("SELECT pg_backend_pid() AS pid"), {})
    assert after.pid != before.pid
    assert one_connection.sync_engine.pool.checkedout() == 0


async def test_a_unique_violation_on_a_lent_connection_leaves_it_usable(
    one_connection: AsyncEngine,
) -> None:
    sessions = make_sessionmaker(one_connection)
    with pytest.raises(IntegrityError):
        async with one_statement(sessions) as lent:
            await execute_raw(
                lent,
                text(
                    "CREATE TEMP TABLE lent_u (id int PRIMARY KEY);"
                    " INSERT INTO lent_u VALUES (1), (1)"
                ),
                {},
            )
    async with one_statement(sessions) as lent:
        (row,) = await execute_raw(lent, text("SELECT 1 AS one"), {})
    assert row.one == 1
    assert one_connection.sync_engine.pool.checkedout() == 0


async def test_statement_listeners_see_one_statement_work_through_sqlalchemy(
    engine: AsyncEngine,
) -> None:
    """A benchmark's or a test's counter on the engine is handed SQLAlchemy's Connection, as
    it expects, instead of a bare lent one."""
    seen: list[object] = []

    def before_cursor_execute(conn: object, *_rest: object) -> None:
        seen.append(conn)

    event.listen(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        async with one_statement(make_sessionmaker(engine)) as connection:
            assert not isinstance(connection, Lent)
            await execute_raw(connection, text("SELECT 1 AS one"), {})
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    assert len(seen) == 1
