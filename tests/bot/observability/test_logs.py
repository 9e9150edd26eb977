"""Logs: JSON a line, who a line is about, nothing secret or personal in them."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from slack_sdk.web import WebClient
from slack_sdk.web.async_client import AsyncWebClient

from bot.observability import logs
from bot.standin import payloads
from bot.standin.payloads import SlackSender
from bot.standin.stack import DEFAULT_PEOPLE
from bot.standin.web_api import FakeSlack
from bot.wiring.scopes import BOT_SCOPES
from tests.handlers.flow import CONNECTOR, GOOD_BLURB, REQUESTER, good_values

INTROBOT = shutil.which("introbot") or ""
SIGNING_SECRET = "logs-test-signing-secret"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """logs.configure changes the root logger and some libraries' levels: put them back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = (*logs.FLOOR_LEVELS, *logs.DEBUG_ONLY, *logs.OWN_LEVEL_READ)
    libraries = {name: logging.getLogger(name).level for name in names}
    record_fields = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")
    recorded = {field: getattr(logging, field) for field in record_fields}
    yield
    for field, value in recorded.items():
        setattr(logging, field, value)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, library_level in libraries.items():
        logging.getLogger(name).setLevel(library_level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_context_and_redact_tokens(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("INFO", "json", stream)
    log = logging.getLogger("introbot.test")
    with logs.bound(team="T1", user="U1", request="r-1"):
        log.info("sent with %s", "xoxb-1234-5678-abcdef")
        try:
            raise RuntimeError("app token xapp-1-A1-2-abc in a traceback")
        except RuntimeError:
            log.exception("failed")
    log.info("outside any request")
    first, second, third = _lines(stream)
    assert first["message"] == "sent with xoxb-[redacted]"
    assert (first["team"], first["user"], first["request_id"]) == ("T1", "U1", "r-1")
    assert first["level"] == "INFO" and first["logger"] == "introbot.test"
    assert str(first["time"]).endswith("+00:00")
    assert "xapp-1" not in str(second["exception"]) and "xapp-[redacted]" in str(
        second["exception"]
    )
    assert "team" not in third and "user" not in third


def test_text_format_redacts_too(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", "text", stream)
    with logs.bound(team="T1"):
        logging.getLogger("x").debug("refresh token xoxe.xoxp-1-abc and xoxe-1-def")
    line = stream.getvalue().strip()
    assert "xoxe.xoxp-[redacted]" in line and "xoxe-[redacted]" in line and "abc" not in line
    assert line.endswith("[team=T1]")


def test_sweep_chatter_only_at_debug(restore_logging: None) -> None:
    sweep_logger = logging.getLogger("apscheduler.executors.default")
    logs.configure("INFO", "json", io.StringIO())
    assert not sweep_logger.isEnabledFor(logging.INFO)
    assert sweep_logger.isEnabledFor(logging.WARNING)
    logs.configure("DEBUG", "json", io.StringIO())
    assert sweep_logger.isEnabledFor(logging.DEBUG)
    # Bolt's and slack_sdk's debug lines hold request bodies and headers: never logged.
    assert not logging.getLogger("slack_sdk.web.base_client").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("slack_bolt.AsyncApp").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_web_api_clients_build_no_debug_line_nobody_sees(restore_logging: None, level: str) -> None:
    """slack_sdk asks its logger's own level, not the one in effect, before it renders each
    call's arguments and answer as text for a debug line the floor would drop."""
    logs.configure(level, "json", io.StringIO())
    assert AsyncWebClient().logger.level > logging.DEBUG
    assert WebClient().logger.level > logging.DEBUG


@pytest.mark.parametrize(
    ("line", "logged"),
    [
        ("POST /slack/events 200 in 0.004 s", "POST /slack/events 200 in 0.004 s"),
        (
            "token xoxe.xoxp-1-abc and xapp-1-A0 failed\n[parameters: ('Jane',)]\n"
            "DETAIL:  Key (name_key)=(jane doe) already exists.",
            "token xoxe.xoxp-[redacted] and xapp-[redacted] failed\n[parameters: hidden]\n"
            "DETAIL: [hidden]",
        ),
    ],
    ids=["clean", "everything"],
)
def test_redaction(line: str, logged: str) -> None:
    assert logs.redact(line) == logged


def test_records_leave_out_what_no_format_shows(restore_logging: None) -> None:
    """The caller (a walk up the stack per line), the thread and the process."""
    logs.configure("INFO", "text", io.StringIO())
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    logger = logging.getLogger("introbot.test")
    logger.addHandler(keep := Keep())
    try:
        logger.warning("a line")
    finally:
        logger.removeHandler(keep)
    [record] = kept
    assert (record.lineno, record.threadName, record.process) == (0, None, None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _wait_ready(url: str, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 30
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline and process.returncode is None:
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("introbot serve did not become ready")


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_serve_logs_json_lines_without_secrets_or_contact_details(
    tmp_path: Path, level: str
) -> None:
    fake = FakeSlack(scopes=BOT_SCOPES)
    for person in DEFAULT_PEOPLE:
        fake.add_user(person.user_id, name=person.name.split()[0].lower(), real_name=person.name)
    api_url = await fake.start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "VIRTUAL_ENV")}
    env |= {
        "SLACK_BOT_TOKEN": fake.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'logs.db'}",
        "INTROBOT_SWEEP_INTERVAL": "1s",
        "INTROBOT_WORKING_HOURS": "always",
        "INTROBOT_LOG_FORMAT": "json",
        "INTROBOT_LOG_LEVEL": level,
    }
    process = await asyncio.create_subprocess_exec(
        INTROBOT,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(f"{root}/readyz", process)
        async with SlackSender(f"{root}/slack/events", SIGNING_SECRET) as slack:
            trigger = fake.issue_trigger_id(REQUESTER)
            await slack.command(payloads.slash_command(REQUESTER, "Jane Doe", trigger))
            await _until(lambda: fake.count("views.open") == 1)
            view = fake.calls_to("views.open")[-1].args["view"]
            # The connector's card cannot be delivered: an error line about that message.
            fake.fail_next("chat.postMessage", error="user_not_found")
            status, _ = await slack.interaction(
                payloads.view_submission(REQUESTER, view, good_values())
            )
            assert status == 200
            await _until(lambda: fake.count("chat.postMessage") >= 3)
            # Signed junk: logged as malformed, without its body.
            junk = urlencode({"payload": "{Jane Doe's phone +1 555 0100"})
            content_type = "application/x-www-form-urlencoded"
            status, _ = await slack.post_raw(
                junk, content_type, slack.signed_headers(junk, content_type)
            )
            assert status == 400
            # A forgery, and a genuine submission that arrived too late: refused, and neither
            # body reaches the log (a forger could write lines into it; the note is private).
            forged = urlencode({"payload": "Jane Doe\nERROR forged line, phone 555 0100"})
            status, _ = await slack.post_raw(forged, content_type, {"Content-Type": content_type})
            assert status == 401
            late = urlencode({"payload": json.dumps({"type": "view_submission", "n": GOOD_BLURB})})
            old = int(time.time()) - 600
            status, _ = await slack.post_raw(
                late, content_type, slack.signed_headers(late, content_type, timestamp=old)
            )
            assert status == 401
        # The OAuth redirect carries its code and state in the query string.
        async with aiohttp.ClientSession() as session:
            await session.get(f"{root}/slack/oauth_redirect?code=oauth-code-77&state=st-88")
        await asyncio.sleep(2.5)  # a few sweeps
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        await fake.stop()

    text = stderr.decode()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    assert lines, "no log lines"
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line), line
    secrets = (fake.token, SIGNING_SECRET, "xoxb-", "Jane", "555 0100", GOOD_BLURB[:30])
    for secret in (*secrets, "forged line", "oauth-code-77", "st-88"):
        assert secret not in text, secret
    failed = [line for line in lines if "failed for good" in str(line["message"])]
    assert len(failed) == 1
    assert failed[0]["team"] == "T0FAKE" and failed[0]["user"] in (CONNECTOR, REQUESTER)
    assert str(failed[0]["request_id"]).startswith("message-")
    assert any("malformed Slack payload" in str(line["message"]) for line in lines)
    refused = [line for line in lines if line["message"] == logs.REFUSED_SIGNATURE]
    assert refused  # the late one reached Bolt; the forgery was refused before it
    assert any(str(line["message"]).startswith("GET /slack/oauth_redirect ") for line in lines)
    below_floor = [
        line
        for line in lines
        if str(line["logger"]).startswith(("slack_bolt", "slack_sdk", "sqlalchemy", "aiosqlite"))
        and line["level"] == "DEBUG"
    ]
    assert below_floor == []
    sweeps = [line for line in lines if "Running job" in str(line["message"])]
    if level == "INFO":
        assert sweeps == []
    else:
        assert sweeps, "APScheduler's sweep lines show at DEBUG"
        acked = [line for line in lines if "acked in" in str(line["message"])]
        assert {str(line["message"]).split()[0] for line in acked} >= {
            "slash_command",
            "view_submission",
        }
        assert all(line["team"] == "T0FAKE" and line["user"] == REQUESTER for line in acked)
        assert all(line.get("request_id") for line in acked)


async def _until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.02)


def test_sql_parameters_in_a_database_error_stay_out_of_the_log(
    restore_logging: None, tmp_path: Path
) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    stream = io.StringIO()
    logs.configure("INFO", "json", stream)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE people (email TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO people VALUES (:email)"), {"email": "jane@acme.com"})
        try:
            connection.execute(
                text("INSERT INTO people VALUES (:email)"), {"email": "jane@acme.com"}
            )
        except Exception as exc:
            assert "jane@acme.com" in str(exc)  # SQLAlchemy's own text carries it
            logging.getLogger("x").warning("insert failed: %s", exc, exc_info=True)
    engine.dispose()
    (line,) = _lines(stream)
    assert "jane@acme.com" not in json.dumps(line)
    assert "[parameters: hidden]" in str(line["message"])
    assert "[parameters: hidden]" in str(line["exception"])


def test_postgresqls_detail_line_stays_out_of_the_log(restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("INFO", "text", stream)
    error = (
        'duplicate key value violates unique constraint "uq_contacts_owner_name"\n'
        "DETAIL:  Key (team_id, owner_id, name_key)=(T1, U1, jane doe) already exists."
    )
    logging.getLogger("x").warning("insert failed: %s", error)
    line = stream.getvalue()
    assert "jane doe" not in line
    assert "DETAIL: [hidden]" in line and "uq_contacts_owner_name" in line
