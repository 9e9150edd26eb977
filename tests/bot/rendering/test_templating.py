"""The real templates, rendered through bot.rendering.messages with hostile values, checked as
Slack would.

`*.json.j2` templates must escape every user-supplied value for mrkdwn (& < >) and for JSON;
`|plain` values (input initial values, private_metadata) must come through exactly.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.delivery.webhooks import WebhookState
from bot.intro.contacts import CONTACTS_PAGE, SEARCH_MAX, ContactPage
from bot.intro.crm_admin import FAILED_SHOWN, CrmState, FailedPush, PushTried
from bot.intro.states import (
    COLD_AFTER,
    DEAD_END_EVENTS,
    OPEN_STATUSES,
    REPORT_ACTION,
    Action,
    Outcome,
    Role,
    Status,
    allowed_actions,
)
from bot.intro.validation import BLURB_MAX, REASON_MAX, TARGET_COMPANY_MAX, TARGET_NAME_MAX
from bot.rendering import messages, templating
from bot.rendering.ids import ActionId
from bot.rendering.templating import (
    TEMPLATES_DIR,
    escape_mrkdwn,
    render_json,
    trusted_mrkdwn,
)
from storage.models import Contact, IntroRequest

HOSTILE = '<!channel> & <@U999> "quoted" 🎉 مرحبا'
HOSTILE_ESCAPED = '&lt;!channel&gt; &amp; &lt;@U999&gt; "quoted" 🎉 مرحبا'
# JSON and Jinja breakers: backslashes, control characters, template syntax, a closing tag.
BREAKERS = "back\\slash\nnew line\ttab {{ r.id }} {% if %} </script> \u2028 \\u0022 '"
BLURB = ((HOSTILE + " " + BREAKERS + " ") * 40)[:BLURB_MAX]
EVENTS = [
    "accept",
    "target_agreed",
    "target_declined",
    "target_not_now",
    "decline",
    "redirect",
    "no_response",
    "went_cold",
]
FORBIDDEN = ("<!channel>", "<@U999>", "<!here>", "<!everyone>")
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
REQUESTER = "U0REQ"
CONNECTOR = "U0CON"
SUGGESTED = "U0SUG"


def fullest_crm() -> CrmState:
    """An admin's CRM section at its fullest: paused, and as many failed pushes as it lists,
    each with a long name and reason."""
    failed = tuple(
        FailedPush(n, HOSTILE * 3, HOSTILE * 10, NOW) for n in range(1, FAILED_SHOWN + 1)
    )
    return CrmState(
        "hubspot",
        HOSTILE,
        "U0ADMIN",
        NOW,
        paused_at=NOW,
        paused_reason=HOSTILE * 10,
        last_push=PushTried("failed", NOW),
        failed=failed,
    )


def make_request(status: Status | str = Status.AWAITING_CONNECTOR, **changes: Any) -> IntroRequest:
    values: dict[str, Any] = {
        "id": 42,
        "team_id": "T0TEAM",
        "requester_id": REQUESTER,
        "requester_name": HOSTILE,
        "connector_id": CONNECTOR,
        "target_name": HOSTILE,
        "target_company": HOSTILE + " " + BREAKERS,
        "reason": (HOSTILE + " " + BREAKERS)[:REASON_MAX],
        "blurb": BLURB,
        "closeness": "know_well",
        "source_channel_id": "C0SRC",
        "source_message_ts": "1714564800.000100",
        "source_permalink": "https://example.slack.com/archives/C0SRC/p1714564800000100",
        "previous_request_id": None,
        "status": str(status),
        "decline_reason": HOSTILE + " " + BREAKERS,
        "suggested_user_id": SUGGESTED,
        "suggestion_note": HOSTILE + " " + BREAKERS,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return IntroRequest(**values)


def mrkdwn_texts(value: Any) -> Iterator[str]:
    """Every text Slack parses as mrkdwn, including a message's top-level fallback text."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for item in value.values():
            yield from mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_texts(item)


def assert_no_broadcasts(value: Any, *extra: str) -> None:
    """No live broadcast or fake mention in anything Slack parses as mrkdwn."""
    for text in [*mrkdwn_texts(value), *extra]:
        for forbidden in FORBIDDEN:
            assert forbidden not in text, f"{forbidden!r} leaked into {text[:200]!r}"


