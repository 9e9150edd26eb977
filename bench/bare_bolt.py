"""The baseline: a bare Bolt app that only acks the routes the benchmark drives.

Built and served the way `introbot serve` is (bot/wiring/app.py, server.py and cli.py): an
AsyncApp with a Web API client pointed at the same fake Slack, POST /slack/events read as text
and handed to Bolt as an AsyncBoltRequest, aiohttp's AppRunner with its access log, logging at
INFO. Only the listeners differ: each one just `await ack()`.

`python -m bench.bare_bolt --port PORT --api-url URL`
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bench.common import BOT_TOKEN, SIGNING_SECRET

BOLT_KEY = web.AppKey("bolt", AsyncApp)


def bare_app(api_url: str) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url, timeout=10),
        signing_secret=SIGNING_SECRET,
        raise_error_for_unhandled_request=False,
    )

    async def just_ack(ack: AsyncAck) -> None:
        await ack()

    app.command("/intro")(just_ack)
    app.view("intro_request_modal")(just_ack)
    app.action("intro_accept")(just_ack)
    return app


async def slack_events(request: web.Request) -> web.Response:
    body = await request.text()
    bolt_request = AsyncBoltRequest(
        body=body, query=request.query_string, headers=dict(request.headers)
    )
    bolt_response = await request.app[BOLT_KEY].async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def serve(port: int, api_url: str, max_seconds: float) -> None:
    app = web.Application(client_max_size=1024 * 1024)
    app[BOLT_KEY] = bare_app(api_url)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    logging.getLogger("bare_bolt").info("serving on http://127.0.0.1:%d/slack/events", port)
    try:
        await asyncio.sleep(max_seconds)  # bounded backstop; the orchestrator stops it first
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()
    # As `introbot serve` configures it (bot/wiring/cli.py).
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(args.port, args.api_url, args.max_seconds))


if __name__ == "__main__":
    main()
