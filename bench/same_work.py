"""The same-work baseline: introbot's work for each benchmarked request, written plainly by hand.

Served exactly as `bench.bare_bolt` is (same AsyncApp, same aiohttp server, same logging), on
the same PostgreSQL as the bot, with SQLAlchemy Core `text()` statements over the same driver
and pool settings as the bot (storage/db.py), and no ORM objects, outbox dispatcher or
templates per request. Per request:

- `/intro`: ack, `views.open` (the intro form, rendered once at start), one indexed lookup of
  who already asked for that surname (ix_intro_requests_team_target_surname), `views.update`
  with what it found.
- submission: ack, one statement inserting the request, its event and its five outbox rows
  (two cards, two nudges, one stall reminder), two `chat.postMessage` (the connector's card,
  the requester's card), one UPDATE recording where the cards went (what the Accept's
  `chat.update` needs later).
- Accept: ack, one statement that compare-and-sets the status and, only if it moved, writes
  the event, cancels the pending reminders, inserts the notice's outbox row and returns the
  cards' channel and ts; two `chat.update`, one `chat.postMessage` (the notice), one UPDATE
  marking the notice sent.

So 2 statements and 2 commits per submission or Accept, 1 per `/intro`: what a careful
engineer needs to keep the same promises (nothing lost if the process dies after the commit:
the rows are there for a sweep to pick up). Correctness checks beyond the compare-and-set
(who may press, validation of the form's fields) are left out: the baseline is a floor.

`python -m bench.same_work --port PORT --api-url URL`
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.bare_bolt import BOLT_KEY, healthz, slack_events
from bench.common import BOT_TOKEN, DATABASE_URL, SIGNING_SECRET
from bot.rendering import messages

SUGGESTIONS = text(
    """
    SELECT connector_id, count(*) AS asks FROM intro_requests
    WHERE team_id = :team AND target_surname_key = :surname
    GROUP BY connector_id ORDER BY asks DESC LIMIT 3
    """
)

SUBMIT = text(
    """
    WITH request AS (
        INSERT INTO intro_requests (team_id, requester_id, requester_name, connector_id,
            target_name, target_surname_key, target_company, reason, blurb, closeness, status,
            created_at, updated_at)
        VALUES (:team, :requester, :requester, :connector, :target, :surname, :company,
            :reason, :blurb, :closeness, 'awaiting_connector', now(), now())
        RETURNING id, team_id, requester_id, connector_id
    ), event AS (
        INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
            to_status, at)
        SELECT team_id, id, requester_id, 'submit', NULL, 'awaiting_connector', now()
        FROM request
    )
    INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id, data,
        status, due_at, attempts, created_at)
    SELECT r.team_id, r.id, 'request:' || r.id || ':' || m.kind || ':' || m.key, m.kind,
        CASE WHEN m.who = 'connector' THEN r.connector_id ELSE r.requester_id END,
        m.data::json, 'pending', now() + m.hours * interval '1 hour', 0, now()
    FROM request r CROSS JOIN (VALUES
        ('connector_card', 'card', 'connector', 0, '{}'),
        ('requester_card', 'card', 'requester', 0, '{}'),
        ('reminder', 'nudge:1', 'connector', 48,
            '{"reminder": "nudge", "expects": ["awaiting_connector"]}'),
        ('reminder', 'nudge:2', 'connector', 96,
            '{"reminder": "nudge", "expects": ["awaiting_connector"]}'),
        ('reminder', 'stalled', 'requester', 144,
            '{"reminder": "stalled", "expects": ["awaiting_connector"]}')
    ) AS m(kind, key, who, hours, data)
    RETURNING id, kind
    """
)

ACCEPT = text(
    """
    WITH moved AS (
        UPDATE intro_requests SET status = 'checking_with_target', updated_at = now()
        WHERE id = :id AND team_id = :team AND connector_id = :user
            AND status = 'awaiting_connector'
        RETURNING id, team_id, requester_id, connector_id, target_name
    ), event AS (
        INSERT INTO request_events (team_id, request_id, actor_id, action, from_status,
            to_status, at)
        SELECT team_id, id, connector_id, 'accept', 'awaiting_connector',
            'checking_with_target', now()
        FROM moved
    ), moot AS (
        UPDATE outbound_messages m SET status = 'cancelled' FROM moved
        WHERE m.request_id = moved.id AND m.kind = 'reminder' AND m.status = 'pending'
    ), notice AS (
        INSERT INTO outbound_messages (team_id, request_id, dedupe_key, kind, recipient_id,
            data, status, due_at, attempts, created_at)
        SELECT team_id, id, 'request:' || id || ':notice:accept', 'notice', requester_id,
            '{"event": "accept"}', 'pending', now(), 0, now()
        FROM moved
        RETURNING id
    )
    SELECT moved.requester_id, moved.target_name, notice.id AS notice_id, card.kind,
        card.slack_channel_id, card.slack_ts
    FROM moved CROSS JOIN notice
    JOIN outbound_messages card ON card.request_id = moved.id
        AND card.kind IN ('connector_card', 'requester_card')
    """
)

MARK_SENT = text(
    """
    UPDATE outbound_messages SET status = 'sent', attempts = attempts + 1, sent_at = now(),
        slack_channel_id = :channel, slack_ts = :ts
    WHERE id = :id
    """
)


def _section(words: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": words}}]


def same_work_app(api_url: str, engine: AsyncEngine) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=api_url, timeout=10),
        signing_secret=SIGNING_SECRET,
        raise_error_for_unhandled_request=False,
    )
    modal = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())

    @app.command("/intro")
    async def intro(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        opened = await client.views_open(trigger_id=body["trigger_id"], view=modal)
        view = opened["view"]
        words = body.get("text", "").strip()
        surname = words.split()[-1].lower() if words else ""
        async with engine.connect() as conn:
            found = (
                await conn.execute(SUGGESTIONS, {"team": body["team_id"], "surname": surname})
            ).all()
        hint = ", ".join(f"<@{who}> ({asks})" for who, asks in found) or "no one yet"
        await client.views_update(
            view_id=view["id"],
            hash=view["hash"],
            view={**modal, "blocks": _section(f"Asked before: {hint}") + modal["blocks"]},
        )

    @app.view("intro_request_modal")
    async def submit(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        values = {
            block_id: next(iter(element.values()))
            for block_id, element in body["view"]["state"]["values"].items()
        }

        def field(block_id: str) -> str:
            value = values.get(block_id, {})
            picked = value.get("selected_user") or value.get("value")
            option = value.get("selected_option") or {}
            return str(picked or option.get("value") or "")

        target = field("target_name")
        requester, connector = body["user"]["id"], field("connector")
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    SUBMIT,
                    {
                        "team": body["team"]["id"],
                        "requester": requester,
                        "connector": connector,
                        "target": target,
                        "surname": target.split()[-1].lower() if target else "",
                        "company": field("target_company"),
                        "reason": field("reason"),
                        "blurb": field("blurb"),
                        "closeness": field("closeness"),
                    },
                )
            ).all()
        card_ids = {kind: message_id for message_id, kind in rows if kind.endswith("_card")}
        to_connector, to_requester = await asyncio.gather(
            client.chat_postMessage(
                channel=connector,
                text=f"<@{requester}> asks you for an intro to {target}",
                blocks=_section(f"<@{requester}> asks you for an intro to *{target}*."),
            ),
            client.chat_postMessage(
                channel=requester,
                text=f"Your ask for an intro to {target} went to <@{connector}>",
                blocks=_section(f"Your ask for an intro to *{target}* went to <@{connector}>."),
            ),
        )
        async with engine.begin() as conn:
            await conn.execute(
                MARK_SENT,
                [
                    {"id": card_ids["connector_card"], **_where(to_connector)},
                    {"id": card_ids["requester_card"], **_where(to_requester)},
                ],
            )

    @app.action("intro_accept")
    async def accept(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        async with engine.begin() as conn:
            rows = (
                await conn.execute(
                    ACCEPT,
                    {
                        "id": int(body["actions"][0]["value"]),
                        "team": body["team"]["id"],
                        "user": body["user"]["id"],
                    },
                )
            ).all()
        if not rows:
            return  # pressed before, or not theirs: nothing moved, nothing to say
        requester, target, notice_id = rows[0][0], rows[0][1], rows[0][2]
        words = f"<@{body['user']['id']}> agreed to check with {target}."
        calls = [
            client.chat_update(channel=channel, ts=ts, text=words, blocks=_section(words))
            for _, _, _, _, channel, ts in rows
            if channel and ts
        ]
        notice = client.chat_postMessage(channel=requester, text=words, blocks=_section(words))
        *_, sent = await asyncio.gather(*calls, notice)
        async with engine.begin() as conn:
            await conn.execute(MARK_SENT, {"id": notice_id, **_where(sent)})

    return app


def _where(response: Any) -> dict[str, Any]:
    return {"channel": response.get("channel"), "ts": response.get("ts")}


async def serve(port: int, api_url: str, max_seconds: float) -> None:
    # As storage/db.py builds the bot's engine on PostgreSQL.
    engine = create_async_engine(
        DATABASE_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        pool_size=20,
        max_overflow=5,
        pool_pre_ping=True,
    )
    app = web.Application(client_max_size=1024 * 1024)
    app[BOLT_KEY] = same_work_app(api_url, engine)
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
        await engine.dispose()


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
