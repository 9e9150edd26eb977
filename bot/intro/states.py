"""The intro request's state machine: who may do what, from which state, to which state.

Double opt-in is explicit: accepting moves a request to CHECKING_WITH_TARGET, and only the
connector's report of the target's answer moves it on to INTRO_MADE.

After the intro the outcome is a stage, reported by the requester and only ever forward:
meeting held -> opportunity -> closed-won / closed-lost. A meeting or an opportunity keeps the
request open for the next stage (MEETING_HELD, OPPORTUNITY); closed-won, closed-lost and "not a
fit" close it (CLOSED). "No response" (NO_RESPONSE) is an end too, except that the target may
still answer late (after a bump or a second voice): a meeting, an opportunity or a win can
follow it.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    AWAITING_OWNER = "awaiting_owner"  # the target's account owner approves first
    OWNER_DECLINED = "owner_declined"
    AWAITING_CONNECTOR = "awaiting_connector"
    CHECKING_WITH_TARGET = "checking_with_target"
    INTRO_MADE = "intro_made"
    TARGET_DECLINED = "target_declined"
    # The target said not now, when that ended the request (requests from before ASK_LATER).
    TARGET_NOT_NOW = "target_not_now"
    # The target said not now: the connector asks them again on the day they chose.
    ASK_LATER = "ask_later"
    TARGET_QUIET = "target_quiet"  # the target never answered the connector's reminders
    CONNECTOR_DECLINED = "connector_declined"
    REDIRECTED = "redirected"  # the connector suggested a teammate to ask instead
    # The connector pointed the requester to a better person to talk to than the target (not
    # a teammate): the requester may ask the same connector for an intro to them instead.
    REDIRECTED_TO_PERSON = "redirected_to_person"
    # The connector won't make the intro, but the requester may reach out directly and say
    # the connector suggested it: its own outcome in the funnel.
    NAME_MENTIONED = "name_mentioned"
    CANCELLED = "cancelled"
    REROUTED = "rerouted"  # the requester asked someone else after the ask stalled
    FOLLOWED_UP = "followed_up"  # the requester followed up with the target after the intro
    MEETING_HELD = "meeting_held"  # outcome stages with more to come
    OPPORTUNITY = "opportunity"
    NO_RESPONSE = "no_response"  # the target never answered the intro (so far)
    CLOSED = "closed"  # a final outcome: closed-won, closed-lost or not a fit
    # The requester writes to the target directly, with no intro: its own line in the funnel.
    WENT_COLD = "went_cold"


class Action(StrEnum):
    OWNER_APPROVE = "owner_approve"
    OWNER_DECLINE = "owner_decline"
    ACCEPT = "accept"
    DECLINE = "decline"
    REDIRECT = "redirect"
    SUGGEST_PERSON = "suggest_person"
    MENTION_NAME = "mention_name"
    TARGET_AGREED = "target_agreed"
    TARGET_DECLINED = "target_declined"
    TARGET_NOT_NOW = "target_not_now"
    # Taken by introbot itself, when a reminder falls due (compare-and-set, once).
    GO_QUIET = "target_quiet"
    ASK_AGAIN = "ask_again"
    CANCEL = "cancel"
    REROUTE = "reroute"
    FOLLOW_UP = "follow_up"
    # The requester reports an outcome stage (one action per stage: the table says which
    # stage may follow which).
    REPORT_MEETING_HELD = "report_meeting_held"
    REPORT_OPPORTUNITY = "report_opportunity"
    REPORT_CLOSED_WON = "report_closed_won"
    REPORT_CLOSED_LOST = "report_closed_lost"
    REPORT_NO_RESPONSE = "report_no_response"
    REPORT_NOT_A_FIT = "report_not_a_fit"


class Outcome(StrEnum):
    """What came of an intro, as the requester reports it: kept for attribution."""

    MEETING_HELD = "meeting_held"
    OPPORTUNITY = "opportunity"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"
    NO_RESPONSE = "no_response"
    NOT_A_FIT = "not_a_fit"


class OfferStatus(StrEnum):
    """A connector's offer of an intro, as the rep answers it."""

    OFFERED = "offered"
    TAKEN = "taken"  # the rep made the request, already accepted by the connector
    PASSED = "passed"


