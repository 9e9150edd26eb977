"""The coaching rules on real-world words: no false alarm on a good note, and each weak one
answered with the one fix it needs."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.intro import coaching, validation
from bot.intro.coaching import (
    CaseBlind,
    Coaching,
    coach_note,
    coach_reason,
    has_clear_ask,
    sentences,
    still_to_see,
)

GOOD_NOTES = [
    # The form's own example, and the shapes people write it in.
    "Hi Jane, I'm Riya, I run partnerships at Northwind. We help logistics teams like Acme's "
    "cut cross-border delays by a third. Would you be open to a 20-minute call next week to "
    "compare notes?",
    "Hi Jane, I'm Sam and I lead partnerships at Widgets Inc. We help payment teams at "
    "companies like Acme cut chargebacks by a third. I'd love to hear how your team handles "
    "disputes today. Would you be open to a 20-minute call next week?",
    "Hi Jane,\n\nMy team at Northwind builds customs software. We saved Globex 30% on broker "
    "fees last year. Worth 15 minutes to see if that applies to Acme?\n\nThanks,\nRiya",
    "Jane - I lead growth at Acme Inc. and we've helped 40+ fintechs like yours reduce churn "
    "by 12%. Happy to share the playbook. Would you have 15 minutes next week?",
    "Hello Dr. Okafor, my name is Priya and I head research at Lumen Labs. We've built a "
    "benchmark for clinical NLP that your group could use for free. Could we find 30 minutes "
    "to walk you through it?",
    "Hi Jane! We're the team behind Northwind's customs API (I'm the CTO). Shippers like Acme "
    "use it to clear goods in hours, not days. Are you up for a quick chat in the new year?",
    "Hi Jane, Carlos suggested I reach out. I'm Riya Patel, Head of Partnerships at "
    "Northwind, and we help mid-size shippers avoid customs fines. Would a 15-minute call "
    "next Tuesday or Wednesday work for you?",
    "Jane, I run sales at Northwind (we make customs software for shippers). Acme is "
    "expanding into Europe, and we've helped three shippers do the same without a single "
    "held shipment. Could you spare 20 min for a call?",
    "Hi Jane - I'm an engineer at Northwind, e.g. the person who wrote our routing engine. "
    "We solved the same port-congestion problem your team posted about on LinkedIn. I'd love "
    "to show you how in a short call.",
    "Hi Jane, I'm Riya. Our customers cut customs holds by 40%. I'd welcome a coffee when "
    "you're next in Berlin. Let me know what works!",
]


@pytest.mark.parametrize("note", GOOD_NOTES)
def test_good_notes_pass_without_a_word(note: str) -> None:
    assert coach_note(note, "Riya Patel") == []


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        (
            "Hi Jane, you are both cool people and should definitely meet, it would be "
            "great. Would you be open to a call?",
            ["coach_note_who", "coach_note_gain", "coach_note_short"],
        ),
        (
            "Hi Jane, I'm Riya from Northwind. I would love to learn more about what you do. "
            "Would you be open to a call next week?",
            ["coach_note_gain"],
        ),
        (
            "Hi Jane, I'm Riya from Northwind. We help shippers like Acme cut customs delays "
            "by a third. I think it is worth connecting at some point.",
            ["coach_note_ask"],
        ),
        (
            "Hi Jane, Northwind builds customs software. Shippers like Acme cut delays by a "
            "third with it. Would you be open to a 15-minute call?",
            ["coach_note_who"],
        ),
        (
            "Hi Jane, I'm Riya and we help shippers cut customs delays by a third. Open to a call?",
            ["coach_note_short"],
        ),
        (
            "Hi Jane, I'm Riya. I lead partnerships at Northwind. We build customs software. "
            "It is used by shippers. We help them cut delays by a third. It is fast. It is "
            "cheap. Would you be open to a call?",
            ["coach_note_long"],
        ),
        (
            "hey jane\ngreat to e-meet\nlooking forward",
            ["coach_note_who", "coach_note_gain", "coach_note_ask", "coach_note_short"],
        ),
    ],
)
def test_weak_notes_get_the_fix_they_need(note: str, expected: list[str]) -> None:
    assert [c.code for c in coach_note(note, "Riya Patel")] == expected
    assert all(c.field == "blurb" for c in coach_note(note, "Riya Patel"))


@pytest.mark.parametrize(
    "reason",
    [
        "Acme is expanding into Europe and we solve exactly their customs problem.",
        "We cut customs delays by a third for shippers like Acme.",
        "They're hiring 20 engineers and we have candidates she'd want.",
        "She posted that chargebacks are their biggest pain; we reduce them by 30%.",
        "Her team is evaluating customs brokers this quarter; we'd save them the search.",
        "Early access to our beta, free for design partners.",
        "Acme's growth team could use our benchmark data on EU checkout conversion.",
        "2x faster onboarding for their sales reps.",
        # Written to the target: their situation, and what we do about it.
        "You ship to 40 countries, and we find what you overpay on freight.",
        "Your sales team is rebuilding its freight budget, and we show where it leaks.",
        "Your team is moving to usage-based pricing this year, and we make that work "
        "without rebuilding your billing.",
    ],
)
def test_reasons_that_say_what_the_target_gets_pass(reason: str) -> None:
    assert coach_reason(reason) == []


@pytest.mark.parametrize(
    "reason",
    [
        "x",
        "you two should meet",
        "good fit",
        "Big account for us this quarter.",
        "I want to sell to them.",
        "She is the VP of Operations at Acme.",
        "They are a great logo for our website.",
        "We want to sell to you.",
        "We'd like to meet your team.",
    ],
)
def test_reasons_that_do_not_say_what_the_target_gets_are_coached(reason: str) -> None:
    assert coach_reason(reason) == [Coaching("reason", "coach_reason_gain")]


@pytest.mark.parametrize(
    ("note", "count"),
    [
        ("Hi Jane, I'm Riya. We help shippers. Call?", 3),
        ("Hi Jane,\nI'm Riya at Acme Inc. We help shippers.\nThanks,\nRiya", 2),
        ("I work at Acme Inc. and we help shippers, e.g. Globex. Would you meet?", 2),
        ("Dr. J. Smith said hi. We help shippers!! Open to a call?", 3),
        ("Would you be open to a call", 1),
        ("", 0),
    ],
)
def test_sentences_leave_out_greetings_sign_offs_and_abbreviations(note: str, count: int) -> None:
    assert len(sentences(note)) == count, sentences(note)


@pytest.mark.parametrize(
    ("text", "clear"),
    [
        ("Would you be open to a 15-minute call?", True),
        ("Coffee next week?", True),
        ("Let me know if you have 15 minutes.", True),
        ("Worth a chat?", True),
        ("I think we should connect.", False),
        ("Looking forward to hearing from you.", False),
        ("Let me know your thoughts on our deck.", False),
    ],
)
def test_a_clear_ask_is_a_request_for_something_to_agree_to(text: str, clear: bool) -> None:
    assert has_clear_ask(text) is clear


def test_coaching_seen_once_is_not_shown_again() -> None:
    found = [Coaching("reason", "coach_reason_gain"), Coaching("blurb", "coach_note_short")]
    assert still_to_see(found, frozenset()) == found
    assert still_to_see(found, frozenset({"coach_reason_gain"})) == found[1:]
    assert still_to_see(found, frozenset({"coach_reason_gain", "coach_note_short"})) == []


# Words the rules look for, in any case, with the characters Unicode's case rules treat apart
# ("ſ" is "s" and "K" is "k" to IGNORECASE, not to str.lower()).
_PIECES = st.sampled_from(
    [
        *("would you", "Could You", "OPEN TO", "call", "Chat", "coffee?", "we help", "I can"),
        *("you're", "you’re", "We’d love", "i'd like", "save", "CUT", "20%", "3x", "1.5X"),
        *("hours, not days", "[name]", "{{x}}", "<Name>", "todo", "TBD", "xxx", "e.g.", "my"),
        *("ſave", "Kall", "ıntro", "İntro", "naïve", "Ω", "—", "…", "_", "-", "'", "’"),
        *(" ", " ", "  ", "\n", ".", ",", "?", "!", "a", "s", "k", "i", "us", "me", "our"),
    ]
)
_TEXTS = st.lists(_PIECES, max_size=30).map("".join) | st.text(max_size=40)
_CASE_BLIND = [
    *(getattr(coaching, name) for name in ("_GAIN", "_TO_THEM", "_WE_DO", "_REQUEST", "_ACTION")),
    *(coaching._FIRST_PERSON_ANY_CASE, validation._PLACEHOLDER, validation._ASK),
]
# The ask's request as first written, a \\b on each branch: the one-\\b spelling finds the same.
_REQUEST_AS_WRITTEN = re.compile(
    r"\?|\b(?:would|could|can|will|might) you\b|\bare you\b|\bopen to\b|\bhappy to\b|"
    r"\bup for\b|\binterested in\b|\blet me know\b|\bdo you have\b|\b(?:i['’]d|i would|"
    r"would|we['’]d|we would) (?:love|like|welcome)\b|\bkeen to\b|\bhop(?:e|ing) to\b|"
    r"\bmind if\b|\bfree for\b|\bavailable\b|\bgrab\b",
    re.IGNORECASE,
)


@settings(max_examples=400)
@given(_TEXTS)
def test_case_blind_patterns_find_what_ignorecase_finds(text: str) -> None:
    for pattern in _CASE_BLIND:
        assert pattern.found(text) is (pattern.any_case.search(text) is not None)
    assert coaching._REQUEST.found(text) is (_REQUEST_AS_WRITTEN.search(text) is not None)


@settings(max_examples=400)
@given(
    st.lists(_PIECES | st.sampled_from(["Dr.", "approx.", "Inc. ", "U.S.", "x" * 20]), max_size=12)
)
def test_abbreviations_are_searched_for_at_the_end_only(pieces: list[str]) -> None:
    before = "".join(pieces)
    assert coaching._continues(before, "next") is bool(
        coaching._ABBREVIATION.search(before) or coaching._ABBREVIATION_AT_END.search(before)
    )


def test_a_case_blind_pattern_is_written_in_lower_case() -> None:
    with pytest.raises(ValueError):
        CaseBlind(r"\W+")


def test_a_note_is_split_into_sentences_once(monkeypatch: pytest.MonkeyPatch) -> None:
    split: list[str] = []

    def counted(text: str) -> list[str]:
        split.append(text)
        return sentences(text)

    monkeypatch.setattr(coaching, "sentences", counted)
    coach_note(GOOD_NOTES[0], "Riya Patel")
    assert split == [GOOD_NOTES[0]]
