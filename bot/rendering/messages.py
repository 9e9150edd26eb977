"""Block Kit for each message and view, rendered from templates/ with a request's state."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

from markupsafe import Markup

from bot.intro import outside, validation
from bot.intro.accounts import MAX_TYPED, WORKSPACE_LIST, AccountCoverage, Coverage
from bot.intro.attribution import OUTSIDE_PREFIX, STAGES, Funnel, Report
from bot.intro.cadence import zone as time_zone
from bot.intro.contacts import SEARCH_MAX, ContactPage
from bot.intro.crm import VENDOR_LABEL
from bot.intro.crm_admin import FIELD_MAX as CRM_FIELD_MAX
from bot.intro.crm_admin import KEPT_FIELDS, ConnectResult, CrmState
from bot.intro.declines import TargetDecline
from bot.intro.directory import AskReview, Pacing, Suggestion
from bot.intro.states import COLD_AFTER, DEAD_END_EVENTS, Status, next_outcomes
from bot.intro.workflow.plan import THANKS_MAX, awaiting_pick
from bot.intro.workflow.results import History
from bot.rendering.ids import BlockId
from bot.rendering.templating import (
    environment,
    escape_mrkdwn,
    render_json,
    render_json_text,
    trusted_mrkdwn,
)
from bot.rendering.texts import (
    ask_size,
    bump_message,
    cold_message,
    day_of,
    direct_message,
    first_name,
    forwardable_email,
    intro_line,
    labels,
    long_date,
    named_ask_allowed,
    optin_ask,
    outside_email,
)
from storage.models import ConnectorPrefs, Contact, IntroOffer, IntroRequest, built

COLUMNS = tuple(IntroRequest.__table__.c)

LIMITS = {
    "target_name": validation.TARGET_NAME_MAX,
    "target_company": validation.TARGET_COMPANY_MAX,
    "target_role": validation.TARGET_ROLE_MAX,
    "reason": validation.REASON_MAX,
    "anonymous_as": validation.ANONYMOUS_AS_MAX,
    "blurb": validation.BLURB_MAX,
    "blurb_min": validation.BLURB_MIN,
}


HOME_SCRIPTS = 5  # requests whose opt-in ask and intro email the Home tab shows
# Asks shown each way (mine, waiting on me) on the Home tab: with everything else it can
# hold (contacts, accounts, an admin's webhook, a manager's team), within Slack's 100 blocks.
HOME_REQUESTS = 13
# Accounts: a section's text holds at most 3,000 characters (a line is clipped well under
# it); `/intro accounts` answers in at most this many sections (a message holds 50 blocks),
# and the Home tab shows the first few in one section (a view holds 100).
ACCOUNT_LINE_MAX = 400
ACCOUNT_SECTION_MAX = 2900
ACCOUNT_SECTIONS = 20
HOME_ACCOUNTS = 8


class Message:
    """A message's fallback text and blocks. Made from a template's JSON text, the blocks
    stay that text until read (`blocks_json` goes to Slack as it is: Slack takes a JSON
    string for `blocks`), so a card is not parsed here and encoded again by slack_sdk."""

    __slots__ = ("text", "_blocks", "_blocks_json")

    def __init__(
        self,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        blocks_json: str | None = None,
    ) -> None:
        self.text = text
        self._blocks = blocks if blocks is not None or blocks_json is not None else []
        self._blocks_json = blocks_json

    @property
    def blocks(self) -> list[dict[str, Any]]:
        if self._blocks is None:
            self._blocks = json.loads(self._blocks_json or "[]")
        return self._blocks

    @property
    def blocks_json(self) -> str:
        if self._blocks_json is None:
            self._blocks_json = json.dumps(self._blocks)
        return self._blocks_json

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (self.text, self.blocks) == (other.text, other.blocks)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Message(text={self.text!r}, blocks={self.blocks!r})"


@dataclass
class ModalPrefill:
    connector_id: str = ""
    target_name: str = ""
    target_company: str = ""
    reason: str = ""
    blurb: str = ""
    closeness: str = ""
    share_name: str = ""  # "now" or "after_yes" (labels.json share_name)
    ask_size: str = ""  # labels.json ask_size; the form's default when empty
    anonymous_as: str = ""
    target_role: str = ""  # an ask for a way in: the role the requester is after

    @property
    def way_in(self) -> bool:
        """No name, a company: the form asks for a way in there."""
        return not self.target_name.strip() and bool(self.target_company.strip())


@dataclass
class ModalContext:
    """What the intro modal carries from where it was opened to its submission."""

    source_channel_id: str | None = None
    source_message_ts: str | None = None
    previous_request_id: int | None = None  # asking again after this request's dead end
    extra: dict[str, Any] = field(default_factory=dict)
    # Taking a connector's offer: the offer, and the connector who made it.
    offer_id: int | None = None
    offered_by: str | None = None
    # Asking for an intro to a better person a connector named: who named them, and whom
    # they were named instead of.
    pointed_by: str | None = None
    pointed_from: str | None = None
    # The coaching on the note this form has shown (bot.intro.coaching codes): seen once,
    # the requester may send anyway.
    coached: frozenset[str] = frozenset()
    # A second voice: the first name of who made the intro that went quiet (the form asks
    # whether the new connector may name them).
    first_connector: str | None = None
    # The form has shown that the person said no lately: sending now is a choice made knowing.
    declined_seen: bool = False

    def dump(self) -> str:
        data = {
            "c": self.source_channel_id,
            "ts": self.source_message_ts,
            "r": self.previous_request_id,
            "o": self.offer_id,
            "ob": self.offered_by,
            "pb": self.pointed_by,
            "pf": self.pointed_from,
            "s": sorted(self.coached) or None,
            "fc": self.first_connector,
            "h": 1 if self.declined_seen else None,
        }
        return json.dumps({k: v for k, v in data.items() if v is not None})

    @classmethod
    def load(cls, raw: str | None) -> ModalContext:
        try:
            data = json.loads(raw or "{}")
        except json.JSONDecodeError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        previous = data.get("r")
        offer = data.get("o")
        coached = data.get("s")
        return cls(
            coached=frozenset(
                c for c in (coached if isinstance(coached, list) else []) if isinstance(c, str)
            ),
            offer_id=offer if isinstance(offer, int) and not isinstance(offer, bool) else None,
            offered_by=data.get("ob") if isinstance(data.get("ob"), str) else None,
            pointed_by=data.get("pb") if isinstance(data.get("pb"), str) else None,
            pointed_from=data.get("pf") if isinstance(data.get("pf"), str) else None,
            source_channel_id=data.get("c") if isinstance(data.get("c"), str) else None,
            source_message_ts=data.get("ts") if isinstance(data.get("ts"), str) else None,
            first_connector=data.get("fc") if isinstance(data.get("fc"), str) else None,
            previous_request_id=(
                previous if isinstance(previous, int) and not isinstance(previous, bool) else None
            ),
            declined_seen=data.get("h") == 1,
        )


def next_step(request: IntroRequest, role: str) -> Markup:
    """The status line's next step, escaped for mrkdwn with the connector's mention kept."""
    template = escape_mrkdwn(str(labels()["status"][request.status][f"{role}_next"]))
    text = template.format(
        connector=connector_mention(request),
        target=escape_mrkdwn(request.target_name),
        company=escape_mrkdwn(request.target_company or "that company"),
        date=long_date(request.ask_again_on),
        suggested=escape_mrkdwn(request.suggested_name or "someone else"),
    )
    # A line may open with the target, who for a way in is "someone (…)" until they agree.
    return trusted_mrkdwn(text[:1].upper() + text[1:])


# Reminders that go to the connector: they picked the person, and see their name.
CONNECTOR_REMINDERS = frozenset({"nudge", "target_check", "target_check_waiting", "ask_again"})


def way_in_name(request: IntroRequest) -> str:
    """An ask for a way in, while whom it reaches is not to be named: "someone", with the
    role the requester hoped for (their company follows wherever a name's would)."""
    role = " ".join((request.target_role or "").split())
    return f"someone ({role})" if role else "someone"


def as_seen(request: IntroRequest, *, by_connector: bool = False) -> IntroRequest:
    """The request as its reader may see it. An ask for a way in names its person to the
    connector once they pick them (they chose them from whom they know); to anyone else (the
    requester, an account owner) only once the person agreed to the intro: until then the
    name would tell whom the connector knows, about someone who has not said yes to anything,
    and would only lead back to a person whose no is final. A copy, for rendering only."""
    if not request.way_in:
        return request
    if (request.target_name or "").strip() and (by_connector or request.intro_made_at):
        return request
    seen = built(IntroRequest, **{column.key: getattr(request, column.key) for column in COLUMNS})
    seen.target_name = way_in_name(request)
    return seen


def connector_mention(request: IntroRequest) -> str:
    """The connector as mrkdwn: their mention, or the name of one outside the team."""
    if request.connector_outside:
        return str(escape_mrkdwn(request.connector_name or "your connector"))
    return f"<@{request.connector_id}>"


def _status(request: IntroRequest) -> dict[str, str]:
    status: dict[str, str] = labels()["status"][request.status]
    return status


# Templates rendered as {"text": "...", "blocks": [...]} and nothing else: their blocks are
# kept as the rendered text (`split_message`). tests/bot/rendering holds each to its parse.
SPLIT_TEMPLATES = frozenset(
    {
        "connector_card.json.j2",
        "requester_card.json.j2",
        "notice.json.j2",
        "owner_card.json.j2",
        "reminder.json.j2",
    }
)


def _message(template: str, **context: Any) -> Message:
    if template in SPLIT_TEMPLATES:
        split = split_message(render_json_text(template, **context))
        if split is not None:
            return Message(split[0], blocks_json=split[1])
    rendered = render_json(template, **context)
    return Message(text=rendered["text"], blocks=rendered.get("blocks", []))


_TEXT_FIRST = re.compile(r'\s*\{\s*"text"\s*:\s*"')
_BLOCKS_NEXT = re.compile(r'\s*,\s*"blocks"\s*:\s*(?=\[)')


def split_message(rendered: str) -> tuple[str, str] | None:
    """A rendered {"text": "...", "blocks": [...]}: its text, decoded, and its blocks as
    the JSON text they are, not parsed; None for any other shape (then parse it whole)."""
    head = _TEXT_FIRST.match(rendered)
    if head is None:
        return None
    try:
        text, end = scanstring(rendered, head.end())
    except ValueError as exc:
        raise ValueError(f"a message rendered invalid JSON: {exc}") from exc
    blocks = _BLOCKS_NEXT.match(rendered, end)
    closing = rendered.rstrip()
    if blocks is None or not closing.endswith("}"):
        return None
    return text, closing[blocks.end() : -1].rstrip()


def connector_card(
    request: IntroRequest,
    stale_tie: Contact | None = None,
    *,
    offered: bool = False,
    pointed_from: str | None = None,
    history: History | None = None,
    first_intro: IntroRequest | None = None,
) -> Message:
    """The connector's card (an ask for a way in: with a stand-in until they pick the person).
    `offered`: the requester took the connector's own offer of this intro; `pointed_from`:
    the ask is for the better person the connector named instead of this one. `history`: the
    connector's with the requester over the last year, a line on the first card.
    `first_intro`: the intro this ask adds a second voice to (its target agreed, then went
    quiet)."""
    picking = awaiting_pick(request)
    request = as_seen(request, by_connector=True)
    # The email and the opt-in ask are shown only in these states (connector_card.json.j2):
    # not made for a card that leaves them out.
    checking = request.status == Status.CHECKING_WITH_TARGET
    shows_email = checking or (request.status == Status.AWAITING_CONNECTOR and not picking)
    return _message(
        "connector_card.json.j2",
        r=request,
        picking=picking,
        offered=offered,
        pointed_from=pointed_from,
        first=first_intro,
        first_intro_date=long_date(first_intro.intro_made_at) if first_intro else "",
        target_first_name=first_name(request.target_name),
        stale_tie=stale_tie,
        history=history,
        requester_first_name=first_name(request.requester_name or ""),
        status=_status(request),
        next_step=next_step(request, "connector"),
        closeness_label=labels()["closeness"].get(request.closeness, "Not given"),
        outcomes=labels()["outcome"],
        email=forwardable_email(request) if shows_email else "",
        ask=optin_ask(request) if checking else "",
        ask_size=ask_size(request),
        named_ask_allowed=named_ask_allowed(request),
        qualify=labels()["qualify"],
    )


def owner_card(request: IntroRequest) -> Message:
    # An ask for a way in has no one to write an email to yet: the owner reads the note.
    email = request.blurb if request.way_in else forwardable_email(request)
    request = as_seen(request)
    return _message(
        "owner_card.json.j2",
        r=request,
        status=_status(request),
        next_step=next_step(request, "owner"),
        email=email,
    )


def owner_edit_modal(request: IntroRequest) -> dict[str, Any]:
    view: dict[str, Any] = render_json(
        "owner_edit_modal.json.j2", r=request, request_id=request.id, limit=validation.BLURB_MAX
    )
    return view


def way_in_modal(request: IntroRequest, contacts: Sequence[Contact]) -> dict[str, Any]:
    """The connector accepts an ask for a way in: whom they will ask, from their own contacts
    at the company (Slack takes 100 options) or typed."""
    view: dict[str, Any] = render_json(
        "way_in_modal.json.j2",
        r=request,
        request_id=request.id,
        contacts=list(contacts)[:100],
        limit=validation.TARGET_NAME_MAX,
    )
    return view


def intro_line_modal(request: IntroRequest) -> dict[str, Any]:
    """The connector's line in the intro email on why the two should meet, to edit."""
    view: dict[str, Any] = render_json(
        "intro_line_modal.json.j2",
        r=request,
        request_id=request.id,
        line=intro_line(request),
        limit=validation.INTRO_LINE_MAX,
    )
    return view


def intro_made_modal(request: IntroRequest) -> dict[str, Any]:
    """ "They agreed: intro made", in a workspace with a CRM: the target's email may go with
    it, for the CRM alone."""
    view: dict[str, Any] = render_json("intro_made_modal.json.j2", r=request, request_id=request.id)
    return view


def mention_name_modal(request: IntroRequest) -> dict[str, Any]:
    """ "Mention my name": how the connector knows the target, for the requester's message."""
    view: dict[str, Any] = render_json(
        "mention_name_modal.json.j2",
        r=request,
        request_id=request.id,
        connector_name=request.connector_name or "",
        limit=validation.HOW_KNOWN_MAX,
    )
    return view


def requester_card(request: IntroRequest, advice: list[str]) -> Message:
    if request.connector_outside:
        return outside_card(request, advice)
    request = as_seen(request)
    return _message(
        "requester_card.json.j2",
        r=request,
        status=_status(request),
        next_step=next_step(request, "requester"),
        advice=advice,
        outcomes=labels()["outcome"],
        next_outcomes=[str(outcome) for outcome in next_outcomes(request.status)],
    )


def notice(
    request: IntroRequest,
    event: str,
    data: dict[str, Any] | None = None,
    paths: Sequence[str] = (),
    *,
    secondary: Sequence[str] = (),
    names: dict[str, str] | None = None,
) -> Message:
    """A one-off message; a dead end's lists `paths` (who else to ask, best first);
    `secondary` (with `names`) are the teammates a secondary intro offer suggests."""
    data = data or {}
    request = as_seen(request)  # notices before an intro go to the requester
    return _message(
        "notice.json.j2",
        r=request,
        event=event,
        outcome=data.get("outcome", ""),
        choice=data.get("choice", ""),
        direct_message=direct_message(request) if event == "mention_name" else "",
        cold_message=cold_message(request) if event == "went_cold" else "",
        outcomes=labels()["outcome"],
        paths=list(paths),
        dead_end_events=DEAD_END_EVENTS,
        # A cold approach that got no answer is not offered another cold one.
        cold_after=COLD_AFTER if request.connector_id else frozenset(),
        bump_message=bump_message(request) if event == "bump" else "",
        secondary=list(secondary),
        names={user_id: (names or {}).get(user_id, "a teammate") for user_id in secondary},
        target_first_name=first_name(request.target_name),
        connector_first_name=first_name(request.connector_name or ""),
        person_first_name=first_name(request.suggested_name or "them"),
        ask_again_on=long_date(request.ask_again_on),
        words=data.get("words", ""),
        thanked_after=data.get("status", ""),
    )


def thanks_modal(request: IntroRequest, *, sent: bool = False) -> dict[str, Any]:
    """The requester's thanks to the connector, prefilled for where the request stands."""
    phrases: dict[str, str] = labels()["thanks"]
    seen = as_seen(request)
    # Whom an ask for a way in reached, when the requester was never told: "them".
    target = first_name(request.target_name) if seen is request else "them"
    request = seen
    said = phrases.get(request.outcome or "") or phrases.get(request.status) or phrases["default"]
    if request.status != Status.TARGET_DECLINED and not request.intro_made_at:
        said = phrases["name_mentioned"]  # no intro: they lent their name
    connector = first_name(request.connector_name or "")
    prefill = said.format(target=target, to=f", {connector}" if connector else "")
    view: dict[str, Any] = render_json(
        "thanks_modal.json.j2", r=request, sent=sent, prefill=prefill, limit=THANKS_MAX
    )
    return view


def reminder(
    request: IntroRequest,
    kind: str,
    secondary: list[str] | None = None,
    *,
    now: datetime | None = None,
    tz_name: str | None = None,
    last: bool = False,
    next_due: datetime | None = None,
) -> Message:
    """A reminder as it reads when it arrives: working hours can hold one over a weekend, so
    the day of the intro is named ("on Friday") rather than promised ("within 24 hours").

    `last`: the last "did they answer?" before the ask goes quiet; `next_due`: when the next
    reminder comes, for the answer to "Still waiting"."""
    secondary = secondary or []
    if request.connector_outside:
        return _outside_reminder(request, kind, secondary, now=now, tz_name=tz_name, last=last)
    request = as_seen(request, by_connector=kind in CONNECTOR_REMINDERS)
    zone = time_zone(tz_name)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    introduced = request.intro_made_at.astimezone(zone).date() if request.intro_made_at else None
    return _message(
        "reminder.json.j2",
        r=request,
        reminder=kind,
        days_since_intro=(today - introduced).days if introduced else None,
        intro_weekday=introduced.strftime("%A") if introduced else "",
        intro_date=f"{introduced:%b} {introduced.day}" if introduced else "",
        secondary=secondary,
        outcomes=labels()["outcome"],
        last=last,
        next_date=long_date(next_due.astimezone(zone).date()) if next_due else "",
        ask=optin_ask(request) if kind == "ask_again" else "",
        ask_again_on=long_date(request.ask_again_on),
        next_outcomes=[str(outcome) for outcome in next_outcomes(request.status)],
        stage_date=_stage_date(request, zone),
    )


def outside_card(request: IntroRequest, advice: list[str]) -> Message:
    """The requester's card for a connector outside the team: the ask to send them while it
    waits on them, and a button for each answer the requester can report."""
    return _message(
        "outside_card.json.j2",
        r=request,
        status=_status(request),
        connector_first=first_name(request.connector_name or ""),
        target_first=first_name(request.target_name),
        email_parts=in_sections(outside_email(request))
        if request.status == Status.AWAITING_CONNECTOR
        else [],
        advice=advice,
        outcomes=labels()["outcome"],
        next_outcomes=[str(outcome) for outcome in next_outcomes(request.status)],
    )


# What a section block holds, less the code block's fences.
SECTION_TEXT_MAX = 2900


def in_sections(text: str, limit: int = SECTION_TEXT_MAX) -> list[str]:
    """`text` in paragraphs gathered into parts that each fit a section once escaped, so a
    long email is shown whole, in as many blocks as it needs (a paragraph longer than a
    section on its own is clipped there)."""
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if not current or len(escape_mrkdwn(candidate)) <= limit:
            current = candidate
        else:
            parts.append(current)
            current = paragraph
    return [*parts, current] if current else parts


def _outside_reminder(
    request: IntroRequest,
    kind: str,
    secondary: list[str],
    *,
    now: datetime | None,
    tz_name: str | None,
    last: bool,
) -> Message:
    """A reminder to the requester of a request whose connector is outside the team."""
    zone = time_zone(tz_name)
    today = (now or datetime.now(UTC)).astimezone(zone).date()
    introduced = request.intro_made_at.astimezone(zone).date() if request.intro_made_at else None
    return _message(
        "outside_reminder.json.j2",
        r=request,
        reminder=kind,
        connector_first=first_name(request.connector_name or ""),
        target_first=first_name(request.target_name),
        secondary=secondary,
        last=last,
        days_since_intro=(today - introduced).days if introduced else None,
        intro_weekday=introduced.strftime("%A") if introduced else "",
        intro_date=f"{introduced:%b} {introduced.day}" if introduced else "",
        outcomes=labels()["outcome"],
        next_outcomes=[str(outcome) for outcome in next_outcomes(request.status)],
        stage_date=_stage_date(request, zone),
    )


def outside_modal(prefill: ModalPrefill, context: ModalContext) -> dict[str, Any]:
    """The request form for a connector outside the team, what was typed carried over."""
    view: dict[str, Any] = render_json(
        "outside_modal.json.j2",
        prefill=prefill,
        private_metadata=context.dump(),
        limits=LIMITS,
        outside_limits={"name": outside.NAME_MAX, "tie": outside.TIE_MAX},
        Outside=OUTSIDE_BLOCKS,
    )
    return view


@dataclass(frozen=True)
class _OutsideBlocks:
    NAME: str = outside.NAME
    EMAIL: str = outside.EMAIL
    KNOWS_TARGET: str = outside.KNOWS_TARGET
    KNOWS_THEM: str = outside.KNOWS_THEM


OUTSIDE_BLOCKS = _OutsideBlocks()


def _stage_date(request: IntroRequest, zone: tzinfo) -> str:
    """When the stage a request is in was reported, as "Oct 30" in the reader's zone."""
    moment = (
        request.opportunity_at if request.status == Status.OPPORTUNITY else request.meeting_at
    ) or request.outcome_at
    if moment is None:
        return ""
    day = moment.astimezone(zone).date()
    return f"{day:%b} {day.day}"


def not_now_modal(request: IntroRequest, today: date) -> dict[str, Any]:
    """ "Not now": the day to ask the target again, four weeks out unless the connector
    picks another."""
    view: dict[str, Any] = render_json(
        "not_now_modal.json.j2",
        r=request,
        request_id=request.id,
        initial_date=(today + timedelta(weeks=4)).isoformat(),
    )
    return view


def note(kind: str, **context: Any) -> str:
    defaults = {"party": "", "status_label": "", "detail": "", "connector": ""}
    rendered: dict[str, str] = render_json("note.json.j2", kind=kind, **(defaults | context))
    return rendered["text"]


def declined_words(found: AskReview) -> dict[str, str]:
    """A no that still holds, as the form words it: who, on which day, held until when."""
    decline = found.target_declined
    assert decline is not None
    today = decline.declined_at.date()
    return {
        "target": decline.target_name,
        "on": day_of(decline.declined_at, today),
        "until": day_of(decline.until(found.target_declined_hold), today),
        "strict": "yes" if found.enforce_pacing else "",
    }


def target_on_hold(decline: TargetDecline, until: datetime) -> str:
    """A way back to a person whose no holds, refused: when they said no, and until when."""
    today = decline.declined_at.date()
    return note(
        "target_on_hold",
        target=decline.target_name,
        on=day_of(decline.declined_at, today),
        until=day_of(until, today),
    )


def status_label(status: str) -> str:
    """Where a request stands, in a sentence (for a note that a button is out of date)."""
    return str(labels()["status"][status]["stale"])


def intro_modal(
    prefill: ModalPrefill,
    context: ModalContext,
    source_hint: str | None = None,
    *,
    source_hint_mrkdwn: str | None = None,
    suggestions: Sequence[Suggestion] = (),
    flags: Sequence[dict[str, str]] = (),
    searched: bool = False,
    coaching: Mapping[str, list[str]] | None = None,
    pacing_note: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The request form. A picked connector gets a block id of its own, because Slack keeps
    what was typed in an input across views.update unless its block id changes. `coaching`:
    field -> the fixes to show under it, with Send anyway. `pacing_note`: the picked
    connector's load against a limit not yet hit (connector_id, code, count, limit)."""
    view: dict[str, Any] = render_json(
        "intro_modal.json.j2",
        **_intro_modal_values(prefill, context, source_hint),
        source_hint_mrkdwn=source_hint_mrkdwn,  # already escaped: carried over from Slack
        suggestions=suggestions,
        flags=flags,
        searched=searched,
        coaching=coaching or {},
        pacing_note=pacing_note,
        findings_slot=None,
    )
    return view


def _intro_modal_values(
    prefill: ModalPrefill, context: ModalContext, source_hint: str | None
) -> dict[str, Any]:
    return {
        "prefill": prefill,
        "private_metadata": context.dump(),
        "offered_by": context.offered_by,
        "pointed_by": context.pointed_by,
        "pointed_from": context.pointed_from,
        "first_connector": context.first_connector,
        "source_hint": source_hint,
        "limits": LIMITS,
        "closeness": labels()["closeness"],
        "tie_shared": labels()["tie_shared"],
        "share_name": labels()["share_name"],
        "ask_sizes": labels()["ask_size"],
        "pacing": labels()["pacing"],
        "connector_block_id": BlockId.CONNECTOR.picked(prefill.connector_id),
        "way_in": prefill.way_in,
    }


# Where the findings go in the form's text: no value can render it, as every value in a JSON
# template is escaped for a JSON string (a NUL becomes \u0000).
_FINDINGS_SLOT = Markup("\x00findings\x00")


@dataclass(frozen=True, slots=True)
class IntroForm:
    """The request form as intro_modal renders it with no findings, coaching or pacing note,
    kept as JSON text cut where its findings go: it goes to Slack as it is (views.open and
    views.update take a view as a JSON string), and findings rendered alone go into its cut,
    with nothing parsed or encoded again."""

    head: str
    tail: str

    def with_findings(self, findings: str = "") -> str:
        """The view as JSON text, with these findings (intro_findings.json.j2's text)."""
        return f"{self.head}{findings}{self.tail}"


def intro_form(
    prefill: ModalPrefill, context: ModalContext, source_hint: str | None = None
) -> IntroForm:
    """The request form to open, as JSON text (`IntroForm`). A name only fills in its field:
    the form with any other name is kept, rendered once per everything else (the other
    fields, the context, the hint; for `/intro`, always the same), and the name's text is
    put in its place."""
    if not prefill.target_name.strip():  # no name: the form may ask for a way in
        return _rendered_intro_form(prefill, context, source_hint)
    # What the form shows of the context beside its metadata is in the metadata too.
    key = (astuple(replace(prefill, target_name="")), context.dump(), source_hint)
    slotted = _FORMS_FOR_A_NAME.get(key)
    if slotted is None:
        slotted = _rendered_intro_form(
            replace(prefill, target_name=_NAME_SLOT), context, source_hint
        )
        if len(_FORMS_FOR_A_NAME) >= _FORMS_KEPT:
            _FORMS_FOR_A_NAME.clear()
        _FORMS_FOR_A_NAME[key] = slotted
    slot = _name_field_text(_NAME_SLOT)
    if slotted.head.count(slot) + slotted.tail.count(slot) != 1:  # a field typed like the slot
        return _rendered_intro_form(prefill, context, source_hint)
    name = _name_field_text(prefill.target_name)
    return IntroForm(slotted.head.replace(slot, name), slotted.tail.replace(slot, name))


# The name in a form kept for any name: a NUL cannot be typed into it unescaped (see
# `_FINDINGS_SLOT`). At most `_FORMS_KEPT` forms are kept, each some 11 KB.
_NAME_SLOT = "\x00name\x00"
_FORMS_KEPT = 64
_FORMS_FOR_A_NAME: dict[tuple[Any, ...], IntroForm] = {}


def _name_field_text(name: str) -> str:
    """The name as the form's template writes it into its field (intro_modal.json.j2)."""
    filters = environment().filters
    return str(filters["plain"](filters["clip"](name, LIMITS["target_name"])))


def _rendered_intro_form(
    prefill: ModalPrefill, context: ModalContext, source_hint: str | None
) -> IntroForm:
    rendered = render_json_text(
        "intro_modal.json.j2",
        **_intro_modal_values(prefill, context, source_hint),
        source_hint_mrkdwn=None,
        suggestions=(),
        flags=(),
        searched=False,
        coaching={},
        pacing_note=None,
        findings_slot=_FINDINGS_SLOT,
    )
    head, tail = rendered.split(_FINDINGS_SLOT)
    return IntroForm(head, tail)


def intro_with_findings(
    shown: IntroForm,
    prefill: ModalPrefill,
    *,
    suggestions: Sequence[Suggestion] = (),
    flags: Sequence[dict[str, str]] = (),
    searched: bool = False,
) -> str:
    """The form `shown` with these findings in their place, as JSON text: the view
    intro_modal renders with them, with only the findings' blocks rendered again."""
    return shown.with_findings(
        render_json_text(
            "intro_findings.json.j2",
            prefill=prefill,
            way_in=prefill.way_in,
            suggestions=suggestions,
            flags=flags,
            searched=searched,
            tie_shared=labels()["tie_shared"],
            pacing=labels()["pacing"],
        )
    )


def offer_card(offer: IntroOffer) -> Message:
    """The rep's DM about a connector's offer: Take it / No thanks, then what they chose."""
    return _message("offer.json.j2", kind="card", o=offer)


def workspace_notice(data: Mapping[str, Any]) -> Message:
    """A DM about the workspace rather than a request: the admin who connected its CRM hears
    the CRM stopped taking pushes, and what to do."""
    vendor = VENDOR_LABEL.get(str(data.get("vendor", "")), "your CRM")
    return _message("crm_notice.json.j2", vendor_label=vendor, why=data.get("why", ""))


def offer_notice(offer: IntroOffer) -> Message:
    """The connector hears, kindly, that the rep passed."""
    return _message("offer.json.j2", kind="passed", o=offer)


@dataclass(frozen=True)
class OfferPrefill:
    """The offer form opened from a digest's account: the rep whose list it is and the
    company, and the digest's account it came from (DigestPick, encoded)."""

    rep_id: str = ""
    company: str = ""
    from_digest: str = ""


def offer_modal(prefill: OfferPrefill | None = None) -> dict[str, Any]:
    view: dict[str, Any] = render_json(
        "offer_modal.json.j2", limits=LIMITS, prefill=prefill or OfferPrefill()
    )
    return view


def cold_modal(request: IntroRequest) -> dict[str, Any]:
    """The form, once the requester chose to go in cold: the message to paste."""
    view: dict[str, Any] = render_json(
        "cold_modal.json.j2", r=request, cold_message=cold_message(request)
    )
    return view


def decline_modal(request: IntroRequest) -> dict[str, Any]:
    request = as_seen(request, by_connector=True)
    view: dict[str, Any] = render_json("decline_modal.json.j2", r=request, request_id=request.id)
    return view


def owner_decline_modal(request: IntroRequest) -> dict[str, Any]:
    view: dict[str, Any] = render_json(
        "owner_decline_modal.json.j2", r=request, request_id=request.id
    )
    return view


def redirect_modal(request: IntroRequest) -> dict[str, Any]:
    request = as_seen(request, by_connector=True)
    view: dict[str, Any] = render_json("redirect_modal.json.j2", r=request, request_id=request.id)
    return view


def home_view(
    mine: list[IntroRequest],
    waiting: list[IntroRequest],
    *,
    first_time: bool,
    notice_text: str | None = None,
    contacts: Sequence[Contact] = (),
    contacts_total: int = 0,
    funnel: Markup | None = None,
    contact_page: ContactPage | None = None,
    share_tie_details: bool = False,
    accounts: HomeAccounts | None = None,
    webhook: Any = None,
    crm: CrmState | None = None,
) -> dict[str, Any]:
    mine = [as_seen(r) for r in mine]
    waiting = [as_seen(r, by_connector=True) for r in waiting]
    steps = {r.id: next_step(r, "requester") for r in mine}
    steps |= {r.id: next_step(r, "connector") for r in waiting}
    # The opt-in ask and the intro email for the first few being checked with their target
    # (the DM has them all): Slack allows a Home tab 100 blocks.
    checking = [r for r in waiting if r.status == "checking_with_target"][:HOME_SCRIPTS]
    scripts = {r.id: (optin_ask(r), forwardable_email(r)) for r in checking}
    view: dict[str, Any] = render_json(
        "home.json.j2",
        mine=mine,
        waiting=waiting,
        first_time=first_time,
        labels=labels(),
        next_steps=steps,
        scripts=scripts,
        notice=notice_text,
        contacts=contact_page.contacts if contact_page else contacts,
        contacts_total=contact_page.total if contact_page else contacts_total,
        contacts_matching=contact_page.matching if contact_page else contacts_total,
        first_shown=contact_page.first_shown if contact_page else min(1, len(contacts)),
        last_shown=contact_page.last_shown if contact_page else len(contacts),
        page=contact_page.page if contact_page else 0,
        search=contact_page.search if contact_page else "",
        search_max=SEARCH_MAX,
        share_tie_details=share_tie_details,
        funnel=funnel,
        outcome_choices=_outcome_choices(mine),
        accounts=accounts or HomeAccounts(0, 0, None, 0),
        # The workspace's webhook and its last delivery (bot.delivery.webhooks.WebhookState),
        # shown to admins only.
        webhook=trusted_mrkdwn(command_reply("webhook_shown", webhook=webhook))
        if webhook
        else None,
        # The workspace's CRM, its last push and failed pushes: admins only.
        crm=crm,
    )
    return view


def _outcome_choices(requests: Sequence[IntroRequest]) -> dict[int, list[str]]:
    """The outcome stages each request may move on to (none: nothing to report)."""
    return {
        r.id: [str(outcome) for outcome in next_outcomes(r.status)]
        for r in requests
        if next_outcomes(r.status)
    }


def outcome_list(requests: Sequence[IntroRequest], search: str = "") -> Message:
    """`/intro outcome`: the person's intros whose outcome can move on, each with its choices."""
    return _message(
        "outcome_list.json.j2",
        requests=[r for r in requests if next_outcomes(r.status)],
        outcome_choices=_outcome_choices(requests),
        labels=labels(),
        search=search,
    )


def command_reply(kind: str, **context: Any) -> str:
    defaults: dict[str, Any] = {
        "added": False,
        "name": "",
        "company": "",
        "owner": "",
        "rows": 0,
        "strict": False,
        "in_dm": False,
        "meant": "",
        "typed": "",
        "rep": "",
        "pacing": None,
        "removed": [],
        "not_found": [],
        "lists": "mine",
        "url": "",
        "secret": "",
        "webhook": None,
        "crm": None,
        "other": "",
        "moved": (),
        "parted": (),
        "merges": (),
        "merged": False,
        "most_open": validation.PACING_MAX_OPEN,
        "most_per_30_days": validation.PACING_MAX_PER_30_DAYS,
    }
    rendered: dict[str, str] = render_json("command.json.j2", kind=kind, **(defaults | context))
    return rendered["text"]


def _hours(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}h" if value < 48 else f"{value / 24:.1f}d"


def stats(report: Report, user_id: str) -> Message:
    empty = Funnel()
    connectors = sorted(
        report.by_connector.items(), key=lambda item: -item[1].counts["intro_made"]
    )[:5]
    return _message(
        "stats.json.j2",
        stages=STAGES,
        labels=labels()["funnel"],
        mine=report.by_requester.get(user_id, empty),
        as_connector=report.by_connector.get(user_id, empty),
        workspace=report.workspace,
        connectors=connectors,
        thanked=report.thanked,
        offered=report.offered,
        offers_taken=report.offers_taken,
        hours=_hours,
        outside_names=report.outside_names,
        outside_prefix=OUTSIDE_PREFIX,
    )


def import_message(kind: str, **context: Any) -> Message:
    defaults: dict[str, Any] = {
        "name": "",
        "done": 0,
        "total": 0,
        "added": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "detail": "",
        "limit": 0,
        "reasons": [],
        "more": 0,
        "merged": 0,
        "owners": 0,
        "unowned": 0,
        "unowned_reasons": [],
        "unowned_more": 0,
        "lists": "mine",
        "with_way_in": 0,
    }
    return _message("import.json.j2", kind=kind, **(defaults | context))


def contact_modal(contact: Contact | None = None, back_to: str = "") -> dict[str, Any]:
    """Add someone, or (given a contact) edit them: `back_to` is the Home tab's page and search,
    so saving returns there."""
    view: dict[str, Any] = render_json(
        "contact_modal.json.j2",
        closeness=labels()["closeness"],
        c=contact,
        private_metadata=f"{contact.id}:{back_to}" if contact else "",
    )
    return view


def pacing_modal(
    prefs: ConnectorPrefs, default: Pacing, digest_every: str = "a week"
) -> dict[str, Any]:
    """How often to ask me: the connector's own limits, the workspace's default where blank,
    and whether they hear of teammates' accounts where they know people (at most once
    `digest_every`: "a week")."""
    view: dict[str, Any] = render_json(
        "pacing_modal.json.j2",
        prefs=prefs,
        default=default,
        digest_every=digest_every,
        most_open=validation.PACING_MAX_OPEN,
        most_per_30_days=validation.PACING_MAX_PER_30_DAYS,
    )
    return view


def funnel_lines(report: Report, user_id: str) -> Markup:
    """The stats message's first two sections, for the Home tab."""
    rendered = stats(report, user_id)
    text = "\n".join(block["text"]["text"] for block in rendered.blocks[1:3])
    return trusted_mrkdwn(text)


# --- target accounts --------------------------------------------------------------------


def lists_shown(list_owner_ids: Sequence[str]) -> str:
    """Which lists a coverage is of, as its words say it: "mine", "team" or "both"."""
    if WORKSPACE_LIST not in list_owner_ids:
        return "mine"
    return "both" if len(list_owner_ids) > 1 else "team"


def lists_held(coverage: Coverage, list_owner_ids: Sequence[str]) -> str:
    """Which of the lists asked for hold the accounts covered, as `lists_shown` says it."""
    held = {owner for account in coverage.accounts for owner in account.lists}
    return lists_shown([owner for owner in list_owner_ids if owner in held] or list_owner_ids)


def account_line(account: AccountCoverage, *, mark_workspace: bool = False) -> str:
    """One account's coverage, as mrkdwn (escaped), on one line."""
    rendered = render_json(
        "accounts.json.j2",
        kind="line",
        a=account,
        mark_workspace=mark_workspace,
        tie_at=labels()["tie_at_account"],
        outcome_labels=labels()["outcome"],
    )
    line = str(rendered["text"])
    return line if len(line) <= ACCOUNT_LINE_MAX else line[: ACCOUNT_LINE_MAX - 1] + "…"


def pack_lines(lines: Sequence[str], sections: int, chars: int) -> tuple[list[str], int]:
    """Lines packed into at most `sections` texts of at most `chars` each, in order; the
    texts, and how many lines they hold."""
    packed: list[str] = []
    shown = 0
    for line in lines:
        if packed and len(packed[-1]) + 1 + len(line) <= chars:
            packed[-1] += "\n" + line
        elif len(packed) < sections:
            packed.append(line)
        else:
            break
        shown += 1
    return packed, shown


def accounts_message(coverage: Coverage, list_owner_ids: Sequence[str]) -> Message:
    """`/intro accounts`: the counts on top, then each account's coverage."""
    lists = lists_shown(list_owner_ids)
    held = lists_held(coverage, list_owner_ids)
    lines = [account_line(a, mark_workspace=held == "both") for a in coverage.accounts]
    sections, shown = pack_lines(lines, ACCOUNT_SECTIONS, ACCOUNT_SECTION_MAX)
    return _message(
        "accounts.json.j2",
        kind="coverage",
        total=coverage.total,
        with_way_in=coverage.with_way_in,
        lists=lists,
        held=held,
        sections=[trusted_mrkdwn(section) for section in sections],
        more=len(lines) - shown,
    )


@dataclass(frozen=True)
class HomeAccounts:
    """The Home tab's accounts: the counts, the first few, how many more."""

    total: int
    with_way_in: int
    lines: Markup | None
    more: int


def home_accounts(coverage: Coverage, list_owner_ids: Sequence[str]) -> HomeAccounts:
    held = lists_held(coverage, list_owner_ids)
    lines = [
        account_line(a, mark_workspace=held == "both") for a in coverage.accounts[:HOME_ACCOUNTS]
    ]
    packed, shown = pack_lines(lines, 1, ACCOUNT_SECTION_MAX)
    return HomeAccounts(
        total=coverage.total,
        with_way_in=coverage.with_way_in,
        lines=trusted_mrkdwn(packed[0]) if packed else None,
        more=coverage.total - shown,
    )


def crm_modal(
    vendor: str,
    stage: str = "form",
    result: ConnectResult | None = None,
    kept: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An admin connects the workspace's CRM: the form ("form", again with `result` when
    connecting did not work, the non-secret fields `kept`), the check under way
    ("checking"), or the connection made ("done")."""
    view: dict[str, Any] = render_json(
        "crm_modal.json.j2",
        vendor=vendor,
        stage=stage,
        result=result,
        kept={name: value for name, value in (kept or {}).items() if name in KEPT_FIELDS},
        field_max=CRM_FIELD_MAX,
    )
    return view


def crm_consent_modal(url: str) -> dict[str, Any]:
    """Installed over OAuth: the admin goes on to HubSpot's consent page, `url`."""
    view: dict[str, Any] = render_json("crm_consent_modal.json.j2", url=url)
    return view


def accounts_modal(*, admin: bool) -> dict[str, Any]:
    """Paste accounts from the Home tab; an admin picks the list."""
    view: dict[str, Any] = render_json("accounts_modal.json.j2", admin=admin, most=MAX_TYPED)
    return view
