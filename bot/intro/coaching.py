"""Coaching a request's words before they go: what a connector will quote and forward.

Pure rules, no Slack and no I/O. A request's hard problems (bot.intro.validation) block it;
these only coach: the form shows each with its fix under the field, once, and the requester
may send the words as they are after seeing it.

Each rule looks for the thing a good note has, in the many ways people write it, rather
than for the mistakes: a false alarm on a good note costs more than a weak note let through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What the target gets, or the situation that makes the talk worth their while: a result,
# a problem named, something offered. Words of the requester's wants ("learn about your
# roadmap", "sell to them") are left out on purpose.
_GAIN = re.compile(
    r"\b(?:help\w*|sav(?:e|es|ed|ing|ings)|cut(?:s|ting)?|grow\w*|reduc\w*|lower\w*|"
    r"solv\w*|solution\w*|fix\w*|improv\w*|benefit\w*|gain\w*|boost\w*|increas\w*|"
    r"speed\w* up|faster|cheaper|easier|simpler|avoid\w*|free|early access|discount\w*|"
    r"pilot\w*|insight\w*|benchmark\w*|data|(?:compare|trade|swap) notes|shar(?:e|ing)|"
    r"useful|valuable|value|problem\w*|pain\w*|challeng\w*|struggl\w*|needs?|"
    r"looking for|look(?:s|ing) to|expand\w*|hiring|hires?|candidates?|launch\w*|"
    r"migrat\w*|scal(?:e|es|ed|ing)|evaluat\w*|customers?|clients?|leads|revenue|"
    r"pipeline|costs?|risks?|percent|a third|half|doubl\w*|tripl\w*|roi|invest\w*|"
    r"fund(?:s|ed|ing)?|intro(?:duce|duction)s? (?:to|for) (?:their|her|his|your)|"
    r"results?|wins?|fit for (?:them|her|him|you|their|your)|instead of|"
    r"(?:minutes|hours|days|weeks), not (?:hours|days|weeks|months))\b"
    r"|\d+\s?%|\b\d+(?:\.\d+)?x\b",
    re.IGNORECASE,
)
# Written to the target ("you", "your"), with what the requester's side does about it; wants of
# the requester's own ("we want", "we'd like") are not an offer.
_TO_THEM = re.compile(r"\b(?:you|your|yours|you['’](?:re|ve|ll|d))\b", re.IGNORECASE)
_WE_DO = re.compile(
    r"\b(?:we|I)\s+(?!want|need|hope|would|'d|’d|wish|plan|am|are|was|were)"
    r"(?:usually\s+|often\s+|can\s+|already\s+)?[a-z]+",
    re.IGNORECASE,
)
# Who is asking: the note in the first person, or the requester named.
_FIRST_PERSON = re.compile(
    r"\b(?:I|I['’](?:m|ve|d|ll))\b|\b(?:i['’]m|my|we|we['’](?:re|ve|d)|our|us|me)\b"
    r"|\b[A-Z][a-z]+ here\b",
)
_FIRST_PERSON_ANY_CASE = re.compile(r"\b(?:my|we|we['’](?:re|ve|d)|our|us|me)\b", re.IGNORECASE)
# An ask: a request in some form, and something to agree to, in the same sentence.
_REQUEST = re.compile(
    r"\?|\b(?:would|could|can|will|might) you\b|\bare you\b|\bopen to\b|\bhappy to\b|"
    r"\bup for\b|\binterested in\b|\blet me know\b|\bdo you have\b|\b(?:i['’]d|i would|"
    r"would|we['’]d|we would) (?:love|like|welcome)\b|\bkeen to\b|\bhop(?:e|ing) to\b|"
    r"\bmind if\b|\bfree for\b|\bavailable\b|\bgrab\b",
    re.IGNORECASE,
)
_ACTION = re.compile(
    r"\b(?:call|chat|talk|speak|meet|meeting|coffee|lunch|breakfast|drinks?|demo|"
    r"minutes?|mins?|email|e-mail|intro\w*|connect\w*|hop on|zoom|video|compare|"
    r"walk (?:you|them) through|show you|hear|get together|catch up|sync|"
    r"conversation|time|slot)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Where a sentence ends within a line: . ! ? or … then a space; a line break ends one too.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)]*[ \t]+")
# A full stop that never ends a sentence ("e.g.", "Dr.", "J. Doe"), and one that may ("Acme
# Inc." ends one when the next word is capitalised).
_ABBREVIATION = re.compile(
    r"\b(?:e\.g|i\.e|vs|dr|mr|mrs|ms|prof|st|no|approx|[A-Z])\.$", re.IGNORECASE
)
_ABBREVIATION_AT_END = re.compile(
    r"\b(?:etc|inc|ltd|co|corp|llc|jr|sr|u\.s|u\.k|a\.m|p\.m)\.$", re.IGNORECASE
)
_SIGN_OFF = re.compile(
    r"^(?:thanks|thank you|many thanks|best|cheers|regards|best regards|kind regards|"
    r"warmly|warm regards|sincerely|all the best|talk soon)\b",
    re.IGNORECASE,
)
_GREETING = re.compile(r"^(?:hi|hello|hey|dear|good (?:morning|afternoon))\b", re.IGNORECASE)

SENTENCES_MIN = 3
SENTENCES_MAX = 5
REASON_WORDS_MIN = 4


@dataclass(frozen=True)
class Coaching:
    """One thing to fix in the form's words: the field it is about and which rule."""

    field: str  # "reason" or "blurb", the form's block
    code: str  # the phrase in templates/validation.json, and what the form remembers


