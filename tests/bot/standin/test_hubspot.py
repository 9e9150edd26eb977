"""The stand-in HubSpot refuses what HubSpot refuses, with HubSpot's answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.standin.hubspot import ALL_SCOPES, SCHEMA_WRITE, FakeHubSpot, serve


@pytest.fixture
async def fake() -> AsyncIterator[FakeHubSpot]:
    async with FakeHubSpot() as hubspot:
        yield hubspot


async def call(
    fake: FakeHubSpot,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = "",
) -> tuple[int, dict[str, Any], dict[str, str]]:
    headers = {} if token is None else {"Authorization": f"Bearer {token or fake.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.url + path, json=body, headers=headers) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text else {}, dict(response.headers)


def contact(**properties: str) -> dict[str, Any]:
    return {"properties": properties, "associations": []}


async def test_a_call_without_a_token_or_with_an_unknown_one_is_401(fake: FakeHubSpot) -> None:
    for token in (None, "pat-unknown"):
        status, body, _ = await call(fake, "GET", "/account-info/v3/details", token=token)
        assert status == 401
        assert body["status"] == "error"
        assert body["category"] == "INVALID_AUTHENTICATION"
        assert body["correlationId"]


async def test_account_details_name_the_portal(fake: FakeHubSpot) -> None:
    status, body, _ = await call(fake, "GET", "/account-info/v3/details")

    assert status == 200
    assert body["portalId"] == fake.portal_id


async def test_an_unknown_property_is_a_validation_error(fake: FakeHubSpot) -> None:
    status, body, _ = await call(
        fake, "POST", "/crm/v3/objects/contacts", contact(lastname="L", favourite="tea")
    )

    assert status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert '\\"favourite\\" does not exist' in body["message"]
    assert not fake.contacts


async def test_a_lead_status_must_be_one_of_its_options(fake: FakeHubSpot) -> None:
    status, body, _ = await call(
        fake, "POST", "/crm/v3/objects/contacts", contact(lastname="L", hs_lead_status="Hot")
    )
    assert status == 400
    assert "INVALID_OPTION" in body["message"]

    status, _, _ = await call(
        fake, "POST", "/crm/v3/objects/contacts", contact(lastname="L", hs_lead_status="NEW")
    )
    assert status == 201


async def test_an_email_belongs_to_one_contact(fake: FakeHubSpot) -> None:
    existing = fake.add_contact(email="ada@acme.test")

    status, body, _ = await call(
        fake, "POST", "/crm/v3/objects/contacts", contact(email="ADA@acme.test")
    )

    assert status == 409
    assert body["message"] == f"Contact already exists. Existing ID: {existing}"


async def test_a_property_is_created_once_and_only_with_the_schema_scope(
    fake: FakeHubSpot,
) -> None:
    prop = {
        "name": "introbot_request_id",
        "label": "Request",
        "type": "string",
        "fieldType": "text",
        "groupName": "contactinformation",
    }
    limited = fake.add_token("pat-limited", ALL_SCOPES - {SCHEMA_WRITE})

    status, body, _ = await call(fake, "POST", "/crm/v3/properties/contacts", prop, limited)
    assert status == 403
    assert body["category"] == "MISSING_SCOPES"
    assert body["errors"][0]["context"]["requiredGranularScopes"] == [SCHEMA_WRITE]

    status, _, _ = await call(fake, "POST", "/crm/v3/properties/contacts", prop)
    assert status == 201
    status, _, _ = await call(fake, "POST", "/crm/v3/properties/contacts", prop)
    assert status == 409

    no_group = {**prop, "name": "other", "groupName": "nowhere"}
    status, _, _ = await call(fake, "POST", "/crm/v3/properties/contacts", no_group)
    assert status == 400


async def test_a_note_needs_its_timestamp_and_a_known_association_type(
    fake: FakeHubSpot,
) -> None:
    contact_id = fake.add_contact(lastname="Lovelace")

    def note(type_id: int, **properties: str) -> dict[str, Any]:
        return {
            "properties": {"hs_note_body": "Met", **properties},
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [
                        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
                    ],
                }
            ],
        }

    status, body, _ = await call(fake, "POST", "/crm/v3/objects/notes", note(202))
    assert status == 400
    assert "hs_timestamp" in body["message"]

    stamp = "2026-03-02T15:30:00.000Z"
    status, body, _ = await call(fake, "POST", "/crm/v3/objects/notes", note(1, hs_timestamp=stamp))
    assert status == 400
    assert body["category"] == "VALIDATION_ERROR"
    assert not fake.notes

    status, body, _ = await call(
        fake, "POST", "/crm/v3/objects/notes", note(202, hs_timestamp="yesterday")
    )
    assert status == 400

    status, body, _ = await call(
        fake, "POST", "/crm/v3/objects/notes", note(202, hs_timestamp=stamp)
    )
    assert status == 201
    assert [n.id for n in fake.notes_of(contact_id)] == [body["id"]]


async def test_a_contact_read_lists_its_notes(fake: FakeHubSpot) -> None:
    contact_id = fake.add_contact(lastname="Lovelace", hs_lead_status="OPEN")
    await call(
        fake,
        "POST",
        "/crm/v3/objects/notes",
        {
            "properties": {"hs_note_body": "Met", "hs_timestamp": "1772465400000"},
            "associations": [
                {
                    "to": {"id": contact_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
                }
            ],
        },
    )

    status, body, _ = await call(
        fake,
        "GET",
        f"/crm/v3/objects/contacts/{contact_id}?properties=hs_lead_status&associations=notes",
    )

    assert status == 200
    assert body["properties"] == {"hs_lead_status": "OPEN"}
    (listed,) = body["associations"]["notes"]["results"]
    assert listed["type"] == "contact_to_note"

    status, body, _ = await call(fake, "GET", "/crm/v3/objects/contacts/999")
    assert status == 404


async def test_search_ors_groups_and_ands_filters(fake: FakeHubSpot) -> None:
    ada = fake.add_contact(firstname="Ada", lastname="Lovelace", company="Acme")
    fake.add_contact(firstname="Ada", lastname="Lovelace", company="Other")
    grace = fake.add_contact(email="grace@navy.test", lastname="Hopper")

    def eq(name: str, value: str) -> dict[str, str]:
        return {"propertyName": name, "operator": "EQ", "value": value}

    status, body, _ = await call(
        fake,
        "POST",
        "/crm/v3/objects/contacts/search",
        {
            "filterGroups": [
                {"filters": [eq("lastname", "lovelace"), eq("company", "ACME")]},
                {"filters": [eq("email", "grace@navy.test")]},
            ],
            "properties": ["email"],
            "limit": 10,
        },
    )

    assert status == 200
    assert body["total"] == 2
    assert {r["id"] for r in body["results"]} == {ada, grace}

    status, body, _ = await call(
        fake,
        "POST",
        "/crm/v3/objects/contacts/search",
        {"filterGroups": [{"filters": [eq("no_such_property", "x")]}]},
    )
    assert status == 400


async def test_faults_come_as_told(fake: FakeHubSpot) -> None:
    fake.fail_next(1, 429, retry_after=7)
    fake.fail_next(1, 503)

    status, body, headers = await call(fake, "GET", "/account-info/v3/details")
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert body["errorType"] == "RATE_LIMIT"
    status, _, _ = await call(fake, "GET", "/account-info/v3/details")
    assert status == 503
    status, _, _ = await call(fake, "GET", "/account-info/v3/details")
    assert status == 200


async def test_more_than_100_calls_in_10_seconds_are_refused_until_the_window_moves() -> None:
    now = [0.0]
    async with FakeHubSpot(monotonic=lambda: now[0]) as fake:
        for _ in range(100):
            status, _, _ = await call(fake, "GET", "/account-info/v3/details")
            assert status == 200

        status, body, _ = await call(fake, "GET", "/account-info/v3/details")
        assert status == 429
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"

        now[0] += 10.0
        status, _, _ = await call(fake, "GET", "/account-info/v3/details")
        assert status == 200


async def test_serve_starts_it_on_a_free_port() -> None:
    fake, url = await serve()
    try:
        assert url == fake.url
        status, _, _ = await call(fake, "GET", "/account-info/v3/details")
        assert status == 200
    finally:
        await fake.stop()
