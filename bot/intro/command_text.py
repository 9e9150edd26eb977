"""What `/intro …` asks for, read from the command's text."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


@dataclass(frozen=True)
class Command:
    verb: str  # request, help, know, forget, owner, pacing, stats, export
    name: str = ""
    company: str = ""
    user_id: str = ""


def unescape(text: str) -> str:
    """Slack escapes &, < and > in command text; user mentions stay as <@U…>."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_command(text: str) -> Command:
    words = text.strip().split(maxsplit=1)
    verb = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if verb in ("help", "stats", "export") and not rest:
        return Command(verb)
    if verb == "know":
        parts = re.split(r"\s+(?:at|@)\s+", rest, maxsplit=1)
        name, company = (parts + [""])[:2]
        return Command("know", name=unescape(name).strip(), company=unescape(company).strip())
    if verb == "forget" and rest.lower() in ("me", ""):
        return Command("forget", name=rest.lower())
    if verb == "pacing" and rest.lower() in ("strict", "gentle"):
        return Command("pacing", name=rest.lower())
    if verb == "owner":
        mention = _MENTION.search(rest)
        company = _MENTION.sub("", rest).strip()
        return Command(
            "owner", company=unescape(company), user_id=mention.group(1) if mention else ""
        )
    return Command("request", name=unescape(text.strip()))
