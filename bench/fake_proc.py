"""The fake Slack Web API in a process of its own, answering at once, with counters.

`python -m bench.fake_proc [--strict]` prints `ready <api base_url> <stats url>` when serving.

Changes from `bot.standin.web_api.FakeSlack`, all for a long, heavy run:

- Calls are counted (per method, per error, first and last time) instead of logged with their
  arguments, and posted messages are not kept, so memory stays flat.
- Trigger ids: the load generator mints them as `bench.<seq>.<monotonic time it sent the
  request>`; the first views.open with one registers it with that issue time, so the fake's
  own checks still apply: used twice or more than `trigger_ttl` (3 s) after the request was
  sent is refused. CLOCK_MONOTONIC is one clock for every process on the machine.
- chat.update of a message this process never saw (the accept pool's cards were seeded in
  the database) succeeds, as it would on Slack, where the message exists.
- Unless `--strict`, Block Kit is not validated (slack_sdk's models cost milliseconds per
  call on a core the bot needs); the end-to-end tests validate it.

With `--record-sizes` it also sums, per method, the size of each call's arguments as compact
JSON (the token left out): what `bench.verify` compares between the two apps.

GET /bench/stats answers the counters; POST /bench/reset zeroes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from typing import Any

from aiohttp import web

from bench.common import BOT_SCOPES, BOT_TOKEN, USERS, user_id, user_name
from bot.standin.web_api import FakeSlack, _Trigger

JSON = dict[str, Any]
MAX_VIEWS = 5000
EXAMPLES = 3


class BenchSlack(FakeSlack):
    def __init__(self, *, strict: bool, record_sizes: bool = False) -> None:
        super().__init__(token=BOT_TOKEN, scopes=BOT_SCOPES)
        self.strict = strict
        self.record_sizes = record_sizes
        self.sizes: Counter[str] = Counter()
        # With record_sizes: each method's first arguments since the last reset.
        self.examples: dict[str, list[JSON]] = {}
        self.counts: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.first_at: dict[str, float] = {}
        self.last_at: dict[str, float] = {}

    def _record(self, method: str, args: JSON, error: str | None, token: str | None = None) -> None:
        now = time.monotonic()
        self.counts[method] += 1
        self.first_at.setdefault(method, now)
        self.last_at[method] = now
        if error is not None:
            self.errors[f"{method}:{error}"] += 1
        if self.record_sizes:
            sent = {key: value for key, value in args.items() if key != "token"}
            self.sizes[method] += len(json.dumps(sent, separators=(",", ":"), default=str))
            kept = self.examples.setdefault(method, [])
            if len(kept) < EXAMPLES:
                kept.append(sent)

    def _views_open(self, args: JSON) -> JSON:
        trigger_id = str(args.get("trigger_id") or "")
        if trigger_id.startswith("bench.") and trigger_id not in self._triggers:
            try:
                issued = float(trigger_id.split(".", 2)[2])
            except (IndexError, ValueError):
                issued = 0.0
            self._triggers[trigger_id] = _Trigger(user_id="", issued_at=issued)
        answer = super()._views_open(args)
        # Keep recent views only (views.update after the suggestions needs them).
        while len(self.views) > MAX_VIEWS:
            self.views.pop(next(iter(self.views)))
        if len(self._triggers) > 4 * MAX_VIEWS:
            for key in [k for k, t in self._triggers.items() if t.used]:
                del self._triggers[key]
        return answer

    def _chat_post_message(self, args: JSON) -> JSON:
        if self.strict:
            return super()._chat_post_message(args)
        channel = self._resolve_channel(args["channel"])
        if not any(args.get(key) for key in ("text", "blocks", "attachments")):
            raise self._no_text()
        return {"channel": channel, "ts": self._next_ts(), "message": {"type": "message"}}

    @staticmethod
    def _no_text() -> Exception:
        from bot.standin.web_api import _ApiError

        return _ApiError("no_text")

    def _chat_update(self, args: JSON) -> JSON:
        channel, ts = str(args["channel"]), str(args["ts"])
        if (channel, ts) in self._messages:
            return super()._chat_update(args)
        return {"channel": channel, "ts": ts, "text": str(args.get("text") or "")}

    def _validate_message(self, args: JSON) -> None:
        if self.strict:
            super()._validate_message(args)

    def _validate_view(self, args: JSON, *, view_type: str | None) -> JSON:
        if self.strict:
            return super()._validate_view(args, view_type=view_type)
        raw = args.get("view")
        if not isinstance(raw, dict):
            from bot.standin.web_api import _invalid_arguments

            raise _invalid_arguments("failed to parse view: expected a JSON object")
        return raw

    def stats(self) -> JSON:
        return {
            "counts": dict(self.counts),
            "errors": dict(self.errors),
            "first_at": dict(self.first_at),
            "last_at": dict(self.last_at),
            "sizes": dict(self.sizes),
            "examples": self.examples,
            "now": time.monotonic(),
        }

    def reset_stats(self) -> None:
        self.counts.clear()
        self.errors.clear()
        self.first_at.clear()
        self.last_at.clear()
        self.sizes.clear()
        self.examples = {}


async def serve(port: int, strict: bool, duration: float, record_sizes: bool = False) -> None:
    fake = BenchSlack(strict=strict, record_sizes=record_sizes)
    for n in range(USERS):
        fake.add_user(user_id(n), name=f"rep{n}", real_name=user_name(n))
    base_url = await fake.start(port=port)
    # The counters live on a second small server, so they never share a route with the API.
    app = web.Application()

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(fake.stats())

    async def reset(_request: web.Request) -> web.Response:
        fake.reset_stats()
        return web.json_response({"ok": True})

    app.router.add_get("/bench/stats", stats)
    app.router.add_post("/bench/reset", reset)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stats_port = runner.addresses[0][1]
    print(f"ready {base_url} http://127.0.0.1:{stats_port}", flush=True)
    try:
        # Bounded: the orchestrator stops it long before; this is the backstop.
        await asyncio.sleep(duration)
    finally:
        await runner.cleanup()
        await fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="API port (0: any)")
    parser.add_argument("--strict", action="store_true", help="validate Block Kit as Slack does")
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    parser.add_argument(
        "--record-sizes", action="store_true", help="sum each method's argument sizes"
    )
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.strict, args.max_seconds, args.record_sizes))


if __name__ == "__main__":
    main()
