"""Slack's rate limits, kept to before Slack has to say so.

Slack limits each workspace per Web API method, by tier, and `chat.postMessage` to about one
message per second per channel with short bursts (plus a workspace-wide ceiling of several
hundred a minute). Each limit is a GCRA (generic cell rate algorithm) budget: one number per
key, the theoretical arrival time `tat` of the next call. A call at `now` may go at
`max(tat, now) - tolerance` (the burst allowance), and moves `tat` on by one interval.

The dispatcher leases turns and spends them in memory: a batch of messages books every turn
it needs, in every budget it draws on, in one statement (`Pacer.reserve`), and each call then
takes one of the turns this process holds (`Pacer.turn`), leasing a slice of about a second
more only when it holds none that fits. A leased turn is good from its start until a little
after its place in the budget (`Slot`): used later it could crowd the turns booked after it,
so it lapses unspent, which costs the budget a call and never makes a burst. A call that
would wait more than `max_wait` seconds is told when to try again (the message goes back to
the outbox, due then). On PostgreSQL the budgets live in `rate_budgets`, one row per key,
booked on the database's clock, so every replica draws on the same budget; elsewhere (SQLite
runs one process) they live in the process.

The fake Slack (bot/standin/web_api.py) enforces the same table at full size; the dispatcher
keeps a margin under it (SAFETY), since calls reach Slack a little later than their slot.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import execute_raw

# The workspace-wide budget of a method (keys with an empty scope).
WORKSPACE = ""


@dataclass(frozen=True)
class Limit:
    """`per_minute` calls a minute on average, `burst` of them back to back."""

    per_minute: float
    burst: int = 1

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute

    @property
    def tolerance(self) -> float:
        return self.interval * (self.burst - 1)

    def scaled(self, factor: float) -> Limit:
        return replace(self, per_minute=self.per_minute * factor)


# Slack's published tiers (api.slack.com/apis/rate-limits): "1+", "20+", "50+", "100+" per
# minute, bursts tolerated. The vendored method reference names each method's tier.
TIERS = {
    "t1": Limit(1, 1),
    "t2": Limit(20, 3),
    "t3": Limit(50, 5),
    "t4": Limit(100, 10),
}
# chat.postMessage ("special", t5 in the reference): about 1 per second per channel with
# short bursts, and several hundred per minute across the workspace.
POST_MESSAGE_PER_CHANNEL = Limit(60, 3)
POST_MESSAGE_PER_WORKSPACE = Limit(300, 20)
# The methods the dispatcher calls, with their tier in the vendored reference
# (bot/standin/reference/web_api_methods.json; a test keeps the two in step).
DISPATCHER_METHODS = {"chat.update": "t3", "users.info": "t4"}
# The sender's margin under Slack's limits: a slightly slower rate and one call less of
# burst (at least SAFETY_MARGIN_S of tolerance less), for the time a call takes to arrive.
SAFETY_RATE = 0.9
SAFETY_MARGIN_S = 0.25
# Of that margin, what a call may take from its turn to reach Slack (at most half of it); the
# rest is how late a leased turn may still be spent (`Pacer.lateness`).
ARRIVAL_S = 0.15
# A call that holds no turn leases about this many seconds' worth of a workspace's budget for
# the method, so the calls after it spend from memory.
SLICE_S = 1.0
POST = "chat.postMessage"


@dataclass(frozen=True)
class Rates:
    """Which budgets a call draws on: `rules(method, channel)` -> [(scope, limit)]."""

    tiers: dict[str, Limit]
    per_channel: Limit
    per_workspace: Limit
    methods: dict[str, str]

    @classmethod
    def slack(cls, scale: float = 1.0) -> Rates:
        """Slack's limits; `scale` multiplies every rate (tests run them faster)."""
        return cls(
            tiers={tier: limit.scaled(scale) for tier, limit in TIERS.items()},
            per_channel=POST_MESSAGE_PER_CHANNEL.scaled(scale),
            per_workspace=POST_MESSAGE_PER_WORKSPACE.scaled(scale),
            methods=dict(DISPATCHER_METHODS),
        )

    def rules(
        self, method: str, channel: str | None = None, tier: str | None = None
    ) -> list[tuple[str, Limit]]:
        """The budgets one call of `method` draws on, workspace-wide first. `tier` overrides
        the method's tier (the fake reads it from the reference); unknown methods: none."""
        if method == "chat.postMessage":
            found = [(WORKSPACE, self.per_workspace)]
            return found + ([(channel, self.per_channel)] if channel else [])
        limit = self.tiers.get(tier or self.methods.get(method, ""))
        return [(WORKSPACE, limit)] if limit is not None else []

    def for_sender(self) -> Rates:
        """The same budgets with the sender's margin under them."""
        return Rates(
            tiers={tier: with_margin(limit) for tier, limit in self.tiers.items()},
            per_channel=with_margin(self.per_channel),
            per_workspace=with_margin(self.per_workspace),
            methods=self.methods,
        )


