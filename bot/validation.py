"""Checks on an intro request before it reaches a connector.

Hard problems block the submission (shown inline on the offending field); softer ones are
advice shown to the requester with the confirmation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TARGET_NAME_MAX = 150
TARGET_COMPANY_MAX = 150
REASON_MAX = 500
BLURB_MIN = 80
BLURB_MAX = 1500

_PLACEHOLDER = re.compile(
    r"\[[^\]\n]{1,40}\]|\{\{?[^}\n]{1,40}\}?\}"
    r"|<(?:name|company|target|your name)>|\b(?:TODO|TBD|XXX)\b",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?](?:\s|$)")
# Words that make an ask concrete: what the requester wants the target to agree to.
_ASK = re.compile(
    r"\b(?:would you|could you|can you|open to|happy to|would love|would like|"
    r"introduc\w*|connect\w*|meet\w*|call|chat|coffee|minutes|demo|"
    r"worth|interested|time to|ask)\b|\?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Teammate:
    """What the workflow needs to know of a Slack user."""

    user_id: str
    name: str = ""
    is_bot: bool = False
    deleted: bool = False


@dataclass(frozen=True)
class RequestDraft:
    requester: Teammate
    connector: Teammate | None
    target_name: str
    target_company: str
    reason: str
    blurb: str
    closeness: str = ""
    source_channel_id: str | None = None
    source_message_ts: str | None = None
    source_permalink: str | None = None
    redirected_from_id: int | None = None


@dataclass
class Review:
    """Field name -> problem that blocks; plus advice that does not."""

    errors: dict[str, str] = field(default_factory=dict)
    advice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_length(review: Review, name: str, value: str, label: str, limit: int) -> None:
    if len(value) > limit:
        review.errors[name] = f"{label} is {len(value)} characters; keep it to {limit}."


def review_draft(draft: RequestDraft) -> Review:
    review = Review()
    connector = draft.connector
    if connector is None:
        review.errors["connector"] = "Pick the teammate who knows this person."
    elif connector.user_id == draft.requester.user_id:
        review.errors["connector"] = "Pick a teammate other than yourself."
    elif connector.is_bot:
        review.errors["connector"] = "That's a bot; pick a human teammate."
    elif connector.deleted:
        review.errors["connector"] = "That teammate's account is deactivated; pick someone else."

    target = draft.target_name.strip()
    if not target:
        review.errors["target_name"] = "Who would you like to meet?"
    _check_length(review, "target_name", target, "The name", TARGET_NAME_MAX)
    _check_length(
        review, "target_company", draft.target_company.strip(), "The company", TARGET_COMPANY_MAX
    )
    reason = draft.reason.strip()
    if not reason:
        review.errors["reason"] = "Say why you want to meet them: the connector needs it."
    _check_length(review, "reason", reason, "The reason", REASON_MAX)

    blurb_problem = _blurb_problem(draft.blurb.strip(), target)
    if blurb_problem:
        review.errors["blurb"] = blurb_problem
    elif draft.blurb.strip():
        review.advice.extend(_blurb_advice(draft.blurb.strip(), draft.target_company.strip()))
    return review


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else ""


def _blurb_problem(blurb: str, target: str) -> str | None:
    if not blurb:
        return "Write the note your connector can forward as-is."
    if len(blurb) > BLURB_MAX:
        return f"The note is {len(blurb)} characters; keep it to {BLURB_MAX}."
    placeholder = _PLACEHOLDER.search(blurb)
    if placeholder:
        return f"Fill in the placeholder {placeholder.group(0)} before sending."
    if len(blurb) < BLURB_MIN:
        return (
            f"The note is only {len(blurb)} characters: say who you are, why this person, "
            "what they get, and your ask, in 3–5 sentences."
        )
    lowered = blurb.casefold()
    if target and not any(
        part.casefold() in lowered for part in (target, _first_name(target)) if len(part) > 1
    ):
        return f"Name {target} in the note, so it reads right when forwarded."
    if not _ASK.search(blurb):
        return "End with a clear ask, e.g. “Would you be open to a 20-minute call next week?”"
    return None


def _blurb_advice(blurb: str, company: str) -> list[str]:
    advice = []
    sentences = len(_SENTENCE_END.findall(blurb + " "))
    if sentences < 3:
        advice.append("Forwardable notes work best at 3–5 sentences; yours reads shorter.")
    elif sentences > 6:
        advice.append("Forwardable notes work best at 3–5 sentences; consider trimming.")
    company_words = [w for w in re.findall(r"\w+", company.casefold()) if len(w) > 2]
    if company_words and not any(word in blurb.casefold() for word in company_words):
        advice.append(f"Mentioning {company} shows why this person in particular.")
    if not re.search(r"\b(?:I|I'm|I am|[Ww]e|[Oo]ur)\b", blurb):
        advice.append("Say who you are in the first line, so the target knows who's asking.")
    return advice
