"""PostgreSQL's write path: a state change, or a new request, in one statement that commits on
its own (one round trip).

The same change as the ORM path (`orm_path`), planned by the same rules (`plan`): what a change
promises is planned in Python, once for each status it can lead to, with stand-ins for what
only the row knows (who the parties are, the event's id, a new request's id); the statement
fills them in. Its dedupe keys are built in SQL from `plan`'s key formats, and its outdated
reminders found by `plan`'s reminder field, so neither is written here a second time.
Statements are built once per action and set of columns; their words come from the code's own
enums, formats and column names, never from input.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import instance_state

from bot.intro.cadence import Cadence
from bot.intro.crm import CrmStage, stage_of
from bot.intro.states import ACTOR, OPEN_STATUSES, Action, Status
from bot.intro.workflow import plan
from bot.intro.workflow.results import HISTORY_SPAN, MET_OUTCOMES, History, Lease, Outcome
from storage.db import execute_raw, one_statement
from storage.models import (
    CARD_KINDS,
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    UTCDateTime,
    built,
)

# Stand-ins in a change planned before its statement runs, filled in by the statement.
_REQUESTER, _CONNECTOR, _OWNER, _EVENT_ID = "<requester>", "<connector>", "<owner>", "<event>"
_REQUEST_COLUMNS = tuple(column.key for column in IntroRequest.__table__.c)


def expressible(action: Action) -> bool:
    """Whether one statement can make `action`'s change: one UPDATE can move it
    (`plan.movable`), and nothing else in Python checks or follows it (a suggestion's checks,
    the second voice after no response)."""
    return plan.movable(action) and action not in (
        Action.REDIRECT,
        Action.SUGGEST_PERSON,
        Action.REPORT_NO_RESPONSE,
    )


def sql_key(key_format: str, **fields: str) -> str:
    """A `plan` key format as a SQL expression, each field given as a SQL expression."""
    parts = []
    for literal, name in plan.format_fields(key_format):
        if literal:
            parts.append("'" + literal.replace("'", "''") + "'")
        if name is not None:
            parts.append(fields[name])
    return " || ".join(parts)


def _outdated_sql(data: str, status: str) -> str:
    """`plan.is_outdated` in SQL: the reminder `data` expects no longer `status`."""
    return (
        f"NOT EXISTS (SELECT 1 FROM json_array_elements_text({data} -> '{plan.EXPECTS}') "
        f"AS e(status) WHERE e.status = {status})"
    )


def request_from(row: Any) -> IntroRequest:
    """The request a statement returned, its timestamps in UTC as the ORM would read them."""
    values = {name: getattr(row, name) for name in _REQUEST_COLUMNS}
    for name, value in values.items():
        if isinstance(value, datetime):
            values[name] = value.astimezone(UTC)
    return built(IntroRequest, **values)


# New messages planned in Python, handed to a one-statement write as one JSON document of
# rows rather than as arrays (one element per message): psycopg dumps an array element by
# element, finding each one's type, which cost more CPU than the statement's other work in
# Python. Each column with its type in SQL; `key` is the dedupe key's own part
# (`plan.key_within`); `target`, for a state change, the status the message is planned for;
# `data` goes in as JSON itself (in the text json.dumps gives it, which a `json` column keeps).
_PLANNED = (
    ("kind", "text"),
    ("recipient", "text"),
    ("key", "text"),
    ("data", "json"),
    ("due_at", "timestamptz"),
    ("status", "text"),
    ("attempts", "integer"),
    ("lease_owner", "text"),
    ("lease_until", "timestamptz"),
)
_PLANNED_RECORD = ", ".join(["target text", *(f"{name} {sql}" for name, sql in _PLANNED)])
_PLANNED_COLUMNS = ", ".join(name for name, _ in _PLANNED)
# The rows of `:planned`, numbered in their order (`seq`), as `p`.
_PLANNED_ROWS = f"""ROWS FROM (
                json_to_recordset(CAST(:planned AS json)) AS ({_PLANNED_RECORD})
            ) WITH ORDINALITY AS p(target, {_PLANNED_COLUMNS}, seq)"""


def _planned_rows(promised: Sequence[tuple[Status | None, OutboundMessage]]) -> str:
    """`promised` as `_PLANNED_RECORD`'s rows, one JSON array of objects."""
    return json.dumps(
        [
            {
                "target": target,
                "kind": m.kind,
                "recipient": m.recipient_id,
                "key": plan.key_within(m.dedupe_key),
                "data": m.data,
                "due_at": _iso(m.due_at),
                "status": m.status,
                "attempts": m.attempts,
                "lease_owner": m.lease_owner,
                "lease_until": _iso(m.lease_expires_at),
            }
            for target, m in promised
        ]
    )