def with_margin(limit: Limit) -> Limit:
    slower = limit.scaled(SAFETY_RATE)
    # Tolerance at least SAFETY_MARGIN_S less than Slack's, and one call less of burst.
    keep = max(0.0, limit.tolerance - max(SAFETY_MARGIN_S, slower.interval))
    return replace(slower, burst=1 + int(keep / slower.interval))


@dataclass(frozen=True)
class Grant:
    """A slot `wait` seconds from now, or (wait None) none within reach: try again in
    `retry_in` seconds."""

    wait: float | None
    retry_in: float = 0.0

    @property
    def granted(self) -> bool:
        return self.wait is not None


@dataclass(frozen=True)
class Want:
    """`count` turns in a workspace's budget for `method` (its workspace-wide one), booked only
    if the first is no more than `max_wait` seconds away (math.inf: however far)."""

    team_id: str
    method: str
    count: int
    limit: Limit
    max_wait: float = math.inf


@dataclass(frozen=True)
class ChannelWant:
    """`count` chat.postMessage turns in one channel's budget. With `after`, they begin no
    earlier than the `after`-th (from 0) of the turns booked beside them in the workspace's
    chat.postMessage budget, so each post's two turns fall together; booked only if those
    were."""

    team_id: str
    channel: str
    count: int
    after: int | None = None


@dataclass(frozen=True)
class Leased:
    """What a lease booked: for each budget `(team, method, scope)`, the tat its first turn
    started from (its turns are `base + n * interval`); for each workspace budget refused,
    `(team, method)`, how far off its next turn is; `now` on the budgets' clock."""

    now: float
    bases: dict[tuple[str, str, str], float]
    refused: dict[tuple[str, str], float]


def gcra(
    tat: float | None, now: float, limit: Limit, max_wait: float
) -> tuple[float | None, Grant]:
    """One call's slot: (the new tat, or None when refused; the grant)."""
    base = now if tat is None else max(tat, now)
    wait = max(0.0, base - limit.tolerance - now)
    if wait > max_wait:
        return None, Grant(None, wait)
    return base + limit.interval, Grant(wait)


def slots_within(tat: float | None, now: float, limit: Limit, max_wait: float) -> int:
    """How many calls could get a slot within `max_wait` seconds, taken one after another."""
    base = now if tat is None else max(tat, now)
    room = now + max_wait + limit.tolerance - base
    return 0 if room < 0 else math.floor(room / limit.interval + 1e-9) + 1


def turns(tat: float | None, now: float, limit: Limit, count: int) -> tuple[float, list[float]]:
    """`count` calls booked one after another, however far off: (the new tat, each one's
    wait from now)."""
    base = now if tat is None else max(tat, now)
    waits = [max(0.0, base + n * limit.interval - limit.tolerance - now) for n in range(count)]
    return base + count * limit.interval, waits


class Budgets(Protocol):
    async def take(
        self, team_id: str, method: str, scope: str, limit: Limit, max_wait: float
    ) -> Grant: ...

    async def book(
        self, team_id: str, method: str, counts: dict[str, int], limit: Limit
    ) -> dict[str, list[float]]: ...

    async def slots(
        self, team_ids: list[str], method: str, limit: Limit, max_wait: float
    ) -> dict[str, int]: ...

    async def lease(
        self, wants: list[Want], channels: list[ChannelWant], per_channel: Limit
    ) -> Leased: ...


