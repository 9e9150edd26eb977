"""GET /metrics counts what a scripted flow did, read back in Prometheus' text format."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.intro.clock import ManualClock
from bot.observability.metrics import Metrics, request_kind
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    REQUESTER,
    good_values,
    open_intro_modal,
    press,
    request_intro,
    submit,
)

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "Connections.csv"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()  # Monday 2026-01-05 15:00 UTC: 10:00 in New York


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def scrape(stack: LocalStack) -> Samples:
    async with aiohttp.ClientSession() as session, session.get(f"{stack.root}/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        text = await r.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


async def settle(stack: LocalStack) -> None:
    assert stack.services is not None
    await stack.services.work.drain()


async def test_a_scripted_flow_is_counted(stack: LocalStack, clock: ManualClock) -> None:
    before = await scrape(stack)
    assert total(before, "introbot_slack_requests_total") == 0

    card = await request_intro(stack)  # a slash command, then a view submission
    await press(stack, CONNECTOR, card, "intro_accept")  # a block action
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    await settle(stack)
    after = await scrape(stack)

    for kind in ("slash_command", "view_submission", "block_action"):
        assert value(after, "introbot_slack_requests_total", kind=kind) == 1, kind
        assert value(after, "introbot_slack_ack_seconds_count", kind=kind) == 1, kind
        # Every ack came well within Slack's 3 s.
        assert value(after, "introbot_slack_ack_seconds_bucket", kind=kind, le="3.0") == 1
    assert value(after, "introbot_deliveries_total", kind="connector_card", outcome="sent") == 1
    assert value(after, "introbot_deliveries_total", kind="requester_card", outcome="sent") == 1
    assert value(after, "introbot_deliveries_total", kind="notice", outcome="sent") == 1
    assert total(after, "introbot_slack_errors_total") == 0
    assert total(after, "introbot_listener_errors_total") == 0
    # Everything promised so far was sent: nothing waits but the reminders while the
    # connector checks with the target (two "did they answer?", then the ask going quiet).
    assert total(after, "introbot_outbox_pending") == 3
    assert value(after, "introbot_outbox_pending", kind="reminder") == 3
    assert total(after, "introbot_outbox_due") == 0
    assert total(after, "introbot_outbox_failed") == 0
    # Process metrics come with the app's own registry.
    assert total(after, "process_cpu_seconds_total") > 0


async def test_a_nudge_is_a_reminder_sent(stack: LocalStack, clock: ManualClock) -> None:
    await request_intro(stack)
    await settle(stack)
    before = await scrape(stack)
    assert value(before, "introbot_outbox_pending", kind="reminder") >= 1
    assert value(before, "introbot_outbox_due", kind="reminder") == 0

    clock.advance(timedelta(days=2))  # two working days of silence: Wednesday
    after_due = await scrape(stack)
    assert value(after_due, "introbot_outbox_due", kind="reminder") >= 1

    assert stack.services is not None
    await stack.services.dispatcher.sweep()
    after = await scrape(stack)
    assert value(after, "introbot_reminders_sent_total", reminder="nudge") == 1
    assert value(after, "introbot_deliveries_total", kind="reminder", outcome="sent") == 1
    assert value(after, "introbot_outbox_due", kind="reminder") == 0


async def test_rate_limits_and_permanent_errors_by_code(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None
    stack.fake.fail_next("chat.postMessage", status=429, retry_after=30)
    stack.fake.fail_next("chat.postMessage", error="user_not_found")
    view = await open_intro_modal(stack)
    status, _ = await submit(stack, view, good_values())
    assert status == 200
    await settle(stack)
    await stack.until(lambda: stack.fake.count("chat.postMessage") >= 2, "both cards tried")
    await settle(stack)

    metrics = await scrape(stack)
    assert value(metrics, "introbot_slack_errors_total", error="ratelimited") == 1
    assert value(metrics, "introbot_slack_errors_total", error="user_not_found") == 1
    assert total(metrics, "introbot_outbox_failed") == 1
    # The rate-limited card waits for its Retry-After: pending, not due yet.
    pending = total(metrics, "introbot_outbox_pending") - value(
        metrics, "introbot_outbox_pending", kind="reminder"
    )
    assert pending >= 1
    assert total(metrics, "introbot_outbox_due") == 0
    outcomes = {
        dict(labels)["outcome"]: v
        for (name, labels), v in metrics.items()
        if name == "introbot_deliveries_total"
    }
    assert outcomes.get("retry") == 1 and outcomes.get("failed") == 1

    clock.advance(timedelta(seconds=31))
    assert total(await scrape(stack), "introbot_outbox_due") >= 1
    await stack.services.dispatcher.sweep()
    await settle(stack)
    assert total(await scrape(stack), "introbot_outbox_due") == 0


async def test_imports_and_listener_errors(stack: LocalStack) -> None:
    assert stack.slack is not None
    dm = stack.fake.dm_channel(REQUESTER)
    shared = stack.fake.add_file(REQUESTER, "Connections.csv", FIXTURE.read_bytes())
    await stack.slack.event(payloads.file_shared(REQUESTER, shared["id"], dm))
    await stack.until(
        lambda: any("Imported" in m["text"] for m in stack.fake.messages_for(REQUESTER)), "report"
    )
    await settle(stack)
    not_linkedin = stack.fake.add_file(REQUESTER, "leads.csv", b"name,email\nJane,j@x.com\n")
    await stack.slack.event(payloads.file_shared(REQUESTER, not_linkedin["id"], dm))
    await settle(stack)
    # The Home tab failing to publish (the call and each retry) is a listener error.
    stack.fake.fail_next("views.publish", status=500, times=3)
    await stack.slack.event(payloads.app_home_opened(REQUESTER))
    await settle(stack)

    metrics = await scrape(stack)
    assert value(metrics, "introbot_linkedin_imports_total", stage="started") == 2
    assert value(metrics, "introbot_linkedin_imports_total", stage="finished") == 1
    assert value(metrics, "introbot_linkedin_imports_total", stage="failed") == 1
    assert value(metrics, "introbot_listener_errors_total", kind="event") == 1
    assert value(metrics, "introbot_slack_requests_total", kind="event") == 3


def test_each_app_counts_in_its_own_registry() -> None:
    first, second = Metrics(), Metrics()
    first.requests.labels("event").inc()
    assert b'introbot_slack_requests_total{kind="event"} 1.0' in first.exposition()[0]
    assert b'kind="event"' not in second.exposition()[0]


async def test_openmetrics_when_the_scraper_asks_for_it(stack: LocalStack) -> None:
    accept = "application/openmetrics-text; version=1.0.0"
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{stack.root}/metrics", headers={"Accept": accept}) as r,
    ):
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        assert (await r.text()).endswith("# EOF\n")


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"command": "/intro", "text": ""}, "slash_command"),
        ({"type": "block_actions"}, "block_action"),
        ({"type": "view_submission"}, "view_submission"),
        ({"type": "shortcut"}, "shortcut"),
        ({"type": "message_action"}, "message_shortcut"),
        ({"type": "event_callback"}, "event"),
        ({"type": "something_new"}, "other"),
        ("not a dict", "other"),
    ],
)
def test_request_kinds(body: object, kind: str) -> None:
    assert request_kind(body) == kind


async def test_requests_not_signed_by_slack_are_counted_as_refused_not_as_slack_requests(
    stack: LocalStack,
) -> None:
    fields = {"command": "/intro", "text": "Jane Doe", "team_id": "T0FAKE", "user_id": "U1"}
    body = urlencode(fields)
    content_type = "application/x-www-form-urlencoded"
    async with aiohttp.ClientSession() as session:
        for headers in (
            {"Content-Type": content_type},  # unsigned
            {  # signed, but ten minutes ago
                **stack.slack.signed_headers(body, content_type, timestamp=int(time.time()) - 600)
            },
        ):
            async with session.post(stack.endpoint, data=body, headers=headers) as answer:
                assert answer.status == 401
    after = await scrape(stack)
    assert value(after, "introbot_refused_requests_total") == 2
    assert total(after, "introbot_slack_requests_total") == 0
    assert total(after, "introbot_slack_ack_seconds_count") == 0