def assert_valid_blocks(blocks: list[dict[str, Any]]) -> None:
    assert isinstance(blocks, list) and blocks
    # Unknown keys are only warnings in slack_sdk; count them as failures here.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = Block.parse_all(blocks)
        assert len(parsed) == len(blocks)
        for original, block in zip(blocks, parsed, strict=True):
            assert block is not None, f"unknown block {original}"
            assert block.to_dict()["type"] == original["type"]


def assert_valid_message(message: messages.Message) -> None:
    assert isinstance(message.text, str) and message.text
    assert_valid_blocks(message.blocks)
    assert len(message.blocks) <= 50
    assert_no_broadcasts(message.blocks, message.text)
    json.loads(json.dumps({"text": message.text, "blocks": message.blocks}))


def assert_valid_view(view: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dumped = View(**view).to_dict()
    assert dumped["type"] == view["type"]
    assert len(view["blocks"]) <= 100
    assert_valid_blocks(view["blocks"])
    assert_no_broadcasts(view)


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                found.append(element["action_id"])
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            found.append(accessory["action_id"])
    return found


def button_id(action: Action) -> str:
    return f"intro_{action.value}"


# Actions offered in another's modal rather than by a button of their own: a better person to
# talk to is named in "Suggest someone else".
IN_ANOTHERS_MODAL = {Action.SUGGEST_PERSON}


def connector_buttons(status: Status) -> list[str]:
    """The buttons the connector's card and Home tab offer in `status`, in order."""
    allowed = allowed_actions(status, Role.CONNECTOR)
    return [button_id(a) for a in allowed if a not in IN_ANOTHERS_MODAL]


# --- the escaping primitives -------------------------------------------------------------


def test_escape_mrkdwn_escapes_only_amp_lt_gt_and_amp_first() -> None:
    assert escape_mrkdwn(HOSTILE) == HOSTILE_ESCAPED
    assert escape_mrkdwn("&lt;") == "&amp;lt;"
    assert escape_mrkdwn("*bold* _it_ `code` ~s~") == "*bold* _it_ `code` ~s~"


def test_json_templates_escape_and_text_templates_do_not() -> None:
    request = make_request(blurb=BREAKERS)
    rendered = render_json("notice.json.j2", r=request, event="accept")
    assert HOSTILE_ESCAPED in rendered["text"]
    email = messages.forwardable_email(request)
    assert HOSTILE in email
    assert BREAKERS.strip() in email
    assert "&lt;" not in email and "&amp;" not in email


def test_values_are_not_evaluated_as_template_syntax() -> None:
    request = make_request(target_name="{{ r.id }} {% if true %}x{% endif %}")
    message = messages.requester_card(request, [])
    assert "{{ r.id }} {% if true %}x{% endif %}" in message.blocks[0]["text"]["text"]


def test_labels_cover_every_status_for_every_role() -> None:
    labels = json.loads((TEMPLATES_DIR / "labels.json").read_text(encoding="utf-8"))
    assert set(labels["status"]) == {s.value for s in Status}
    for status in Status:
        entry = labels["status"][status.value]
        assert entry["label"] and entry["emoji"].startswith(":")
        # Said in a sentence, not pasted in as a label.
        assert entry["stale"][0].isupper() and entry["stale"].endswith(".")
        for role in ("requester", "connector", "owner"):
            entry[f"{role}_next"].format(
                connector="<@U1>",
                target="T",
                company="C",
                date="Monday 1 February",
                suggested="S",
            )


# --- connector card ----------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_connector_card_escapes_hostile_values_in_every_status(status: Status) -> None:
    request = make_request(status)
    message = messages.connector_card(request)
    assert_valid_message(message)
    assert HOSTILE_ESCAPED in message.text
    assert message.text.startswith(f"<@{REQUESTER}> asks you for an intro to ")
    head = message.blocks[0]["text"]["text"]
    assert f"*{HOSTILE_ESCAPED}*" in head
    assert f"<@{REQUESTER}>" in head  # the bot's own mention is kept live
    reason_field = message.blocks[1]["fields"][0]["text"]
    assert reason_field == "*What's in it for them*\n" + escape_mrkdwn(request.reason)
    assert message.blocks[1]["fields"][1]["text"] == "*The ask*\nA 15-minute call"
    assert "Know them well" in message.blocks[1]["fields"][2]["text"]


def test_connector_card_carries_the_escaped_forwardable_email() -> None:
    request = make_request()
    email = messages.forwardable_email(request)
    message = messages.connector_card(request)
    forward = message.blocks[2]["text"]["text"]
    assert f"```{escape_mrkdwn(email)}```" in forward
    assert "Intro: &lt;!channel&gt;" in forward
    assert "\\u0022" in forward  # a literal backslash-u sequence survives as text


@pytest.mark.parametrize("status", list(Status))
def test_connector_card_buttons_match_the_connectors_allowed_actions(status: Status) -> None:
    message = messages.connector_card(make_request(status))
    expected = connector_buttons(status)
    if status == Status.CHECKING_WITH_TARGET:
        # The connector's line in the intro email is theirs to edit while they ask.
        expected = [ActionId.EDIT_INTRO_LINE.value, *expected]
    assert action_ids(message.blocks) == expected
    for block in message.blocks:
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert element["value"] == "42"


def test_connector_card_without_company_or_permalink() -> None:
    request = make_request(target_company="", source_permalink=None, closeness="")
    message = messages.connector_card(request)
    assert_valid_message(message)
    assert " at *" not in message.blocks[0]["text"]["text"]
    assert "(" not in message.text.split("intro to ", 1)[1].replace(HOSTILE_ESCAPED, "")
    assert "Not given" in message.blocks[1]["fields"][2]["text"]
    assert all(":link:" not in text for text in mrkdwn_texts(message.blocks))


def test_connector_card_keeps_the_permalink_as_a_link() -> None:
    request = make_request()
    texts = list(mrkdwn_texts(messages.connector_card(request).blocks))
    assert f":link: <{request.source_permalink}|The message this came from>" in texts


def test_overlong_target_name_is_clipped_in_the_card() -> None:
    message = messages.connector_card(make_request(target_name="N" * 400))
    head = message.blocks[0]["text"]["text"]
    assert "*" + "N" * 149 + "…*" in head
    assert "N" * 150 not in head


ESCAPE_HEAVY = {
    "blurb-amp": {"blurb": "&" * BLURB_MAX, "target_name": "Jane Doe"},
    "blurb-lt": {"blurb": "<" * BLURB_MAX, "target_name": "Jane Doe"},
    "blurb-gt": {"blurb": ">" * BLURB_MAX, "target_name": "Jane Doe"},
    "every-field-at-max": {
        "target_name": (HOSTILE * 10)[:TARGET_NAME_MAX],
        "target_company": (HOSTILE * 10)[:TARGET_COMPANY_MAX],
        "reason": (HOSTILE * 20)[:REASON_MAX],
        "blurb": (HOSTILE * 50)[:BLURB_MAX],
        "requester_name": (HOSTILE * 10)[:200],
    },
}


@pytest.mark.parametrize("changes", list(ESCAPE_HEAVY.values()), ids=list(ESCAPE_HEAVY))
def test_escape_heavy_fields_at_maximum_length_stay_within_slack_limits(
    changes: dict[str, str],
) -> None:
    request = make_request(**changes)
    assert len(request.blurb) == BLURB_MAX
    assert_valid_message(messages.connector_card(request))


def test_escape_heavy_reason_at_maximum_length_fits_a_section_field() -> None:
    request = make_request(reason="&" * REASON_MAX)
    message = messages.connector_card(request)
    for field in message.blocks[1]["fields"]:
        assert len(field["text"]) <= 2000


# --- requester card ----------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_requester_card_with_advice_in_every_status(status: Status) -> None:
    advice = [
        "Forwardable notes work best at 3–5 sentences; yours reads shorter.",
        f"Mentioning {HOSTILE} shows why this person in particular.",
    ]
    request = make_request(status)
    message = messages.requester_card(request, advice)
    assert_valid_message(message)
    assert message.text.startswith(f"Your intro request to {HOSTILE_ESCAPED}: ")
    texts = list(mrkdwn_texts(message.blocks))
    tips = [t for t in texts if t.startswith(":bulb:")]
    assert tips == [
        ":bulb: *Tips for next time*\n• "
        + advice[0]
        + "\n• "
        + f"Mentioning {HOSTILE_ESCAPED} shows why this person in particular."
    ]
    status_line = message.blocks[1]["elements"][0]["text"]
    assert status_line.startswith(messages.labels()["status"][status.value]["emoji"])
    allowed = allowed_actions(status, Role.REQUESTER)
    expected_buttons = []
    if Action.FOLLOW_UP in allowed:
        expected_buttons.append("intro_followed_up")
    expected_buttons += [
        f"intro_outcome_{outcome.value}" for outcome in Outcome if REPORT_ACTION[outcome] in allowed
    ]
    if Action.CANCEL in allowed:
        expected_buttons.append("intro_cancel")
    assert action_ids(message.blocks) == expected_buttons


def test_requester_card_without_advice_has_no_tips() -> None:
    message = messages.requester_card(make_request(), [])
    assert_valid_message(message)
    assert not any(t.startswith(":bulb:") for t in mrkdwn_texts(message.blocks))


def test_next_step_keeps_the_connector_mention_and_escapes_the_target() -> None:
    message = messages.requester_card(make_request(Status.CHECKING_WITH_TARGET), [])
    status_line = message.blocks[1]["elements"][0]["text"]
    assert f"<@{CONNECTOR}> is asking {HOSTILE_ESCAPED} whether" in status_line


def test_next_step_with_braces_in_the_target_name() -> None:
    request = make_request(Status.TARGET_DECLINED, target_name="{connector} {0} {target}")
    step = messages.next_step(request, "requester")
    assert json.loads(f'"{step}"') == "{connector} {0} {target} passed this time."


# --- notices -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("event", EVENTS)
def test_notice_for_every_event_and_status(event: str, status: Status) -> None:
    message = messages.notice(make_request(status), event)
    assert_valid_message(message)
    assert HOSTILE_ESCAPED in message.text
    assert message.blocks[0]["text"]["text"] == message.text
    notes = [t for t in mrkdwn_texts(message.blocks) if t.startswith("Their note: ")]
    expected_note = "Their note: _" + escape_mrkdwn(HOSTILE + " " + BREAKERS) + "_"
    if event in ("decline", "redirect"):
        assert notes == [expected_note]
    else:
        assert notes == []
    expected = ["intro_ask_suggested"] if event == "redirect" else []
    if event in DEAD_END_EVENTS:  # who else to ask, and going in cold where it fits
        expected = ["intro_ask_secondary"] + (["intro_go_cold"] * (event in COLD_AFTER))
    if event == "went_cold":  # the message to paste, then how it went
        expected = [f"intro_outcome_{outcome.value}" for outcome in Outcome]
    if event == "target_declined":  # the person's no is final: only a thank-you
        expected = ["intro_thank_connector"]
    assert action_ids(message.blocks) == expected


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        ("accept", f"<@{CONNECTOR}> accepted your request"),
        ("target_agreed", ":tada:"),
        ("target_declined", "said no to an intro, so this ask is closed"),
        ("target_not_now", "said not now"),
        ("decline", f"<@{CONNECTOR}> can't make the intro"),
        ("redirect", f"<@{CONNECTOR}> suggests <@{SUGGESTED}>"),
    ],
)
def test_each_notice_says_what_happened(event: str, fragment: str) -> None:
    assert fragment in messages.notice(make_request(), event).text