def says_what_they_get(text: str) -> bool:
    """Whether the words name what the target gets, or the situation that makes it worth it:
    a gain named, or their situation written to them with what "we" do about it ("You ship to
    40 countries, and we find what you overpay")."""
    return bool(_GAIN.search(text)) or bool(_TO_THEM.search(text) and _WE_DO.search(text))


def says_who_is_asking(text: str, requester_name: str = "") -> bool:
    if _FIRST_PERSON.search(text) or _FIRST_PERSON_ANY_CASE.search(text):
        return True
    first = requester_name.split()[0] if requester_name.split() else ""
    return len(first) > 1 and re.search(rf"\b{re.escape(first)}\b", text) is not None


def sentences(text: str) -> list[str]:
    """The note's sentences: a greeting line ("Hi Jane,") and a sign-off ("Thanks, Riya") are
    not, and neither is a break after an abbreviation ("e.g.", "Acme Inc.")."""
    pieces: list[str] = []
    for line in text.splitlines():
        line_pieces: list[str] = []
        for piece in (p.strip() for p in _SENTENCE_BREAK.split(line.strip())):
            if line_pieces and _continues(line_pieces[-1], piece):
                line_pieces[-1] = f"{line_pieces[-1]} {piece}"
            elif piece:
                line_pieces.append(piece)
        pieces += line_pieces
    return [piece for piece in pieces if _is_sentence(piece)]


def _continues(before: str, piece: str) -> bool:
    """Whether a break after `before` was an abbreviation's full stop, not a sentence's end."""
    if _ABBREVIATION.search(before):
        return True
    return bool(_ABBREVIATION_AT_END.search(before)) and not piece[:1].isupper()


def _is_sentence(piece: str) -> bool:
    words = _WORD.findall(piece)
    if len(words) <= 5 and _SIGN_OFF.match(piece):
        return False
    if len(words) <= 3 and _GREETING.match(piece):
        return False
    return len(words) >= 2 or piece.endswith("?")


def has_clear_ask(text: str) -> bool:
    """Whether one sentence asks for something the target can agree to."""
    return any(_REQUEST.search(s) and _ACTION.search(s) for s in sentences(text) or [text])


def coach_reason(reason: str) -> list[Coaching]:
    words = _WORD.findall(reason)
    if len(words) < REASON_WORDS_MIN or not says_what_they_get(reason):
        return [Coaching("reason", "coach_reason_gain")]
    return []


def coach_note(blurb: str, requester_name: str = "") -> list[Coaching]:
    """What the note lacks, in the order it is read: who, what they get, the ask, length."""
    found = []
    if not says_who_is_asking(blurb, requester_name):
        found.append(Coaching("blurb", "coach_note_who"))
    if not says_what_they_get(blurb):
        found.append(Coaching("blurb", "coach_note_gain"))
    if not has_clear_ask(blurb):
        found.append(Coaching("blurb", "coach_note_ask"))
    count = len(sentences(blurb))
    if count < SENTENCES_MIN:
        found.append(Coaching("blurb", "coach_note_short"))
    elif count > SENTENCES_MAX:
        found.append(Coaching("blurb", "coach_note_long"))
    return found


def still_to_see(coaching: list[Coaching], seen: frozenset[str]) -> list[Coaching]:
    """The coaching the requester has not been shown yet: what they saw once, they may send
    anyway."""
    return [c for c in coaching if c.code not in seen]
