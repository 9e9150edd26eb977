"""What a state change writes, decided without a database: the rules both write paths follow.

Pure: no session, no await, no I/O. The moment (`now`) and the cadence come in as arguments;
what is read of a request or an offer is plain attributes. The ORM path writes what these
functions return; the single-statement path (PostgreSQL) plans with them too and builds its
SQL from the key formats and the reminder field named here, so the two cannot drift apart.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bot.intro.cadence import Cadence, zone
from bot.intro.crm import CrmStage
from bot.intro.matching import company_key, person_surname_key, same_person
from bot.intro.states import (
    ACTOR,
    REPORTED,
    TRANSITIONS,
    Action,
    Role,
    Status,
    next_status,
)
from bot.intro.states import Outcome as OutcomeKind
from bot.intro.validation import EMAIL_MAX, email_problem
from bot.intro.workflow.errors import InvalidSuggestion, NotYourRequest
from bot.intro.workflow.results import ActionDetails, Lease, TieUnknown
from storage.models import (
    Contact,
    DeliveryStatus,
    IntroOffer,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    built,
)

if TYPE_CHECKING:
    from bot.intro.validation import RequestDraft

# The connector's answers to "would they take your call?" (labels.json qualify).
QUALIFY_ANSWERS = ("well", "somewhat", "not_really")
# The column that keeps the date each outcome stage was reported.
STAGE_DATE = {
    OutcomeKind.MEETING_HELD: "meeting_at",
    OutcomeKind.OPPORTUNITY: "opportunity_at",
    OutcomeKind.CLOSED_WON: "won_at",
    OutcomeKind.CLOSED_LOST: "lost_at",
}
# Reminders asking how a meeting or an opportunity went, in the status each is asked in.
STAGE_REMINDERS = (Status.MEETING_HELD, Status.OPPORTUNITY)
# Events the bot itself records about a request (not transitions).
SECONDARY_OFFERED = "secondary_offer"
BUMP_SENT = "bump"
# The requester's reminders for a connector outside the team: has the connector answered the
# ask they forwarded, and has the connector heard from the target.
OUTSIDE_ASKED = "outside_asked"
OUTSIDE_CHECKING = "outside_checking"
# The requester's own thanks to the connector: after the person's no, and after an outcome.
THANKS_SENT = "thanks"
THANKS_MAX = 500
THANKED_AFTER = frozenset(
    {
        Status.TARGET_DECLINED,
        Status.NAME_MENTIONED,
        Status.MEETING_HELD,
        Status.OPPORTUNITY,
        Status.CLOSED,
        Status.NO_RESPONSE,
    }
)


def thankable(request: IntroRequest) -> bool:
    """Whether the requester may send the connector their thanks now: there is a connector on
    Slack, and the request is past the point thanks are about (a no, a lent name, an outcome)."""
    return bool(request.connector_id) and request.status in THANKED_AFTER


# Who takes the system's actions (a reminder that moves the request on), in its events.
SYSTEM_ACTOR = "introbot"
# The earliest a calendar day starts anywhere (UTC+14): a reminder for a day is due from then,
# and delivery holds it until that day has come in the recipient's own time zone.
EARLIEST_OFFSET = timedelta(hours=14)

# --- message keys -----------------------------------------------------------------------------
# A message's dedupe key, unique in its team: a state change written twice (a retry, another
# replica) writes each message once. Its fields before `key` hold no ":".
REQUEST_KEY = "request:{request_id}:{kind}:{key}"
OFFER_KEY = "offer:{offer_id}:{kind}:{key}"
# Within a request's key: a card refreshed by an event, and the notice an event sends.
REFRESH_KEY = "refresh:{card}:{event_id}"
NOTICE_KEY = "notice:{event_id}"
# A state change's POST to the workspace's webhook: one per event, however often it is written.
WEBHOOK_KEY = "change:{event_id}"
# A stage pushed to the workspace's CRM: one per request and stage, however often it is written
# (a stage reached again adds nothing to the CRM record).
CRM_KEY = "crm:{stage}"
# The reminder field naming the statuses a reminder is still wanted in: once the request is in
# any other, the reminder is outdated and cancelled.
EXPECTS = "expects"
# The follow-up reminder's field: the seconds to wait after the intro, within the day.
FOLLOW_UP_WAIT = "wait_s"

_FIELDS_BEFORE_KEY = REQUEST_KEY[: REQUEST_KEY.index("{key}")].count(":")


def request_dedupe_key(request_id: int | str | None, kind: str, key: str) -> str:
    return REQUEST_KEY.format(request_id=request_id, kind=kind, key=key)


def key_within(dedupe_key: str) -> str:
    """The `key` part of a request message's dedupe key (what follows its request and kind)."""
    return dedupe_key.split(":", _FIELDS_BEFORE_KEY)[_FIELDS_BEFORE_KEY]


