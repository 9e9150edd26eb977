"""Target-account lists and their coverage: the accounts a rep (or the workspace) is working,
and for each, whether the team has a way in. Slack-free, like the directory.

A list belongs to a rep (`list_owner_id` their Slack id) or to the workspace
(`WORKSPACE_LIST`, kept by admins). Accounts are keyed with `bot.intro.matching.company_key`,
like contacts and account owners, so "Acme Inc." on a list meets "ACME" in someone's contacts.

Other code reads lists and coverage through `Accounts`:

- `Accounts.listed(team_id, list_owner_ids)`: the accounts on those lists.
- `Accounts.coverage(team_id, list_owner_ids, viewer_id=...)`: for each account, how many
  teammates know people there, the best teammate to ask, the asks open there and the intros
  made there with what came of them. A handful of statements, whatever the list's length.

Coverage never carries a contact: no name, title or email of anyone a teammate knows, only
that they know people at the company (and, where that teammate shares how well they know
people, how well and since when).
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import IO

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.companies import Companies
from bot.intro.directory import (
    CONNECTED,
    KNOWN,
    LAPSED,
    TIE_TIER,
    loads_and_sharing,
    rank_key,
    tie_score,
)
from bot.intro.linkedin import (
    MAX_LINE_CHARS,
    NotAConnectionsExport,
    TooManyRows,
    UnreadableExport,
)
from bot.intro.matching import company_key, fold, is_legal_form
from bot.intro.states import INTRO_MADE_STATUSES, OPEN_STATUSES
from storage.db import reading
from storage.models import (
    AccountOwner,
    Contact,
    DepartedUser,
    IntroRequest,
    TargetAccount,
)

WORKSPACE_LIST = ""  # the list_owner_id of the workspace's own list
MAX_ACCOUNTS = 1000  # on one list: a rep's named accounts are dozens, a workspace's hundreds
MAX_FILE_ROWS = 2000  # rows read from one file (a list, with room for repeats and blanks)
MAX_TYPED = 100  # names in one `/intro accounts add` or one paste
COMPANY_MAX = TargetAccount.__table__.c.company.type.length  # type: ignore[attr-defined]
DOMAIN_MAX = TargetAccount.__table__.c.domain.type.length  # type: ignore[attr-defined]
TIER_MAX = TargetAccount.__table__.c.tier.type.length  # type: ignore[attr-defined]
OWNER_MAX = 254  # an email, or a Slack handle
# The header's columns, folded: the company, and the optional ones.
COMPANY_COLUMNS = ("company", "account name", "account", "company name")
DOMAIN_COLUMNS = ("domain", "website", "company domain")
OWNER_COLUMNS = ("owner", "account owner", "owner email")
TIER_COLUMNS = ("tier", "account tier")
LIST_COLUMNS = ("list",)
# A `List` cell that puts the row on the workspace's list (admins only).
WORKSPACE_WORDS = ("team", "workspace")
_DOMAIN = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_SEPARATORS = re.compile(r"[,;\n\r]+")


# --- reading what people give ------------------------------------------------------------


@dataclass(frozen=True)
class AccountInput:
    """One account as given: its company, and optionally a domain, a tier, an owner (an email
    or a Slack handle, as written) and whether it is for the workspace's list."""

    company: str
    domain: str = ""
    tier: str = ""
    owner: str = ""
    workspace: bool = False
    line: int = 0  # where it was read (0: typed)


@dataclass
class ParsedAccounts:
    accounts: list[AccountInput] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def clean_domain(text: str) -> str | None:
    """`https://www.acme.com/about` -> `acme.com`; "" for nothing; None for what isn't a web
    domain."""
    text = text.strip().lower()
    if not text:
        return ""
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text).split("/", 1)[0].split("?", 1)[0]
    text = text.removeprefix("www.").rstrip(".")
    return text if _DOMAIN.match(text) and len(text) <= DOMAIN_MAX else None