def _iso(at: datetime | None) -> str | None:
    """An aware datetime as timestamptz reads it back, to the microsecond."""
    return None if at is None else at.isoformat()


# What a one-statement write returns of the messages it wrote, as one JSON array.
_WRITTEN_COLUMNS = "id, kind, recipient_id, dedupe_key, data, status, created_at"
_WRITTEN_JSON = f"(SELECT json_agg(json_build_array({_WRITTEN_COLUMNS}) ORDER BY id) FROM written)"


def written_due_now(row: Any, request: IntroRequest, lease: Lease | None) -> list[OutboundMessage]:
    """The messages due now (`plan.due_now`) among those a one-statement write returned, as
    written. Only those become objects: the reminders stay rows."""
    written = []
    for message_id, kind, recipient, key, data, status, created in row["written"] or []:
        if not plan.sent_at_once(kind):
            continue
        at = datetime.fromisoformat(created).astimezone(UTC)
        leased = lease is not None and status == DeliveryStatus.SENDING
        written.append(
            built(
                OutboundMessage,
                id=message_id,
                team_id=request.team_id,
                request_id=request.id,
                dedupe_key=key,
                kind=kind,
                recipient_id=recipient,
                data=data,
                status=status,
                due_at=at,
                created_at=at,
                attempts=1 if leased else 0,
                lease_owner=lease.owner if leased and lease else None,
                lease_expires_at=lease.until if leased and lease else None,
            )
        )
    return written


# --- a state change -----------------------------------------------------------------------------


async def act_at_once(
    sessions: async_sessionmaker[AsyncSession],
    team_id: str,
    request_id: int,
    actor_id: str,
    action: Action,
    values: dict[str, Any],
    lease: Lease | None,
    *,
    now: datetime,
    cadence: Cadence,
    webhooks_everywhere: bool = False,
    crm_everywhere: bool = False,
) -> Outcome | None:
    """The whole change in one statement: the compare-and-set, which is also the party check;
    its event; the reminders it makes moot cancelled; every message it promises written,
    those due now leased to `lease`; and the request as changed, with its cards, returned.
    None when no row moved, for the caller to find out why (with the ORM path)."""
    promised = _planned_by_target(team_id, request_id, action, values, lease, now, cadence)
    params: dict[str, Any] = {
        "request_id": request_id,
        "team_id": team_id,
        "actor_id": actor_id,
        "action": action.value,
        "now": now,
        "lease_owner": lease.owner if lease else None,
        "lease_until": lease.until if lease else None,
        "hooks_everywhere": webhooks_everywhere,
        "crm_everywhere": crm_everywhere,
        "planned": _planned_rows(promised),
        **{f"v_{name}": value for name, value in values.items()},
    }
    async with one_statement(sessions) as connection:
        statement = change_statement(action, tuple(values))
        rows = await execute_raw(connection, statement, params)
    if not rows:
        return None
    row = rows[0]
    request = request_from(row)
    return Outcome(request, written_due_now(row, request, lease), _cards_from(row, request))


