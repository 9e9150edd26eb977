"""Who knows whom, how hard each connector may be asked, and who owns which account.

Slack-free, like the workflow. A teammate's contacts are theirs alone: other people only ever
see the suggestions they produce.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    Row,
    String,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.linkedin import ParsedExport
from bot.intro.matching import (
    PersonQuery,
    company_key,
    company_score,
    name_key,
    name_score,
    parse_person,
    split_person,
    surname_key,
    surname_keys,
)
from bot.intro.privacy import HASH_PREFIX, email_fingerprint
from bot.intro.profiles import PROFILE_FRESH_FOR, profile_from
from bot.intro.states import INTRO_MADE_STATUSES, OPEN_STATUSES
from bot.intro.validation import Teammate
from storage.db import autocommit, reading
from storage.models import (
    AccountOwner,
    ConnectorPrefs,
    Contact,
    DepartedUser,
    IntroRequest,
    Profile,
    UTCDateTime,
    WorkspaceSettings,
)

CLOSENESS_WEIGHT = {"close": 1.0, "know_well": 0.8, "met_once": 0.45, "not_sure": 0.3}
STALE_TIE = timedelta(days=365)
IMPORT_BATCH = 1000
IDENTITY_LENGTH = Contact.__table__.c.identity_key.type.length  # type: ignore[attr-defined]
CONTACTS_PAGE = 10  # two blocks each on the Home tab, within Slack's 100 per view
SEARCH_MAX = 100


@dataclass(frozen=True)
class ContactInput:
    name: str
    company: str = ""
    title: str = ""
    email: str = ""
    closeness: str = "met_once"
    since: date | None = None


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Suggestion:
    user_id: str
    score: float
    closeness: str
    since: date | None
    open_asks: int
    intros_made: int
    contact_name: str
    contact_company: str
    # The connector chose to let teammates see how well and since when they know the person;
    # otherwise a suggestion shows only who and in what order.
    shares_details: bool = False


@dataclass(frozen=True)
class ContactPage:
    """One page of a person's own list, as their Home tab shows it."""

    contacts: list[Contact]
    matching: int  # how many match the search (all of them, without one)
    total: int  # how many they have
    page: int  # from 0
    search: str = ""

    @property
    def first_shown(self) -> int:
        return self.page * CONTACTS_PAGE + 1 if self.contacts else 0

    @property
    def last_shown(self) -> int:
        return self.page * CONTACTS_PAGE + len(self.contacts)


@dataclass(frozen=True)
class PacingProblem:
    code: str  # max_open, max_per_30_days, snoozed, blocked_company
    detail: str


@dataclass
class OpenAsk:
    """An open request for the person an ask is about."""

    id: int
    requester_id: str
    connector_id: str
    target_name: str


@dataclass
class AskReview:
    """What the directory knows that bears on one ask, before it is sent."""

    mine: OpenAsk | None = None  # the requester's own open ask for this person
    held_by_others: list[OpenAsk] = field(default_factory=list)
    pacing: PacingProblem | None = None  # the first of the connector's limits it breaks
    next_best: str | None = None  # who else to ask, when a limit is in the way
    enforce_pacing: bool = False  # the workspace blocks (not just warns) on limits
    account_owner: str | None = None  # approves first, unless already part of the ask
    # The connector's tie to the person, when over a year old and not confirmed since.
    stale_tie: Contact | None = None
    # The stored profiles asked for with the review (bot.intro.profiles), by user id.
    profiles: dict[str, Teammate] = field(default_factory=dict)


def _contacts_matching(
    team_id: str, query: PersonQuery, owner_id: str | None = None
) -> ColumnElement[bool] | None:
    """Contacts (of `owner_id`, or anyone's) who may be this person or work at the company,
    leaving out teammates who have left; None when the query names neither."""
    conditions: list[ColumnElement[bool]] = []
    if query.name_key:
        conditions.append(Contact.surname_key.in_(surname_keys(query.name_key)))
    if query.company_key:
        conditions.append(Contact.company_key == query.company_key)
    if not conditions:
        return None
    departed = select(DepartedUser.user_id).where(DepartedUser.team_id == team_id)
    matching = and_(Contact.team_id == team_id, or_(*conditions), Contact.owner_id.not_in(departed))
    return matching if owner_id is None else and_(matching, Contact.owner_id == owner_id)


