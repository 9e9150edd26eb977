"""The intro request state machine: every (status, action) pair, who may act, and when."""

from __future__ import annotations

import itertools

import pytest

from bot.intro.states import (
    ACTOR,
    OPEN_STATUSES,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Role,
    Status,
    TransitionError,
    allowed_actions,
    next_status,
)

# The legal moves, written out by hand so the table in bot/intro/states.py is checked, not echoed.
EXPECTED: dict[tuple[Status, Action], Status] = {
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
    # introbot's own moves: the reminders went unanswered; the day to ask again came.
    (Status.CHECKING_WITH_TARGET, Action.GO_QUIET): Status.TARGET_QUIET,
    (Status.ASK_LATER, Action.ASK_AGAIN): Status.CHECKING_WITH_TARGET,
    (Status.ASK_LATER, Action.CANCEL): Status.CANCELLED,
    (Status.AWAITING_CONNECTOR, Action.REROUTE): Status.REROUTED,
    (Status.INTRO_MADE, Action.FOLLOW_UP): Status.FOLLOWED_UP,
    (Status.INTRO_MADE, Action.REPORT_OUTCOME): Status.CLOSED,
    (Status.FOLLOWED_UP, Action.REPORT_OUTCOME): Status.CLOSED,
}

TERMINAL = [
    Status.OWNER_DECLINED,
    Status.TARGET_DECLINED,
    Status.TARGET_NOT_NOW,  # as "not now" was before a day to ask again could be chosen
    Status.TARGET_QUIET,
    Status.CONNECTOR_DECLINED,
    Status.REDIRECTED,
    Status.NAME_MENTIONED,
    Status.CANCELLED,
    Status.REROUTED,
    Status.CLOSED,
]
# After the intro: the ask is over, but the loop (follow-up, outcome) is still open.
LOOP_OPEN = [Status.INTRO_MADE, Status.FOLLOWED_UP]

ALL_PAIRS = list(itertools.product(Status, Action))


def _pair_id(pair: tuple[Status, Action]) -> str:
    return f"{pair[0].value}-{pair[1].value}"


@pytest.mark.parametrize(("status", "action"), ALL_PAIRS, ids=[_pair_id(p) for p in ALL_PAIRS])
def test_every_status_action_pair(status: Status, action: Action) -> None:
    expected = EXPECTED.get((status, action))
    if expected is not None:
        assert next_status(status, action) is expected
        return
    with pytest.raises(IllegalTransition) as caught:
        next_status(status, action)
    assert caught.value.status is status
    assert caught.value.action is action
    assert isinstance(caught.value, TransitionError)
    message = str(caught.value)
    assert action.value in message
    assert status.value in message


def test_transition_table_matches_expected_exactly() -> None:
    assert dict(TRANSITIONS) == EXPECTED


def test_illegal_transition_is_not_chained_to_key_error() -> None:
    with pytest.raises(IllegalTransition) as caught:
        next_status(Status.INTRO_MADE, Action.ACCEPT)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


def test_status_values_are_accepted_as_plain_strings() -> None:
    # Rows store status as a string; StrEnum lookups must still find the transition.
    assert next_status(Status("awaiting_connector"), Action("accept")) is (
        Status.CHECKING_WITH_TARGET
    )


def test_double_opt_in_accept_does_not_jump_to_intro_made() -> None:
    after_accept = next_status(Status.AWAITING_CONNECTOR, Action.ACCEPT)
    assert after_accept is Status.CHECKING_WITH_TARGET
    assert after_accept is not Status.INTRO_MADE
    assert next_status(after_accept, Action.TARGET_AGREED) is Status.INTRO_MADE


