"""Fuzzy matching of people and companies: case, accents, nicknames, "Jane Doe (Acme)",
"jane.doe@acme.com"."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

# Common English nicknames, mapped to the formal name both sides are compared by.
_NICKNAMES = {
    "bob": "robert",
    "rob": "robert",
    "bobby": "robert",
    "bill": "william",
    "will": "william",
    "liz": "elizabeth",
    "beth": "elizabeth",
    "lizzy": "elizabeth",
    "jim": "james",
    "jimmy": "james",
    "mike": "michael",
    "kate": "katherine",
    "katie": "katherine",
    "kathy": "katherine",
    "jen": "jennifer",
    "jenny": "jennifer",
    "tom": "thomas",
    "dave": "david",
    "dan": "daniel",
    "danny": "daniel",
    "chris": "christopher",
    "alex": "alexander",
    "sam": "samuel",
    "ben": "benjamin",
    "matt": "matthew",
    "nick": "nicholas",
    "tony": "anthony",
    "joe": "joseph",
    "steve": "steven",
    "andy": "andrew",
    "drew": "andrew",
    "sue": "susan",
    "jess": "jessica",
    "meg": "margaret",
    "peggy": "margaret",
    "maggie": "margaret",
    "ed": "edward",
    "ted": "edward",
    "rick": "richard",
    "dick": "richard",
    "greg": "gregory",
    "pete": "peter",
    "ron": "ronald",
    "tim": "timothy",
    "vicky": "victoria",
    "abby": "abigail",
    "becky": "rebecca",
}
_COMPANY_SUFFIXES = re.compile(
    r"\b(inc|incorporated|llc|ltd|limited|corp|corporation|co|company|gmbh|ag|sa|sas|bv|plc)\b\.?"
)


def fold(text: str) -> str:
    """Lower case, accents removed, punctuation to spaces, spaces squeezed."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^\w]+", " ", stripped.casefold()).strip()


def company_key(company: str) -> str:
    return re.sub(r"\s+", " ", _COMPANY_SUFFIXES.sub(" ", fold(company))).strip()


@dataclass(frozen=True)
class PersonQuery:
    name_key: str
    company_key: str


def parse_person(text: str, company: str = "") -> PersonQuery:
    """ "Jane Doe (Acme)", "Jane Doe at Acme", "jane.doe@acme.com" or just a name."""
    text = text.strip()
    email = re.fullmatch(r"([^@\s]+)@([^@\s]+)", text)
    if email:
        local, domain = email.groups()
        name = re.sub(r"[._+-]+", " ", local)
        company = company or (domain.split(".")[-2] if "." in domain else domain)
        return PersonQuery(name_key(name), company_key(company))
    paren = re.fullmatch(r"(.+?)\s*\(([^)]+)\)", text)
    if paren:
        text, company = paren.group(1), company or paren.group(2)
    at = re.fullmatch(r"(.+?)\s+(?:at|@|from)\s+(.+)", text, flags=re.IGNORECASE)
    if at:
        text, company = at.group(1), company or at.group(2)
    return PersonQuery(name_key(text), company_key(company))


def surname_key(key: str) -> str:
    words = key.split()
    return words[-1] if words else ""


def person_surname_key(text: str) -> str:
    """The surname two ways of writing one person share: "Ana Muñoz (Acme)" -> "munoz"."""
    return surname_key(parse_person(text).name_key)


def name_key(name: str) -> str:
    words = fold(name).split()
    return " ".join(_NICKNAMES.get(word, word) for word in words)


def name_score(query: str, candidate: str) -> float:
    """0–100: how surely two folded, nickname-mapped names are the same person."""
    if not query or not candidate:
        return 0.0
    return float(fuzz.token_sort_ratio(query, candidate))


def company_score(query: str, candidate: str) -> float:
    if not query or not candidate:
        return 0.0
    return float(fuzz.token_set_ratio(query, candidate))
