"""What each move writes, decided without a database: for every (status, action) pair of the
state machine, the status it leads to, who may take it, the columns it sets, the messages and
reminders it promises and the reminders it cancels; and every other pair refused.

The expectations are written out by hand, so `bot/intro/workflow/plan.py` is checked, not
echoed. Both write paths (the ORM one and PostgreSQL's single statement) write what it plans.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intro.cadence import Cadence
from bot.intro.states import ACTOR, TRANSITIONS, Action, IllegalTransition, Role, Status
from bot.intro.workflow import plan
from bot.intro.workflow.errors import InvalidSuggestion, NotYourRequest
from bot.intro.workflow.results import ActionDetails, Lease
from storage.models import Contact, IntroRequest, MessageKind, OutboundMessage

NOW = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
REQUEST_ID, EVENT_ID, EARLIER_EVENT_ID = 41, 7, 3
REQUESTER, CONNECTOR, OWNER, SAM = "UR", "UC", "UO", "US"
PARTIES = {
    Role.REQUESTER: REQUESTER,
    Role.CONNECTOR: CONNECTOR,
    Role.OWNER: OWNER,
    Role.SYSTEM: "introbot",
}
# Waits in hours, not whole days, so each due time is plain addition (days count working days).
CADENCE = Cadence(
    nudge_after=timedelta(hours=30),
    follow_up_after=timedelta(hours=20),
    outcome_after=timedelta(days=7),
    nudges=2,
    outcome_again_after=timedelta(days=30),
    outcome_asks_again=2,
    target_check_after=timedelta(hours=50),
    target_checks=2,
)
ASK_AGAIN_ON = date(2026, 3, 20)
DETAILS = ActionDetails(
    reason="  Not my area  ",
    suggested_user_id=SAM,
    suggested_name=" Bob Lee ",
    suggested_title=" Procurement lead ",
    suggested_company="",
    note=" Sam knows her ",
    blurb=" Hi Jane, edited. ",
    ask_again_on=ASK_AGAIN_ON.isoformat(),
    tz_name="Pacific/Auckland",
    how_known=" from DHL ",
)
# The request's cards, refreshed by every move: kind -> recipient.
CARDS = {
    MessageKind.OWNER_CARD: OWNER,
    MessageKind.CONNECTOR_CARD: CONNECTOR,
    MessageKind.REQUESTER_CARD: REQUESTER,
}

LEGAL = sorted(TRANSITIONS, key=str)
ILLEGAL = [
    (status, action)
    for status, action in itertools.product(Status, Action)
    if (status, action) not in TRANSITIONS
]


def _cases(pairs: list[tuple[Status, Action]]) -> list[Any]:
    """Each pair its own case, named `status-action`."""
    return [pytest.param(s, a, id=f"{s.value}-{a.value}") for s, a in pairs]


def request_in(status: Status) -> IntroRequest:
    return IntroRequest(
        id=REQUEST_ID,
        team_id="T1",
        requester_id=REQUESTER,
        connector_id=CONNECTOR,
        account_owner_id=OWNER,
        status=status,
    )


def hours(n: int) -> timedelta:
    return timedelta(hours=n)


# --- the expectations, by hand ------------------------------------------------------------------


def stage(outcome: str, column: str | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {"outcome": outcome, "outcome_at": NOW}
    if column:
        values[column] = NOW
    return values


COLUMN_CHANGES: dict[Action, dict[str, Any]] = {
    Action.OWNER_APPROVE: {"blurb": "Hi Jane, edited."},
    Action.OWNER_DECLINE: {"decline_reason": "Not my area"},
    Action.ACCEPT: {},
    Action.DECLINE: {"decline_reason": "Not my area"},
    Action.REDIRECT: {"suggested_user_id": SAM, "suggestion_note": "Sam knows her"},
    # A better person to talk to: their name (and role, company when given), and why.
    Action.SUGGEST_PERSON: {
        "suggested_name": "Bob Lee",
        "suggested_title": "Procurement lead",
        "suggested_company": None,
        "suggestion_note": "Sam knows her",
    },
    Action.MENTION_NAME: {"how_known": "from DHL"},
    Action.TARGET_AGREED: {"intro_made_at": NOW},
    Action.TARGET_DECLINED: {},
    Action.TARGET_NOT_NOW: {"ask_again_on": ASK_AGAIN_ON},
    Action.GO_QUIET: {},
    Action.ASK_AGAIN: {},
    Action.CANCEL: {},
    Action.REROUTE: {},
    Action.FOLLOW_UP: {"followed_up_at": NOW},
    Action.REPORT_MEETING_HELD: stage("meeting_held", "meeting_at"),
    Action.REPORT_OPPORTUNITY: stage("opportunity", "opportunity_at"),
    Action.REPORT_CLOSED_WON: stage("closed_won", "won_at"),
    Action.REPORT_CLOSED_LOST: stage("closed_lost", "lost_at"),
    Action.REPORT_NO_RESPONSE: stage("no_response"),
    Action.REPORT_NOT_A_FIT: stage("not_a_fit"),
}

# Who hears of each move, and what: the requester of the connector's and owner's answers and of
# a new round of asking; the connector of each outcome stage but "no response".
_TOLD_THE_REQUESTER = {
    Action.OWNER_APPROVE,
    Action.OWNER_DECLINE,
    Action.ACCEPT,
    Action.DECLINE,
    Action.REDIRECT,
    Action.SUGGEST_PERSON,
    Action.MENTION_NAME,
    Action.TARGET_AGREED,
    Action.TARGET_DECLINED,
    Action.TARGET_NOT_NOW,
    Action.ASK_AGAIN,
}
_THANKS_THE_CONNECTOR = {
    Action.REPORT_MEETING_HELD: "meeting_held",
    Action.REPORT_OPPORTUNITY: "opportunity",
    Action.REPORT_CLOSED_WON: "closed_won",
    Action.REPORT_CLOSED_LOST: "closed_lost",
    Action.REPORT_NOT_A_FIT: "not_a_fit",
}


def notice_of(action: Action) -> tuple[str, dict[str, Any]] | None:
    if action in _TOLD_THE_REQUESTER:
        return REQUESTER, {"event": action.value}
    if action in _THANKS_THE_CONNECTOR:
        return CONNECTOR, {"event": "outcome", "outcome": _THANKS_THE_CONNECTOR[action]}
    return None


Reminder = tuple[str, str, datetime, dict[str, Any]]  # name, recipient, due, data


def reminders_of(status: Status, round_key: str) -> list[Reminder]:
    """The reminders a request gets as it enters `status` (a round named `round_key`)."""

    def data(name: str, *expects: Status, **extra: Any) -> dict[str, Any]:
        return {"reminder": name, "expects": [s.value for s in expects], **extra}

    checking, connector = Status.CHECKING_WITH_TARGET, Status.AWAITING_CONNECTOR
    table: dict[Status, list[Reminder]] = {
        connector: [
            ("nudge:1", CONNECTOR, NOW + hours(30), data("nudge", connector)),
            ("nudge:2", CONNECTOR, NOW + hours(60), data("nudge", connector)),
            ("stalled", REQUESTER, NOW + hours(90), data("stalled", connector)),
        ],
        checking: [
            (
                f"target_check:1:{round_key}",
                CONNECTOR,
                NOW + hours(50),
                data("target_check", checking),
            ),
            (
                f"target_check:2:{round_key}",
                CONNECTOR,
                NOW + hours(100),
                data("target_check", checking, last=True),
            ),
            (
                f"target_quiet:{round_key}",
                REQUESTER,
                NOW + hours(150),
                data("target_quiet", checking, Status.TARGET_QUIET, moves="target_quiet"),
            ),
        ],
        Status.ASK_LATER: [
            (
                f"ask_again:{round_key}",
                CONNECTOR,
                # The day starts first at UTC+14: the reminder is due from then.
                datetime(2026, 3, 19, 10, 0, tzinfo=UTC),
                data("ask_again", Status.ASK_LATER, checking, moves="ask_again"),
            )
        ],
        Status.INTRO_MADE: [
            # Due from the intro: delivery holds it until within the day in their zone.
            ("follow_up", REQUESTER, NOW, data("follow_up", Status.INTRO_MADE, wait_s=20 * 3600)),
            (
                "outcome",
                REQUESTER,
                NOW + timedelta(days=7),
                data("outcome", Status.INTRO_MADE, Status.FOLLOWED_UP),
            ),
        ],
        # The connector lent their name: what came of reaching out is asked a week on.
        Status.NAME_MENTIONED: [
            (
                "outcome",
                REQUESTER,
                NOW + timedelta(days=7),
                data("outcome", Status.NAME_MENTIONED),
            )
        ],
        **{
            status_: [
                (
                    f"outcome_again:{status_.value}:{n}",
                    REQUESTER,
                    NOW + timedelta(days=30 * n),
                    data("outcome_again", status_),
                )
                for n in (1, 2)
            ]
            for status_ in (Status.MEETING_HELD, Status.OPPORTUNITY)
        },
    }
    return table.get(status, [])


Described = tuple[str, str, str, dict[str, Any], datetime, str, int]


def described(message: OutboundMessage) -> Described:
    assert message.team_id == "T1" and message.request_id == REQUEST_ID
    assert message.created_at == NOW
    return (
        str(message.kind),
        message.recipient_id,
        message.dedupe_key,
        message.data,
        message.due_at,
        str(message.status),
        message.attempts,
    )


def key(kind: MessageKind, within: str) -> str:
    return f"request:{REQUEST_ID}:{kind.value}:{within}"


def promised_by(action: Action, target: Status) -> list[Described]:
    expected: list[Described] = [
        (
            "card_refresh",
            recipient,
            key(MessageKind.CARD_REFRESH, f"refresh:{card.value}:{EVENT_ID}"),
            {"card": card.value},
            NOW,
            "pending",
            0,
        )
        for card, recipient in CARDS.items()
    ]
    if action is Action.OWNER_APPROVE:
        card_key = key(MessageKind.CONNECTOR_CARD, "card")
        expected.append(("connector_card", CONNECTOR, card_key, {}, NOW, "pending", 0))
    notice = notice_of(action)
    if notice is not None:
        notice_key = key(MessageKind.NOTICE, f"notice:{EVENT_ID}")
        expected.append(("notice", notice[0], notice_key, notice[1], NOW, "pending", 0))
    for name, recipient, due, data in reminders_of(target, str(EVENT_ID)):
        expected.append(
            ("reminder", recipient, key(MessageKind.REMINDER, name), data, due, "pending", 0)
        )
    return expected


# --- every legal move ---------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "action"), _cases(LEGAL))
def test_only_the_actions_party_may_take_it_and_it_leads_where_the_table_says(
    status: Status, action: Action
) -> None:
    request = request_in(status)
    for role, party in PARTIES.items():
        if role is ACTOR[action]:
            assert plan.permitted(request, party, action) == (status, TRANSITIONS[status, action])
            continue
        with pytest.raises(NotYourRequest) as refused:
            plan.permitted(request, party, action)
        assert (refused.value.role, refused.value.party_id) == (
            ACTOR[action],
            PARTIES[ACTOR[action]],
        )


@pytest.mark.parametrize(("status", "action"), _cases(LEGAL))
def test_each_move_sets_its_own_columns(status: Status, action: Action) -> None:
    assert plan.column_changes(action, DETAILS, NOW) == COLUMN_CHANGES[action]


@pytest.mark.parametrize(("status", "action"), _cases(LEGAL))
def test_each_move_promises_refreshes_its_notice_and_the_new_statuses_reminders(
    status: Status, action: Action
) -> None:
    target = TRANSITIONS[status, action]
    request = request_in(target)
    for name, value in plan.column_changes(action, DETAILS, NOW).items():
        setattr(request, name, value)
    promised = plan.promised(request, action, EVENT_ID, CARDS, now=NOW, cadence=CADENCE)
    assert [described(m) for m in promised] == promised_by(action, target)


@pytest.mark.parametrize(("status", "action"), _cases(LEGAL))
def test_each_move_cancels_the_reminders_that_no_longer_expect_its_status(
    status: Status, action: Action
) -> None:
    """The reminders pending from the status the request leaves: those that do not expect
    the one it reaches are cancelled (a reminder whose delivery makes the move stays)."""
    source = request_in(status)
    source.ask_again_on = ASK_AGAIN_ON
    pending = plan.reminders_for(source, now=NOW, cadence=CADENCE, round_key=str(EARLIER_EVENT_ID))
    target = TRANSITIONS[status, action]
    by_id = dict(enumerate(pending, start=100))
    cancelled = plan.outdated(((i, m.data) for i, m in by_id.items()), target)
    expected = [
        key(MessageKind.REMINDER, name)
        for name, _, _, data in reminders_of(status, str(EARLIER_EVENT_ID))
        if target.value not in data["expects"]
    ]
    assert [by_id[i].dedupe_key for i in cancelled] == expected


@pytest.mark.parametrize("status", list(Status), ids=str)
def test_a_request_entering_each_status_gets_its_reminders(status: Status) -> None:
    request = request_in(status)
    request.ask_again_on = ASK_AGAIN_ON
    reminders = plan.reminders_for(request, now=NOW, cadence=CADENCE, round_key="9")
    assert [described(m) for m in reminders] == [
        ("reminder", recipient, key(MessageKind.REMINDER, name), data, due, "pending", 0)
        for name, recipient, due, data in reminders_of(status, "9")
    ]


# --- every other pair ---------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "action"), _cases(ILLEGAL))
def test_a_move_the_table_lacks_is_refused_even_to_its_party(
    status: Status, action: Action
) -> None:
    request = request_in(status)
    with pytest.raises(IllegalTransition) as refused:
        plan.permitted(request, PARTIES[ACTOR[action]], action)
    assert (refused.value.status, refused.value.action) == (status, action)
    stranger = next(p for r, p in PARTIES.items() if r is not ACTOR[action])
    with pytest.raises(NotYourRequest):
        plan.permitted(request, stranger, action)


# --- the details of a move ----------------------------------------------------------------------


def test_blank_words_are_stored_as_none_and_an_unedited_note_is_left_alone() -> None:
    blank = ActionDetails(reason="  ", note="", blurb="  ")
    assert plan.column_changes(Action.DECLINE, blank, NOW) == {"decline_reason": None}
    assert plan.column_changes(Action.OWNER_APPROVE, blank, NOW) == {}
    assert plan.column_changes(Action.REDIRECT, blank, NOW) == {
        "suggested_user_id": None,
        "suggestion_note": None,
    }


@pytest.mark.parametrize(
    ("suggested", "refused"),
    [(None, True), ("", True), (REQUESTER, True), (CONNECTOR, True), (SAM, False)],
)
def test_a_redirect_names_a_third_teammate(suggested: str | None, refused: bool) -> None:
    request = request_in(Status.AWAITING_CONNECTOR)
    plan.check_suggestion(request, Action.DECLINE, None)  # only a redirect suggests anyone
    if refused:
        with pytest.raises(InvalidSuggestion):
            plan.check_suggestion(request, Action.REDIRECT, suggested)
    else:
        plan.check_suggestion(request, Action.REDIRECT, suggested)


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        (None, True),
        ("  ", True),  # a better person has a name
        ("Jane Doe", True),  # the person asked for is no better person
        ("jane  DOE", True),
        ("Jane Doe (Acme)", True),
        ("Bob Lee", False),
        ("Jane Smith", False),  # another Jane
    ],
)
def test_a_better_person_is_named_and_is_not_the_target(name: str | None, refused: bool) -> None:
    request = request_in(Status.AWAITING_CONNECTOR)
    request.target_name = "Jane Doe"
    details = ActionDetails(suggested_name=name, suggested_title="", note="")
    if refused:
        with pytest.raises(InvalidSuggestion):
            plan.column_changes(Action.SUGGEST_PERSON, details, NOW)
            plan.check_suggestion(request, Action.SUGGEST_PERSON, None, name)
    else:
        changes = plan.column_changes(Action.SUGGEST_PERSON, details, NOW)
        assert changes["suggested_name"] == name and changes["suggested_title"] is None
        plan.check_suggestion(request, Action.SUGGEST_PERSON, None, name)


def test_accepting_an_ask_for_a_way_in_names_the_person_picked() -> None:
    picked = ActionDetails(picked_name="  Jane   Doe ")
    changes = plan.column_changes(Action.ACCEPT, picked, NOW)
    assert changes == {"target_name": "Jane   Doe", "target_surname_key": "doe"}
    # An ordinary accept sets nothing but its status.
    assert plan.column_changes(Action.ACCEPT, ActionDetails(), NOW) == {}


@pytest.mark.parametrize(
    ("way_in", "target", "action", "picked", "refused"),
    [
        (True, "", Action.ACCEPT, None, True),  # a way in is accepted with its person
        (True, "", Action.ACCEPT, "  ", True),
        (True, "", Action.MENTION_NAME, None, True),  # no one to lend a name for
        (True, "", Action.ACCEPT, "Jane Doe", False),
        (True, "Jane Doe", Action.ACCEPT, "Jane Doe", False),  # read after the change
        (True, "", Action.DECLINE, None, False),
        (True, "", Action.REDIRECT, None, False),
        (True, "", Action.DECLINE, "Jane Doe", True),  # only Accept takes a pick
        (False, "Jane Doe", Action.ACCEPT, "Bob Lee", True),  # only a way in does
        (False, "Jane Doe", Action.ACCEPT, None, False),
        (False, "Jane Doe", Action.MENTION_NAME, None, False),
    ],
)
def test_only_an_ask_for_a_way_in_takes_a_pick_and_needs_one_to_be_accepted(
    way_in: bool, target: str, action: Action, picked: str | None, refused: bool
) -> None:
    request = request_in(Status.AWAITING_CONNECTOR)
    request.way_in, request.target_name = way_in, target
    assert plan.awaiting_pick(request) is (way_in and not target)
    if refused:
        with pytest.raises(InvalidSuggestion):
            plan.check_pick(request, action, picked)
    else:
        plan.check_pick(request, action, picked)


@given(
    st.integers(min_value=-3, max_value=3),
    st.sampled_from([None, "UTC", "Pacific/Auckland", "Pacific/Kiritimati", "America/Adak"]),
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_the_day_to_ask_again_is_after_today_where_the_connector_is(
    offset: int, tz_name: str | None, moment: datetime
) -> None:
    from zoneinfo import ZoneInfo

    now = moment.replace(tzinfo=UTC)
    today = now.astimezone(ZoneInfo(tz_name or "UTC")).date()
    day = today + timedelta(days=offset)
    if offset > 0:
        assert plan.valid_ask_again_on(day.isoformat(), tz_name, now) == day
    else:
        with pytest.raises(InvalidSuggestion):
            plan.valid_ask_again_on(day.isoformat(), tz_name, now)


@pytest.mark.parametrize("text", [None, "", "soon", "2026-02-30"])
def test_a_day_to_ask_again_must_be_a_date(text: str | None) -> None:
    with pytest.raises(InvalidSuggestion):
        plan.valid_ask_again_on(text, None, NOW)


# --- reminders under any cadence ----------------------------------------------------------------

_WAITS = st.one_of(
    st.integers(min_value=1, max_value=10).map(lambda d: timedelta(days=d)),
    st.integers(min_value=1, max_value=200).map(lambda h: timedelta(hours=h)),
)


@given(
    status=st.sampled_from(list(Status)),
    nudge_after=_WAITS,
    check_after=_WAITS,
    nudges=st.integers(min_value=0, max_value=4),
    checks=st.integers(min_value=1, max_value=4),
    asks=st.integers(min_value=0, max_value=4),
    now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 1, 1)),
)
def test_reminders_fall_due_in_order_expect_their_status_and_have_their_own_keys(
    status: Status,
    nudge_after: timedelta,
    check_after: timedelta,
    nudges: int,
    checks: int,
    asks: int,
    now: datetime,
) -> None:
    cadence = Cadence(
        nudge_after=nudge_after,
        nudges=nudges,
        target_check_after=check_after,
        target_checks=checks,
        outcome_asks_again=asks,
    )
    moment = now.replace(tzinfo=UTC)
    request = request_in(status)
    request.ask_again_on = (moment + timedelta(days=3)).date()
    reminders = plan.reminders_for(request, now=moment, cadence=cadence, round_key="5")
    expected_count = {
        Status.AWAITING_CONNECTOR: nudges + 1,
        Status.CHECKING_WITH_TARGET: checks + 1,
        Status.ASK_LATER: 1,
        Status.INTRO_MADE: 2,
        Status.NAME_MENTIONED: 1,
        Status.MEETING_HELD: asks,
        Status.OPPORTUNITY: asks,
    }.get(status, 0)
    assert len(reminders) == expected_count
    assert len({m.dedupe_key for m in reminders}) == len(reminders)
    for message in reminders:
        # The follow-up is due from the intro; delivery holds it until within the day.
        wait = plan.FOLLOW_UP_WAIT in message.data
        assert message.due_at > moment or (wait and message.due_at == moment)
        assert status.value in message.data["expects"]
        assert not plan.is_outdated(message.data, status)
    if status is not Status.INTRO_MADE:  # its two reminders are independent of each other
        dues = [m.due_at for m in reminders]
        assert dues == sorted(dues)


# --- keys and leases ----------------------------------------------------------------------------


@given(
    st.integers(min_value=1, max_value=10**9),
    st.sampled_from(list(MessageKind)),
    st.text(min_size=1, max_size=40),
)
def test_a_keys_own_part_is_found_again_whatever_it_holds(
    request_id: int, kind: MessageKind, within: str
) -> None:
    dedupe_key = plan.request_dedupe_key(request_id, kind, within)
    assert dedupe_key == f"request:{request_id}:{kind.value}:{within}"
    assert plan.key_within(dedupe_key) == within


def test_an_offers_messages_have_keys_of_their_own() -> None:
    assert plan.offer_dedupe_key(5, MessageKind.OFFER_CARD, "card") == "offer:5:offer_card:card"


def test_a_lease_claims_what_goes_out_now_and_leaves_reminders_to_the_sweep() -> None:
    request = request_in(Status.AWAITING_CONNECTOR)
    messages = plan.first_messages(request, [], None, now=NOW, cadence=CADENCE)
    lease = Lease("replica-1", NOW + timedelta(minutes=2))
    plan.leased(messages, lease)
    claimed = [(m.kind, m.status, m.lease_owner, m.attempts) for m in messages]
    assert claimed == [
        (MessageKind.CONNECTOR_CARD, "sending", "replica-1", 1),
        (MessageKind.REQUESTER_CARD, "sending", "replica-1", 1),
        *[(MessageKind.REMINDER, "pending", None, 0)] * 3,
    ]
    assert plan.due_now(messages) == messages[:2]


@pytest.mark.parametrize(
    ("source", "confirmed", "connected"),
    [("linkedin", False, True), ("linkedin", True, False), ("manual", False, False)],
)
def test_a_stale_tie_rides_on_the_card_saying_whether_it_is_only_a_connection(
    source: str, confirmed: bool, connected: bool
) -> None:
    tie = Contact(
        id=7,
        name="Jane Doe",
        since=date(2021, 3, 4),
        source=source,
        confirmed_at=NOW if confirmed else None,
    )
    data = plan.tie_data(tie)
    assert data == {"id": 7, "name": "Jane Doe", "since": "2021-03-04", "connected": connected}
    back = plan.tie_from(data)
    assert back is not None
    assert (back.id, back.name, back.since) == (7, "Jane Doe", date(2021, 3, 4))
    assert (back.source == "linkedin" and back.confirmed_at is None) is connected


def _pointed(**changes: Any) -> IntroRequest:
    previous = request_in(Status.REDIRECTED_TO_PERSON)
    previous.id, previous.target_name = 11, "Jane Doe"
    for name, value in changes.items():
        setattr(previous, name, value)
    return previous


@pytest.mark.parametrize(
    ("previous", "said"),
    [
        (_pointed(), "Jane Doe"),
        (None, None),
        (_pointed(status=Status.REDIRECTED), None),  # a teammate suggested, not a person
        (_pointed(status=Status.CONNECTOR_DECLINED), None),  # asking again after a no
        (_pointed(connector_id="U-someone-else"), None),  # not this connector's pointer
        (_pointed(team_id="T-other"), None),
        (_pointed(id=12), None),  # not the request this one follows
    ],
)
def test_the_card_says_whom_the_connector_pointed_away_from(
    previous: IntroRequest | None, said: str | None
) -> None:
    request = request_in(Status.AWAITING_CONNECTOR)
    request.previous_request_id = 11
    assert plan.pointed_from(request, previous) == said
