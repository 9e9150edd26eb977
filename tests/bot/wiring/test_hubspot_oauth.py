"""Installed over OAuth, an admin connects HubSpot on HubSpot's own consent page: Connect
HubSpot on the Home tab gives them a link made for them, HubSpot sends them back to
/crm/hubspot/oauth_redirect, and the connection is checked and stored sealed. Its access
token is refreshed when it runs out. Against the HubSpot stand-in, in a real browser."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery.crm import CrmUnauthorized
from bot.delivery.crm.adapters import adapter_for
from bot.delivery.crm.credentials import SecretBox
from bot.intro.crm import HUBSPOT_PROPERTIES, CrmStage, crm_record
from bot.rendering.ids import ActionId
from bot.standin import payloads
from bot.standin.hubspot import FakeHubSpot
from bot.standin.stack import LocalStack
from storage.models import CrmConnection
from tests.bot.wiring.oauth_flow import browser, install
from tests.browser import chromium_page, needs_chromium

TEAM = "T0FAKE"
ADMIN = "U0ADMIN"
MEMBER = "U0REQUESTER"
SECRET_KEY = "s" * 40
CLIENT_ID = "hs-client-7"
CLIENT_SECRET = "hs-secret-7"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def hub() -> AsyncIterator[FakeHubSpot]:
    async with FakeHubSpot() as fake:
        yield fake


@pytest.fixture
async def stack(database_url: str, hub: FakeHubSpot) -> AsyncIterator[LocalStack]:
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    hub.register_app(CLIENT_ID, CLIENT_SECRET, f"{root}/crm/hubspot/oauth_redirect")
    settings = {
        "INTROBOT_SECRET_KEY": SECRET_KEY,
        "INTROBOT_HUBSPOT_CLIENT_ID": CLIENT_ID,
        "INTROBOT_HUBSPOT_CLIENT_SECRET": CLIENT_SECRET,
        "INTROBOT_PUBLIC_URL": root,
        "INTROBOT_HUBSPOT_API_URL": hub.url,
        "INTROBOT_HUBSPOT_AUTHORIZE_URL": f"{hub.url}/oauth/authorize",
    }
    async with LocalStack(database_url, oauth=True, settings=settings, port=port) as local:
        async with browser(local) as session:
            await install(local, TEAM, session)
        yield local


async def _consent_link(stack: LocalStack, user: str = ADMIN) -> str:
    """Press Connect HubSpot on the Home tab; the link the modal gives."""
    assert stack.slack is not None
    before = stack.fake.count("views.open")
    payload = payloads.block_action(
        user, ActionId.CRM_CONNECT_HUBSPOT, "", stack.fake.issue_trigger_id(user), on_home=True
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.until(lambda: stack.fake.count("views.open") > before, "the modal")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    [link] = [
        element
        for block in view["blocks"]
        for element in block.get("elements", [])
        if element.get("action_id") == ActionId.CRM_CONSENT
    ]
    return str(link["url"])


async def _connection(stack: LocalStack) -> CrmConnection | None:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        return await session.scalar(select(CrmConnection))


@needs_chromium
async def test_an_admin_connects_hubspot_on_its_consent_page_in_a_browser(
    stack: LocalStack, hub: FakeHubSpot
) -> None:
    link = await _consent_link(stack)
    assert link.startswith(f"{hub.url}/oauth/authorize?")
    async with chromium_page() as page:
        await page.call("Page.navigate", url=link)
        await page.wait_for("!!document.getElementById('connect')")
        await page.evaluate("document.getElementById('connect').click()")
        title = await page.wait_for("document.title.startsWith('HubSpot') && document.title")
        text = await page.evaluate("document.body.innerText")
        landed = await page.evaluate("location.href")
    assert title == "HubSpot is connected to introbot", text
    assert f"portal {hub.portal_id}" in str(text)
    assert str(landed).startswith(f"{stack.root}/crm/hubspot/oauth_redirect?code=")

    row = await _connection(stack)
    assert row is not None and row.vendor == "hubspot" and row.connected_by == ADMIN
    assert row.account == str(hub.portal_id)
    [(access, _)] = [(t, g) for t, g in hub.tokens.items() if t.startswith("oauth-")]
    assert access not in row.credentials  # sealed, not stored as given
    opened = SecretBox(SECRET_KEY).open(row.credentials)
    assert opened["token"] == access and opened["refresh_token"] in hub.refresh_tokens
    # Connecting made introbot's contact properties, as a pasted token would.
    assert set(HUBSPOT_PROPERTIES) <= set(hub.properties["contacts"])


async def test_the_way_back_works_once_and_only_for_the_link_introbot_made(
    stack: LocalStack, hub: FakeHubSpot
) -> None:
    link = await _consent_link(stack)
    async with browser(stack) as session:
        async with session.get(link) as consent:
            assert consent.status == 200
            allow = str(consent.url).replace("/oauth/authorize?", "/oauth/authorize/decide?")
        async with session.get(allow + "&allow=1", allow_redirects=False) as decided:
            back = decided.headers["Location"]
        async with session.get(back) as first:
            assert first.status == 200 and "HubSpot is connected" in await first.text()
        async with session.get(back) as again:  # the same redirect, replayed
            assert again.status == 400
            assert "expired or was used already" in await again.text()
        forged = back.replace("state=", "state=x")
        async with session.get(forged) as wrong:
            assert wrong.status == 400


async def test_cancelling_on_hubspot_stores_nothing(stack: LocalStack, hub: FakeHubSpot) -> None:
    link = await _consent_link(stack)
    decide = link.replace("/oauth/authorize?", "/oauth/authorize/decide?")
    async with browser(stack) as session, session.get(decide + "&allow=0") as page:
        assert page.status == 200
        assert "You cancelled on HubSpot's page" in await page.text()
    assert await _connection(stack) is None


async def test_only_an_admin_gets_a_consent_link(stack: LocalStack) -> None:
    assert stack.slack is not None
    opened = stack.fake.count("views.open")
    payload = payloads.block_action(
        MEMBER,
        ActionId.CRM_CONNECT_HUBSPOT,
        "",
        stack.fake.issue_trigger_id(MEMBER),
        on_home=True,
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.settled()
    assert stack.fake.count("views.open") == opened


async def test_an_access_token_that_ran_out_is_refreshed_before_a_push(
    stack: LocalStack, hub: FakeHubSpot
) -> None:
    link = await _consent_link(stack)
    decide = link.replace("/oauth/authorize?", "/oauth/authorize/decide?")
    async with browser(stack) as session, session.get(decide + "&allow=1") as page:
        assert "HubSpot is connected" in await page.text()
    row = await _connection(stack)
    assert row is not None and stack.services is not None
    credentials: dict[str, Any] = SecretBox(SECRET_KEY).open(row.credentials)
    hub.expire(credentials["token"])  # thirty minutes later
    credentials["expires_at"] = 0
    adapter = adapter_for("hubspot", credentials, stack.services.settings)
    record = crm_record(
        team_id=TEAM,
        request_id=7,
        stage=CrmStage.INTRO_MADE,
        at=stack.services.clock.now(),
        target_name="Jane Doe",
        target_company="Acme",
        target_role="",
        target_email="jane@acme.example",
        requester_name="Riya Patel",
        connector_name="Carlos Mendes",
        cold=False,
    )
    ids = await adapter.push(record, None)
    assert hub.contacts[ids.object_id].properties["email"] == "jane@acme.example"
    assert len([t for t in hub.tokens if t.startswith("oauth-")]) == 2  # one refresh

    # A refresh token HubSpot no longer takes (the app was uninstalled there).
    hub.refresh_tokens.clear()
    credentials["refresh_token"] = "revoked-" + credentials["refresh_token"]
    with pytest.raises(CrmUnauthorized):
        await adapter_for("hubspot", credentials, stack.services.settings).push(record, ids)
