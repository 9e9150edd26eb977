"""Engines and sessions for SQLite (embedded default) and PostgreSQL, from one URL."""

from __future__ import annotations

import contextlib
import functools
import re
import time
import weakref
from collections import namedtuple
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import psycopg
from sqlalchemy import TextClause, TextualSelect, event
from sqlalchemy.engine import URL, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util.concurrency import greenlet_spawn

SQLITE_BUSY_TIMEOUT_MS = 5000
POOL_TIMEOUT_S = 2.0
# A connection idle in the pool this long is checked before it is lent (see _ping_if_idle).
PING_AFTER_IDLE_S = 10.0


def _driver_url(url: str, *, asynchronous: bool) -> URL:
    """Map the usual `postgresql://` and `sqlite:///` forms to the drivers introbot ships."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite" if asynchronous else "sqlite+pysqlite")
    raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")


def async_url(url: str) -> URL:
    return _driver_url(url, asynchronous=True)


def sync_url(url: str) -> URL:
    return _driver_url(url, asynchronous=False)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer writes; the busy timeout makes a writer wait
    # for the lock instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine_for(url: str) -> AsyncEngine:
    target = async_url(url)
    if target.get_backend_name() == "sqlite":
        engine = create_async_engine(target)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    # Enough kept-open connections for the listeners' work slots
    # (bot.services.work_queue.WORK_SLOTS) and the dispatcher's sends: past pool_size, every
    # checkout opens and closes a connection, a new server process each time on PostgreSQL.
    # A short pool timeout: the checks made before an ack fail within Slack's 3 s instead of
    # waiting 30 s for a connection (the person is then told; see handlers/errors.py).
    engine = create_async_engine(target, pool_size=20, max_overflow=5, pool_timeout=POOL_TIMEOUT_S)
    event.listen(engine.sync_engine, "connect", _note_returned)
    event.listen(engine.sync_engine, "checkin", _note_returned)
    event.listen(engine.sync_engine, "checkout", _ping_if_idle)
    return engine


def _note_returned(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Checks a connection lent after a while in the pool, as pool_pre_ping would check every
    one: a restart or failover meanwhile leaves it dead, and the pool then opens a new one.
    One in steady use is lent as it is, which saves a round trip per checkout; should it
    have died, the statement's error invalidates the pool, and the next checkout is fresh."""
    if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE_S:
        return
    autocommit_before = dbapi_connection.autocommit
    try:
        dbapi_connection.autocommit = True  # no transaction left open by the check
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        dbapi_connection.autocommit = autocommit_before
    except Exception as exc:  # noqa: BLE001 - any failure: this connection is done
        raise DisconnectionError("connection lost while idle in the pool") from exc


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def on_postgres(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Whether these sessions talk to PostgreSQL (which the one-statement paths need)."""
    bind = sessions.kw.get("bind")
    return getattr(getattr(bind, "dialect", None), "name", "") == "postgresql"


@contextlib.asynccontextmanager
async def autocommit(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncConnection]:
    """A bare connection whose each statement commits on its own, for one-statement writes
    and Core reads: one round trip each, not three (BEGIN, the statement, COMMIT or
    ROLLBACK), and none of a session's bookkeeping.

    Sessions bound to a caller's connection (a benchmark's or a test's transaction, rolled
    back after) get that connection: the statement runs in its transaction."""
    bind = sessions.kw["bind"]
    if isinstance(bind, AsyncConnection):
        yield bind
        return
    async with _autocommitting(bind).connect() as connection:
        yield connection


_AUTOCOMMITTING: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _autocommitting(engine: AsyncEngine) -> AsyncEngine:
    """The engine's pool, its connections lent in autocommit (and put back as they were)."""
    found = _AUTOCOMMITTING.get(engine)
    if found is None:
        found = _AUTOCOMMITTING[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return found


@contextlib.asynccontextmanager
async def reading(
    sessions: async_sessionmaker[AsyncSession], session: AsyncSession | None = None
) -> AsyncIterator[AsyncSession]:
    """The caller's session when it passes one (a page built from several reads holds one
    connection, not one per read), else a session of its own for reads only.

    On PostgreSQL that session's statements run in autocommit: under READ COMMITTED each
    statement sees its own snapshot either way, and a read then costs one round trip instead
    of three (BEGIN, the statement, ROLLBACK)."""
    if session is not None:
        yield session
        return
    async with sessions() as own:
        # (Not in a caller's transaction: its isolation cannot change mid-way.)
        if on_postgres(sessions) and not isinstance(sessions.kw["bind"], AsyncConnection):
            await own.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield own


# --- hot statements straight through psycopg ------------------------------------------------

# In SQLAlchemy's rendering for psycopg: a named bind, a doubled percent sign, an expanding
# bind's placeholder (`IN :names`).
_RENDERED = re.compile(r"%\((\w+)\)s|%%|(NOT )?IN \(__\[POSTCOMPILE_(\w+)\]\)")


def _each(process: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    return [None if value is None else process(value) for value in values]


def array_literal(values: Iterable[str | int | None]) -> str:
    """`values` as one PostgreSQL array literal, for a parameter the statement casts to its
    array type (`CAST(:ids AS integer[])`). psycopg dumps a list element by element, finding
    each one's type, at more CPU than the rest of a short statement's parameters; one text
    value goes as it is. Each element goes quoted (text for any type's input), None as NULL."""
    return "{" + ",".join("NULL" if v is None else _quoted(str(v)) for v in values) + "}"


def _quoted(text: str) -> str:
    if "\\" in text or '"' in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text + '"'


class RawRow(tuple[Any, ...]):
    """A row read by name (`row.kind`, `row["kind"]`) or by position, as SQLAlchemy's rows
    are read in the callers."""

    __slots__ = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return getattr(self, key)
        return tuple.__getitem__(self, key)


class RawStatement:
    """A `text()` statement as SQLAlchemy renders it for psycopg (its casts, its bind
    types' conversions, its result columns' types), with `$n` placeholders: psycopg sends it
    as it is, with no conversion of the query per run (which it caches only for statements
    up to 4 KB and 50 parameters) and none of SQLAlchemy's work around each execution.

    An expanding bind (`IN :names`) is rendered as SQLAlchemy renders it, one placeholder per
    element, once for each length it comes with: as `= ANY($n)` PostgreSQL never found a
    generic plan for the prepared statement cheap enough and planned it again on every run
    (about 1 ms of its CPU for the form's findings, against 0.3)."""

    def __init__(self, statement: TextClause | TextualSelect, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self._dialect = dialect
        self._binds = compiled.binds
        self._template = compiled.string
        processors = compiled._bind_processors
        order = dict.fromkeys(
            name or expanding for name, _, expanding in _RENDERED.findall(self._template)
        )
        order.pop("", None)
        # Each parameter's name, its value when the call gives none, its conversion, and
        # whether it is a list spread over its own placeholders.
        self.sources: list[tuple[str, Any, Callable[[Any], Any] | None, bool]] = []
        for name in order:
            bind = self._binds[name]
            process = cast(Callable[[Any], Any] | None, processors.get(name))
            if process is not None and bind.expanding:
                process = functools.partial(_each, process)
            self.sources.append((name, bind.effective_value, process, bool(bind.expanding)))
        self._texts: dict[tuple[int, ...], tuple[bytes, str]] = {}
        self.results: dict[str, Callable[[Any], Any]] = {}
        for column in getattr(statement, "selected_columns", ()):
            process = column.type._cached_result_processor(dialect, None)
            if process is not None:
                self.results[column.key] = process
        self._row_types: dict[tuple[str, ...], type[RawRow]] = {}
        self._names: tuple[str, ...] | None = None

    def texts(self, lengths: tuple[int, ...]) -> tuple[bytes, str]:
        """The SQL with `$n` placeholders, and with named ones (as SQLAlchemy's listeners are
        shown statements), for lists of these lengths (one per expanding bind, in order)."""
        found = self._texts.get(lengths)
        if found is None:
            found = self._texts[lengths] = (
                self._rendered(lengths, named=False).encode(),
                self._rendered(lengths, named=True),
            )
        return found

    def _rendered(self, lengths: tuple[int, ...], *, named: bool) -> str:
        spread = iter(lengths)
        numbers: dict[str, list[int]] = {}
        counter = 0
        for name, _, _, expanding in self.sources:
            size = next(spread) if expanding else 1
            numbers[name] = list(range(counter + 1, counter + size + 1))
            counter += size

        def placeholder(found: re.Match[str]) -> str:
            name, negated, expanding = found.groups()
            if name is None and expanding is None:
                return "%%" if named else "%"
            if name is not None:
                return f"%({name})s" if named else f"${numbers[name][0]}"
            found_numbers = numbers[expanding]
            words = "NOT IN" if negated else "IN"
            if not found_numbers:  # as SQLAlchemy renders an empty list: matching nothing
                element = self._binds[expanding].type
                typed = "NULL"
                if not element._isnull:
                    typed = f"CAST(NULL AS {element.compile(dialect=self._dialect)})"
                return f"{words} (SELECT {typed} WHERE 1 != 1)"
            marks = (
                [f"%({expanding}_{i})s" for i in range(1, len(found_numbers) + 1)]
                if named
                else [f"${n}" for n in found_numbers]
            )
            return f"{words} ({', '.join(marks)})"

        return _RENDERED.sub(placeholder, self._template)

    def args(self, params: Mapping[str, Any]) -> tuple[tuple[int, ...], list[Any]]:
        """The lists' lengths (for `texts`) and the values, each list's spread out."""
        lengths: list[int] = []
        values: list[Any] = []
        for name, default, process, expanding in self.sources:
            value = params.get(name, default)
            if process is not None and value is not None:
                value = process(value)
            if expanding:
                items = list(value or ())
                lengths.append(len(items))
                values.extend(items)
            else:
                values.append(value)
        return tuple(lengths), values

    def named(self, lengths: tuple[int, ...], values: list[Any]) -> dict[str, Any]:
        """`values` by the names the named text gives them."""
        spread = iter(lengths)
        named: dict[str, Any] = {}
        position = 0
        for name, _, _, expanding in self.sources:
            if not expanding:
                named[name] = values[position]
                position += 1
                continue
            for i in range(1, next(spread) + 1):
                named[f"{name}_{i}"] = values[position]
                position += 1
        return named

    def names(self, cursor: psycopg.AsyncRawCursor[Any]) -> tuple[str, ...]:
        """The result's column names: a statement's are the same each run, and reading them
        from `cursor.description` builds an object per column."""
        names = self._names
        if names is None or len(names) != cast(Any, cursor.pgresult).nfields:
            names = self._names = tuple(c.name for c in cursor.description or ())
        return names

    def row_type(self, names: tuple[str, ...]) -> type[RawRow]:
        found = self._row_types.get(names)
        if found is None:
            base = namedtuple("Row", names, rename=True)  # type: ignore[misc]
            found = type("Row", (RawRow, base), {"__slots__": ()})
            self._row_types[names] = found
        return found

    def rows(self, names: tuple[str, ...], fetched: list[tuple[Any, ...]]) -> list[RawRow]:
        make = self.row_type(names)._make  # type: ignore[attr-defined]
        if not self.results:
            return [make(row) for row in fetched]
        processes = [self.results.get(name) for name in names]
        return [
            make([v if p is None else p(v) for p, v in zip(processes, row, strict=True)])
            for row in fetched
        ]


_RAW: weakref.WeakKeyDictionary[Any, RawStatement] = weakref.WeakKeyDictionary()


def raw_statement(statement: TextClause | TextualSelect, dialect: Dialect) -> RawStatement:
    """`statement` for `execute_raw`, rendered once per statement object (for one dialect:
    introbot's one, psycopg's)."""
    found = _RAW.get(statement)
    if found is None:
        found = _RAW[statement] = RawStatement(statement, dialect)
    return found


class Lent:
    """A pooled PostgreSQL connection lent bare, in autocommit, for one-statement work
    (`one_statement`): taken from and given back to the engine's pool without a SQLAlchemy
    `Connection` around it, whose checkout, isolation switch and reset cost more CPU than
    the statement it runs (about 0.26 ms against 0.11 for a short one)."""

    __slots__ = ("dialect", "pool", "pooled", "driver")

    def __init__(self, engine: AsyncEngine, pooled: Any) -> None:
        self.dialect = engine.dialect
        self.pool = engine.sync_engine.pool
        self.pooled = pooled
        self.driver: psycopg.AsyncConnection[Any] = pooled.driver_connection

    async def invalidate(self, reason: BaseException) -> None:
        """Closed and never lent again (dead, or left mid-statement)."""
        pooled, self.pooled = self.pooled, None
        if pooled is not None:
            await greenlet_spawn(pooled.invalidate, reason)

    async def give_back(self) -> None:
        if self.pooled is None:
            return
        try:
            # Lent in autocommit, so no transaction is left to roll back; put back as the
            # pool's other borrowers (sessions) expect it.
            await self.driver.set_autocommit(False)
        except BaseException as exc:
            await self.invalidate(exc)
            raise
        pooled, self.pooled = self.pooled, None
        if self.pool.overflow() > 0:  # type: ignore[attr-defined]
            # Past pool_size the pool may close the connection on its return, which awaits
            # the driver: that takes SQLAlchemy's greenlet, as `invalidate` does.
            await greenlet_spawn(pooled._checkin, transaction_was_reset=True)
            return
        pooled._checkin(transaction_was_reset=True)


@contextlib.asynccontextmanager
async def one_statement(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncConnection | Lent]:
    """A connection for a statement that commits on its own, run with `execute_raw` or
    `fetch_all`: on PostgreSQL a pooled connection lent bare (`Lent`); elsewhere, with a
    caller's connection bound (a test's transaction), or with statement listeners on the
    engine (a benchmark's counter, which expects SQLAlchemy's `Connection`), `autocommit`'s."""
    bind = sessions.kw["bind"]
    if (
        isinstance(bind, AsyncConnection)
        or bind.dialect.name != "postgresql"
        or bind.sync_engine._has_events
    ):
        async with autocommit(sessions) as connection:
            yield connection
        return
    pooled = await greenlet_spawn(bind.sync_engine.pool.connect)
    lent = Lent(bind, pooled)
    try:
        await lent.driver.set_autocommit(True)
    except BaseException as exc:
        await lent.invalidate(exc)
        raise
    try:
        yield lent
    finally:
        await lent.give_back()


async def execute_raw(
    connection: AsyncConnection | Lent,
    statement: TextClause | TextualSelect,
    params: Mapping[str, Any],
) -> Sequence[Any]:
    """Runs `statement` on `connection`'s psycopg connection, in whatever transaction (or
    autocommit) it is in, as SQLAlchemy would, minus its CPU per execution. PostgreSQL only.

    Errors come as SQLAlchemy's (`IntegrityError` for a unique violation, ...); a connection
    found dead is invalidated, so the pool does not lend it again."""
    dialect = connection.dialect
    raw = raw_statement(statement, dialect)
    lengths, args = raw.args(params)
    sql, named_sql = raw.texts(lengths)
    if isinstance(connection, Lent):
        pool, pooled = connection.pool, connection.pooled
        driver: Any = connection.driver
        invalidate: Callable[[BaseException], Awaitable[None]] = connection.invalidate
    else:
        sync = connection.sync_connection
        assert sync is not None, "the connection is not started"
        # The pooled connection as it is (without a trip through a greenlet) unless it must
        # be reconnected after an invalidation.
        pooled = sync._dbapi_connection
        if pooled is None:
            pooled = await connection.get_raw_connection()
        pool, driver, invalidate = sync.engine.pool, pooled.driver_connection, connection.invalidate
        if sync._has_events or sync.engine._has_events:  # a test's or a benchmark's listener
            named = raw.named(lengths, args)
            sync.dispatch.before_cursor_execute(sync, None, named_sql, named, None, False)
    try:
        async with psycopg.AsyncRawCursor(driver) as cursor:  # type: ignore[arg-type]
            await cursor.execute(sql, args)
            result = cursor.pgresult
            if result is None or not result.nfields:
                return []
            return raw.rows(raw.names(cursor), await cursor.fetchall())
    except psycopg.Error as error:
        dead = dialect.is_disconnect(error, driver, None)  # type: ignore[arg-type]
        if dead:
            # As SQLAlchemy does: a restart or failover took the pool's other connections
            # too, so they are replaced at their next checkout; this one is closed.
            pool._invalidate(pooled, error, _checkin=False)
            await invalidate(error)
        raise DBAPIError.instance(
            sql.decode(),
            args,
            error,
            psycopg.Error,
            connection_invalidated=dead,
            dialect=dialect,
        ) from error
    except BaseException as exiting:
        # Cancelled (a timeout) or interrupted mid-statement: the connection may still be
        # running it, so it is not lent again, as SQLAlchemy would not.
        if not isinstance(exiting, Exception):
            await invalidate(exiting)
        raise


async def fetch_all(
    connection: AsyncConnection | Lent,
    statement: TextClause | TextualSelect,
    params: Mapping[str, Any],
) -> Sequence[Any]:
    """`statement`'s rows, read by name: through psycopg directly on PostgreSQL
    (`execute_raw`), through SQLAlchemy elsewhere."""
    if isinstance(connection, Lent) or connection.dialect.name == "postgresql":
        return await execute_raw(connection, statement, params)
    return (await connection.execute(statement, params)).all()