def _planned_by_target(
    team_id: str,
    request_id: int,
    action: Action,
    values: dict[str, Any],
    lease: Lease | None,
    now: datetime,
    cadence: Cadence,
) -> list[tuple[Status, OutboundMessage]]:
    """What the change promises, for each status it can lead to (the statement keeps those of
    the status it reached), planned on a stand-in for the row."""
    promised: list[tuple[Status, OutboundMessage]] = []
    for target in dict.fromkeys(plan.EDGES[action].values()):
        stand_in = built(
            IntroRequest,
            id=request_id,
            team_id=team_id,
            status=target,
            requester_id=_REQUESTER,
            connector_id=_CONNECTOR,
            account_owner_id=_OWNER,
            ask_again_on=values.get("ask_again_on"),
        )
        messages = plan.promised(stand_in, action, _EVENT_ID, {}, now=now, cadence=cadence)
        promised += [(target, m) for m in plan.leased(messages, lease)]
    return promised


def _cards_from(row: Any, request: IntroRequest) -> dict[tuple[int, str], OutboundMessage]:
    """The request's cards as the statement found them, keyed as delivery looks them up."""
    return {
        (request.id, kind): built(
            OutboundMessage,
            id=card_id,
            team_id=request.team_id,
            request_id=request.id,
            kind=kind,
            recipient_id=recipient,
            status=status,
            slack_channel_id=channel,
            slack_ts=ts,
            data=data,
        )
        for card_id, kind, recipient, status, channel, ts, data in row["cards"] or []
    }


def _moved(action: Action, value_names: tuple[str, ...]) -> str:
    """The compare-and-set, which is also the party check, taking the event's id. A request
    whose connector is outside the team is left to the ORM path: its messages go to other
    people than the stand-ins say (`plan.connector_side`)."""
    edges = plan.EDGES[action]
    party = plan.PARTY_COLUMN[ACTOR[action]]
    sources = ", ".join(f"'{source}'" for source in edges)
    to_status = "CASE status " + " ".join(f"WHEN '{a}' THEN '{b}'" for a, b in edges.items())
    sets = "".join(f", {name} = :v_{name}" for name in value_names)
    # An ask for a way in waiting for its person is accepted only with one (`plan.check_pick`,
    # on the ORM path): here, such a row is left alone, for the caller to say why.
    pick = " AND NOT (way_in AND target_name = '')" if action in plan.NEEDS_PERSON else ""
    return f"""
        moved AS (
            UPDATE intro_requests SET status = {to_status} END, updated_at = :now{sets}
            WHERE id = :request_id AND team_id = :team_id AND status IN ({sources})
                AND {party} = :actor_id AND NOT connector_outside{pick}
            RETURNING *, nextval(pg_get_serial_sequence('request_events', 'id')) AS event_id
        )"""


def _event(action: Action) -> str:
    """The change's event; the status it left is told by the one it reached."""
    edges = plan.EDGES[action]
    from_status = "CASE moved.status " + " ".join(
        f"WHEN '{b}' THEN '{a}'" for a, b in edges.items()
    )
    return f"""
        event AS (
            INSERT INTO request_events (id, team_id, request_id, actor_id, action, from_status,
                to_status, at)
            SELECT event_id, team_id, id, :actor_id, :action, {from_status} END, status, :now
            FROM moved
        )"""


# The pending reminders the change makes moot, cancelled; and the request's cards, to refresh.
_MOOT_AND_CARDS = f"""
        moot AS (
            UPDATE outbound_messages m SET status = '{DeliveryStatus.CANCELLED}' FROM moved
            WHERE m.request_id = moved.id AND m.kind = '{MessageKind.REMINDER}'
                AND m.status = '{DeliveryStatus.PENDING}'
                AND {_outdated_sql("m.data", "moved.status")}
        ), cards AS (
            SELECT m.id, m.kind, m.recipient_id, m.status, m.slack_channel_id, m.slack_ts,
                m.data
            FROM outbound_messages m JOIN moved ON m.request_id = moved.id
            WHERE m.kind IN ({", ".join(f"'{kind}'" for kind in CARD_KINDS)})
        )"""

