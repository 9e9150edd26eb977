"""The `introbot` command as a user runs it: settings errors, `serve`, `migrate`."""

from __future__ import annotations

import gc
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.wiring.cli import GC_FIRST_GENERATION, relax_garbage_collector

INTROBOT = shutil.which("introbot") or ""
pytestmark = pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INTROBOT, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c"},
            "SLACK_CLIENT_ID",
        ),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"}, "SLACK_CLIENT_SECRET"),
        ({"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DATABASE_URL": "mysql://x"},
            "DATABASE_URL",
        ),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "ftp://x"},
            "SLACK_API_URL",
        ),
    ],
)
def test_serve_stops_with_one_line_naming_the_setting(
    tmp_path: Path, overrides: dict[str, str], named: str
) -> None:
    result = _run("serve", "--port", "0", env=_base_env() | overrides, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr


def test_run_needs_an_app_token(tmp_path: Path) -> None:
    result = _run("run", env=_base_env() | {"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "SLACK_APP_TOKEN" in result.stderr


def test_migrate_creates_the_default_sqlite_file(tmp_path: Path) -> None:
    result = _run("migrate", env=_base_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "introbot.db").exists()


def test_serve_stops_with_the_migrations_one_line_when_they_fail(tmp_path: Path) -> None:
    """serve migrates in a child process (`introbot migrate`): its failure ends serve with
    the child's status, told once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    env = _base_env() | {
        "SLACK_BOT_TOKEN": "xoxb-1",
        "SLACK_SIGNING_SECRET": "s",
        "DATABASE_URL": f"postgresql://introbot@127.0.0.1:{closed}/introbot",
        "INTROBOT_DB_WAIT": "0",
    }
    result = _run("serve", "--port", "0", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("introbot: DATABASE_URL")
    assert result.stderr.count("introbot: DATABASE_URL") == 1


def _status(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> int:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    yield from _serve_in(tmp_path)


@pytest.fixture
def served_beside_a_package_named_storage(tmp_path: Path) -> Iterator[str]:
    """serve started in a folder holding a `storage` package that is not introbot's."""
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "__init__.py").write_text("raise SystemExit('not introbot')\n")
    yield from _serve_in(tmp_path)


def _serve_in(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    env = _base_env() | {
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "test-secret",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # nothing is called in these tests
        "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
    }
    process = subprocess.Popen(
        [INTROBOT, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if _status("GET", f"{url}/healthz") == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"introbot serve did not become healthy: {process.stderr}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serve_migrates_with_its_own_packages_whatever_the_working_folder(
    served_beside_a_package_named_storage: str,
) -> None:
    assert _status("GET", f"{served_beside_a_package_named_storage}/healthz") == 200


def test_serve_answers_health_and_refuses_unsigned_requests(served: str) -> None:
    assert _status("GET", f"{served}/healthz") == 200
    status = _status(
        "POST",
        f"{served}/slack/events",
        body=b"command=%2Fintro&text=",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 401


def test_python_dash_m_runs_the_same_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.wiring.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and "demo" in result.stdout


def test_version_is_the_installed_package_version(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = _run("--version", env=_base_env(), cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.strip() == f"introbot {version('introbot')}"


@pytest.mark.parametrize(
    ("command", "reads", "not_read"),
    [
        ("serve", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "DATABASE_URL"], ["SLACK_APP_TOKEN"]),
        ("run", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "INTROBOT_HEALTH_PORT"], []),
        ("migrate", ["DATABASE_URL", "INTROBOT_DB_WAIT"], ["SLACK_BOT_TOKEN"]),
    ],
)
def test_each_command_help_lists_its_settings_with_defaults(
    tmp_path: Path, command: str, reads: list[str], not_read: list[str]
) -> None:
    from bot.settings import DESCRIPTIONS

    result = _run(command, "--help", env=_base_env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for name in reads:
        line = next((line for line in lines if line.split()[:1] == [name]), None)
        assert line is not None, f"{name} missing from `introbot {command} --help`"
        assert DESCRIPTIONS[name] in line and "(default: " in line
    for name in not_read:
        assert not any(line.split()[:1] == [name] for line in lines), name
    assert "INTROBOT_LOG_LEVEL" in result.stdout


def test_serve_help_shows_option_defaults(tmp_path: Path) -> None:
    result = _run("serve", "--help", env=_base_env(), cwd=tmp_path)
    assert "(default: 3000)" in result.stdout and "(default: 0.0.0.0)" in result.stdout
    assert "DATABASE_URL" in result.stdout and "(default: sqlite:///./introbot.db)" in result.stdout


def test_top_level_help_names_every_command(tmp_path: Path) -> None:
    result = _run("--help", env=_base_env(), cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "serve", "migrate", "demo", "--version"):
        assert command in result.stdout
    assert "COMMAND --help" in result.stdout


def test_every_setting_is_described_and_in_the_readme() -> None:
    from bot.settings import DESCRIPTIONS, Settings

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    for name in Settings.model_fields:
        assert DESCRIPTIONS.get(name), f"{name} has no description in settings.DESCRIPTIONS"
        assert f"| `{name}` |" in readme, f"{name} has no row in the README's settings table"


def test_a_long_running_process_relaxes_the_garbage_collector() -> None:
    threshold = gc.get_threshold()
    try:
        relax_garbage_collector()
        assert gc.get_threshold()[0] == GC_FIRST_GENERATION
        assert gc.get_freeze_count() > 0  # startup's objects left out of the scans
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