class _Matchable(Protocol):
    name_key: str
    company_key: str


_M = TypeVar("_M", bound=_Matchable)


def _scored(query: PersonQuery, contacts: Iterable[_M]) -> list[tuple[float, _M]]:
    """How well each contact matches, best first; those that do not match left out."""
    scored = []
    for contact in contacts:
        person = name_score(query.name_key, contact.name_key)
        firm = company_score(query.company_key, contact.company_key)
        if person >= 85:
            match = person / 100 * (1.0 if not query.company_key or firm >= 80 else 0.85)
        elif firm >= 90:
            match = 0.2  # knows someone at the company: a weaker path than the person
        else:
            continue
        scored.append((match, contact))
    scored.sort(key=lambda pair: -pair[0])
    return scored


def _pacing_from(row: Any, company: str, now: datetime) -> list[PacingProblem]:
    """The limits an ask to this connector breaks, from a `_REVIEW` row."""
    problems = []
    if row.snoozed_until and row.snoozed_until >= now.date():
        problems.append(PacingProblem("snoozed", row.snoozed_until.isoformat()))
    blocked = {company_key(c) for c in row.blocked_companies or []}
    if company and company_key(company) in blocked:
        problems.append(PacingProblem("blocked_company", company))
    if row.max_open is not None and int(row.open_now or 0) >= row.max_open:
        problems.append(PacingProblem("max_open", str(row.max_open)))
    if row.max_per_30_days is not None and int(row.recent or 0) >= row.max_per_30_days:
        problems.append(PacingProblem("max_per_30_days", str(row.max_per_30_days)))
    return problems


# The one read behind an ask's review (`Directory.review_ask`), in SQL both databases speak:
# the connector's limits and what they count, the workspace's setting and the account's owner,
# on one row; LEFT JOINed to it, a row for each open ask for the person's surname, for each
# tie of the connector's that may be the person or their company (the rule
# `_contacts_matching` writes in Core), and for each stored profile asked for (the
# submission's people, bot.intro.profiles). Built once: a statement put together per call
# costs more CPU than the round trips it saves.
_REVIEW = (
    text(
        """
        SELECT p.snoozed_until, p.blocked_companies, p.max_open, p.max_per_30_days,
            CASE WHEN p.max_open IS NOT NULL THEN (
                SELECT count(*) FROM intro_requests r
                WHERE r.team_id = :team_id AND r.connector_id = :connector_id
                    AND r.status IN :open_statuses
            ) END AS open_now,
            CASE WHEN p.max_per_30_days IS NOT NULL THEN (
                SELECT count(*) FROM intro_requests r
                WHERE r.team_id = :team_id AND r.connector_id = :connector_id
                    AND r.created_at >= :month_ago
            ) END AS recent,
            w.enforce_pacing, o.owner_id AS account_owner, found.*
        FROM (SELECT 1 AS one) AS one_row
        LEFT JOIN connector_prefs p ON p.team_id = :team_id AND p.user_id = :connector_id
        LEFT JOIN workspace_settings w ON w.team_id = :team_id
        LEFT JOIN account_owners o ON o.team_id = :team_id AND o.company_key = :company_key
            AND o.company_key <> ''
        LEFT JOIN (
            SELECT 'ask' AS kind, id, requester_id, connector_id, target_name AS name,
                NULL AS name_key, NULL AS company_key, NULL AS since, NULL AS confirmed_at,
                NULL AS user_id, NULL AS title, NULL AS email, NULL AS tz,
                CAST(NULL AS BOOLEAN) AS is_bot, CAST(NULL AS BOOLEAN) AS deleted
            FROM intro_requests
            WHERE team_id = :team_id AND target_surname_key IN :surname_keys
                AND status IN :open_statuses
            UNION ALL
            SELECT 'tie', id, NULL, NULL, name, name_key, company_key, since, confirmed_at,
                NULL, NULL, NULL, NULL, NULL, NULL
            FROM (
                SELECT id, name, name_key, company_key, since, confirmed_at FROM contacts
                WHERE team_id = :team_id AND owner_id = :tie_owner_id
                    AND (surname_key IN :surname_keys
                        OR (company_key = :company_key AND company_key <> ''))
                    AND owner_id NOT IN (
                        SELECT user_id FROM departed_users WHERE team_id = :team_id
                    )
                ORDER BY id
                LIMIT 2000
            ) AS ties
            UNION ALL
            SELECT 'profile', NULL, NULL, NULL, name, NULL, NULL, NULL, NULL, user_id, title,
                email, tz, is_bot, deleted
            FROM profiles
            WHERE team_id = :team_id AND user_id IN :profile_ids
                AND refreshed_at > :fresh_after
        ) AS found ON 1 = 1
        ORDER BY found.kind, found.id
        """
    )
    .bindparams(
        bindparam("open_statuses", value=sorted(OPEN_STATUSES), expanding=True),
        bindparam("surname_keys", type_=String(), expanding=True),  # typed: it may be empty
        bindparam("profile_ids", type_=String(), expanding=True),
        bindparam("month_ago", type_=UTCDateTime()),
        bindparam("fresh_after", type_=UTCDateTime()),
    )
    .columns(  # by name: the others need no conversion
        snoozed_until=Date,
        blocked_companies=JSON,
        since=Date,
        confirmed_at=UTCDateTime(),
        is_bot=Boolean,
        deleted=Boolean,
    )
)