# A state change's POST to the workspace's webhook (`plan.webhook_message`), when it has one.
_WEBHOOK_DATA = "json_build_object('event_id', {event_id}, 'stage', {stage})"
_HOOKED = (
    "(CAST(:hooks_everywhere AS boolean) "
    "OR EXISTS (SELECT 1 FROM webhooks w WHERE w.team_id = {team_id}))"
)

# A change's push to the workspace's CRM (`plan.crm_message`), when the action reaches a stage
# the CRM hears of (`bot.intro.crm.stage_of`) and the workspace has a CRM; none when the
# request pushed that stage before.
_CRM_CONNECTED = (
    "(CAST(:crm_everywhere AS boolean) "
    "OR EXISTS (SELECT 1 FROM crm_connections c WHERE c.team_id = moved.team_id))"
)


def _crm_part(stage: CrmStage) -> str:
    """The planned messages' part that pushes `stage` (a word of the code's own enum)."""
    key = sql_key(plan.CRM_KEY, stage=f"'{stage}'")
    full_key = sql_key(
        plan.REQUEST_KEY, request_id="moved.id", kind=f"'{MessageKind.CRM_PUSH}'", key=key
    )
    return f"""
            UNION ALL
            SELECT 3, 0, '{MessageKind.CRM_PUSH}', '', {key},
                json_build_object('stage', '{stage}', 'event_id', moved.event_id),
                CAST(:now AS timestamptz), '{DeliveryStatus.PENDING}', 0, NULL, NULL
            FROM moved
            WHERE {_CRM_CONNECTED} AND NOT EXISTS (
                SELECT 1 FROM outbound_messages o
                WHERE o.team_id = moved.team_id AND o.dedupe_key = {full_key}
            )"""


# Every message the change writes: a refresh of each card (due now: leased like the planned
# messages due now), then the planned messages of the status it reached, stand-ins filled in,
# then the POST to the workspace's webhook and the push to its CRM.
def _planned_messages(stage: CrmStage | None) -> str:
    crm = _crm_part(stage) if stage is not None else ""
    return f"""
        planned AS (
            SELECT 0 AS part, c.id AS seq, '{MessageKind.CARD_REFRESH}' AS kind, c.recipient_id,
                {sql_key(plan.REFRESH_KEY, card="c.kind", event_id="moved.event_id")} AS key,
                json_build_object('card', c.kind) AS data, CAST(:now AS timestamptz) AS due_at,
                CASE WHEN CAST(:lease_owner AS text) IS NULL THEN '{DeliveryStatus.PENDING}'
                    ELSE '{DeliveryStatus.SENDING}' END AS status,
                CASE WHEN CAST(:lease_owner AS text) IS NULL THEN 0 ELSE 1 END AS attempts,
                CAST(:lease_owner AS text) AS lease_owner,
                CAST(:lease_until AS timestamptz) AS lease_until
            FROM cards c CROSS JOIN moved
            UNION ALL
            SELECT 1, p.seq, p.kind,
                CASE p.recipient WHEN '{_REQUESTER}' THEN moved.requester_id
                    WHEN '{_CONNECTOR}' THEN moved.connector_id
                    WHEN '{_OWNER}' THEN moved.account_owner_id ELSE p.recipient END,
                replace(p.key, '{_EVENT_ID}', CAST(moved.event_id AS text)), p.data,
                p.due_at, p.status, p.attempts, p.lease_owner, p.lease_until
            FROM moved CROSS JOIN {_PLANNED_ROWS}
            WHERE p.target = moved.status
            UNION ALL
            SELECT 2, 0, '{MessageKind.WEBHOOK}', '',
                {sql_key(plan.WEBHOOK_KEY, event_id="moved.event_id")},
                {_WEBHOOK_DATA.format(event_id="moved.event_id", stage="moved.outcome")},
                CAST(:now AS timestamptz), '{DeliveryStatus.PENDING}', 0, NULL, NULL
            FROM moved
            WHERE {_HOOKED.format(team_id="moved.team_id")}{crm}
        ), written AS (
            INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id,
                data, due_at, created_at, attempts, status, lease_owner, lease_expires_at)
            SELECT moved.team_id, moved.id,
                {sql_key(plan.REQUEST_KEY, request_id="moved.id", kind="p.kind", key="p.key")},
                p.kind, p.recipient_id, p.data, p.due_at, :now, p.attempts, p.status,
                p.lease_owner, p.lease_until
            FROM planned p CROSS JOIN moved
            ORDER BY p.part, p.seq
            RETURNING {_WRITTEN_COLUMNS}
        )"""