def offer_dedupe_key(offer_id: int, kind: MessageKind, key: str) -> str:
    """An offer's message key: its card is found again by it, to refresh it."""
    return OFFER_KEY.format(offer_id=offer_id, kind=kind, key=key)


def refresh_key(card: str, event_id: int | str) -> str:
    return REFRESH_KEY.format(card=card, event_id=event_id)


def notice_key(event_id: int | str) -> str:
    return NOTICE_KEY.format(event_id=event_id)


def format_fields(key_format: str) -> list[tuple[str, str | None]]:
    """A key format as (literal text, field name or None) pairs, for a statement to build the
    same key in SQL."""
    return [(literal, name) for literal, name, _, _ in string.Formatter().parse(key_format)]


def asked_for(ask: IntroRequest | RequestDraft) -> dict[str, Any]:
    """A new request's columns naming whom it asks for and why, from a form or an earlier
    request: trimmed, the surname key within its column."""
    return {
        "target_name": ask.target_name.strip(),
        "target_surname_key": person_surname_key(ask.target_name)[:150],
        "target_company": ask.target_company.strip(),
        "target_company_key": company_key(ask.target_company)[:150],
        "reason": ask.reason.strip(),
        "blurb": ask.blurb.strip(),
        "ask_size": ask.ask_size,
        "anonymous_as": ask.anonymous_as.strip()[:200],
        "way_in": bool(ask.way_in),
        "target_role": ask.target_role.strip()[:200],
    }


def went_quiet_after_intro(request: IntroRequest) -> bool:
    """The target agreed to this request's intro, then never answered: a request that follows
    it is a second voice."""
    return (
        request.status == Status.NO_RESPONSE
        and request.intro_made_at is not None
        and bool(request.connector_id)
    )


# --- who may act, from where --------------------------------------------------------------------
# The attribute naming who may take each role's actions.
PARTY_COLUMN = {
    Role.CONNECTOR: "connector_id",
    Role.REQUESTER: "requester_id",
    Role.OWNER: "account_owner_id",
}


def _edges() -> dict[Action, dict[Status, Status]]:
    edges: dict[Action, dict[Status, Status]] = {}
    for (source, action), target in TRANSITIONS.items():
        edges.setdefault(action, {})[source] = target
    return {a: e for a, e in edges.items() if len(set(e.values())) == len(e)}


# Where an action can be taken from and what it leads to, for the actions whose edges lead to
# different statuses (so the status a change left is known from the one it reached).
EDGES: dict[Action, dict[Status, Status]] = _edges()
SOURCE_OF: dict[tuple[Action, Status], Status] = {
    (a, t): s for a, e in EDGES.items() for s, t in e.items()
}


def movable(action: Action) -> bool:
    """Whether one UPDATE can make `action`'s move: taken by a named party, its edges leading
    to different statuses (the status it left is known from the one it reached)."""
    return action in EDGES and ACTOR[action] in PARTY_COLUMN


def is_outside(request: IntroRequest) -> bool:
    """Whether the request's connector is outside the team (no Slack user: the requester
    forwards the ask and reports each step on the connector's behalf)."""
    return bool(request.connector_outside)


def connector_side(request: IntroRequest) -> str:
    """Who hears what the connector would: the connector, or for a connector outside the team
    the requester, who carries the ask to them."""
    return request.requester_id if is_outside(request) else request.connector_id


def party_of(request: IntroRequest, role: Role) -> str:
    """Who takes `role`'s actions on this request: for a connector outside the team, the
    requester reports the connector's answers."""
    if role is Role.SYSTEM:
        return SYSTEM_ACTOR
    if role is Role.CONNECTOR:
        return connector_side(request)
    return getattr(request, PARTY_COLUMN[role]) or ""


