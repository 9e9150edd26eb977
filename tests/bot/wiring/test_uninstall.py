"""Uninstall and revocation: sending stops, nothing is burnt, a reinstall resumes delivery,
and the workspace's data goes after INTROBOT_UNINSTALL_RETENTION."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.delivery.pauses import PROBE_INTERVAL
from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.validation import RequestDraft
from bot.standin.stack import LocalStack
from bot.wiring.sweeper import sweep_until_idle
from storage.models import (
    SLACK_BOTS,
    Base,
    CrmConnection,
    DeliveryStatus,
    MessageKind,
    OutboundMessage,
    Workspace,
)
from tests.bot.wiring.oauth_flow import (
    CONNECTOR_B,
    REQUESTER_B,
    TEAM_B,
    add_team_b,
    browser,
    install,
    request_intro_in,
    uninstalled_event,
)
from tests.handlers.flow import CONNECTOR, REQUESTER

TEAM_A = "T0FAKE"


def _stack(database_url: str, clock: ManualClock, retention: str = "30d") -> LocalStack:
    return LocalStack(
        database_url,
        clock=clock,
        oauth=True,
        settings={"INTROBOT_WORKING_HOURS": "always", "INTROBOT_UNINSTALL_RETENTION": retention},
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def two_teams(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with _stack(database_url, clock) as stack:
        add_team_b(stack)
        async with browser(stack) as a, browser(stack) as b:
            await install(stack, TEAM_A, a)
            await install(stack, TEAM_B, b)
        yield stack


async def _rows(stack: LocalStack, team_id: str) -> list[OutboundMessage]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        found = await session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.team_id == team_id)
            .order_by(OutboundMessage.id)
        )
        return list(found)


async def _uninstall(stack: LocalStack, team_id: str, event: str = "app_uninstalled") -> None:
    assert stack.slack is not None and stack.services is not None
    stack.fake.revoke_workspace(team_id)
    status, _ = await stack.slack.event(uninstalled_event(team_id, event))
    assert status == 200
    await stack.services.work.drain()


def _sent_to(stack: LocalStack, *users: str) -> list[str | None]:
    """The tokens chat.postMessage was called with for these users, in order."""
    return [
        call.token
        for call in stack.fake.calls_to("chat.postMessage")
        if call.ok and call.args["channel"] in users
    ]


@pytest.mark.parametrize("event", ["app_uninstalled", "tokens_revoked"])
async def test_uninstalled_workspace_keeps_its_messages_and_resumes_on_reinstall(
    two_teams: LocalStack, clock: ManualClock, event: str
) -> None:
    stack = two_teams
    assert stack.services is not None
    await request_intro_in(stack, TEAM_A, REQUESTER, CONNECTOR)
    await request_intro_in(stack, TEAM_B, REQUESTER_B, CONNECTOR_B)
    await _uninstall(stack, TEAM_A, event)
    assert await stack.services.paused_workspaces() == {TEAM_A: f"uninstalled: {event}"}
    assert await stack.services.slack_auth_problem() is None  # the app serves the others
    sent_to_a = len(_sent_to(stack, REQUESTER, CONNECTOR))

    # The nudges fall due; only team B's go.
    clock.advance(timedelta(days=3))
    await sweep_until_idle(stack.services)
    assert len(_sent_to(stack, REQUESTER, CONNECTOR)) == sent_to_a
    assert any(
        r.kind == MessageKind.REMINDER and r.status == DeliveryStatus.SENT
        for r in await _rows(stack, TEAM_B)
    )
    rows_a = await _rows(stack, TEAM_A)
    assert all(r.status != DeliveryStatus.FAILED for r in rows_a)
    waiting = [r for r in rows_a if r.status == DeliveryStatus.PENDING and r.due_at <= clock.now()]
    assert waiting and all(r.attempts == 0 for r in waiting)
    assert stack.fake.count("chat.postMessage") == len(
        [c for c in stack.fake.calls_to("chat.postMessage") if c.ok]
    )  # nothing was even tried with the dead token

    # Installed again: delivery resumes with the new token.
    async with browser(stack) as again:
        assert "introbot is installed" in await install(stack, TEAM_A, again)
    assert await stack.services.paused_workspaces() == {}
    await sweep_until_idle(stack.services)
    newest = stack.fake.tokens_of(TEAM_A)[-1]
    assert _sent_to(stack, CONNECTOR)[-1] == newest
    assert all(r.status == DeliveryStatus.SENT for r in await _rows(stack, TEAM_A) if r in waiting)
    assert {r.id for r in await _rows(stack, TEAM_A) if r.status == DeliveryStatus.SENT} >= {
        r.id for r in waiting
    }


async def test_a_revoked_token_pauses_delivery_logged_once_until_reinstalled(
    two_teams: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = two_teams
    services = stack.services
    assert services is not None
    stack.fake.revoke_workspace(TEAM_A)  # no event: Slack answers token_revoked
    drafts = [
        RequestDraft(
            requester=Teammate(REQUESTER, "Riya Patel"),
            connector=Teammate(CONNECTOR, "Carlos Mendes"),
            target_name=f"Jane Doe {n}",
            target_company="Acme",
            reason="Expansion",
            blurb="Hi Jane, I'm Riya. Would you be open to a call?",
        )
        for n in range(3)
    ]
    with caplog.at_level(logging.ERROR, logger="bot.delivery.dispatcher"):
        for draft in drafts:
            outcome = await services.workflow.submit(TEAM_A, draft, [])
            await services.dispatcher.deliver(outcome.message_ids)
    paused_lines = [r for r in caplog.records if "paused" in r.getMessage()]
    assert len(paused_lines) == 1 and "token_revoked" in paused_lines[0].getMessage()
    assert await services.paused_workspaces() == {TEAM_A: "paused: token_revoked"}
    rows = await _rows(stack, TEAM_A)
    cards = [r for r in rows if r.kind != MessageKind.REMINDER]
    assert len(cards) == 6 and all(r.status == DeliveryStatus.PENDING for r in rows)
    # The first ask's cards met the revoked token; later ones were not even claimed.
    assert all(r.attempts == 0 for r in cards)
    assert [r.last_error for r in cards] == ["token_revoked"] * 2 + [None] * 4
    assert not any(r.kind == MessageKind.NOTICE for r in rows)  # no "undeliverable" notices
    assert await services.dispatcher.sweep() == 0  # a paused workspace's rows are not claimed

    async with browser(stack) as again:
        await install(stack, TEAM_A, again)
    await sweep_until_idle(services)
    cards = [r for r in await _rows(stack, TEAM_A) if r.kind != MessageKind.REMINDER]
    assert all(r.status == DeliveryStatus.SENT for r in cards)
    assert set(_sent_to(stack, REQUESTER, CONNECTOR)) == {stack.fake.tokens_of(TEAM_A)[-1]}


async def _count_team_rows(stack: LocalStack, team_id: str) -> int:
    assert stack.services is not None
    total = 0
    async with stack.services.sessions() as session:
        for table in Base.metadata.sorted_tables:
            if "team_id" in table.c:
                total += int(
                    await session.scalar(
                        select(func.count()).select_from(table).where(table.c.team_id == team_id)
                    )
                    or 0
                )
    return total


async def test_an_uninstalled_workspace_is_forgotten_after_the_retention(
    two_teams: LocalStack, clock: ManualClock
) -> None:
    stack = two_teams
    assert stack.services is not None
    await request_intro_in(stack, TEAM_A, REQUESTER, CONNECTOR)
    await request_intro_in(stack, TEAM_B, REQUESTER_B, CONNECTOR_B)
    b_rows = await _count_team_rows(stack, TEAM_B)
    await _uninstall(stack, TEAM_A)
    clock.advance(timedelta(days=29))
    await sweep_until_idle(stack.services)
    assert await _count_team_rows(stack, TEAM_A) > 0  # kept within the retention
    clock.advance(timedelta(days=1, seconds=1))
    await sweep_until_idle(stack.services)
    assert await _count_team_rows(stack, TEAM_A) == 0
    async with stack.services.sessions() as session:
        assert await session.get(Workspace, TEAM_A) is None
        bots = set(await session.scalars(select(SLACK_BOTS.c.team_id)))
    assert bots == {TEAM_B}
    assert await _count_team_rows(stack, TEAM_B) >= b_rows  # the other workspace untouched


async def test_a_retention_of_zero_forgets_at_once(database_url: str, clock: ManualClock) -> None:
    async with _stack(database_url, clock, retention="0") as stack:
        async with browser(stack) as session:
            await install(stack, TEAM_A, session)
        await request_intro_in(stack, TEAM_A, REQUESTER, CONNECTOR)
        assert await _count_team_rows(stack, TEAM_A) > 0
        await _uninstall(stack, TEAM_A)
        assert await _count_team_rows(stack, TEAM_A) == 0


async def test_uninstalling_deletes_the_workspaces_crm_connection(
    database_url: str, clock: ManualClock
) -> None:
    async with _stack(database_url, clock, retention="0") as stack:
        assert stack.services is not None
        add_team_b(stack)
        async with browser(stack) as a, browser(stack) as b:
            await install(stack, TEAM_A, a)
            await install(stack, TEAM_B, b)
        async with stack.services.sessions.begin() as session:
            for team_id in (TEAM_A, TEAM_B):
                session.add(
                    CrmConnection(
                        team_id=team_id,
                        vendor="hubspot",
                        credentials="sealed",
                        account="portal 1",
                        connected_by="U0ADMIN",
                        connected_at=clock.now(),
                    )
                )
        await _uninstall(stack, TEAM_A)
        async with stack.services.sessions() as session:
            left = set(await session.scalars(select(CrmConnection.team_id)))
        assert left == {TEAM_B}  # its credentials gone with it; the other workspace's kept


async def test_single_workspace_pauses_on_a_bad_token_and_resumes_when_it_works(
    database_url: str, clock: ManualClock
) -> None:
    async with LocalStack(database_url, clock=clock) as stack:
        services = stack.services
        assert services is not None
        stack.fake.grants[stack.fake.token].revoked = True
        draft = RequestDraft(
            requester=Teammate(REQUESTER, "Riya Patel"),
            connector=Teammate(CONNECTOR, "Carlos Mendes"),
            target_name="Jane Doe",
            target_company="Acme",
            reason="Expansion",
            blurb="Hi Jane, I'm Riya. Would you be open to a call?",
        )
        outcome = await services.workflow.submit(TEAM_A, draft, [])
        await services.dispatcher.deliver(outcome.message_ids)
        # What readiness reports, until the token works again.
        assert await services.paused_workspaces() == {TEAM_A: "paused: token_revoked"}
        assert await services.slack_auth_problem() == (
            "Slack auth failed: T0FAKE paused: token_revoked"
        )
        assert await services.dispatcher.resume_when_token_works() == []
        assert all(r.status == DeliveryStatus.PENDING for r in await _rows(stack, TEAM_A))

        stack.fake.grants[stack.fake.token].revoked = False
        # Probed at most every PROBE_INTERVAL: not again before it has passed.
        assert await services.dispatcher.resume_when_token_works() == []
        clock.advance(PROBE_INTERVAL)
        assert await services.dispatcher.resume_when_token_works() == [TEAM_A]
        assert await services.paused_workspaces() == {}
        assert await services.slack_auth_problem() is None
        await sweep_until_idle(services)
        cards = [r for r in await _rows(stack, TEAM_A) if r.kind != MessageKind.REMINDER]
        assert cards and all(r.status == DeliveryStatus.SENT for r in cards)


async def test_a_token_replaced_by_another_replica_is_used_without_pausing(
    two_teams: LocalStack,
) -> None:
    """Another replica's reinstall leaves this one holding the old, revoked token for up to
    a minute: the send that meets token_revoked finds the new token and goes on."""
    stack = two_teams
    services = stack.services
    assert services is not None and services.tokens is not None
    old = await services.tokens.token_for(TEAM_A)
    assert old is not None
    async with browser(stack) as again:  # reinstalled; the old token dies
        await install(stack, TEAM_A, again)
    stack.fake.grants[old].revoked = True
    services.tokens._cache[TEAM_A] = (old, float("inf"))  # as another replica would still hold
    draft = RequestDraft(
        requester=Teammate(REQUESTER, "Riya Patel"),
        connector=Teammate(CONNECTOR, "Carlos Mendes"),
        target_name="Jane Doe",
        target_company="Acme",
        reason="Expansion",
        blurb="Hi Jane, I'm Riya. Would you be open to a call?",
    )
    outcome = await services.workflow.submit(TEAM_A, draft, [])
    await services.dispatcher.deliver(outcome.message_ids)
    assert await services.paused_workspaces() == {}
    await sweep_until_idle(services)
    cards = [r for r in await _rows(stack, TEAM_A) if r.kind != MessageKind.REMINDER]
    assert cards and all(r.status == DeliveryStatus.SENT for r in cards)
    assert set(_sent_to(stack, REQUESTER, CONNECTOR)) == {stack.fake.tokens_of(TEAM_A)[-1]}


async def test_a_workspace_whose_token_died_without_an_uninstall_is_forgotten_too(
    two_teams: LocalStack, clock: ManualClock
) -> None:
    stack = two_teams
    services = stack.services
    assert services is not None
    await request_intro_in(stack, TEAM_B, REQUESTER_B, CONNECTOR_B)
    b_rows = await _count_team_rows(stack, TEAM_B)
    await request_intro_in(stack, TEAM_A, REQUESTER, CONNECTOR)
    stack.fake.revoke_workspace(TEAM_A)  # no event: Slack answers token_revoked
    draft = RequestDraft(
        requester=Teammate(REQUESTER, "Riya Patel"),
        connector=Teammate(CONNECTOR, "Carlos Mendes"),
        target_name="John Roe",
        target_company="Initech",
        reason="Expansion",
        blurb="Hi John, I'm Riya. Would you be open to a call?",
    )
    outcome = await services.workflow.submit(TEAM_A, draft, [])
    await services.dispatcher.deliver(outcome.message_ids)
    assert await services.paused_workspaces() == {TEAM_A: "paused: token_revoked"}
    clock.advance(timedelta(days=29))
    await sweep_until_idle(services)
    assert await _count_team_rows(stack, TEAM_A) > 0  # kept within the retention
    clock.advance(timedelta(days=1, seconds=1))
    await sweep_until_idle(services)
    assert await _count_team_rows(stack, TEAM_A) == 0
    assert await services.paused_workspaces() == {}  # and no longer probed
    assert await _count_team_rows(stack, TEAM_B) >= b_rows
