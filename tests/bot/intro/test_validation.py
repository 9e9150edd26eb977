"""review_draft: what blocks a request (errors per field) and what is only coached."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.intro.people import Teammate
from bot.intro.validation import (
    BLURB_MAX,
    BLURB_MIN,
    REASON_MAX,
    TARGET_COMPANY_MAX,
    TARGET_NAME_MAX,
    RequestDraft,
    Review,
    coaching_words,
    review_draft,
)

REQUESTER = Teammate("U0REQ", name="Sam Requester")
CONNECTOR = Teammate("U0CON", name="Casey Connector")

# Four sentences; names Jane and Acme; says who is asking; ends with a clear ask.
GOOD_BLURB = (
    "Hi Jane, I'm Sam and I lead partnerships at Widgets Inc. "
    "We help payment teams at companies like Acme cut chargebacks by a third. "
    "I'd love to hear how your team handles disputes today. "
    "Would you be open to a 20-minute call next week?"
)
HOSTILE = "<!channel> & <@U999> \"quoted\" 🎉 مرحبا \u202eevil\u202c 'single'"


def make_draft(**changes: object) -> RequestDraft:
    draft = RequestDraft(
        requester=REQUESTER,
        connector=CONNECTOR,
        target_name="Jane Doe",
        target_company="Acme",
        reason="She runs payments at Acme and we cut chargebacks for teams like hers.",
        blurb=GOOD_BLURB,
        closeness="know_well",
    )
    return replace(draft, **changes)  # type: ignore[arg-type]


def test_good_blurb_passes_with_no_errors_and_no_advice() -> None:
    assert 80 <= len(GOOD_BLURB) <= BLURB_MAX
    review = review_draft(make_draft())
    assert review.errors == {}
    assert review.coaching == []
    assert review.advice == []
    assert review.ok is True


def test_review_ok_reflects_errors() -> None:
    assert Review().ok is True
    assert Review(advice=["x"]).ok is True
    assert Review(errors={"blurb": "x"}).ok is False


# --- connector ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connector", "fragment"),
    [
        (None, "Pick the teammate"),
        (Teammate("U0REQ", name="Me again"), "other than yourself"),
        (Teammate("U0BOT", name="helper", is_bot=True), "bot"),
        (Teammate("U0GONE", name="gone", deleted=True), "deactivated"),
    ],
    ids=["missing", "self", "bot", "deactivated"],
)
def test_bad_connector_is_an_error_on_connector(connector: Teammate | None, fragment: str) -> None:
    review = review_draft(make_draft(connector=connector))
    assert set(review.errors) == {"connector"}
    assert fragment in review.errors["connector"]
    assert review.ok is False


def test_a_human_teammate_is_a_fine_connector() -> None:
    review = review_draft(make_draft(connector=Teammate("U0OTHER", name="Other")))
    assert "connector" not in review.errors


# --- required fields ---------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\n\t "])
def test_a_name_or_a_company_is_required(value: str) -> None:
    review = review_draft(make_draft(target_name=value, target_company=value))
    assert "target_name" in review.errors
    assert "Who would you like to meet" in review.errors["target_name"]


# --- an ask for a way in: a company and a role, no name ------------------------------------

WAY_IN_BLURB = (
    "Hi, I'm Riya, I run partnerships at Northwind. We help logistics teams like Acme's cut "
    "cross-border delays by a third. Would you be open to a 20-minute call next week?"
)


def way_in_draft(**changes: object) -> RequestDraft:
    values: dict[str, object] = {
        "target_name": "",
        "target_company": "Acme Inc.",
        "target_role": "whoever runs logistics",
        "blurb": WAY_IN_BLURB,
    }
    return make_draft(**{**values, **changes})


def test_a_company_without_a_name_is_an_ask_for_a_way_in() -> None:
    draft = way_in_draft()
    assert draft.way_in
    assert not make_draft().way_in
    assert not make_draft(target_name="", target_company=" ").way_in


def test_a_way_in_note_needs_no_name_but_names_the_company() -> None:
    assert review_draft(way_in_draft()).errors == {}
    review = review_draft(way_in_draft(blurb=WAY_IN_BLURB.replace("Acme's", "their")))
    assert "Name Acme Inc. in the note" in review.errors["blurb"]


def test_a_way_in_note_may_name_the_company_without_its_legal_suffix() -> None:
    # "Acme Inc." in the form, "Acme" in the note: the company's key matches.
    assert "blurb" not in review_draft(way_in_draft()).errors


def test_a_way_in_role_is_kept_within_its_column() -> None:
    review = review_draft(way_in_draft(target_role="x" * 201))
    assert "The role is 201 characters" in review.errors["target_role"]


def test_coaching_for_a_way_in_speaks_of_the_person_not_a_name() -> None:
    draft = way_in_draft(
        reason="We are a good company with a great product.",
        blurb="Hi, I work at Northwind on deals with Acme and others. We should meet for a chat.",
    )
    review = review_draft(draft)
    words = coaching_words(review.coaching, draft)
    lines = [line for field in words.values() for line in field]
    assert "Say what the person gets from talking to you" in words["reason"][0]
    assert any("one clear ask the person can say yes to" in line for line in lines)
    assert all("{" not in line and "them gets" not in line for line in lines)


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_reason_is_required(value: str) -> None:
    review = review_draft(make_draft(reason=value))
    assert set(review.errors) == {"reason"}


@pytest.mark.parametrize("value", ["", "    ", "\n\n"])
def test_blurb_is_required(value: str) -> None:
    review = review_draft(make_draft(blurb=value))
    assert set(review.errors) == {"blurb"}
    assert "forward" in review.errors["blurb"]
    assert review.advice == []


def test_company_is_optional() -> None:
    review = review_draft(make_draft(target_company=""))
    assert review.errors == {}
    assert review.advice == []


# --- length limits -----------------------------------------------------------------------


def test_target_name_exactly_at_the_limit_passes() -> None:
    name = "Jane " + "x" * (TARGET_NAME_MAX - 5)
    assert len(name) == TARGET_NAME_MAX
    review = review_draft(make_draft(target_name=name))
    assert review.errors == {}


def test_target_name_one_over_the_limit_fails() -> None:
    name = "Jane " + "x" * (TARGET_NAME_MAX - 4)
    assert len(name) == TARGET_NAME_MAX + 1
    review = review_draft(make_draft(target_name=name))
    assert set(review.errors) == {"target_name"}
    assert str(TARGET_NAME_MAX + 1) in review.errors["target_name"]
    assert str(TARGET_NAME_MAX) in review.errors["target_name"]


def test_target_company_exactly_at_the_limit_passes() -> None:
    review = review_draft(make_draft(target_company="A" * TARGET_COMPANY_MAX))
    assert review.errors == {}


def test_target_company_one_over_the_limit_fails() -> None:
    review = review_draft(make_draft(target_company="A" * (TARGET_COMPANY_MAX + 1)))
    assert set(review.errors) == {"target_company"}
    assert str(TARGET_COMPANY_MAX + 1) in review.errors["target_company"]


def test_reason_exactly_at_the_limit_passes() -> None:
    review = review_draft(make_draft(reason="r" * REASON_MAX))
    assert review.errors == {}


def test_reason_one_over_the_limit_fails() -> None:
    review = review_draft(make_draft(reason="r" * (REASON_MAX + 1)))
    assert set(review.errors) == {"reason"}
    assert str(REASON_MAX + 1) in review.errors["reason"]


def _blurb_of_length(length: int) -> str:
    blurb = GOOD_BLURB + " " + "z" * (length - len(GOOD_BLURB) - 1)
    assert len(blurb) == length
    return blurb


def test_blurb_exactly_at_the_limit_passes() -> None:
    review = review_draft(make_draft(blurb=_blurb_of_length(BLURB_MAX)))
    assert review.errors == {}


def test_blurb_one_over_the_limit_fails() -> None:
    review = review_draft(make_draft(blurb=_blurb_of_length(BLURB_MAX + 1)))
    assert set(review.errors) == {"blurb"}
    assert str(BLURB_MAX + 1) in review.errors["blurb"]
    assert review.advice == []


def test_surrounding_whitespace_does_not_count_towards_limits() -> None:
    review = review_draft(
        make_draft(
            target_name="  Jane " + "x" * (TARGET_NAME_MAX - 5) + "  ",
            reason="\n" + "r" * REASON_MAX + "\n",
            blurb="\n\n" + _blurb_of_length(BLURB_MAX) + "   ",
        )
    )
    assert review.errors == {}


def test_limits_count_characters_not_bytes() -> None:
    # 150 emoji are 600 bytes of UTF-8 but 150 characters.
    review = review_draft(make_draft(target_company="🎉" * TARGET_COMPANY_MAX))
    assert "target_company" not in review.errors


# --- blurb content -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder",
    [
        "[Name]",
        "[your company]",
        "{{company}}",
        "{name}",
        "<name>",
        "<Company>",
        "TODO",
        "TBD",
        "XXX",
    ],
)
def test_placeholders_block(placeholder: str) -> None:
    blurb = GOOD_BLURB.replace("Widgets Inc.", f"{placeholder}.")
    assert placeholder in blurb
    review = review_draft(make_draft(blurb=blurb))
    assert set(review.errors) == {"blurb"}
    assert placeholder in review.errors["blurb"]
    assert "placeholder" in review.errors["blurb"]


def test_placeholder_blocks_even_when_short() -> None:
    review = review_draft(make_draft(blurb="Hi [Name], coffee?"))
    assert "placeholder" in review.errors["blurb"]


def test_blurb_not_naming_the_target_blocks() -> None:
    blurb = GOOD_BLURB.replace("Hi Jane, ", "Hello, ")
    assert "Jane" not in blurb and "Doe" not in blurb
    review = review_draft(make_draft(blurb=blurb))
    assert set(review.errors) == {"blurb"}
    assert "Name Jane Doe" in review.errors["blurb"]


def test_blurb_naming_the_target_by_full_name_or_first_name_passes() -> None:
    full = GOOD_BLURB.replace("Hi Jane,", "Hi Jane Doe,")
    assert review_draft(make_draft(blurb=full)).errors == {}
    lowercase = GOOD_BLURB.replace("Hi Jane,", "hi jane,")
    assert review_draft(make_draft(blurb=lowercase)).errors == {}


def test_blurb_without_an_ask_blocks() -> None:
    blurb = (
        "Hi Jane, I'm Sam and I lead partnerships at Widgets Inc. "
        "We help payment teams at companies like Acme cut chargebacks by a third. "
        "Our product plugs into the processors your team already uses."
    )
    review = review_draft(make_draft(blurb=blurb))
    assert set(review.errors) == {"blurb"}
    assert "clear ask" in review.errors["blurb"]


@pytest.mark.parametrize("ask", ["Would you be open to a call?", "Happy to share more."])
def test_an_ask_satisfies_the_ask_check(ask: str) -> None:
    blurb = (
        "Hi Jane, I'm Sam and I lead partnerships at Widgets Inc. "
        "We help payment teams at companies like Acme cut chargebacks by a third. " + ask
    )
    assert "blurb" not in review_draft(make_draft(blurb=blurb)).errors


def test_too_short_blurb_blocks() -> None:
    blurb = "Hi Jane, I'm Sam. Coffee next week?"
    assert len(blurb) < BLURB_MIN
    review = review_draft(make_draft(blurb=blurb))
    assert set(review.errors) == {"blurb"}
    assert f"only {len(blurb)} characters" in review.errors["blurb"]


def test_blurb_at_the_minimum_is_not_too_short() -> None:
    stem = "Hi Jane, I'm Sam at Acme partners. Would you be open to a call"
    blurb = stem + "." * (BLURB_MIN - len(stem))
    assert len(blurb) == BLURB_MIN
    assert "blurb" not in review_draft(make_draft(blurb=blurb)).errors
    assert "blurb" in review_draft(make_draft(blurb=blurb[:-1])).errors


# --- coaching (the rules themselves: tests/bot/intro/test_coaching.py) ------------------


def codes(review: Review) -> list[str]:
    return [c.code for c in review.coaching]


def test_two_sentences_are_coached_not_an_error() -> None:
    blurb = (
        "Hi Jane, I'm Sam and I lead partnerships at Widgets Inc, which helps teams like "
        "Acme cut chargebacks. Would you be open to a 20-minute call next week?"
    )
    review = review_draft(make_draft(blurb=blurb))
    assert review.errors == {}
    assert review.ok
    assert codes(review) == ["coach_note_short"]
    assert review.advice == []
    words = coaching_words(review.coaching, make_draft(blurb=blurb))
    assert words == {
        "blurb": [
            "The note is 2 sentences; notes that get forwarded read best at 3–5: who you are, "
            "what's in it for Jane, and your ask."
        ]
    }


def test_many_sentences_are_coached_to_trim() -> None:
    blurb = GOOD_BLURB + " It is quick. It is easy. It is free. It helps."
    review = review_draft(make_draft(blurb=blurb))
    assert review.errors == {}
    assert codes(review) == ["coach_note_long"]
    words = coaching_words(review.coaching, make_draft(blurb=blurb))
    assert "The note is 8 sentences" in words["blurb"][0]


def test_not_naming_the_company_is_fine() -> None:
    blurb = GOOD_BLURB.replace("at companies like Acme", "at companies like yours")
    review = review_draft(make_draft(blurb=blurb))
    assert (review.errors, review.coaching, review.advice) == ({}, [], [])


def test_not_saying_who_you_are_is_coached_with_an_example_in_their_name() -> None:
    blurb = (
        "Hi Jane, a quick note from Widgets Inc. "
        "Widgets helps payment teams at companies like Acme cut chargebacks by a third. "
        "The team would love to hear how yours handles disputes today. "
        "Would you be open to a 20-minute call next week?"
    )
    titled = replace(REQUESTER, title="Head of Partnerships, Widgets")
    draft = make_draft(blurb=blurb, requester=titled)
    review = review_draft(draft)
    assert review.errors == {}
    assert codes(review) == ["coach_note_who"]
    assert coaching_words(review.coaching, draft) == {
        "blurb": [
            "Start with who you are, so Jane knows who's asking: "
            "“I'm Sam Requester, Head of Partnerships, Widgets.”"
        ]
    }


def test_signing_with_your_own_name_says_who_you_are() -> None:
    blurb = (
        "Hi Jane, Sam here from Widgets Inc. "
        "Widgets helps payment teams at companies like Acme cut chargebacks by a third. "
        "Sam would love to hear how your team handles disputes today. "
        "Would you be open to a 20-minute call next week?"
    )
    assert review_draft(make_draft(blurb=blurb)).coaching == []


def test_we_and_our_at_sentence_start_count_as_saying_who_you_are() -> None:
    blurb = (
        "Hi Jane, Widgets Inc here. "
        "We help payment teams at companies like Acme cut chargebacks by a third. "
        "Our team would love to hear how yours handles disputes today. "
        "Would you be open to a 20-minute call next week?"
    )
    review = review_draft(make_draft(blurb=blurb))
    assert review.errors == {}
    assert "coach_note_who" not in codes(review)


def test_a_reason_that_does_not_say_what_they_get_is_coached() -> None:
    for reason in ("x", "you two should meet", "Big account for us this quarter."):
        draft = make_draft(reason=reason)
        review = review_draft(draft)
        assert review.errors == {}
        assert codes(review) == ["coach_reason_gain"], reason
        assert coaching_words(review.coaching, draft)["reason"] == [
            "Say what Jane gets from talking to you, in their terms: a problem you solve for "
            "them or a result you've had for teams like Acme's. The connector quotes this to "
            "Jane when they first ask."
        ]


def test_no_coaching_when_the_blurb_is_blocked() -> None:
    blurb = GOOD_BLURB.replace("Widgets Inc.", "[Company].").replace("Acme", "them")
    review = review_draft(make_draft(blurb=blurb, reason="x"))
    assert "blurb" in review.errors
    assert codes(review) == ["coach_reason_gain"]  # the reason is still coached with it


# --- hostile text ------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["target_name", "target_company", "reason", "blurb"])
def test_hostile_text_in_any_field_does_not_crash(field: str) -> None:
    review = review_draft(make_draft(**{field: HOSTILE}))
    assert isinstance(review, Review)
    assert all(isinstance(v, str) and v for v in review.errors.values())


def test_hostile_text_everywhere_does_not_crash() -> None:
    review = review_draft(
        make_draft(
            connector=Teammate(HOSTILE, name=HOSTILE),
            target_name=HOSTILE,
            target_company=HOSTILE,
            reason=HOSTILE,
            blurb=HOSTILE * 3,
        )
    )
    assert isinstance(review, Review)


def test_right_to_left_target_named_in_an_emoji_laden_blurb_passes() -> None:
    target = "مرحبا Doe"
    blurb = (
        "مرحبا, I'm Sam 🎉 and I lead partnerships at Widgets Inc. "
        'We help payment teams at companies like Acme cut "chargebacks" by a third. '
        "I'd love to hear how your team handles disputes today. "
        "Would you be open to a 20-minute call next week? <!channel>"
    )
    review = review_draft(make_draft(target_name=target, blurb=blurb))
    assert review.errors == {}
    assert review.advice == []


def test_slack_control_sequences_are_not_mistaken_for_placeholders() -> None:
    blurb = GOOD_BLURB + " cc <!channel> <@U999>"
    assert review_draft(make_draft(blurb=blurb)).errors == {}
