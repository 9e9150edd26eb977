"""What introbot spends around its listeners (Bolt, aiohttp, its own wiring), A B B A.

`python -m bench.around_listeners accept --base-root PATH [--rounds 4] [--seconds 5]`

Serves the app as `introbot serve` builds it, with the listeners' own work replaced by an ack
(Accept's `act_and_deliver`, `/intro`'s `request`, the form's review), once from another
checkout (A, `--base-root`: e.g. `git worktree add --detach /tmp/base <commit>`) and once
from this one (B), each in its own process against one fake Slack; `bench.loadgen` drives
them in turn at 10 clients and each side's CPU per request is read from `/proc`. No database
work happens: what is left is what every request pays before and after its listener.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import REPO_DIR, cpu_seconds, python

PORTS = {"A": 18601, "B": 18602}


def stub_listener_work() -> None:
    """Each listener acks and does nothing else; its wrappers and registration stay."""
    import handlers.buttons as buttons
    import handlers.commands as commands
    import handlers.request_form as request_form

    async def no_work(*args: Any, **kwargs: Any) -> None:
        return None

    async def request(typed: Any) -> None:
        await typed.ack()

    async def check_submission(*args: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(review=SimpleNamespace(ok=False, errors=[]))

    buttons.act_and_deliver = no_work  # type: ignore[assignment]
    commands.SUB_COMMANDS["request"] = request
    request_form.check_submission = check_submission  # type: ignore[assignment]
    request_form.errors_by_block = lambda view, errors: {"target_name": "-"}  # type: ignore[assignment]


async def serve(port: int, api_url: str) -> None:
    from aiohttp import web

    from bench.common import BOT_TOKEN, SIGNING_SECRET
    from bot.observability import logs
    from bot.settings import load_settings
    from bot.wiring.app import build_services, create_app
    from bot.wiring.server import AccessLog, web_app

    for key in [key for key in os.environ if key.startswith(("SLACK_", "INTROBOT_", "DATA"))]:
        del os.environ[key]
    settings = load_settings(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        DATABASE_URL=f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/unused.db",
        INTROBOT_SLACK_RATE_SCALE="0",
    )
    logs.configure(settings.INTROBOT_LOG_LEVEL, settings.INTROBOT_LOG_FORMAT, open(os.devnull, "w"))  # noqa: SIM115
    stub_listener_work()
    services = build_services(settings)
    runner = web.AppRunner(
        web_app(create_app(services), services, sweep=False), access_log_class=AccessLog
    )
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


def start(root: Path, port: int, api_url: str) -> subprocess.Popen[str]:
    # This file run from the root's code: the base checkout need not have it.
    argv = [python(), "-P", __file__, "--serve", str(port), "--api-url", api_url]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(argv, env=env, cwd=root, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise SystemExit(f"the app from {root} did not start")
    return proc


async def compare(args: argparse.Namespace) -> dict[str, float]:
    from bench.cells import start_fake

    fake = await start_fake(False)
    pool = Path(tempfile.mkdtemp()) / "pool.json"
    # Accept presses on request ids nobody looks up: the work is stubbed.
    pool.write_text(
        json.dumps([[1000 + i, f"U{i:08d}", "C0BENCH", f"1.{i:06d}"] for i in range(100_000)])
    )
    sides = {
        "A": start(args.base_root, PORTS["A"], fake.api_url),
        "B": start(REPO_DIR, PORTS["B"], fake.api_url),
    }
    spent = {"A": 0.0, "B": 0.0}
    sent = {"A": 0, "B": 0}
    seq = 0
    try:
        for number in range(args.rounds):
            for name in ("A", "B") if number % 2 == 0 else ("B", "A"):
                before = cpu_seconds(sides[name].pid)
                url = f"http://127.0.0.1:{PORTS[name]}/slack/events"
                out = subprocess.run(
                    [python(), "-m", "bench.loadgen", "--url", url, "--scenario", args.scenario,
                     "--concurrency", "10", "--duration", str(args.seconds), "--warmup", "0.5",
                     "--seq-start", str(seq), "--pool", str(pool)],
                    cwd=REPO_DIR, capture_output=True, text=True, check=True,
                )  # fmt: skip
                time.sleep(0.3)
                cpu = cpu_seconds(sides[name].pid) - before
                count = int(json.loads(out.stdout.strip().splitlines()[-1])["sent"])
                seq += count + 1
                spent[name] += cpu
                sent[name] += count
                print(
                    f"round {number} {name}: {count} requests, {cpu * 1000 / count:.3f} ms each",
                    flush=True,
                )
    finally:
        for proc in sides.values():
            proc.terminate()
        fake.proc.stop()
    found = {name: spent[name] * 1000 / sent[name] for name in spent}
    found["B/A"] = found["B"] / found["A"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("scenario", nargs="?", choices=("accept", "intro", "submit"))
    parser.add_argument("--base-root", type=Path, help="the checkout to compare against (A)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--api-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.api_url))
        return
    if not args.scenario or not args.base_root:
        parser.error("a scenario and --base-root are required")
    found = asyncio.run(compare(args))
    a, b, ratio = found["A"], found["B"], found["B/A"]
    print(f"{args.scenario}: A {a:.3f} ms/request, B {b:.3f}, B/A {ratio:.3f}")


if __name__ == "__main__":
    sys.exit(main())