_CHANGED = f"""
        SELECT moved.*, {_WRITTEN_JSON} AS written,
            (SELECT json_agg(json_build_array(c.id, c.kind, c.recipient_id, c.status,
                c.slack_channel_id, c.slack_ts, c.data) ORDER BY c.id) FROM cards c) AS cards
        FROM moved
        """


@functools.cache
def change_statement(action: Action, value_names: tuple[str, ...]) -> TextClause:
    """The one statement that makes `action`'s change (see `act_at_once`), built once per
    action and set of changed columns."""
    ctes = [
        _moved(action, value_names),
        _event(action),
        _MOOT_AND_CARDS,
        _planned_messages(stage_of(action)),
    ]
    statement = text("WITH" + ",".join(ctes) + _CHANGED)
    return statement.bindparams(
        bindparam("now", type_=UTCDateTime()), bindparam("lease_until", type_=UTCDateTime())
    )


# --- a new request ------------------------------------------------------------------------------


async def store_at_once(
    sessions: async_sessionmaker[AsyncSession],
    request: IntroRequest,
    messages: list[OutboundMessage],
    lease: Lease | None,
    *,
    webhooks_everywhere: bool = False,
) -> Outcome:
    """The request, its event and its messages in one statement that commits on its own. The
    messages are planned before the request has its id; the statement adds it to their keys."""
    columns = _columns(request)
    params: dict[str, Any] = {f"c_{name}": value for name, value in columns.items()}
    params |= {
        "now": request.created_at,
        "history_since": request.created_at - HISTORY_SPAN,
        "hooks_everywhere": webhooks_everywhere,
        "planned": _planned_rows([(None, m) for m in messages]),
    }
    async with one_statement(sessions) as connection:
        statement = submit_statement(tuple(columns))
        (row,) = await execute_raw(connection, statement, params)
    stored = request_from(row)
    history = History(*row["history"]) if row["history"] is not None else None
    return Outcome(stored, written_due_now(row, stored, lease), {}, history)


# The scalar defaults of a request's columns: what the ORM would fill in when it is not set.
_REQUEST_DEFAULTS = {
    column.key: getattr(column.default, "arg", None)
    for column in IntroRequest.__table__.c
    if column.default is not None and column.default.is_scalar
}


def _columns(row: IntroRequest) -> dict[str, Any]:
    """A new request's set columns and the scalar defaults of the others, for a Core INSERT
    of an object built the ORM way: read from the object's state as it is (its attributes
    are all loaded), not through each attribute's descriptor."""
    values = instance_state(row).dict
    columns = {key: values[key] for key in _REQUEST_COLUMNS if key in values}
    for key, default in _REQUEST_DEFAULTS.items():
        columns.setdefault(key, default)
    return columns


