"""An Enterprise Grid org-wide install: Slack's payloads name the org, and often no team at
their top level ("team": null, authorizations with a null team_id, a view installed on the
org). Everything is still filed under the workspace the person acted in."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.standin import payloads
from bot.standin.stack import LocalStack
from handlers.context import team_of
from storage.models import IntroRequest
from tests.handlers.flow import CONNECTOR, REQUESTER, button, good_values

TEAM = "T0FAKE"
ORG = "E0ORG"
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "Connections.csv"


def org_wide_command(fields: dict[str, str]) -> dict[str, str]:
    return {
        **fields,
        "enterprise_id": ORG,
        "enterprise_name": "Org",
        "is_enterprise_install": "true",
    }


def org_wide_interaction(payload: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(payload)
    payload.update(team=None, enterprise={"id": ORG, "name": "Org"}, is_enterprise_install=True)
    if isinstance(payload.get("view"), dict):
        payload["view"].update(team_id=TEAM, app_installed_team_id=ORG)
    return payload


def org_wide_event(payload: dict[str, Any]) -> dict[str, Any]:
    payload = copy.deepcopy(payload)
    payload.update(enterprise_id=ORG, is_enterprise_install=True)
    payload["authorizations"] = [
        {
            "enterprise_id": ORG,
            "team_id": None,
            "user_id": "U0BOT",
            "is_bot": True,
            "is_enterprise_install": True,
        }
    ]
    return payload


async def _request_org_wide(stack: LocalStack) -> dict[str, Any]:
    assert stack.slack is not None
    trigger = stack.fake.issue_trigger_id(REQUESTER)
    status, _ = await stack.slack.command(
        org_wide_command(payloads.slash_command(REQUESTER, "Jane Doe", trigger))
    )
    assert status == 200
    await stack.until(lambda: stack.fake.count("views.open") == 1, "the form")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    submission = payloads.view_submission(REQUESTER, view, good_values())
    status, body = await stack.slack.interaction(org_wide_interaction(submission))
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "the card")
    return stack.fake.messages_for(CONNECTOR)[0]


async def test_a_request_made_and_accepted_org_wide_is_filed_under_the_workspace(
    stack: LocalStack,
) -> None:
    assert stack.slack is not None and stack.services is not None
    card = await _request_org_wide(stack)
    accept = button(card, "intro_accept")
    pressed = payloads.block_action(
        CONNECTOR,
        accept["action_id"],
        accept["value"],
        stack.fake.issue_trigger_id(CONNECTOR),
        channel_id=card["channel"],
        message_ts=card["ts"],
        response_url=stack.fake.response_url(),
    )
    status, _ = await stack.slack.interaction(org_wide_interaction(pressed))
    assert status == 200
    await stack.until(
        lambda: (
            any("no longer exists" in m["text"] for m in stack.fake.messages_for(CONNECTOR))
            or len(stack.fake.messages_for(REQUESTER)) >= 2
        ),
        "the requester told",
    )
    async with stack.services.sessions() as session:
        (request,) = (await session.scalars(select(IntroRequest))).all()
    assert request.team_id == TEAM
    assert request.status == "checking_with_target"


async def test_the_home_tab_opened_org_wide_shows_the_workspaces_requests(
    stack: LocalStack,
) -> None:
    assert stack.slack is not None
    await _request_org_wide(stack)
    before = stack.fake.count("views.publish")
    status, _ = await stack.slack.event(org_wide_event(payloads.app_home_opened(REQUESTER)))
    assert status == 200
    await stack.until(lambda: stack.fake.count("views.publish") > before, "the Home tab")
    home = stack.fake.calls_to("views.publish")[-1].args["view"]
    assert "Jane Doe" in str(home)


async def test_a_linkedin_export_shared_org_wide_is_filed_under_the_workspace(
    stack: LocalStack,
) -> None:
    assert stack.slack is not None and stack.services is not None
    shared = stack.fake.add_file(REQUESTER, "Connections.csv", FIXTURE.read_bytes())
    shared_event = payloads.file_shared(REQUESTER, shared["id"], stack.fake.dm_channel(REQUESTER))
    status, _ = await stack.slack.event(org_wide_event(shared_event))
    assert status == 200
    await stack.until(
        lambda: any("Imported" in m["text"] for m in stack.fake.messages_for(REQUESTER)),
        "the import",
        timeout=30,
    )
    _, count = await stack.services.directory.contacts_of(TEAM, REQUESTER)
    assert count > 0
    _, elsewhere = await stack.services.directory.contacts_of("", REQUESTER)
    assert elsewhere == 0


@pytest.mark.parametrize(
    ("body", "team"),
    [
        ({"team": {"id": "T1"}, "user": {"team_id": "T2"}}, "T1"),
        ({"team_id": "T1", "enterprise_id": ORG}, "T1"),
        ({"team": None, "enterprise": {"id": ORG}, "user": {"id": "U1", "team_id": "T2"}}, "T2"),
        (
            {"team": None, "enterprise": {"id": ORG}, "view": {"app_installed_team_id": ORG}},
            "",
        ),
        ({"team": None, "view": {"team_id": "T3", "app_installed_team_id": ORG}}, "T3"),
        ({"team": "T4"}, "T4"),
        ({"user": "U1", "view": "not a view"}, ""),
    ],
)
def test_the_workspace_a_payload_was_sent_from(body: dict[str, Any], team: str) -> None:
    assert team_of(body) == team