class LocalBudgets:
    """Budgets of this process alone (SQLite: one process delivers)."""

    def __init__(self, clock: object = time.monotonic) -> None:
        self._tat: dict[tuple[str, str, str], float] = {}
        self._now = clock
        self._lock = asyncio.Lock()

    def _time(self) -> float:
        return float(self._now())  # type: ignore[operator]

    async def take(
        self, team_id: str, method: str, scope: str, limit: Limit, max_wait: float
    ) -> Grant:
        key = (team_id, method, scope)
        async with self._lock:
            tat, grant = gcra(self._tat.get(key), self._time(), limit, max_wait)
            if tat is not None:
                self._tat[key] = tat
            return grant

    async def book(
        self, team_id: str, method: str, counts: dict[str, int], limit: Limit
    ) -> dict[str, list[float]]:
        booked = {}
        async with self._lock:
            now = self._time()
            for scope, count in counts.items():
                key = (team_id, method, scope)
                self._tat[key], booked[scope] = turns(self._tat.get(key), now, limit, count)
        return booked

    async def lease(
        self, wants: list[Want], channels: list[ChannelWant], per_channel: Limit
    ) -> Leased:
        bases: dict[tuple[str, str, str], float] = {}
        refused: dict[tuple[str, str], float] = {}
        async with self._lock:
            now = self._time()
            posts = {}
            for want in wants:
                key = (want.team_id, want.method, WORKSPACE)
                tat = self._tat.get(key)
                base = now if tat is None else max(tat, now)
                if base - want.limit.tolerance - now > want.max_wait:
                    refused[(want.team_id, want.method)] = base - want.limit.tolerance - now
                    continue
                self._tat[key] = base + want.count * want.limit.interval
                bases[key] = base
                if want.method == POST:
                    posts[want.team_id] = want.limit
            for channel in channels:
                start = now
                if channel.after is not None:
                    post = bases.get((channel.team_id, POST, WORKSPACE))
                    if post is None:
                        continue
                    wide = posts[channel.team_id]
                    start = max(now, post + channel.after * wide.interval - wide.tolerance)
                key = (channel.team_id, POST, channel.channel)
                tat = self._tat.get(key)
                base = start if tat is None else max(tat, start)
                self._tat[key] = base + channel.count * per_channel.interval
                bases[key] = base
        return Leased(now, bases, refused)

    async def slots(
        self, team_ids: list[str], method: str, limit: Limit, max_wait: float
    ) -> dict[str, int]:
        now = self._time()
        return {
            team_id: slots_within(self._tat.get((team_id, method, WORKSPACE)), now, limit, max_wait)
            for team_id in team_ids
        }


