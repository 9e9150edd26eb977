"""The `introbot` command: run (Socket Mode), serve (HTTP), migrate, demo, manifest."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

from bot.observability import logs
from bot.settings import Settings, SettingsError, load_settings

logger = logging.getLogger("introbot")

# A request allocates thousands of short-lived objects, which reference counting frees; the
# cyclic collector's scans, every 700 allocations by default, cost about a sixth of a
# submission's CPU (docs/performance.md, "The relaxed garbage collector").
GC_FIRST_GENERATION = 50_000


def relax_garbage_collector() -> None:
    """For a long-running process, once the app is built: what startup loaded lives as long
    as the process, so it is frozen out of the collector's scans, and the collector runs
    less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_GENERATION, 20, 20)


def _parser() -> argparse.ArgumentParser:
    from bot.wiring.help import Formatter, settings_epilog, version

    parser = argparse.ArgumentParser(
        prog="introbot",
        description=__doc__,
        formatter_class=Formatter,
        epilog="Settings come from the environment or a .env file in the working directory;\n"
        "`introbot COMMAND --help` lists the ones a command reads.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (
        ("run", "connect to Slack over Socket Mode (needs SLACK_APP_TOKEN)"),
        ("serve", "serve POST /slack/events, GET /healthz, /readyz and /metrics"),
        ("migrate", "apply database migrations and exit"),
        ("demo", "the whole flow on this machine, no Slack workspace needed"),
    ):
        command = commands.add_parser(
            name,
            help=help_text,
            description=help_text,
            formatter_class=Formatter,
            epilog=settings_epilog(name),
        )
        if name == "serve":
            command.add_argument("--port", type=int, default=3000, help="port to listen on")
            command.add_argument("--host", default="0.0.0.0", help="address to listen on")
    manifest = commands.add_parser(
        "manifest",
        help="print the Slack app manifest to paste at api.slack.com/apps",
        description="print the Slack app manifest to paste at api.slack.com/apps",
        formatter_class=Formatter,
        epilog=settings_epilog("manifest"),
    )
    manifest.add_argument(
        "--url",
        metavar="https://HOST",
        default=argparse.SUPPRESS,
        help="for `introbot serve` at this public URL; without it, for Socket Mode",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    json_logs = False
    try:
        if args.command == "demo":
            # The demo's output is the story; keep library chatter out of it.
            logs.configure("WARNING")
            from bot.standin.demo import run_demo

            return asyncio.run(run_demo())
        if args.command == "manifest":
            return _print_manifest(getattr(args, "url", None))
        settings = load_settings()
        logs.configure(settings.INTROBOT_LOG_LEVEL, settings.INTROBOT_LOG_FORMAT)
        json_logs = settings.INTROBOT_LOG_FORMAT == "json"
        if args.command == "migrate":
            _migrate(settings)
            return 0
        if args.command == "serve":
            settings.require_serving_mode()
            failed = _migrate_in_a_child()
            if failed:
                return failed
            asyncio.run(_serve(settings, args.host, args.port))
            return 0
        settings.require("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
        failed = _migrate_in_a_child()
        if failed:
            return failed
        asyncio.run(_run_socket_mode(settings))
        return 0
    except SettingsError as exc:
        if json_logs:  # every line of stderr stays one JSON object
            logger.critical("%s", exc)
        else:
            print(f"introbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _print_manifest(url: str | None) -> int:
    from bot.wiring.manifest import ManifestUrlError, render_manifest

    try:
        sys.stdout.write(render_manifest(url))
    except ManifestUrlError as exc:
        print(f"introbot: --url {exc}", file=sys.stderr)
        return 2
    return 0


def _migrate(settings: Settings) -> None:
    from bot.wiring.database_wait import wait_for_database
    from storage.migrate import upgrade_to_head

    wait_for_database(settings.DATABASE_URL, settings.db_wait)
    try:
        upgrade_to_head(settings.DATABASE_URL, settings.contact_hash_key)
    except Exception as exc:  # noqa: BLE001 - one clear line, not a traceback
        raise SettingsError(f"DATABASE_URL could not be migrated: {exc}") from exc


def _migrate_in_a_child() -> int:
    """`introbot migrate`, in a process of its own, with the same environment and working
    directory: Alembic, Mako and the migrations (some 8 MB) would otherwise stay resident in
    the long-running process (docs/performance.md, "Memory"). Its exit status: 0, or the
    failure it has already told on stderr."""
    # The child imports from this process's path and not from the working directory (-P), so
    # a folder there named like one of introbot's packages cannot stand in for it.
    path = os.pathsep.join(entry for entry in sys.path if entry)
    return subprocess.run(
        [sys.executable, "-P", "-m", "bot.wiring.cli", "migrate"],
        env={**os.environ, "PYTHONPATH": path},
        check=False,
    ).returncode


async def _serve(settings: Settings, host: str, port: int) -> None:
    from aiohttp import web

    from bot.wiring.app import build_services, create_app
    from bot.wiring.server import AccessLog, web_app

    services = build_services(settings)
    app = web_app(create_app(services), services)
    relax_garbage_collector()
    runner = web.AppRunner(app, access_log_class=AccessLog)
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
    from bot.wiring.app import build_services, create_app
    from bot.wiring.health import start_operator_server
    from bot.wiring.socket_mode import SocketModeConnection
    from bot.wiring.sweeper import start_sweeper

    services = build_services(settings)
    await services.open_http()
    connection = SocketModeConnection(create_app(services), services)
    relax_garbage_collector()
    # As in _serve: SIGTERM and Ctrl-C end the wait, so envelopes under way are acknowledged
    # and work after their acks is drained before the process ends.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    scheduler = None
    operator_server = await start_operator_server(services)  # INTROBOT_HEALTH_PORT, if set
    try:
        await connection.check_app_token()  # before any work starts
        scheduler = start_sweeper(services)
        await connection.run_until(stop)
    finally:
        await connection.stop()
        if operator_server is not None:
            await operator_server.cleanup()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        await services.close()


if __name__ == "__main__":
    raise SystemExit(main())
