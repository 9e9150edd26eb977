"""The same-work app: introbot's Slack calls and writes for each benchmarked request, by hand.

The yardstick `bench.run` measures introbot against. It does exactly the Slack calls introbot
makes for a request, with payloads of the same shape and size, and writes the same rows
(tables, operations and counts), and nothing more, as cheaply as plain code can: slack_bolt's
`AsyncApp` on aiohttp (served as `bench.bare_bolt` is), psycopg 3 in autocommit over a small
pool of its own, one plain SQL statement per step, one HTTP session for every Slack call,
messages built as dict literals.
`python -m bench.verify` checks the likeness against introbot, each app on a fake Slack of its
own (within 3 % in payload size and rows written; tests/bench runs it). Per request:

- `/intro`: ack; `views.open` (the intro form, rendered once at start); one statement reading
  who knows the surname (contacts) and who asks for it already (intro_requests); `views.update`
  with what it found. No writes.
- submission: ack; one statement inserting the request, its event and its five outbox rows
  (the two cards, leased to this process; two nudges and one stall reminder); the two cards
  (`chat.postMessage`); one UPDATE recording where they went.
- Accept: ack; one statement that compare-and-sets the status and, only if it moved, writes
  the event, cancels the pending reminders, inserts the two card refreshes and the notice
  (leased) and the next stage's three reminders, and returns what the messages need; two
  `chat.update`, one `chat.postMessage`; one UPDATE marking the three sent.

Correctness checks beyond the compare-and-set (who may press, the form's validation and
coaching, duplicate asks) are left out: the yardstick is a floor.

`python -m bench.same_work --port PORT --api-url URL`
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import psycopg
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.bare_bolt import BOLT_KEY, healthz, slack_events
from bench.common import BOT_TOKEN, DATABASE_URL, SIGNING_SECRET
from bot.rendering import messages

LEASE_OWNER = "same-work"

FOUND = """
SELECT 'knows', owner_id, name FROM (
    SELECT owner_id, name FROM contacts
    WHERE team_id = %(team)s AND surname_key = %(surname)s LIMIT 5
) AS knows
UNION ALL
SELECT 'open', requester_id, connector_id FROM (
    SELECT requester_id, connector_id FROM intro_requests
    WHERE team_id = %(team)s AND target_surname_key = %(surname)s
        AND status IN ('awaiting_connector', 'checking_with_target') LIMIT 3
) AS open_asks
"""

SUBMIT = """
WITH request AS (
    INSERT INTO intro_requests (team_id, requester_id, requester_name, connector_id,
        target_name, target_surname_key, target_company, target_company_key, reason, blurb,
        closeness, status, created_at, updated_at)
    VALUES (%(team)s, %(requester)s, %(requester_name)s, %(connector)s, %(target)s,
        %(surname)s, %(company)s, %(company_key)s, %(reason)s, %(blurb)s, %(closeness)s,
        'awaiting_connector', now(), now())
    RETURNING id, team_id, requester_id, connector_id
), event AS (
    INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
        to_status, at)
    SELECT team_id, id, requester_id, 'submit', NULL, 'awaiting_connector', now()
    FROM request
), written AS (
    INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id, data,
        status, due_at, attempts, lease_owner, lease_expires_at, created_at)
    SELECT r.team_id, r.id, 'request:' || r.id || ':' || m.kind || ':' || m.key, m.kind,
        CASE WHEN m.who = 'connector' THEN r.connector_id ELSE r.requester_id END,
        m.data::json, 'pending', now() + m.hours * interval '1 hour', 0,
        CASE WHEN m.leased THEN %(owner)s END,
        CASE WHEN m.leased THEN now() + interval '1 minute' END, now()
    FROM request r CROSS JOIN (VALUES
        ('connector_card', 'card', 'connector', 0, '{"stale_tie": null}', true),
        ('requester_card', 'card', 'requester', 0, '{"advice": []}', true),
        ('reminder', 'nudge:1', 'connector', 48,
            '{"reminder": "nudge", "expects": ["awaiting_connector"]}', false),
        ('reminder', 'nudge:2', 'connector', 96,
            '{"reminder": "nudge", "expects": ["awaiting_connector"]}', false),
        ('reminder', 'stalled', 'requester', 192,
            '{"reminder": "stalled", "expects": ["awaiting_connector"]}', false)
    ) AS m(kind, key, who, hours, data, leased)
    RETURNING id, kind, request_id
)
SELECT written.id, written.kind, written.request_id,
    (SELECT name FROM profiles WHERE team_id = %(team)s AND user_id = %(connector)s)
