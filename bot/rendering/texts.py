"""The bot's plain-text pieces, rendered from templates/*.txt.j2: the opt-in ask, the intro
email, the messages a requester sends themselves; and the labels every message words."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from bot.rendering.templating import render_text
from bot.templates_dir import TEMPLATES_DIR
from storage.models import IntroRequest


@lru_cache(maxsize=1)
def labels() -> dict[str, Any]:
    with (TEMPLATES_DIR / "labels.json").open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else name


# A greeting's clause at the start of a note: "Hi Jane," / "Hello Dr. Doe!".
_GREETING_CLAUSE = re.compile(
    r"^\s*(hi|hello|hey|dear|good (morning|afternoon))\b[^,!:\n]{0,60}[,!:]?\s*",
    re.IGNORECASE,
)
# Anything with an @ inside a word is taken for an email address; an @ starting one, or a
# Slack mention, for a handle. Generous on purpose: a false match only hides a word.
_EMAIL = re.compile(r"[^\s<>\"@]+@[^\s<>\"@]+")
_HANDLE = re.compile(r"<@[^>]*>|@[^\s<>\"@]+")


def _requester(request: IntroRequest) -> dict[str, str]:
    """The requester as the intro email and the direct message sign them."""
    name = (request.requester_name or "").strip()
    return {
        "requester_known": name,
        "requester_name": name or labels()["anonymous"]["person"],
        "requester_first_name": first_name(name),
        "requester_title": request.requester_title or "",
        "requester_email": request.requester_email or "",
    }


def forwardable_email(request: IntroRequest) -> str:
    """The intro email the connector sends once the target has agreed."""
    return render_text(
        "forwardable_email.txt.j2",
        target_name=request.target_name,
        target_first_name=first_name(request.target_name),
        target_company=request.target_company,
        blurb=request.blurb,
        **_requester(request),
    )


def named_ask_allowed(request: IntroRequest) -> bool:
    return bool(request.share_name)


def without_requester(text: str, request: IntroRequest) -> str:
    """`text` with anything that names the requester (their name or any part of it, any
    @handle or mention, any email address) put as the anonymous ask says it."""
    words = labels()["anonymous"]
    text = _EMAIL.sub(words["contact"], text)
    text = _HANDLE.sub(words["person"], text)
    name = (request.requester_name or "").strip()
    parts = sorted({name, *name.split()}, key=len, reverse=True)
    for part in parts:
        if len(part) < 2:
            continue
        text = re.sub(
            rf"(?<!\w){re.escape(part)}(?!\w)", words["person"], text, flags=re.IGNORECASE
        )
    return text


def optin_ask(request: IntroRequest) -> str:
    """The connector's first ask to the target: without the requester's name unless the
    requester allowed it and the connector chose to name them."""
    named = bool(request.named_ask and request.share_name and request.requester_name)
    title = request.requester_title or ""
    reason = request.reason.strip()
    if not named:
        title, reason = without_requester(title, request), without_requester(reason, request)
    return render_text(
        "optin_ask.txt.j2",
        named=named,
        target_first_name=first_name(request.target_name),
        target_company=request.target_company,
        requester_name=request.requester_name or "",
        requester_title=title,
        reason=reason,
    )


def day_of(moment: datetime, today: date) -> str:
    """A day as people write it in a sentence: "3 March", with the year when not this one."""
    day = moment.date()
    return f"{day.day} {day:%B}" + (f" {day.year}" if day.year != today.year else "")


def long_date(day: date | None) -> str:
    """A day as people write it: "Monday 28 December"."""
    return f"{day:%A} {day.day} {day:%B}" if day else ""


def direct_message(request: IntroRequest) -> str:
    """ "Mention my name": the note as a message the requester sends the target themselves."""
    greeting = _GREETING_CLAUSE.match(request.blurb)
    body = request.blurb[greeting.end() :] if greeting else request.blurb
    return render_text(
        "direct_message.txt.j2",
        connector_name=request.connector_name or "",
        greeting=greeting.group(0).strip() if greeting else "",
        target_first_name=first_name(request.target_name),
        blurb=body.strip(),
        **_requester(request),
    )


# A note's sentence that speaks of an intro or a go-between: a cold message must not claim one.
_INTRO_SENTENCE = re.compile(
    r"\b(?:intro(?:duc\w*)?|put (?:us|me) in touch|suggested (?:I|we)|"
    r"thanks? for (?:connecting|passing))\b",
    re.IGNORECASE,
)
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])[ \t]+")


def cold_message(request: IntroRequest) -> str:
    """Going in cold: the note as the requester's own first message to the target, with a
    subject, the reason kept and any sentence about an intro left out."""
    greeting = _GREETING_CLAUSE.match(request.blurb)
    body = request.blurb[greeting.end() :] if greeting else request.blurb
    kept = [
        part for part in _SENTENCE_BREAK.split(body.strip()) if not _INTRO_SENTENCE.search(part)
    ]
    body = " ".join(kept) or body.strip()
    first = first_name(request.target_name)
    company = request.target_company.strip()
    subject = labels()["cold_subject"]["with_company" if company else "plain"].format(
        first_name=first, company=company
    )
    return render_text(
        "cold_message.txt.j2",
        subject=subject,
        greeting=greeting.group(0).strip() if greeting else "",
        target_first_name=first,
        blurb=body,
        reason=request.reason.strip(),
        **_requester(request),
    )


def bump_message(request: IntroRequest) -> str:
    """The connector's short nudge to a target who went quiet after the intro."""
    return render_text(
        "bump_message.txt.j2",
        target_first_name=first_name(request.target_name),
        requester_name=(request.requester_name or "").strip() or labels()["anonymous"]["person"],
        connector_first_name=first_name(request.connector_name or ""),
    )
