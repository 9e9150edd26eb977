"""Who gets which accounts in their offer-help digest, and when: the rules, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.intro.declines import TargetDecline
from bot.intro.offer_help import (
    MOST_ITEMS,
    Account,
    Connector,
    DigestItem,
    LastDigest,
    Tie,
    digest_for,
    may_send,
)

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
CARLOS, RIYA, SAM = "U0CARLOS", "U0RIYA", "U0SAM"

ACCOUNTS = [
    Account("acme", "Acme", RIYA),
    Account("globex", "Globex", RIYA),
    Account("globex", "Globex", SAM),
    Account("initech", "Initech", ""),  # the workspace's own list
    Account("umbrella", "Umbrella", CARLOS),  # Carlos's own list
]
TIES = [
    Tie(CARLOS, "acme", "Jane Doe", "manual", "know_well", NOW),
    Tie(CARLOS, "acme", "Bob Lee", "linkedin", "met_once"),
    Tie(CARLOS, "globex", "Ann Park", "linkedin", "met_once"),
    Tie(CARLOS, "initech", "Li Wei", "manual", "close", NOW),
    Tie(CARLOS, "umbrella", "Ada Ray", "manual", "close", NOW),
    Tie(CARLOS, "hooli", "Gavin B", "manual", "close", NOW),  # on nobody's list
    Tie(SAM, "acme", "Tom Fox", "manual", "close", NOW),
]


ANYONE = Connector()


def companies(connector: Connector = ANYONE, **kwargs: object) -> list[str]:
    args: dict = {"accounts": ACCOUNTS, "ties": TIES, "declines": [], "now": NOW}
    args.update(kwargs)
    items = digest_for(
        CARLOS, connector, args["accounts"], args["ties"], args["declines"], args["now"], every=WEEK
    )
    return [item.company for item in items]


def test_a_connector_hears_of_teammates_accounts_where_a_tie_holds_best_first() -> None:
    items = digest_for(CARLOS, Connector(), ACCOUNTS, TIES, [], NOW, every=WEEK)
    assert [(i.company, i.reps, i.tie, i.closeness, i.people) for i in items] == [
        ("Initech", ("",), "known", "close", 1),
        ("Acme", (RIYA,), "known", "know_well", 2),
        ("Globex", (RIYA, SAM), "connected", "met_once", 1),
    ]


@pytest.mark.parametrize(
    ("why", "connector", "changes", "left_out"),
    [
        ("on their own list only", Connector(), {}, "Umbrella"),
        ("an ask open through them there", Connector(open_asks=frozenset({"acme"})), {}, "Acme"),
        ("a company not to ask them about", Connector(blocked=frozenset({"globex"})), {}, "Globex"),
        (
            "said not for them this quarter",
            Connector(not_for_me_until={"acme": NOW + timedelta(days=30)}),
            {},
            "Acme",
        ),
        (
            "their only tie there lapsed",
            Connector(),
            {
                "ties": [
                    replace(t, lapsed_at=NOW) if t.company_key == "initech" else t for t in TIES
                ]
            },
            "Initech",
        ),
        (
            "their only tie there said no to an intro lately",
            Connector(),
            {"declines": [TargetDecline("Li Wei", NOW - timedelta(days=10))]},
            "Initech",
        ),
    ],
)
def test_accounts_left_out(why: str, connector: Connector, changes: dict, left_out: str) -> None:
    shown = companies(connector, **changes)
    assert left_out not in shown, why
    assert shown, "the other accounts are still there"


def test_a_hold_that_ended_and_a_quarter_that_passed_no_longer_leave_out() -> None:
    old_no = [TargetDecline("Li Wei", NOW - timedelta(days=200))]
    assert "Initech" in companies(declines=old_no)
    lapsed_mute = Connector(not_for_me_until={"acme": NOW - timedelta(minutes=1)})
    assert "Acme" in companies(lapsed_mute)


def test_a_decline_leaves_out_that_person_not_the_account() -> None:
    items = digest_for(
        CARLOS, Connector(), ACCOUNTS, TIES, [TargetDecline("Jane Doe", NOW)], NOW, every=WEEK
    )
    acme = next(i for i in items if i.company == "Acme")
    assert (acme.tie, acme.people) == ("connected", 1)  # Bob Lee, on LinkedIn, is left


@pytest.mark.parametrize(
    ("connector", "gets_one"),
    [
        (Connector(wants_it=False), False),
        (Connector(snoozed_until=date(2026, 1, 9)), False),
        (Connector(snoozed_until=date(2026, 1, 4)), True),
        (Connector(last=LastDigest("pending", NOW - timedelta(days=9))), False),
        (
            Connector(last=LastDigest("sent", NOW - timedelta(days=9), NOW - timedelta(days=6))),
            False,
        ),
        (Connector(last=LastDigest("sent", NOW - timedelta(days=9), NOW - WEEK)), True),
        (Connector(last=LastDigest("cancelled", NOW - timedelta(days=6))), False),
        (Connector(last=LastDigest("cancelled", NOW - timedelta(days=8))), True),
    ],
)
def test_at_most_one_a_period_and_none_when_turned_off_or_snoozed(
    connector: Connector, gets_one: bool
) -> None:
    assert bool(companies(connector)) is gets_one


def test_may_send_counts_the_period_from_when_the_last_went() -> None:
    sent = LastDigest("sent", NOW - timedelta(days=20), NOW - timedelta(days=3))
    assert not may_send(sent, NOW, WEEK)
    assert may_send(sent, NOW + timedelta(days=4), WEEK)
    assert may_send(None, NOW, WEEK)


def test_only_what_is_new_or_changed_since_it_was_told() -> None:
    items = digest_for(CARLOS, Connector(), ACCOUNTS, TIES, [], NOW, every=WEEK)
    told = {i.company_key: i.told for i in items}
    assert companies(Connector(told=told)) == []  # nothing new: nothing at all
    # Sam adds Acme to his list, and Carlos vouches for Ann at Globex: both are news.
    accounts = [*ACCOUNTS, Account("acme", "Acme", SAM)]
    ties = [replace(t, confirmed_at=NOW) if t.name == "Ann Park" else t for t in TIES]
    assert companies(Connector(told=told), accounts=accounts, ties=ties) == ["Acme", "Globex"]
    # Another contact at an account already told of is not.
    more = [*TIES, Tie(CARLOS, "acme", "Kim Ho", "manual", "met_once", NOW)]
    assert companies(Connector(told=told), ties=more) == []
    # Sam stops working Globex: nothing to tell.
    fewer = [a for a in ACCOUNTS if (a.company_key, a.list_owner_id) != ("globex", SAM)]
    assert companies(Connector(told=told), accounts=fewer) == []


def test_a_digest_is_capped_and_the_rest_wait_for_the_next() -> None:
    accounts = [Account(f"co{n:02}", f"Co {n:02}", RIYA) for n in range(MOST_ITEMS + 3)]
    ties = [
        Tie(CARLOS, a.company_key, f"P {a.company}", "manual", "know_well", NOW) for a in accounts
    ]
    assert len(companies(accounts=accounts, ties=ties)) == MOST_ITEMS


def test_an_item_survives_its_row() -> None:
    item = DigestItem("acme", "Acme", (RIYA, ""), "known", "close", 3)
    assert DigestItem.from_data(item.as_data()) == item
