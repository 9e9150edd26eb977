"""What every part of the benchmark agrees on: secrets, users, names, ports, processes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.standin.payloads import TEAM_ID as TEAM_ID

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
# Where runs write: outputs, not sources (ignored by git). bench/results/ holds the one
# baseline docs/performance.md quotes.
RESULTS_DIR = BENCH_DIR / "results" / "runs"
LOG_DIR = RESULTS_DIR / "logs"

SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
# BENCH_DATABASE_URL names another database (the check of the same-work app uses the test
# suite's); the default is the benchmark's own, which `bench.run` drops and recreates.
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/introbot_bench"
)
DATABASE = DATABASE_URL.rsplit("/", 1)[1].split("?", 1)[0]
BOT_SCOPES = ("commands", "chat:write", "users:read", "files:read", "files:write", "im:write")

# The application_name each app's database connections carry (libpq reads PGAPPNAME): how
# bench.verify tells their writes apart and bench.run finds the backends serving each.
APP_NAMES = {"introbot": "bench-introbot", "same_work": "bench-same-work"}

# A team of reps: enough that "thousands of reps" is not hypothetical.
USERS = 2000

FIRST_NAMES = (
    "Jane", "Anna", "Omar", "Li", "Maria", "Noah", "Aiko", "Ravi", "Sara", "Lukas",
    "Chen", "Ivan", "Fatima", "Diego", "Emma", "Kofi", "Priya", "Tomas", "Yuki", "Amara",
    "Hugo", "Nadia", "Felix", "Mei", "Jonas", "Leila", "Mateo", "Ines", "Arjun", "Zoe",
)  # fmt: skip
_SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "ta",
    "ne",
    "lo",
    "sa",
    "ve",
    "ri",
    "do",
    "ba",
    "ku",
    "fe",
    "gi",
    "ho",
    "la",
    "mu",
    "no",
    "pe",
    "zu",
]  # 20 ** 3 = 8,000 surnames


def user_id(n: int) -> str:
    """The n-th rep's Slack user id (0-based)."""
    return f"UB{n % USERS:07d}"


def user_name(n: int) -> str:
    return f"{FIRST_NAMES[n % len(FIRST_NAMES)]} Rep{n % USERS}"


def surname(n: int) -> str:
    n %= len(_SYLLABLES) ** 3
    a, rest = divmod(n, len(_SYLLABLES) ** 2)
    b, c = divmod(rest, len(_SYLLABLES))
    return (_SYLLABLES[a] + _SYLLABLES[b] + _SYLLABLES[c]).capitalize()


def target_name(n: int) -> str:
    return f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {surname(n * 7919 + n // len(FIRST_NAMES))}"


def submitted_name(i: int) -> str:
    """The person the i-th submission asks for. Its requester comes round every USERS
    submissions (`bench.loadgen`), each time for a surname of its own, for 8,000 rounds: no
    submission repeats an ask its requester has open, which the form would refuse."""
    rounds, requester = divmod(i, USERS)
    return f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {surname(rounds + 4 * requester)}"


def company(n: int) -> str:
    return f"{surname(n * 31 + 5)} {('Logistics', 'Labs', 'Health', 'Bank', 'Foods')[n % 5]}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def python() -> str:
    return sys.executable


def introbot_executable() -> str:
    candidate = Path(sys.executable).with_name("introbot")
    return str(candidate) if candidate.exists() else "introbot"


def serve_env(api_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "INTROBOT_", "DATABASE_URL"))
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=api_url,
        DATABASE_URL=DATABASE_URL,
        # Reminders are due days later; the sweep must not run during latency cells.
        INTROBOT_SWEEP_INTERVAL="1d",
        INTROBOT_WORKING_HOURS="always",
        # The fake here answers at once and enforces no limits; the baselines do not pace.
        INTROBOT_SLACK_RATE_SCALE="0",
    )
    env.update(extra)
    return env


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child process, with this checkout importable (bench is not
    an installed package)."""
    found = dict(os.environ if env is None else env)
    found["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    return found


class Proc:
    """A child process with its output in a log file, stopped by its own pid only."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOG_DIR / f"{name}.log"
        self._log = self.log_path.open("w")
        self.popen = subprocess.Popen(
            argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=child_env(env),
            # A working directory without a .env, so only the environment given counts.
            cwd=str(RESULTS_DIR),
        )
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


async def wait_http(url: str, timeout: float = 60.0, proc: Proc | None = None) -> None:
    """Until GET url answers 200 (bounded)."""
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc is not None and not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            try:
                async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {timeout}s")


async def get_json(url: str, method: str = "GET", payload: Any = None) -> Any:
    import aiohttp

    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, url, json=payload, timeout=aiohttp.ClientTimeout(total=30)
        ) as response,
    ):
        response.raise_for_status()
        return json.loads(await response.text())