def check_party(request: IntroRequest, role: Role, actor_id: str) -> None:
    """Raises NotYourRequest unless `actor_id` takes `role`'s actions on this request."""
    party = party_of(request, role)
    if actor_id != party:
        raise NotYourRequest(role, party)


def permitted(request: IntroRequest, actor_id: str, action: Action) -> tuple[Status, Status]:
    """The edge `actor_id` may take: the status the request is in and the one it goes to.
    Raises NotYourRequest (not their role on this request) or IllegalTransition."""
    check_party(request, ACTOR[action], actor_id)
    current = Status(request.status)
    return current, next_status(current, action)


def check_suggestion(
    request: IntroRequest,
    action: Action,
    suggested_user_id: str | None,
    suggested_name: str | None = None,
) -> None:
    """A redirect names a third teammate; a better person is someone other than the target."""
    if action is Action.SUGGEST_PERSON:
        if same_person(request.target_name, suggested_name or ""):
            raise InvalidSuggestion("name someone other than the person they asked for")
        return
    if action is not Action.REDIRECT:
        return
    if not suggested_user_id:
        raise InvalidSuggestion("pick a teammate to suggest")
    if suggested_user_id in (request.requester_id, request.connector_id):
        raise InvalidSuggestion("suggest someone other than the two of you")


# Actions that need the person: on an ask for a way in, the connector picks them first.
NEEDS_PERSON = (Action.ACCEPT, Action.MENTION_NAME)


def awaiting_pick(request: IntroRequest) -> bool:
    """An ask for a way in whose connector has not picked the person yet."""
    return bool(request.way_in) and not (request.target_name or "").strip()


def check_pick(request: IntroRequest, action: Action, picked: str | None) -> None:
    """An ask for a way in is accepted with the person picked (nothing else needs one: the
    connector cannot lend their name for no one); only such an ask takes a pick. Holds
    whether `request` is read before the change or after it (the pick then on the row)."""
    picked = _words(picked)
    if picked is not None and (action is not Action.ACCEPT or not request.way_in):
        raise InvalidSuggestion("only an ask for a way in takes a person to pick")
    if action in NEEDS_PERSON and awaiting_pick(request) and picked is None:
        raise InvalidSuggestion("pick the person to ask first")


# --- what an action writes on the request ------------------------------------------------------


def _words(text: str | None) -> str | None:
    return (text or "").strip() or None


def _better_person(_: Action, details: ActionDetails, __: datetime) -> dict[str, Any]:
    """The better person to talk to, as the connector named them: a name, at least."""
    name = _words(details.get("suggested_name"))
    if name is None:
        raise InvalidSuggestion("name the person to talk to instead")
    return {
        "suggested_name": name[:150],
        "suggested_title": _words(details.get("suggested_title")),
        "suggested_company": _words(details.get("suggested_company")),
        "suggestion_note": _words(details.get("note")),
    }


def _accepted(_: Action, details: ActionDetails, __: datetime) -> dict[str, Any]:
    """Accepting an ask for a way in names the person the connector picked: the target from
    here on, so every rule keyed on the person (their no, open asks for them) applies."""
    picked = _words(details.get("picked_name"))
    if picked is None:
        return {}
    return {"target_name": picked[:150], "target_surname_key": person_surname_key(picked)[:150]}


def _owner_approved(_: Action, details: ActionDetails, __: datetime) -> dict[str, Any]:
    blurb = (details.get("blurb") or "").strip()
    return {"blurb": blurb} if blurb else {}  # the owner edited the note


def _ask_again_on(_: Action, details: ActionDetails, now: datetime) -> dict[str, Any]:
    day = valid_ask_again_on(details.get("ask_again_on"), details.get("tz_name"), now)
    return {"ask_again_on": day}


def _agreed(_: Action, details: ActionDetails, now: datetime) -> dict[str, Any]:
    """The intro is made; the target's email, when the connector gave it for the workspace's
    CRM, is kept with the change (until the push has used it: PRIVACY.md)."""
    values: dict[str, Any] = {"intro_made_at": now}
    email = (details.get("target_email") or "").strip().lower()
    if email:
        problem = email_problem(email)
        if problem is not None:
            raise InvalidSuggestion(problem)
        values["target_email"] = email[:EMAIL_MAX]
    return values