FROM written WHERE written.kind <> 'reminder'
"""

ACCEPT = """
WITH moved AS (
    UPDATE intro_requests SET status = 'checking_with_target', updated_at = now()
    WHERE id = %(id)s AND team_id = %(team)s AND connector_id = %(user)s
        AND status = 'awaiting_connector'
    RETURNING id, team_id, requester_id, requester_name, connector_id, target_name,
        target_company, reason, blurb
), event AS (
    INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
        to_status, at)
    SELECT team_id, id, connector_id, 'accept', 'awaiting_connector',
        'checking_with_target', now()
    FROM moved
), moot AS (
    UPDATE outbound_messages m SET status = 'cancelled' FROM moved
    WHERE m.request_id = moved.id AND m.kind = 'reminder' AND m.status = 'pending'
), written AS (
    INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id, data,
        status, due_at, attempts, lease_owner, lease_expires_at, created_at)
    SELECT r.team_id, r.id, 'request:' || r.id || ':' || m.kind || ':' || m.key, m.kind,
        CASE WHEN m.who = 'connector' THEN r.connector_id ELSE r.requester_id END,
        m.data::json, 'pending', now() + m.hours * interval '1 hour', 0,
        CASE WHEN m.leased THEN %(owner)s END,
        CASE WHEN m.leased THEN now() + interval '1 minute' END, now()
    FROM moved r CROSS JOIN (VALUES
        ('card_refresh', 'refresh:connector_card', 'connector', 0,
            '{"card" : "connector_card"}', true),
        ('card_refresh', 'refresh:requester_card', 'requester', 0,
            '{"card" : "requester_card"}', true),
        ('notice', 'notice', 'requester', 0, '{"event": "accept"}', true),
        ('reminder', 'target_check:1', 'connector', 72,
            '{"reminder": "target_check", "expects": ["checking_with_target"]}', false),
        ('reminder', 'target_check:2', 'connector', 192,
            '{"reminder": "target_check", "expects": ["checking_with_target"], "last": true}',
            false),
        ('reminder', 'target_quiet', 'requester', 264,
            '{"reminder": "target_quiet", "expects": ["checking_with_target", "target_quiet"],'
            ' "moves": "target_quiet"}', false)
    ) AS m(kind, key, who, hours, data, leased)
    RETURNING id, kind, data
)
SELECT moved.id, moved.requester_id, moved.requester_name, moved.connector_id,
    moved.target_name, moved.target_company, moved.reason, moved.blurb,
    (SELECT json_object_agg(kind || coalesce(':' || (data->>'card'), ''), id)
        FROM written WHERE kind <> 'reminder'),
    (SELECT json_object_agg(card.kind, json_build_array(card.slack_channel_id, card.slack_ts))
        FROM outbound_messages card
        WHERE card.request_id = moved.id AND card.kind IN ('connector_card', 'requester_card'))
FROM moved
"""

MARK_SENT = """
UPDATE outbound_messages m SET status = 'sent', attempts = attempts + 1, sent_at = now(),
    slack_channel_id = v.channel, slack_ts = v.ts, lease_owner = NULL, lease_expires_at = NULL