def _identity(entry: ContactInput, hash_key: bytes | None = None) -> str:
    email = entry.email.strip().lower()
    if email and hash_key is not None:
        return HASH_PREFIX + email_fingerprint(hash_key, email)
    identity = f"{name_key(entry.name)}|{company_key(entry.company)}"
    if len(identity) <= IDENTITY_LENGTH:
        return identity
    # Folding can lengthen a name (ligatures, compatibility characters): a digest stays the same
    # for the same person, and fits.
    return "sha256:" + hashlib.sha256(identity.encode()).hexdigest()


class Directory:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        hash_key: bytes | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        # Emails are kept only as an HMAC with this key; with no key, not kept at all.
        self._hash_key = hash_key

    def _identity(self, entry: ContactInput) -> str:
        return _identity(entry, self._hash_key)

    # --- contacts ----------------------------------------------------------------------

    def _values(self, entry: ContactInput) -> dict[str, object]:
        key = name_key(entry.name)
        return {
            "name": entry.name.strip()[:200],
            "name_key": key[:200],
            "surname_key": surname_key(key)[:100],
            "company": entry.company.strip()[:200],
            "company_key": company_key(entry.company)[:200],
            "title": entry.title.strip()[:200],
            "email_hash": (
                email_fingerprint(self._hash_key, entry.email)
                if entry.email.strip() and self._hash_key is not None
                else ""
            ),
            "closeness": entry.closeness,
            "since": entry.since,
        }

    async def add_contact(
        self, team_id: str, owner_id: str, entry: ContactInput, source: str = "manual"
    ) -> tuple[Contact, bool]:
        """Record or update someone the owner knows; True when it was new."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            existing = await session.scalar(
                select(Contact).where(
                    Contact.team_id == team_id,
                    Contact.owner_id == owner_id,
                    Contact.identity_key == self._identity(entry),
                )
            )
            if existing is not None:
                for name, value in self._values(entry).items():
                    setattr(existing, name, value)
                existing.updated_at = now
                existing.confirmed_at = now
                return existing, False
            contact = Contact(
                team_id=team_id,
                owner_id=owner_id,
                identity_key=self._identity(entry),
                source=source,
                confirmed_at=now,
                created_at=now,
                updated_at=now,
                **self._values(entry),
            )
            session.add(contact)
            return contact, True

    async def import_connections(
        self,
        team_id: str,
        owner_id: str,
        export: ParsedExport,
        progress: Callable[[int, int], Awaitable[None]] | None = None,
    ) -> ImportReport:
        """Upsert a LinkedIn export: re-importing updates instead of duplicating.

        All or nothing: the rows are worked out first (with `progress`), then written in one
        transaction, so a failure part-way saves none of it and the report is only ever of
        what was saved. The write lock (all of SQLite's) is held only while writing."""
        report = ImportReport(skipped=list(export.skipped))
        now = self._clock.now()
        total = len(export.connections)
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(
                    Contact.identity_key,
                    Contact.id,
                    Contact.name,
                    Contact.company,
                    Contact.title,
                    Contact.since,
                ).where(Contact.team_id == team_id, Contact.owner_id == owner_id)
            )
            known = {row.identity_key: row for row in rows}
        seen: set[str] = set()
        inserts: list[dict[str, object]] = []
        updates: list[dict[str, object]] = []
        for start in range(0, total, IMPORT_BATCH):
            batch = export.connections[start : start + IMPORT_BATCH]
            for connection in batch:
                entry = ContactInput(
                    name=connection.name,
                    company=connection.company,
                    title=connection.title,
                    email=connection.email,
                    since=connection.connected_on,
                )
                identity = self._identity(entry)
                if identity in seen:
                    report.skipped.append((0, f"{connection.name}: listed twice"))
                    continue
                seen.add(identity)
                values = self._values(entry)
                old = known.get(identity)
                if old is None:
                    inserts.append(
                        {
                            **values,
                            "team_id": team_id,
                            "owner_id": owner_id,
                            "identity_key": identity,
                            "source": "linkedin",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                elif (old.name, old.company, old.title, old.since) != (
                    values["name"],
                    values["company"],
                    values["title"],
                    values["since"],
                ):
                    # What LinkedIn says changes; how well they know them stays theirs.
                    changed = {k: v for k, v in values.items() if k != "closeness"}
                    updates.append({"id": old.id, **changed, "updated_at": now})
                else:
                    report.unchanged += 1
            if progress is not None:
                await progress(min(start + len(batch), total), total)
            else:
                await asyncio.sleep(0)  # a batch at a time: other work runs in between
        async with self._sessions.begin() as session:
            for first in range(0, len(inserts), IMPORT_BATCH):
                chunk = inserts[first : first + IMPORT_BATCH]
                await session.run_sync(
                    lambda s, rows=chunk: s.bulk_insert_mappings(Contact, rows)  # type: ignore[misc]
                )
            for first in range(0, len(updates), IMPORT_BATCH):
                chunk = updates[first : first + IMPORT_BATCH]
                await session.run_sync(
                    lambda s, rows=chunk: s.bulk_update_mappings(Contact, rows)  # type: ignore[misc]
                )
        report.added = len(inserts)
        report.updated = len(updates)
        return report

    async def contacts_of(
        self,
        team_id: str,
        owner_id: str,
        limit: int = 10,
        offset: int = 0,
        search: str = "",
        *,
        session: AsyncSession | None = None,
    ) -> tuple[list[Contact], int]:
        """One page of the owner's contacts (those matching `search`, folded like names and
        companies are), and how many match in all."""
        async with reading(self._sessions, session) as session:
            mine = (Contact.team_id == team_id) & (Contact.owner_id == owner_id)
            if search.strip():
                mine = mine & or_(
                    Contact.name_key.contains(name_key(search), autoescape=True),
                    Contact.company_key.contains(company_key(search) or "\0", autoescape=True),
                )
            total = await session.scalar(select(func.count()).select_from(Contact).where(mine))
            rows = await session.scalars(
                select(Contact)
                .where(mine)
                .order_by(Contact.name_key, Contact.id)
                .limit(limit)
                .offset(offset)
            )
            return list(rows), int(total or 0)

    async def contact_page(
        self,
        team_id: str,
        owner_id: str,
        page: int = 0,
        search: str = "",
        *,
        session: AsyncSession | None = None,
    ) -> ContactPage:
        """A Home tab page of the owner's contacts; a page past the end shows the last one."""
        page = max(0, page)
        search = search.strip()[:SEARCH_MAX]
        total = (await self.contacts_of(team_id, owner_id, limit=0, session=session))[1]
        while True:
            contacts, matching = await self.contacts_of(
                team_id,
                owner_id,
                limit=CONTACTS_PAGE,
                offset=page * CONTACTS_PAGE,
                search=search,
                session=session,
            )
            if contacts or page == 0:
                return ContactPage(contacts, matching, total, page, search)
            page = max(0, (matching - 1) // CONTACTS_PAGE)

    async def contact(self, team_id: str, owner_id: str, contact_id: int) -> Contact | None:
        """The owner's own contact; None for anyone else's."""
        async with reading(self._sessions) as session:
            return await session.scalar(
                select(Contact).where(
                    Contact.id == contact_id,
                    Contact.team_id == team_id,
                    Contact.owner_id == owner_id,
                )
            )

    async def update_contact(
        self, team_id: str, owner_id: str, contact_id: int, entry: ContactInput
    ) -> Literal["updated", "duplicate", "gone"]:
        """Edit the owner's contact in place: "updated", "duplicate" (it would become another
        of theirs) or "gone" (removed meanwhile, or not theirs). A blank email keeps the one on
        file (it is only a hash, so it cannot be shown back)."""
        async with self._sessions.begin() as session:
            contact = await session.scalar(
                select(Contact).where(
                    Contact.id == contact_id,
                    Contact.team_id == team_id,
                    Contact.owner_id == owner_id,
                )
            )
            if contact is None:
                return "gone"
            values = self._values(entry)
            if entry.email.strip():
                identity = self._identity(entry)
            elif contact.identity_key.startswith(HASH_PREFIX):
                identity, values["email_hash"] = contact.identity_key, contact.email_hash
            else:
                identity = self._identity(entry)
            clash = await session.scalar(
                select(Contact.id).where(
                    Contact.team_id == team_id,
                    Contact.owner_id == owner_id,
                    Contact.identity_key == identity,
                    Contact.id != contact_id,
                )
            )
            if clash is not None:
                return "duplicate"
            for name, value in values.items():
                setattr(contact, name, value)
            contact.identity_key = identity
            contact.updated_at = contact.confirmed_at = self._clock.now()
            return "updated"

    async def delete_all_contacts(self, team_id: str, owner_id: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Contact).where(Contact.team_id == team_id, Contact.owner_id == owner_id)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def forget_person(self, team_id: str, user_id: str) -> int:
        """`/intro forget me`: their contacts, their settings (pacing, sharing, accounts
        routed to them) and the profile kept of them. Returns how many contacts went."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Contact).where(Contact.team_id == team_id, Contact.owner_id == user_id)
            )
            await session.execute(
                delete(ConnectorPrefs).where(
                    ConnectorPrefs.team_id == team_id, ConnectorPrefs.user_id == user_id
                )
            )
            await session.execute(
                delete(AccountOwner).where(
                    AccountOwner.team_id == team_id, AccountOwner.owner_id == user_id
                )
            )
            await session.execute(
                delete(Profile).where(Profile.team_id == team_id, Profile.user_id == user_id)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    # --- teammates who left ----------------------------------------------------------------

    async def mark_departed(self, team_id: str, user_id: str, departed: bool) -> None:
        """Slack deactivated (or brought back) a teammate: out of (or back in) suggestions."""
        async with self._sessions.begin() as session:
            if not departed:
                await session.execute(
                    delete(DepartedUser).where(
                        DepartedUser.team_id == team_id, DepartedUser.user_id == user_id
                    )
                )
            elif await session.get(DepartedUser, (team_id, user_id)) is None:
                session.add(
                    DepartedUser(team_id=team_id, user_id=user_id, departed_at=self._clock.now())
                )

    async def purge_departed(self, retention: timedelta) -> int:
        """Delete the contacts and settings of teammates deactivated more than `retention`
        ago; returns how many people were purged."""
        cutoff = self._clock.now() - retention
        async with reading(self._sessions) as session:
            gone = list(
                await session.execute(
                    select(DepartedUser.team_id, DepartedUser.user_id).where(
                        DepartedUser.departed_at <= cutoff
                    )
                )
            )
        for team_id, user_id in gone:
            await self.forget_person(team_id, user_id)
            async with self._sessions.begin() as session:
                await session.execute(
                    delete(DepartedUser).where(
                        DepartedUser.team_id == team_id,
                        DepartedUser.user_id == user_id,
                        DepartedUser.departed_at <= cutoff,
                    )
                )
        return len(gone)

    async def delete_contact(self, team_id: str, owner_id: str, contact_id: int) -> bool:
        """Only the owner can delete their contact."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Contact).where(
                    Contact.id == contact_id,
                    Contact.team_id == team_id,
                    Contact.owner_id == owner_id,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def confirm_tie(
        self, team_id: str, owner_id: str, contact_id: int, still_in_touch: bool
    ) -> None:
        async with self._sessions.begin() as session:
            contact = await session.scalar(
                select(Contact).where(
                    Contact.id == contact_id,
                    Contact.team_id == team_id,
                    Contact.owner_id == owner_id,
                )
            )
            if contact is None:
                return
            contact.confirmed_at = self._clock.now()
            if not still_in_touch:
                contact.closeness = "not_sure"

    async def tie(self, team_id: str, owner_id: str, target: str, company: str) -> Contact | None:
        """The owner's best-matching contact for a target, if any."""
        matches = await self._candidates(team_id, target, company, owner_id=owner_id)
        return matches[0][1] if matches else None

    @staticmethod
    def is_stale(contact: Contact, today: datetime) -> bool:
        """A tie older than a year, not confirmed since: worth asking about."""
        confirmed = contact.confirmed_at.date() if contact.confirmed_at else None
        known_since = confirmed or contact.since
        return known_since is not None and today.date() - known_since > STALE_TIE

    # --- suggestions --------------------------------------------------------------------

    async def _candidates(
        self, team_id: str, target: str, company: str, owner_id: str | None = None
    ) -> list[tuple[float, Contact]]:
        query = parse_person(target, company)
        matching = _contacts_matching(team_id, query, owner_id)
        if matching is None:
            return []
        async with reading(self._sessions) as session:
            contacts = list(
                await session.scalars(
                    select(Contact).where(matching).order_by(Contact.id).limit(2000)
                )
            )
        return _scored(query, contacts)

    async def suggest_connectors(
        self,
        team_id: str,
        target: str,
        company: str = "",
        exclude: tuple[str, ...] = (),
        limit: int = 3,
    ) -> list[Suggestion]:
        """Teammates who know this person or company, best first: how well, how recently,
        how loaded they are now, and how their past intros went."""
        best: dict[str, tuple[float, Contact]] = {}
        for match, contact in await self._candidates(team_id, target, company):
            if contact.owner_id in exclude:
                continue
            if contact.owner_id not in best or match > best[contact.owner_id][0]:
                best[contact.owner_id] = (match, contact)
        if not best:
            return []
        counts = await self._asks_and_intros(team_id, list(best))
        sharing = await self._sharing_tie_details(team_id, list(best))
        today = self._clock.now().date()
        suggestions = []
        for user_id, (match, contact) in best.items():
            years = (today - contact.since).days / 365 if contact.since else 2.0
            # Older ties count for less, but a real tie never for less than half.
            recency = max(0.5, 1.0 / (1.0 + 0.1 * max(0.0, years)))
            open_asks, intros_made = counts.get(user_id, (0, 0))
            load = 1.0 / (1.0 + 0.25 * open_asks)
            track = 1.0 + 0.1 * min(intros_made, 5)
            score = match * CLOSENESS_WEIGHT.get(contact.closeness, 0.4) * recency * load * track
            suggestions.append(
                Suggestion(
                    user_id=user_id,
                    score=round(score, 4),
                    closeness=contact.closeness,
                    since=contact.since,
                    open_asks=open_asks,
                    intros_made=intros_made,
                    contact_name=contact.name,
                    contact_company=contact.company,
                    shares_details=user_id in sharing,
                )
            )
        suggestions.sort(key=lambda s: (-s.score, s.user_id))
        return suggestions[:limit]

    async def _asks_and_intros(
        self, team_id: str, user_ids: list[str]
    ) -> dict[str, tuple[int, int]]:
        """Per connector: asks open now, and intros made so far; one grouped count."""
        open_now = IntroRequest.status.in_(list(OPEN_STATUSES))
        made = IntroRequest.status.in_(list(INTRO_MADE_STATUSES))
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(
                    IntroRequest.connector_id,
                    func.count().filter(open_now),
                    func.count().filter(made),
                )
                .where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.connector_id.in_(user_ids),
                    open_now | made,
                )
                .group_by(IntroRequest.connector_id)
            )
            return {user_id: (int(asks), int(intros)) for user_id, asks, intros in rows}

    async def _sharing_tie_details(self, team_id: str, user_ids: list[str]) -> set[str]:
        async with reading(self._sessions) as session:
            rows = await session.scalars(
                select(ConnectorPrefs.user_id).where(
                    ConnectorPrefs.team_id == team_id,
                    ConnectorPrefs.user_id.in_(user_ids),
                    ConnectorPrefs.share_tie_details.is_(True),
                )
            )
            return set(rows)

    async def set_share_tie_details(self, team_id: str, user_id: str, share: bool) -> None:
        prefs = await self.prefs(team_id, user_id)
        prefs.share_tie_details = share
        await self.save_prefs(prefs)

    # --- pacing --------------------------------------------------------------------------

    async def prefs(
        self, team_id: str, user_id: str, *, session: AsyncSession | None = None
    ) -> ConnectorPrefs:
        async with reading(self._sessions, session) as session:
            found = await session.get(ConnectorPrefs, (team_id, user_id))
            return found or ConnectorPrefs(team_id=team_id, user_id=user_id, blocked_companies=[])

    async def save_prefs(self, prefs: ConnectorPrefs) -> None:
        async with self._sessions.begin() as session:
            await session.merge(prefs)

    async def pacing_problems(
        self, team_id: str, connector_id: str, company: str
    ) -> list[PacingProblem]:
        now = self._clock.now()
        first, *_ = await self._review_rows(team_id, connector_id, "", company, now, ties=False)
        return _pacing_from(first, company, now)

    async def _review_rows(
        self,
        team_id: str,
        connector_id: str,
        target: str,
        company: str,
        now: datetime,
        *,
        ties: bool = True,
        profile_ids: Sequence[str] = (),
    ) -> list[Row[Any]]:
        """`_REVIEW`'s rows: at least one, however little it finds (`ties`: with the
        connector's ties to the person)."""
        key = name_key(parse_person(target).name_key)
        params = {
            "team_id": team_id,
            "connector_id": connector_id,
            "tie_owner_id": connector_id if ties else "",
            "company_key": company_key(company),
            "surname_keys": surname_keys(key) if key else [],
            "month_ago": now - timedelta(days=30),
            "profile_ids": sorted(set(profile_ids)),
            "fresh_after": now - PROFILE_FRESH_FOR,
        }
        async with autocommit(self._sessions) as connection:
            return list((await connection.execute(_REVIEW, params)).all())

    async def set_enforce_pacing(self, team_id: str, enforce: bool) -> None:
        async with self._sessions.begin() as session:
            await session.merge(WorkspaceSettings(team_id=team_id, enforce_pacing=enforce))

    async def review_ask(
        self,
        team_id: str,
        requester_id: str,
        connector_id: str,
        target: str,
        company: str,
        replaces_id: int | None = None,
        suggestions: list[Suggestion] | None = None,
        *,
        ties: bool = True,
        profile_ids: Sequence[str] = (),
    ) -> AskReview:
        """Duplicate asks, the connector's limits (and the next-best path), the account owner,
        and (unless `ties` is False) the connector's own tie to the person when it is old
        enough to ask about.

        One statement (`_REVIEW`) answers all but the next-best path, and reads the stored
        profiles of `profile_ids` with it (a submission's people, without a round trip of
        their own). `suggestions`, when the caller has them already (best first, the
        requester left out), give the next-best path without asking the directory again."""
        # "Jane Doe (Acme)" with no company given: the rules about Acme apply all the same.
        company = company or split_person(target)[1]
        now = self._clock.now()
        rows = await self._review_rows(
            team_id, connector_id, target, company, now, ties=ties, profile_ids=profile_ids
        )
        first = rows[0]
        review = AskReview()
        for row in rows:
            if row.kind == "profile":
                review.profiles[row.user_id] = profile_from(row)
        key = name_key(parse_person(target).name_key)
        for ask in (row for row in rows if row.kind == "ask"):
            if ask.id == replaces_id or name_score(key, name_key(ask.name)) < 85:
                continue  # the ask this one replaces; a different person of the same surname
            found = OpenAsk(ask.id, ask.requester_id, ask.connector_id, ask.name)
            if found.requester_id == requester_id:
                review.mine = found
            else:
                review.held_by_others.append(found)
        if connector_id:
            problems = _pacing_from(first, company, now)
            if problems:
                review.pacing = problems[0]
                if suggestions is None:
                    suggestions = await self.suggest_connectors(
                        team_id, target, company, exclude=(requester_id,)
                    )
                review.next_best = next(
                    (s.user_id for s in suggestions if s.user_id != connector_id), None
                )
                review.enforce_pacing = bool(first.enforce_pacing)
            # Scored as rows: only the best match becomes a Contact.
            scored = _scored(parse_person(target, company), [r for r in rows if r.kind == "tie"])
            if scored:
                best = scored[0][1]
                tie = Contact(
                    id=best.id, name=best.name, since=best.since, confirmed_at=best.confirmed_at
                )
                review.stale_tie = tie if self.is_stale(tie, now) else None
        owner = first.account_owner
        review.account_owner = owner if owner not in (requester_id, connector_id) else None
        return review

    async def already_asked(self, team_id: str, requester_id: str, target: str) -> set[str]:
        """Everyone this requester has asked for an intro to this person, whatever came of it:
        a decline, a stall or the target's no is not a path to try again."""
        key = name_key(parse_person(target).name_key)
        if not key:
            return set()
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(IntroRequest.connector_id, IntroRequest.target_name).where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.requester_id == requester_id,
                    IntroRequest.target_surname_key.in_(surname_keys(key)),
                )
            )
            return {
                connector
                for connector, name in rows
                if connector and name_score(key, name_key(name)) >= 85
            }

    async def next_paths(
        self, request: IntroRequest, introduced_before: list[str], limit: int = 3
    ) -> list[str]:
        """Who to ask next after `request` ran into a dead end, best first: teammates who know
        the person or company (ranked as the form ranks them), then those who introduced
        someone there before (`introduced_before`); not anyone the requester already asked
        for this person, nor anyone over their pacing limits."""
        tried = await self.already_asked(request.team_id, request.requester_id, request.target_name)
        excluded = {request.requester_id, request.connector_id, *tried}
        suggestions = await self.suggest_connectors(
            request.team_id,
            request.target_name,
            request.target_company,
            exclude=tuple(excluded),
            limit=limit + len(introduced_before) + 3,
        )
        ranked = [s.user_id for s in suggestions]
        ranked += [user_id for user_id in introduced_before if user_id not in ranked]
        paths: list[str] = []
        for user_id in ranked:
            if user_id in excluded or not user_id:
                continue
            if await self.pacing_problems(request.team_id, user_id, request.target_company):
                continue
            paths.append(user_id)
            if len(paths) == limit:
                break
        return paths

    # --- account owners ------------------------------------------------------------------

    async def set_account_owner(self, team_id: str, company: str, owner_id: str) -> None:
        async with self._sessions.begin() as session:
            await session.merge(
                AccountOwner(
                    team_id=team_id,
                    company_key=company_key(company),
                    company=company.strip(),
                    owner_id=owner_id,
                )
            )
