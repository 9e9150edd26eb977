"""Checks on an intro request before it reaches a connector.

Hard problems block the submission (shown inline on the offending field). The words the
connector quotes and forwards are coached (bot.intro.coaching): the form shows each fix under
its field once, and the requester may then send them as they are. What the form cannot see
(the directory's findings) is advice sent with the confirmation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from bot.intro.coaching import CaseBlind, Coaching, coach_note, coach_reason, sentences
from bot.intro.matching import company_key, split_person
from bot.intro.people import Teammate
from bot.templates_dir import TEMPLATES_DIR

TARGET_NAME_MAX = 150
TARGET_COMPANY_MAX = 150
TARGET_ROLE_MAX = 200  # an ask for a way in: the role the requester hopes to reach
REASON_MAX = 500
ANONYMOUS_AS_MAX = 200
INTRO_LINE_MAX = 500  # the connector's line in the intro email
HOW_KNOWN_MAX = 150  # "Mention my name": how the connector knows the target
BLURB_MIN = 80
BLURB_MAX = 1500
# What a contact and a company name may hold (storage/models.py's columns).
CONTACT_FIELD_MAX = 200
# The most a connector's limits (or a workspace's default) may say.
PACING_MAX_OPEN = 100
PACING_MAX_PER_30_DAYS = 1000
EMAIL_MAX = 254
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_PLACEHOLDER = CaseBlind(
    r"\[[^\]\n]{1,40}\]|\{\{?[^}\n]{1,40}\}?\}"
    r"|<(?:name|company|target|your name)>|\b(?:todo|tbd|xxx)\b"
)
# Words that make an ask concrete: what the requester wants the target to agree to.
_ASK = CaseBlind(
    r"\b(?:would you|could you|can you|open to|happy to|would love|would like|"
    r"introduc\w*|connect\w*|meet\w*|call|chat|coffee|minutes|demo|"
    r"worth|interested|time to|ask)\b|\?"
)


@lru_cache(maxsize=1)
def _phrases() -> dict[str, str]:
    # The words live in templates/ with every other word users read.
    path = TEMPLATES_DIR / "validation.json"
    phrases: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return phrases


def say(code: str, **params: object) -> str:
    """A phrase from templates/validation.json, filled in."""
    return _phrases()[code].format(**params)


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
    previous_request_id: int | None = None  # the request this one follows, after a dead end
    submission_key: str | None = None  # the submitted form's id
    share_name: bool = False  # the connector may name the requester before the target agrees
    # A second voice: the connector may name the one who made the intro that went quiet.
    name_first_connector: bool = False
    ask_size: str = "call_15"  # what they ask the target for (labels.json ask_size)
    anonymous_as: str = ""  # how the connector may describe them before the target agrees
    # An ask for a way in: no name, a company, and the role the requester hopes to reach; the
    # connector picks the person when they accept.
    target_role: str = ""

    @property
    def way_in(self) -> bool:
        """Asking for a way in at a company rather than for a person: no name, a company."""
        return not self.target_name.strip() and bool(self.target_company.strip())


@dataclass
class Review:
    """Field name -> problem that blocks; coaching on the words, shown in the form once;
    plus advice, sent with the confirmation."""

    errors: dict[str, str] = field(default_factory=dict)
    coaching: list[Coaching] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _check_length(review: Review, name: str, value: str, limit: int) -> None:
    if len(value) > limit:
        review.errors[name] = say(
            "too_long", label=say(f"label_{name}"), length=len(value), limit=limit
        )


def review_contact(name: str, company: str = "", title: str = "", email: str = "") -> Review:
    """Someone a teammate knows, as typed (`/intro know`, Add someone): too long is refused,
    not cut, so what is stored is what they wrote."""
    review = Review()
    for field_name, value in (("name", name), ("company", company), ("title", title)):
        _check_length(review, field_name, value.strip(), CONTACT_FIELD_MAX)
    email = email.strip()
    if email:
        _check_length(review, "email", email, EMAIL_MAX)
        if "email" not in review.errors and not _EMAIL.match(email):
            review.errors["email"] = say("email_invalid")
    return review


def email_problem(email: str) -> str | None:
    """Why a typed email can't be kept (too long, not an email address), in the form's words;
    None when it can, or when nothing was typed."""
    email = email.strip()
    if not email:
        return None
    if len(email) > EMAIL_MAX:
        return say("too_long", label=say("label_email"), length=len(email), limit=EMAIL_MAX)
    return None if _EMAIL.match(email) else say("email_invalid")


def review_offer(target_name: str, company: str = "", reason: str = "") -> Review:
    """A connector's offer of an intro: whom, where, why (the why is optional from
    `/intro offer`), each within what a request holds."""
    review = Review()
    target = target_name.strip()
    if not target:
        review.errors["target_name"] = say("target_missing")
    _check_length(review, "target_name", target, TARGET_NAME_MAX)
    _check_length(review, "target_company", company.strip(), TARGET_COMPANY_MAX)
    _check_length(review, "reason", reason.strip(), REASON_MAX)
    return review


def review_company(company: str) -> str | None:
    """A company name for routing or pacing; the problem, if any."""
    review = Review()
    _check_length(review, "company", company.strip(), CONTACT_FIELD_MAX)
    return review.errors.get("company")


def with_company_from_name(draft: RequestDraft) -> RequestDraft:
    """ "Jane Doe (Acme)" or "Jane Doe at Acme" with the Company field blank: Acme is the
    company, stored on the request, so account-owner routing and a connector's "don't ask me
    about" list see it as suggestions already do."""
    if draft.target_company.strip():
        return draft
    name, company = split_person(draft.target_name)
    if not company:
        return draft
    # An email address stays the name as written; its domain still names the company.
    return replace(
        draft,
        target_name=draft.target_name if "@" in draft.target_name else name,
        target_company=company,
    )