@pytest.mark.parametrize(
    ("status", "role", "expected"),
    [
        (
            Status.AWAITING_CONNECTOR,
            Role.CONNECTOR,
            [Action.ACCEPT, Action.DECLINE, Action.REDIRECT, Action.MENTION_NAME],
        ),
        (Status.AWAITING_CONNECTOR, Role.REQUESTER, [Action.CANCEL, Action.REROUTE]),
        (Status.AWAITING_OWNER, Role.OWNER, [Action.OWNER_APPROVE, Action.OWNER_DECLINE]),
        (Status.AWAITING_OWNER, Role.REQUESTER, [Action.CANCEL]),
        (Status.AWAITING_OWNER, Role.CONNECTOR, []),
        (Status.INTRO_MADE, Role.REQUESTER, [Action.FOLLOW_UP, Action.REPORT_OUTCOME]),
        (Status.FOLLOWED_UP, Role.REQUESTER, [Action.REPORT_OUTCOME]),
        (Status.INTRO_MADE, Role.CONNECTOR, []),
        (
            Status.CHECKING_WITH_TARGET,
            Role.CONNECTOR,
            [Action.TARGET_AGREED, Action.TARGET_DECLINED, Action.TARGET_NOT_NOW],
        ),
        (Status.CHECKING_WITH_TARGET, Role.REQUESTER, [Action.CANCEL]),
        (Status.CHECKING_WITH_TARGET, Role.SYSTEM, [Action.GO_QUIET]),
        (Status.ASK_LATER, Role.SYSTEM, [Action.ASK_AGAIN]),
        (Status.ASK_LATER, Role.REQUESTER, [Action.CANCEL]),
        (Status.ASK_LATER, Role.CONNECTOR, []),
    ],
)
def test_allowed_actions_per_role(status: Status, role: Role, expected: list[Action]) -> None:
    assert allowed_actions(status, role) == expected


@pytest.mark.parametrize(("status", "role"), list(itertools.product(Status, Role)))
def test_allowed_actions_are_exactly_the_legal_ones_for_that_role(
    status: Status, role: Role
) -> None:
    legal = {a for (s, a) in EXPECTED if s is status and ACTOR[a] is role}
    assert set(allowed_actions(status, role)) == legal
    for action in allowed_actions(status, role):
        next_status(status, action)  # must not raise


@pytest.mark.parametrize("status", TERMINAL)
@pytest.mark.parametrize("role", list(Role))
def test_terminal_statuses_allow_nothing(status: Status, role: Role) -> None:
    assert allowed_actions(status, role) == []


@pytest.mark.parametrize("status", TERMINAL)
def test_terminal_statuses_reject_every_action(status: Status) -> None:
    for action in Action:
        with pytest.raises(IllegalTransition):
            next_status(status, action)


def test_open_statuses_are_the_non_terminal_ones_before_the_intro() -> None:
    assert frozenset(Status) - frozenset(TERMINAL) == OPEN_STATUSES | frozenset(LOOP_OPEN)
    assert {s for (s, _a) in TRANSITIONS} == set(OPEN_STATUSES) | set(LOOP_OPEN)


def test_transitions_only_move_forward() -> None:
    # Nothing goes back: the connector is only asked once the account owner approves. (Only
    # a "not now" returns to checking with the target, on the day the connector chose.)
    assert {s for (s, _a), t in TRANSITIONS.items() if t is Status.CHECKING_WITH_TARGET} == {
        Status.AWAITING_CONNECTOR,
        Status.ASK_LATER,
    }
    targets = set(TRANSITIONS.values())
    assert {s for (s, _a), t in TRANSITIONS.items() if t is Status.AWAITING_CONNECTOR} == {
        Status.AWAITING_OWNER
    }
    assert Status.AWAITING_OWNER not in targets
    assert targets <= set(TERMINAL) | set(OPEN_STATUSES) | set(LOOP_OPEN)


def test_actor_covers_every_action() -> None:
    assert set(ACTOR) == set(Action)
    assert all(isinstance(role, Role) for role in ACTOR.values())


def test_the_requester_cancels_and_closes_the_loop_and_the_connector_does_the_rest() -> None:
    assert {a for a, r in ACTOR.items() if r is Role.REQUESTER} == {
        Action.CANCEL,
        Action.REROUTE,
        Action.FOLLOW_UP,
        Action.REPORT_OUTCOME,
    }


def test_every_action_is_legal_somewhere() -> None:
    assert {a for (_s, a) in TRANSITIONS} == set(Action)
