"""The intro request's state machine: who may do what, from which state, to which state.

Double opt-in is explicit: accepting moves a request to CHECKING_WITH_TARGET, and only the
connector's report of the target's answer moves it on to INTRO_MADE.
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
    REDIRECTED = "redirected"
    # The connector won't make the intro, but the requester may reach out directly and say
    # the connector suggested it: its own outcome in the funnel.
    NAME_MENTIONED = "name_mentioned"
    CANCELLED = "cancelled"
    REROUTED = "rerouted"  # the requester asked someone else after the ask stalled
    FOLLOWED_UP = "followed_up"  # the requester followed up with the target after the intro
    CLOSED = "closed"  # the requester reported the outcome


class Action(StrEnum):
    OWNER_APPROVE = "owner_approve"
    OWNER_DECLINE = "owner_decline"
    ACCEPT = "accept"
    DECLINE = "decline"
    REDIRECT = "redirect"
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
    REPORT_OUTCOME = "report_outcome"


class Outcome(StrEnum):
    """What came of an intro, as the requester reports it: kept for attribution."""

    MEETING_HELD = "meeting_held"
    OPPORTUNITY = "opportunity"
    CLOSED_WON = "closed_won"
    NO_RESPONSE = "no_response"
    NOT_A_FIT = "not_a_fit"


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
    Action.MENTION_NAME: Role.CONNECTOR,
    Action.TARGET_AGREED: Role.CONNECTOR,
    Action.TARGET_DECLINED: Role.CONNECTOR,
    Action.TARGET_NOT_NOW: Role.CONNECTOR,
    Action.GO_QUIET: Role.SYSTEM,
    Action.ASK_AGAIN: Role.SYSTEM,
    Action.CANCEL: Role.REQUESTER,
    Action.REROUTE: Role.REQUESTER,
    Action.FOLLOW_UP: Role.REQUESTER,
    Action.REPORT_OUTCOME: Role.REQUESTER,
}

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.AWAITING_OWNER, Action.OWNER_APPROVE): Status.AWAITING_CONNECTOR,
    (Status.AWAITING_OWNER, Action.OWNER_DECLINE): Status.OWNER_DECLINED,
    (Status.AWAITING_OWNER, Action.CANCEL): Status.CANCELLED,
    (Status.AWAITING_CONNECTOR, Action.ACCEPT): Status.CHECKING_WITH_TARGET,
    (Status.AWAITING_CONNECTOR, Action.DECLINE): Status.CONNECTOR_DECLINED,
    (Status.AWAITING_CONNECTOR, Action.REDIRECT): Status.REDIRECTED,
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
    (Status.INTRO_MADE, Action.REPORT_OUTCOME): Status.CLOSED,
    (Status.FOLLOWED_UP, Action.REPORT_OUTCOME): Status.CLOSED,
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
INTRO_MADE_STATUSES = frozenset({Status.INTRO_MADE, Status.FOLLOWED_UP, Status.CLOSED})


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