def _reported(action: Action, _: ActionDetails, now: datetime) -> dict[str, Any]:
    stage = REPORTED[action]
    values: dict[str, Any] = {"outcome": stage.value, "outcome_at": now}
    if stage in STAGE_DATE:
        values[STAGE_DATE[stage]] = now
    return values


_Change = Callable[[Action, ActionDetails, datetime], dict[str, Any]]
_CHANGES: dict[Action, _Change] = {
    Action.DECLINE: lambda _, d, __: {"decline_reason": _words(d.get("reason"))},
    Action.OWNER_DECLINE: lambda _, d, __: {"decline_reason": _words(d.get("reason"))},
    Action.REDIRECT: lambda _, d, __: {
        "suggested_user_id": d.get("suggested_user_id"),
        "suggestion_note": _words(d.get("note")),
    },
    Action.SUGGEST_PERSON: _better_person,
    Action.MENTION_NAME: lambda _, d, __: {"how_known": _words(d.get("how_known"))},
    Action.TARGET_AGREED: _agreed,
    Action.ACCEPT: _accepted,
    Action.OWNER_APPROVE: _owner_approved,
    Action.FOLLOW_UP: lambda _, __, now: {"followed_up_at": now},
    Action.TARGET_NOT_NOW: _ask_again_on,
    **dict.fromkeys(REPORTED, _reported),
}


def column_changes(action: Action, details: ActionDetails, now: datetime) -> dict[str, Any]:
    """The columns `action` sets besides its status and `updated_at`. Raises
    InvalidSuggestion for a day to ask again that is not after today, a better person
    without a name, or a target's email that is not one."""
    change = _CHANGES.get(action)
    return change(action, details, now) if change else {}


def valid_ask_again_on(text: str | None, tz_name: str | None, now: datetime) -> date:
    """The day the connector will ask the target again: a date after today where they are
    (`tz_name`; UTC when unknown)."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        raise InvalidSuggestion("pick the day to ask them again") from None
    if day <= now.astimezone(zone(tz_name)).date():
        raise InvalidSuggestion("pick a day after today")
    return day


# --- messages -----------------------------------------------------------------------------------


def message(
    request: IntroRequest,
    kind: MessageKind,
    recipient_id: str,
    key: str,
    data: dict[str, Any] | None = None,
    *,
    now: datetime,
    due_at: datetime | None = None,
) -> OutboundMessage:
    """A message about `request`, pending, due at `due_at` (or now)."""
    return built(
        OutboundMessage,
        team_id=request.team_id,
        request_id=request.id,
        dedupe_key=request_dedupe_key(request.id, kind, key),
        kind=kind,
        recipient_id=recipient_id,
        data=data or {},
        due_at=due_at or now,
        created_at=now,
        attempts=0,
        status=DeliveryStatus.PENDING.value,
    )


def offer_message(
    offer: IntroOffer, kind: MessageKind, recipient_id: str, key: str, *, now: datetime
) -> OutboundMessage:
    """A message about a connector's offer, pending, due now."""
    return OutboundMessage(
        team_id=offer.team_id,
        request_id=None,
        dedupe_key=offer_dedupe_key(offer.id, kind, key),
        kind=kind,
        recipient_id=recipient_id,
        data={"offer_id": offer.id},
        due_at=now,
        created_at=now,
        attempts=0,
        status=DeliveryStatus.PENDING.value,
    )


def tie_data(contact: Contact | None) -> dict[str, Any] | None:
    """A stale tie as a connector card carries it: what the card shows and its button names."""
    if contact is None:
        return None
    since = contact.since.isoformat() if contact.since else None
    # Imported and never vouched for: connected on LinkedIn, which the card says it is.
    connected = contact.source == "linkedin" and contact.confirmed_at is None
    return {"id": contact.id, "name": contact.name, "since": since, "connected": connected}


def tie_from(data: dict[str, Any] | None) -> Contact | None:
    """The stale tie a card carries (`tie_data`), to show."""
    if data is None:
        return None
    since = date.fromisoformat(data["since"]) if data.get("since") else None
    source = "linkedin" if data.get("connected") else "manual"
    return Contact(id=data["id"], name=data["name"], since=since, source=source)


def pointed_from(request: IntroRequest, previous: IntroRequest | None) -> str | None:
    """Whom the connector pointed the requester away from, when `request` is the ask for the
    better person they named instead (`previous`, the request it follows): the name its card
    gives."""
    if (
        previous is None
        or previous.id != request.previous_request_id
        or previous.team_id != request.team_id
        or previous.status != Status.REDIRECTED_TO_PERSON
        or previous.connector_id != request.connector_id
    ):
        return None
    return previous.target_name


