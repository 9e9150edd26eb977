"""Every id a template can render has a listener, and every listener is reached by
something a template renders (or Slack sends on its own: the command, the shortcut, the
events the manifest subscribes to). Checked with Bolt's own matchers on the built app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
import yaml
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.intro.contacts import CONTACTS_PAGE, ContactPage
from bot.intro.crm import CrmVendor
from bot.intro.crm_admin import CrmState
from bot.intro.directory import DEFAULT_PACING, Suggestion
from bot.intro.offer_help import DigestItem
from bot.intro.states import OfferStatus, Status
from bot.rendering import digests, messages
from bot.rendering.ids import ActionFamily, ActionId, CallbackId
from bot.services.work_queue import WorkQueue
from bot.templates_dir import TEMPLATES_DIR
from bot.wiring.manifest import render_manifest
from handlers import register_listeners
from storage.models import ConnectorPrefs, Contact, IntroOffer
from tests.bot.rendering.test_templating import NOW, SUGGESTED, fullest_crm, make_request

REMINDERS = [
    "ask_again",
    "follow_up",
    "nudge",
    "outcome",
    "outcome_again",
    "stalled",
    "target_check",
    "target_check_waiting",
    "target_quiet",
]
# A connector outside the team: the requester is asked instead (plan.connector_side).
OUTSIDE_REMINDERS = [
    "outside_asked",
    "outside_checking",
    "follow_up",
    "outcome",
    "outcome_again",
    "target_quiet",
]
NOTICES = [
    "accept",
    "ask_again",
    "bump",
    "decline",
    "mention_name",
    "no_response",
    "outcome",
    "owner_approve",
    "owner_decline",
    "redirect",
    "secondary_offer",
    "secondary_offer_done",
    "suggest_person",
    "target_agreed",
    "target_declined",
    "target_not_now",
    "undeliverable",
    "went_cold",
]


def _messages() -> Iterator[messages.Message]:
    tie = Contact(id=7, name="Jane Doe", company="Acme", closeness="close", since=date(2019, 1, 1))
    for status in OfferStatus:
        offer = IntroOffer(
            id=5,
            connector_id="U0CON",
            rep_id="U0REQ",
            target_name="Jane",
            company="Acme",
            reason="x",
            status=status,
        )
        yield messages.offer_card(offer)
        yield messages.offer_notice(offer)
    item = DigestItem("acme", "Acme", ("U0REQ", ""), "known", "close", 2, best=7)
    for muted in ({}, {"acme": NOW}):
        shown = digests.digest(9, [item], {7: "Jane Doe"}, muted, timedelta(days=7), NOW)
        assert shown is not None
        yield shown
    for status in Status:
        for named in (False, True):
            request = make_request(status, share_name=True, named_ask=named, intro_made_at=NOW)
            yield messages.connector_card(request, stale_tie=tie)
            yield messages.connector_card(request, offered=True)
            yield messages.connector_card(request, pointed_from="Jane Doe")
        request = make_request(status, intro_made_at=NOW)
        yield messages.owner_card(request)
        yield messages.requester_card(request, ["advice"])
        for kind in REMINDERS:
            yield messages.reminder(request, kind, [SUGGESTED], now=NOW)
        for event in NOTICES:
            for data in ({}, {"outcome": "meeting_held", "choice": "bump"}):
                yield messages.notice(request, event, data, [SUGGESTED], secondary=[SUGGESTED])
                yield messages.notice(request, event, data)
        # An ask for a way in: before the connector picks the person, and after.
        for picked in ("", "Jane Doe"):
            way_in = make_request(status, way_in=True, target_name=picked, target_role="ops")
            yield messages.connector_card(way_in)
            yield messages.owner_card(way_in)
            yield messages.requester_card(way_in, [])
            for kind in REMINDERS:
                yield messages.reminder(way_in, kind, [SUGGESTED], now=NOW)
            for event in NOTICES:
                yield messages.notice(way_in, event, {}, [SUGGESTED])
        outside = make_request(
            status, connector_id="", connector_outside=True, connector_name="Dana Cole"
        )
        yield messages.requester_card(outside, ["advice"])
        for kind in OUTSIDE_REMINDERS:
            yield messages.reminder(outside, kind, [SUGGESTED], now=NOW)
    yield messages.outcome_list([make_request(status, id=i) for i, status in enumerate(Status)])


def _views() -> Iterator[dict[str, Any]]:
    request = make_request(Status.AWAITING_CONNECTOR)
    suggestion = Suggestion(SUGGESTED, 1.0, "close", None, 0, 0, "Jane", "Acme")
    prefill = messages.ModalPrefill(target_name="Jane Doe", connector_id=SUGGESTED)
    context = messages.ModalContext(offer_id=5, offered_by="U0CON")
    yield messages.intro_modal(prefill, context, suggestions=[suggestion], searched=True)
    yield messages.intro_modal(messages.ModalPrefill(), messages.ModalContext(), searched=True)
    pointed = messages.ModalContext(previous_request_id=3, pointed_by="U0CON", pointed_from="Jane")
    yield messages.intro_modal(prefill, pointed)
    way_in = messages.ModalPrefill(target_company="Acme", target_role="whoever runs logistics")
    yield messages.intro_modal(way_in, messages.ModalContext(), suggestions=[suggestion])
    yield messages.intro_modal(way_in, messages.ModalContext(), searched=True)
    asked = make_request(Status.AWAITING_CONNECTOR, way_in=True, target_name="")
    yield messages.way_in_modal(asked, [Contact(id=3, name="Jane Doe", title="COO")])
    yield messages.way_in_modal(asked, [])
    yield messages.decline_modal(request)
    yield messages.owner_decline_modal(make_request(Status.AWAITING_OWNER))
    yield messages.redirect_modal(request)
    yield messages.owner_edit_modal(request)
    yield messages.intro_line_modal(make_request(Status.CHECKING_WITH_TARGET))
    yield messages.mention_name_modal(request)
    yield messages.intro_made_modal(make_request(Status.CHECKING_WITH_TARGET))
    yield messages.intro_made_modal(
        make_request(
            Status.CHECKING_WITH_TARGET,
            connector_id="",
            connector_outside=True,
            connector_name="Dana Cole",
        )
    )
    yield messages.not_now_modal(request, NOW.date())
    yield messages.cold_modal(request)
    yield messages.outside_modal(prefill, context)
    yield messages.thanks_modal(make_request(Status.TARGET_DECLINED))
    yield messages.offer_modal()
    yield messages.offer_modal(messages.OfferPrefill("U0REQ", "Acme", "9:0"))
    yield messages.contact_modal()
    yield messages.accounts_modal(admin=True)
    for vendor in CrmVendor:
        yield messages.crm_modal(vendor)
    yield messages.crm_consent_modal("https://app.hubspot.com/oauth/authorize?state=x")
    yield messages.home_view([], [], first_time=False, crm=CrmState(None))
    yield messages.home_view([], [], first_time=False, crm=fullest_crm())
    yield messages.pacing_modal(
        ConnectorPrefs(team_id="T", user_id="U", blocked_companies=[]), DEFAULT_PACING
    )
    mine = [make_request(status, id=i) for i, status in enumerate(Status, start=1)]
    waiting = [
        make_request(status, id=100 + i, requester_id="U0OTHER", connector_id="U0REQ")
        for i, status in enumerate(Status)
    ]
    waiting.append(
        make_request(
            Status.AWAITING_CONNECTOR,
            id=99,
            requester_id="U0OTHER",
            connector_id="U0REQ",
            way_in=True,
            target_name="",
        )
    )
    contacts = [Contact(id=n, name="A", closeness="close") for n in range(CONTACTS_PAGE)]
    for share in (False, True):
        page = ContactPage(contacts, matching=35, total=40, page=1, search="a")
        yield messages.home_view(
            mine, waiting, first_time=False, contact_page=page, share_tie_details=share
        )


def _interactive(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    """(block_id, action_id) of each element Slack sends an action for when it is used."""
    for block in blocks:
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if block.get("accessory"):
            elements.append(block["accessory"])
        if block.get("type") == "input" and block.get("dispatch_action"):
            elements.append(block["element"])
        for element in elements:
            if element.get("action_id"):
                yield str(block.get("block_id") or ""), str(element["action_id"])


def rendered_payloads() -> list[dict[str, Any]]:
    """What Slack would send for every button, menu and dispatching field the templates
    render, and for every modal they render with a submit button."""
    payloads: list[dict[str, Any]] = []
    pressed: set[tuple[str, str]] = set()
    for message in _messages():
        pressed |= set(_interactive(message.blocks))
    views = list(_views())
    for view in views:
        pressed |= set(_interactive(view["blocks"]))
        if view.get("submit"):
            payloads.append({"type": "view_submission", "view": view})
    for block_id, action_id in sorted(pressed):
        payloads.append(
            {"type": "block_actions", "actions": [{"block_id": block_id, "action_id": action_id}]}
        )
    return payloads


def sent_by_slack_itself() -> list[dict[str, Any]]:
    """The command, the shortcut and the events, as the manifest declares them."""
    manifest = yaml.safe_load(render_manifest("https://example.test"))
    features = manifest["features"]
    payloads: list[dict[str, Any]] = [
        {"command": command["command"]} for command in features["slash_commands"]
    ]
    payloads += [
        {"type": "message_action", "callback_id": shortcut["callback_id"]}
        for shortcut in features["shortcuts"]
    ]
    payloads += [
        {"type": "event_callback", "event": {"type": event}}
        for event in manifest["settings"]["event_subscriptions"]["bot_events"]
        if event != "function_executed"
    ]
    # A workflow reached one of the custom steps the manifest declares.
    payloads += [
        {
            "type": "event_callback",
            "event": {
                "type": "function_executed",
                "function": {"callback_id": callback_id},
                "function_execution_id": "Fx0",
            },
        }
        for callback_id in manifest["functions"]
    ]
    return payloads


def _app() -> AsyncApp:
    app = AsyncApp(
        token="xoxb-test",
        signing_secret="secret",
        raise_error_for_unhandled_request=False,
        request_verification_enabled=False,
    )
    register_listeners(app, WorkQueue())
    return app


async def _matching(app: AsyncApp, payload: dict[str, Any]) -> list[Any]:
    request = AsyncBoltRequest(body=payload, mode="socket_mode")
    return [
        listener
        for listener in app._async_listeners
        if await listener.async_matches(req=request, resp=BoltResponse(status=200))
    ]


def _label(payload: dict[str, Any]) -> str:
    if payload.get("type") == "view_submission":
        return f"view {payload['view'].get('callback_id')}"
    if payload.get("type") == "block_actions":
        return "action {block_id}/{action_id}".format(**payload["actions"][0])
    return str(payload)


async def test_every_rendered_button_menu_and_form_has_a_listener() -> None:
    app = _app()
    unheard = [
        _label(payload)
        for payload in rendered_payloads() + sent_by_slack_itself()
        if not await _matching(app, payload)
    ]
    assert unheard == []


async def test_every_listener_is_reached_by_something_rendered_or_sent_by_slack() -> None:
    app = _app()
    reached: set[int] = set()
    for payload in rendered_payloads() + sent_by_slack_itself():
        reached |= {id(listener) for listener in await _matching(app, payload)}
    unreached = [
        listener.ack_function.__name__
        for listener in app._async_listeners
        if id(listener) not in reached
    ]
    assert unreached == []


def test_every_id_in_the_enums_is_rendered() -> None:
    payloads = rendered_payloads()
    action_ids = {p["actions"][0]["action_id"] for p in payloads if p["type"] == "block_actions"}
    callback_ids = {p["view"]["callback_id"] for p in payloads if p["type"] == "view_submission"}
    callback_ids |= {p["callback_id"] for p in sent_by_slack_itself() if "callback_id" in p}
    callback_ids.add(messages.cold_modal(make_request(Status.CLOSED))["callback_id"])
    assert {str(a) for a in ActionId} - action_ids == set()
    assert {str(c) for c in CallbackId} - callback_ids == set()
    for family in ActionFamily:
        assert any(family.pattern.match(action_id) for action_id in action_ids), family


@pytest.mark.parametrize("template", sorted(TEMPLATES_DIR.glob("*.json.j2")), ids=str)
def test_templates_name_their_ids_through_the_enums(template: Any) -> None:
    bare = re.findall(r'"(?:action_id|callback_id)": "(?!\{\{)[^"]*"', template.read_text())
    assert bare == []
