"""The intro request state machine: every (status, action) pair, who may act, and when."""

from __future__ import annotations

import itertools

import pytest

from bot.intro.states import (
    ACTOR,
    OPEN_STATUSES,
    REPORT_ACTION,
    REPORTED,
    TRANSITIONS,
    Action,
    IllegalTransition,
    Outcome,
    Role,
    Status,
    TransitionError,
    allowed_actions,
    next_outcomes,
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
    # "Not Jane: talk to Bob Lee": a better person than the target, not a teammate.
    (Status.AWAITING_CONNECTOR, Action.SUGGEST_PERSON): Status.REDIRECTED_TO_PERSON,
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
    # The first outcome, from the intro (followed up or not), a cold approach or reaching out
    # with the connector's name: any stage.
    **{
        (status, action): reached
        # A cold approach's outcome, and one after "mention my name", are reported like an
        # intro's.
        for status in (
            Status.INTRO_MADE,
            Status.FOLLOWED_UP,
            Status.WENT_COLD,
            Status.NAME_MENTIONED,
        )
        for action, reached in [
            (Action.REPORT_MEETING_HELD, Status.MEETING_HELD),
            (Action.REPORT_OPPORTUNITY, Status.OPPORTUNITY),
            (Action.REPORT_CLOSED_WON, Status.CLOSED),
            (Action.REPORT_CLOSED_LOST, Status.CLOSED),
            (Action.REPORT_NO_RESPONSE, Status.NO_RESPONSE),
            (Action.REPORT_NOT_A_FIT, Status.CLOSED),
        ]
    },
    # Then forward only: a meeting may become an opportunity, or end (won, lost, not a fit).
    (Status.MEETING_HELD, Action.REPORT_OPPORTUNITY): Status.OPPORTUNITY,
    (Status.MEETING_HELD, Action.REPORT_CLOSED_WON): Status.CLOSED,
    (Status.MEETING_HELD, Action.REPORT_CLOSED_LOST): Status.CLOSED,
    (Status.MEETING_HELD, Action.REPORT_NOT_A_FIT): Status.CLOSED,
    (Status.OPPORTUNITY, Action.REPORT_CLOSED_WON): Status.CLOSED,
    (Status.OPPORTUNITY, Action.REPORT_CLOSED_LOST): Status.CLOSED,
    # A target who never answered may still answer late.
    (Status.NO_RESPONSE, Action.REPORT_MEETING_HELD): Status.MEETING_HELD,
    (Status.NO_RESPONSE, Action.REPORT_OPPORTUNITY): Status.OPPORTUNITY,
    (Status.NO_RESPONSE, Action.REPORT_CLOSED_WON): Status.CLOSED,
}
REPORTS = [
    Action.REPORT_MEETING_HELD,
    Action.REPORT_OPPORTUNITY,
    Action.REPORT_CLOSED_WON,
    Action.REPORT_CLOSED_LOST,
    Action.REPORT_NO_RESPONSE,
    Action.REPORT_NOT_A_FIT,
]

TERMINAL = [
    Status.OWNER_DECLINED,
    Status.TARGET_DECLINED,
    Status.TARGET_NOT_NOW,  # as "not now" was before a day to ask again could be chosen
    Status.TARGET_QUIET,
    Status.CONNECTOR_DECLINED,
    Status.REDIRECTED,
    Status.REDIRECTED_TO_PERSON,
    Status.CANCELLED,
    Status.REROUTED,
    Status.CLOSED,
]
# After the intro: the ask is over, but the loop (follow-up, outcome stages) is still open.
LOOP_OPEN = [
    Status.INTRO_MADE,
    Status.FOLLOWED_UP,
    Status.MEETING_HELD,
    Status.OPPORTUNITY,
    Status.NO_RESPONSE,
    Status.WENT_COLD,
    Status.NAME_MENTIONED,
]

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
            [
                Action.ACCEPT,
                Action.DECLINE,
                Action.REDIRECT,
                Action.SUGGEST_PERSON,
                Action.MENTION_NAME,
            ],
        ),
        (Status.AWAITING_CONNECTOR, Role.REQUESTER, [Action.CANCEL, Action.REROUTE]),
        (Status.AWAITING_OWNER, Role.OWNER, [Action.OWNER_APPROVE, Action.OWNER_DECLINE]),
        (Status.AWAITING_OWNER, Role.REQUESTER, [Action.CANCEL]),
        (Status.AWAITING_OWNER, Role.CONNECTOR, []),
        (Status.INTRO_MADE, Role.REQUESTER, [Action.FOLLOW_UP, *REPORTS]),
        (Status.FOLLOWED_UP, Role.REQUESTER, REPORTS),
        (
            Status.MEETING_HELD,
            Role.REQUESTER,
            [
                Action.REPORT_OPPORTUNITY,
                Action.REPORT_CLOSED_WON,
                Action.REPORT_CLOSED_LOST,
                Action.REPORT_NOT_A_FIT,
            ],
        ),
        (Status.OPPORTUNITY, Role.REQUESTER, [Action.REPORT_CLOSED_WON, Action.REPORT_CLOSED_LOST]),
        (Status.MEETING_HELD, Role.CONNECTOR, []),
        (Status.WENT_COLD, Role.REQUESTER, REPORTS),
        (Status.WENT_COLD, Role.CONNECTOR, []),
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
        *REPORTS,
    }


def test_every_action_is_legal_somewhere() -> None:
    assert {a for (_s, a) in TRANSITIONS} == set(Action)


# The outcome stages in order; a report may only name a later one.
STAGE_ORDER = {
    Status.INTRO_MADE: 0,
    Status.FOLLOWED_UP: 0,
    Status.WENT_COLD: 0,
    Status.NAME_MENTIONED: 0,
    Status.NO_RESPONSE: 1,
    Status.MEETING_HELD: 2,
    Status.OPPORTUNITY: 3,
    Status.CLOSED: 4,
}


def test_outcome_stages_only_move_forward_and_closed_is_final() -> None:
    for (status, action), reached in TRANSITIONS.items():
        if action in REPORTED:
            assert STAGE_ORDER[reached] > STAGE_ORDER[status], (status, action)
    assert allowed_actions(Status.CLOSED, Role.REQUESTER) == []
    # No way back to "no response" once the target has answered.
    assert not [
        s
        for (s, _a), t in TRANSITIONS.items()
        if t is Status.NO_RESPONSE
        and s
        in (
            Status.MEETING_HELD,
            Status.OPPORTUNITY,
        )
    ]


def test_each_outcome_has_its_report_action_and_next_outcomes_follow_the_table() -> None:
    assert {REPORTED[action] for action in REPORT_ACTION.values()} == set(Outcome)
    for status in Status:
        assert [REPORT_ACTION[o] for o in next_outcomes(status)] == [
            a for a in allowed_actions(status, Role.REQUESTER) if a in REPORTED
        ]
    assert next_outcomes("opportunity") == [Outcome.CLOSED_WON, Outcome.CLOSED_LOST]
    assert next_outcomes(Status.NO_RESPONSE) == [
        Outcome.MEETING_HELD,
        Outcome.OPPORTUNITY,
        Outcome.CLOSED_WON,
    ]
