"""Three `introbot serve` processes on one PostgreSQL push intros to one stand-in CRM (set in
their settings), HubSpot or Salesforce: each (request, stage) gets one note or Task, though the
CRM answers 429s (the ones it is told to; HubSpot's own 100 calls in 10 s shared by the three)
and one replica is killed (SIGKILL) while it holds pushes."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from bot.standin.hubspot import FakeHubSpot
from bot.standin.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce
from bot.standin.web_api import FakeSlack
from storage.db import sync_url
from storage.models import IntroRequest, MessageKind, OutboundMessage, RequestEvent
from tests.storage.test_delivery_replicas import _leases, _start, replicas  # noqa: F401

INTROBOT = shutil.which("introbot") or ""
TEAM = "T0FAKE"
REQUESTS = 40
STAGES = {"intro_made": "Intro made", "meeting_held": "Meeting held"}
_KEY = re.compile(r"\(introbot request ([^)]+)\)")
_SUBJECT = re.compile(r"Warm intro: ([^<]+)</strong>")


def _seed(database_url: str) -> None:
    """`REQUESTS` intros made an hour ago and met since, each with its two pushes due (the
    outbox's rows as the workflow writes them: the stage, the change's event); half of the
    targets' emails were given."""
    past = datetime.now(UTC) - timedelta(hours=1)
    requests, events, rows = [], [], []
    for n in range(1, REQUESTS + 1):
        requests.append(
            {
                "id": n,
                "team_id": TEAM,
                "requester_id": "U0REQUESTER",
                "requester_name": "Riya Patel",
                "connector_id": "U0CONNECTOR",
                "connector_name": "Carlos Mendes",
                "target_name": f"Jane Doe{n}",
                "target_company": f"Acme {n}",
                "target_email": f"jane{n}@acme.example" if n % 2 == 0 else None,
                "reason": "r",
                "blurb": "b",
                "closeness": "",
                "status": "meeting_held",
                "outcome": "meeting_held",
                "created_at": past,
                "updated_at": past,
            }
        )
        for offset, (action, stage, to_status) in enumerate(
            (
                ("target_agreed", "intro_made", "intro_made"),
                ("report_meeting_held", "meeting_held", "meeting_held"),
            )
        ):
            event_id = 2 * n - 1 + offset
            at = past + timedelta(minutes=offset)
            events.append(
                {
                    "id": event_id,
                    "team_id": TEAM,
                    "request_id": n,
                    "actor_id": "U0CONNECTOR",
                    "action": action,
                    "from_status": "checking_with_target",
                    "to_status": to_status,
                    "at": at,
                }
            )
            rows.append(
                {
                    "team_id": TEAM,
                    "request_id": n,
                    "dedupe_key": f"request:{n}:crm_push:crm:{stage}",
                    "kind": MessageKind.CRM_PUSH,
                    "recipient_id": "",
                    "data": {"stage": stage, "event_id": event_id},
                    "status": "pending",
                    "due_at": at,
                    "attempts": 0,
                    "created_at": at,
                }
            )
    engine = create_engine(sync_url(database_url))
    with engine.begin() as connection:
        connection.execute(insert(IntroRequest), requests)
        connection.execute(insert(RequestEvent), events)
        connection.execute(insert(OutboundMessage), rows)
    engine.dispose()


def _push_statuses(database_url: str) -> Counter[str]:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(OutboundMessage.status, func.count())
                .where(OutboundMessage.kind == MessageKind.CRM_PUSH)
                .group_by(OutboundMessage.status)
            )
            return Counter({status: count for status, count in rows})
    finally:
        engine.dispose()


def _notes(hubspot: FakeHubSpot) -> Counter[tuple[str, str]]:
    """The notes on contacts, by (request key, stage)."""
    said: Counter[tuple[str, str]] = Counter()
    for contact in hubspot.contacts.values():
        for note in hubspot.notes_of(contact.id):
            body = note.properties["hs_note_body"]
            key, subject = _KEY.search(body), _SUBJECT.search(body)
            assert key is not None and subject is not None, body
            said[(key.group(1), subject.group(1))] += 1
    return said


