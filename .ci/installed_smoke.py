"""What a container runs, checked without the checkout: run it with the Python of a virtualenv
that has only the wheel installed, from a directory outside the repository.

It starts the Slack stand-in that ships in the wheel, then `introbot serve` from an empty
directory (the SQLite database lands there), waits for /healthz, and sends one signed `/intro`:
the bot must answer 200 and open its modal, as it would in a workspace. A forged request gets 401.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

import bot
from bot.standin import payloads
from bot.standin.payloads import SlackSender
from bot.standin.web_api import FakeSlack
from bot.wiring.scopes import BOT_SCOPES

SIGNING_SECRET = "smoke-signing-secret"
USER = "U0SMOKE"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_healthy(root: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"introbot serve exited with {server.returncode}")
            try:
                async with session.get(f"{root}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("introbot serve never answered /healthz")


async def main() -> None:
    checkout = Path(__file__).resolve().parent.parent
    if Path(bot.__file__).resolve().is_relative_to(checkout):
        raise SystemExit(f"bot was imported from the checkout ({bot.__file__}), not the wheel")
    fake = FakeSlack(scopes=BOT_SCOPES)
    fake.add_user(USER, name="smoke", real_name="Smoke Test")
    api_url = await fake.start()
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="introbot-serve-")
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
    }
    env.pop("DATABASE_URL", None)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "introbot"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=workdir,
        env=env,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(root, server)
        async with SlackSender(f"{root}/slack/events", SIGNING_SECRET) as slack:
            trigger = fake.issue_trigger_id(USER)
            status, _ = await slack.command(payloads.slash_command(USER, "Jane Doe", trigger))
            if status != 200:
                raise SystemExit(f"a signed /intro got {status}")
            deadline = time.monotonic() + 10
            while not fake.count("views.open") and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if not fake.count("views.open"):
                raise SystemExit("the signed /intro was acknowledged but no modal opened")
        async with SlackSender(f"{root}/slack/events", "not-the-secret") as forger:
            status, _ = await forger.command(payloads.slash_command(USER, "Jane Doe", "t"))
            if status != 401:
                raise SystemExit(f"a forged /intro got {status}, not 401")
        if not (Path(workdir) / "introbot.db").exists():
            raise SystemExit("the default SQLite database is not in the working directory")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        await fake.stop()
    if server.returncode != 0:
        raise SystemExit(f"introbot serve exited with {server.returncode} after SIGTERM")
    print(f"installed wheel at {Path(bot.__file__).parent}: /healthz 200, a signed /intro")
    print("opened the modal, a forged one got 401, SIGTERM ended it cleanly")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
