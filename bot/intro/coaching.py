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
from itertools import islice


class CaseBlind:
    """A pattern found whatever the case of the text. Python's IGNORECASE folds every
    character as it compares, several times slower than an exact compare, so ASCII text
    (nearly every note) is lowered once and searched with the pattern as written, lower case,
    which finds the same spans. Other text is searched as IGNORECASE reads it: there Unicode's
    case rules ("ſ" is "s") and str.lower() part ways."""

    def __init__(self, pattern: str) -> None:
        if any(char.isupper() for char in pattern):  # "\\W" lowered would mean another thing
            raise ValueError(f"a case-blind pattern is written in lower case: {pattern!r}")
        self.any_case = re.compile(pattern, re.IGNORECASE)
        self._lowered = re.compile(pattern)

    def found(self, text: str) -> bool:
        if text.isascii():
            return self._lowered.search(text.lower()) is not None
        return self.any_case.search(text) is not None


# What the target gets, or the situation that makes the talk worth their while: a result,
# a problem named, something offered. Words of the requester's wants ("learn about your
# roadmap", "sell to them") are left out on purpose.
_GAIN = CaseBlind(
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
    r"|\d+\s?%|\b\d+(?:\.\d+)?x\b"
)
# Written to the target ("you", "your"), with what the requester's side does about it; wants of
# the requester's own ("we want", "we'd like") are not an offer.
_TO_THEM = CaseBlind(r"\b(?:you|your|yours|you['’](?:re|ve|ll|d))\b")
_WE_DO = CaseBlind(
    r"\b(?:we|i)\s+(?!want|need|hope|would|'d|’d|wish|plan|am|are|was|were)"
    r"(?:usually\s+|often\s+|can\s+|already\s+)?[a-z]+"
)
# Who is asking: the note in the first person, or the requester named.
_FIRST_PERSON = re.compile(
    r"\b(?:I|I['’](?:m|ve|d|ll))\b|\b(?:i['’]m|my|we|we['’](?:re|ve|d)|our|us|me)\b"
    r"|\b[A-Z][a-z]+ here\b",
)
_FIRST_PERSON_ANY_CASE = CaseBlind(r"\b(?:my|we|we['’](?:re|ve|d)|our|us|me)\b")
# An ask: a request in some form, and something to agree to, in the same sentence. One \b
# around all the words: each branch then starts with a letter, which the matcher skips on.
_REQUEST = CaseBlind(
    r"\?|\b(?:(?:would|could|can|will|might) you|are you|open to|happy to|up for|"
    r"interested in|let me know|do you have|(?:i['’]d|i would|would|we['’]d|we would) "
    r"(?:love|like|welcome)|keen to|hop(?:e|ing) to|mind if|free for|available|grab)\b"
)
_ACTION = CaseBlind(
    r"\b(?:call|chat|talk|speak|meet|meeting|coffee|lunch|breakfast|drinks?|demo|"
    r"minutes?|mins?|email|e-mail|intro\w*|connect\w*|hop on|zoom|video|compare|"
    r"walk (?:you|them) through|show you|hear|get together|catch up|sync|"
    r"conversation|time|slot)\b"
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
# Where a sentence ends within a line: . ! ? or … then a space; a line break ends one too.
_SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)]*[ \t]+")
# The most of a piece's end an abbreviation's match spans ("approx." and the \b before it,
# a line break $ allows), with room to spare: only that much of the piece is searched.
_ABBREVIATION_REACH = 16
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
    return _GAIN.found(text) or (_TO_THEM.found(text) and _WE_DO.found(text))


def says_who_is_asking(text: str, requester_name: str = "") -> bool:
    if _FIRST_PERSON.search(text) or _FIRST_PERSON_ANY_CASE.found(text):
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
    # Both patterns end in $: the piece's tail is all they can match (\b still sees the
    # character before where the search starts).
    tail = max(0, len(before) - _ABBREVIATION_REACH)
    if _ABBREVIATION.search(before, tail):
        return True
    return bool(_ABBREVIATION_AT_END.search(before, tail)) and not piece[:1].isupper()


def _is_sentence(piece: str) -> bool:
    if _SIGN_OFF.match(piece) and not _has_words(piece, 6):
        return False
    if _GREETING.match(piece) and not _has_words(piece, 4):
        return False
    return piece.endswith("?") or _has_words(piece, 2)


def _has_words(text: str, count: int) -> bool:
    """Whether the text has at least `count` words: found one by one, as many as that."""
    return next(islice(_WORD.finditer(text), count - 1, None), None) is not None


def has_clear_ask(text: str) -> bool:
    """Whether one sentence asks for something the target can agree to."""
    return _asks_clearly(sentences(text), text)


def _asks_clearly(text_sentences: list[str], text: str) -> bool:
    """`has_clear_ask` on sentences already split (the action first: the cheaper search)."""
    return any(_ACTION.found(s) and _REQUEST.found(s) for s in text_sentences or [text])


def coach_reason(reason: str) -> list[Coaching]:
    if not _has_words(reason, REASON_WORDS_MIN) or not says_what_they_get(reason):
        return [Coaching("reason", "coach_reason_gain")]
    return []


def coach_note(blurb: str, requester_name: str = "") -> list[Coaching]:
    """What the note lacks, in the order it is read: who, what they get, the ask, length."""
    found = []
    if not says_who_is_asking(blurb, requester_name):
        found.append(Coaching("blurb", "coach_note_who"))
    if not says_what_they_get(blurb):
        found.append(Coaching("blurb", "coach_note_gain"))
    blurb_sentences = sentences(blurb)
    if not _asks_clearly(blurb_sentences, blurb):
        found.append(Coaching("blurb", "coach_note_ask"))
    count = len(blurb_sentences)
    if count < SENTENCES_MIN:
        found.append(Coaching("blurb", "coach_note_short"))
    elif count > SENTENCES_MAX:
        found.append(Coaching("blurb", "coach_note_long"))
    return found


def still_to_see(coaching: list[Coaching], seen: frozenset[str]) -> list[Coaching]:
    """The coaching the requester has not been shown yet: what they saw once, they may send
    anyway."""
    return [c for c in coaching if c.code not in seen]