FROM unnest(%(ids)s::int[], %(channels)s::text[], %(tss)s::text[]) AS v(id, channel, ts)
WHERE m.id = v.id
"""


class Pool:
    """Up to `size` autocommit connections, opened on demand and reused last-in first-out."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size, self.opened = url, size, 0
        self.idle: asyncio.LifoQueue[psycopg.AsyncConnection[Any]] = asyncio.LifoQueue()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self.idle.empty() and self.opened < self.size:
            self.opened += 1
            try:
                conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            except BaseException:
                self.opened -= 1
                raise
        else:
            conn = await self.idle.get()
        try:
            yield conn
        finally:
            if conn.closed:
                self.opened -= 1
            else:
                self.idle.put_nowait(conn)

    async def fetch(self, query: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        async with self.connection() as conn:
            cursor = await conn.execute(query, params)  # type: ignore[arg-type]
            return await cursor.fetchall() if cursor.description else []

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()


class Ask:
    """What the cards say about one request."""

    __slots__ = (
        "id", "requester", "requester_name", "requester_first", "connector", "connector_first",
        "target", "target_first", "company", "reason", "blurb",
    )  # fmt: skip

    def __init__(
        self,
        request_id: int,
        requester: str,
        requester_name: str,
        connector: str,
        connector_name: str,
        target: str,
        company: str,
        reason: str,
        blurb: str,
    ) -> None:
        self.id = str(request_id)
        self.requester, self.requester_name = requester, requester_name
        self.requester_first = requester_name.split(" ", 1)[0]
        self.connector, self.connector_first = connector, connector_name.split(" ", 1)[0]
        self.target, self.target_first = target, target.split(" ", 1)[0]
        self.company, self.reason, self.blurb = company, reason, blurb


def _section(words: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": words}}


NO_WARM_PATH = {
    "type": "section",
    "block_id": "no_warm_path",
    "text": {
        "type": "mrkdwn",
        "text": "*No teammate is known to know them.* If you know someone who does, pick them "
        "below. If not, a good cold note beats a weak intro: I'll turn yours into a first "
        "message you send yourself.",
    },
    "accessory": {
        "type": "button",
        "action_id": "intro_go_cold_form",
        "value": "cold",
        "text": {"type": "plain_text", "text": "Go in cold"},
    },
}


def _card_head(r: Ask) -> list[dict[str, Any]]:
    """The connector's card's first two blocks, the same before and after Accept."""
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f":wave: <@{r.requester}> would like an intro to *{r.target}* at *{r.company}*."
                ),
            },
        },
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*What's in it for them*\n{r.reason}",
                },
                {
                    "type": "mrkdwn",
                    "text": "*The ask*\nA 15-minute call",
                },
                {
                    "type": "mrkdwn",
                    "text": f"*How well <@{r.requester}> thinks you know them*\nKnow them well",
                },
            ],
        },
    ]