@pytest.fixture
async def fake(database_url: str) -> AsyncIterator[FakeSlack]:
    """The replicas' Slack; several replicas need PostgreSQL (SQLite runs one process)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite runs one process)")
    slack = FakeSlack()
    await slack.start()
    try:
        yield slack
    finally:
        await slack.stop()


async def _push_through_replicas(
    fake: FakeSlack,
    database_url: str,
    tmp_path: Path,
    started: list[subprocess.Popen[bytes]],
    crm: dict[str, str],
    refuse_next: Callable[[], None],
) -> None:
    """Seeds the pushes, starts three replicas (into `started`) with `crm` in their settings,
    kills one while it holds pushes, and waits until every push is sent, once; `refuse_next`
    makes the CRM answer the next calls 429 (before the replicas start, and after the kill)."""
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(_seed, database_url)
    refuse_next()
    for _ in range(3):
        started.append(_start(fake, database_url, tmp_path, crm))
    # Kill a replica while it holds pushes: freeze it, check it still holds some, kill it.
    pids = {process.pid for process in started}
    deadline = loop.time() + 60
    held = 0
    while not held:
        assert loop.time() < deadline, "no replica was ever seen holding a push"
        holders = set(await asyncio.to_thread(_leases, database_url)) & pids
        if not holders:
            await asyncio.sleep(0.02)
            continue
        victim = holders.pop()
        os.kill(victim, signal.SIGSTOP)
        await asyncio.sleep(0.5)
        held = (await asyncio.to_thread(_leases, database_url))[victim]
        os.kill(victim, signal.SIGKILL if held else signal.SIGCONT)
    refuse_next()
    deadline = loop.time() + 75
    while (statuses := await asyncio.to_thread(_push_statuses, database_url)) != {
        "sent": 2 * REQUESTS
    }:
        assert loop.time() < deadline, statuses
        assert set(statuses) <= {"pending", "sending", "sent"}, statuses
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.5)  # one more sweep tick: a push made twice would show now
    assert await asyncio.to_thread(_push_statuses, database_url) == {"sent": 2 * REQUESTS}


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_three_replicas_push_each_stage_once_through_429s_and_a_kill(
    database_url: str,
    tmp_path: Path,
    replicas: list[subprocess.Popen[bytes]],  # noqa: F811
    fake: FakeSlack,
) -> None:
    hubspot = FakeHubSpot(token=f"pat-na1-{uuid.uuid4()}")
    await hubspot.start()
    crm = {"INTROBOT_HUBSPOT_TOKEN": hubspot.token, "INTROBOT_HUBSPOT_API_URL": hubspot.url}
    try:
        await _push_through_replicas(
            fake,
            database_url,
            tmp_path,
            replicas,
            crm,
            lambda: hubspot.fail_next(6, 429, retry_after=1),
        )
        expected = {
            (f"{TEAM}-{n}", label) for n in range(1, REQUESTS + 1) for label in STAGES.values()
        }
        notes = _notes(hubspot)
        assert set(notes) == expected
        assert [k for k, count in notes.items() if count != 1] == []
        assert len(hubspot.notes) == 2 * REQUESTS
        # One contact per request, carrying introbot's properties.
        keys = Counter(c.properties.get("introbot_request_id") for c in hubspot.contacts.values())
        assert keys == Counter({f"{TEAM}-{n}": 1 for n in range(1, REQUESTS + 1)})
        assert {c.properties.get("introbot_lead_source") for c in hubspot.contacts.values()} == {
            "Warm Introduction"
        }
        # HubSpot asked to wait, as told and on its own; the killed replica's pushes were taken
        # over by the others.
        assert sum(1 for c in hubspot.calls if c.status == 429) >= 12
    finally:
        await hubspot.stop()


@pytest.mark.skipif(not INTROBOT, reason="the introbot script is not installed")
async def test_three_replicas_give_salesforce_one_task_per_stage_through_429s_and_a_kill(
    database_url: str,
    tmp_path: Path,
    replicas: list[subprocess.Popen[bytes]],  # noqa: F811
    fake: FakeSlack,
) -> None:
    salesforce = FakeSalesforce()
    await salesforce.start()
    # Some targets are Contacts already (by the email the connector gave): theirs get Tasks.
    known = {n: f"jane{n}@acme.example" for n in range(2, REQUESTS + 1, 8)}
    contacts = {
        n: salesforce.add_contact(first_name="Jane", last_name=f"Doe{n}", email=email)
        for n, email in known.items()
    }
    crm = {
        "INTROBOT_SALESFORCE_CLIENT_ID": CLIENT_ID,
        "INTROBOT_SALESFORCE_CLIENT_SECRET": CLIENT_SECRET,
        "INTROBOT_SALESFORCE_DOMAIN": "acme.my.salesforce.com",
        "INTROBOT_SALESFORCE_LOGIN_URL": salesforce.url,
        # The replicas trust the stand-in's certificate as an operator would a company's own
        # authority (requests, under simple-salesforce, reads it).
        "REQUESTS_CA_BUNDLE": salesforce.ca_file,
    }
    try:
        await _push_through_replicas(
            fake,
            database_url,
            tmp_path,
            replicas,
            crm,
            lambda: salesforce.fail_next(6, status=429, retry_after=1),
        )
        leads = {lead["Introbot_Key__c"]: lead for lead in salesforce.records["Lead"].values()}
        # A Lead for every target who is not a Contact, none for those who are.
        assert set(leads) == {f"{TEAM}-{n}" for n in range(1, REQUESTS + 1) if n not in known}
        assert {lead["LeadSource"] for lead in leads.values()} == {"Warm Introduction"}
        who = {key: lead["Id"] for key, lead in leads.items()}
        who |= {f"{TEAM}-{n}": contact for n, contact in contacts.items()}
        tasks = Counter(
            (task["WhoId"], str(task["Subject"]).removeprefix("Warm intro: "))
            for task in salesforce.records["Task"].values()
        )
        expected = {(record, label) for record in who.values() for label in STAGES.values()}
        assert set(tasks) == expected
        assert [k for k, count in tasks.items() if count != 1] == []
        assert sum(1 for c in salesforce.rest_calls if c.status == 429) >= 12
    finally:
        await salesforce.stop()
