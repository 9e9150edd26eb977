"""`introbot serve` with a recommended change applied in-process, to measure its effect.

Each patch stands for a change to bot/ or handlers/ (see docs/performance.md), applied here by
wrapping, so the benchmark can measure the code as it is and as it would be, in the same run.
Both below are now in the code itself (Services.open_http; the users.info cache in
handlers/support.py); they stay here to measure a checkout from before.

`python -m bench.variants shared_http,cached_users -- serve --host 127.0.0.1 --port PORT`

- cached_users: users.info looked up once per user per 10 minutes by the listeners.
- warm_profiles: every profile known before the first request, at no cost (a measurement).
- slack_profiles_only: a submission's people asked of Slack, not read from the database (a
  measurement).
- issue_list_only: a submission without the ask's review and the stale-tie read (a
  measurement).
- no_review: issue_list_only without the stored profiles' read either; with warm_profiles,
  issue 13's same-work list plus introbot's code around it (a measurement).
- gc_relaxed: the cyclic garbage collector run less often, startup's objects frozen (in
  the code since stop 19: bot.wiring.cli.relax_garbage_collector).
- shared_http: one aiohttp ClientSession (a pooled, keep-alive connector) for every Web API
  call, instead of slack_sdk's default of a new session and a new TCP (on Slack: TLS)
  connection per call. Bolt's per-request clients take the session from `app.client`.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
from aiohttp import web


def shared_http() -> None:
    import bot.wiring.server
    from bot.wiring.app import Services

    original: Callable[..., web.Application] = bot.wiring.server.web_app

    def web_app(bolt: Any, services: Services, *, sweep: bool = True) -> web.Application:
        app = original(bolt, services, sweep=sweep)

        async def session(_app: web.Application) -> AsyncIterator[None]:
            shared = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=30)
            )
            services.client.session = shared
            services.dispatcher._client.session = shared
            yield
            await shared.close()

        app.cleanup_ctx.insert(0, session)
        return app

    bot.wiring.server.web_app = web_app  # bot.wiring.cli imports it at call time


def cached_users() -> None:
    """users.info answers kept for 10 minutes per process, as the dispatcher already keeps
    profiles (bot/delivery/dispatcher.py `_profile`), for the lookups the listeners make before
    an ack."""
    import time

    import handlers.support
    from bot.intro.validation import Teammate

    original = handlers.support.teammate
    cache: dict[str, tuple[float, Teammate | None]] = {}

    async def teammate(client: Any, user_id: str) -> Teammate | None:
        hit = cache.get(user_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        found = await original(client, user_id)
        cache[user_id] = (time.monotonic() + 600, found)
        return found

    # The listeners reach it through handlers.support.known_teammates, by the module's name.
    handlers.support.teammate = teammate


def issue_list_only() -> None:
    """A measurement, not a change to make: a submission without two of the things introbot
    does besides issue 13's same-work list (store, two cards): the review of the ask before
    the ack (duplicates, the connector's limits, the account owner and the connector's stale
    tie: one statement since stop 17; before, three reads and a fourth as the card went out).
    What it saves is what those cost. (The two people's profiles, which the review's
    statement reads since stop 18, are still read, in a statement of their own.)"""
    from bot.delivery.dispatcher import Dispatcher
    from bot.intro.directory import AskReview, Directory
    from bot.intro.profiles import Profiles

    async def review_ask(
        self: Directory, team_id: str, *_args: Any, profile_ids: Any = (), **_kwargs: Any
    ) -> AskReview:
        profiles = Profiles(self._sessions, self._clock)
        return AskReview(profiles=await profiles.known(team_id, profile_ids))

    async def stale_tie(*_args: Any) -> None:
        return None

    Directory.review_ask = review_ask  # type: ignore[method-assign,assignment]
    Dispatcher._stale_tie = stale_tie  # type: ignore[method-assign,assignment]


def no_review() -> None:
    """A measurement, not a change to make: a submission without its review before the ack
    (duplicates, the connector's limits, the account owner, the connector's stale tie) and
    without the stored profiles that the review's statement reads with it. Paired with
    warm_profiles (people known at no cost), it leaves issue 13's same-work list plus what
    introbot's code costs around it: the gap to the same-work app that remains."""
    from bot.delivery.dispatcher import Dispatcher
    from bot.intro.directory import AskReview, Directory

    async def review_ask(self: Directory, *_args: Any, **_kwargs: Any) -> AskReview:
        return AskReview()

    async def stale_tie(*_args: Any) -> None:
        return None

    Directory.review_ask = review_ask  # type: ignore[method-assign,assignment]
    Dispatcher._stale_tie = stale_tie  # type: ignore[method-assign,assignment]


def gc_relaxed() -> None:
    """A measurement: Python's cyclic garbage collector run less often (a first generation
    of 50,000 allocations instead of 700), with the objects loaded at startup frozen out of
    its scans. What it saves is what the collections cost per request."""
    import gc

    import bot.wiring.cli  # noqa: F401 - the app's modules, loaded before the freeze

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def warm_profiles() -> None:
    """A measurement: every profile already known when a request comes, as a directory kept
    warm from users.list and user_change events would have it, at no cost per look-up (an
    upper bound: a directory in the database would cost a read, unless the review's statement
    made it). Loaded from users.list on the first look-up, in the warm-up."""
    import asyncio

    import handlers.support
    from bot.intro.validation import Teammate

    original = handlers.support.teammate
    known: dict[str, Teammate] = {}
    loaded = asyncio.Event()
    loading: list[bool] = []

    async def load(client: Any) -> None:
        async for page in await client.users_list(limit=handlers.support.USERS_PAGE):
            for member in page.get("members") or []:
                known[str(member["id"])] = handlers.support.teammate_from(member)
        loaded.set()

    async def teammate(client: Any, user_id: str) -> Teammate | None:
        if not loading:
            loading.append(True)
            await load(client)
        await loaded.wait()
        return known.get(user_id) or await original(client, user_id)

    async def known_teammates(
        _services: Any, client: Any, _team_id: str, *user_ids: str, **_stored: Any
    ) -> list[Any]:
        return [await teammate(client, user_id) for user_id in user_ids]

    handlers.support.teammate = teammate
    handlers.support.known_teammates = known_teammates


def slack_profiles_only() -> None:
    """A measurement: a submission asks Slack (users.info) about its people, as before the
    profiles kept in the database (bot/intro/profiles.py); this process's memory still serves.
    (The review's statement still reads the stored profiles, unused.)"""
    import handlers.support

    async def known_teammates(
        _services: Any, client: Any, _team_id: str, *user_ids: str, **_stored: Any
    ) -> list[Any]:
        return await handlers.support.teammates(client, *user_ids)

    # Before handlers.views imports it by name.
    handlers.support.known_teammates = known_teammates


VARIANTS: dict[str, Callable[[], None]] = {
    "slack_profiles_only": slack_profiles_only,
    "warm_profiles": warm_profiles,
    "shared_http": shared_http,
    "cached_users": cached_users,
    "issue_list_only": issue_list_only,
    "no_review": no_review,
    "gc_relaxed": gc_relaxed,
}


def main() -> int:
    names, _, rest = " ".join(sys.argv[1:]).partition(" -- ")
    for name in names.split(","):
        if name and name != "none":
            VARIANTS[name]()
    from bot.wiring.cli import main as introbot

    return introbot(rest.split())


if __name__ == "__main__":
    raise SystemExit(main())