# One grant: the row is created at its first use; the update happens only when a slot is
# within reach, so a refusal changes nothing. `now()` is the database's clock, one for every
# replica (and fixed within the statement).
_TAKE = text(
    """
    INSERT INTO rate_budgets AS b (team_id, method, scope, tat)
    VALUES (:team, :method, :scope, extract(epoch FROM now()) + :interval)
    ON CONFLICT (team_id, method, scope) DO UPDATE
    SET tat = greatest(b.tat, extract(epoch FROM now())) + :interval
    WHERE greatest(b.tat, extract(epoch FROM now())) - :tolerance
        <= extract(epoch FROM now()) + :max_wait
    RETURNING greatest(0, b.tat - :interval - :tolerance - extract(epoch FROM now())) AS wait
    """
)
# Several scopes' turns booked at once, `n` calls each: the proposed row's tat carries n (now +
# n intervals), so a scope already there moves on by as much. Scopes come sorted, so two
# replicas lock the same rows in the same order.
_BOOK = text(
    """
    INSERT INTO rate_budgets AS b (team_id, method, scope, tat)
    SELECT :team, :method, s.scope, extract(epoch FROM now()) + s.n * :interval
    FROM unnest(CAST(:scopes AS text[]), CAST(:counts AS integer[])) AS s(scope, n)
    ON CONFLICT (team_id, method, scope) DO UPDATE
    SET tat = greatest(b.tat, extract(epoch FROM now()))
        + (EXCLUDED.tat - extract(epoch FROM now()))
    RETURNING b.scope, b.tat, extract(epoch FROM now()) AS now
    """
)
# A lease: every budget a batch draws on, booked in one statement in autocommit. Workspace
# budgets first (`wide`), each all of its turns or none (refused when the first is further off
# than its reach, max_wait + tolerance); then channels (`narrow`), each from the workspace turn
# its first post pairs with. Rows are locked in one order (wants come sorted, workspaces before
# channels), so concurrent leases do not deadlock. The last SELECT reads the refused budgets
# as they stood, for when to try again.
#
# `nosync` turns synchronous_commit off for this statement's own transaction only
# (set_config(..., true) lasts until its commit, which reads it): the commit does not wait
# for the disk, with no BEGIN and SET LOCAL round trips and no pool of its own. A budget lost
# in a crash only lets a few calls meet a 429, which is honoured.
_LEASE = text(
    """
    WITH nosync AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)),
    wants AS MATERIALIZED (
        SELECT * FROM unnest(CAST(:teams AS text[]), CAST(:methods AS text[]),
            CAST(:counts AS integer[]), CAST(:steps AS float8[]),
            CAST(:tolerances AS float8[]), CAST(:reaches AS float8[]))
            WITH ORDINALITY AS w(team_id, method, n, step, tolerance, reach, ord)
    ),
    wide AS (
        INSERT INTO rate_budgets AS b (team_id, method, scope, tat)
        SELECT w.team_id, w.method, '', extract(epoch FROM now()) + w.n * w.step
        FROM wants w CROSS JOIN nosync ORDER BY w.ord
        ON CONFLICT (team_id, method, scope) DO UPDATE
        SET tat = greatest(b.tat, extract(epoch FROM now()))
            + (EXCLUDED.tat - extract(epoch FROM now()))
        WHERE greatest(b.tat, extract(epoch FROM now())) <= extract(epoch FROM now()) + (
            SELECT w.reach FROM wants w WHERE w.team_id = b.team_id AND w.method = b.method)
        RETURNING b.team_id, b.method, b.tat
    ),
    channels AS MATERIALIZED (
        SELECT * FROM unnest(CAST(:channel_teams AS text[]), CAST(:channels AS text[]),
            CAST(:channel_counts AS integer[]), CAST(:channel_afters AS integer[]))
            WITH ORDINALITY AS c(team_id, scope, n, after, ord)
    ),
    narrow AS (
        INSERT INTO rate_budgets AS b (team_id, method, scope, tat)
        SELECT c.team_id, 'chat.postMessage', c.scope,
            greatest(extract(epoch FROM now()),
                p.tat - w.n * w.step + coalesce(c.after, 0) * w.step - w.tolerance)
            + c.n * :channel_step
        FROM channels c
        LEFT JOIN wide p ON p.team_id = c.team_id AND p.method = 'chat.postMessage'
        LEFT JOIN wants w ON w.team_id = c.team_id AND w.method = 'chat.postMessage'
        WHERE c.after IS NULL OR p.tat IS NOT NULL
        ORDER BY c.ord
        ON CONFLICT (team_id, method, scope) DO UPDATE
        SET tat = greatest(b.tat + (
            SELECT c.n FROM channels c WHERE c.team_id = b.team_id AND c.scope = b.scope
        ) * :channel_step, EXCLUDED.tat)
        RETURNING b.team_id, b.scope, b.tat
    )
    SELECT team_id, method, '' AS scope, tat, true AS granted, extract(epoch FROM now()) AS now
    FROM wide
    UNION ALL
    SELECT team_id, 'chat.postMessage', scope, tat, true, extract(epoch FROM now()) FROM narrow
    UNION ALL
    SELECT b.team_id, b.method, b.scope, b.tat, false, extract(epoch FROM now())
    FROM wants w JOIN rate_budgets b
        ON b.team_id = w.team_id AND b.method = w.method AND b.scope = ''
    WHERE NOT EXISTS (SELECT 1 FROM wide p WHERE p.team_id = w.team_id AND p.method = w.method)
    """
)
# Far enough to stand for "however far off" in a float8 column.
_UNBOUNDED_S = 1e9
_PEEK = text(
    """
    SELECT team_id, tat, extract(epoch FROM now()) AS now FROM rate_budgets
    WHERE method = :method AND scope = '' AND team_id = ANY(:teams)
    """
)
_NOW = text("SELECT extract(epoch FROM now())")
_NO_SYNC = text("SET LOCAL synchronous_commit TO OFF")
_RETRY = text(
    """
    SELECT tat - :tolerance - extract(epoch FROM now()) FROM rate_budgets
    WHERE team_id = :team AND method = :method AND scope = :scope
    """
)


