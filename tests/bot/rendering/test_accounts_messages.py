"""Coverage as people read it: within Slack's limits however long the list, escaped, and
with how well a teammate knows people there only where they share it."""

from __future__ import annotations

from datetime import date

from bot.intro.accounts import WORKSPACE_LIST, AccountCoverage, BestPath, Coverage
from bot.intro.contacts import CONTACTS_PAGE, ContactPage
from bot.intro.directory import CONNECTED, KNOWN
from bot.intro.states import Status
from bot.rendering import messages
from bot.rendering.templating import trusted_mrkdwn
from storage.models import Contact
from tests.bot.rendering.test_templating import (
    BREAKERS,
    HOSTILE,
    HOSTILE_ESCAPED,
    assert_valid_message,
    assert_valid_view,
    make_request,
    mrkdwn_texts,
)

REP = "U0REP"


def _account(company: str, best: BestPath | None = None, **changes: object) -> AccountCoverage:
    values: dict[str, object] = {
        "company": company,
        "company_key": company.lower(),
        "domain": "",
        "tier": "",
        "lists": (REP,),
        "teammates": 1 if best else 0,
        "best": best,
        "viewer_knows": False,
        "open_asks": 0,
        "intros": 0,
        "outcomes": {},
    }
    values.update(changes)
    return AccountCoverage(**values)  # type: ignore[arg-type]


def _many(count: int) -> Coverage:
    name = (HOSTILE + " " + BREAKERS) * 5
    return Coverage(
        [
            _account(
                f"{name[:180]} {n}",
                BestPath("U0CARLOS", KNOWN, True, "know_well", date(2016, 1, 1)),
                tier=HOSTILE[:32],
                lists=(REP, WORKSPACE_LIST),
                teammates=12,
                open_asks=3,
                intros=7,
                outcomes={"meeting_held": 2, "closed_won": 1, "no_response": 4},
            )
            for n in range(1000)
        ]
    )


def test_a_thousand_long_accounts_answer_within_a_messages_limits() -> None:
    message = messages.accounts_message(_many(1000), (REP, WORKSPACE_LIST))
    assert_valid_message(message)
    sections = [b for b in message.blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert message.text.startswith("*1000 of 1000 accounts have a way in*")
    more = message.blocks[-2]["elements"][0]["text"]
    assert more.startswith("And ") and more.endswith(" more accounts not shown here.")
    assert HOSTILE_ESCAPED in sections[1]["text"]["text"]


def test_the_home_tab_with_everything_at_once_stays_under_100_blocks() -> None:
    mine = [make_request(Status.AWAITING_CONNECTOR, id=i) for i in range(1, 16)]
    waiting = [
        make_request(
            Status.CHECKING_WITH_TARGET if i < 5 else Status.AWAITING_CONNECTOR, id=100 + i
        )
        for i in range(15)
    ]
    contacts = [Contact(id=n, name="A", closeness="close") for n in range(CONTACTS_PAGE)]
    page = ContactPage(contacts, matching=35, total=40, page=1, search="a")
    view = messages.home_view(
        mine,
        waiting,
        first_time=True,
        notice_text="hello",
        contact_page=page,
        funnel=trusted_mrkdwn("*Your funnel*"),
        accounts=messages.home_accounts(_many(1000), (REP, WORKSPACE_LIST)),
    )
    assert_valid_view(view)
    section = next(b for b in view["blocks"] if b.get("block_id") == "home_accounts")
    assert len(section["text"]["text"]) <= 3000
    assert any(t.startswith("And 992 more") for t in mrkdwn_texts(view["blocks"]))


def test_how_well_is_said_only_for_a_teammate_who_shares_it() -> None:
    shared = BestPath("U0CARLOS", KNOWN, True, "close", date(2016, 1, 1))
    private = BestPath("U0CARLOS", KNOWN)
    connected = BestPath("U0CARLOS", CONNECTED, True, "met_once", date(2019, 1, 1))
    lines = [
        messages.account_line(_account("Acme", best, teammates=2))
        for best in (shared, private, connected)
    ]
    start = "*Acme*: 2 teammates know people there, ask <@U0CARLOS>"
    assert lines == [
        f"{start} (close to people there · since 2016)",
        start,
        f"{start} (connected on LinkedIn with people there since 2019)",
    ]


def test_an_account_without_a_path_says_so_with_what_happened_there() -> None:
    line = messages.account_line(
        _account(
            "Globex",
            tier="Tier 1",
            lists=(REP, WORKSPACE_LIST),
            open_asks=1,
            intros=2,
            outcomes={"meeting_held": 1, "closed_won": 1},
        ),
        mark_workspace=True,
    )
    assert line == (
        "*Globex* · Tier 1 · workspace's list: no path yet · 1 open ask · 2 intros made "
        "(1 closed-won, 1 meeting held)"
    )
    mine = messages.account_line(_account("Initech", viewer_knows=True))
    assert mine == "*Initech*: you know people there; no teammate does yet"


def test_an_empty_list_says_how_to_start() -> None:
    message = messages.accounts_message(Coverage([]), (REP, WORKSPACE_LIST))
    assert_valid_message(message)
    assert message.text == "You have no accounts on your list, and the workspace has none."
    assert "`/intro accounts add Acme, Globex`" in message.blocks[-1]["elements"][0]["text"]
