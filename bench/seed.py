"""Seeding `introbot_bench`: years of history, the Accept pool, and the due messages.

Everything is generated inside PostgreSQL with INSERT ... SELECT over generate_series (no rows
cross the wire, so 1,000,000 requests and their ~7 million companion rows take about a minute
or two). The shapes follow what introbot itself writes (bot.intro.workflow): every
request has its `submit` event and one event per later transition, the connector's and
requester's cards, three reminders (two nudges to the connector, then "stalled" to the
requester), a notice for each of the connector's answers, and, once an intro is made, the
follow-up and outcome reminders.

History spans three years. Requests from the last 14 days are still open (70 % awaiting the
connector, 30 % checking with the target); older ones mostly ended (35 % closed with an
outcome, 15 % declined, 10 % cancelled, ...) and 2 % were simply never answered. A reminder is
`pending` only when it is still in the future and its request still expects it; the rest are
`sent` or `cancelled`, so nothing in the history is due: only `make_due` makes messages due.
All of it is in one team (the worst case: one team's history is what the queries filter).
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any

import psycopg

from bench.common import ADMIN_URL, DATABASE, DATABASE_URL, TEAM_ID, USERS, introbot_executable

FIRST_NAMES_SQL = (
    "ARRAY['Jane','Anna','Omar','Li','Maria','Noah','Aiko','Ravi','Sara','Lukas','Chen','Ivan',"
    "'Fatima','Diego','Emma','Kofi','Priya','Tomas','Yuki','Amara','Hugo','Nadia','Felix','Mei',"
    "'Jonas','Leila','Mateo','Ines','Arjun','Zoe']"
)
SYLLABLES_SQL = (
    "ARRAY['ka','ro','mi','ta','ne','lo','sa','ve','ri','do','ba','ku','fe','gi','ho','la','mu',"
    "'no','pe','zu']"
)
SUFFIXES_SQL = "ARRAY['Logistics','Labs','Health','Bank','Foods']"


NUDGE_DATA = '{"reminder": "nudge", "expects": ["awaiting_connector"]}'
STALLED_DATA = '{"reminder": "stalled", "expects": ["awaiting_connector"]}'
NOTICE_DATA = '{"event": "accept"}'


def _surname_sql(n: str) -> str:
    """SQL for bench.common.surname(n)."""
    s = f"(({n}) % 8000)"
    return (
        f"initcap(({SYLLABLES_SQL})[1 + {s} / 400] || ({SYLLABLES_SQL})[1 + ({s} % 400) / 20]"
        f" || ({SYLLABLES_SQL})[1 + {s} % 20])"
    )


def _user_sql(n: str) -> str:
    return f"'UB' || lpad((({n}) % {USERS})::text, 7, '0')"


def connect() -> psycopg.Connection[Any]:
    return psycopg.connect(DATABASE_URL, autocommit=True)


def recreate_database() -> None:
    if DATABASE in ("test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop database {DATABASE!r}: name another one")
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (DATABASE,),
        )
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        admin.execute(f"CREATE DATABASE {DATABASE}")


def migrate() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "INTROBOT_"))}
    env["DATABASE_URL"] = DATABASE_URL
    subprocess.run(
        [introbot_executable(), "migrate"], env=env, check=True, capture_output=True, timeout=120
    )


def next_id(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def seed_requests(conn: psycopg.Connection[Any], count: int, *, pool: bool = False) -> range:
    """Insert `count` requests with their events and messages; the new request ids.

    With `pool`, every request is an hour-old ask still awaiting its connector, its cards sent
    and its reminders pending: what an Accept press acts on. Its person's surname has a fourth
    syllable, so no submission's or `/intro`'s person (three syllables) is asked for in the
    pools: their tens of thousands of open asks spread over the 8,000 surnames would give every
    person ten to thirty open asks, where a team's history gives them none or one, and the
    reads before an ack would weigh what no team has.
    """
    first = next_id(conn, "intro_requests")
    last = first + count - 1
    g = "g"
    # Pseudo-random but repeatable per id.
    r1 = f"(({g}::bigint * 2654435761) % 4294967296)"
    r2 = f"(({g}::bigint * 40503 + 12345) % 100)"
    if pool:
        created = f"now() - interval '1 hour' - ({g} - {first}) * interval '1 second'"
        status = "'awaiting_connector'"
    else:
        created = f"now() - interval '1 hour' - ({r1} % (3 * 365 * 1440)) * interval '1 minute'"
        status = f"""CASE
            WHEN created < now() - interval '14 days' THEN CASE
                WHEN {r2} < 35 THEN 'closed' WHEN {r2} < 40 THEN 'followed_up'
                WHEN {r2} < 45 THEN 'intro_made' WHEN {r2} < 60 THEN 'connector_declined'
                WHEN {r2} < 70 THEN 'cancelled' WHEN {r2} < 75 THEN 'rerouted'
                WHEN {r2} < 80 THEN 'redirected' WHEN {r2} < 88 THEN 'target_declined'
                WHEN {r2} < 98 THEN 'target_not_now' ELSE 'awaiting_connector' END
            WHEN {r2} < 70 THEN 'awaiting_connector' ELSE 'checking_with_target' END"""
    first_sql = f"({FIRST_NAMES_SQL})[1 + {g} % 30]"
    target = f"{first_sql} || ' ' || {_surname_sql(f'{g}::bigint * 7919 + {g} / 30')}"
    if pool:
        target += f" || ({SYLLABLES_SQL})[1 + {g} % 20]"
    firm = f"{_surname_sql(f'{g}::bigint * 31 + 5')} || ' ' || ({SUFFIXES_SQL})[1 + {g} % 5]"
    requester = _user_sql(f"{g}::bigint * 37")
    connector = _user_sql(f"{g}::bigint * 37 + 1 + {g} % {USERS - 1}")
    conn.execute(
        f"""
        INSERT INTO intro_requests (id, team_id, requester_id, requester_name, connector_id,
            target_name, target_surname_key, target_company, target_company_key, reason, blurb,
            closeness, status, created_at, updated_at, intro_made_at, outcome, outcome_at)
        -- The seeded surnames are one ASCII word, so bot.intro.matching.person_surname_key(target)
        -- is its lower case; the firms are two such words, so company_key(firm) is too.
        SELECT g, '{TEAM_ID}', requester, 'Rep ' || requester, connector, target,
            lower(split_part(target, ' ', 2)), firm, lower(firm),
            firm || ' is expanding; they know ' || target || ' from a past deal.',
            'Hi ' || split_part(target, ' ', 1) || ', I lead partnerships at Northwind. We help '
                || 'teams like ' || firm || ' cut customs delays by a third. Would you be open '
                || 'to a 20-minute call next week?',
            'know_well', status, created, created + interval '36 hours',
            CASE WHEN status IN ('intro_made', 'followed_up', 'closed')
                THEN created + interval '3 days' END,
            CASE WHEN status = 'closed' THEN (ARRAY['meeting_held','opportunity','closed_won',
                'no_response','not_a_fit'])[1 + g % 5] END,
            CASE WHEN status = 'closed' THEN created + interval '11 days' END
        FROM (
            SELECT g, requester, connector, target, firm, created, {status} AS status
            FROM (
                SELECT g, {requester} AS requester, {connector} AS connector,
                    {target} AS target, {firm} AS firm, {created} AS created
                FROM generate_series({first}, {last}) AS g
            ) AS base
        ) AS shaped
        """
    )
    _seed_events(conn, first, last)
    _seed_messages(conn, first, last)
    sync_sequences(conn)  # the bot's own inserts go on after the seeded ids
    return range(first, last + 1)


# Each final status and the actions that led there, after `submit`.
_PATHS = {
    "awaiting_connector": [],
    "checking_with_target": ["accept"],
    "intro_made": ["accept", "target_agreed"],
    "followed_up": ["accept", "target_agreed", "follow_up"],
    "closed": ["accept", "target_agreed", "report_outcome"],
    "connector_declined": ["decline"],
    "cancelled": ["cancel"],
    "rerouted": ["reroute"],
    "redirected": ["redirect"],
    "target_declined": ["accept", "target_declined"],
    "target_not_now": ["accept", "target_not_now"],
}
_STATUS_AFTER = {
    "accept": "checking_with_target",
    "target_agreed": "intro_made",
    "follow_up": "followed_up",
    "report_outcome": "closed",
    "decline": "connector_declined",
    "cancel": "cancelled",
    "reroute": "rerouted",
    "redirect": "redirected",
    "target_declined": "target_declined",
    "target_not_now": "target_not_now",
}
_REQUESTER_ACTIONS = {"cancel", "reroute", "follow_up", "report_outcome"}


def _seed_events(conn: psycopg.Connection[Any], first: int, last: int) -> None:
    steps = ["('awaiting_connector', 0, 'submit', NULL, 'awaiting_connector', 'requester')"]
    for final, path in _PATHS.items():
        before = "awaiting_connector"
        for index, action in enumerate(path, start=1):
            after = _STATUS_AFTER[action]
            actor = "requester" if action in _REQUESTER_ACTIONS else "connector"
            steps.append(f"('{final}', {index}, '{action}', '{before}', '{after}', '{actor}')")
            before = after
    conn.execute(
        f"""
        INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
            to_status, at)
        SELECT r.team_id, r.id,
            CASE WHEN s.actor = 'requester' THEN r.requester_id ELSE r.connector_id END,
            s.action, s.from_status, s.to_status, r.created_at + s.step * interval '36 hours'
        FROM intro_requests r
        JOIN (VALUES {", ".join(steps)}) AS s(final, step, action, from_status, to_status, actor)
            ON s.final = r.status
        WHERE r.id BETWEEN {first} AND {last}
        ORDER BY r.id, s.step
        """
    )
    # Every status except awaiting_connector's own "submit" also needs the submit for
    # statuses whose path is empty: covered above, since step 0 joins on 'awaiting_connector'
    # only. Add the submit for every other status.
    conn.execute(
        f"""
        INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
            to_status, at)
        SELECT team_id, id, requester_id, 'submit', NULL, 'awaiting_connector', created_at
        FROM intro_requests
        WHERE id BETWEEN {first} AND {last} AND status <> 'awaiting_connector'
        ORDER BY id
        """
    )


def _seed_messages(conn: psycopg.Connection[Any], first: int, last: int) -> None:
    nudge = '{"reminder": "nudge", "expects": ["awaiting_connector"]}'
    stalled = '{"reminder": "stalled", "expects": ["awaiting_connector"]}'
    follow_up = '{"reminder": "follow_up", "expects": ["intro_made"]}'
    outcome = '{"reminder": "outcome", "expects": ["intro_made", "followed_up"]}'
    # kind, key, recipient role, due after (hours), data, which statuses get it
    made = "('intro_made','followed_up','closed')"
    answered = (
        "('checking_with_target','intro_made','followed_up','closed','connector_declined',"
        + ("'redirected','target_declined','target_not_now')")
    )
    specs = [
        ("connector_card", "card", "connector", 0, "{}", "TRUE"),
        ("requester_card", "card", "requester", 0, '{"advice": []}', "TRUE"),
        ("reminder", "nudge:1", "connector", 48, nudge, "TRUE"),
        ("reminder", "nudge:2", "connector", 96, nudge, "TRUE"),
        ("reminder", "stalled", "requester", 144, stalled, "TRUE"),
        ("reminder", "follow_up", "requester", 92, follow_up, f"r.status IN {made}"),
        ("reminder", "outcome", "requester", 240, outcome, f"r.status IN {made}"),
        ("notice", "notice:1", "requester", 36, '{"event": "accept"}', f"r.status IN {answered}"),
    ]
    values = ", ".join(
        f"('{kind}', '{key}', '{who}', {hours}, '{data}', {i})"
        for i, (kind, key, who, hours, data, _) in enumerate(specs)
    )
    applies = " OR ".join(f"(m.i = {i} AND {cond})" for i, (*_, cond) in enumerate(specs))
    conn.execute(
        f"""
        INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id, data,
            status, due_at, attempts, slack_channel_id, slack_ts, created_at, sent_at)
        SELECT team_id, request_id, dedupe_key, kind, recipient, data::json, status, due_at,
            CASE WHEN status = 'sent' THEN 1 ELSE 0 END,
            CASE WHEN status = 'sent' THEN 'D' || substr(recipient, 2) END,
            CASE WHEN status = 'sent'
                THEN (1700000000 + request_id)::text || '.' || lpad(i::text, 6, '0') END,
            created_at,
            CASE WHEN status = 'sent' THEN due_at END
        FROM (
            SELECT r.team_id, r.id AS request_id, m.i,
                'request:' || r.id || ':' || m.kind || ':' || m.key AS dedupe_key, m.kind,
                CASE WHEN m.who = 'connector' THEN r.connector_id ELSE r.requester_id END
                    AS recipient,
                m.data,
                CASE
                    WHEN m.kind <> 'reminder' THEN 'sent'
                    WHEN m.data::jsonb -> 'expects' ? r.status
                        THEN CASE WHEN r.created_at + m.hours * interval '1 hour' > now()
                            THEN 'pending' ELSE 'sent' END
                    WHEN m.key IN ('follow_up', 'outcome')
                        AND r.created_at + m.hours * interval '1 hour' <= now() THEN 'sent'
                    ELSE 'cancelled'
                END AS status,
                r.created_at + m.hours * interval '1 hour' AS due_at,
                r.created_at
            FROM intro_requests r
            CROSS JOIN (VALUES {values}) AS m(kind, key, who, hours, data, i)
            WHERE r.id BETWEEN {first} AND {last} AND ({applies})
            ORDER BY r.id, m.i
        ) AS planned
        """
    )


def sync_sequences(conn: psycopg.Connection[Any]) -> None:
    for table in ("intro_requests", "request_events", "outbound_messages"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )


def finish(conn: psycopg.Connection[Any]) -> None:
    """Sequences past the seeded ids, and fresh planner statistics."""
    sync_sequences(conn)
    conn.execute("VACUUM ANALYZE")


def pool_rows(conn: psycopg.Connection[Any], ids: range) -> list[list[Any]]:
    """[request_id, connector_id, the card's channel, its ts] for each pool request."""
    rows = conn.execute(
        """
        SELECT r.id, r.connector_id, m.slack_channel_id, m.slack_ts
        FROM intro_requests r
        JOIN outbound_messages m ON m.request_id = r.id AND m.kind = 'connector_card'
        WHERE r.id BETWEEN %s AND %s ORDER BY r.id
        """,
        (ids.start, ids.stop - 1),
    ).fetchall()
    return [list(row) for row in rows]


def counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    found = {}
    for table in ("intro_requests", "request_events", "outbound_messages"):
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        found[table] = int(row[0]) if row else 0
    row = conn.execute(
        "SELECT count(*) FROM outbound_messages WHERE status = 'pending' AND due_at <= now()"
    ).fetchone()
    found["due_now"] = int(row[0]) if row else 0
    return found


def make_due(conn: psycopg.Connection[Any], count: int) -> dict[str, int]:
    """`count` messages due now, among everything else: what a sweep must find and send.

    A realistic mix: 15 % nudges and 5 % "stalled" notes for asks still awaiting their
    connector (the stalled one looks up second paths), 80 % notices left behind (as after an
    outage). Their ids go to the table bench_due, so `reset_due` can make them due again.
    """
    conn.execute("DROP TABLE IF EXISTS bench_due")
    conn.execute("CREATE TABLE bench_due (id integer PRIMARY KEY)")
    nudges, stalled = count * 15 // 100, count * 5 // 100
    waiting = conn.execute(
        "SELECT id FROM intro_requests WHERE status = 'awaiting_connector' "
        "ORDER BY id DESC LIMIT %s",
        (nudges + stalled,),
    ).fetchall()
    reminders = len(waiting)
    stalled = min(stalled, reminders)
    nudges = reminders - stalled
    notices = count - reminders
    conn.execute(
        f"""
        WITH picked AS (
            SELECT id, row_number() OVER (ORDER BY id DESC) AS n
            FROM intro_requests WHERE status = 'awaiting_connector'
            ORDER BY id DESC LIMIT {reminders}
        ), inserted AS (
            INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id,
                data, status, due_at, attempts, created_at)
            SELECT r.team_id, r.id, 'request:' || r.id || ':reminder:bench-due',
                'reminder',
                CASE WHEN p.n <= {stalled} THEN r.requester_id ELSE r.connector_id END,
                CASE WHEN p.n <= {stalled}
                    THEN '{STALLED_DATA}'
                    ELSE '{NUDGE_DATA}' END::json,
                'pending', now() - interval '1 minute', 0, now()
            FROM picked p JOIN intro_requests r ON r.id = p.id
            RETURNING id
        )
        INSERT INTO bench_due SELECT id FROM inserted
        """
    )
    conn.execute(
        f"""
        WITH inserted AS (
            INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id,
                data, status, due_at, attempts, created_at)
            SELECT r.team_id, r.id, 'request:' || r.id || ':notice:bench-due', 'notice',
                r.requester_id, '{NOTICE_DATA}'::json, 'pending',
                now() - interval '1 minute' + (g % 60) * interval '1 second', 0, now()
            FROM generate_series(1, {notices}) AS g
            JOIN intro_requests r ON r.id = (
                SELECT min(id) FROM intro_requests) + ((g::bigint * 7919) % (
                SELECT max(id) - min(id) FROM intro_requests))
            RETURNING id
        )
        INSERT INTO bench_due SELECT id FROM inserted
        """
    )
    conn.execute("ANALYZE outbound_messages")
    row = conn.execute("SELECT count(*) FROM bench_due").fetchone()
    return {
        "due": int(row[0]) if row else 0,
        "nudges": nudges,
        "stalled": stalled,
        "notices": notices,
    }


def reset_due(conn: psycopg.Connection[Any]) -> None:
    """The due messages, due again and unsent, as before a run."""
    conn.execute(
        """
        UPDATE outbound_messages SET status = 'pending', attempts = 0, lease_owner = NULL,
            lease_expires_at = NULL, slack_channel_id = NULL, slack_ts = NULL,
            last_error = NULL, sent_at = NULL, due_at = now() - interval '1 minute'
        WHERE id IN (SELECT id FROM bench_due)
        """
    )


def delivered(conn: psycopg.Connection[Any]) -> dict[str, int]:
    rows = conn.execute(
        "SELECT status, count(*) FROM outbound_messages WHERE id IN (SELECT id FROM bench_due) "
        "GROUP BY status"
    ).fetchall()
    return {str(status): int(n) for status, n in rows}


def timed(label: str, timings: dict[str, float]) -> Any:
    """Context manager recording how long a step took."""

    class _Timer:
        def __enter__(self) -> None:
            self.start = time.monotonic()

        def __exit__(self, *_exc: object) -> None:
            timings[label] = round(time.monotonic() - self.start, 2)

    return _Timer()