def test_notices_without_optional_notes() -> None:
    request = make_request(decline_reason=None, suggestion_note="")
    for event in ("decline", "redirect"):
        message = messages.notice(request, event)
        assert_valid_message(message)
        assert not any(t.startswith("Their note") for t in mrkdwn_texts(message.blocks))


# --- modals ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", list(Status))
def test_decline_and_redirect_modals_in_every_status(status: Status) -> None:
    request = make_request(status)
    for view in (messages.decline_modal(request), messages.redirect_modal(request)):
        assert_valid_view(view)
        assert view["type"] == "modal"
        assert view["private_metadata"] == "42"
        assert HOSTILE_ESCAPED in view["blocks"][0]["text"]["text"]
        assert f"<@{REQUESTER}>" in view["blocks"][0]["text"]["text"]


def test_intro_modal_plain_values_come_through_exact() -> None:
    prefill = messages.ModalPrefill(
        connector_id=CONNECTOR,
        target_name='<b> & "x"',
        target_company=HOSTILE,
        reason=BREAKERS,
        blurb=BLURB,
        closeness="met_once",
    )
    context = messages.ModalContext("C0SRC", "1714564800.000100", 7)
    view = messages.intro_modal(prefill, context, source_hint=HOSTILE)
    assert_valid_view(view)
    by_id = {block.get("block_id"): block for block in view["blocks"]}
    assert by_id["target_name"]["element"]["initial_value"] == '<b> & "x"'
    assert by_id["target_company"]["element"]["initial_value"] == HOSTILE
    assert by_id["reason"]["element"]["initial_value"] == BREAKERS
    assert by_id["blurb"]["element"]["initial_value"] == BLURB
    # A prefilled connector gets its own block id, so views.update can change it.
    assert by_id[f"connector:{CONNECTOR}"]["element"]["initial_user"] == CONNECTOR
    assert by_id["closeness"]["element"]["initial_option"] == {
        "text": {"type": "plain_text", "text": "Met once or twice"},
        "value": "met_once",
    }
    hint = view["blocks"][0]["elements"][0]["text"]
    assert hint == f":link: From a message: _{HOSTILE_ESCAPED}_"
    assert messages.ModalContext.load(view["private_metadata"]) == context


