"""ModalContext round-trips through private_metadata; the forwardable email is plain text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.rendering import messages
from bot.rendering.messages import ModalContext, forwardable_email
from bot.rendering.templating import escape_mrkdwn
from storage.models import IntroRequest

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
BLURB = (
    "I'm Sam and I lead partnerships at Widgets & Co <EU>. "
    'We help teams like Acme cut chargebacks by a third; "really". '
    "Would you be open to a 20-minute call next week? <!channel> \\o/ 🎉 مرحبا"
)


def make_request(**changes: Any) -> IntroRequest:
    values: dict[str, Any] = {
        "id": 9,
        "team_id": "T0TEAM",
        "requester_id": "U0REQ",
        "requester_name": "Sam Requester",
        "connector_id": "U0CON",
        "connector_name": "Carlos Mendes",
        "target_name": "Jane Doe",
        "target_company": "Acme & Sons <Labs>",
        "reason": "She runs payments.",
        "blurb": BLURB,
        "closeness": "close",
        "status": "awaiting_connector",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return IntroRequest(**values)


# --- ModalContext ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "context",
    [
        ModalContext(),
        ModalContext(source_channel_id="C0123"),
        ModalContext(source_channel_id="C0123", source_message_ts="1714564800.000100"),
        ModalContext(previous_request_id=17),
        ModalContext("C0123", "1714564800.000100", 0),
        ModalContext('C"\\<>&🎉', "ts with spaces", 2**40),
    ],
)
def test_modal_context_round_trips(context: ModalContext) -> None:
    raw = context.dump()
    assert isinstance(raw, str)
    assert isinstance(json.loads(raw), dict)
    assert ModalContext.load(raw) == context


def test_modal_context_dump_is_compact_and_omits_unset_fields() -> None:
    assert ModalContext().dump() == "{}"
    assert json.loads(ModalContext("C1", None, 5).dump()) == {"c": "C1", "r": 5}
    assert json.loads(ModalContext("C1", "1.2", 5).dump()) == {"c": "C1", "ts": "1.2", "r": 5}


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "{",
        "[]",
        "[1, 2]",
        "null",
        "42",
        '"a string"',
        '{"r": "x"}',
        '{"r": 1.5}',
        '{"r": null}',
        '{"c": 5, "ts": ["1.2"], "r": {"x": 1}}',
        '{"unknown": "keys", "are": "ignored"}',
    ],
)
def test_modal_context_load_tolerates_garbage(raw: str | None) -> None:
    assert ModalContext.load(raw) == ModalContext()


def test_modal_context_load_keeps_the_good_parts_of_a_partly_bad_payload() -> None:
    loaded = ModalContext.load('{"c": "C1", "ts": 12, "r": "7"}')
    assert loaded == ModalContext(source_channel_id="C1")


@pytest.mark.parametrize("raw", ['{"r": true}', '{"r": false}'])
def test_modal_context_load_rejects_booleans_as_ids(raw: str) -> None:
    assert ModalContext.load(raw).previous_request_id is None


def test_modal_context_survives_the_intro_modal() -> None:
    context = ModalContext("C0123", "1714564800.000100", 3)
    view = messages.intro_modal(messages.ModalPrefill(), context)
    assert ModalContext.load(view["private_metadata"]) == context


# --- forwardable email -------------------------------------------------------------------


def test_forwardable_email_introduces_both_then_the_note_signed_by_the_requester() -> None:
    email = forwardable_email(
        make_request(requester_title="Head of Partnerships", requester_email="sam@widgets.test")
    )
    lines = email.splitlines()
    assert lines[0] == "Subject: Intro: Sam Requester <> Jane Doe (Acme & Sons <Labs>)"
    assert "Hi Jane," in lines
    # Each side introduced once: the requester's title is in their signature only.
    assert "here is Sam Requester (cc'd). Sam, this is Jane Doe at Acme & Sons <Labs>." in email
    assert email.count("Head of Partnerships") == 1
    assert BLURB in email
    signature = "Sam Requester\nHead of Partnerships\nsam@widgets.test"
    assert email.index("Hi Jane,") < email.index(BLURB) < email.index(signature)
    # The target's way out, then the connector's sign-off, in their own name.
    assert lines[-4].startswith("Jane, if now isn't a good time after all")
    assert lines[-2:] == ["Best,", "Carlos"]


def test_forwardable_email_leaves_out_what_the_profile_lacks() -> None:
    email = forwardable_email(make_request(requester_title="", requester_email=""))
    assert "here is Sam Requester (cc'd)." in email
    assert f"{BLURB}\n\nSam Requester\n\nJane, if" in email


def test_forwardable_email_is_plain_text_not_mrkdwn_escaped() -> None:
    email = forwardable_email(make_request())
    for escaped in ("&amp;", "&lt;", "&gt;", "\\u", '\\"'):
        assert escaped not in email
    assert "Widgets & Co <EU>" in email
    assert '"really"' in email
    assert "<!channel> \\o/ 🎉 مرحبا" in email


def test_forwardable_email_is_escaped_only_when_placed_in_the_card() -> None:
    request = make_request()
    email = forwardable_email(request)
    card = messages.connector_card(request)
    texts = [b["text"]["text"] for b in card.blocks if b["type"] == "section" and "text" in b]
    assert any(f"```{escape_mrkdwn(email)}```" in text for text in texts)
    assert not any("<!channel>" in text for text in texts)


def test_forwardable_email_without_a_company_has_no_parentheses() -> None:
    email = forwardable_email(make_request(target_company=""))
    assert email.splitlines()[0] == "Subject: Intro: Sam Requester <> Jane Doe"


def test_forwardable_email_without_a_requester_name_still_reads() -> None:
    email = forwardable_email(make_request(requester_name=""))
    assert email.splitlines()[0] == "Subject: Intro: my colleague <> Jane Doe (Acme & Sons <Labs>)"
    assert "here is my colleague (cc'd). My colleague, this is Jane Doe" in email
    assert f"{BLURB}\n\nJane, if" in email  # no signature without a name


@pytest.mark.parametrize(
    ("target", "greeting"),
    [("Cher", "Hi Cher,"), ("  Jean-Luc   Picard ", "Hi Jean-Luc,"), ("Seán O'Brien", "Hi Seán,")],
)
def test_forwardable_email_greets_the_targets_first_name(target: str, greeting: str) -> None:
    email = forwardable_email(make_request(target_name=target))
    assert greeting in email.splitlines()
    assert f"<> {target} (" in email


def test_forwardable_email_quotes_a_greeting_note_without_its_greeting() -> None:
    blurb = "Hi Jane, " + BLURB
    email = forwardable_email(make_request(blurb=blurb))
    assert email.splitlines().count("Hi Jane,") == 1  # the connector's own greeting
    assert blurb not in email and f"note:\n\n{BLURB}" in email


@pytest.mark.parametrize(
    ("sent", "tz", "said"),
    [
        # Made Friday 16:00 in New York; working hours hold the follow-up until Monday.
        (datetime(2026, 1, 12, 14, 0, tzinfo=UTC), "America/New_York", "on Friday"),
        (datetime(2026, 1, 10, 14, 0, tzinfo=UTC), "America/New_York", "yesterday"),
        (datetime(2026, 1, 9, 22, 0, tzinfo=UTC), "America/New_York", "today"),
        # In Tokyo the intro was already Saturday morning: Sunday morning there, yesterday.
        (datetime(2026, 1, 10, 22, 0, tzinfo=UTC), "Asia/Tokyo", "yesterday"),
        (datetime(2026, 1, 30, 14, 0, tzinfo=UTC), None, "on Jan 9"),
    ],
)
def test_the_follow_up_names_the_day_of_the_intro(
    sent: datetime, tz: str | None, said: str
) -> None:
    made = datetime(2026, 1, 9, 21, 0, tzinfo=UTC)  # Friday 16:00 in New York
    request = make_request(status="intro_made", intro_made_at=made)
    text = messages.reminder(request, "follow_up", now=sent, tz_name=tz).text
    assert f"introduced you to *Jane Doe* {said}. Follow up now" in text
    assert "24 hours" not in text


def test_a_next_step_that_opens_with_a_way_in_s_unnamed_person_reads_as_a_sentence() -> None:
    request = make_request(
        status="target_declined", way_in=True, target_name="", target_role="whoever runs it"
    )
    line = str(messages.next_step(messages.as_seen(request), "requester"))
    assert line.startswith("Someone (whoever runs it)"), line
