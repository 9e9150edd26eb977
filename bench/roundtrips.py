"""How many statements (and transactions) one request costs: an Accept press, its delivery,
a submission's review, write and delivery, and /intro's suggestions, counted on the real code
paths against introbot_bench with the fake Slack in-process. An Accept and a submission are
delivered again with pacing to Slack's limits on (`INTROBOT_SLACK_RATE_SCALE` 1, the
budgets shared in PostgreSQL), which the benchmark's cells turn off.

`python -m bench.roundtrips` prints a table; run it after a benchmark run (it needs the seeded
database and presses Accept on one awaiting request).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from sqlalchemy import Row, bindparam, event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import BOT_SCOPES, BOT_TOKEN, DATABASE_URL, TEAM_ID, user_id, user_name
from bench.fake_proc import BenchSlack
from bot.delivery.dispatcher import Dispatcher
from bot.delivery.pace import Pacer, Rates, SharedBudgets
from bot.intro.clock import SystemClock
from bot.intro.contacts import ContactInput
from bot.intro.directory import Directory
from bot.intro.people import Teammate
from bot.intro.states import OPEN_STATUSES, Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from bot.settings import load_settings
from bot.wiring.app import delivery_client
from storage.db import create_engine_for, make_sessionmaker

_AWAITING = text(
    "SELECT r.id, r.connector_id FROM intro_requests r JOIN outbound_messages m"
    " ON m.request_id = r.id AND m.kind = 'connector_card' AND m.status = 'sent'"
    " WHERE r.status = 'awaiting_connector' ORDER BY r.id DESC LIMIT 1"
)


async def _awaiting_request(engine: AsyncEngine) -> Row[Any]:
    """The newest ask awaiting its connector whose card went out: what an Accept presses."""
    async with engine.connect() as connection:
        return (await connection.execute(_AWAITING)).one()


async def count() -> dict[str, dict[str, int]]:
    fake = BenchSlack(strict=False)
    fake.scopes = list(BOT_SCOPES)
    for n in range(2000):
        fake.add_user(user_id(n), name=f"rep{n}", real_name=user_name(n))
    api_url = await fake.start()
    settings = load_settings(
        SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET="x", DATABASE_URL=DATABASE_URL,
        SLACK_API_URL=api_url, INTROBOT_WORKING_HOURS="always",
    )  # fmt: skip
    engine = create_engine_for(DATABASE_URL)
    sessions = make_sessionmaker(engine)
    clock = SystemClock()
    workflow = IntroWorkflow(sessions, clock, settings.cadence)
    dispatcher = Dispatcher(
        sessions, delivery_client(settings), clock, workflow, directory=Directory(sessions, clock)
    )
    seen: Counter[str] = Counter()

    def autocommits(connection: Any) -> bool:
        return bool(connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT")

    def record(connection: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        verb = statement.split(None, 1)[0].upper()
        seen[verb] += 1
        if autocommits(connection):
            # The statement commits on its own: no BEGIN, no COMMIT (a read has nothing to).
            seen["AUTOCOMMIT" if verb != "SELECT" else "AUTOCOMMIT_READ"] += 1
        elif not connection.info.get("begun"):
            connection.info["begun"] = True
            seen["BEGIN"] += 1  # psycopg opens the transaction before the first statement

    def end(name: str) -> Any:
        def ended(connection: Any) -> None:
            if connection.info.pop("begun", False):
                seen[name] += 1

        return ended

    listeners = (
        ("before_cursor_execute", record),
        ("commit", end("COMMIT")),
        ("rollback", end("ROLLBACK")),
    )
    for name, listener in listeners:
        event.listen(engine.sync_engine, name, listener)
    found: dict[str, dict[str, int]] = {}
    try:
        row = await _awaiting_request(engine)
        seen.clear()
        # As the handlers do: the messages due now are written leased to this process, and
        # sent from what the change returned.
        outcome = await workflow.act(
            TEAM_ID, row.id, row.connector_id, Action.ACCEPT, lease=dispatcher.lease()
        )
        found["Accept: workflow.act"] = dict(seen)
        seen.clear()
        await dispatcher.deliver_outcome(outcome)
        found[f"Accept: deliver {len(outcome.message_ids)} messages"] = dict(seen)
        draft = RequestDraft(
            requester=Teammate(user_id(7), user_name(7)),
            connector=Teammate(user_id(8), user_name(8)),
            target_name="Jane Roundtrip",
            target_company="Counting Labs",
            reason="Counting statements.",
            blurb="Hi Jane, would you be open to a call? It is about counting. We count well.",
        )
        directory = Directory(sessions, clock)
        seen.clear()
        review = await directory.review_ask(
            TEAM_ID, user_id(7), user_id(8), draft.target_name, draft.target_company
        )
        found["submission: review before the ack"] = dict(seen)
        seen.clear()
        submitted = await workflow.submit(
            TEAM_ID,
            draft,
            [],
            owner_id=review.account_owner,
            lease=dispatcher.lease(),
            stale_tie=review.stale_tie,
        )
        found["submission: workflow.submit"] = dict(seen)
        seen.clear()
        await dispatcher.deliver_outcome(submitted)
        found[f"submission: deliver {len(submitted.message_ids)} messages"] = dict(seen)
        paced = Dispatcher(
            sessions,
            delivery_client(settings),
            clock,
            workflow,
            directory=directory,
            pacer=Pacer(SharedBudgets(engine), Rates.slack()),
        )
        await count_paced(engine, workflow, paced, directory, draft, seen, found)
        await count_suggestions(engine, directory, draft, seen, found)
    finally:
        for name, listener in listeners:
            event.remove(engine.sync_engine, name, listener)
        await engine.dispose()
        await fake.stop()
    return found


async def count_paced(
    engine: Any,
    workflow: IntroWorkflow,
    dispatcher: Dispatcher,
    directory: Directory,
    draft: RequestDraft,
    seen: Counter[str],
    found: dict[str, dict[str, int]],
) -> None:
    """An Accept's and a submission's delivery with pacing on: the calls' turns leased."""
    row = await _awaiting_request(engine)
    outcome = await workflow.act(
        TEAM_ID, row.id, row.connector_id, Action.ACCEPT, lease=dispatcher.lease()
    )
    seen.clear()
    await dispatcher.deliver_outcome(outcome)
    found[f"Accept, pacing on: deliver {len(outcome.message_ids)} messages"] = dict(seen)
    paced_draft = RequestDraft(
        requester=Teammate(user_id(10), user_name(10)),
        connector=Teammate(user_id(11), user_name(11)),
        target_name="Jane Paced",
        target_company=draft.target_company,
        reason=draft.reason,
        blurb=draft.blurb,
    )
    review = await directory.review_ask(
        TEAM_ID, user_id(10), user_id(11), paced_draft.target_name, paced_draft.target_company
    )
    submitted = await workflow.submit(
        TEAM_ID,
        paced_draft,
        [],
        owner_id=review.account_owner,
        lease=dispatcher.lease(),
        stale_tie=review.stale_tie,
    )
    seen.clear()
    await dispatcher.deliver_outcome(submitted)
    found[f"submission, pacing on: deliver {len(submitted.message_ids)} messages"] = dict(seen)


