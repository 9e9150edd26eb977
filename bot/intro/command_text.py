"""What `/intro …` asks for, read from the command's text.

A sub-command typed slightly wrong (`/intro stat`, `/intro pacng strict`) or used wrongly
(`/intro pacing`, `/intro export csv`) is answered with what was meant and how to use it, not
taken as a request for a prospect named "stat". A name that is also a sub-command can still be
asked for with `/intro request Stat Jones`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from bot.intro.names import MENTION
from bot.intro.validation import PACING_MAX_OPEN, PACING_MAX_PER_30_DAYS

# Sub-commands, and whether each takes words after it.
SUB_COMMANDS = (
    "request",
    "help",
    "know",
    "stats",
    "forget",
    "owner",
    "pacing",
    "export",
    "offer",
    "outcome",
    "accounts",
    "webhook",
    "team",
    "company",
)
_TAKES_NOTHING = ("help", "stats", "export")
_PACING_MODES = ("strict", "gentle")
# `/intro pacing default 3 open 6 per 30 days`, or either half; `off` is no limit.
_PACING_DEFAULT = re.compile(
    r"^(?:(?P<open>\d{1,5})\s*open(?:\s+asks?)?(?:\s+at\s+(?:a|one)\s+time)?)?"
    r"\s*(?:,|and|,\s*and)?\s*"
    r"(?:(?P<month>\d{1,5})\s*(?:asks?\s+)?(?:(?:per|in|a|every)\s+)?"
    r"(?:30\s*days|month))?\.?$",
    re.IGNORECASE,
)
_NO_LIMIT = ("off", "none", "no limit", "no limits", "0")
# A Slack user group as a command's escaped text carries it: <!subteam^S0123|@sales-east>.
SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]{2,20})(?:\|@?([^<>|]{0,100}))?>")
# A company name in quotes, straight or curly (Slack turns typed quotes curly on some keyboards).
_QUOTES = '"“”„«»'
_QUOTED = re.compile(f"[{_QUOTES}]([^{_QUOTES}]*)[{_QUOTES}]")


@dataclass(frozen=True)
class Command:
    # request, help, know, forget, owner, pacing, stats (`name` "team": the manager's view),
    # export, offer, outcome (`name`: whose intros, if given), accounts (`name`: "", "add" or
    # "remove"; `company`: the names given), webhook (`name`: its URL, "off", or "" to show
    # it), team (`name` "remove" to remove one), company (`name`: merge, unmerge or "" to list;
    # `companies`: the spellings); or "usage": a sub-command that was mistyped or used wrongly,
    # named in `meant`.
    verb: str
    name: str = ""
    company: str = ""
    user_id: str = ""
    meant: str = ""
    # pacing default: (most open asks, most in 30 days), None where left as it is; no limits
    # given: show the default.
    limits: tuple[int | None, int | None] | None = None
    # accounts: the workspace's list rather than the person's own (`/intro accounts team …`).
    team: bool = False
    # team: the people and user groups (id, handle) named after the manager (`user_id`).
    people: tuple[str, ...] = ()
    groups: tuple[tuple[str, str], ...] = ()
    companies: tuple[str, ...] = ()


def unescape(text: str) -> str:
    """Slack escapes &, < and > in command text; user mentions stay as <@U…>."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _meant(word: str, rest: str) -> str:
    """The sub-command a mistyped first word stands for, if it is one: a single word one edit
    from a sub-command (`stat`, `exprt`), or one followed by that sub-command's arguments
    (`pacng strict`, `ownr Acme @maria`). "Owen Smith" is a name, not `owner`."""
    if len(word) < 3:
        return ""
    close = [verb for verb in SUB_COMMANDS if Levenshtein.distance(word, verb) <= 1]
    if len(close) != 1:
        return ""
    verb = close[0]
    if not rest:
        return verb
    shaped = {
        "pacing": rest.lower() in _PACING_MODES or rest.lower().startswith("default"),
        "owner": bool(MENTION.search(rest)),
        "offer": bool(MENTION.match(rest)),
        "know": bool(re.search(r"\s(?:at|@)\s", f" {rest} ")),
        "forget": rest.lower() == "me",
        "accounts": rest.split()[0].lower() in _ACCOUNTS_WORDS,
        "webhook": rest.lower().startswith(("http", "<http")) or rest.lower() == "off",
        "team": bool(MENTION.match(rest)) or rest.lower().startswith("remove"),
        "company": rest.split()[0].lower() in ("merge", "unmerge"),
    }
    return verb if shaped.get(verb) else ""


def _name_at_company(text: str) -> tuple[str, str]:
    """ "Jane Doe at Acme" (or "@ Acme") as the name and the company."""
    parts = re.split(r"\s+(?:at|@)\s+", f" {text.strip()}", maxsplit=1)
    name, company = (parts + [""])[:2]
    return unescape(name).strip(), unescape(company).strip()


def _offer(rest: str) -> Command:
    """`/intro offer @rep Jane Doe [at Acme]`: the teammate first, then whom to meet."""
    mention = MENTION.match(rest)
    name, company = _name_at_company(rest[mention.end() :] if mention else "")
    if mention is None or not name or MENTION.search(name):
        return Command("usage", meant="offer")
    return Command("offer", name=name, company=company, user_id=mention.group(1))


def _owner(rest: str) -> Command:
    """`/intro owner Acme @rep`: the company and its account's owner, in either order."""
    mention = MENTION.search(rest)
    company = MENTION.sub("", rest).strip()
    return Command("owner", company=unescape(company), user_id=mention.group(1) if mention else "")


