"""INTROBOT_DB_WAIT: `introbot` waits for its database at start, then gives up in one line."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.wiring.database_wait import shown_url
from storage.db import sync_url
from tests.conftest import POSTGRES_URL

INTROBOT = shutil.which("introbot") or ""
pytestmark = pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")


def _env(**settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    return env | settings


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_gives_up_after_the_wait_with_one_line_and_no_password(tmp_path: Path) -> None:
    url = f"postgresql://introbot:s3cret@127.0.0.1:{_closed_port()}/introbot"
    started = time.monotonic()
    result = subprocess.run(
        [INTROBOT, "migrate"],
        env=_env(DATABASE_URL=url, INTROBOT_DB_WAIT="2s"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert "s3cret" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("introbot: DATABASE_URL postgresql://introbot:***@127.0.0.1:")
    assert "not reachable after 2 s" in last
    assert 2 <= elapsed < 20
    # One warning that it waits, not a line per attempt.
    assert result.stderr.count("not reachable yet") == 1


def test_no_wait_gives_up_at_once(tmp_path: Path) -> None:
    url = f"postgresql://introbot@127.0.0.1:{_closed_port()}/introbot"
    started = time.monotonic()
    result = subprocess.run(
        [INTROBOT, "migrate"],
        env=_env(DATABASE_URL=url, INTROBOT_DB_WAIT="0"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr.strip().splitlines()[-1]
    assert time.monotonic() - started < 10


def _said(process: subprocess.Popen[str], words: str) -> bool:
    """Read the process's stderr until a line with `words` (True) or its end (False)."""
    assert process.stderr is not None
    return any(words in line for line in process.stderr)


def test_starts_once_the_database_appears_during_the_wait(tmp_path: Path) -> None:
    """SQLite cannot open a file in a directory that isn't there yet (a volume not mounted)."""
    later = tmp_path / "volume"
    process = subprocess.Popen(
        [INTROBOT, "migrate"],
        env=_env(DATABASE_URL=f"sqlite:///{later / 'introbot.db'}", INTROBOT_DB_WAIT="30s"),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait for it to say it is waiting (however slowly it starts on a loaded machine).
    assert _said(process, "not reachable yet"), "gave up instead of waiting"
    assert process.poll() is None, "gave up instead of waiting"
    later.mkdir()
    assert process.wait(timeout=30) == 0
    assert (later / "introbot.db").exists()


class _DelayedProxy:
    """A TCP proxy to PostgreSQL that starts listening only when `open()` is called."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _closed_port()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    def open(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port))
        self._server = server
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def postgres() -> Iterator[str]:
    """A database of this test's own on the PostgreSQL server (migrate writes to it)."""
    server = make_url(POSTGRES_URL)
    name = f"{server.database}_dbwait"
    admin = create_engine(sync_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:  # noqa: BLE001 - no PostgreSQL on this machine
        admin.dispose()
        pytest.skip("PostgreSQL is not reachable at INTROBOT_POSTGRES_URL")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_postgres_that_starts_listening_during_the_wait(tmp_path: Path, postgres: str) -> None:
    url = make_url(postgres)
    proxy = _DelayedProxy((url.host or "127.0.0.1", url.port or 5432))
    through_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    process = subprocess.Popen(
        [INTROBOT, "migrate"],
        env=_env(DATABASE_URL=through_proxy, INTROBOT_DB_WAIT="30s"),
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _said(process, "not reachable yet"), "gave up instead of waiting"
        assert process.poll() is None, "gave up instead of waiting"
        proxy.open()
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
        proxy.close()


def test_shown_url_hides_the_password() -> None:
    assert shown_url("postgresql://u:p%40ss@db:5432/x") == "postgresql://u:***@db:5432/x"
    assert shown_url("sqlite:////var/lib/introbot.db") == "sqlite:////var/lib/introbot.db"


def test_giving_up_is_a_json_line_when_logs_are_json(tmp_path: Path) -> None:
    import json

    url = f"postgresql://introbot:s3cret@127.0.0.1:{_closed_port()}/introbot"
    result = subprocess.run(
        [INTROBOT, "migrate"],
        env=_env(DATABASE_URL=url, INTROBOT_DB_WAIT="1s", INTROBOT_LOG_FORMAT="json"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines[-1]["level"] == "CRITICAL"
    assert str(lines[-1]["message"]).startswith("DATABASE_URL postgresql://introbot:***@")
    assert "s3cret" not in result.stderr
