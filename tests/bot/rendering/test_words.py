"""The words of the texts people copy and send, as tables: the opt-in ask names nobody unless
allowed and says the size of the ask; a note's own greeting is left out where it is quoted;
no message says a sentence twice; the cold and direct messages make one ask."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.rendering import texts
from storage.models import IntroRequest

NOTE = (
    "I'm Riya Patel, I lead partnerships at Northwind. We help logistics teams like Acme's "
    "cut customs delays by a third. Would you be open to a 15-minute call next week?"
)
REASON = "Your EU warehouses open this year, and we cut customs delays by a third."


def make(**changes: Any) -> IntroRequest:
    values: dict[str, Any] = {
        "requester_name": "Riya Patel",
        "requester_title": "Head of Partnerships, Northwind",
        "requester_email": "riya@northwind.test",
        "connector_name": "Carlos Mendes",
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": REASON,
        "blurb": "Hi Jane, " + NOTE,
        "share_name": False,
        "named_ask": False,
        "ask_size": "call_15",
        "anonymous_as": "",
        "intro_line": None,
        "connector_closeness": None,
        "how_known": None,
    }
    values.update(changes)
    return IntroRequest(**values)


# --- the anonymous opt-in ask ------------------------------------------------------------

# Requesters and what would single each out: name, handle, email, title, team.
REQUESTERS = [
    ("Riya Patel", "Head of Partnerships, Northwind", ["Riya", "Patel", "Partnerships"]),
    ("Ana", "VP Sales - EMEA", ["Ana", "VP Sales", "EMEA"]),
    ("Jean-Luc Picard", "Captain | Enterprise", ["Jean-Luc", "Picard", "Captain"]),
    ("Seán O'Brien", "CTO at Globex", ["Seán", "O'Brien", "CTO"]),
    ("李 小龍", "Growth team lead", ["李", "小龍", "Growth team lead"]),
]


@pytest.mark.parametrize(("name", "title", "identifying"), REQUESTERS)
@pytest.mark.parametrize("chosen", ["", "someone on our partnerships team"])
def test_the_anonymous_ask_carries_no_name_handle_email_title_or_team(
    name: str, title: str, identifying: list[str], chosen: str
) -> None:
    first = name.split()[0]
    reason = (
        f"{first} ({title}, @{first.lower()}, {first.lower()}@northwind.test, <@U0RIYA>) "
        f"cuts customs delays for you. Ask {name} anything."
    )
    request = make(
        requester_name=name,
        requester_title=title,
        requester_email=f"{first.lower()}@northwind.test",
        reason=reason,
        anonymous_as=chosen,
        share_name=True,  # allowed, but the connector has not chosen to name them
    )
    ask = texts.optin_ask(request)
    for word in [*identifying, title, f"@{first.lower()}", "northwind.test", "U0RIYA"]:
        if word.casefold() in (chosen or "").casefold():
            continue  # the requester's own words for themselves
        assert word.casefold() not in ask.casefold(), (word, ask)
    assert ask.startswith(f"Hi Jane, {chosen or 'a colleague of mine'} asked me for an intro")
    assert "cuts customs delays for you" in ask
    assert "In their words" not in ask


def test_the_named_ask_names_them_and_their_title() -> None:
    ask = texts.optin_ask(make(share_name=True, named_ask=True, anonymous_as="someone"))
    assert ask.startswith(
        "Hi Jane, my colleague Riya Patel (Head of Partnerships, Northwind) asked me for an "
        "intro to you at Acme: Riya would like a 15-minute call. What's in it for you, as "
        f'Riya puts it: "{REASON}"'
    )


@pytest.mark.parametrize(
    ("size", "words"),
    [
        ("call_15", "a 15-minute call"),
        ("call_30", "a 30-minute call"),
        ("email", "an email exchange"),
        ("meeting", "a meeting"),
        ("", "a 15-minute call"),  # a request from before there was a choice
    ],
)
def test_the_size_of_the_ask_is_said_where_the_target_reads_it(size: str, words: str) -> None:
    request = make(ask_size=size)
    assert f"they'd like {words}." in texts.optin_ask(request)
    assert f"I still think {words} would be worth your while:" in texts.bump_message(request)
    subject = f"Subject: Jane, {words} about Acme?"
    assert texts.cold_message(request).startswith(subject)
    assert texts.direct_message(request).startswith(subject)
    assert texts.cold_message(make(ask_size=size, target_company="")).startswith(
        f"Subject: Jane, {words}?"
    )


# --- a note quoted under someone else's greeting -----------------------------------------


@pytest.mark.parametrize(
    "greeting",
    ["Hi Jane,", "Hello Jane!", "Hey Jane:", "Dear Dr. Doe,", "Hi Jane Doe,", "hi,", "Hi Jane\n"],
)
def test_a_note_that_begins_with_a_greeting_is_quoted_without_it(greeting: str) -> None:
    request = make(blurb=f"{greeting} {NOTE}")
    email = texts.forwardable_email(request)
    assert f"Riya's note:\n\n{NOTE}" in email
    greetings = [
        line for line in email.splitlines() if re.match(r"(?i)(hi|hello|hey|dear)\b", line)
    ]
    assert greetings == ["Hi Jane,"]  # the connector's own, once
    for message in (texts.cold_message(request), texts.direct_message(request)):
        body = message.split("\n\n", 2)
        assert body[1] == greeting.strip()  # the requester's own greeting, once, to open
        assert message.count(NOTE.split(".")[0]) == 1


@pytest.mark.parametrize(
    "note",
    [
        "Hi Jane I'm Riya, I lead partnerships. Would you be open to a call?",
        "Hiring is hard for teams like Acme's, and we help. Would you be open to a call?",
    ],
)
def test_a_note_is_not_cut_where_no_greeting_ends(note: str) -> None:
    assert note in texts.forwardable_email(make(blurb=note))


# --- the intro email's line in the connector's voice --------------------------------------


def test_the_intro_line_is_made_from_the_reason_until_the_connector_edits_it() -> None:
    email = texts.forwardable_email(make(reason="Your EU warehouses open this year."))
    assert "You two should meet: your EU warehouses open this year" in email
    edited = texts.forwardable_email(make(intro_line="You two should meet: trust me."))
    assert "You two should meet: trust me." in edited and "EU warehouses" not in edited
    none = texts.forwardable_email(make(intro_line=""))
    assert "You two should meet" not in none
    assert "this is Jane Doe at Acme.\n\nRiya's note:" in none


@pytest.mark.parametrize(
    "reason",
    [
        REASON,  # "... and we cut customs delays by a third."
        "Our platform halves customs delays for teams like yours.",
        "I’d love to show you how Northwind cuts customs delays.",
        "Shippers like us and Acme save a week per container.",
    ],
)
def test_a_reason_in_the_requesters_first_person_is_not_put_in_the_connectors_mouth(
    reason: str,
) -> None:
    line = texts.default_intro_line(make(reason=reason))
    assert line == "You two should meet: I think Riya's note below is worth your time."
    unnamed = texts.default_intro_line(make(reason=reason, requester_name=""))
    assert unnamed == "You two should meet: I think the note below is worth your time."


@pytest.mark.parametrize(
    "reason",
    ["Your EU warehouses open this year.", "Acme's new lanes need customs help, US-bound."],
)
def test_a_reason_with_no_first_person_becomes_the_connectors_line(reason: str) -> None:
    assert texts.default_intro_line(make(reason=reason)).startswith("You two should meet: ")
    assert "note below" not in texts.default_intro_line(make(reason=reason))


def test_the_intro_email_reads_greeting_handshake_line_note_out_and_sign_off_in_order() -> None:
    email = texts.forwardable_email(make(intro_line="You two should meet: trust me."))
    order = [
        "Hi Jane,",
        "As promised, here is Riya Patel (cc'd). Riya, this is Jane Doe at Acme.",
        "You two should meet: trust me.",
        NOTE,
        "Riya Patel\nHead of Partnerships, Northwind\nriya@northwind.test",
        "Jane, if now isn't a good time after all",
        "Best,\nCarlos",
    ]
    at = [email.index(part) for part in order]
    assert at == sorted(at)
    assert email.count("Head of Partnerships") == 1  # Riya's title once, in her signature


# --- nothing said twice ------------------------------------------------------------------

MESSAGES = {
    "optin_ask": texts.optin_ask,
    "forwardable_email": texts.forwardable_email,
    "bump_message": texts.bump_message,
    "cold_message": texts.cold_message,
    "direct_message": texts.direct_message,
}
REQUESTS = {
    "as written": {},
    "the reason repeated in the note": {"reason": NOTE.split(". ")[1]},
    "the note is the reason and an ask": {
        "reason": REASON,
        "blurb": f"Hi Jane, {REASON} Would you be open to a 15-minute call?",
    },
    "a note that speaks of the intro": {
        "blurb": f"Hi Jane, thanks for the intro, Carlos. {NOTE}",
    },
    "named": {"share_name": True, "named_ask": True},
    "the connector said they know her": {"connector_closeness": "well"},
    "the connector said how": {"how_known": "from DHL"},
}


def _sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [" ".join(re.findall(r"\w+", p.casefold())) for p in parts if re.search(r"\w", p)]


@pytest.mark.parametrize("changes", list(REQUESTS.values()), ids=list(REQUESTS))
@pytest.mark.parametrize("kind", list(MESSAGES))
def test_no_message_says_the_same_sentence_twice(kind: str, changes: dict[str, Any]) -> None:
    said = _sentences(MESSAGES[kind](make(**changes)))
    repeated = {s for s in said if said.count(s) > 1}
    assert not repeated, repeated


def test_the_direct_message_names_who_suggested_it_once_and_how_they_know_the_target() -> None:
    unsure = texts.direct_message(make())
    assert unsure.count("Carlos Mendes") == 1
    assert "Carlos Mendes, a colleague of mine, suggested I get in touch." in unsure
    sure = texts.direct_message(make(connector_closeness="well"))
    assert "Carlos Mendes, a colleague of mine who knows you, suggested I get in touch." in sure
    assert "who knows you" not in texts.direct_message(make(connector_closeness="not_really"))
    # The connector's own words for how they know her, however they began or ended them.
    for how in (
        "from DHL, where you worked together",
        "who knows you from DHL, where you worked together.",
    ):
        told = texts.direct_message(make(how_known=how, connector_closeness="not_really"))
        assert (
            "Carlos Mendes, a colleague of mine who knows you from DHL, where you worked "
            "together, suggested I get in touch." in told
        )


def test_the_cold_message_is_their_situation_then_who_you_are_then_one_ask() -> None:
    message = texts.cold_message(make())
    body = message.split("\n\nRiya Patel\n")[0]
    assert body.index(REASON) < body.index("I'm Riya Patel") < body.index("15-minute call next")
    assert body.endswith("Would you be open to a 15-minute call next week?")
    assert body.split("\n\n", 1)[1].count("?") == 1  # one ask, after the subject
    assert "intro" not in texts.cold_message(
        make(blurb=f"Hi Jane, thanks for the intro, Carlos. {NOTE}")
    )


def test_the_requesters_own_words_may_name_their_team_but_not_them() -> None:
    ask = texts.optin_ask(make(anonymous_as="Riya, from the Northwind partnerships team"))
    assert ask.startswith("Hi Jane, my colleague, from the Northwind partnerships team asked")