def test_intro_modal_max_lengths_follow_validation_limits() -> None:
    view = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
    assert_valid_view(view)
    by_id = {block.get("block_id"): block for block in view["blocks"]}
    assert by_id["target_name"]["element"]["max_length"] == TARGET_NAME_MAX
    assert by_id["target_company"]["element"]["max_length"] == TARGET_COMPANY_MAX
    assert by_id["reason"]["element"]["max_length"] == REASON_MAX
    assert by_id["blurb"]["element"]["max_length"] == BLURB_MAX
    for block_id in ("target_name", "target_company", "reason", "blurb"):
        assert "initial_value" not in by_id[block_id]["element"]
    assert "initial_user" not in by_id["connector"]["element"]
    assert "initial_option" not in by_id["closeness"]["element"]
    assert view["private_metadata"] == "{}"


def test_intro_modal_clips_prefill_to_the_input_limit() -> None:
    prefill = messages.ModalPrefill(target_name="<" * 400, blurb="&" * 4000)
    view = messages.intro_modal(prefill, messages.ModalContext())
    assert_valid_view(view)
    by_id = {block.get("block_id"): block for block in view["blocks"]}
    name = by_id["target_name"]["element"]["initial_value"]
    assert name == "<" * (TARGET_NAME_MAX - 1) + "…"
    assert len(by_id["blurb"]["element"]["initial_value"]) == BLURB_MAX


