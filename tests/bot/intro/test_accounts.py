"""Target-account lists: reading what people give, sorting a file onto lists, ranking the
paths in, and coverage from the database in a few statements, never naming a contact."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import event, select

from bot.intro.accounts import (
    MAX_ACCOUNTS,
    MAX_FILE_ROWS,
    WORKSPACE_LIST,
    AccountInput,
    Accounts,
    clean_domain,
    first_line,
    is_account_list,
    parse_names,
    plan_import,
    rank_paths,
    read_account_list,
)
from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.directory import CONNECTED, KNOWN, LAPSED, Directory
from bot.intro.linkedin import (
    MAX_LINE_CHARS,
    Connection,
    ParsedExport,
    TooManyRows,
    UnreadableExport,
)
from bot.intro.people import Teammate
from bot.intro.privacy import forget_me
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from storage.db import create_engine_for, make_sessionmaker
from storage.models import AccountOwner, TargetAccount

TEAM = "T1"
REP = "U0REP"
CARLOS = "U0CARLOS"
DANA = "U0DANA"
ELI = "U0ELI"
LINKEDIN_HEADER = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"


# --- reading names and files -------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        ("Acme, Globex", ["Acme", "Globex"]),
        ("Acme\nGlobex;  Initech ,", ["Acme", "Globex", "Initech"]),
        ("Acme, Inc., Globex", ["Acme, Inc.", "Globex"]),
        ('"Umbrella", Stark Industries', ["Umbrella", "Stark Industries"]),
        (" , ;\n", []),
    ],
)
def test_typed_names_split_on_commas_and_lines_keeping_a_legal_suffix(
    typed: str, names: list[str]
) -> None:
    assert [a.company for a in parse_names(typed).accounts] == names


def test_typed_names_are_bounded_and_each_refusal_says_why() -> None:
    parsed = parse_names(", ".join(f"Company {n}" for n in range(150)) + ", " + "x" * 300)
    assert len(parsed.accounts) == 100
    assert parsed.skipped == [(0, "more than 100 names at once")]
    assert "longer than 200" in parse_names("y" * 201).skipped[0][1]


@pytest.mark.parametrize(
    ("line", "accounts"),
    [
        ("Company,Domain,Owner,Tier\n", True),
        ("\ufeffAccount Name,Tier\n", True),
        ('"Account Name"\n', True),
        (LINKEDIN_HEADER, False),
        ("Notes:\n", False),
        ("Name,Email\n", False),
    ],
)
def test_an_account_list_is_told_from_linkedins_export_by_its_header(
    line: str, accounts: bool
) -> None:
    assert is_account_list(line) is accounts


def test_the_first_line_is_read_and_the_file_rewound() -> None:
    source = io.BytesIO(b"\xef\xbb\xbf\r\nCompany,Tier\r\nAcme,1\r\n")
    assert first_line(source).strip() == "Company,Tier"
    assert source.tell() == 0


@pytest.mark.parametrize(
    ("given", "domain"),
    [
        ("https://www.Acme.com/about", "acme.com"),
        ("acme.co.uk", "acme.co.uk"),
        ("", ""),
        ("not a domain", None),
        ("localhost", None),
    ],
)
def test_domains_are_kept_as_the_bare_host(given: str, domain: str | None) -> None:
    assert clean_domain(given) == domain


def test_an_account_list_is_read_with_its_optional_columns_and_skips_with_reasons() -> None:
    csv_text = (
        "Account Name,Website,Account Owner,Tier,List\n"
        "Acme,https://acme.com,maria@example.com,Tier 1,\n"
        ",globex.com,,,\n"
        "Globex,not a domain,,,\n"
        "Initech,,," + "t" * 40 + ",\n"
        "\n"
        "Umbrella,umbrella.com,@sam,Tier 2,team\n"
    )
    parsed = read_account_list(io.BytesIO(csv_text.encode()))
    assert [(a.company, a.domain, a.tier, a.owner, a.workspace) for a in parsed.accounts] == [
        ("Acme", "acme.com", "Tier 1", "maria@example.com", False),
        ("Umbrella", "umbrella.com", "Tier 2", "@sam", True),
    ]
    assert [line for line, _ in parsed.skipped] == [3, 4, 5]
    assert "no company" in parsed.skipped[0][1]
    assert "isn't a web domain" in parsed.skipped[1][1]
    assert "tier longer than 32" in parsed.skipped[2][1]


def test_an_account_list_is_bounded_by_rows_and_line_length() -> None:
    rows = "Company\n" + "".join(f"Firm {n}\n" for n in range(MAX_FILE_ROWS + 1))
    with pytest.raises(TooManyRows):
        read_account_list(io.BytesIO(rows.encode()))
    long_line = "Company\n" + "a" * (MAX_LINE_CHARS + 1) + "\n"
    with pytest.raises(UnreadableExport) as refused:
        read_account_list(io.BytesIO(long_line.encode()))
    assert str(refused.value) == "line_too_long"


# --- sorting a file onto lists ---------------------------------------------------------------


def _parsed(*accounts: AccountInput):  # type: ignore[no-untyped-def]
    from bot.intro.accounts import ParsedAccounts

    return ParsedAccounts(list(accounts))


def test_only_admins_add_to_the_workspaces_list_and_set_owners() -> None:
    parsed = _parsed(
        AccountInput("Acme", owner="maria@example.com", line=2),
        AccountInput("Globex", workspace=True, line=3),
        AccountInput("Initech", line=4),
    )
    rep = plan_import(parsed, admin=False, owner_ids={"maria@example.com": "U0MARIA"})
    assert [a.company for a in rep.mine] == ["Acme", "Initech"] and rep.workspace == []
    assert rep.owners == {}
    assert rep.owners_not_set == [(2, "Acme: only workspace admins set account owners")]
    assert rep.skipped == [(3, "Globex: only workspace admins add to the workspace's list")]

    admin = plan_import(parsed, admin=True, owner_ids={"maria@example.com": "U0MARIA"})
    assert [a.company for a in admin.workspace] == ["Globex"]
    assert admin.owners == {"acme": "U0MARIA"}
    assert admin.skipped == [] and admin.owners_not_set == []


def test_an_owner_nobody_is_leaves_the_account_without_one() -> None:
    parsed = _parsed(AccountInput("Acme", owner="@nobody", line=2))
    plan = plan_import(parsed, admin=True, owner_ids={"maria": "U0MARIA"})
    assert [a.company for a in plan.mine] == ["Acme"] and plan.owners == {}
    assert plan.owners_not_set == [(2, "Acme: no teammate is @nobody")] and plan.skipped == []


# --- ranking the paths in --------------------------------------------------------------------

TODAY = date(2026, 6, 1)


def test_declared_ties_rank_above_connections_and_lapsed_ties_last_whatever_their_age() -> None:
    ties = [
        ("U0LAPSED", LAPSED, "close", date(2026, 1, 1)),
        ("U0LINKED", CONNECTED, "met_once", date(2026, 5, 1)),
        ("U0KNOWN", KNOWN, "met_once", date(2005, 1, 1)),
    ]
    ranked = rank_paths(ties, {}, set(), TODAY)
    assert [path.user_id for path in ranked] == ["U0KNOWN", "U0LINKED", "U0LAPSED"]


def test_within_a_kind_closeness_and_load_decide() -> None:
    ties = [
        ("U0BUSY", KNOWN, "close", date(2024, 1, 1)),
        ("U0FREE", KNOWN, "close", date(2024, 1, 1)),
        ("U0FAINT", KNOWN, "met_once", date(2024, 1, 1)),
    ]
    ranked = rank_paths(ties, {"U0BUSY": (4, 0)}, set(), TODAY)
    assert [path.user_id for path in ranked] == ["U0FREE", "U0BUSY", "U0FAINT"]


def test_a_teammates_best_tie_counts_once_and_details_only_where_they_share() -> None:
    ties = [
        (CARLOS, CONNECTED, "met_once", date(2019, 1, 1)),
        (CARLOS, KNOWN, "know_well", date(2016, 1, 1)),
        (DANA, KNOWN, "close", date(2020, 1, 1)),
    ]
    ranked = rank_paths(ties, {}, {CARLOS}, TODAY)
    assert len(ranked) == 2
    carlos = next(path for path in ranked if path.user_id == CARLOS)
    assert (carlos.tie, carlos.closeness, carlos.since) == (KNOWN, "know_well", date(2016, 1, 1))
    dana = next(path for path in ranked if path.user_id == DANA)
    assert (dana.shares_details, dana.closeness, dana.since) == (False, None, None)


# --- lists and coverage in the database ---------------------------------------------------------


@dataclass
class Rig:
    accounts: Accounts
    directory: Directory
    workflow: IntroWorkflow
    clock: ManualClock
    statements: list[str]

    async def ask(self, connector: str, target: str, company: str) -> int:
        draft = RequestDraft(
            requester=Teammate(REP),
            connector=Teammate(connector),
            target_name=target,
            target_company=company,
            reason="r",
            blurb="b",
        )
        return (await self.workflow.submit(TEAM, draft, [])).request.id


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    yield Rig(
        Accounts(sessions, clock),
        Directory(sessions, clock),
        IntroWorkflow(sessions, clock),
        clock,
        statements,
    )
    await engine.dispose()


async def test_another_spelling_of_an_account_on_the_list_is_merged_not_added(rig: Rig) -> None:
    first = await rig.accounts.add(TEAM, REP, [AccountInput("Acme"), AccountInput("Globex")], REP)
    assert (first.added, first.merged) == (2, 0)
    again = await rig.accounts.add(
        TEAM, REP, [AccountInput("ACME Inc.", domain="acme.com", tier="Tier 1")], REP
    )
    assert (again.added, again.merged) == (0, 1)
    listed = await rig.accounts.listed(TEAM, [REP])
    assert [(a.company, a.domain, a.tier) for a in listed] == [
        ("Acme", "acme.com", "Tier 1"),
        ("Globex", "", ""),
    ]
    # The workspace's list and another rep's are lists of their own.
    await rig.accounts.add(TEAM, WORKSPACE_LIST, [AccountInput("Acme")], "U0ADMIN")
    assert len(await rig.accounts.listed(TEAM, [REP, WORKSPACE_LIST])) == 3
    assert await rig.accounts.listed(TEAM, [DANA]) == []


async def test_a_list_holds_a_bounded_number_of_accounts(rig: Rig) -> None:
    many = [AccountInput(f"Firm {n}") for n in range(MAX_ACCOUNTS + 2)]
    report = await rig.accounts.add(TEAM, REP, many, REP)
    assert report.added == MAX_ACCOUNTS and len(report.skipped) == 2
    assert "at most 1000 accounts" in report.skipped[0][1]


async def test_owners_given_with_accounts_route_intros_there(rig: Rig) -> None:
    report = await rig.accounts.add(
        TEAM, WORKSPACE_LIST, [AccountInput("Acme Inc.")], "U0ADMIN", owners={"acme": "U0MARIA"}
    )
    assert report.owners_set == 1
    review = await rig.directory.review_ask(TEAM, REP, CARLOS, "Jane Doe", "ACME")
    assert review.account_owner == "U0MARIA"


async def test_removing_matches_any_spelling_and_names_what_was_not_there(rig: Rig) -> None:
    await rig.accounts.add(TEAM, REP, [AccountInput("Acme Inc."), AccountInput("Globex")], REP)
    removed = await rig.accounts.remove(TEAM, REP, ["acme", "Initech"])
    assert removed.removed == ["Acme Inc."] and removed.not_found == ["Initech"]
    assert [a.company for a in await rig.accounts.listed(TEAM, [REP])] == ["Globex"]


async def test_coverage_counts_teammates_ranks_the_best_and_counts_asks_and_intros(
    rig: Rig,
) -> None:
    await rig.accounts.add(
        TEAM, REP, [AccountInput("Acme"), AccountInput("Globex"), AccountInput("Initech")], REP
    )
    await rig.accounts.add(TEAM, WORKSPACE_LIST, [AccountInput("ACME Corp")], "U0ADMIN")
    directory = rig.directory
    # Dana declared a tie; Carlos is only connected on LinkedIn, though more recently.
    await directory.add_contact(TEAM, DANA, ContactInput("Jane Doe", "Acme Inc", since=None))
    export = ParsedExport(
        [Connection("Bob Lee", "ACME", "CFO", "", date(2025, 1, 1), "")]
        + [Connection(f"Person {n}", "acme", "", "", date(2024, 1, 1), "") for n in range(5)]
    )
    await directory.import_connections(TEAM, CARLOS, export)
    # The rep knows someone at Initech themselves; Eli did, but left Slack.
    await directory.add_contact(TEAM, REP, ContactInput("Ann Ash", "Initech"))
    await directory.add_contact(TEAM, ELI, ContactInput("Ivy Ng", "Initech"))
    await directory.mark_departed(TEAM, ELI, True)
    # Asks there: one open, one intro made that led to a meeting.
    await rig.ask(DANA, "Jane Doe", "Acme")
    made = await rig.ask(CARLOS, "Bob Lee", "ACME, Inc.")
    for action in (Action.ACCEPT, Action.TARGET_AGREED):
        await rig.workflow.act(TEAM, made, CARLOS, action)
    await rig.workflow.report_outcome(TEAM, made, REP, "meeting_held")

    rig.statements.clear()
    coverage = await rig.accounts.coverage(TEAM, [REP, WORKSPACE_LIST], viewer_id=REP)
    assert len(rig.statements) <= 5

    assert (coverage.with_way_in, coverage.total) == (2, 3)
    acme, globex, initech = coverage.accounts
    assert acme.company == "Acme" and acme.lists == (REP, WORKSPACE_LIST)
    assert acme.teammates == 2 and acme.best is not None and acme.best.user_id == DANA
    assert acme.best.tie == KNOWN and acme.best.closeness is None  # Dana doesn't share
    assert (acme.open_asks, acme.intros, acme.outcomes) == (1, 1, {"meeting_held": 1})
    assert globex.best is None and not globex.has_way_in
    assert initech.best is None and initech.viewer_knows and initech.teammates == 0
    assert "Jane" not in repr(coverage) and "Bob" not in repr(coverage)


async def test_coverage_shows_how_well_only_for_teammates_who_share_it(rig: Rig) -> None:
    await rig.accounts.add(TEAM, REP, [AccountInput("Acme")], REP)
    await rig.directory.add_contact(
        TEAM, CARLOS, ContactInput("Jane Doe", "Acme", closeness="close", since=date(2016, 5, 1))
    )
    hidden = (await rig.accounts.coverage(TEAM, [REP])).accounts[0].best
    assert hidden is not None and (hidden.closeness, hidden.since) == (None, None)
    await rig.directory.set_share_tie_details(TEAM, CARLOS, True)
    shared = (await rig.accounts.coverage(TEAM, [REP])).accounts[0].best
    assert shared is not None and (shared.closeness, shared.since) == ("close", date(2016, 5, 1))


async def test_coverage_of_an_empty_list_asks_once(rig: Rig) -> None:
    rig.statements.clear()
    coverage = await rig.accounts.coverage(TEAM, [REP])
    assert coverage.total == 0 and coverage.with_way_in == 0
    assert len(rig.statements) == 1


async def test_forget_me_deletes_the_persons_own_list_only(rig: Rig) -> None:
    await rig.accounts.add(TEAM, REP, [AccountInput("Acme")], REP)
    await rig.accounts.add(TEAM, WORKSPACE_LIST, [AccountInput("Globex")], REP)
    await rig.accounts.add(TEAM, DANA, [AccountInput("Initech")], DANA)
    await forget_me(rig.accounts._sessions, TEAM, REP)
    async with rig.accounts._sessions() as session:
        left = set(await session.scalars(select(TargetAccount.company)))
        owners = list(await session.scalars(select(AccountOwner)))
    assert left == {"Globex", "Initech"} and owners == []


async def test_a_tie_its_teammate_said_has_lapsed_is_no_way_in(rig: Rig) -> None:
    await rig.accounts.add(TEAM, REP, [AccountInput("Acme"), AccountInput("Globex")], REP)
    lapsed, _ = await rig.directory.add_contact(TEAM, CARLOS, ContactInput("Jane Doe", "Acme"))
    await rig.directory.confirm_tie(TEAM, CARLOS, lapsed.id, still_in_touch=False)
    await rig.directory.add_contact(TEAM, DANA, ContactInput("Ann Ash", "Globex"))
    await rig.directory.add_contact(TEAM, CARLOS, ContactInput("Bo Bell", "Globex"))
    coverage = await rig.accounts.coverage(TEAM, [REP])
    assert (coverage.with_way_in, coverage.total) == (1, 2)
    acme, globex = coverage.accounts
    assert acme.best is None and acme.teammates == 0 and not acme.has_way_in
    assert globex.teammates == 2 and globex.best is not None


async def test_spellings_an_admin_merged_are_one_account_with_the_ties_under_each(
    rig: Rig,
) -> None:
    await rig.accounts.add(TEAM, REP, [AccountInput("Acme"), AccountInput("Acme Logistics")], REP)
    await rig.directory.add_contact(TEAM, DANA, ContactInput("Jane Doe", "Acme Logistics GmbH"))
    await rig.ask(CARLOS, "Bob Lee", "Acme Logistics")
    before = await rig.accounts.coverage(TEAM, [REP])
    assert [(a.company, a.teammates) for a in before.accounts] == [
        ("Acme", 0),
        ("Acme Logistics", 1),
    ]
    await rig.directory.companies.merge(TEAM, "Acme", "Acme Logistics", rig.clock.now())
    after = await rig.accounts.coverage(TEAM, [REP])
    (acme,) = after.accounts
    assert (after.total, after.with_way_in) == (1, 1)
    assert acme.company == "Acme" and acme.lists == (REP,)
    assert acme.best is not None and acme.best.user_id == DANA and acme.open_asks == 1
