"""The Salesforce adapter against the stand-in org, over HTTPS on loopback: what it asks the
org to have, the Lead or Contact a push writes, its Tasks once per stage, and how it signs in
again, waits on the day's allocation and reports refusals."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bot.delivery.crm import (
    CrmIds,
    CrmRateLimited,
    CrmRejected,
    CrmUnauthorized,
    CrmUnavailable,
)
from bot.delivery.crm.salesforce import SalesforceAdapter
from bot.intro.crm import CrmRecord, CrmStage, crm_record
from bot.settings import DEFAULT_SALESFORCE_LOGIN_URL
from bot.standin.salesforce import CLIENT_ID, CLIENT_SECRET, FakeSalesforce, parse_soql

AT = datetime(2026, 3, 4, 15, 30, tzinfo=UTC)


@pytest.fixture
async def org() -> AsyncIterator[FakeSalesforce]:
    async with FakeSalesforce() as fake:
        yield fake


def connect(
    org: FakeSalesforce,
    *,
    domain: str | None = None,
    client_id: str = CLIENT_ID,
    secret: str = CLIENT_SECRET,
) -> SalesforceAdapter:
    """The adapter as the app builds it, trusting the stand-in's certificate; each org its own
    My Domain (the day's allocation is kept per org)."""
    credentials = {
        "domain": domain or f"acme{uuid.uuid4().hex[:8]}.my.salesforce.com",
        "client_id": client_id,
        "client_secret": secret,
    }
    return SalesforceAdapter.from_credentials(credentials, org.url, verify=org.ca_file)


def record(
    stage: CrmStage = CrmStage.INTRO_MADE,
    *,
    request_id: int = 7,
    cold: bool = False,
    name: str = "Priya Raman",
    company: str = "Northwind",
    role: str = "VP Engineering",
    email: str | None = None,
    at: datetime = AT,
) -> CrmRecord:
    return crm_record(
        team_id="T0TEAM",
        request_id=request_id,
        stage=stage,
        at=at,
        target_name=name,
        target_company=company,
        target_role=role,
        target_email=email,
        requester_name="Riya Patel",
        connector_name="Carlos Mendes",
        cold=cold,
    )


# ------------------------------------------------------------------- check


async def test_an_org_set_up_for_introbot_is_ready(org: FakeSalesforce) -> None:
    assert await connect(org).check() == []


async def test_check_names_each_missing_field_and_value(org: FakeSalesforce) -> None:
    org.drop_picklist_value("Lead", "LeadSource", "Cold Outreach")
    org.drop_field("Lead", "Referred_By__c")
    org.schema["Lead"]["Introbot_Key__c"].external_id = False

    missing = await connect(org).check()

    assert len(missing) == 3
    assert any('"Cold Outreach"' in line for line in missing)
    assert not any('"Warm Introduction"' in line for line in missing)
    assert any("Referred_By__c" in line for line in missing)
    assert any("Introbot_Key__c" in line and "External ID" in line for line in missing)


async def test_check_names_a_missing_key_field_and_both_lead_sources(
    org: FakeSalesforce,
) -> None:
    org.drop_picklist_value("Lead", "LeadSource", "Warm Introduction")
    org.drop_picklist_value("Lead", "LeadSource", "Cold Outreach")
    org.drop_field("Lead", "Introbot_Key__c")

    missing = await connect(org).check()

    assert len(missing) == 3
    assert any('"Warm Introduction"' in line for line in missing)
    assert any('"Cold Outreach"' in line for line in missing)
    assert any("Introbot_Key__c" in line for line in missing)


@pytest.mark.parametrize("login_url", [DEFAULT_SALESFORCE_LOGIN_URL, "https://test.salesforce.com"])
async def test_salesforces_own_login_urls_sign_in_at_the_orgs_my_domain(
    org: FakeSalesforce, login_url: str
) -> None:
    # The org's My Domain is the stand-in's address: no call leaves the machine.
    credentials = {"domain": org.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    adapter = SalesforceAdapter.from_credentials(credentials, login_url, verify=org.ca_file)

    assert await adapter.check() == []
    assert org.tokens_issued == 1


async def test_account_is_the_instance_host(org: FakeSalesforce) -> None:
    assert await connect(org).account() == "127.0.0.1"


# -------------------------------------------------------------------- push


async def test_a_push_with_no_contact_upserts_a_lead_and_a_completed_task(
    org: FakeSalesforce,
) -> None:
    warm = record(email="Priya@Northwind.example")

    ids = await connect(org).push(warm, None)

    (lead,) = org.records["Lead"].values()
    assert ids == CrmIds("Lead", lead["Id"])
    assert lead["Introbot_Key__c"] == "T0TEAM-7"
    assert lead["FirstName"] == "Priya"
    assert lead["LastName"] == "Raman"
    assert lead["Company"] == "Northwind"
    assert lead["Title"] == "VP Engineering"
    assert lead["Email"] == "priya@northwind.example"
    assert lead["LeadSource"] == "Warm Introduction"
    assert lead["Referred_By__c"] == "Carlos Mendes"
    (task,) = org.records["Task"].values()
    assert task["WhoId"] == lead["Id"]
    assert task["Status"] == "Completed"
    assert task["Subject"] == "Warm intro: Intro made"
    assert task["ActivityDate"] == "2026-03-04"
    assert "Carlos Mendes made the intro" in task["Description"]
    assert "(introbot request T0TEAM-7)" in task["Description"]


async def test_a_later_stage_adds_a_second_task_to_the_same_lead(org: FakeSalesforce) -> None:
    adapter = connect(org)
    first = await adapter.push(record(), None)

    later = await adapter.push(record(CrmStage.MEETING_HELD, at=AT + timedelta(days=9)), first)

    assert later == first
    assert len(org.records["Lead"]) == 1
    tasks = org.of("Task", WhoId=first.object_id)
    assert sorted(t["Subject"] for t in tasks) == [
        "Warm intro: Intro made",
        "Warm intro: Meeting held",
    ]
    assert org.of("Task", Subject="Warm intro: Meeting held")[0]["ActivityDate"] == "2026-03-13"


async def test_a_retried_stage_adds_nothing(org: FakeSalesforce) -> None:
    adapter = connect(org)
    ids = await adapter.push(record(), None)

    # The answer was lost: the outbox tries again, knowing no ids, then knowing them.
    assert await adapter.push(record(), None) == ids
    assert await adapter.push(record(), ids) == ids

    assert len(org.records["Lead"]) == 1
    assert len(org.records["Task"]) == 1


async def test_a_task_whose_answer_was_lost_is_not_written_twice(org: FakeSalesforce) -> None:
    impatient = SalesforceAdapter.from_credentials(
        {
            "domain": "late.my.salesforce.com",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
        org.url,
        verify=org.ca_file,
        timeout=0.3,
    )
    org.answer_late("POST", "/sobjects/Task", seconds=1.0)

    with pytest.raises(CrmUnavailable):
        await impatient.push(record(), None)
    assert len(org.records["Task"]) == 1  # Salesforce wrote it; introbot never heard
    await impatient.push(record(), None)

    assert len(org.records["Task"]) == 1
    assert len(org.records["Lead"]) == 1


async def test_a_lead_sales_converted_takes_later_stages_on_its_contact(
    org: FakeSalesforce,
) -> None:
    adapter = connect(org)
    lead = await adapter.push(record(), None)
    contact = org.convert_lead(lead.object_id)

    later = await adapter.push(record(CrmStage.MEETING_HELD), lead)
    # A retry of that stage, and of the first, adds nothing.
    assert await adapter.push(record(CrmStage.MEETING_HELD), lead) == later
    assert await adapter.push(record(), None) == later

    assert later == CrmIds("Contact", contact)
    assert sorted(t["Subject"] for t in org.of("Task", WhoId=contact)) == [
        "Warm intro: Intro made",
        "Warm intro: Meeting held",
    ]
    assert len(org.records["Task"]) == 2


async def test_the_same_stage_of_another_request_is_its_own_task(org: FakeSalesforce) -> None:
    email = "sam@contoso.example"
    contact = org.add_contact(first_name="Sam", last_name="Lee", email=email)
    adapter = connect(org)

    await adapter.push(record(request_id=1, email=email), None)
    await adapter.push(record(request_id=2, email=email), None)

    assert len(org.of("Task", WhoId=contact)) == 2


async def test_a_contact_with_the_email_gets_the_task_and_no_lead(org: FakeSalesforce) -> None:
    contact = org.add_contact(
        first_name="Priya", last_name="Raman", email="priya@northwind.example"
    )
    adapter = connect(org)

    ids = await adapter.push(record(email="PRIYA@northwind.example"), None)
    again = await adapter.push(record(CrmStage.OPPORTUNITY), ids)

    assert ids == again == CrmIds("Contact", contact)
    assert org.records["Lead"] == {}
    assert sorted(t["Subject"] for t in org.of("Task", WhoId=contact)) == [
        "Warm intro: Intro made",
        "Warm intro: Opportunity",
    ]
    assert all(t["Status"] == "Completed" for t in org.records["Task"].values())


async def test_without_an_email_no_contact_is_looked_up(org: FakeSalesforce) -> None:
    org.add_contact(first_name="Priya", last_name="Raman", email="priya@northwind.example")

    ids = await connect(org).push(record(email=None), None)

    assert ids.object_type == "Lead"
    assert not any("FROM Contact" in (c.query or "") for c in org.calls)


async def test_a_cold_approach_is_a_cold_outreach_lead_referred_by_no_one(
    org: FakeSalesforce,
) -> None:
    await connect(org).push(record(CrmStage.WENT_COLD, cold=True), None)

    (lead,) = org.records["Lead"].values()
    assert lead["LeadSource"] == "Cold Outreach"
    assert lead["Referred_By__c"] is None
    (task,) = org.records["Task"].values()
    assert task["Subject"] == "Cold outreach: Reached out directly"


async def test_a_lead_with_no_last_name_or_company_says_unknown(org: FakeSalesforce) -> None:
    await connect(org).push(record(name="", company="", role=""), None)

    (lead,) = org.records["Lead"].values()
    assert lead["LastName"] == "Unknown"
    assert lead["Company"] == "Unknown"
    assert "FirstName" not in lead
    assert "Title" not in lead


# -------------------------------------------------------------- signing in


async def test_an_expired_session_signs_in_again_once_and_succeeds(org: FakeSalesforce) -> None:
    adapter = connect(org)
    first = await adapter.push(record(), None)
    org.expire_tokens()

    await adapter.push(record(CrmStage.MEETING_HELD), first)

    assert org.tokens_issued == 2
    assert [c.status for c in org.rest_calls].count(401) == 1
    assert len(org.of("Task", WhoId=first.object_id)) == 2


async def test_an_expired_session_and_a_refused_app_is_unauthorized(org: FakeSalesforce) -> None:
    adapter = connect(org)
    ids = await adapter.push(record(), None)
    org.expire_tokens()
    org.client_secret = "rotated-by-the-admin"

    with pytest.raises(CrmUnauthorized):
        await adapter.push(record(CrmStage.MEETING_HELD), ids)
    assert org.tokens_issued == 1


async def test_a_wrong_secret_is_unauthorized(org: FakeSalesforce) -> None:
    with pytest.raises(CrmUnauthorized) as refused:
        await connect(org, secret="not-the-secret").push(record(), None)

    assert "invalid client credentials" in str(refused.value)
    assert "not-the-secret" not in str(refused.value)
    assert org.rest_calls == []


async def test_a_wrong_client_id_is_unauthorized(org: FakeSalesforce) -> None:
    with pytest.raises(CrmUnauthorized):
        await connect(org, client_id="3MVG9someone.else").check()
    assert org.rest_calls == []


# ------------------------------------------------------------------ limits


async def test_a_spent_allocation_waits_for_the_next_day_without_calling(
    org: FakeSalesforce,
) -> None:
    org.api_used = org.api_limit = 1000
    domain = "spent.my.salesforce.com"

    with pytest.raises(CrmRateLimited) as first:
        await connect(org, domain=domain).push(record(), None)
    calls = len(org.calls)
    # Another adapter for the same org, as the next push builds, makes no call at all.
    with pytest.raises(CrmRateLimited) as second:
        await connect(org, domain=domain).push(record(), None)

    tomorrow = datetime.combine(
        datetime.now(UTC).date() + timedelta(days=1), datetime.min.time(), UTC
    )
    assert first.value.until == second.value.until == tomorrow
    assert [c.status for c in org.rest_calls] == [403]
    assert len(org.calls) == calls
    assert org.records["Lead"] == {}


async def test_a_nearly_spent_allocation_stops_before_it_is_spent(org: FakeSalesforce) -> None:
    org.api_limit, org.api_used = 100, 94
    adapter = connect(org)

    with pytest.raises(CrmRateLimited):
        await adapter.push(record(), None)
    with pytest.raises(CrmRateLimited):
        await adapter.check()

    assert len(org.rest_calls) == 1
    assert org.api_used == 95


async def test_a_429_waits_for_its_retry_after(org: FakeSalesforce) -> None:
    org.fail_next(status=429, retry_after=30)
    before = datetime.now(UTC)

    with pytest.raises(CrmRateLimited) as limited:
        await connect(org).push(record(), None)

    assert before + timedelta(seconds=29) <= limited.value.until
    assert limited.value.until <= datetime.now(UTC) + timedelta(seconds=31)


async def test_a_503_is_unavailable_and_the_next_try_succeeds(org: FakeSalesforce) -> None:
    adapter = connect(org)
    org.fail_next(status=503)

    with pytest.raises(CrmUnavailable):
        await adapter.push(record(), None)
    await adapter.push(record(), None)

    assert len(org.records["Lead"]) == 1
    assert len(org.records["Task"]) == 1


async def test_no_answer_is_unavailable(org: FakeSalesforce) -> None:
    adapter = connect(org)
    await org.stop()

    with pytest.raises(CrmUnavailable):
        await adapter.push(record(), None)


# ---------------------------------------------------------------- refusals


async def test_a_lead_source_the_org_lacks_is_rejected_with_salesforces_message(
    org: FakeSalesforce,
) -> None:
    org.drop_picklist_value("Lead", "LeadSource", "Warm Introduction")

    with pytest.raises(CrmRejected) as rejected:
        await connect(org).push(record(), None)

    assert "bad value for restricted picklist field: Warm Introduction" in str(rejected.value)
    assert org.records["Lead"] == {}
    assert org.records["Task"] == {}


async def test_a_field_the_org_lacks_is_rejected(org: FakeSalesforce) -> None:
    org.drop_field("Lead", "Referred_By__c")

    with pytest.raises(CrmRejected) as rejected:
        await connect(org).push(record(), None)

    assert "Referred_By__c" in str(rejected.value)


async def test_a_key_field_not_marked_external_id_is_rejected(org: FakeSalesforce) -> None:
    org.schema["Lead"]["Introbot_Key__c"].external_id = False

    with pytest.raises(CrmRejected) as rejected:
        await connect(org).push(record(), None)

    assert "Introbot_Key__c" in str(rejected.value)


# ------------------------------------------------------------ the stand-in


async def test_the_standin_refuses_what_salesforce_refuses(org: FakeSalesforce) -> None:
    await asyncio.to_thread(_refusals, org)


def _refusals(org: FakeSalesforce) -> None:
    token = requests.post(
        f"{org.url}/services/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(CLIENT_ID, CLIENT_SECRET),
        verify=org.ca_file,
        timeout=10,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    rest = f"{org.url}/services/data/v59.0"

    def call(method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(
            method, rest + path, headers=headers, verify=org.ca_file, timeout=10, **kwargs
        )

    missing = call("POST", "/sobjects/Lead", json={"FirstName": "Ann"})
    assert missing.status_code == 400
    assert missing.json()[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert missing.json()[0]["fields"] == ["LastName", "Company"]
    unknown = call("POST", "/sobjects/Task", json={"Subject": "x", "Colour__c": "red"})
    assert unknown.json()[0]["errorCode"] == "INVALID_FIELD"
    unfiltered = call("GET", "/query", params={"q": "SELECT Id FROM Task WHERE Description = 'x'"})
    assert unfiltered.json()[0]["errorCode"] == "INVALID_FIELD"
    malformed = call("GET", "/query", params={"q": "SELECT Id FROM Lead WHERE Email LIKE '%x'"})
    assert malformed.json()[0]["errorCode"] == "MALFORMED_QUERY"
    created = call(
        "PATCH", "/sobjects/Lead/Introbot_Key__c/K1", json={"LastName": "A", "Company": "B"}
    )
    updated = call("PATCH", "/sobjects/Lead/Introbot_Key__c/K1", json={"Title": "CTO"})
    assert (created.status_code, updated.status_code) == (201, 200)
    assert created.json()["id"] == updated.json()["id"]
    assert updated.headers["Sforce-Limit-Info"] == f"api-usage={org.api_used}/{org.api_limit}"
    no_token = requests.get(rest + "/sobjects/Lead/describe", verify=org.ca_file, timeout=10)
    assert no_token.status_code == 401
    assert no_token.json()[0]["errorCode"] == "INVALID_SESSION_ID"


def test_the_standin_reads_the_soql_the_adapter_sends() -> None:
    query = parse_soql(
        "SELECT Id, Description FROM Task WHERE WhoId = '00Q1' AND Subject = 'It\\'s'"
    )

    assert query.fields == ["Id", "Description"]
    assert query.sobject == "Task"
    assert query.where == [("WhoId", "00Q1"), ("Subject", "It's")]