def _team(rest: str) -> Command:
    """`/intro team` (every team), `/intro team @maria` (hers), `/intro team @maria @riya
    @sales-east` (the manager first, then the people and user groups of their team), or
    `/intro team remove @maria`."""
    if not rest:
        return Command("team")
    removing = re.match(r"remove\s+", rest, flags=re.IGNORECASE)
    if removing:
        mention = MENTION.fullmatch(rest[removing.end() :].strip())
        if mention is None:
            return Command("usage", meant="team_remove")
        return Command("team", name="remove", user_id=mention.group(1))
    manager = MENTION.match(rest)
    if manager is None:
        return Command("usage", meant="team")
    named = rest[manager.end() :]
    people = tuple(m.group(1) for m in MENTION.finditer(named))
    groups = tuple((m.group(1), m.group(2) or m.group(1)) for m in SUBTEAM.finditer(named))
    if SUBTEAM.sub("", MENTION.sub("", named)).strip(" ,"):
        return Command("usage", meant="team")
    return Command("team", user_id=manager.group(1), people=people, groups=groups)


def _company_names(text: str) -> list[str]:
    """Company names in quotes ("Acme" "Acme Logistics"), else separated by commas."""
    text = unescape(text)
    quoted = _QUOTED.findall(text)
    names = quoted if quoted else text.split(",")
    return [name.strip() for name in names if name.strip()]


def _company(rest: str) -> Command:
    """`/intro company` (the merges), `/intro company merge "Acme" "Acme Logistics"`,
    `/intro company unmerge "Acme Logistics"`."""
    if not rest:
        return Command("company")
    action, _, names = rest.partition(" ")
    action = action.lower()
    found = _company_names(names)
    if action == "merge" and len(found) == 2:
        return Command("company", name="merge", companies=(found[0], found[1]))
    if action == "unmerge" and len(found) == 1:
        return Command("company", name="unmerge", companies=(found[0],))
    return Command("usage", meant="company")


def _pacing(rest: str) -> Command:
    """`/intro pacing strict|gentle`, or `/intro pacing default …`."""
    if rest.lower() in _PACING_MODES:
        return Command("pacing", name=rest.lower())
    mode, _, limits = rest.partition(" ")
    if mode.lower() == "default":
        return pacing_default(limits)
    return Command("usage", meant="pacing")


_ACCOUNTS_WORDS = ("add", "remove", "team")


def _accounts(rest: str) -> Command:
    """`/intro accounts` (coverage of my list and the workspace's), `/intro accounts add Acme,
    Globex`, `/intro accounts remove Acme`; `team` first for the workspace's list
    (`/intro accounts team add Acme`; admins change it)."""
    words = rest.split(maxsplit=1)
    team = bool(words) and words[0].lower() == "team"
    if team:
        words = words[1].split(maxsplit=1) if len(words) > 1 else []
    if not words:
        return Command("accounts", team=team)
    action, names = words[0].lower(), unescape(words[1]).strip() if len(words) > 1 else ""
    if action not in ("add", "remove") or not names:
        return Command("usage", meant="accounts")
    return Command("accounts", name=action, company=names, team=team)


def pacing_default(text: str) -> Command:
    """The limits in `/intro pacing default …`: "3 open 6 per 30 days", "4 open",
    "8 per 30 days", "off"; nothing, to see the default. Limits it cannot read, or beyond
    what a connector may set, are answered with how to write them (`meant`)."""
    text = " ".join(text.split())
    if not text:
        return Command("pacing", name="default")
    if text.lower() in _NO_LIMIT:
        return Command("pacing", name="default", limits=(0, 0))
    found = _PACING_DEFAULT.match(text)
    if found is None or not (found["open"] or found["month"]):
        return Command("pacing", name="default", meant="pacing_default")
    most_open = int(found["open"]) if found["open"] else None
    most_per_30 = int(found["month"]) if found["month"] else None
    if (most_open or 0) > PACING_MAX_OPEN or (most_per_30 or 0) > PACING_MAX_PER_30_DAYS:
        return Command("pacing", name="default", meant="pacing_default")
    return Command("pacing", name="default", limits=(most_open, most_per_30))


def _webhook(rest: str) -> Command:
    """`/intro webhook https://…`, `/intro webhook off`, or `/intro webhook` to see it. A
    link Slack escaped (`<https://…|label>`) is read as its URL."""
    url = unescape(rest).strip()
    if url.startswith("<") and url.endswith(">"):
        url = url[1:-1].split("|", 1)[0]
    if url.lower() == "off":
        return Command("webhook", name="off")
    if url and (" " in url or not url.lower().startswith("http")):
        return Command("usage", meant="webhook")
    return Command("webhook", name=url)


# Sub-commands whose words after them are read by a function of their own.
_READ_APART = {
    "offer": _offer,
    "pacing": _pacing,
    "owner": _owner,
    "team": _team,
    "accounts": _accounts,
    "webhook": _webhook,
    "company": _company,
}


def parse_command(text: str) -> Command:
    words = text.strip().split(maxsplit=1)
    word = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if word == "request":
        return Command("request", name=unescape(rest))
    if word == "stats" and rest.lower() == "team":
        return Command("stats", name="team")
    if word in _TAKES_NOTHING:
        return Command(word) if not rest else Command("usage", meant=word)
    if word == "know":
        name, company = _name_at_company(rest)
        return Command("know", name=name, company=company)
    if word in _READ_APART:
        return _READ_APART[word](rest)
    if word == "forget":
        if rest.lower() in ("me", ""):
            return Command("forget", name=rest.lower())
        return Command("usage", meant="forget")
    if word == "outcome":
        return Command("outcome", name=unescape(rest))
    meant = _meant(word, rest)
    if meant:
        return Command("usage", name=unescape(text.strip()), meant=meant)
    return Command("request", name=unescape(text.strip()))
