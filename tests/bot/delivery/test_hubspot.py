"""The HubSpot adapter, driven against the stand-in HubSpot over loopback."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery.crm import (
    CrmIds,
    CrmRateLimited,
    CrmRejected,
    CrmUnauthorized,
    CrmUnavailable,
)
from bot.delivery.crm.adapters import adapter_for
from bot.delivery.crm.hubspot import (
    NOTE_TO_CONTACT,
    SCHEMA_WRITE_SCOPE,
    CallWindow,
    HubSpotAdapter,
    crm_error,
    note_is_for,
)
from bot.intro.crm import (
    HUBSPOT_LEAD_SOURCE,
    HUBSPOT_PROPERTIES,
    HUBSPOT_REFERRED_BY,
    HUBSPOT_REQUEST_ID,
    LEAD_SOURCE_COLD,
    LEAD_SOURCE_WARM,
    CrmRecord,
    CrmStage,
    crm_record,
)
from bot.settings import load_settings
from bot.standin.hubspot import ALL_SCOPES, SCHEMA_READ, SCHEMA_WRITE, FakeHubSpot

AT = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakeHubSpot]:
    async with FakeHubSpot() as hubspot:
        yield hubspot


def adapter(fake: FakeHubSpot, token: str | None = None, **kwargs: object) -> HubSpotAdapter:
    # A window of its own: the process-wide one would count other tests' calls.
    window = kwargs.pop("window", None) or CallWindow()
    return HubSpotAdapter(token or fake.token, fake.url, window=window)  # type: ignore[arg-type]


async def ready(fake: FakeHubSpot) -> HubSpotAdapter:
    hubspot = adapter(fake)
    assert await hubspot.check() == []
    return hubspot


def record(
    stage: CrmStage = CrmStage.INTRO_MADE,
    *,
    request_id: int = 4,
    name: str = "Ada Lovelace",
    company: str = "Acme",
    email: str | None = None,
    cold: bool = False,
    at: datetime = AT,
) -> CrmRecord:
    return crm_record(
        team_id="T0TEAM",
        request_id=request_id,
        stage=stage,
        at=at,
        target_name=name,
        target_company=company,
        target_role="CTO",
        target_email=email,
        requester_name="Riya Patel",
        connector_name="Carlos Mendes",
        cold=cold,
    )


def posts(fake: FakeHubSpot, path: str) -> int:
    return sum(1 for c in fake.calls if c.method == "POST" and c.path == path)


# --- check and account ------------------------------------------------------------------------


async def test_check_creates_the_properties_then_reports_ready(fake: FakeHubSpot) -> None:
    hubspot = adapter(fake)

    assert await hubspot.check() == []

    contact_properties = fake.properties["contacts"]
    for name in HUBSPOT_PROPERTIES:
        assert contact_properties[name]["groupName"] == "introbot"
    lead_source = contact_properties[HUBSPOT_LEAD_SOURCE]
    assert lead_source["type"] == "enumeration"
    assert {o["value"] for o in lead_source["options"]} == {LEAD_SOURCE_WARM, LEAD_SOURCE_COLD}
    assert posts(fake, "/crm/v3/properties/contacts") == 3

    # Ready now: a second check creates nothing.
    assert await hubspot.check() == []
    assert posts(fake, "/crm/v3/properties/contacts") == 3
    assert posts(fake, "/crm/v3/properties/contacts/groups") == 1


async def test_check_without_the_schema_scope_names_each_missing_property(
    fake: FakeHubSpot,
) -> None:
    token = fake.add_token("pat-no-schema-write", ALL_SCOPES - {SCHEMA_WRITE})

    lines = await adapter(fake, token).check()

    assert len(lines) == len(HUBSPOT_PROPERTIES)
    for line, name in zip(lines, HUBSPOT_PROPERTIES, strict=True):
        assert name in line
        assert SCHEMA_WRITE_SCOPE in line
    assert not set(HUBSPOT_PROPERTIES) & set(fake.properties["contacts"])


async def test_check_names_only_the_properties_still_missing(fake: FakeHubSpot) -> None:
    await ready(fake)
    del fake.properties["contacts"][HUBSPOT_REFERRED_BY]
    token = fake.add_token("pat-no-schema-write", ALL_SCOPES - {SCHEMA_WRITE})

    lines = await adapter(fake, token).check()

    assert len(lines) == 1
    assert HUBSPOT_REFERRED_BY in lines[0]


async def test_check_without_the_schema_read_scope_says_so(fake: FakeHubSpot) -> None:
    token = fake.add_token("pat-no-schema-read", ALL_SCOPES - {SCHEMA_READ})

    (line,) = await adapter(fake, token).check()

    assert SCHEMA_READ in line


def test_credentials_without_a_token_are_unauthorized() -> None:
    with pytest.raises(CrmUnauthorized):
        HubSpotAdapter.from_credentials({}, "https://api.hubapi.com")


async def test_check_with_a_refused_token_is_unauthorized(fake: FakeHubSpot) -> None:
    with pytest.raises(CrmUnauthorized):
        await adapter(fake, "pat-not-a-token").check()


async def test_account_is_the_portal_id(fake: FakeHubSpot) -> None:
    assert await adapter(fake).account() == str(fake.portal_id)


async def test_the_adapter_is_built_from_its_credentials_and_the_api_url(
    fake: FakeHubSpot,
) -> None:
    settings = load_settings(INTROBOT_HUBSPOT_API_URL=fake.url + "/")

    built = adapter_for("hubspot", {"token": fake.token}, settings)

    assert await built.account() == str(fake.portal_id)


# --- push -------------------------------------------------------------------------------------


async def test_push_creates_the_contact_with_its_properties_and_one_note(
    fake: FakeHubSpot,
) -> None:
    hubspot = await ready(fake)

    ids = await hubspot.push(record(email="ada@acme.test"), None)

    assert ids.object_type == "contact"
    contact = fake.contacts[ids.object_id]
    assert contact.properties[HUBSPOT_LEAD_SOURCE] == LEAD_SOURCE_WARM
    assert contact.properties[HUBSPOT_REFERRED_BY] == "Carlos Mendes"
    assert contact.properties[HUBSPOT_REQUEST_ID] == "T0TEAM-4"
    assert contact.properties["firstname"] == "Ada"
    assert contact.properties["lastname"] == "Lovelace"
    assert contact.properties["company"] == "Acme"
    assert contact.properties["jobtitle"] == "CTO"
    assert contact.properties["email"] == "ada@acme.test"
    assert contact.properties["hs_lead_status"] == "NEW"
    (note,) = fake.notes_of(ids.object_id)
    assert "Warm intro: Intro made" in note.properties["hs_note_body"]
    assert "(introbot request T0TEAM-4)" in note.properties["hs_note_body"]
    assert note.properties["hs_timestamp"] == "2026-03-02T15:30:00.000Z"
    assert note.associations == {"contacts": [ids.object_id]}
    note_create = next(c for c in fake.calls if c.path == "/crm/v3/objects/notes")
    (association,) = note_create.body["associations"]
    assert association["types"] == [
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT}
    ]


async def test_a_cold_approach_has_no_referrer(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)

    ids = await hubspot.push(record(CrmStage.WENT_COLD, cold=True), None)

    contact = fake.contacts[ids.object_id]
    assert contact.properties[HUBSPOT_LEAD_SOURCE] == LEAD_SOURCE_COLD
    assert contact.properties[HUBSPOT_REFERRED_BY] == ""
    (note,) = fake.notes_of(ids.object_id)
    assert "Cold outreach: Reached out directly" in note.properties["hs_note_body"]


async def test_a_later_stage_adds_a_second_note_to_the_same_contact(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    ids = await hubspot.push(record(), None)

    again = await hubspot.push(record(CrmStage.MEETING_HELD, at=AT + timedelta(days=9)), ids)

    assert again == ids
    assert len(fake.contacts) == 1
    bodies = [n.properties["hs_note_body"] for n in fake.notes_of(ids.object_id)]
    assert len(bodies) == 2
    assert "Intro made" in bodies[0]
    assert "Meeting held" in bodies[1]


async def test_a_retry_of_the_same_stage_adds_nothing(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    ids = await hubspot.push(record(), None)

    assert await hubspot.push(record(), ids) == ids

    assert len(fake.contacts) == 1
    assert len(fake.notes) == 1


async def test_a_retry_after_a_lost_answer_finds_the_contact_by_its_request(
    fake: FakeHubSpot,
) -> None:
    hubspot = await ready(fake)
    # Neither an email nor a company to find the target by.
    ids = await hubspot.push(record(company=""), None)

    # The first push's answer never came back: no ids were kept.
    assert await hubspot.push(record(company=""), None) == ids

    assert len(fake.contacts) == 1
    assert len(fake.notes) == 1


async def test_a_contact_gone_since_the_last_push_is_found_again(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    existing = fake.add_contact(email="ada@acme.test", firstname="Ada", lastname="Lovelace")

    ids = await hubspot.push(record(email="ada@acme.test"), CrmIds("contact", "999999"))

    assert ids.object_id == existing


async def test_an_existing_contact_is_found_by_email_and_its_lead_status_kept(
    fake: FakeHubSpot,
) -> None:
    hubspot = await ready(fake)
    existing = fake.add_contact(
        email="ADA@acme.test",
        firstname="Augusta Ada",
        lastname="King",
        company="Analytical Engines",
        hs_lead_status="CONNECTED",
    )

    ids = await hubspot.push(record(email="ada@acme.test"), None)

    assert ids.object_id == existing
    assert len(fake.contacts) == 1
    contact = fake.contacts[existing].properties
    assert contact["hs_lead_status"] == "CONNECTED"
    assert contact[HUBSPOT_REQUEST_ID] == "T0TEAM-4"
    assert contact[HUBSPOT_LEAD_SOURCE] == LEAD_SOURCE_WARM
    # What a CRM user typed stays; what the contact lacked is filled.
    assert contact["firstname"] == "Augusta Ada"
    assert contact["company"] == "Analytical Engines"
    assert contact["jobtitle"] == "CTO"
    assert len(fake.notes_of(existing)) == 1


async def test_an_existing_contact_is_found_by_name_and_company(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    fake.add_contact(firstname="Ada", lastname="Lovelace", company="Other Co")
    existing = fake.add_contact(firstname="ada", lastname="lovelace", company="ACME")

    ids = await hubspot.push(record(), None)

    assert ids.object_id == existing
    assert len(fake.contacts) == 2
    contact = fake.contacts[existing].properties
    assert contact[HUBSPOT_REQUEST_ID] == "T0TEAM-4"
    assert contact["hs_lead_status"] == "NEW"  # it had none


async def test_a_portal_without_our_lead_status_gets_the_contact_without_one(
    fake: FakeHubSpot,
) -> None:
    hubspot = await ready(fake)
    lead_status = fake.properties["contacts"]["hs_lead_status"]
    lead_status["options"] = [o for o in lead_status["options"] if o["value"] != "NEW"]

    ids = await hubspot.push(record(), None)

    contact = fake.contacts[ids.object_id].properties
    assert "hs_lead_status" not in contact
    assert contact[HUBSPOT_REQUEST_ID] == "T0TEAM-4"
    assert len(fake.notes_of(ids.object_id)) == 1


async def test_a_contact_the_search_does_not_show_yet_is_updated_not_duplicated(
    fake: FakeHubSpot,
) -> None:
    hubspot = await ready(fake)
    existing = fake.add_contact(email="ada@acme.test", lastname="Lovelace")
    fake.unindexed.add(existing)  # HubSpot's search lags its writes

    ids = await hubspot.push(record(email="ada@acme.test"), None)

    assert ids.object_id == existing
    assert len(fake.contacts) == 1
    assert fake.contacts[existing].properties[HUBSPOT_REQUEST_ID] == "T0TEAM-4"
    assert len(fake.notes_of(existing)) == 1


async def test_two_requests_for_one_contact_each_get_their_note(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    ids = await hubspot.push(record(request_id=4, email="ada@acme.test"), None)

    other = await hubspot.push(record(request_id=42, email="ada@acme.test"), None)

    assert other == ids
    assert len(fake.notes_of(ids.object_id)) == 2


def test_a_note_names_its_request_and_stage_exactly() -> None:
    four = record(request_id=4)
    body = "<p>Warm intro: Intro made</p><p>… (introbot request T0TEAM-42)</p>"

    assert not note_is_for(body, four)
    assert note_is_for(body, record(request_id=42))
    assert not note_is_for(body, record(CrmStage.MEETING_HELD, request_id=42))


# --- errors -----------------------------------------------------------------------------------


async def test_a_429_says_when_to_try_again(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    fake.fail_next(1, 429, retry_after=30)
    before = datetime.now(UTC)

    with pytest.raises(CrmRateLimited) as raised:
        await hubspot.push(record(), None)

    assert before + timedelta(seconds=29) <= raised.value.until
    assert raised.value.until <= datetime.now(UTC) + timedelta(seconds=31)
    assert not fake.contacts


async def test_a_429_without_retry_after_waits_ten_seconds(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    fake.fail_next(1, 429)
    before = datetime.now(UTC)

    with pytest.raises(CrmRateLimited) as raised:
        await hubspot.push(record(), None)

    assert before + timedelta(seconds=9) <= raised.value.until
    assert raised.value.until <= datetime.now(UTC) + timedelta(seconds=11)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_a_5xx_is_unavailable(fake: FakeHubSpot, status: int) -> None:
    hubspot = await ready(fake)
    fake.fail_next(1, status)

    with pytest.raises(CrmUnavailable):
        await hubspot.push(record(), None)


async def test_no_answer_at_all_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, and nothing listens once closed
    hubspot = HubSpotAdapter("pat-x", f"http://127.0.0.1:{port}", window=CallWindow())

    with pytest.raises(CrmUnavailable):
        await hubspot.push(record(), None)


async def test_a_refused_token_is_unauthorized_and_never_shown(
    fake: FakeHubSpot, caplog: pytest.LogCaptureFixture
) -> None:
    await ready(fake)
    token = fake.add_token("pat-na1-secret-revoked")
    fake.revoke(token)
    hubspot = adapter(fake, token)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CrmUnauthorized) as raised:
        await hubspot.push(record(), None)

    assert token not in str(raised.value)
    assert token not in repr(hubspot)
    assert token not in caplog.text


async def test_an_unknown_property_is_rejected_with_hubspots_message(
    fake: FakeHubSpot,
) -> None:
    hubspot = await ready(fake)
    # Someone deleted one of introbot's properties in HubSpot after connecting.
    del fake.properties["contacts"][HUBSPOT_REFERRED_BY]

    with pytest.raises(CrmRejected) as raised:
        await hubspot.push(record(), None)

    # HubSpot's own words, without its JSON around them.
    assert str(raised.value) == (
        f'HubSpot refused it: Property "{HUBSPOT_REFERRED_BY}" does not exist.'
    )
    assert not fake.contacts


async def test_a_push_before_the_properties_exist_is_rejected(fake: FakeHubSpot) -> None:
    with pytest.raises(CrmRejected) as raised:
        await adapter(fake).push(record(), None)

    assert HUBSPOT_REQUEST_ID in str(raised.value)


async def test_the_adapter_stops_itself_when_the_window_is_full(fake: FakeHubSpot) -> None:
    hubspot = await ready(fake)
    calls_before = len(fake.calls)
    hubspot = adapter(fake, window=CallWindow(limit=2, seconds=10))
    before = datetime.now(UTC)

    with pytest.raises(CrmRateLimited) as raised:
        await hubspot.push(record(), None)

    assert len(fake.calls) - calls_before == 2  # the third call was not made
    assert before < raised.value.until <= datetime.now(UTC) + timedelta(seconds=10)


def test_the_window_counts_each_token_apart_and_frees_up_as_time_passes() -> None:
    now = [100.0]
    window = CallWindow(limit=2, seconds=10, monotonic=lambda: now[0])

    assert window.take("a") is None
    assert window.take("a") is None
    assert window.take("a") == pytest.approx(10.0)
    assert window.take("b") is None
    now[0] += 10.0
    assert window.take("a") is None


async def test_hubspots_own_limit_is_a_rate_limit(fake: FakeHubSpot) -> None:
    # An adapter that does not count (another process with the token, say): HubSpot's own
    # count of 100 calls in 10 seconds stops it.
    free = adapter(fake, window=CallWindow(limit=10_000))
    for _ in range(100):
        await free.account()

    with pytest.raises(CrmRateLimited):
        await free.account()

    assert [c.status for c in fake.calls].count(429) == 1


def test_a_spent_daily_allowance_waits_longer_than_a_burst() -> None:
    body = json.dumps({"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY"})

    error = crm_error(429, body.encode(), {})

    assert isinstance(error, CrmRateLimited)
    assert error.until >= datetime.now(UTC) + timedelta(minutes=59)