class Role(StrEnum):
    REQUESTER = "requester"
    CONNECTOR = "connector"
    OWNER = "owner"  # the account owner of the target's company
    SYSTEM = "system"  # introbot, when time runs out or a chosen date comes


# Which party may take each action.
ACTOR: dict[Action, Role] = {
    Action.OWNER_APPROVE: Role.OWNER,
    Action.OWNER_DECLINE: Role.OWNER,
    Action.ACCEPT: Role.CONNECTOR,
    Action.DECLINE: Role.CONNECTOR,
    Action.REDIRECT: Role.CONNECTOR,
    Action.SUGGEST_PERSON: Role.CONNECTOR,
    Action.MENTION_NAME: Role.CONNECTOR,
    Action.TARGET_AGREED: Role.CONNECTOR,
    Action.TARGET_DECLINED: Role.CONNECTOR,
    Action.TARGET_NOT_NOW: Role.CONNECTOR,
    Action.GO_QUIET: Role.SYSTEM,
    Action.ASK_AGAIN: Role.SYSTEM,
    Action.CANCEL: Role.REQUESTER,
    Action.REROUTE: Role.REQUESTER,
    Action.FOLLOW_UP: Role.REQUESTER,
    Action.REPORT_MEETING_HELD: Role.REQUESTER,
    Action.REPORT_OPPORTUNITY: Role.REQUESTER,
    Action.REPORT_CLOSED_WON: Role.REQUESTER,
    Action.REPORT_CLOSED_LOST: Role.REQUESTER,
    Action.REPORT_NO_RESPONSE: Role.REQUESTER,
    Action.REPORT_NOT_A_FIT: Role.REQUESTER,
}

# Reporting an outcome: the action for it, and the status it leads to.
REPORT_ACTION: dict[Outcome, Action] = {
    Outcome.MEETING_HELD: Action.REPORT_MEETING_HELD,
    Outcome.OPPORTUNITY: Action.REPORT_OPPORTUNITY,
    Outcome.CLOSED_WON: Action.REPORT_CLOSED_WON,
    Outcome.CLOSED_LOST: Action.REPORT_CLOSED_LOST,
    Outcome.NO_RESPONSE: Action.REPORT_NO_RESPONSE,
    Outcome.NOT_A_FIT: Action.REPORT_NOT_A_FIT,
}
REPORTED: dict[Action, Outcome] = {action: outcome for outcome, action in REPORT_ACTION.items()}
_STAGE_STATUS: dict[Outcome, Status] = {
    Outcome.MEETING_HELD: Status.MEETING_HELD,
    Outcome.OPPORTUNITY: Status.OPPORTUNITY,
    Outcome.CLOSED_WON: Status.CLOSED,
    Outcome.CLOSED_LOST: Status.CLOSED,
    Outcome.NO_RESPONSE: Status.NO_RESPONSE,
    Outcome.NOT_A_FIT: Status.CLOSED,
}
# Which outcomes may be reported from each status: forward only.
_NEXT_OUTCOMES: dict[Status, tuple[Outcome, ...]] = {
    Status.INTRO_MADE: tuple(Outcome),
    Status.FOLLOWED_UP: tuple(Outcome),
    # A meeting that showed it was not a fit ends there too.
    Status.MEETING_HELD: (
        Outcome.OPPORTUNITY,
        Outcome.CLOSED_WON,
        Outcome.CLOSED_LOST,
        Outcome.NOT_A_FIT,
    ),
    Status.OPPORTUNITY: (Outcome.CLOSED_WON, Outcome.CLOSED_LOST),
    # The target answered late after all.
    Status.NO_RESPONSE: (Outcome.MEETING_HELD, Outcome.OPPORTUNITY, Outcome.CLOSED_WON),
    # A cold approach has its outcomes too: the funnel sets them beside warm intros'.
    Status.WENT_COLD: tuple(Outcome),
    # So has reaching out with the connector's name: the connector hears what came of it.
    Status.NAME_MENTIONED: tuple(Outcome),
}

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.AWAITING_OWNER, Action.OWNER_APPROVE): Status.AWAITING_CONNECTOR,
    (Status.AWAITING_OWNER, Action.OWNER_DECLINE): Status.OWNER_DECLINED,
    (Status.AWAITING_OWNER, Action.CANCEL): Status.CANCELLED,
    (Status.AWAITING_CONNECTOR, Action.ACCEPT): Status.CHECKING_WITH_TARGET,
    (Status.AWAITING_CONNECTOR, Action.DECLINE): Status.CONNECTOR_DECLINED,
    (Status.AWAITING_CONNECTOR, Action.REDIRECT): Status.REDIRECTED,
    (Status.AWAITING_CONNECTOR, Action.SUGGEST_PERSON): Status.REDIRECTED_TO_PERSON,
    (Status.AWAITING_CONNECTOR, Action.MENTION_NAME): Status.NAME_MENTIONED,
    (Status.AWAITING_CONNECTOR, Action.CANCEL): Status.CANCELLED,
    (Status.CHECKING_WITH_TARGET, Action.TARGET_AGREED): Status.INTRO_MADE,
    (Status.CHECKING_WITH_TARGET, Action.TARGET_DECLINED): Status.TARGET_DECLINED,
    (Status.CHECKING_WITH_TARGET, Action.TARGET_NOT_NOW): Status.ASK_LATER,
    (Status.CHECKING_WITH_TARGET, Action.CANCEL): Status.CANCELLED,
    (Status.CHECKING_WITH_TARGET, Action.GO_QUIET): Status.TARGET_QUIET,
    (Status.ASK_LATER, Action.ASK_AGAIN): Status.CHECKING_WITH_TARGET,
    (Status.ASK_LATER, Action.CANCEL): Status.CANCELLED,
    (Status.AWAITING_CONNECTOR, Action.REROUTE): Status.REROUTED,
    (Status.INTRO_MADE, Action.FOLLOW_UP): Status.FOLLOWED_UP,
    **{
        (status, REPORT_ACTION[outcome]): _STAGE_STATUS[outcome]
        for status, outcomes in _NEXT_OUTCOMES.items()
        for outcome in outcomes
    },
}