def connector_card(r: Ask) -> list[dict[str, Any]]:
    return [
        *_card_head(r),
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*The intro email*, to send once {r.target} says yes. Accept, and "
                    "I'll give you a short note to ask them first; the line on why they "
                    f"should meet is yours to edit then:\n```Subject: Intro: {r.requester_name} "
                    f"&lt;&gt; {r.target} ({r.company})\n\nHi {r.target_first},\n\nAs promised, "
                    f"here is {r.requester_name} (cc'd). {r.requester_first}, this is {r.target} "
                    f"at {r.company}.\n\nYou two should meet: {r.reason}\n\n{r.requester_first}'s "
                    f"note:\n\n{r.blurb}\n\n{r.requester_name}\n\n{r.target_first}, if "
                    "now isn't a good time after all, a one-line reply saying so is plenty. "
                    f"No hard feelings.\n\nBest,\n{r.connector_first}```"
                ),
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        ":hourglass_flowing_sand: *Over to you*: Accept, decline, or suggest "
                        "someone else."
                    ),
                },
            ],
        },
        {
            "type": "section",
            "block_id": "qualify",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*Would {r.target} take your call?* Your answer, not <@{r.requester}>'s "
                    "guess, goes with Accept."
                ),
            },
            "accessory": {
                "type": "static_select",
                "action_id": "intro_qualify",
                "placeholder": {
                    "type": "plain_text",
                    "text": "Your answer",
                },
                "options": [
                    {
                        "text": {
                            "type": "plain_text",
                            "text": "Yes, they would",
                        },
                        "value": f"{r.id}:well",
                    },
                    {
                        "text": {
                            "type": "plain_text",
                            "text": "Probably",
                        },
                        "value": f"{r.id}:somewhat",
                    },
                    {
                        "text": {
                            "type": "plain_text",
                            "text": "Not really",
                        },
                        "value": f"{r.id}:not_really",
                    },
                ],
            },
        },
        {
            "type": "context",
            "block_id": "no_pressure",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        "No pressure if it isn't a fit. You can say no, point to a better "
                        f"person, or lend your name so they write to {r.target} themselves."
                    ),
                },
            ],
        },
        {
            "type": "actions",
            "block_id": "connector_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "intro_accept",
                    "style": "primary",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "Accept",
                    },
                },
                {
                    "type": "button",
                    "action_id": "intro_decline",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "Decline",
                    },
                },
                {
                    "type": "button",
                    "action_id": "intro_redirect",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "Suggest someone else",
                    },
                },
                {
                    "type": "button",
                    "action_id": "intro_mention_name",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "Mention my name",
                    },
                },
            ],
        },
    ]


def requester_card(r: Ask) -> list[dict[str, Any]]:
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f":envelope_with_arrow: Your request for an intro to *{r.target}* at "
                    f"*{r.company}* went to <@{r.connector}>."
                ),
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        f":hourglass_flowing_sand: *Waiting for an answer*: <@{r.connector}> "
                        "can accept, decline, or suggest someone else."
                    ),
                },
            ],
        },
        {
            "type": "actions",
            "block_id": "requester_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "intro_cancel",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "Cancel request",
                    },
                    "confirm": {
                        "title": {
                            "type": "plain_text",
                            "text": "Cancel this request?",
                        },
                        "text": {
                            "type": "plain_text",
                            "text": "The connector will see that you cancelled it.",
                        },
                        "confirm": {
                            "type": "plain_text",
                            "text": "Cancel request",
                        },
                        "deny": {
                            "type": "plain_text",
                            "text": "Keep it",
                        },
                    },
                },
            ],
        },
    ]


def connector_card_accepted(r: Ask) -> list[dict[str, Any]]:
    return [
        *_card_head(r),
        {
            "type": "section",
            "block_id": "optin_ask",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*1. Ask {r.target} first*, without naming <@{r.requester}>, by whatever "
                    f"channel you use with them:\n```Hi {r.target_first}, a colleague of "
                    f"mine asked me for an intro to you at {r.company}: they'd like a 15-minute "
                    f'call. What\'s in it for you, as they put it: "{r.reason}" Would '
                    "you be open to it? No worries at all if not: just say so and I'll "
                    "leave it there.```"
                ),
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"<@{r.requester}> would rather not be named until {r.target} agrees.",
                },
            ],
        },
        {
            "type": "section",
            "block_id": "intro_email",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f"*2. Once they say yes*, send this intro email and cc <@{r.requester}>:\n```"
                    "Subject: "
                    f"Intro: {r.requester_name} &lt;&gt; {r.target} ({r.company})\n\nHi "
                    f"{r.target_first},\n\nAs promised, here is {r.requester_name} (cc'd). "
                    f"{r.requester_first}, this is {r.target} at {r.company}.\n\nYou two "
                    f"should meet: {r.reason}\n\n"
                    f"{r.requester_first}'s note:\n\n"
                    f"{r.blurb}\n\n"
                    f"{r.requester_name}\n\n"
                    f"{r.target_first}, "
                    "if now isn't a good time after all, a one-line reply saying so is "
                    "plenty. No hard feelings.```"
                ),
            },
            "accessory": {
                "type": "button",
                "action_id": "intro_edit_line",
                "value": r.id,
                "text": {
                    "type": "plain_text",
                    "text": "Edit the intro line",
                },
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f":speech_balloon: *Over to you*: Tell me what {r.target} says.",
                },
            ],
        },
        {
            "type": "actions",
            "block_id": "target_answer_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "intro_target_agreed",
                    "style": "primary",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "They agreed: intro made",
                    },
                },
                {
                    "type": "button",
                    "action_id": "intro_target_declined",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "They declined",
                    },
                },
                {
                    "type": "button",
                    "action_id": "intro_target_not_now",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "Not now",
                    },
                },
            ],
        },
    ]


