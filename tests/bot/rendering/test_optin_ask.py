"""The target-facing messages: the anonymous opt-in ask never carries the requester's name (or
any part of it), a Slack handle or an email address, whatever the requester typed, unless the
requester allowed it and the connector chose the named ask. Property-based over names,
handles, emails, titles and reasons."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.intro.validation import BLURB_MAX, REASON_MAX
from bot.rendering import messages, texts
from storage.models import IntroRequest
from tests.bot.rendering.test_templating import assert_valid_message, assert_valid_view

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LETTERS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzéñøABCDEFGHIJKLMNOPQRSTUVWXYZÉÑØ"))
TOKEN = st.text(LETTERS, min_size=2, max_size=10)
FILLER = st.lists(st.sampled_from(["we", "cut", "customs", "delays", "by", "half", "for"]))


def make_request(**changes: Any) -> IntroRequest:
    values: dict[str, Any] = {
        "id": 7,
        "team_id": "T0TEAM",
        "requester_id": "U0REQ",
        "requester_name": "Riya Patel",
        "connector_id": "U0CON",
        "connector_name": "Carlos Mendes",
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "We cut customs delays by half.",
        "blurb": "Hi Jane, would you be open to a call?",
        "status": "checking_with_target",
        "share_name": False,
        "named_ask": False,
        "requester_title": "",
        "requester_email": "",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return IntroRequest(**values)


def _words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"\w+", text)}


# Every word the ask can say on its own, whatever it is given: a name made of these would be
# found in the ask without being a leak.
# (With a reason the ask says more of its own: "What's in it for you, as they put it".)
VOCABULARY = _words(messages.optin_ask(make_request(reason="", target_company="x")))
VOCABULARY |= _words(messages.optin_ask(make_request(reason="x", target_company="x")))
VOCABULARY |= _words(" ".join(messages.labels()["anonymous"].values()))


def _mentions(text: str, token: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(token)}(?!\w)", text, re.IGNORECASE) is not None


def _anonymous_texts(request: IntroRequest) -> list[str]:
    """The ask as the connector copies it: bare, and from the card and the Home tab."""
    card = messages.connector_card(request)
    home = messages.home_view([], [request], first_time=False)
    blocks = [
        b
        for b in card.blocks + home["blocks"]
        if b.get("block_id") == "optin_ask" or str(b.get("block_id", "")).startswith("home_ask_")
    ]
    assert len(blocks) == 2
    copied = [re.findall(r"```(.*)```", b["text"]["text"], re.DOTALL)[0] for b in blocks]
    return [messages.optin_ask(request)] + [html.unescape(text) for text in copied]


@settings(max_examples=300, deadline=None)
@given(
    name=st.lists(TOKEN, min_size=1, max_size=3),
    handle=TOKEN,
    email=st.emails(),
    title_before=FILLER,
    reason_before=FILLER,
    reason_after=FILLER,
    mention=st.sampled_from(["name", "first", "handle", "email", "slack", "title", "all"]),
    share_name=st.booleans(),
    named_ask=st.booleans(),
)
def test_the_anonymous_ask_never_names_the_requester(
    name: list[str],
    handle: str,
    email: str,
    title_before: list[str],
    reason_before: list[str],
    reason_after: list[str],
    mention: str,
    share_name: bool,
    named_ask: bool,
) -> None:
    assume(not (share_name and named_ask))  # the one case where the name is allowed
    assume(not any(token.lower() in VOCABULARY for token in name))
    assume(not any(_mentions("Jane Doe Acme", token) for token in name))
    full_name = " ".join(name)
    said = {
        "name": full_name,
        "first": name[0],
        "handle": f"@{handle}",
        "email": email,
        "slack": "<@U0REQ>",
        "title": full_name.upper(),
        "all": f"{full_name} (@{handle}, {email}, <@U0REQ>)",
    }[mention]
    request = make_request(
        requester_name=full_name,
        requester_email=email,
        requester_title=" ".join([*title_before, said]),
        reason=" ".join([*reason_before, said, *reason_after]),
        share_name=share_name,
        named_ask=named_ask,
    )
    for text in _anonymous_texts(request):
        for token in name:
            assert not _mentions(text, token), (token, text)
        assert email.lower() not in text.lower()
        assert f"@{handle}".lower() not in text.lower()
        assert "U0REQ" not in text


def test_the_named_ask_names_them_only_when_allowed_and_chosen() -> None:
    allowed = make_request(share_name=True, named_ask=True, requester_title="Head of Sales")
    assert "my colleague Riya Patel (Head of Sales)" in messages.optin_ask(allowed)
    chosen_but_not_allowed = make_request(share_name=False, named_ask=True)
    assert "Riya" not in messages.optin_ask(chosen_but_not_allowed)


def test_the_ask_is_short_and_gives_the_target_an_out() -> None:
    ask = messages.optin_ask(make_request())
    assert ask.startswith(
        "Hi Jane, a colleague of mine asked me for an intro to you at Acme: they'd like a "
        "15-minute call. What's in it for you, as they put it: "
    )
    assert ask.endswith("No worries at all if not: just say so and I'll leave it there.")
    assert 2 <= len(re.findall(r"[.?!](\s|$)", ask)) <= 5


def test_the_intro_email_and_direct_message_are_plain_text() -> None:
    request = make_request(requester_title="<!channel> & co", requester_email="r@x.test")
    for text in (messages.forwardable_email(request), messages.direct_message(request)):
        assert "<!channel> & co" in text and "&amp;" not in text


@pytest.mark.parametrize("named", [False, True])
@pytest.mark.parametrize("fill", ["&", "<", "x"])
def test_the_script_at_its_longest_stays_within_slack_limits(named: bool, fill: str) -> None:
    request = make_request(
        target_name=fill * 150,
        target_company=fill * 150,
        requester_name=fill * 200,
        requester_title=fill * 200,
        requester_email=fill * 254,
        reason=fill * REASON_MAX,
        blurb=fill * BLURB_MAX,
        share_name=True,
        named_ask=named,
    )
    assert_valid_message(messages.connector_card(request))
    assert_valid_view(messages.home_view([], [request], first_time=False))
    request.status = "name_mentioned"
    assert_valid_message(messages.notice(request, "mention_name"))


def _every_part_substituted(text: str, request: IntroRequest) -> str:
    """`texts.without_requester` as it was written first: a pattern for every part."""
    person = texts.labels()["anonymous"]["person"]
    text = texts._EMAIL.sub(texts.labels()["anonymous"]["contact"], text)
    text = texts._HANDLE.sub(person, text)
    name = (request.requester_name or "").strip()
    parts = sorted({name, *name.split()}, key=len, reverse=True)
    for part in [*texts._title_parts(request.requester_title or ""), *parts]:
        if len(part) < 2 and part.isascii():
            continue
        text = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", person, text, flags=re.IGNORECASE)
    return text


# Letters that match other letters with case ignored (İ and ı match i, K matches k, ſ s).
FOLDING = st.sampled_from(list("iIİısSſkKKaAéÉßü’ "))


@settings(max_examples=300, deadline=None)
@given(
    name=st.lists(st.text(FOLDING, min_size=1, max_size=5), min_size=1, max_size=3),
    title=st.text(FOLDING, max_size=12),
    reason=st.text(FOLDING, max_size=30),
)
def test_parts_absent_from_the_text_are_skipped_without_changing_it(
    name: list[str], title: str, reason: str
) -> None:
    request = make_request(requester_name=" ".join(name), requester_title=title, reason=reason)
    assert texts.without_requester(reason, request) == _every_part_substituted(reason, request)


def test_no_pattern_is_compiled_for_a_name_the_text_does_not_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compiled: list[str] = []
    subn = re.subn

    def counting(pattern: str, *args: Any, **kwargs: Any) -> tuple[str, int]:
        compiled.append(pattern)
        return subn(pattern, *args, **kwargs)

    monkeypatch.setattr(texts.re, "subn", counting)
    request = make_request(requester_name="Rep UB0001000", requester_title="Head of Sales")
    assert texts.without_requester("Acme is expanding into the EU.", request) == (
        "Acme is expanding into the EU."
    )
    assert compiled == []
    assert "ub0001000" not in texts.without_requester("Ask ub0001000 about it", request)
    assert compiled == [r"(?<!\w)UB0001000(?!\w)"]  # only the part the text holds