OPEN_STATUSES = frozenset(
    {
        Status.AWAITING_OWNER,
        Status.AWAITING_CONNECTOR,
        Status.CHECKING_WITH_TARGET,
        Status.ASK_LATER,
    }
)
# An intro happened: the basis of attribution and of secondary intro paths.
INTRO_MADE_STATUSES = frozenset(
    {
        Status.INTRO_MADE,
        Status.FOLLOWED_UP,
        Status.MEETING_HELD,
        Status.OPPORTUNITY,
        Status.NO_RESPONSE,
        Status.CLOSED,
    }
)
# The events that tell the requester of a dead end: each notice ends with who else to ask.
# Not the person's own no: that is an answer, not a dead end, and nothing leads back to them.
DEAD_END_EVENTS = frozenset({"decline", "owner_decline", "no_response"})
# Of those, where going in cold is offered too: not after the account owner asked to hold off,
# nor after the person themselves said no.
COLD_AFTER = frozenset({"decline", "no_response"})
# Where a path ends for the requester without the person: from here they may ask someone else
# or go in cold. A stalled ask (still awaiting its connector) is withdrawn when they do. The
# person's own no (TARGET_DECLINED) is not one: it is final.
DEAD_ENDS = frozenset(
    {
        Status.AWAITING_CONNECTOR,
        Status.CONNECTOR_DECLINED,
        Status.OWNER_DECLINED,
        Status.REDIRECTED,
        Status.REDIRECTED_TO_PERSON,
        Status.NO_RESPONSE,
        Status.TARGET_QUIET,
    }
)


def at_dead_end(status: str) -> bool:
    """Whether the requester may ask someone else or go in cold from here."""
    return status in DEAD_ENDS


class TransitionError(Exception):
    """Base for refused transitions."""


class IllegalTransition(TransitionError):
    def __init__(self, status: Status, action: Action) -> None:
        super().__init__(f"cannot {action.value} a request that is {status.value}")
        self.status = status
        self.action = action


def next_status(status: Status, action: Action) -> Status:
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise IllegalTransition(status, action) from None


def allowed_actions(status: Status, role: Role) -> list[Action]:
    return [a for (s, a) in TRANSITIONS if s == status and ACTOR[a] == role]


def next_outcomes(status: Status | str) -> list[Outcome]:
    """The outcomes the requester may report from `status`, in stage order."""
    return list(_NEXT_OUTCOMES.get(Status(status), ()))
