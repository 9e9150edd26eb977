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
# Legal forms written without spaces in Chinese, Japanese and Korean, at either end.
_CJK_FORMS = (
    *("股份有限公司", "有限责任公司", "有限責任公司", "有限公司", "株式会社", "有限会社"),
    *("合同会社", "주식회사", "유한회사"),
)
# Legal forms, as a company key sees them: folded, and a dotted abbreviation's letters joined
# ("S.A." and "S A" are "sa", "L.L.C." is "llc"). Dropped from the end of a name.
_LEGAL_FORMS = frozenset(
    (
        *("inc", "incorporated", "llc", "llp", "lp", "ltd", "limited", "corp", "corporation"),
        *("co", "company", "plc", "pllc", "pc", "pty", "pvt", "pte", "gmbh", "mbh", "ag", "kg"),
        *("kgaa", "ug", "ev", "sa", "sas", "sarl", "sl", "slu", "srl", "spa", "sca", "sab"),
        *("cv", "bv", "nv", "vof", "oy", "oyj", "ab", "as", "asa", "aps", "se", "kk", "bhd"),
        *("sdn", "tbk", "ltda", "lda", "eirl", "sprl", "scrl"),
        *_CJK_FORMS,
    )
)
# Legal forms written before the name ("PT Bank Central Asia", "OOO Yandex").
_LEADING_FORMS = frozenset(("the", "pt", "ooo", "oao", "zao", "pao", "pjsc", "ojsc", *_CJK_FORMS))
# Domains anyone can have an address at: they say nothing of where someone works.
_SHARED_DOMAINS = frozenset(
    (
        *("gmail", "googlemail", "yahoo", "ymail", "hotmail", "outlook", "live", "msn"),
        *("icloud", "me", "mac", "aol", "proton", "protonmail", "pm", "gmx", "web", "yandex"),
        *("mail", "email", "inbox", "zoho", "fastmail", "hey", "tutanota", "qq", "163", "126"),
        *("naver", "daum", "hanmail", "orange", "free", "laposte", "libero", "t-online"),
        *("comcast", "verizon", "att", "sbcglobal", "btinternet", "bigpond", "rediffmail"),
    )
)
# Second-level labels under a country's domain ("acme.co.uk"): the name is the label before.
_SECOND_LEVEL = frozenset(("co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "ltd"))
# A domain written as a name ("Booking.com", "acme.co.uk"): its name is its first label.
_DOMAIN = re.compile(
    r"(?<![\w.@-])((?:[a-z0-9-]{1,63}\.){1,3}(?:com|net|org|io|ai|co|app|dev|[a-z]{2}))(?![\w.-])"
)


_NOT_WORD = re.compile(r"[^\w]+")


def fold(text: str) -> str:
    """Lower case, accents removed, punctuation to spaces, spaces squeezed."""
    if text.isascii():  # nothing to decompose, no accent: the normalisations give it back
        return _NOT_WORD.sub(" ", text.casefold()).strip()
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # Recomposed, so Hangul syllables stay syllables rather than their letters.
    recomposed = unicodedata.normalize("NFC", stripped)
    return _NOT_WORD.sub(" ", recomposed.casefold()).strip()


def company_key(company: str) -> str:
    """The key a company is stored and matched by: case, accents, punctuation and legal forms
    left out, so "ACME, Inc.", "Acme S.A." and "acme" are one key; "Booking.com" is
    "booking". A team's merges of two spellings sit on top of it (bot.intro.companies)."""
    text = company.casefold()
    if "." in text:  # a domain has one: the search is the costly part of a key
        text = _DOMAIN.sub(lambda found: _domain_name(found.group(1)), text)
    words = _joined_letters(fold(text.replace("&", " and ")).split())
    words = _without_cjk_forms(words)
    while len(words) > 1 and words[0] in _LEADING_FORMS:
        words = words[1:]
    while len(words) > 1 and words[-1] in _LEGAL_FORMS:
        words = words[:-1]
        if len(words) > 1 and words[-1] == "and":  # "& Co.", "GmbH & Co. KG"
            words = words[:-1]
    return " ".join(words)


def is_legal_form(text: str) -> bool:
    """Whether the text is only a legal form ("Inc.", "S.A.", "GmbH & Co. KG"): a typed list
    split on commas keeps it with the name before it."""
    words = _joined_letters(fold(text.replace("&", " and ")).split())
    forms = [word for word in words if word != "and"]
    return bool(forms) and all(word in _LEGAL_FORMS for word in forms)


def _joined_letters(words: list[str]) -> list[str]:
    """A run of single letters as one word: "s a" (from "S.A.") is "sa", "j p morgan" is
    "jp morgan"."""
    joined: list[str] = []
    run = ""
    for word in [*words, ""]:
        if len(word) == 1 and word.isalpha() and not _CJK.match(word):
            run += word
            continue
        if run:
            joined.append(run)
            run = ""
        if word:
            joined.append(word)
    return joined


def _without_cjk_forms(words: list[str]) -> list[str]:
    """A legal form written into the name's first or last word, as Chinese, Japanese and
    Korean write it ("トヨタ自動車株式会社"), taken out; never the whole word."""
    if not words or (words[0].isascii() and words[-1].isascii()):
        return words  # the forms are written in CJK scripts only
    last = words[-1]
    for form in _CJK_FORMS:
        if last.endswith(form) and len(last) > len(form):
            last = last[: -len(form)]
            break
    first = last if len(words) == 1 else words[0]
    for form in _CJK_FORMS:
        if first.startswith(form) and len(first) > len(form):
            first = first[len(form) :]
            break
    return [first] if len(words) == 1 else [first, *words[1:-1], last]


def _domain_name(domain: str) -> str:
    """The name a domain stands for: its label before the top level ("acme" for
    "mail.acme.com" and "acme.co.uk"), hyphens as spaces."""
    labels = domain.casefold().strip(".").removeprefix("www.").split(".")
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2:
        labels = labels[:-1]
    name = labels[-2] if len(labels) >= 2 else labels[0]
    return name.replace("-", " ")


def email_company(email: str) -> str:
    """The company an email's domain names, as written in the domain ("acme" for
    jane@acme.co.uk); "" for an address anyone can have (gmail.com, outlook.com, ...)."""
    _, at, domain = email.strip().rpartition("@")
    if not at or "." not in domain:
        return ""
    name = _domain_name(domain)
    return "" if name in _SHARED_DOMAINS else name


def domain_company_key(company: str, email: str) -> str:
    """The short form an email's domain gives a company, when the two agree: "acme" for
    jane@acme.com at "Acme Logistics Inc.", "ibm" for "International Business Machines";
    the domain's name with no company given. "" when it says nothing new or nothing sure: an
    address anyone can have, the company's own key again, or a domain that names another
    company (an old address, a parent company) — that is for an admin to merge."""
    if "@" not in email:
        return ""
    short = company_key(email_company(email))
    if not short:
        return ""
    key = company_key(company)
    if short == key:
        return ""
    if not key:
        return short
    words = key.split()
    leading = {"".join(words[:n]) for n in range(1, len(words))}
    initials = "".join(word[0] for word in words) if len(words) > 1 else ""
    return short if short in leading or short == initials else ""


@dataclass(frozen=True)
class PersonQuery:
    name_key: str
    company_key: str


_EMAIL = re.compile(r"([^@\s]+)@([^@\s]+)")
_EMAIL_SEPARATORS = re.compile(r"[._+-]+")
_COMPANY_IN_PARENS = re.compile(r"(.+?)\s*\(([^)]+)\)")
# The name ends at a non-space and its spaces are taken whole: a lazy `(.+?)\s+` tried the
# spaces from every place inside a long run of them, minutes on 24,000 tabs.
_COMPANY_AFTER_AT = re.compile(r"(.*?\S)\s++(?:at|@|from)\s+(.+)", re.IGNORECASE)


def split_person(text: str, company: str = "") -> tuple[str, str]:
    """The name and the company as written: "Jane Doe (Acme)", "Jane Doe at Acme",
    "jane.doe@acme.com" or just a name. A company given apart wins over one in the name."""
    text = text.strip()
    company = company.strip()
    email = _EMAIL.fullmatch(text)
    if email:
        return _EMAIL_SEPARATORS.sub(" ", email.group(1)), company or email_company(text)
    paren = _COMPANY_IN_PARENS.fullmatch(text)
    if paren:
        text, company = paren.group(1), company or paren.group(2).strip()
    at = _COMPANY_AFTER_AT.fullmatch(text)
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
