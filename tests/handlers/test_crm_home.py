"""The Home tab's CRM section: a workspace admin connects HubSpot or Salesforce (checked with
the CRM before anything is stored, the credentials sealed), sees the connection, its last
push and the pushes that failed (each with Retry), and disconnects it. Nobody else sees it
or can press its buttons. The CRM here is a small in-test adapter of the CrmAdapter
protocol, injected where the vendors' adapters would be built."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from bot.delivery.crm import CrmIds, CrmUnauthorized, CrmUnavailable
from bot.delivery.crm.connections import CrmConnections
from bot.delivery.crm.credentials import SecretBox
from bot.intro.clock import ManualClock
from bot.intro.crm import CrmRecord
from bot.intro.crm_admin import ConnectOutcome
from bot.rendering import messages
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import CrmConnection, DeliveryStatus, MessageKind, OutboundMessage
from tests.handlers.flow import REQUESTER, as_opened, card_text, request_intro

TEAM = "T0FAKE"
ADMIN = "U0ADMIN"
SECRET_KEY = "k" * 40
GOOD_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
MISSING_SCOPE = (
    "The private app can't create contact properties: give it the crm.schemas.contacts.write scope"
)


@dataclass
class FakeCrm:
    """A CRM account: takes one token or consumer key, and lacks what `missing` names."""

    good: str = GOOD_TOKEN
    missing: list[str] = field(default_factory=list)
    answering: bool = True
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def adapter(self, vendor: str, credentials: dict[str, Any]) -> FakeAdapter:
        self.seen.append((vendor, dict(credentials)))
        return FakeAdapter(self, credentials)


@dataclass
class FakeAdapter:
    crm: FakeCrm
    credentials: dict[str, Any]

    def _authorized(self) -> None:
        if not self.crm.answering:
            raise CrmUnavailable("HTTP 503")
        given = self.credentials.get("token") or self.credentials.get("client_id")
        if given != self.crm.good:
            raise CrmUnauthorized("401 Unauthorized")

    async def check(self) -> list[str]:
        self._authorized()
        return list(self.crm.missing)

    async def account(self) -> str:
        self._authorized()
        return "portal 4242"

    async def push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        raise AssertionError("nothing is pushed from the Home tab")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def crm() -> FakeCrm:
    return FakeCrm()


def _inject(stack: LocalStack, crm: FakeCrm) -> None:
    services = stack.services
    assert services is not None
    services.crm = CrmConnections(
        services.sessions, services.clock, services.settings, adapters=crm.adapter
    )


@pytest.fixture
async def stack(database_url: str, clock: ManualClock, crm: FakeCrm) -> AsyncIterator[LocalStack]:
    settings = {"INTROBOT_SECRET_KEY": SECRET_KEY}
    async with LocalStack(database_url, clock=clock, settings=settings) as local:
        _inject(local, crm)
        yield local


async def _home(stack: LocalStack, user: str) -> dict[str, Any]:
    assert stack.slack is not None
    before = stack.fake.count("views.publish")
    await stack.slack.event(payloads.app_home_opened(user))
    await stack.until(lambda: stack.fake.count("views.publish") > before, "the Home tab")
    await stack.settled()
    return stack.fake.home_views[user]


def _crm_blocks(home: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in home["blocks"] if str(b.get("block_id", "")).startswith("crm")]


def _crm_text(home: dict[str, Any]) -> str:
    (section,) = [b for b in home["blocks"] if b.get("block_id") == "crm"]
    return str(section["text"]["text"])


def _controls(home: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The CRM section's buttons by their text."""
    found: dict[str, dict[str, Any]] = {}
    for block in _crm_blocks(home):
        for element in list(block.get("elements") or []) + [block.get("accessory") or {}]:
            if element.get("type") == "button":
                found[element["text"]["text"]] = element
    return found


