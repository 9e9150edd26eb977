"""Distributed over OAuth: the install page in a real browser, the redirect, the state check,
and two workspaces served by one process, each with its own token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import urlsplit

import aiohttp
import pytest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select

from bot.intro.people import Teammate
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.stack import CLIENT_ID, LocalStack
from bot.wiring.app import bot_tokens
from bot.wiring.oauth import InstallFlow, LeastRecentlyUsed, OAuthStates, oauth_flow
from bot.wiring.scopes import BOT_SCOPES
from storage.db import create_engine_for
from storage.models import SLACK_BOTS, OutboundMessage
from tests.bot.wiring.oauth_flow import (
    CONNECTOR_B,
    REQUESTER_B,
    TEAM_B,
    add_team_b,
    add_to_slack_link,
    as_team,
    browser,
    install,
    query_of,
    request_intro_in,
)
from tests.browser import chromium_page, dump_dom, needs_chromium
from tests.conftest import TEST_DATABASE_URL
from tests.handlers.flow import CONNECTOR, REQUESTER

TEAM_A = "T0FAKE"


@pytest.fixture
async def oauth_stack(database_url: str) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, oauth=True) as local:
        add_team_b(local)
        yield local


@needs_chromium
async def test_the_install_page_in_a_browser_links_to_slack_authorize(
    oauth_stack: LocalStack,
) -> None:
    dom = await dump_dom(f"{oauth_stack.root}/slack/install")
    assert "<title>Add introbot to Slack</title>" in dom
    link = add_to_slack_link(dom)
    assert link.startswith(oauth_stack.fake.authorize_url + "?")
    query = query_of(link)
    assert query["client_id"] == CLIENT_ID
    assert query["scope"].split(",") == list(BOT_SCOPES)
    assert len(query["state"]) >= 32


async def test_installing_two_workspaces_serves_each_with_its_own_token(
    oauth_stack: LocalStack,
) -> None:
    fake = oauth_stack.fake
    async with browser(oauth_stack) as session_a, browser(oauth_stack) as session_b:
        page_a = await install(oauth_stack, TEAM_A, session_a)
        page_b = await install(oauth_stack, TEAM_B, session_b)
    assert "introbot is installed in Fake Team" in page_a
    assert "introbot is installed in Beta Corp" in page_b
    (token_a,) = [t for t in fake.tokens_of(TEAM_A) if t != fake.token]
    (token_b,) = fake.tokens_of(TEAM_B)
    exchanges = fake.calls_to("oauth.v2.access")
    assert [call.ok for call in exchanges] == [True, True]  # through SLACK_API_URL

    card_a = await request_intro_in(oauth_stack, TEAM_A, REQUESTER, CONNECTOR)
    card_b = await request_intro_in(oauth_stack, TEAM_B, REQUESTER_B, CONNECTOR_B)
    assert "Jane Doe" in card_a["text"] and "Jane Doe" in card_b["text"]

    # Every call for a workspace, the listeners' and the dispatcher's, used its own token.
    worked = [c for c in fake.calls if c.method not in ("oauth.v2.access",)]
    assert worked and all(c.ok for c in worked), [c for c in worked if not c.ok]
    for call in worked:
        assert call.token in (token_a, token_b), call
    sent = fake.calls_to("chat.postMessage")
    by_token = {(c.args["channel"], c.token) for c in sent}
    assert (CONNECTOR, token_a) in by_token and (REQUESTER, token_a) in by_token
    assert (CONNECTOR_B, token_b) in by_token and (REQUESTER_B, token_b) in by_token
    assert {c.team_id for c in sent if c.args["channel"] in (CONNECTOR, REQUESTER)} == {TEAM_A}
    assert {c.team_id for c in sent if c.args["channel"] in (CONNECTOR_B, REQUESTER_B)} == {TEAM_B}
    services = oauth_stack.services
    assert services is not None
    async with services.sessions() as session:
        teams = set(await session.scalars(select(OutboundMessage.team_id)))
        bots = {row.team_id: row.bot_token for row in await session.execute(select(SLACK_BOTS))}
    assert teams == {TEAM_A, TEAM_B}
    assert bots == {TEAM_A: token_a, TEAM_B: token_b}

    # Team B's connector pressing Accept with team A's request id finds no such request.
    assert oauth_stack.slack is not None
    accept = next(
        e
        for block in card_a["blocks"]
        for e in block.get("elements", [])
        if e.get("action_id") == "intro_accept"
    )
    dm_b = fake.dm_channel(CONNECTOR_B)
    press = payloads.block_action(
        CONNECTOR_B,
        "intro_accept",
        accept["value"],
        fake.issue_trigger_id(CONNECTOR_B),
        channel_id=dm_b,
        message_ts=card_b["ts"],
    )
    status, _ = await oauth_stack.slack.interaction(as_team(press, TEAM_B))
    assert status == 200
    await services.work.drain()
    request_a = await services.workflow.get(TEAM_A, int(accept["value"].split(":")[0]))
    assert request_a is not None and request_a.status == "awaiting_connector"
    await oauth_stack.until(lambda: bool(fake.ephemerals), "a note to the presser")
    assert fake.ephemerals[-1]["text"] == "That request no longer exists."


async def test_a_redirect_with_another_state_is_refused(oauth_stack: LocalStack) -> None:
    fake = oauth_stack.fake
    async with browser(oauth_stack) as installer, browser(oauth_stack) as other:
        async with installer.get(f"{oauth_stack.root}/slack/install") as response:
            link = add_to_slack_link(await response.text())
        async with other.get(f"{oauth_stack.root}/slack/install") as response:
            other_state = query_of(add_to_slack_link(await response.text()))["state"]
        code = fake.authorize(TEAM_A, BOT_SCOPES)
        redirect = f"{oauth_stack.root}/slack/oauth_redirect"
        # The installer's browser, sent back with a state it was not given.
        async with installer.get(redirect, params={"code": code, "state": other_state}) as r:
            refused = (r.status, await r.text())
        # A state never issued, with a cookie that matches it.
        async with (
            aiohttp.ClientSession() as forger,
            forger.get(
                redirect,
                params={"code": code, "state": "forged"},
                headers={"Cookie": "slack-app-oauth-state=forged"},
            ) as r,
        ):
            forged = (r.status, await r.text())
        # And the real state still works once.
        state = query_of(link)["state"]
        async with installer.get(redirect, params={"code": code, "state": state}) as r:
            accepted = (r.status, await r.text())
        async with installer.get(redirect, params={"code": code, "state": state}) as r:
            replayed = r.status
    assert refused[0] == 400 and "introbot was not installed" in refused[1]
    assert "opened in another browser" in refused[1]
    assert forged[0] == 401 and "introbot was not installed" in forged[1]
    assert accepted[0] == 200 and "introbot is installed" in accepted[1]
    assert replayed in (400, 401)
    assert fake.count("oauth.v2.access") == 1  # nothing exchanged for a refused state


async def test_the_authorize_url_host_is_slack_by_default(database_url: str) -> None:
    from bot.settings import load_settings

    settings = load_settings(SLACK_CLIENT_ID="1.2", SLACK_CLIENT_SECRET="s")
    assert urlsplit(settings.SLACK_AUTHORIZE_URL).netloc == "slack.com"


async def test_a_rotating_token_is_refreshed_before_a_send(database_url: str) -> None:
    async with LocalStack(database_url, oauth=True, token_rotation=True) as stack:
        fake, services = stack.fake, stack.services
        assert services is not None
        fake.token_lifetime = 30 * 60  # expires within the 2 hours before which it is rotated
        async with browser(stack) as session:
            await install(stack, TEAM_A, session)
        (installed,) = [t for t in fake.tokens_of(TEAM_A) if t != fake.token]
        assert installed.startswith("xoxe.xoxb-")
        fake.token_lifetime = 12 * 3600  # the refreshed token lasts
        installed_at = len(fake.calls)

        # The dispatcher, sending from the database, refreshes it first and keeps the new one.
        draft = RequestDraft(
            requester=Teammate(REQUESTER, "Riya Patel"),
            connector=Teammate(CONNECTOR, "Carlos Mendes"),
            target_name="Ann Lee",
            target_company="Initech",
            reason="Expansion",
            blurb="Hi Ann, I'm Riya. Would you be open to a call?",
        )
        outcome = await services.workflow.submit(TEAM_A, draft, [])
        await services.dispatcher.deliver(outcome.message_ids)
        refreshes = [c for c in fake.calls_to("oauth.v2.access") if c.args.get("grant_type")]
        assert [c.ok for c in refreshes] == [True]
        rotated = fake.tokens_of(TEAM_A)[-1]
        assert rotated != installed
        assert {c.token for c in fake.calls_to("chat.postMessage")} == {rotated}
        async with services.sessions() as session:
            stored = list(await session.scalars(select(SLACK_BOTS.c.bot_token)))
        assert stored == [rotated]

        # Requests keep working with the rotated token (Bolt reads the same stored bot).
        await request_intro_in(stack, TEAM_A, REQUESTER, CONNECTOR)
        assert [c for c in fake.calls[installed_at:] if c.token == installed] == []


async def test_an_org_wide_grid_install_serves_its_workspaces_by_enterprise_id(
    database_url: str,
) -> None:
    async with LocalStack(database_url, oauth=True) as stack:
        fake = stack.fake
        fake.add_workspace("T0GRIDA", "Grid A", enterprise_id="E0ORG")
        for user_id, name in (("U0GREQ", "Gia Ro"), ("U0GCON", "Gus Con")):
            fake.add_user(user_id, name=name.split()[0].lower(), real_name=name, team_id="T0GRIDA")
        async with browser(stack) as session:
            page = await install(stack, None, session, enterprise_id="E0ORG")
        assert "introbot is installed in Org E0ORG" in page
        (org_token,) = fake.tokens_of(None)
        await request_intro_in(stack, "T0GRIDA", "U0GREQ", "U0GCON", enterprise_id="E0ORG")
        sent = fake.calls_to("chat.postMessage")
        assert {c.args["channel"] for c in sent} == {"U0GREQ", "U0GCON"}
        assert {c.token for c in sent} == {org_token}


@needs_chromium
async def test_installing_from_a_real_browser_click_to_installed(
    oauth_stack: LocalStack,
) -> None:
    """Chromium opens the install page, clicks Add to Slack, the stand-in approves and sends it
    back; the state cookie the page set is what lets the redirect through."""
    async with chromium_page() as tools:
        await tools.call("Page.navigate", url=f"{oauth_stack.root}/slack/install")
        await tools.wait_for("!!document.getElementById('add-to-slack')")
        assert await tools.evaluate("document.title") == "Add introbot to Slack"
        await tools.evaluate("document.getElementById('add-to-slack').click()")
        title = await tools.wait_for("document.title.startsWith('introbot') && document.title")
        page = await tools.evaluate("document.body.innerText")
        url = await tools.evaluate("location.href")
    assert title == "introbot is installed", page
    assert "introbot is installed in Fake Team" in str(page)
    assert str(url).startswith(f"{oauth_stack.root}/slack/oauth_redirect?code=")
    services = oauth_stack.services
    assert services is not None
    async with services.sessions() as session:
        assert list(await session.scalars(select(SLACK_BOTS.c.team_id))) == [TEAM_A]


async def test_issuing_a_state_deletes_the_expired_ones(database_url: str) -> None:
    engine = create_engine_for(database_url)
    states = OAuthStates(expiration_seconds=600, engine=engine)
    try:
        old = await states.async_issue()
        table = states.oauth_states
        async with engine.begin() as connection:
            await connection.execute(
                table.update().where(table.c.state == old).values(expire_at=datetime(2020, 1, 1))
            )
        new = await states.async_issue()
        async with engine.connect() as connection:
            kept = set((await connection.execute(select(table.c.state))).scalars())
        assert old not in kept and new in kept
        assert not await states.async_consume(old)
    finally:
        await engine.dispose()


async def test_a_state_is_accepted_once_however_many_replicas_get_it(database_url: str) -> None:
    engines = [create_engine_for(database_url) for _ in range(3)]
    replicas = [OAuthStates(expiration_seconds=600, engine=engine) for engine in engines]
    try:
        state = await replicas[0].async_issue()
        accepted = await asyncio.gather(
            *(replica.async_consume(state) for replica in replicas for _ in range(3))
        )
        assert sorted(accepted) == [False] * 8 + [True]
    finally:
        for engine in engines:
            await engine.dispose()


def test_the_authorize_cache_keeps_the_most_recently_used_tokens() -> None:
    cache = LeastRecentlyUsed(2)
    cache["xoxe-1"], cache["xoxe-2"] = "first", "second"
    assert cache["xoxe-1"] == "first"  # used: the second is now the oldest
    cache["xoxe-3"] = "third"
    assert list(cache) == ["xoxe-1", "xoxe-3"]


@pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="replicas share a database on PostgreSQL only (set TEST_DATABASE_URL)",
)
async def test_replicas_rotating_one_token_at_once_both_get_the_new_token(
    database_url: str,
) -> None:
    async with LocalStack(database_url, oauth=True, token_rotation=True) as stack:
        fake, services = stack.fake, stack.services
        assert services is not None and services.workspaces is not None
        fake.token_lifetime = 30 * 60  # expires within the 2 hours before which it is rotated
        async with browser(stack) as session:
            await install(stack, TEAM_A, session)
        fake.token_lifetime = 12 * 3600
        settings = services.settings
        engines = [create_engine_for(database_url) for _ in range(3)]
        try:
            replicas = [
                bot_tokens(settings, engine, services.client, services.workspaces)[1]
                for engine in engines
            ]
            tokens = await asyncio.gather(*(r.token_for(TEAM_A) for r in replicas))
        finally:
            for engine in engines:
                await engine.dispose()
        refreshes = [c for c in fake.calls_to("oauth.v2.access") if c.args.get("grant_type")]
        assert [c.ok for c in refreshes] == [True]
        assert set(tokens) == {fake.tokens_of(TEAM_A)[-1]}


async def _authorize_request(flow: InstallFlow, client: AsyncWebClient) -> str | None:
    """The bot token Bolt's authorize gives an incoming request from TEAM_A, as it runs it for
    every signed request (token rotation included)."""
    authorize = flow.settings.authorize
    assert authorize is not None
    context = AsyncBoltContext()
    context["client"] = client
    result = await authorize(context=context, enterprise_id=None, team_id=TEAM_A, user_id=REQUESTER)
    return None if result is None else result.bot_token


async def test_a_request_and_a_send_rotating_one_token_at_once_both_get_the_new_token(
    database_url: str,
) -> None:
    async with LocalStack(database_url, oauth=True, token_rotation=True) as stack:
        fake, services = stack.fake, stack.services
        assert services is not None and services.workspaces is not None
        assert services.installation_store is not None and services.tokens is not None
        fake.token_lifetime = 30 * 60  # expires within the 2 hours before which it is rotated
        async with browser(stack) as session:
            await install(stack, TEAM_A, session)
        fake.token_lifetime = 12 * 3600
        flow = oauth_flow(
            services.settings,
            services.engine,
            services.client,
            services.installation_store,
            services.workspaces,
            services.tokens,
        )
        tokens = await asyncio.gather(
            *(_authorize_request(flow, services.client) for _ in range(3)),
            services.tokens.token_for(TEAM_A),
        )
        refreshes = [c for c in fake.calls_to("oauth.v2.access") if c.args.get("grant_type")]
        assert [c.ok for c in refreshes] == [True]
        assert set(tokens) == {fake.tokens_of(TEAM_A)[-1]}


@pytest.mark.skipif(
    not (TEST_DATABASE_URL or "").startswith("postgresql"),
    reason="replicas share a database on PostgreSQL only (set TEST_DATABASE_URL)",
)
async def test_replicas_authorizing_requests_as_the_token_expires_rotate_it_once(
    database_url: str,
) -> None:
    async with LocalStack(database_url, oauth=True, token_rotation=True) as stack:
        fake, services = stack.fake, stack.services
        assert services is not None and services.workspaces is not None
        fake.token_lifetime = 30 * 60
        async with browser(stack) as session:
            await install(stack, TEAM_A, session)
        fake.token_lifetime = 12 * 3600
        settings = services.settings
        engines = [create_engine_for(database_url) for _ in range(3)]
        try:
            flows = []
            for engine in engines:
                store, tokens = bot_tokens(settings, engine, services.client, services.workspaces)
                assert store is not None
                flows.append(
                    oauth_flow(
                        settings, engine, services.client, store, services.workspaces, tokens
                    )
                )
            answers = await asyncio.gather(
                *(_authorize_request(flow, services.client) for flow in flows for _ in range(2))
            )
        finally:
            for engine in engines:
                await engine.dispose()
        refreshes = [c for c in fake.calls_to("oauth.v2.access") if c.args.get("grant_type")]
        assert [c.ok for c in refreshes] == [True]
        assert set(answers) == {fake.tokens_of(TEAM_A)[-1]}
