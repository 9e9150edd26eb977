"""Steps of distributed mode, driven like an installer's browser and like Slack would."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
from yarl import URL

from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import GOOD_BLURB

_ADD_TO_SLACK = re.compile(r'<a[^>]*id="add-to-slack"[^>]*href="([^"]+)"')

# A second workspace, with people of its own (Slack user ids are unique across workspaces).
TEAM_B = "T0BETA"
REQUESTER_B = "U0BREQUESTER"
CONNECTOR_B = "U0BCONNECTOR"


def add_team_b(stack: LocalStack) -> None:
    stack.fake.add_workspace(TEAM_B, "Beta Corp")
    for user_id, name in ((REQUESTER_B, "Bea Lind"), (CONNECTOR_B, "Bo Strand")):
        stack.fake.add_user(user_id, name=name.split()[0].lower(), real_name=name, team_id=TEAM_B)


def browser(stack: LocalStack) -> aiohttp.ClientSession:
    """An HTTP client that keeps cookies as a browser does, Secure ones on loopback included
    (browsers treat http://127.0.0.1 as a secure origin)."""
    jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[URL(stack.root)])
    return aiohttp.ClientSession(cookie_jar=jar)


def add_to_slack_link(page: str) -> str:
    match = _ADD_TO_SLACK.search(page)
    assert match, page
    return html.unescape(match.group(1))


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def install(
    stack: LocalStack,
    team_id: str | None,
    session: aiohttp.ClientSession,
    *,
    enterprise_id: str | None = None,
) -> str:
    """Open the install page, press "Add to Slack", approve for `team_id` (or org-wide on the
    Grid org `enterprise_id`) at the stand-in's authorize step, and come back to the redirect
    URL. Returns the result page."""
    async with session.get(f"{stack.root}/slack/install") as response:
        assert response.status == 200
        link = add_to_slack_link(await response.text())
    stack.fake.installing_team = team_id
    stack.fake.installing_enterprise = enterprise_id
    # The stand-in's authorize step answers with a redirect to /slack/oauth_redirect.
    async with session.get(link) as response:
        assert response.status == 200, await response.text()
        return await response.text()


def as_team(payload: Any, team_id: str, enterprise_id: str | None = None) -> Any:
    """A payload of the default workspace, sent from another one (of a Grid org whose
    org-wide install serves it, given enterprise_id)."""
    moved = json.loads(json.dumps(payload).replace('"T0FAKE"', json.dumps(team_id)))
    if enterprise_id is not None:
        if "command" in moved:  # a form: Slack sends strings
            moved.update(enterprise_id=enterprise_id, is_enterprise_install="true")
        else:
            moved.update(enterprise={"id": enterprise_id}, is_enterprise_install=True)
    return moved


async def request_intro_in(
    stack: LocalStack,
    team_id: str,
    requester: str,
    connector: str,
    *,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """/intro, then a good submission, from `team_id`; returns the connector's card."""
    assert stack.slack is not None
    fake = stack.fake
    before = fake.count("views.open")
    trigger = fake.issue_trigger_id(requester)
    command = as_team(
        payloads.slash_command(requester, "Jane Doe", trigger), team_id, enterprise_id
    )
    status, _ = await stack.slack.post_raw(urlencode(command), "application/x-www-form-urlencoded")
    assert status == 200
    await stack.until(lambda: fake.count("views.open") > before, "views.open")
    opened = fake.calls_to("views.open")[-1]
    assert opened.ok, opened.error
    values = {
        "connector": connector,
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "Acme is expanding into Europe and we solve exactly their customs problem.",
        "blurb": GOOD_BLURB,
        "closeness": "know_well",
    }
    submission = as_team(
        payloads.view_submission(requester, opened.args["view"], values), team_id, enterprise_id
    )
    status, body = await stack.slack.interaction(submission)
    assert status == 200 and body == "", body
    await stack.until(lambda: len(fake.messages_for(connector)) >= 1, "connector card")
    await stack.until(lambda: len(fake.messages_for(requester)) >= 1, "requester card")
    return fake.messages_for(connector)[-1]


def uninstalled_event(team_id: str, event_type: str = "app_uninstalled") -> dict[str, Any]:
    event: dict[str, Any] = {"type": event_type, "event_ts": "1700000000.000100"}
    if event_type == "tokens_revoked":
        event["tokens"] = {"bot": ["UBOT"]}
    return {
        "token": "unused",
        "team_id": team_id,
        "api_app_id": "A0INTROBOT",
        "type": "event_callback",
        "event_id": f"Ev{event_type}{team_id}{id(event)}",
        "event_time": 1700000000,
        "event": event,
    }