def parse_names(text: str) -> ParsedAccounts:
    """Names typed or pasted: separated by commas, semicolons or new lines. A legal suffix
    after a comma stays with its name ("Acme, Inc." is one account)."""
    parsed = ParsedAccounts()
    names: list[str] = []
    for piece in _SEPARATORS.split(text):
        piece = piece.strip().strip('"').strip()
        if not piece:
            continue
        if names and is_legal_form(piece):
            names[-1] = f"{names[-1]}, {piece}"  # "Inc." on its own: Acme's suffix
        else:
            names.append(piece)
    for name in names:
        if len(parsed.accounts) >= MAX_TYPED:
            parsed.skipped.append((0, f"more than {MAX_TYPED} names at once"))
            break
        problem = _company_problem(name)
        if problem:
            parsed.skipped.append((0, problem))
        else:
            parsed.accounts.append(AccountInput(name))
    return parsed


def _company_problem(name: str) -> str:
    if len(name) > COMPANY_MAX:
        return f"{name[:40]}…: a company name longer than {COMPANY_MAX} characters"
    if not company_key(name):
        return f"{name}: not a company name"
    return ""


def _columns(header: list[str]) -> dict[str, int]:
    folded = [fold(column) for column in header]
    found: dict[str, int] = {}
    for role, names in (
        ("company", COMPANY_COLUMNS),
        ("domain", DOMAIN_COLUMNS),
        ("owner", OWNER_COLUMNS),
        ("tier", TIER_COLUMNS),
        ("list", LIST_COLUMNS),
    ):
        for name in names:
            if name in folded:
                found[role] = folded.index(name)
                break
    return found


def is_account_list(first_line: str) -> bool:
    """Whether a CSV's first line is an account list's header rather than LinkedIn's: it has
    a `Company` or `Account Name` column and no `First Name` and `Last Name`. LinkedIn's
    export opens with notes, then `First Name,Last Name,…,Company,…`."""
    try:
        header = next(csv.reader([first_line.lstrip("\ufeff")]))
    except (csv.Error, StopIteration):
        return False
    folded = {fold(column) for column in header}
    if {"first name", "last name"} <= folded:
        return False
    return "company" in _columns(header)


