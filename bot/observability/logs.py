"""Logging for operators: a level, text or one JSON object a line, who a line is about.

The team, user and request a line belongs to are context variables, set around each request
the Bolt app dispatches (bot.wiring.metrics.instrument) and by the dispatcher for each message
it sends; the listener tasks Bolt starts inherit them. Every line goes through a redaction of
Slack tokens and SQL parameters, a safety net for what reaches a log line by accident (an
exception's text, a library's debug line).
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

team_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("team", default=None)
user_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("user", default=None)
request_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)

# Bot, user, app-level, refresh and config tokens: xoxb-, xoxp-, xoxe-, xoxe.xoxp-, xapp-...
TOKEN = re.compile(r"\b(xox[a-z]?(?:\.xox[a-z])?|xapp)-[A-Za-z0-9-]+")
# A database error's text carries the statement's parameters (names, notes, emails).
SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*\]")
# PostgreSQL's DETAIL line repeats the offending row's values ("Key (team_id, name_key)=(T1,
# jane doe) already exists."): a contact's name.
SQL_DETAIL = re.compile(r"\bDETAIL:[^\n]*")
# Bolt logs the whole body of a request whose signature fails (anyone's forgery, or Slack's
# genuine but late submission with its note): the line is replaced, never logged as Bolt wrote it.
REFUSED_SIGNATURE = "refused a request whose signature did not verify or was older than 5 minutes"

# Libraries whose lines below these levels carry request bodies, headers, or SQL with its
# parameters (names, notes): never logged, whatever INTROBOT_LOG_LEVEL says.
FLOOR_LEVELS = {
    "slack_bolt": logging.INFO,
    "slack_sdk": logging.INFO,
    "sqlalchemy": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "psycopg": logging.WARNING,
}
# Loggers whose library asks their own level (`logger.level <= DEBUG`), not the level in
# effect, before building a debug line: left at NOTSET, slack_sdk renders every Web API call's
# arguments and its answer (whole messages and views) as text for each call, for lines the
# floor above drops. They get their library's floor themselves.
OWN_LEVEL_READ = ("slack_sdk.web.async_base_client", "slack_sdk.web.base_client")
# INFO lines that repeat without telling an operator anything, shown only at DEBUG: APScheduler's
# "Running job" and "executed successfully" every sweep, Alembic's plugin list at every start.
DEBUG_ONLY = ("apscheduler.executors.default", "alembic.runtime.plugins")


def redact(text: str) -> str:
    # Each pattern starts with a literal: a line without it is left alone without a regex scan
    # (most lines, the access log's one per request among them).
    if "xox" in text or "xapp" in text:
        text = TOKEN.sub(r"\1-[redacted]", text)
    if "[parameters: " in text:
        text = SQL_PARAMETERS.sub("[parameters: hidden]", text)
    if "DETAIL:" in text:
        text = SQL_DETAIL.sub("DETAIL: [hidden]", text)
    return text


def bound(
    *, team: str | None = None, user: str | None = None, request: str | None = None
) -> contextlib.AbstractContextManager[None]:
    """Name the team, user and request the lines logged inside belong to."""
    return _Bound(team, user, request)


class _Bound(contextlib.AbstractContextManager[None]):
    """`bound`'s context: a plain class, not a generator (it is entered for every request
    and every message sent)."""

    __slots__ = ("_tokens", "_values")

    def __init__(self, team: str | None, user: str | None, request: str | None) -> None:
        self._values = (team, user, request)
        self._tokens: list[contextvars.Token[str | None]] = []

    def __enter__(self) -> None:
        team, user, request = self._values
        if team:
            self._tokens.append(team_var.set(team))
        if user:
            self._tokens.append(user_var.set(user))
        if request:
            self._tokens.append(request_var.set(request))

    def __exit__(self, *exc: object) -> None:
        for token in reversed(self._tokens):
            token.var.reset(token)
        self._tokens.clear()


class _ContextFilter(logging.Filter):
    """Adds the context to each record; drops a library's lines below its floor (Bolt sets its
    own loggers' levels from the root's when an app is made, so a level alone won't hold)."""

    def filter(self, record: logging.LogRecord) -> bool:
        library = record.name.split(".", 1)[0]
        if record.levelno < FLOOR_LEVELS.get(library, logging.NOTSET):
            return False
        if library == "slack_bolt" and record.name.endswith("RequestVerification"):
            record.msg, record.args = REFUSED_SIGNATURE, None
        record.team = team_var.get()
        record.user = user_var.get()
        record.request_id = request_var.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        known = [
            f"{key}={value}"
            for key in ("team", "user", "request_id")
            if (value := getattr(record, key, None))
        ]
        return redact(f"{line} [{' '.join(known)}]" if known else line)


class JsonFormatter(logging.Formatter):
    """One JSON object a line; a traceback stays inside its line as the "exception" field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("team", "user", "request_id"):
            if value := getattr(record, key, None):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = redact(record.exc_text)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Replace the root logger's handlers with one writing to stderr in the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = logging.getLevelNamesMapping()[level.upper()]
    root.setLevel(numeric)
    # Neither format shows where a line was logged from, nor its thread or process: leave
    # them out of every record (logging walks the stack for the caller of each line).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name, floor in FLOOR_LEVELS.items():
        logging.getLogger(name).setLevel(max(numeric, floor))
    for name in OWN_LEVEL_READ:
        logging.getLogger(name).setLevel(max(numeric, FLOOR_LEVELS[name.split(".", 1)[0]]))
    for name in DEBUG_ONLY:
        logging.getLogger(name).setLevel(
            logging.NOTSET if numeric <= logging.DEBUG else logging.WARNING
        )