def review_draft(draft: RequestDraft) -> Review:
    review = Review()
    connector = draft.connector
    if connector is None:
        review.errors["connector"] = say("connector_missing")
    elif connector.user_id == draft.requester.user_id:
        review.errors["connector"] = say("connector_self")
    elif connector.is_bot:
        review.errors["connector"] = say("connector_bot")
    elif connector.deleted:
        review.errors["connector"] = say("connector_deactivated")

    target = draft.target_name.strip()
    if not target and not draft.way_in:
        review.errors["target_name"] = say("target_missing")
    _check_length(review, "target_name", target, TARGET_NAME_MAX)
    _check_length(review, "target_company", draft.target_company.strip(), TARGET_COMPANY_MAX)
    _check_length(review, "target_role", draft.target_role.strip(), TARGET_ROLE_MAX)
    reason = draft.reason.strip()
    if not reason:
        review.errors["reason"] = say("reason_missing")
    _check_length(review, "reason", reason, REASON_MAX)

    _check_length(review, "anonymous_as", draft.anonymous_as.strip(), ANONYMOUS_AS_MAX)
    # A way in: the connector forwards the note to whoever they pick there, so it names the
    # company where it would name the person.
    blurb_problem = _blurb_problem(
        draft.blurb.strip(), target, draft.target_company.strip() if draft.way_in else ""
    )
    if blurb_problem:
        review.errors["blurb"] = blurb_problem
    if "reason" not in review.errors:
        review.coaching.extend(coach_reason(reason))
    if "blurb" not in review.errors:
        review.coaching.extend(coach_note(draft.blurb.strip(), draft.requester.name))
    return review


def coaching_words(coaching: list[Coaching], draft: RequestDraft) -> dict[str, list[str]]:
    """Each coached field's fixes, in the requester's terms: their name, the target's."""
    # A way in names no one yet: the words speak of whoever the connector picks.
    target = "the person" if draft.way_in else (_first_name(draft.target_name.strip()) or "them")
    company = draft.target_company.strip()
    requester = draft.requester
    who = requester.name or "your name"
    if requester.title:
        example_who = say("coach_who_example_titled", name=who, title=requester.title)
    else:
        example_who = say("coach_who_example", name=who)
    count = 0
    if any(c.code in ("coach_note_short", "coach_note_long") for c in coaching):
        count = len(sentences(draft.blurb))
    words: dict[str, list[str]] = {}
    for item in coaching:
        words.setdefault(item.field, []).append(
            say(
                item.code,
                target=target,
                like=say("coach_like_company", company=company) if company else "",
                example_who=example_who,
                count=count,
                sentences="sentence" if count == 1 else "sentences",
            )
        )
    return words


def _names_company(lowered_note: str, company: str) -> bool:
    """Whether the note names the company, as written or as its key (its words without the
    legal suffix: "Acme" for "Acme Inc.")."""
    key = company_key(company)
    return company.casefold() in lowered_note or bool(
        key and f" {key} " in f" {company_key(lowered_note)} "
    )


def _first_name(name: str) -> str:
    parts = name.split()
    return parts[0] if parts else ""


def _blurb_problem(blurb: str, target: str, company: str = "") -> str | None:
    """What stops the note going: `company` given, it is an ask for a way in there, and the
    note names the company instead of a person."""
    if not blurb:
        return say("blurb_missing")
    if len(blurb) > BLURB_MAX:
        return say("blurb_too_long", length=len(blurb), limit=BLURB_MAX)
    # Searched again as written only when there is one: its words are quoted back.
    placeholder = _PLACEHOLDER.any_case.search(blurb) if _PLACEHOLDER.found(blurb) else None
    if placeholder:
        return say("blurb_placeholder", placeholder=placeholder.group(0))
    if len(blurb) < BLURB_MIN:
        return say("blurb_too_short", length=len(blurb))
    lowered = blurb.casefold()
    if target and not any(
        part.casefold() in lowered for part in (target, _first_name(target)) if len(part) > 1
    ):
        return say("blurb_no_target", target=target)
    if company and not _names_company(lowered, company):
        return say("blurb_no_company", company=company)
    if not _ASK.found(blurb):
        return say("blurb_no_ask")
    return None
