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
    # Recomposed, so Hangul syllables stay syllables rather than their letters.
    recomposed = unicodedata.normalize("NFC", stripped)
    return re.sub(r"[^\w]+", " ", recomposed.casefold()).strip()


def company_key(company: str) -> str:
    return re.sub(r"\s+", " ", _COMPANY_SUFFIXES.sub(" ", fold(company))).strip()


@dataclass(frozen=True)
class PersonQuery:
    name_key: str
    company_key: str


def split_person(text: str, company: str = "") -> tuple[str, str]:
    """The name and the company as written: "Jane Doe (Acme)", "Jane Doe at Acme",
    "jane.doe@acme.com" or just a name. A company given apart wins over one in the name."""
    text = text.strip()
    company = company.strip()
    email = re.fullmatch(r"([^@\s]+)@([^@\s]+)", text)
    if email:
        local, domain = email.groups()
        return re.sub(r"[._+-]+", " ", local), company or domain.split(".")[
            -2 if "." in domain else -1
        ]
    paren = re.fullmatch(r"(.+?)\s*\(([^)]+)\)", text)
    if paren:
        text, company = paren.group(1), company or paren.group(2).strip()
    at = re.fullmatch(r"(.+?)\s+(?:at|@|from)\s+(.+)", text, flags=re.IGNORECASE)
    if at:
        text, company = at.group(1), company or at.group(2).strip()
    return text.strip(), company


def parse_person(text: str, company: str = "") -> PersonQuery:
    """ "Jane Doe (Acme)", "Jane Doe at Acme", "jane.doe@acme.com" or just a name."""
    name, company = split_person(text, company)
    return PersonQuery(name_key(name), company_key(company))


# Han, kana and Hangul: scripts whose names are written without spaces, family name first.
_CJK = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


def surname_key(key: str) -> str:
    """The key a name is stored and looked up by (an index, not a display).

    A name in Latin script is keyed by its last word. One in Chinese, Japanese or Korean is
    keyed by its characters in a fixed order: "王小明", "王 小明" and LinkedIn's "小明 王"
    (first name, then last) are one person.
    """
    words = key.split()
    if not words:
        return ""
    if any(_CJK.match(word) for word in words):
        return "".join(sorted(words))
    return words[-1]


def surname_keys(key: str) -> list[str]:
    """The keys to look a name up by: the family name may be written first ("Wang Xiaoming")
    or last ("Xiaoming Wang"), so both ends of a Latin-script name are tried."""
    words = key.split()
    if not words:
        return []
    stored = surname_key(key)
    return [stored] if stored != words[-1] or len(words) == 1 else [words[-1], words[0]]


def person_surname_key(text: str) -> str:
    """The surname two ways of writing one person share: "Ana Muñoz (Acme)" -> "munoz"."""
    return surname_key(parse_person(text).name_key)


def name_key(name: str) -> str:
    """Folded words, nicknames mapped; a CJK name split into its characters, so the same
    name written with or without spaces, in either order, compares equal."""
    words = []
    for word in fold(name).split():
        if _CJK.search(word):
            words += [char for char in word if not char.isspace()]
        else:
            words.append(_NICKNAMES.get(word, word))
    return " ".join(words)


def name_score(query: str, candidate: str) -> float:
    """0–100: how surely two folded, nickname-mapped names are the same person."""
    if not query or not candidate:
        return 0.0
    return float(fuzz.token_sort_ratio(query, candidate))


def company_score(query: str, candidate: str) -> float:
    if not query or not candidate:
        return 0.0
    return float(fuzz.token_set_ratio(query, candidate))


def same_person(name: str, other: str) -> bool:
    """Whether two names are the same person's, folded and compared as the directory matches
    a name to a contact."""
    first, second = name_key(parse_person(name).name_key), name_key(parse_person(other).name_key)
    return bool(first and second) and name_score(first, second) >= 85