async def count_suggestions(
    engine: Any,
    directory: Directory,
    draft: RequestDraft,
    seen: Counter[str],
    found: dict[str, dict[str, int]],
) -> None:
    """/intro's suggestions for a name, and a submission's review when its connector is at a
    limit (the search for the next best path), with no one and then one teammate known to
    know the person (the seeded history has no contacts)."""
    # The connector with the most asks open is at a limit: the review looks for the next
    # best path, as it does for most of the yardstick's submissions.
    async with engine.connect() as connection:
        busiest = (
            await connection.execute(
                text(
                    "SELECT connector_id FROM intro_requests WHERE team_id = :team AND "
                    "status IN :open GROUP BY connector_id ORDER BY count(*) DESC LIMIT 1"
                ).bindparams(bindparam("open", expanding=True)),
                {"team": TEAM_ID, "open": sorted(s.value for s in OPEN_STATUSES)},
            )
        ).scalar_one()
    for known in ("no one known", "one teammate known"):
        if known != "no one known":
            await directory.add_contact(
                TEAM_ID, user_id(9), ContactInput(draft.target_name, draft.target_company)
            )
        # /intro with a name, after the form is open: as handlers.suggestions does it (no
        # connector picked yet).
        seen.clear()
        await directory.form_findings(TEAM_ID, user_id(7), draft.target_name)
        found[f"/intro: the suggestions, {known}"] = dict(seen)
        seen.clear()
        at_limit = await directory.review_ask(
            TEAM_ID, user_id(7), busiest, draft.target_name, draft.target_company
        )
        assert at_limit.pacing is not None, "the busiest connector is under their limits"
        found[f"submission: review, connector at a limit, {known}"] = dict(seen)


PROTOCOL = ("AUTOCOMMIT", "AUTOCOMMIT_READ", "BEGIN", "COMMIT", "ROLLBACK")


def main() -> None:
    found = asyncio.run(count())
    print(
        "| step | round trips | statements (of which in autocommit) "
        "| BEGIN / COMMIT / ROLLBACK | commits of writes |"
    )
    print("|---|---:|---:|---:|---:|")
    for step, counts in found.items():
        statements = sum(v for k, v in counts.items() if k not in PROTOCOL)
        own = counts.get("AUTOCOMMIT", 0) + counts.get("AUTOCOMMIT_READ", 0)
        ends = [counts.get(k, 0) for k in ("BEGIN", "COMMIT", "ROLLBACK")]
        trips = statements + sum(ends)
        commits = counts.get("AUTOCOMMIT", 0) + counts.get("COMMIT", 0)
        print(
            f"| {step} | {trips} | {statements} ({own}) | {' / '.join(map(str, ends))} "
            f"| {commits} |"
        )
    print(json.dumps(found))


if __name__ == "__main__":
    main()