class SharedBudgets:
    """Budgets every replica shares, in PostgreSQL's `rate_budgets`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # The same pool, each statement committed on its own: a lease is one round trip.
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def take(
        self, team_id: str, method: str, scope: str, limit: Limit, max_wait: float
    ) -> Grant:
        params = {
            "team": team_id,
            "method": method,
            "scope": scope,
            "interval": limit.interval,
            "tolerance": limit.tolerance,
            "max_wait": max_wait,
        }
        async with self._engine.begin() as conn:
            # The budget row is locked until commit, and every replica's sends to the
            # workspace queue on it: the commit must not wait for the disk. A budget lost in a
            # crash only lets a few calls meet a 429, which is honoured.
            await conn.execute(_NO_SYNC)
            wait = (await conn.execute(_TAKE, params)).scalar_one_or_none()
            if wait is not None:
                return Grant(float(wait))
            retry = (await conn.execute(_RETRY, params)).scalar_one_or_none()
        return Grant(None, max(limit.interval, float(retry or 0.0)))

    async def book(
        self, team_id: str, method: str, counts: dict[str, int], limit: Limit
    ) -> dict[str, list[float]]:
        scopes = sorted(counts)
        params = {
            "team": team_id,
            "method": method,
            "scopes": scopes,
            "counts": [counts[scope] for scope in scopes],
            "interval": limit.interval,
        }
        async with self._engine.begin() as conn:
            await conn.execute(_NO_SYNC)
            rows = (await conn.execute(_BOOK, params)).all()
        booked = {}
        for scope, tat, now in rows:
            count = counts[scope]
            before = float(tat) - count * limit.interval  # where this booking began
            booked[scope] = turns(before, float(now), limit, count)[1]
        return booked

    async def lease(
        self, wants: list[Want], channels: list[ChannelWant], per_channel: Limit
    ) -> Leased:
        wants = sorted(wants, key=lambda w: (w.team_id, w.method))
        channels = sorted(channels, key=lambda c: (c.team_id, c.channel))
        params = {
            "teams": [w.team_id for w in wants],
            "methods": [w.method for w in wants],
            "counts": [w.count for w in wants],
            "steps": [w.limit.interval for w in wants],
            "tolerances": [w.limit.tolerance for w in wants],
            "reaches": [min(_UNBOUNDED_S, w.max_wait + w.limit.tolerance) for w in wants],
            "channel_teams": [c.team_id for c in channels],
            "channels": [c.channel for c in channels],
            "channel_counts": [c.count for c in channels],
            "channel_afters": [c.after for c in channels],
            "channel_step": per_channel.interval,
        }
        async with self._autocommit.connect() as conn:
            rows = await execute_raw(conn, _LEASE, params)
        spans = {(w.team_id, w.method, WORKSPACE): w.count * w.limit.interval for w in wants}
        limits = {(w.team_id, w.method): w.limit for w in wants}
        for c in channels:
            spans[(c.team_id, POST, c.channel)] = c.count * per_channel.interval
        now = float(rows[0].now) if rows else 0.0
        bases: dict[tuple[str, str, str], float] = {}
        refused: dict[tuple[str, str], float] = {}
        for row in rows:
            if row.granted:
                key = (row.team_id, row.method, row.scope)
                bases[key] = float(row.tat) - spans[key]  # where the booking began
            else:
                limit = limits[(row.team_id, row.method)]
                refused[(row.team_id, row.method)] = max(
                    limit.interval, float(row.tat) - limit.tolerance - now
                )
        return Leased(now, bases, refused)

    async def slots(
        self, team_ids: list[str], method: str, limit: Limit, max_wait: float
    ) -> dict[str, int]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(_PEEK, {"method": method, "teams": team_ids})).all()
            now = float(rows[0][2]) if rows else float((await conn.execute(_NOW)).scalar_one())
        tats = {team_id: float(tat) for team_id, tat, _ in rows}
        return {
            team_id: slots_within(tats.get(team_id), now, limit, max_wait) for team_id in team_ids
        }


@dataclass(frozen=True)
class Slot:
    """A leased turn, on this process's clock: it may go from `start` until `end`, when it
    lapses."""

    start: float
    end: float


# A leased budget: (team, method, scope).
Key = tuple[str, str, str]


class Pacer:
    """The dispatcher's side: a turn for each call, from the budgets of its workspace."""

    def __init__(
        self,
        budgets: Budgets,
        rates: Rates,
        max_wait: float = 2.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.budgets = budgets
        self.slack = rates
        self.rates = rates.for_sender()
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        # The turns this process leased and has not spent, by budget.
        self._held: dict[Key, list[Slot]] = {}
        # Workspace budgets found spent, (team, method) -> until when on this process's clock:
        # a call holding no turn there is told so without asking again.
        self._spent: dict[tuple[str, str], float] = {}
        # The turns a reserved call was booked, by its ticket, until it spends them; other
        # calls leave them be.
        self._tickets: dict[int, list[Slot]] = {}

    def lateness(self, method: str, scope: str) -> float:
        """How long after its place in the budget (its tat) a leased turn may still go.

        The sender's tolerance is at least SAFETY_MARGIN_S under Slack's (`with_margin`). Every
        call arriving between its turn's start (tat - tolerance) and tat + d keeps within
        Slack's limit as long as d is no more than that difference: any run of calls that
        reach Slack close together was booked no closer than the sender's budget allows, less
        d. Of the difference, ARRIVAL_S (at most half) is left for the call to reach Slack."""
        channel = scope or None
        ours = dict(self.rates.rules(method, channel))[scope]
        theirs = dict(self.slack.rules(method, channel))[scope]
        margin = max(0.0, theirs.tolerance - ours.tolerance)
        return margin - min(ARRIVAL_S, margin / 2)

    def held(self, team_id: str, method: str, scope: str = WORKSPACE) -> list[Slot]:
        """The turns held for a budget and not yet lapsed."""
        now = self._clock()
        return [slot for slot in self._held.get((team_id, method, scope), []) if slot.end >= now]

    async def reserve(
        self, calls: list[tuple[str, str, str | None]], tickets: list[int] | None = None
    ) -> None:
        """Leases the turns a batch of calls `(team, method, channel)` will take, in every
        budget they draw on, in one statement; each call then spends one with `turn`. With
        `tickets` (one per call), each call's turns are set aside for the `turn` that names
        its ticket: a post's workspace and channel turns were booked to fall together. A budget
        whose next turn is further off than `max_wait` books none (its calls are told when to
        try again), and a turn left unspent lapses."""
        wide: dict[tuple[str, str], int] = {}
        narrow: dict[tuple[str, str], list[int]] = {}  # (team, channel) -> [count, after]
        for team_id, method, channel in calls:
            if not self.rates.rules(method, channel):
                continue
            nth = wide.get((team_id, method), 0)
            wide[(team_id, method)] = nth + 1
            if method == POST and channel:
                narrow.setdefault((team_id, channel), [0, nth])[0] += 1
        if not wide:
            return
        wants = [
            Want(team_id, method, count, self.rates.rules(method)[0][1], self.max_wait)
            for (team_id, method), count in wide.items()
        ]
        channels = [
            ChannelWant(team_id, channel, count, after)
            for (team_id, channel), (count, after) in narrow.items()
        ]
        self._forget_lapsed()
        _, booked = await self._lease(wants, channels)
        if tickets is None:
            return
        taken: Counter[Key] = Counter()
        for ticket, (team_id, method, channel) in zip(tickets, calls, strict=True):
            keys = [(team_id, method, scope) for scope, _ in self.rates.rules(method, channel)]
            if keys and all(taken[key] < len(booked.get(key, [])) for key in keys):
                self._tickets[ticket] = [booked[key][taken[key]] for key in keys]
                taken.update(keys)

    async def turn(
        self, team_id: str, method: str, channel: str | None = None, ticket: int | None = None
    ) -> Grant:
        """Waits for a turn in every budget the call draws on: those set aside for its
        `ticket` if they are still good, else from those this process holds, leasing a slice
        more (one statement) when it holds none that fits; or, when the turn is further off
        than `max_wait`, says (without waiting) when to try again."""
        rules = self.rates.rules(method, channel)
        if not rules:
            return Grant(0.0)
        keys = [(team_id, method, scope) for scope, _ in rules]
        assigned = self._tickets.pop(ticket, None) if ticket is not None else None
        for _ in range(3):
            now = self._clock()
            found = self._fitting(keys, now, assigned)
            assigned = None
            if isinstance(found, list):  # budgets with no turn held that fits
                until = self._spent.get((team_id, method), now)
                if (team_id, method, WORKSPACE) in found and until > now:
                    return Grant(None, until - now)
                refused = await self._lease_for(team_id, method, channel, found)
                if refused is not None:
                    return Grant(None, refused)
                continue
            go, slots = found
            if go - now > self.max_wait + 1e-6:  # (the turns' times are sums of floats)
                return Grant(None, go - now)  # the turns stay held, for calls after it
            for key, slot in zip(keys, slots, strict=True):
                held = self._held[key]
                del held[next(n for n, h in enumerate(held) if h is slot)]
            if go > now:
                await self._sleep(go - now)
            if self._clock() <= min(slot.end for slot in slots):
                return Grant(go - now)
            # Reached late (a stalled loop): these turns lapsed; another, if any fits.
        return Grant(None, rules[0][1].interval)

    def _fitting(
        self, keys: list[Key], now: float, assigned: list[Slot] | None = None
    ) -> tuple[float, list[Slot]] | list[Key]:
        """The earliest moment, from `now`, at which a held turn of every budget is good, and
        those turns (the `assigned` ones, when all are still held and good together); or the
        budgets holding none still good then."""
        if assigned is not None and all(
            any(held is slot for held in self._held.get(key, []))
            for key, slot in zip(keys, assigned, strict=True)
        ):
            go = max(now, *(slot.start for slot in assigned))
            if go <= min(slot.end for slot in assigned):
                return go, assigned
        promised = {id(slot) for slots in self._tickets.values() for slot in slots}
        go = now
        while True:
            chosen = []
            missing = []
            for key in keys:
                good = [s for s in self._held.get(key, []) if s.end >= go and id(s) not in promised]
                if good:
                    chosen.append(min(good, key=lambda s: s.start))
                else:
                    missing.append(key)
            if missing:
                return missing
            later = max(go, *(slot.start for slot in chosen))
            if later == go:
                return go, chosen
            go = later

    async def _lease_for(
        self, team_id: str, method: str, channel: str | None, missing: list[Key]
    ) -> float | None:
        """A slice of each budget the call holds no turn in: about SLICE_S seconds of the
        workspace's, one of a channel's. Returns None, or how soon to try again if refused."""
        wants = []
        channels = []
        for key in missing:
            scope = key[2]
            if scope == WORKSPACE:
                limit = self.rates.rules(method)[0][1]
                count = max(1, math.floor(SLICE_S / limit.interval))
                wants.append(Want(team_id, method, count, limit, self.max_wait))
            elif channel is not None:
                post = (team_id, POST, WORKSPACE)
                # Paired with the workspace turn leased beside it, if it is leased too.
                channels.append(ChannelWant(team_id, channel, 1, 0 if post in missing else None))
        leased, _ = await self._lease(wants, channels)
        if leased.refused:
            return max(leased.refused.values())
        if not all(key in leased.bases for key in missing):
            return self.rates.rules(method, channel)[0][1].interval
        return None

    async def _lease(
        self, wants: list[Want], channels: list[ChannelWant]
    ) -> tuple[Leased, dict[Key, list[Slot]]]:
        """Books the turns and holds them, placed on this process's clock: a turn's start as
        late, and its end as early, as the statement's time on the budgets' clock allows.
        Returns them too, by budget, in order."""
        sent = self._clock()
        leased = await self.budgets.lease(wants, channels, self.rates.per_channel)
        received = self._clock()
        for budget, retry_in in leased.refused.items():
            self._spent[budget] = received + retry_in
        booked = [((w.team_id, w.method, WORKSPACE), w.count, w.limit) for w in wants]
        narrow = self.rates.per_channel
        booked += [((c.team_id, POST, c.channel), c.count, narrow) for c in channels]
        slots: dict[Key, list[Slot]] = {}
        for key, count, limit in booked:
            base = leased.bases.get(key)
            if base is None:
                continue
            late = self.lateness(key[1], key[2])
            slots[key] = []
            for n in range(count):
                tat = base + n * limit.interval - leased.now
                slots[key].append(Slot(received + tat - limit.tolerance, sent + tat + late))
            self._held.setdefault(key, []).extend(slots[key])
        return leased, slots

    def _forget_lapsed(self) -> None:
        now = self._clock()
        self._spent = {budget: until for budget, until in self._spent.items() if until > now}
        self._tickets = {
            ticket: slots
            for ticket, slots in self._tickets.items()
            if min(slot.end for slot in slots) >= now
        }
        for key in list(self._held):
            left = [slot for slot in self._held[key] if slot.end >= now]
            if left:
                self._held[key] = left
            else:
                del self._held[key]

    async def slot(self, team_id: str, method: str, channel: str | None = None) -> Grant:
        """Waits for a slot of every budget the call draws on, taken on its own (a grant per
        budget), or, when one is further away than `max_wait`, says (without waiting) when to
        try again. The dispatcher leases instead (`reserve`, `turn`)."""
        waits = []
        for scope, limit in self.rates.rules(method, channel):
            grant = await self.budgets.take(team_id, method, scope, limit, self.max_wait)
            if grant.wait is None:
                return grant
            waits.append(grant.wait)
        wait = max(waits, default=0.0)
        if wait > 0:
            await asyncio.sleep(wait)
        return Grant(wait)

    async def book_posts(self, team_id: str, channels: list[str]) -> list[float]:
        """Turns for a batch of chat.postMessage calls of one workspace, in order, one to each
        of `channels`, booked in two statements (the workspace, then every channel): seconds
        from now each may go. Booked however far off: the caller claimed no more than
        `sends_within_reach`."""
        if not channels:
            return []
        method = "chat.postMessage"
        wide = await self.budgets.book(
            team_id, method, {WORKSPACE: len(channels)}, self.rates.per_workspace
        )
        per_channel: dict[str, int] = {}
        for channel in channels:
            per_channel[channel] = per_channel.get(channel, 0) + 1
        narrow = await self.budgets.book(team_id, method, per_channel, self.rates.per_channel)
        taken: dict[str, int] = {}
        waits = []
        for n, channel in enumerate(channels):
            nth = taken.get(channel, 0)
            taken[channel] = nth + 1
            waits.append(max(wide[WORKSPACE][n], narrow[channel][nth]))
        return waits

    async def sends_within_reach(self, team_ids: list[str]) -> dict[str, int]:
        """How many messages each workspace may post within `max_wait`: what a sweep claims."""
        if not team_ids:
            return {}
        limit = self.rates.per_workspace
        return await self.budgets.slots(team_ids, "chat.postMessage", limit, self.max_wait)
