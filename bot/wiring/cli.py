"""The `introbot` command: run (Socket Mode), serve (HTTP), migrate, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from aiohttp import web

from bot.wiring.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("introbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="introbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)")
    serve = commands.add_parser("serve", help="serve POST /slack/events and GET /healthz")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--host", default="0.0.0.0")
    commands.add_parser("migrate", help="apply database migrations and exit")
    commands.add_parser("demo", help="the whole flow on this machine, no Slack workspace needed")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        # The demo's output is the story; keep library chatter out of it.
        level=logging.WARNING if args.command == "demo" else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "demo":
            from bot.standin.demo import run_demo

            return asyncio.run(run_demo())
        settings = load_settings()
        if args.command == "migrate":
            _migrate(settings)
            return 0
        if args.command == "serve":
            settings.require_serving_mode()
            _migrate(settings)
            asyncio.run(_serve(settings, args.host, args.port))
            return 0
        settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
        _migrate(settings)
        asyncio.run(_run_socket_mode(settings))
        return 0
    except SettingsError as exc:
        print(f"introbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _migrate(settings: Settings) -> None:
    from bot.wiring.app import migrate

    try:
        migrate(settings)
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        raise SettingsError(f"DATABASE_URL could not be migrated: {exc}") from exc


async def _serve(settings: Settings, host: str, port: int) -> None:
    from bot.wiring.app import build_services, create_app
    from bot.wiring.server import web_app

    services = build_services(settings)
    runner = web.AppRunner(web_app(create_app(services), services))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.info("introbot serving on http://%s:%d/slack/events", host, port)
    # SIGTERM (systemd, Kubernetes) and Ctrl-C end the wait, so in-flight work is drained and
    # leased messages are released by the cleanup below rather than by lease expiry.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await services.close()


async def _run_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    from bot.delivery.scheduler import start_sweeper
    from bot.wiring.app import build_services, create_app

    services = build_services(settings)
    await services.open_http()
    scheduler = start_sweeper(services)
    try:
        await AsyncSocketModeHandler(create_app(services), settings.SLACK_APP_TOKEN).start_async()
    finally:
        scheduler.shutdown(wait=False)
        await services.close()


if __name__ == "__main__":
    raise SystemExit(main())
