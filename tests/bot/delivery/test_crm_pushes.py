"""Intros pushed to a workspace's CRM through the outbox: a row with each stage reached, sent
by the CRM channel through the workspace's adapter (here a small one of the test's own that
keeps what it is given), with the outbox's retries, a pause on refused credentials, and a
Retry for what the CRM rejected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.crm import (
    CrmIds,
    CrmRateLimited,
    CrmRejected,
    CrmUnauthorized,
    CrmUnavailable,
)
from bot.delivery.crm.credentials import SecretBox
from bot.delivery.crm.pushes import PAUSED_RECHECK, CrmPushes
from bot.delivery.dispatcher import Dispatcher
from bot.intro.clock import ManualClock
from bot.intro.crm import CrmRecord, CrmStage
from bot.intro.people import Teammate
from bot.intro.privacy import email_fingerprint
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow, Outcome, plan
from bot.observability.metrics import Metrics
from bot.settings import Settings, load_settings
from bot.standin.web_api import FakeSlack
from storage.db import create_engine_for, make_sessionmaker
from storage.models import (
    CrmConnection,
    DeliveryStatus,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    RequestEvent,
)

TEAM = "T0FAKE"
REQUESTER, CONNECTOR, ADMIN = "U1", "U2", "UA"
SECRET_KEY = "a-secret-key-of-at-least-thirty-two-characters"
HASH_KEY = "a-key-for-hashing-emails"
TOKEN = "pat-na1-00000000-0000-0000-0000-000000000000"
EMAIL = "Jane.Doe@Acme.example"
PAUSED_DM = (
    "HubSpot refused introbot's access token, so intros wait to be pushed. Connect it again "
    "from introbot's Home tab; nothing is lost."
)


@dataclass
class RecordingCrm:
    """A CRM adapter (the CrmAdapter protocol) that keeps each push and answers as told: the
    next error queued in `failures`, else the record's ids (one record per request key, as a
    CRM's upsert on introbot's external id would keep it)."""

    pushes: list[tuple[CrmRecord, CrmIds | None]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    records: dict[str, str] = field(default_factory=dict)  # introbot's key -> record id
    built_with: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def check(self) -> list[str]:
        return []

    async def account(self) -> str:
        return "portal 12345"

    async def push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        self.pushes.append((record, known))
        if self.failures:
            raise self.failures.pop(0)
        record_id = self.records.setdefault(record.key, str(101 + len(self.records)))
        return CrmIds("contact", record_id)

    def factory(self, vendor: str, credentials: dict[str, Any], settings: Settings) -> RecordingCrm:
        self.built_with.append((vendor, credentials))
        return self

    @property
    def stages(self) -> list[CrmStage]:
        return [record.stage for record, _ in self.pushes]


@dataclass
class Rig:
    fake: FakeSlack
    clock: ManualClock
    sessions: async_sessionmaker[AsyncSession]
    workflow: IntroWorkflow
    crm: RecordingCrm
    pushes: CrmPushes
    dispatcher: Dispatcher
    metrics: Metrics
    client: AsyncWebClient

    async def connect(self, vendor: str = "hubspot") -> None:
        async with self.sessions.begin() as session:
            session.add(
                CrmConnection(
                    team_id=TEAM,
                    vendor=vendor,
                    credentials=SecretBox(SECRET_KEY).seal({"token": TOKEN}),
                    account="portal 12345",
                    connected_by=ADMIN,
                    connected_at=self.clock.now(),
                )
            )

    async def intro_made(self, target: str = "Jane Doe", email: str | None = EMAIL) -> int:
        """A request through to the intro, the connector having given the target's email;
        what it promised delivered at once."""
        draft = RequestDraft(
            requester=Teammate(REQUESTER, "Riya Patel"),
            connector=Teammate(CONNECTOR, "Carlos Mendes"),
            target_name=target,
            target_company="Acme",
            reason="Expansion",
            blurb=f"Hi {target.split()[0]}, I'm Riya. Would you be open to a call?",
            submission_key=target,
        )
        request_id = (await self.deliver(self.workflow.submit(TEAM, draft, []))).request.id
        await self.act(request_id, CONNECTOR, Action.ACCEPT)
        async with self.sessions.begin() as session:
            await session.execute(
                update(IntroRequest).where(IntroRequest.id == request_id).values(target_email=email)
            )
        await self.act(request_id, CONNECTOR, Action.TARGET_AGREED)
        return request_id

    async def act(self, request_id: int, actor: str, action: Action) -> Outcome:
        self.clock.advance(timedelta(minutes=1))
        return await self.deliver(self.workflow.act(TEAM, request_id, actor, action))

    async def deliver(self, change: Any) -> Outcome:
        outcome: Outcome = await change
        await self.dispatcher.deliver_outcome(outcome)
        return outcome

    async def sweep(self, after: timedelta = timedelta(0)) -> None:
        self.clock.advance(after)
        await self.dispatcher.sweep()

    async def rows(self, kind: MessageKind = MessageKind.CRM_PUSH) -> list[OutboundMessage]:
        async with self.sessions() as session:
            found = await session.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.kind == kind)
                .order_by(OutboundMessage.id)
            )
            return list(found)

    async def request(self, request_id: int) -> IntroRequest:
        async with self.sessions() as session:
            found = await session.get(IntroRequest, request_id)
            assert found is not None
            return found

    async def connection(self) -> CrmConnection | None:
        async with self.sessions() as session:
            return await session.get(CrmConnection, TEAM)

    def counted(self, result: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "introbot_crm_pushes_total", {"vendor": "hubspot", "result": result}
        )
        return value or 0.0


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    fake = FakeSlack()
    for user_id, name in ((REQUESTER, "Riya Patel"), (CONNECTOR, "Carlos Mendes")):
        fake.add_user(user_id, name=name.split()[0].lower(), real_name=name)
    fake.add_user(ADMIN, name="alex", real_name="Alex Admin", is_admin=True)
    base_url = await fake.start()
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    settings = load_settings(
        DATABASE_URL=database_url, INTROBOT_SECRET_KEY=SECRET_KEY, INTROBOT_HASH_KEY=HASH_KEY
    )
    crm = RecordingCrm()
    metrics = Metrics()
    pushes = CrmPushes(sessions, clock, settings, adapters=crm.factory, metrics=metrics)
    workflow = IntroWorkflow(sessions, clock, crm_everywhere=pushes.everywhere)
    client = AsyncWebClient(token=fake.token, base_url=base_url, retry_handlers=[])
    dispatcher = Dispatcher(
        sessions, client, clock, workflow, owner="a", metrics=metrics, channels=[pushes]
    )
    yield Rig(fake, clock, sessions, workflow, crm, pushes, dispatcher, metrics, client)
    await engine.dispose()
    await fake.stop()


async def test_an_intro_made_is_pushed_once_its_record_kept_and_the_email_hashed(
    rig: Rig,
) -> None:
    await rig.connect()
    request_id = await rig.intro_made()
    assert rig.crm.built_with == [("hubspot", {"token": TOKEN})]  # the sealed credentials
    [(record, known)] = rig.crm.pushes
    assert known is None
    assert (record.stage, record.key, record.at) == (
        CrmStage.INTRO_MADE,
        f"{TEAM}-{request_id}",
        rig.clock.now(),
    )
    assert (record.first_name, record.last_name, record.company) == ("Jane", "Doe", "Acme")
    assert record.email == EMAIL.lower()
    assert (record.requester_name, record.connector_name, record.cold) == (
        "Riya Patel",
        "Carlos Mendes",
        False,
    )
    [row] = await rig.rows()
    assert (row.status, row.recipient_id, row.request_id) == (DeliveryStatus.SENT, "", request_id)
    assert row.data["stage"] == "intro_made"
    request = await rig.request(request_id)
    assert (request.crm_object_type, request.crm_object_id) == ("contact", "101")
    # The email's only use was this push: from now on the request keeps its keyed hash.
    assert request.target_email is None
    assert request.target_email_hash == email_fingerprint(HASH_KEY.encode(), EMAIL)
    assert rig.counted("pushed") == 1

    # A later stage updates the same record, and no one's email goes with it.
    await rig.act(request_id, REQUESTER, Action.REPORT_MEETING_HELD)
    (_, first), (meeting, known) = rig.crm.pushes[0], rig.crm.pushes[1]
    assert first is None and known == CrmIds("contact", "101")
    assert (meeting.stage, meeting.email) == (CrmStage.MEETING_HELD, None)
    assert [r.status for r in await rig.rows()] == [DeliveryStatus.SENT] * 2


async def test_a_cold_approach_is_pushed_as_cold_outreach(rig: Rig) -> None:
    await rig.connect()
    draft = RequestDraft(
        requester=Teammate(REQUESTER, "Riya Patel"),
        connector=None,
        target_name="Bob Lee",
        target_company="Initech",
        reason="Expansion",
        blurb="Hi Bob, I'm Riya. Would you be open to a call?",
    )
    await rig.deliver(rig.workflow.go_cold(TEAM, Teammate(REQUESTER, "Riya Patel"), draft))
    [(record, _)] = rig.crm.pushes
    assert (record.stage, record.cold, record.connector_name) == (CrmStage.WENT_COLD, True, "")
    assert record.lead_source == "Cold Outreach"


async def test_no_crm_no_decline_and_no_stage_written_twice(rig: Rig) -> None:
    request_id = await rig.intro_made()  # no CRM connected yet
    assert await rig.rows() == [] and rig.crm.pushes == []
    await rig.connect()
    declined = await rig.intro_made("Ann Lee")
    await rig.act(declined, REQUESTER, Action.REPORT_NOT_A_FIT)
    other = await rig.intro_made("Bo Park")
    rows = await rig.rows()
    assert [(r.request_id, r.data["stage"]) for r in rows] == [
        (declined, "intro_made"),
        (declined, "not_a_fit"),
        (other, "intro_made"),
    ]
    # A connector's no writes nothing for the CRM.
    draft = RequestDraft(
        requester=Teammate(REQUESTER, "Riya Patel"),
        connector=Teammate(CONNECTOR, "Carlos Mendes"),
        target_name="Cy Diaz",
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Cy, I'm Riya. Would you be open to a call?",
    )
    no = (await rig.deliver(rig.workflow.submit(TEAM, draft, []))).request.id
    await rig.act(no, CONNECTOR, Action.ACCEPT)
    await rig.act(no, CONNECTOR, Action.TARGET_DECLINED)
    assert len(await rig.rows()) == 3
    # The same stage's change written again (a replay) adds no second push.
    async with rig.sessions.begin() as session:
        request = await session.get(IntroRequest, other)
        assert request is not None
        again = RequestEvent(
            team_id=TEAM,
            request_id=other,
            actor_id=CONNECTOR,
            action=Action.TARGET_AGREED,
            from_status="checking_with_target",
            to_status="intro_made",
            at=rig.clock.now(),
        )
        session.add(again)
        assert await rig.workflow._crm_pushes(session, request, [again]) == []
    assert request_id  # the first request, made before the CRM, never gets a row
    assert len(await rig.rows()) == 3


async def test_refused_credentials_pause_the_crm_tell_its_admin_once_and_lose_nothing(
    rig: Rig,
) -> None:
    await rig.connect()
    refused = CrmUnauthorized("HubSpot refused the private app's token (401)")
    rig.crm.failures = [refused]
    first = await rig.intro_made()
    second = await rig.intro_made("Ann Lee")
    connection = await rig.connection()
    assert connection is not None and connection.paused_at is not None
    assert connection.paused_reason == str(refused)
    assert [r.status for r in await rig.rows()] == [DeliveryStatus.PENDING] * 2
    assert len(rig.crm.pushes) == 1  # the second found the CRM paused: not tried
    # The admin who connected it is told once, through the outbox.
    await rig.sweep()
    [notice] = [n for n in await rig.rows(MessageKind.NOTICE) if n.request_id is None]
    assert (notice.recipient_id, notice.status) == (ADMIN, DeliveryStatus.SENT)
    assert [m["text"] for m in rig.fake.messages_for(ADMIN)] == [PAUSED_DM]
    await rig.sweep(PAUSED_RECHECK + timedelta(minutes=1))
    assert len(rig.crm.pushes) == 1 and len(rig.fake.messages_for(ADMIN)) == 1
    assert rig.counted("unauthorized") == 1

    # Connected again: the waiting pushes go at once.
    assert await rig.pushes.resume(TEAM) == 2
    await rig.sweep()
    assert sorted(r.request_id for r, _ in rig.crm.pushes[1:]) == [first, second]
    assert [r.status for r in await rig.rows()] == [DeliveryStatus.SENT] * 2
    connection = await rig.connection()
    assert connection is not None and connection.paused_at is None
    assert len(rig.fake.messages_for(ADMIN)) == 1


async def test_a_crm_asking_to_wait_is_waited_for_without_a_failed_try(rig: Rig) -> None:
    await rig.connect()
    until = rig.clock.now() + timedelta(minutes=13)
    rig.crm.failures = [CrmRateLimited("HubSpot's ten-second limit (429)", until)]
    await rig.intro_made()
    [row] = await rig.rows()
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert row.due_at == until
    await rig.sweep(timedelta(minutes=5))
    assert len(rig.crm.pushes) == 1  # not before the CRM said
    await rig.sweep(timedelta(minutes=10))
    assert len(rig.crm.pushes) == 2
    assert [r.status for r in await rig.rows()] == [DeliveryStatus.SENT]


async def test_a_crm_down_is_tried_again_and_the_record_made_once(rig: Rig) -> None:
    await rig.connect()
    rig.crm.failures = [CrmUnavailable("HubSpot answered 503"), CrmUnavailable("no answer")]
    request_id = await rig.intro_made()
    [row] = await rig.rows()
    assert (row.status, row.last_error, row.attempts) == (
        DeliveryStatus.PENDING,
        "HubSpot answered 503",
        1,
    )
    await rig.sweep(timedelta(minutes=1))
    await rig.sweep(timedelta(minutes=1))
    assert len(rig.crm.pushes) == 3
    [row] = await rig.rows()
    assert row.status == DeliveryStatus.SENT
    assert rig.crm.records == {f"{TEAM}-{request_id}": "101"}  # one record, however many tries
    assert (await rig.request(request_id)).crm_object_id == "101"
    assert rig.counted("unavailable") == 2 and rig.counted("pushed") == 1


async def test_a_push_the_crm_rejects_fails_with_its_reason_until_retried(rig: Rig) -> None:
    await rig.connect()
    reason = "Lead Source has no value Warm Introduction: add it to the picklist"
    rig.crm.failures = [CrmRejected(reason)]
    request_id = await rig.intro_made()
    [row] = await rig.rows()
    assert (row.status, row.last_error) == (DeliveryStatus.FAILED, reason)
    # Its email is kept for the push still to come.
    assert (await rig.request(request_id)).target_email == EMAIL
    await rig.sweep(timedelta(days=1))
    assert len(rig.crm.pushes) == 1
    assert not await rig.pushes.retry("T0OTHER", row.id)  # another workspace's row: no
    assert await rig.pushes.retry(TEAM, row.id)
    [row] = await rig.rows()
    assert (row.status, row.attempts, row.due_at) == (
        DeliveryStatus.PENDING,
        0,
        rig.clock.now(),
    )
    await rig.sweep()
    assert len(rig.crm.pushes) == 2
    [row] = await rig.rows()
    assert row.status == DeliveryStatus.SENT
    assert (await rig.request(request_id)).target_email is None
    assert not await rig.pushes.retry(TEAM, row.id)  # sent: nothing to retry


async def test_a_push_never_taken_is_expired_after_thirty_days_and_can_be_retried(
    rig: Rig,
) -> None:
    await rig.connect()
    rig.crm.failures = [CrmUnavailable("HubSpot answered 502")] * 400
    await rig.intro_made()
    written = rig.clock.now()
    while rig.clock.now() - written < timedelta(days=31):
        await rig.sweep(timedelta(hours=6))
    [row] = await rig.rows()
    assert row.status == DeliveryStatus.EXPIRED
    rig.crm.failures = []
    assert await rig.pushes.retry(TEAM, row.id)
    await rig.sweep()
    assert [r.status for r in await rig.rows()] == [DeliveryStatus.SENT]


async def test_a_crm_disconnected_meanwhile_cancels_its_pushes(rig: Rig) -> None:
    await rig.connect()
    rig.crm.failures = [CrmUnavailable("HubSpot answered 503")]
    await rig.intro_made()
    async with rig.sessions.begin() as session:
        connection = await session.get(CrmConnection, TEAM)
        await session.delete(connection)
    await rig.sweep(timedelta(minutes=1))
    [row] = await rig.rows()
    assert row.status == DeliveryStatus.CANCELLED
    assert len(rig.crm.pushes) == 1


async def test_a_stage_pushed_before_is_not_written_again_on_either_path(rig: Rig) -> None:
    await rig.connect()
    draft = RequestDraft(
        requester=Teammate(REQUESTER, "Riya Patel"),
        connector=Teammate(CONNECTOR, "Carlos Mendes"),
        target_name="Jane Doe",
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Jane, I'm Riya. Would you be open to a call?",
    )
    request_id = (await rig.deliver(rig.workflow.submit(TEAM, draft, []))).request.id
    await rig.act(request_id, CONNECTOR, Action.ACCEPT)
    # The intro's push as an earlier write of the same change left it.
    async with rig.sessions.begin() as session:
        request = await session.get(IntroRequest, request_id)
        assert request is not None
        session.add(plan.crm_message(request, CrmStage.INTRO_MADE, 0, now=rig.clock.now()))
    await rig.act(request_id, CONNECTOR, Action.TARGET_AGREED)
    [row] = await rig.rows()
    assert row.data == {"stage": "intro_made", "event_id": 0}


async def test_credentials_sealed_under_another_key_pause_the_crm_and_say_so(rig: Rig) -> None:
    async with rig.sessions.begin() as session:
        session.add(
            CrmConnection(
                team_id=TEAM,
                vendor="hubspot",
                credentials=SecretBox("another-secret-key-of-thirty-two-chars!").seal({"t": 1}),
                connected_by=ADMIN,
                connected_at=rig.clock.now(),
            )
        )
    await rig.intro_made()
    assert rig.crm.pushes == []  # no adapter built without credentials
    [row] = await rig.rows()
    assert row.status == DeliveryStatus.PENDING
    connection = await rig.connection()
    assert connection is not None and connection.paused_at is not None
    await rig.sweep()
    assert [m["text"] for m in rig.fake.messages_for(ADMIN)] == [
        "introbot can no longer read the HubSpot credentials it was given, so intros wait to "
        "be pushed. Connect HubSpot again from introbot's Home tab; nothing is lost."
    ]


async def test_a_crm_set_in_the_settings_that_refuses_its_token_waits_for_the_operator(
    database_url: str, rig: Rig
) -> None:
    settings = load_settings(DATABASE_URL=database_url, INTROBOT_HUBSPOT_TOKEN=TOKEN)
    pushes = CrmPushes(rig.sessions, rig.clock, settings, adapters=rig.crm.factory)
    assert pushes.everywhere
    rig.workflow = IntroWorkflow(rig.sessions, rig.clock, crm_everywhere=True)
    rig.dispatcher = Dispatcher(
        rig.sessions, rig.client, rig.clock, rig.workflow, channels=[pushes]
    )
    rig.crm.failures = [CrmUnauthorized("HubSpot refused the private app's token (401)")]
    await rig.intro_made()
    assert rig.crm.built_with == [("hubspot", {"token": TOKEN})]
    [row] = await rig.rows()
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 0)
    assert row.due_at == rig.clock.now() + PAUSED_RECHECK
    await rig.sweep(PAUSED_RECHECK)
    assert [r.status for r in await rig.rows()] == [DeliveryStatus.SENT]
    assert rig.fake.messages_for(ADMIN) == []  # no admin connected it: the operator's logs say


async def test_one_adapter_serves_a_workspaces_pushes_until_it_connects_anew(rig: Rig) -> None:
    """Built once per credentials: a Salesforce adapter signs in once, not once per push."""
    await rig.connect()
    await rig.intro_made()
    await rig.intro_made(target="Ann Lee")
    assert len(rig.crm.pushes) == 2
    assert len(rig.crm.built_with) == 1
    async with rig.sessions.begin() as session:
        row = await session.get(CrmConnection, TEAM)
        assert row is not None
        row.credentials = SecretBox(SECRET_KEY).seal({"token": "pat-na1-a-new-one"})
    await rig.intro_made(target="Bo Park")
    assert [credentials for _, credentials in rig.crm.built_with] == [
        {"token": TOKEN},
        {"token": "pat-na1-a-new-one"},
    ]