async def _press(stack: LocalStack, user: str, action_id: str, value: str = "") -> dict[str, Any]:
    """Press a Home tab button as Slack sends it; the Home tab published after it."""
    assert stack.slack is not None
    before = stack.fake.count("views.publish")
    payload = payloads.block_action(
        user, action_id, value, stack.fake.issue_trigger_id(user), on_home=True
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.until(lambda: stack.fake.count("views.publish") > before, "the Home tab again")
    await stack.settled()
    return stack.fake.home_views[user]


async def _open_connect(stack: LocalStack, button: dict[str, Any]) -> dict[str, Any]:
    assert stack.slack is not None
    before = stack.fake.count("views.open")
    payload = payloads.block_action(
        ADMIN, button["action_id"], "", stack.fake.issue_trigger_id(ADMIN), on_home=True
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.until(lambda: stack.fake.count("views.open") > before, "the connect form")
    call = stack.fake.calls_to("views.open")[-1]
    assert call.ok, call.error
    view: dict[str, Any] = as_opened(stack, call.args["view"])
    assert view["callback_id"] == "intro_crm_modal"
    return view


async def _submit(
    stack: LocalStack, view: dict[str, Any], values: dict[str, str], user: str = ADMIN
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Submit the form; Slack's answer to the submission, and the modal shown after the
    check (None when the answer already said what was wrong)."""
    assert stack.slack is not None
    before = stack.fake.count("views.update")
    status, body = await stack.slack.interaction(payloads.view_submission(user, view, values))
    assert status == 200
    answer: dict[str, Any] = json.loads(body) if body else {}
    if answer.get("response_action") != "update":
        return answer, None
    stack.fake._validate_view({"view": answer["view"]}, view_type="modal")
    await stack.until(lambda: stack.fake.count("views.update") > before, "the check's result")
    await stack.settled()
    call = stack.fake.calls_to("views.update")[-1]
    assert call.ok, call.error
    assert call.args["view_id"] == view["id"]
    return answer, call.args["view"]


def _modal_text(view: dict[str, Any]) -> str:
    return card_text(view)


async def _connection(stack: LocalStack) -> CrmConnection | None:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        return await session.get(CrmConnection, TEAM)


async def _connect_hubspot(stack: LocalStack, token: str = GOOD_TOKEN) -> dict[str, Any] | None:
    home = await _home(stack, ADMIN)
    form = await _open_connect(stack, _controls(home)["Connect HubSpot"])
    _, shown = await _submit(stack, form, {"token": token})
    return shown


async def test_an_admin_connects_hubspot_with_a_good_token(
    stack: LocalStack, crm: FakeCrm, clock: ManualClock
) -> None:
    home = await _home(stack, ADMIN)
    assert _crm_text(home).startswith(":link: *CRM* (admins only): none connected.")
    assert set(_controls(home)) == {"Connect HubSpot", "Connect Salesforce"}

    form = await _open_connect(stack, _controls(home)["Connect HubSpot"])
    assert form["title"]["text"] == "Connect HubSpot"
    (token_field,) = [b for b in form["blocks"] if b.get("type") == "input"]
    assert "Private Apps" in token_field["hint"]["text"]
    answer, shown = await _submit(stack, form, {"token": f"  {GOOD_TOKEN}\n"})
    # The submission is answered at once with the form checking; the result follows.
    assert answer["view"]["blocks"][0]["text"]["text"].startswith(":hourglass")
    assert shown is not None
    assert _modal_text(shown).startswith(":white_check_mark: Connected to HubSpot (portal 4242).")
    assert crm.seen == [("hubspot", {"token": GOOD_TOKEN})]

    row = await _connection(stack)
    assert row is not None
    assert (row.vendor, row.account, row.connected_by) == ("hubspot", "portal 4242", ADMIN)
    assert row.connected_at == clock.now() and row.paused_at is None
    # Sealed: the token is nowhere in the row as stored, and opens with the key.
    assert stack.services is not None
    async with stack.services.sessions() as session:
        stored = (await session.execute(text("SELECT * FROM crm_connections"))).one()
    assert all(GOOD_TOKEN not in str(cell) for cell in stored)
    assert SecretBox(SECRET_KEY).open(row.credentials) == {"token": GOOD_TOKEN}

    home = stack.fake.home_views[ADMIN]  # published again after the connection
    shown_text = _crm_text(home)
    assert "*HubSpot* (portal 4242), connected by <@U0ADMIN>," in shown_text
    assert "Last push: none yet." in shown_text
    assert set(_controls(home)) == {"Disconnect"}
    assert _controls(home)["Disconnect"]["confirm"]["title"]["text"] == "Disconnect HubSpot?"


async def test_a_crm_lacking_what_introbot_needs_stores_nothing_and_says_what(
    stack: LocalStack, crm: FakeCrm
) -> None:
    crm.missing = [MISSING_SCOPE, "Lead Source has no value Warm Introduction"]
    shown = await _connect_hubspot(stack)
    assert shown is not None
    said = _modal_text(shown)
    assert said.startswith(":warning: HubSpot took these credentials, but it lacks what")
    assert f"\n• {MISSING_SCOPE}\n• Lead Source has no value Warm Introduction" in said
    assert "Nothing is saved." in said
    # The form again, ready to connect once fixed; the token is not sent back to Slack.
    assert shown["callback_id"] == "intro_crm_modal"
    assert GOOD_TOKEN not in json.dumps(shown)
    assert await _connection(stack) is None
    assert "none connected" in _crm_text(stack.fake.home_views[ADMIN])


async def test_a_refused_token_is_said_so_and_nothing_is_stored(stack: LocalStack) -> None:
    shown = await _connect_hubspot(stack, token="pat-na1-revoked")
    assert shown is not None
    assert _modal_text(shown).startswith(
        ":warning: HubSpot refused these credentials. Nothing is saved."
    )
    assert await _connection(stack) is None


async def test_a_crm_that_does_not_answer_is_said_so(stack: LocalStack, crm: FakeCrm) -> None:
    crm.answering = False
    shown = await _connect_hubspot(stack)
    assert shown is not None
    assert _modal_text(shown).startswith(":warning: HubSpot didn't answer (HTTP 503).")
    assert await _connection(stack) is None


async def test_a_failure_while_checking_is_said_in_the_form_not_left_checking(
    stack: LocalStack, crm: FakeCrm
) -> None:
    def broken(vendor: str, credentials: dict[str, Any]) -> FakeAdapter:
        raise KeyError("client_secret")

    assert stack.services is not None
    services = stack.services
    services.crm = CrmConnections(
        services.sessions, services.clock, services.settings, adapters=broken
    )
    shown = await _connect_hubspot(stack)
    assert shown is not None
    assert _modal_text(shown).startswith(
        ":warning: Something went wrong on introbot's side while checking with HubSpot."
    )
    assert await _connection(stack) is None


async def test_a_malformed_field_is_named_under_it_before_any_check(
    stack: LocalStack, crm: FakeCrm
) -> None:
    home = await _home(stack, ADMIN)
    form = await _open_connect(stack, _controls(home)["Connect Salesforce"])
    assert [b["block_id"] for b in form["blocks"] if b["type"] == "input"] == [
        "domain",
        "client_id",
        "client_secret",
    ]
    values = {"domain": "acme my salesforce", "client_id": "3MVG9 x", "client_secret": "s"}
    answer, shown = await _submit(stack, form, values)
    assert shown is None and answer["response_action"] == "errors"
    assert set(answer["errors"]) == {"domain", "client_id"}
    assert "acme.my.salesforce.com" in answer["errors"]["domain"]
    assert crm.seen == []  # the CRM was not asked


async def test_salesforce_connects_with_its_my_domain_as_pasted(
    stack: LocalStack, crm: FakeCrm
) -> None:
    crm.good = "3MVG9consumerkey"
    home = await _home(stack, ADMIN)
    form = await _open_connect(stack, _controls(home)["Connect Salesforce"])
    values = {
        "domain": "https://Acme.my.salesforce.com/",
        "client_id": "3MVG9consumerkey",
        "client_secret": "consumer-secret",
    }
    _, shown = await _submit(stack, form, values)
    assert shown is not None and "Connected to Salesforce" in _modal_text(shown)
    assert crm.seen[-1] == (
        "salesforce",
        {
            "domain": "acme.my.salesforce.com",
            "client_id": "3MVG9consumerkey",
            "client_secret": "consumer-secret",
        },
    )
    row = await _connection(stack)
    assert row is not None and "consumer-secret" not in row.credentials


async def test_without_a_secret_key_the_admin_is_told_the_operator_must_set_it(
    database_url: str, clock: ManualClock, crm: FakeCrm
) -> None:
    async with LocalStack(database_url, clock=clock) as stack:
        _inject(stack, crm)
        home = await _home(stack, ADMIN)
        assert _crm_text(home) == (
            ":link: *CRM* (admins only): to connect HubSpot or Salesforce, whoever runs "
            "introbot must first set INTROBOT_SECRET_KEY, which keeps CRM credentials encrypted."
        )
        assert _controls(home) == {}
        # A form opened before the key went: the admin is told, nothing is checked or stored.
        assert stack.services is not None
        opened = await stack.services.client.views_open(
            trigger_id=stack.fake.issue_trigger_id(ADMIN), view=messages.crm_modal("hubspot")
        )
        _, shown = await _submit(stack, opened["view"], {"token": GOOD_TOKEN})
        assert shown is not None
        assert "whoever runs introbot must first set INTROBOT_SECRET_KEY" in _modal_text(shown)
        assert crm.seen == []
        assert await _connection(stack) is None


async def test_a_non_admin_sees_no_crm_section_and_cannot_press_its_buttons(
    stack: LocalStack,
) -> None:
    await _connect_hubspot(stack)
    assert _crm_blocks(await _home(stack, REQUESTER)) == []
    # A forged press: refused, the connection kept.
    home = await _press(stack, REQUESTER, "intro_crm_disconnect")
    assert home["blocks"][1]["text"]["text"] == (
        ":information_source: Only workspace admins can do that."
    )
    assert await _connection(stack) is not None
    before = stack.fake.count("views.open")
    await _press(stack, REQUESTER, "intro_crm_connect_salesforce")
    assert stack.fake.count("views.open") == before
    # A forged submission: refused under the field, nothing checked or stored.
    assert stack.services is not None
    opened = await stack.services.client.views_open(
        trigger_id=stack.fake.issue_trigger_id(REQUESTER), view=messages.crm_modal("hubspot")
    )
    answer, shown = await _submit(stack, opened["view"], {"token": "pat-x"}, user=REQUESTER)
    assert shown is None
    assert answer == {
        "response_action": "errors",
        "errors": {"token": "Only workspace admins can do that."},
    }
    row = await _connection(stack)
    assert row is not None and row.connected_by == ADMIN


async def test_an_admin_disconnects_and_the_credentials_go(stack: LocalStack) -> None:
    await _connect_hubspot(stack)
    home = await _press(stack, ADMIN, "intro_crm_disconnect")
    assert await _connection(stack) is None
    assert home["blocks"][1]["text"]["text"] == (
        ":information_source: HubSpot is disconnected: introbot forgot its credentials and "
        "records nothing more there."
    )
    assert set(_controls(home)) == {"Connect HubSpot", "Connect Salesforce"}


async def _push_row(
    stack: LocalStack, request_id: int | None, status: str, error: str, attempts: int = 4
) -> int:
    assert stack.services is not None
    now = stack.services.clock.now()
    async with stack.services.sessions.begin() as session:
        row = OutboundMessage(
            team_id=TEAM,
            request_id=request_id,
            dedupe_key=f"crm:{request_id}:{status}:{error}",
            kind=MessageKind.CRM_PUSH,
            recipient_id="",
            data={"stage": "intro_made"},
            status=status,
            due_at=now,
            attempts=attempts,
            last_error=error,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_failed_pushes_show_with_their_reason_and_retry_puts_one_back(
    stack: LocalStack, clock: ManualClock
) -> None:
    await request_intro(stack)
    assert stack.services is not None
    async with stack.services.sessions() as session:
        request_id = await session.scalar(select(OutboundMessage.request_id).limit(1))
    await _connect_hubspot(stack)
    await _push_row(stack, request_id, DeliveryStatus.SENT, "")
    clock.advance(timedelta(hours=1))
    failed = await _push_row(stack, request_id, DeliveryStatus.FAILED, "Lead Source has no value")
    expired = await _push_row(stack, None, DeliveryStatus.EXPIRED, "HTTP 503")
    await _push_row(stack, request_id, DeliveryStatus.PENDING, "", attempts=0)  # not tried yet

    home = await _home(stack, ADMIN)
    said = _crm_text(home)
    assert "\nLast push: not recorded, <!date^" in said  # the latest tried: the expired one
    lines = said.split("*Not recorded in HubSpot:*\n")[1].splitlines()
    assert lines[0].startswith("• A request since deleted, <!date^")
    assert lines[0].endswith(": HTTP 503")
    assert lines[1].startswith("• *Jane Doe*, <!date^")
    assert lines[1].endswith(": Lead Source has no value")
    buttons = _controls(home)
    assert set(buttons) == {"Disconnect", "Retry", "Retry Jane Doe"}
    assert buttons["Retry Jane Doe"]["value"] == str(failed)
    assert buttons["Retry"]["value"] == str(expired)

    clock.advance(timedelta(minutes=5))
    retry = buttons["Retry Jane Doe"]
    home = await _press(stack, ADMIN, retry["action_id"], retry["value"])
    assert home["blocks"][1]["text"]["text"] == (
        ":information_source: That push will be tried again in a moment; this tab shows how "
        "it went."
    )
    async with stack.services.sessions() as session:
        row = await session.get(OutboundMessage, failed)
    assert row is not None
    assert (row.status, row.attempts, row.due_at) == (DeliveryStatus.PENDING, 0, clock.now())
    assert set(_controls(home)) == {"Disconnect", "Retry"}
    # Pressed twice (or forged for a push not failed): nothing more happens.
    home = await _press(stack, ADMIN, retry["action_id"], retry["value"])
    assert "isn't waiting for a retry any more" in home["blocks"][1]["text"]["text"]


async def test_a_paused_connection_says_so_and_offers_to_connect_again(
    stack: LocalStack, clock: ManualClock
) -> None:
    await _connect_hubspot(stack)
    assert stack.services is not None
    async with stack.services.sessions.begin() as session:
        row = await session.get(CrmConnection, TEAM)
        assert row is not None
        row.paused_at, row.paused_reason = clock.now(), "HubSpot refused the token"
    home = await _home(stack, ADMIN)
    assert ":warning: Pushes are paused since <!date^" in _crm_text(home)
    assert ": HubSpot refused the token. Connect again to resume" in _crm_text(home)
    again = _controls(home)["Connect HubSpot again"]
    form = await _open_connect(stack, again)
    _, shown = await _submit(stack, form, {"token": GOOD_TOKEN})
    assert shown is not None and "Connected to HubSpot" in _modal_text(shown)
    row = await _connection(stack)
    assert row is not None and (row.paused_at, row.paused_reason) == (None, None)


async def test_a_crm_set_in_the_settings_shows_connected_with_no_disconnect(
    database_url: str, clock: ManualClock, crm: FakeCrm
) -> None:
    settings = {"INTROBOT_SECRET_KEY": SECRET_KEY, "INTROBOT_HUBSPOT_TOKEN": GOOD_TOKEN}
    async with LocalStack(database_url, clock=clock, settings=settings) as stack:
        _inject(stack, crm)
        home = await _home(stack, ADMIN)
        assert _crm_text(home).startswith(
            ":link: *CRM* (admins only): *HubSpot*, connected in introbot's settings."
        )
        assert _controls(home) == {}
        assert stack.services is not None and stack.services.crm is not None
        result = await stack.services.crm.connect(TEAM, "salesforce", {}, ADMIN)
        assert result.outcome == ConnectOutcome.SET_IN_SETTINGS
        assert crm.seen == []


async def test_forget_me_leaves_the_workspaces_crm_connected(stack: LocalStack) -> None:
    await _connect_hubspot(stack)
    assert stack.slack is not None
    status, _ = await stack.slack.command(
        payloads.slash_command(
            ADMIN,
            "forget me",
            stack.fake.issue_trigger_id(ADMIN),
            response_url=stack.fake.response_url(),
        )
    )
    assert status == 200
    await stack.until(lambda: len(stack.fake.responses) >= 1, "the confirmation")
    row = await _connection(stack)
    assert row is not None and row.vendor == "hubspot"