def requester_card(request: IntroRequest, advice: list[str], *, now: datetime) -> OutboundMessage:
    return message(
        request,
        MessageKind.REQUESTER_CARD,
        request.requester_id,
        "card",
        {"advice": advice},
        now=now,
    )


def first_messages(
    request: IntroRequest,
    advice: list[str],
    owner_id: str | None,
    stale_tie: Contact | None | TieUnknown = TieUnknown.UNKNOWN,
    *,
    now: datetime,
    cadence: Cadence,
) -> list[OutboundMessage]:
    """A new request's cards (the owner's first, when there is one to approve) and its
    reminders. `stale_tie` rides on the connector's card when a review looked for it."""
    if owner_id:
        first_card = message(request, MessageKind.OWNER_CARD, owner_id, "card", now=now)
    elif is_outside(request):
        # The requester's own card carries the ask they forward, and its steps.
        return [
            requester_card(request, advice, now=now),
            *reminders_for(request, now=now, cadence=cadence, round_key=""),
        ]
    else:
        reviewed = {} if stale_tie is TieUnknown.UNKNOWN else {"stale_tie": tie_data(stale_tie)}
        first_card = message(
            request, MessageKind.CONNECTOR_CARD, request.connector_id, "card", reviewed, now=now
        )
    return [
        first_card,
        requester_card(request, advice, now=now),
        *reminders_for(request, now=now, cadence=cadence, round_key=""),
    ]


def taken_offer_messages(
    request: IntroRequest,
    offer: IntroOffer,
    advice: list[str],
    *,
    now: datetime,
    cadence: Cadence,
) -> list[OutboundMessage]:
    """A request made from a connector's offer, which starts accepted: the connector's card
    (no tie question: they offered), the rep's offer card refreshed as taken, the requester's
    card, and the reminders of checking with the target."""
    return [
        message(
            request,
            MessageKind.CONNECTOR_CARD,
            request.connector_id,
            "card",
            {"offered": True},
            now=now,
        ),
        offer_message(offer, MessageKind.OFFER_REFRESH, offer.rep_id, "taken", now=now),
        requester_card(request, advice, now=now),
        *reminders_for(request, now=now, cadence=cadence, round_key=""),
    ]


def _notice(request: IntroRequest, action: Action) -> tuple[str | None, dict[str, Any]]:
    """Who hears about an action, and what: the requester of the connector's and owner's
    answers, the connector of each outcome stage (the thank-you that makes connectors
    introduce again). "No response" is no news to thank anyone for: the requester decides
    whether to ask the connector for a nudge.

    A connector outside the team hears nothing from introbot, and the requester reported
    their answers themselves: only the account owner's answer is news to them."""
    if is_outside(request):
        if ACTOR[action] is Role.OWNER:
            return request.requester_id, {"event": action.value}
        return None, {}
    if ACTOR[action] in (Role.CONNECTOR, Role.OWNER) or action is Action.ASK_AGAIN:
        return request.requester_id, {"event": action.value}
    if action in REPORTED and action is not Action.REPORT_NO_RESPONSE:
        # The stage itself: by the time the thank-you is read the request may be further.
        return request.connector_id, {"event": "outcome", "outcome": REPORTED[action].value}
    return None, {}


def promised(
    request: IntroRequest,
    action: Action,
    event_id: int | str,
    cards: dict[MessageKind, str],
    *,
    now: datetime,
    cadence: Cadence,
) -> list[OutboundMessage]:
    """Every message a transition promises, `request` being in its new status: its cards
    (kind -> recipient) refreshed, the connector's card once the owner approves, a notice,
    and the new status's reminders, named by the transition's event."""
    messages = [
        message(
            request,
            MessageKind.CARD_REFRESH,
            recipient,
            refresh_key(card, event_id),
            {"card": card},
            now=now,
        )
        for card, recipient in cards.items()
    ]
    if action is Action.OWNER_APPROVE and not is_outside(request):
        messages.append(
            message(request, MessageKind.CONNECTOR_CARD, request.connector_id, "card", now=now)
        )
    notice_to, notice = _notice(request, action)
    if notice_to:
        messages.append(
            message(request, MessageKind.NOTICE, notice_to, notice_key(event_id), notice, now=now)
        )
    messages += reminders_for(request, now=now, cadence=cadence, round_key=str(event_id))
    return messages