def requester_card_accepted(r: Ask) -> list[dict[str, Any]]:
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f":envelope_with_arrow: Your request for an intro to *{r.target}* at "
                    f"*{r.company}* went to <@{r.connector}>."
                ),
            },
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": (
                        f":speech_balloon: *In progress*: <@{r.connector}> is asking {r.target} "
                        "whether they'd like the intro."
                    ),
                },
            ],
        },
        {
            "type": "actions",
            "block_id": "requester_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "intro_cancel",
                    "value": r.id,
                    "text": {
                        "type": "plain_text",
                        "text": "Cancel request",
                    },
                    "confirm": {
                        "title": {
                            "type": "plain_text",
                            "text": "Cancel this request?",
                        },
                        "text": {
                            "type": "plain_text",
                            "text": "The connector will see that you cancelled it.",
                        },
                        "confirm": {
                            "type": "plain_text",
                            "text": "Cancel request",
                        },
                        "deny": {
                            "type": "plain_text",
                            "text": "Keep it",
                        },
                    },
                },
            ],
        },
    ]


def same_work_app(api_url: str, pool: Pool, session: aiohttp.ClientSession) -> AsyncApp:
    app = AsyncApp(
        # One HTTP session for every call (Bolt hands it to each request's client too), where
        # slack_sdk would open one per call.
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url, timeout=10, session=session),
        signing_secret=SIGNING_SECRET,
        raise_error_for_unhandled_request=False,
    )
    modal = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
    # introbot's deliveries go out on a client of their own, without the request's team_id.
    client = app.client

    @app.command("/intro")
    async def intro(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        team = body["team_id"]
        opened = await client.views_open(trigger_id=body["trigger_id"], view=modal, team_id=team)
        view = opened["view"]
        words = body.get("text", "").strip()
        if not words:
            return
        found = await pool.fetch(FOUND, {"team": team, "surname": words.split()[-1].lower()})
        extra = [
            _section(f"<@{who}> knows {name}.") for kind, who, name in found if kind == "knows"
        ] or [NO_WARM_PATH]
        extra += [
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f":warning: <@{requester}> already has an open ask for {words}"
                        f" with <@{connector}>: talk to them before asking too.",
                    }
                ],
            }
            for kind, requester, connector in found
            if kind == "open"
        ]
        blocks = [
            {**block, "element": {**block["element"], "initial_value": words}}
            if block.get("block_id") == "target_name"
            else block
            for block in modal["blocks"]
        ]
        await client.views_update(
            view_id=view["id"],
            hash=view["hash"],
            view={**modal, "blocks": [*blocks[:3], *extra, *blocks[3:]]},
            team_id=team,
        )

    @app.view("intro_request_modal")
    async def submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        values = {
            block_id.split(":", 1)[0]: next(iter(element.values()))
            for block_id, element in body["view"]["state"]["values"].items()
        }

        def field(block_id: str) -> str:
            value = values.get(block_id, {})
            picked = value.get("selected_user") or value.get("value")
            option = value.get("selected_option") or {}
            return str(picked or option.get("value") or "")

        user = body["user"]
        requester, connector, target = user["id"], field("connector"), field("target_name")
        company, reason, blurb = field("target_company"), field("reason"), field("blurb")
        requester_name = user.get("name") or requester
        rows = await pool.fetch(
            SUBMIT,
            {
                "team": body["team"]["id"],
                "requester": requester,
                "requester_name": requester_name,
                "connector": connector,
                "target": target,
                "surname": target.rsplit(" ", 1)[-1].lower(),
                "company": company,
                "company_key": company.lower(),
                "reason": reason,
                "blurb": blurb,
                "closeness": field("closeness"),
                "owner": LEASE_OWNER,
            },
        )
        ids = {kind: message_id for message_id, kind, _, _ in rows}
        ask = Ask(
            rows[0][2],
            requester,
            requester_name,
            connector,
            rows[0][3] or "",
            target,
            company,
            reason,
            blurb,
        )
        to_connector, to_requester = await asyncio.gather(
            client.chat_postMessage(
                channel=connector,
                text=f"<@{requester}> asks you for an intro to {target} ({company})",
                blocks=connector_card(ask),
            ),
            client.chat_postMessage(
                channel=requester,
                text=f"Your intro request to {target}: Waiting for an answer",
                blocks=requester_card(ask),
            ),
        )
        await _mark_sent(
            pool,
            [ids["connector_card"], ids["requester_card"]],
            [to_connector, to_requester],
        )

    @app.action("intro_accept")
    async def accept(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        user = body["user"]["id"]
        rows = await pool.fetch(
            ACCEPT,
            {
                "id": int(body["actions"][0]["value"]),
                "team": body["team"]["id"],
                "user": user,
                "owner": LEASE_OWNER,
            },
        )
        if not rows:
            return  # pressed before, or not theirs: nothing moved, nothing to say
        request_id, requester, requester_name, connector, target, company, reason, blurb = rows[0][
            :8
        ]
        ids, cards = rows[0][8], rows[0][9]
        ask = Ask(
            request_id, requester, requester_name, connector, "", target, company, reason, blurb
        )
        notice = (
            f"<@{connector}> accepted your request and will check with *{target}* before making"
            " the intro. They'll ask without naming you."
        )
        (c_channel, c_ts), (r_channel, r_ts) = cards["connector_card"], cards["requester_card"]
        sent = await asyncio.gather(
            client.chat_update(
                channel=c_channel,
                ts=c_ts,
                text=f"<@{requester}> asks you for an intro to {target} ({company})",
                blocks=connector_card_accepted(ask),
            ),
            client.chat_update(
                channel=r_channel,
                ts=r_ts,
                text=f"Your intro request to {target}: In progress",
                blocks=requester_card_accepted(ask),
            ),
            client.chat_postMessage(channel=requester, text=notice, blocks=[_section(notice)]),
        )
        await _mark_sent(
            pool,
            [
                ids["card_refresh:connector_card"],
                ids["card_refresh:requester_card"],
                ids["notice"],
            ],
            list(sent),
        )

    return app


async def _mark_sent(pool: Pool, ids: list[int], answers: list[Any]) -> None:
    await pool.fetch(
        MARK_SENT,
        {
            "ids": ids,
            "channels": [answer.get("channel") for answer in answers],
            "tss": [answer.get("ts") for answer in answers],
        },
    )


async def serve(port: int, api_url: str, max_seconds: float) -> None:
    pool = Pool(DATABASE_URL, size=20)  # as many as the bot's pool keeps (storage/db.py)
    app = web.Application(client_max_size=1024 * 1024)
    session = aiohttp.ClientSession()
    app[BOLT_KEY] = same_work_app(api_url, pool, session)
    app.router.add_post("/slack/events", slack_events)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    logging.getLogger("same_work").info("serving on http://127.0.0.1:%d/slack/events", port)
    try:
        await asyncio.sleep(max_seconds)  # bounded backstop; the orchestrator stops it first
    finally:
        await runner.cleanup()
        await session.close()
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    asyncio.run(serve(args.port, args.api_url, args.max_seconds))


if __name__ == "__main__":
    main()