def first_line(source: IO[bytes]) -> str:
    """The first line with anything on it (at most `MAX_LINE_CHARS`), the file rewound."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", errors="replace", newline="")
    try:
        for _ in range(5):
            line = text.readline(MAX_LINE_CHARS)
            if line.strip():
                return line
        return ""
    finally:
        text.detach()
        source.seek(0)


def read_account_list(source: IO[bytes]) -> ParsedAccounts:
    """An account list's CSV, read as a stream within bounds: `MAX_LINE_CHARS` a line,
    `MAX_FILE_ROWS` rows, each field no longer than its column. Raises `ExportError`'s kinds
    (the same messages as a LinkedIn export's) for a file that can't be read at all."""
    text = io.TextIOWrapper(source, encoding="utf-8-sig", errors="replace", newline="")
    lines = _bounded(text)
    try:
        reader = csv.reader(lines)
        header = next(reader, None)
        columns = _columns(header or [])
        if "company" not in columns:
            raise NotAConnectionsExport("no Company or Account Name column")
        parsed = ParsedAccounts()
        rows = 0
        for row in _csv_rows(reader):
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            rows += 1
            if rows > MAX_FILE_ROWS:
                raise TooManyRows("too many rows", line=line, limit=MAX_FILE_ROWS)
            account, problem = _account(row, columns, line)
            if account is None:
                parsed.skipped.append((line, problem))
            else:
                parsed.accounts.append(account)
        return parsed
    finally:
        text.detach()


def _bounded(text: IO[str]) -> Iterator[str]:
    number = 0
    while line := text.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise UnreadableExport("line_too_long", line=number, limit=MAX_LINE_CHARS)
        yield line


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = int(getattr(reader, "line_num", 0))
            if "field limit" in str(exc):
                raise UnreadableExport(
                    "field_too_long", line=line, limit=csv.field_size_limit()
                ) from None
            raise UnreadableExport("not_csv", line=line) from None
        yield row


def _account(
    row: list[str], columns: Mapping[str, int], line: int
) -> tuple[AccountInput | None, str]:
    def cell(role: str) -> str:
        index = columns.get(role)
        return row[index].strip() if index is not None and index < len(row) else ""

    company = cell("company")
    if not company:
        return None, "no company"
    problem = _company_problem(company)
    if problem:
        return None, problem
    domain = clean_domain(cell("domain"))
    if domain is None:
        return None, f"{company}: {cell('domain')[:60]!r} isn't a web domain"
    tier = cell("tier")
    if len(tier) > TIER_MAX:
        return None, f"{company}: a tier longer than {TIER_MAX} characters"
    owner = cell("owner")
    if len(owner) > OWNER_MAX:
        return None, f"{company}: an owner longer than {OWNER_MAX} characters"
    workspace = fold(cell("list")) in WORKSPACE_WORDS
    return AccountInput(company, domain, tier, owner, workspace, line), ""


@dataclass
class ImportPlan:
    """A file's accounts sorted onto lists: the sender's, and (admins only) the workspace's;
    the owners to set (company key -> Slack id); the rows skipped, and the owners not set
    (their accounts are added all the same), each with why."""

    mine: list[AccountInput] = field(default_factory=list)
    workspace: list[AccountInput] = field(default_factory=list)
    owners: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    owners_not_set: list[tuple[int, str]] = field(default_factory=list)


def owner_handle(text: str) -> str:
    """How an Owner cell is looked up: an email, a handle with or without its @, or a
    mention (`<@U123>`), folded to one form."""
    text = text.strip()
    mention = re.fullmatch(r"<@([A-Z0-9]+)(?:\|[^>]*)?>", text)
    if mention:
        return mention.group(1)
    return text.removeprefix("@").strip().casefold()


def plan_import(parsed: ParsedAccounts, *, admin: bool, owner_ids: Mapping[str, str]) -> ImportPlan:
    """Which list each row goes on and whose account it is. Only admins add to the
    workspace's list (a `List` of `team`) and set owners; anyone else's such rows are
    skipped, or their owner left unset (`owners_not_set`), with the reason. `owner_ids`:
    `owner_handle` -> Slack id, for the owners the caller could find."""
    plan = ImportPlan(skipped=list(parsed.skipped))
    for account in parsed.accounts:
        if account.workspace and not admin:
            reason = f"{account.company}: only workspace admins add to the workspace's list"
            plan.skipped.append((account.line, reason))
            continue
        (plan.workspace if account.workspace else plan.mine).append(account)
        if not account.owner:
            continue
        if not admin:
            reason = f"{account.company}: only workspace admins set account owners"
            plan.owners_not_set.append((account.line, reason))
            continue
        found = owner_ids.get(owner_handle(account.owner))
        if found is None:
            reason = f"{account.company}: no teammate is {account.owner[:60]}"
            plan.owners_not_set.append((account.line, reason))
            continue
        plan.owners[company_key(account.company)] = found
    return plan


# --- what a list holds -------------------------------------------------------------------


@dataclass
class AddReport:
    """What adding to a list did: accounts added, merged into one already there (another
    spelling of it, or given twice), and skipped with the reason; account owners set."""

    added: int = 0
    merged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    owners_set: int = 0
    added_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ListedAccount:
    company: str
    company_key: str
    domain: str
    tier: str
    list_owner_id: str  # WORKSPACE_LIST for the workspace's


@dataclass(frozen=True)
class RemoveReport:
    removed: list[str]  # the companies as they were listed
    not_found: list[str]  # as typed


@dataclass(frozen=True)
class BestPath:
    """The teammate to ask about an account. `tie`: known, connected (on LinkedIn only) or
    lapsed; `closeness` and `since` only when that teammate shares how well they know people
    (`shares_details`), else None."""

    user_id: str
    tie: str
    shares_details: bool = False
    closeness: str | None = None
    since: date | None = None


@dataclass(frozen=True)
class AccountCoverage:
    company: str
    company_key: str
    domain: str
    tier: str
    lists: tuple[str, ...]  # whose lists it is on (WORKSPACE_LIST for the workspace's)
    teammates: int  # teammates (the viewer left out) with a tie to people there
    best: BestPath | None
    viewer_knows: bool  # the viewer has people there on their own list
    open_asks: int  # asks open for people there, anyone's
    intros: int  # intros made there, anyone's
    outcomes: dict[str, int]  # of those intros, by latest outcome (labels.json "outcome")

    @property
    def has_way_in(self) -> bool:
        return self.best is not None or self.viewer_knows


@dataclass(frozen=True)
class Coverage:
    """Coverage of some lists: every account once, by tier (blank last) then name."""

    accounts: list[AccountCoverage]

    @property
    def total(self) -> int:
        return len(self.accounts)

    @property
    def with_way_in(self) -> int:
        return sum(1 for account in self.accounts if account.has_way_in)


def _sort_key(tier: str, company: str) -> tuple[int, str, str]:
    return (0 if tier.strip() else 1, fold(tier), fold(company))


def rank_paths(
    ties: Iterable[tuple[str, str, str, date | None]],
    loads: Mapping[str, tuple[int, int]],
    sharing: Collection[str],
    today: date,
) -> list[BestPath]:
    """Teammates with ties at one account, best first, ranked as suggestions rank them:
    declared ties before LinkedIn connections, lapsed ties last (`directory.rank_key`); within
    each, how well and how recently, how loaded they are now and how their intros went
    (`directory.tie_score`). `ties`: (user id, tie kind, closeness, since), any number per
    teammate; `loads`: each one's (open asks, intros made)."""
    best: dict[str, tuple[tuple[int, float], str, str, date | None]] = {}
    for user_id, kind, closeness, since in ties:
        open_asks, intros = loads.get(user_id, (0, 0))
        score = tie_score(1.0, closeness, since, today, open_asks, intros)
        better = (TIE_TIER[kind], score)
        if user_id not in best or better > best[user_id][0]:
            best[user_id] = (better, kind, closeness, since)
    ranked = sorted(best.items(), key=lambda item: rank_key(item[1][1], item[1][0][1], item[0]))
    paths = []
    for user_id, (_, kind, closeness, since) in ranked:
        shares = user_id in sharing
        paths.append(
            BestPath(
                user_id,
                kind,
                shares,
                closeness if shares else None,
                since if shares else None,
            )
        )
    return paths


def _kind(source: str, lapsed: bool, unconfirmed: bool) -> str:
    """`directory.tie_kind`, from what the grouped statement keeps of a tie."""
    if lapsed:
        return LAPSED
    return CONNECTED if source == "linkedin" and unconfirmed else KNOWN


class Accounts:
    """Target-account lists, and their coverage by the team's ties."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock

    # --- changing a list -------------------------------------------------------------------

    async def add(
        self,
        team_id: str,
        list_owner_id: str,
        entries: Iterable[AccountInput],
        added_by: str,
        owners: Mapping[str, str] | None = None,
    ) -> AddReport:
        """Add accounts to one list (`WORKSPACE_LIST` for the workspace's), in one
        transaction. An account already on the list under any spelling of its key is merged:
        a domain or tier given now fills in or replaces the one it had. `owners` (company key
        -> Slack id, admins' lists only: the caller checks) sets each account's owner for
        routing, as `/intro owner` does. The list holds at most `MAX_ACCOUNTS`. Two adds of
        one account at once (a double submission, two replicas) keep it once: the one that
        loses the race to insert is made again, and merges."""
        entries = list(entries)
        try:
            return await self._add(team_id, list_owner_id, entries, added_by, owners or {})
        except IntegrityError:
            return await self._add(team_id, list_owner_id, entries, added_by, owners or {})

    async def _add(
        self,
        team_id: str,
        list_owner_id: str,
        entries: list[AccountInput],
        added_by: str,
        owners: Mapping[str, str],
    ) -> AddReport:
        report = AddReport()
        now = self._clock.now()
        async with self._sessions.begin() as session:
            rows = await session.scalars(
                select(TargetAccount).where(
                    TargetAccount.team_id == team_id,
                    TargetAccount.list_owner_id == list_owner_id,
                )
            )
            listed = {row.company_key: row for row in rows}
            for entry in entries:
                key = company_key(entry.company)
                if not key:
                    report.skipped.append((entry.line, f"{entry.company}: not a company name"))
                    continue
                row = listed.get(key)
                if row is None and len(listed) >= MAX_ACCOUNTS:
                    reason = f"{entry.company}: the list holds at most {MAX_ACCOUNTS} accounts"
                    report.skipped.append((entry.line, reason))
                    continue
                if row is None:
                    row = TargetAccount(
                        team_id=team_id,
                        list_owner_id=list_owner_id,
                        company=entry.company.strip(),
                        company_key=key,
                        domain=entry.domain,
                        tier=entry.tier.strip(),
                        added_by=added_by,
                        added_at=now,
                    )
                    session.add(row)
                    listed[key] = row
                    report.added += 1
                    report.added_names.append(row.company)
                else:
                    row.domain = entry.domain or row.domain
                    row.tier = entry.tier.strip() or row.tier
                    report.merged += 1
                owner_id = owners.get(key)
                if owner_id:
                    await session.merge(
                        AccountOwner(
                            team_id=team_id,
                            company_key=key,
                            company=row.company,
                            owner_id=owner_id,
                        )
                    )
                    report.owners_set += 1
        return report

    async def remove(
        self, team_id: str, list_owner_id: str, companies: Iterable[str]
    ) -> RemoveReport:
        """Take accounts off one list, each matched by its company key."""
        wanted = {company_key(name): name for name in companies if company_key(name)}
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(TargetAccount).where(
                        TargetAccount.team_id == team_id,
                        TargetAccount.list_owner_id == list_owner_id,
                        TargetAccount.company_key.in_(list(wanted)),
                    )
                )
            )
            for row in rows:
                await session.delete(row)
        found = {row.company_key for row in rows}
        return RemoveReport(
            removed=[row.company for row in rows],
            not_found=[name for key, name in wanted.items() if key not in found],
        )

    async def delete_list(self, team_id: str, list_owner_id: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(TargetAccount).where(
                    TargetAccount.team_id == team_id,
                    TargetAccount.list_owner_id == list_owner_id,
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- reading lists -------------------------------------------------------------------

    async def listed(
        self,
        team_id: str,
        list_owner_ids: Collection[str],
        *,
        session: AsyncSession | None = None,
    ) -> list[ListedAccount]:
        """The accounts on these lists (a rep's id, `WORKSPACE_LIST`), by tier then name; an
        account on two of them is listed for each."""
        async with reading(self._sessions, session) as session:
            rows = await session.execute(
                select(
                    TargetAccount.company,
                    TargetAccount.company_key,
                    TargetAccount.domain,
                    TargetAccount.tier,
                    TargetAccount.list_owner_id,
                ).where(
                    TargetAccount.team_id == team_id,
                    TargetAccount.list_owner_id.in_(list(list_owner_ids)),
                )
            )
            found = [ListedAccount(*row) for row in rows]
        return sorted(found, key=lambda a: (*_sort_key(a.tier, a.company), a.list_owner_id))

    # --- coverage ------------------------------------------------------------------------

    async def coverage(
        self,
        team_id: str,
        list_owner_ids: Collection[str],
        *,
        viewer_id: str = "",
        session: AsyncSession | None = None,
    ) -> Coverage:
        """For every account on these lists (each once, wherever listed): how many teammates
        know people there, the best one to ask (`rank_paths`), whether `viewer_id` knows
        people there themselves (they are not counted among the teammates), the asks open
        for people there and the intros made there with their outcomes.

        Five statements, whatever the number of accounts: the lists; the team's company
        merges (spellings an admin made one are one account); the ties at those
        companies, grouped per teammate and kind of tie (by the contacts' company index,
        teammates who left Slack left out); those teammates' open asks and intros, with
        which of them share how well they know people; and the workspace's asks by
        company."""
        async with reading(self._sessions, session) as session:
            listed = await self.listed(team_id, list_owner_ids, session=session)
            if not listed:
                return Coverage([])
            # Spellings an admin merged are one account, and ties under any of them count.
            merged = await Companies(self._sessions).merged(team_id, session=session)

            def canonical(key: str) -> str:
                return merged.get(key, key)

            keys = {canonical(account.company_key) for account in listed}
            spellings = keys | {alias for alias, key in merged.items() if key in keys}
            ties = [
                (canonical(key), owner, kind, closeness, since, undated)
                for key, owner, kind, closeness, since, undated in await self._ties(
                    session, team_id, sorted(spellings)
                )
            ]
            people = sorted({row[1] for row in ties if row[1] != viewer_id})
            loads, sharing = await loads_and_sharing(session, team_id, people)
            asks = await self._asks_by_company(session, team_id, keys, canonical)
        return self._assemble(listed, ties, loads, sharing, asks, viewer_id, canonical)

    def _assemble(
        self,
        listed: list[ListedAccount],
        ties: list[tuple[str, str, str, str, date | None, bool]],
        loads: Mapping[str, tuple[int, int]],
        sharing: Collection[str],
        asks: Mapping[str, tuple[int, int, dict[str, int]]],
        viewer_id: str,
        canonical: Callable[[str], str],
    ) -> Coverage:
        today = self._clock.now().date()
        by_key: dict[str, list[tuple[str, str, str, date | None]]] = defaultdict(list)
        viewer_knows: set[str] = set()
        for key, user_id, kind, closeness, since, undated in ties:
            if user_id == viewer_id:
                if kind != LAPSED:
                    viewer_knows.add(key)
                continue
            if since is not None:
                by_key[key].append((user_id, kind, closeness, since))
            if undated:
                by_key[key].append((user_id, kind, closeness, None))
        lists: dict[str, list[str]] = defaultdict(list)
        first: dict[str, ListedAccount] = {}
        for account in listed:
            key = canonical(account.company_key)
            if account.list_owner_id not in lists[key]:
                lists[key].append(account.list_owner_id)
            first.setdefault(key, account)
        covered = []
        for key, account in first.items():
            # A lapsed tie ("not really anymore") is no way in: its teammate said so.
            ranked = rank_paths(by_key.get(key, ()), loads, sharing, today)
            paths = [path for path in ranked if path.tie != LAPSED]
            open_asks, intros, outcomes = asks.get(key, (0, 0, {}))
            covered.append(
                AccountCoverage(
                    company=account.company,
                    company_key=key,
                    domain=account.domain,
                    tier=account.tier,
                    lists=tuple(lists[key]),
                    teammates=len(paths),
                    best=paths[0] if paths else None,
                    viewer_knows=key in viewer_knows,
                    open_asks=open_asks,
                    intros=intros,
                    outcomes=outcomes,
                )
            )
        covered.sort(key=lambda a: _sort_key(a.tier, a.company))
        return Coverage(covered)

    async def _ties(
        self, session: AsyncSession, team_id: str, keys: list[str]
    ) -> list[tuple[str, str, str, str, date | None, bool]]:
        """Per company, teammate, kind of tie and closeness: the latest `since`, and whether
        some of those ties have none (each ranks as `tie_score` says). Never a contact."""
        departed = select(DepartedUser.user_id).where(DepartedUser.team_id == team_id)
        lapsed = Contact.lapsed_at.is_not(None)
        unconfirmed = Contact.confirmed_at.is_(None)
        rows = await session.execute(
            select(
                Contact.company_key,
                Contact.owner_id,
                Contact.source,
                lapsed,
                unconfirmed,
                Contact.closeness,
                func.max(Contact.since),
                func.count() - func.count(Contact.since),
            )
            .where(
                Contact.team_id == team_id,
                Contact.company_key.in_(keys),
                Contact.owner_id.not_in(departed),
            )
            .group_by(
                Contact.company_key,
                Contact.owner_id,
                Contact.source,
                lapsed,
                unconfirmed,
                Contact.closeness,
            )
        )
        return [
            (
                key,
                owner,
                _kind(source, bool(was_lapsed), bool(was_unconfirmed)),
                closeness,
                since,
                bool(undated),
            )
            for key, owner, source, was_lapsed, was_unconfirmed, closeness, since, undated in rows
        ]

    async def _asks_by_company(
        self,
        session: AsyncSession,
        team_id: str,
        keys: set[str],
        canonical: Callable[[str], str],
    ) -> dict[str, tuple[int, int, dict[str, int]]]:
        """Per company key on the lists: asks open there, intros made there and their latest
        outcomes. Requests keep the company as typed, so they are counted per spelling in
        the database and keyed here."""
        open_now = IntroRequest.status.in_(list(OPEN_STATUSES))
        made = IntroRequest.status.in_(list(INTRO_MADE_STATUSES))
        rows = await session.execute(
            select(
                IntroRequest.target_company,
                IntroRequest.outcome,
                func.count().filter(open_now),
                func.count().filter(made),
            )
            .where(
                IntroRequest.team_id == team_id,
                IntroRequest.target_company != "",
                open_now | made,
            )
            .group_by(IntroRequest.target_company, IntroRequest.outcome)
        )
        found: dict[str, tuple[int, int, dict[str, int]]] = {}
        for company, outcome, open_asks, intros in rows:
            key = canonical(company_key(company))
            if key not in keys:
                continue
            was_open, was_made, outcomes = found.get(key, (0, 0, {}))
            if outcome and intros:
                outcomes[outcome] = outcomes.get(outcome, 0) + int(intros)
            found[key] = (was_open + int(open_asks), was_made + int(intros), outcomes)
        return found