# --- reminders ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reminder:
    name: str
    recipient_id: str
    due_at: datetime
    expects: tuple[Status, ...]
    # Besides its name: the move its delivery makes, or that it is the last "did they answer?".
    extra: dict[str, Any] = field(default_factory=dict)


def _nudges(request: IntroRequest, now: datetime, cadence: Cadence, _: str) -> list[_Reminder]:
    """Awaiting the connector: nudge them, then tell the requester the ask stalled."""
    planned = []
    due = now
    # A connector outside the team: the requester is asked whether they have answered.
    name = OUTSIDE_ASKED if is_outside(request) else "nudge"
    for seq in range(1, cadence.nudges + 1):
        due = cadence.nudge_due(due)
        # The requester's last "has they answered?" stands for the stall: the next paths too.
        last = {"last": True} if is_outside(request) and seq == cadence.nudges else {}
        planned.append(
            _Reminder(
                f"{name}:{seq}", connector_side(request), due, (Status(request.status),), last
            )
        )
    if is_outside(request):
        return planned  # no one to nudge but the requester, who is asked already
    due = cadence.nudge_due(due)
    planned.append(_Reminder("stalled", request.requester_id, due, (Status(request.status),)))
    return planned


def _target_checks(
    request: IntroRequest, now: datetime, cadence: Cadence, round_key: str
) -> list[_Reminder]:
    """Checking with the target: ask the connector "did they answer?", then let the ask go
    quiet. A request can check again after a "not now": `round_key` names the round."""
    planned = []
    checking = (Status.CHECKING_WITH_TARGET,)
    due = now
    reminder = OUTSIDE_CHECKING if is_outside(request) else "target_check"
    for seq in range(1, cadence.target_checks + 1):
        due = cadence.target_check_due(due)
        last = {"last": True} if seq == cadence.target_checks else {}
        name = f"{reminder}:{seq}:{round_key}"
        planned.append(_Reminder(name, connector_side(request), due, checking, last))
    # Unanswered as long again: the ask has gone quiet. Delivering this reminder moves the
    # request on; it stays valid after the move so a lapsed send still tells them.
    planned.append(
        _Reminder(
            f"target_quiet:{round_key}",
            request.requester_id,
            cadence.target_check_due(due),
            (Status.CHECKING_WITH_TARGET, Status.TARGET_QUIET),
            {"moves": Action.GO_QUIET.value},
        )
    )
    return planned


def _ask_again(
    request: IntroRequest, _now: datetime, _cadence: Cadence, round_key: str
) -> list[_Reminder]:
    """The target said not now: the connector is asked again on the day they chose."""
    if request.ask_again_on is None:
        return []
    day_starts = datetime.combine(request.ask_again_on, time(0), UTC) - EARLIEST_OFFSET
    return [
        _Reminder(
            f"ask_again:{round_key}",
            connector_side(request),
            day_starts,
            (Status.ASK_LATER, Status.CHECKING_WITH_TARGET),
            {"moves": Action.ASK_AGAIN.value},
        )
    ]


def _after_intro(request: IntroRequest, now: datetime, cadence: Cadence, _: str) -> list[_Reminder]:
    """The intro was made: suggest following up within the day, then ask how it went.

    When within the day depends on the requester's time zone and working hours, which
    delivery knows: the follow-up is due from the intro, and delivery holds it until
    `cadence.follow_up_due` in their zone (`FOLLOW_UP_WAIT` carries the wait)."""
    return [
        _Reminder(
            "follow_up",
            request.requester_id,
            now,
            (Status.INTRO_MADE,),
            {FOLLOW_UP_WAIT: int(cadence.follow_up_after.total_seconds())},
        ),
        _Reminder(
            "outcome",
            request.requester_id,
            now + cadence.outcome_after,
            (Status.INTRO_MADE, Status.FOLLOWED_UP),
        ),
    ]


def _name_used(request: IntroRequest, now: datetime, cadence: Cadence, _: str) -> list[_Reminder]:
    """The connector lent their name: ask the requester what came of reaching out."""
    return [
        _Reminder(
            "outcome", request.requester_id, now + cadence.outcome_after, (Status.NAME_MENTIONED,)
        )
    ]


