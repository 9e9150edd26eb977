"""Find the prospect a Slack message is about: a user mention, or a person's name in the text."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Every pattern here runs on the event loop on any message a member picks "Request an intro"
# on (MENTION on /intro's text too), so each is linear in the text's length: no unbounded run
# that a later start position scans again, and each run of whitespace matched by exactly one
# possessive quantifier.
MENTION = re.compile(r"<@([UW][A-Z0-9]{1,20})(?:\|[^<>]*)?>")
_ANGLED = re.compile(r"<[^<>]*>")
# Two or three capitalised words, allowing accents, apostrophes and hyphens: "Jane Doe",
# "Seán O'Brien", "Anne-Marie de Vries" is approximated by its capitalised words.
_LOWER = r"[a-zà-öø-ÿ]{1,40}"
_WORD = rf"[A-Z](?:{_LOWER}(?:['’\-][A-Z]?{_LOWER}){{0,3}}+|['’][A-Z]{_LOWER})"
_PARTICLE = r"(?:de|van|von|der|da|di|le|la)\s++"
_NAME = re.compile(rf"\b({_WORD}(?:\s++(?:{_PARTICLE})?{_WORD}){{1,2}})\b")
# Capitalised words that start sentences or name things, not people.
_NOT_NAMES = frozenset(
    {
        "a",
        "an",
        "the",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "please",
        "we",
        "our",
        "i",
        "you",
        "they",
        "he",
        "she",
        "it",
        "this",
        "that",
        "these",
        "those",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "q1",
        "q2",
        "q3",
        "q4",
        "ceo",
        "cto",
        "cfo",
        "vp",
        "head",
        "team",
        "sales",
        "intro",
        "any",
        "anyone",
        "does",
        "did",
        "do",
        "can",
        "could",
        "would",
        "who",
        "what",
        "when",
        "where",
        "why",
        "how",
    }
)


@dataclass(frozen=True)
class Prospect:
    name: str = ""
    user_id: str | None = None


def find_prospect(text: str) -> Prospect:
    mention = MENTION.search(text or "")
    if mention:
        return Prospect(user_id=mention.group(1))
    # Links and channel references are not names.
    cleaned = _ANGLED.sub(" ", text or "")
    for match in _NAME.finditer(cleaned):
        words = match.group(1).split()
        while words and words[0].casefold() in _NOT_NAMES:
            words = words[1:]
        if len(words) >= 2:
            return Prospect(name=" ".join(words))
    return Prospect()