def _history_sql() -> str:
    """`Queries.history` for the request the statement writes, as its connector's first card
    shows it: one JSON array in `History`'s order; NULL when the ask does not wait on a
    teammate. The statement's snapshot does not hold the new request: the ask itself is not
    its history."""
    mine = "h.requester_id = request.requester_id AND h.connector_id = request.connector_id"
    theirs = "h.requester_id = request.connector_id AND h.connector_id = request.requester_id"
    made = "h.intro_made_at IS NOT NULL"
    met = ", ".join(f"'{outcome}'" for outcome in MET_OUTCOMES)
    waiting = ", ".join(f"'{status}'" for status in sorted(OPEN_STATUSES))
    counts = ", ".join(
        f"count(*) FILTER (WHERE {condition})"
        for condition in (
            mine,
            f"{mine} AND {made}",
            f"{mine} AND {made} AND h.outcome IN ({met})",
            f"{mine} AND h.status = '{Status.CONNECTOR_DECLINED}'",
            f"{mine} AND NOT {made} AND h.status IN ({waiting})",
            f"{theirs} AND {made}",
        )
    )
    return f"""CASE WHEN request.status = '{Status.AWAITING_CONNECTOR}'
            AND request.connector_id <> '' THEN (
            SELECT json_build_array({counts})
            FROM intro_requests h
            WHERE h.team_id = request.team_id AND (({mine}) OR ({theirs}))
                AND h.created_at >= :history_since
        ) END"""


_HISTORY = _history_sql()


@functools.cache
def submit_statement(column_names: tuple[str, ...]) -> TextClause:
    """The one statement that stores a new request (see `store_at_once`), built once per set
    of columns given."""
    table = IntroRequest.__table__
    request_key = sql_key(plan.REQUEST_KEY, request_id="r.id", kind="p.kind", key="p.key")
    webhook_key = sql_key(
        plan.REQUEST_KEY,
        request_id="r.id",
        kind=f"'{MessageKind.WEBHOOK}'",
        key=sql_key(plan.WEBHOOK_KEY, event_id="e.id"),
    )
    statement = text(
        f"""
        WITH request AS (
            INSERT INTO intro_requests ({", ".join(column_names)})
            VALUES ({", ".join(f":c_{name}" for name in column_names)})
            RETURNING *
        ), event AS (
            INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
                to_status, at)
            SELECT team_id, id, requester_id, 'submit', NULL, status, :now FROM request
            RETURNING id
        ), planned AS (
            SELECT 0 AS part, p.seq, r.team_id, r.id AS request_id, {request_key} AS key,
                p.kind, p.recipient, p.data, p.due_at, p.attempts, p.status,
                p.lease_owner, p.lease_until
            FROM request r CROSS JOIN {_PLANNED_ROWS}
            UNION ALL
            SELECT 1, 0, r.team_id, r.id, {webhook_key}, '{MessageKind.WEBHOOK}', '',
                {_WEBHOOK_DATA.format(event_id="e.id", stage="r.outcome")},
                CAST(:now AS timestamptz), 0, '{DeliveryStatus.PENDING}', NULL, NULL
            FROM request r CROSS JOIN event e
            WHERE {_HOOKED.format(team_id="r.team_id")}
        ), written AS (
            INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id,
                data, due_at, created_at, attempts, status, lease_owner, lease_expires_at)
            SELECT p.team_id, p.request_id, p.key, p.kind, p.recipient, p.data, p.due_at, :now,
                p.attempts, p.status, p.lease_owner, p.lease_until
            FROM planned p
            ORDER BY p.part, p.seq
            RETURNING {_WRITTEN_COLUMNS}
        )
        SELECT request.*, {_WRITTEN_JSON} AS written, {_HISTORY} AS history
        FROM request
        """
    )
    return statement.bindparams(
        bindparam("now", type_=UTCDateTime()),
        bindparam("history_since", type_=UTCDateTime()),
        *(bindparam(f"c_{name}", type_=table.c[name].type) for name in column_names),
    )
