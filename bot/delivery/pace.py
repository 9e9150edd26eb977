"""Slack's rate limits, kept to before Slack has to say so.

Slack limits each workspace per Web API method, by tier, and `chat.postMessage` to about one
message per second per channel with short bursts (plus a workspace-wide ceiling of several
hundred a minute). Each limit is a GCRA (generic cell rate algorithm) budget: one number per
key, the theoretical arrival time `tat` of the next call. A call at `now` may go at
`max(tat, now) - tolerance` (the burst allowance), and moves `tat` on by one interval.

The dispatcher takes a slot before each call: it waits for a slot up to `max_wait` seconds
away, or is told when to try again (the message goes back to the outbox, due then). On
PostgreSQL the budgets live in `rate_budgets`, one row per key, each grant one atomic
INSERT ... ON CONFLICT DO UPDATE ... RETURNING on the database's clock, so every replica draws
on the same budget; elsewhere (SQLite runs one process) they live in the process.

The fake Slack (bot/standin/web_api.py) enforces the same table at full size; the dispatcher
keeps a margin under it (SAFETY), since calls reach Slack a little later than their slot.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, replace
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

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


class Pacer:
    """The dispatcher's side: a slot for each call, from the budgets of its workspace."""

    def __init__(self, budgets: Budgets, rates: Rates, max_wait: float = 2.0) -> None:
        self.budgets = budgets
        self.rates = rates.for_sender()
        self.max_wait = max_wait

    async def slot(self, team_id: str, method: str, channel: str | None = None) -> Grant:
        """Waits for a slot of every budget the call draws on, or, when one is further away
        than `max_wait`, says (without waiting) when to try again."""
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
