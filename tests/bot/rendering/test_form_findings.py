"""The request form's findings rendered on their own into a form already rendered: the same
view the whole form's template renders with them."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.intro.directory import Suggestion
from bot.rendering import messages

SUGGESTIONS = [
    Suggestion("U1", 0.9, "know_well", date(2019, 5, 1), 2, 1, "Jane Doe", "Acme", True),
    Suggestion("U2", 0.5, "", None, 0, 0, "Jane Doe", "Acme", True, tie="connected"),
    Suggestion("U3", 0.4, "met_once", None, 1, 3, "J. Doe", "Acme", False, tie="lapsed"),
]
FLAGS = [
    {"kind": "open_ask", "requester_id": "U7", "connector_id": "U8", "target": "Jane Doe"},
    {"kind": "open_ask", "requester_id": "U7", "connector_id": "", "target": "Jane <Doe>"},
    {"kind": "cold_incomplete", "detail": "the note"},
]

CASES: list[tuple[messages.ModalPrefill, messages.ModalContext, dict[str, Any]]] = [
    (messages.ModalPrefill(target_name="Jane Doe"), messages.ModalContext(), {}),
    (
        messages.ModalPrefill(target_name="Jane Doe"),
        messages.ModalContext(),
        {"suggestions": SUGGESTIONS, "searched": True},
    ),
    (
        messages.ModalPrefill(target_name='Jane "Doe" & co'),
        messages.ModalContext(),
        {"searched": True, "flags": FLAGS},
    ),
    (
        messages.ModalPrefill(target_company="Acme <Labs>"),
        messages.ModalContext(),
        {"searched": True},
    ),
    (
        messages.ModalPrefill(target_company="Acme"),
        messages.ModalContext(),
        {"suggestions": SUGGESTIONS[:1], "searched": True, "flags": FLAGS[:1]},
    ),
    (
        messages.ModalPrefill(target_name="Jane Doe", target_company="Acme"),
        messages.ModalContext(offer_id=4, offered_by="U9", pointed_by="U5", pointed_from="Al"),
        {"suggestions": SUGGESTIONS, "searched": True, "flags": FLAGS},
    ),
    (  # opened from a message (the shortcut)
        messages.ModalPrefill(target_name="Jane Doe"),
        messages.ModalContext(source_channel_id="C0DEALS", source_message_ts="1700000000.000100"),
        {"suggestions": SUGGESTIONS[:2], "searched": True},
    ),
]


@pytest.mark.parametrize("prefill, context, findings", CASES)
def test_findings_rendered_alone_make_the_form_the_whole_template_renders(
    prefill: messages.ModalPrefill, context: messages.ModalContext, findings: dict[str, Any]
) -> None:
    shown = messages.intro_form(prefill, context, "From a thread: *hello* <there>")
    whole = messages.intro_modal(prefill, context, "From a thread: *hello* <there>", **findings)
    assert json.loads(messages.intro_with_findings(shown, prefill, **findings)) == whole


@pytest.mark.parametrize("prefill, context", [case[:2] for case in CASES])
def test_the_form_opened_as_text_is_the_form_the_template_renders(
    prefill: messages.ModalPrefill, context: messages.ModalContext
) -> None:
    shown = messages.intro_form(prefill, context, "From a thread: *hello* <there>")
    whole = messages.intro_modal(prefill, context, "From a thread: *hello* <there>")
    assert json.loads(shown.with_findings()) == whole


def test_a_form_with_no_findings_stays_as_it_was_shown() -> None:
    prefill = messages.ModalPrefill(target_name="Jane Doe")
    shown = messages.intro_form(prefill, messages.ModalContext())
    opened = json.loads(shown.with_findings())
    assert json.loads(messages.intro_with_findings(shown, prefill)) == opened
    found = json.loads(
        messages.intro_with_findings(shown, prefill, suggestions=SUGGESTIONS, searched=True)
    )
    assert [b.get("block_id") for b in found["blocks"][1:4]] == [
        "suggestion_1",
        "suggestion_2",
        "suggestion_3",
    ]
    assert found["blocks"][len(SUGGESTIONS) + 1 :] == opened["blocks"]


def test_a_value_cannot_cut_the_form_where_its_findings_go() -> None:
    # The cut is a NUL: typed into the form, it is escaped, and the cut stays one.
    prefill = messages.ModalPrefill(target_name="Jane\x00findings\x00 Doe", reason="\x00")
    shown = messages.intro_form(prefill, messages.ModalContext())
    assert json.loads(shown.with_findings()) == messages.intro_modal(
        prefill, messages.ModalContext()
    )


@settings(max_examples=200, deadline=None)
@given(
    name=st.text(max_size=200) | st.sampled_from(["Jane Doe", " Ana Muñoz ", "\x00name\x00"]),
    company=st.sampled_from(["", "Acme", "  "]),
    reason=st.sampled_from(["", "\x00name\x00", "A reason"]),
    context=st.sampled_from(
        [
            messages.ModalContext(),
            messages.ModalContext(offer_id=4, offered_by="U9", pointed_by="U5", pointed_from="Al"),
            messages.ModalContext(source_channel_id="C0DEALS", source_message_ts="1.2"),
        ]
    ),
    hint=st.sampled_from([None, "From a thread: *hello* <there>"]),
)
def test_a_form_kept_for_any_name_is_the_form_rendered_for_this_one(
    name: str, company: str, reason: str, context: messages.ModalContext, hint: str | None
) -> None:
    prefill = messages.ModalPrefill(target_name=name, target_company=company, reason=reason)
    shown = messages.intro_form(prefill, context, hint)
    assert shown == messages._rendered_intro_form(prefill, context, hint)


def test_a_form_for_another_name_is_not_rendered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    context = messages.ModalContext(source_channel_id="C0KEPT")
    messages.intro_form(messages.ModalPrefill(target_name="Jane Doe"), context)
    rendered: list[str] = []
    monkeypatch.setattr(
        messages, "render_json_text", lambda *args, **kw: rendered.append(args[0]) or ""
    )
    shown = messages.intro_form(messages.ModalPrefill(target_name="Ana Muñoz"), context)
    assert rendered == []
    assert '"initial_value": "Ana Muñoz"' in shown.with_findings()