def _stage_asks(request: IntroRequest, now: datetime, cadence: Cadence, _: str) -> list[_Reminder]:
    """A meeting or an opportunity: ask again later how it went."""
    planned = []
    due = now
    for seq in range(1, cadence.outcome_asks_again + 1):
        due += cadence.outcome_again_after
        name = f"outcome_again:{request.status}:{seq}"
        planned.append(_Reminder(name, request.requester_id, due, (Status(request.status),)))
    return planned


_REMINDERS: dict[Status, Callable[[IntroRequest, datetime, Cadence, str], list[_Reminder]]] = {
    Status.AWAITING_CONNECTOR: _nudges,
    Status.CHECKING_WITH_TARGET: _target_checks,
    Status.ASK_LATER: _ask_again,
    Status.INTRO_MADE: _after_intro,
    Status.NAME_MENTIONED: _name_used,
    **{status: _stage_asks for status in STAGE_REMINDERS},
}


def reminders_for(
    request: IntroRequest, *, now: datetime, cadence: Cadence, round_key: str = ""
) -> list[OutboundMessage]:
    """The reminders a request entering its current status should get, each due later.

    A status a request can enter more than once (checking with the target again after a
    "not now") names its reminders by `round_key`, the event that started the round."""
    plan = _REMINDERS.get(Status(request.status))
    if plan is None:
        return []
    return [
        message(
            request,
            MessageKind.REMINDER,
            reminder.recipient_id,
            reminder.name,
            {
                "reminder": reminder.name.split(":")[0],
                EXPECTS: [str(s) for s in reminder.expects],
                **reminder.extra,
            },
            now=now,
            due_at=reminder.due_at,
        )
        for reminder in plan(request, now, cadence, round_key)
    ]


def is_outdated(reminder_data: dict[str, Any] | None, status: str) -> bool:
    """Whether a pending reminder is moot once its request is in `status` (the rule the
    single statement writes in SQL from `EXPECTS`)."""
    return status not in (reminder_data or {}).get(EXPECTS, [])


def outdated(reminders: Iterable[tuple[int, dict[str, Any] | None]], status: str) -> list[int]:
    """The ids of the pending reminders (id, data) to cancel once the request is in `status`."""
    return [reminder_id for reminder_id, data in reminders if is_outdated(data, status)]


# --- what goes out at once ----------------------------------------------------------------------


def is_due_now(message: OutboundMessage) -> bool:
    """What delivery sends at once; reminders wait for their time and the sweep."""
    return sent_at_once(message.kind)


def sent_at_once(kind: str) -> bool:
    """`is_due_now` by a message's kind alone."""
    return kind != MessageKind.REMINDER


def due_now(messages: list[OutboundMessage]) -> list[OutboundMessage]:
    return [m for m in messages if is_due_now(m)]


def leased(messages: list[OutboundMessage], lease: Lease | None) -> list[OutboundMessage]:
    """New messages, those due now claimed by `lease` (as a claim would: one attempt)."""
    if lease is not None:
        for planned in messages:
            if is_due_now(planned):
                planned.status = DeliveryStatus.SENDING
                planned.lease_owner = lease.owner
                planned.lease_expires_at = lease.until
                planned.attempts = 1
    return messages


def webhook_message(request: IntroRequest, event_id: int, *, now: datetime) -> OutboundMessage:
    """The POST of a state change (its event) to the workspace's webhook, due now. It names
    the event and the outcome stage the change left the request at; what else it says is read
    at delivery (bot.delivery.webhooks), so nothing personal waits in the outbox."""
    return message(
        request,
        MessageKind.WEBHOOK,
        "",
        WEBHOOK_KEY.format(event_id=event_id),
        {"event_id": event_id, "stage": request.outcome},
        now=now,
    )


def crm_message(
    request: IntroRequest, stage: CrmStage, event_id: int, *, now: datetime
) -> OutboundMessage:
    """The push of the stage a change reached (its event) to the workspace's CRM, due now.
    Like a webhook's row it names only the stage and the event: the record is built from the
    request at delivery (bot.delivery.crm.pushes)."""
    return message(
        request,
        MessageKind.CRM_PUSH,
        "",
        CRM_KEY.format(stage=stage),
        {"stage": str(stage), "event_id": event_id},
        now=now,
    )