def test_intro_modal_ignores_an_unknown_closeness() -> None:
    view = messages.intro_modal(messages.ModalPrefill(closeness="bogus"), messages.ModalContext())
    by_id = {block.get("block_id"): block for block in view["blocks"]}
    assert "initial_option" not in by_id["closeness"]["element"]
    values = [o["value"] for o in by_id["closeness"]["element"]["options"]]
    assert values == list(messages.labels()["closeness"])


# --- home --------------------------------------------------------------------------------


def _home_requests() -> tuple[list[IntroRequest], list[IntroRequest]]:
    mine = [make_request(status, id=index) for index, status in enumerate(Status, start=1)]
    waiting = [
        make_request(status, id=100 + index, requester_id="U0OTHER", connector_id=REQUESTER)
        # What waits on a connector: not a request still with the account owner.
        for index, status in enumerate(sorted(OPEN_STATUSES - {Status.AWAITING_OWNER}))
    ]
    return mine, waiting


@pytest.mark.parametrize("first_time", [True, False])
def test_home_view_with_requests_in_every_status(first_time: bool) -> None:
    mine, waiting = _home_requests()
    view = messages.home_view(mine, waiting, first_time=first_time, notice_text=HOSTILE)
    assert_valid_view(view)
    assert view["type"] == "home"
    texts = list(mrkdwn_texts(view["blocks"]))
    assert f":information_source: {HOSTILE_ESCAPED}" in texts
    assert any("*How to start*" in t for t in texts) is first_time
    lines = [t for t in texts if t.startswith(f"*{HOSTILE_ESCAPED}*")]
    assert len(lines) == len(mine) + len(waiting)
    cancels = [
        b for b in view["blocks"] if b.get("accessory", {}).get("action_id") == "intro_cancel"
    ]
    assert sorted(int(b["accessory"]["value"]) for b in cancels) == sorted(
        r.id for r in mine if Action.CANCEL in allowed_actions(Status(r.status), Role.REQUESTER)
    )
    for request in waiting:
        blocks = [b for b in view["blocks"] if b.get("block_id") == f"home_waiting_{request.id}"]
        expected = connector_buttons(Status(request.status))
        # Waiting for the day to ask again: nothing for the connector to press until then.
        assert [e["action_id"] for b in blocks for e in b["elements"]] == expected


def test_home_view_empty_for_a_newcomer() -> None:
    view = messages.home_view([], [], first_time=True)
    assert_valid_view(view)
    texts = list(mrkdwn_texts(view["blocks"]))
    assert "Nothing waiting on you." in texts
    assert "You haven't asked for an intro yet." in texts
    assert not any(t.startswith(":information_source:") for t in texts)


def test_home_view_at_the_query_limits_stays_under_100_blocks() -> None:
    # workflow.requests_by and waiting_on each return at most 15 rows.
    mine = [make_request(Status.AWAITING_CONNECTOR, id=i) for i in range(1, 16)]
    waiting = [make_request(Status.AWAITING_CONNECTOR, id=100 + i) for i in range(15)]
    view = messages.home_view(mine, waiting, first_time=True, notice_text="hello")
    assert_valid_view(view)


# --- short notes -------------------------------------------------------------------------


def test_notes_escape_details_and_keep_mentions() -> None:
    assert messages.note("sent", connector=CONNECTOR).startswith(
        f":white_check_mark: Sent to <@{CONNECTOR}>."
    )
    assert messages.note("invalid", detail=HOSTILE) == HOSTILE_ESCAPED
    stale = messages.note("stale", status_label=messages.status_label("intro_made"))
    assert stale == "That button is out of date, so nothing changed. The intro has been made."


def test_home_view_with_a_full_page_of_contacts_stays_under_100_blocks() -> None:
    """Everything at once: as many asks each way as it shows, the funnel, a middle page of a
    search, and an admin's webhook and CRM."""
    shown = messages.HOME_REQUESTS
    mine = [make_request(Status.AWAITING_CONNECTOR, id=i) for i in range(1, shown + 1)]
    waiting = [make_request(Status.CHECKING_WITH_TARGET, id=100 + i) for i in range(shown)]
    contacts = [
        Contact(id=n, name=HOSTILE, company=HOSTILE, title=HOSTILE, closeness="close", since=None)
        for n in range(CONTACTS_PAGE)
    ]
    page = ContactPage(contacts, matching=35, total=40, page=1, search=HOSTILE[:SEARCH_MAX])
    view = messages.home_view(
        mine,
        waiting,
        first_time=True,
        notice_text="hello",
        contact_page=page,
        funnel=trusted_mrkdwn("*Your funnel*"),
        webhook=WebhookState("https://hooks.example.com/x", False, "sent", None, None),
        crm=fullest_crm(),
    )
    assert_valid_view(view)
    assert len(view["blocks"]) <= 100
    assert {"webhook", "crm", "crm_actions"} <= {b.get("block_id") for b in view["blocks"]}
    texts = list(mrkdwn_texts(view["blocks"]))
    assert any(t.startswith("11–20 of 35 matching") for t in texts)
    pages = next(b for b in view["blocks"] if b.get("block_id") == "contact_pages")
    assert [e["action_id"] for e in pages["elements"]] == [
        "intro_contacts_previous",
        "intro_contacts_next",
    ]
    # What the buttons and the view carry comes back as typed, not escaped for display.
    assert view["private_metadata"] == f"1:{HOSTILE[:SEARCH_MAX]}"
    assert pages["elements"][1]["value"] == f"2:{HOSTILE[:SEARCH_MAX]}"
    search = next(b for b in view["blocks"] if b.get("block_id") == "contact_search")
    assert search["element"]["initial_value"] == HOSTILE[:SEARCH_MAX]


def test_templates_render_with_their_globals_in_one_plain_dict() -> None:
    # Every render copies a template's globals into its context, and an import compares their
    # keys: a plain dict is walked in C, Jinja's ChainMap over the environment's in Python.
    env = templating.environment()
    for name in ("connector_card.json.j2", "history.json.j2", "optin_ask.txt.j2"):
        loaded = env.get_template(name)
        assert type(loaded.globals) is dict
        assert loaded.globals.keys() == env.globals.keys()
