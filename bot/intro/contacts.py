"""A teammate's own contacts: who they know, kept theirs alone, and the teammates who left.

Slack-free, like the workflow. Other people only ever see the suggestions the contacts
produce (bot.intro.directory).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.companies import Companies, company_keys_sql
from bot.intro.linkedin import ParsedExport
from bot.intro.matching import (
    PersonQuery,
    company_key,
    company_score,
    domain_company_key,
    name_key,
    name_score,
    parse_person,
    surname_key,
    surname_keys,
)
from bot.intro.privacy import HASH_PREFIX, delete_person, email_fingerprint
from storage.db import reading
from storage.models import Contact, DepartedUser

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


def contacts_matching(
    team_id: str,
    query: PersonQuery,
    owner_id: str | None = None,
    company_keys: Collection[str] = (),
) -> ColumnElement[bool] | None:
    """Contacts (of `owner_id`, or anyone's) who may be this person or work at the company
    (under any of `company_keys`, its spellings the team merged; else the query's own key),
    leaving out teammates who have left; None when the query names neither."""
    conditions: list[ColumnElement[bool]] = []
    if query.name_key:
        conditions.append(Contact.surname_key.in_(surname_keys(query.name_key)))
    keys = sorted(_company_keys(query, company_keys))
    if keys:
        conditions.append(Contact.company_key.in_(keys))
        conditions.append(Contact.company_domain_key.in_(keys))
    if not conditions:
        return None
    departed = select(DepartedUser.user_id).where(DepartedUser.team_id == team_id)
    matching = and_(Contact.team_id == team_id, or_(*conditions), Contact.owner_id.not_in(departed))
    return matching if owner_id is None else and_(matching, Contact.owner_id == owner_id)


def _company_keys(query: PersonQuery, company_keys: Collection[str]) -> set[str]:
    keys = {key for key in company_keys if key}
    return keys or ({query.company_key} if query.company_key else set())


class _Matchable(Protocol):
    @property
    def name_key(self) -> str: ...
    @property
    def company_key(self) -> str: ...
    @property
    def company_domain_key(self) -> str | None: ...


_M = TypeVar("_M", bound=_Matchable)


def scored(
    query: PersonQuery, contacts: Iterable[_M], company_keys: Collection[str] = ()
) -> list[tuple[float, _M]]:
    """How well each contact matches, best first; those that do not match left out. A
    contact at any of `company_keys` (the company's spellings the team merged) is at the
    company, as is one whose email's domain gives its short form."""
    same_company = _company_keys(query, company_keys)
    scored = []
    for contact in contacts:
        person = name_score(query.name_key, contact.name_key)
        if same_company & {contact.company_key, contact.company_domain_key or ""}:
            firm = 100.0
        else:
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


def _owned_by(team_id: str, owner_id: str, contact_id: int) -> ColumnElement[bool]:
    """The one contact of that owner's: nobody reads or changes another's."""
    return and_(Contact.id == contact_id, Contact.team_id == team_id, Contact.owner_id == owner_id)


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


@dataclass
class _ImportRows:
    """The rows an import writes, worked out before its one transaction."""

    team_id: str
    owner_id: str
    now: datetime
    known: dict[str, Any]  # the owner's contacts' rows by identity
    report: ImportReport
    seen: set[str] = field(default_factory=set)
    inserts: list[dict[str, object]] = field(default_factory=list)
    updates: list[dict[str, object]] = field(default_factory=list)

    def add(self, name: str, identity: str, values: dict[str, object]) -> None:
        if identity in self.seen:
            self.report.skipped.append((0, f"{name}: listed twice"))
            return
        self.seen.add(identity)
        old = self.known.get(identity)
        if old is None:
            self.inserts.append(
                {
                    **values,
                    "team_id": self.team_id,
                    "owner_id": self.owner_id,
                    "identity_key": identity,
                    "source": "linkedin",
                    "created_at": self.now,
                    "updated_at": self.now,
                }
            )
        elif (old.name, old.company, old.title, old.since, old.company_domain_key) != (
            values["name"],
            values["company"],
            values["title"],
            values["since"],
            values["company_domain_key"],
        ):
            # What LinkedIn says changes; how well they know them stays theirs.
            changed = {k: v for k, v in values.items() if k != "closeness"}
            self.updates.append({"id": old.id, **changed, "updated_at": self.now})
        else:
            self.report.unchanged += 1


class Contacts:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        hash_key: bytes | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        # The team's companies: a company asked about matches its merged spellings too.
        self.companies = Companies(sessions)
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
            "company_domain_key": domain_company_key(entry.company, entry.email)[:200],
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
        """Record or update someone the owner knows; True when it was new. The same person
        added twice at once (a double press, two replicas) is one contact: the write that
        loses the race to insert updates the row the other inserted."""
        try:
            return await self._add_or_update(team_id, owner_id, entry, source)
        except IntegrityError:
            return await self._add_or_update(team_id, owner_id, entry, source)

    async def _add_or_update(
        self, team_id: str, owner_id: str, entry: ContactInput, source: str
    ) -> tuple[Contact, bool]:
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
                existing.lapsed_at = None  # declared again: it holds
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
        now = self._clock.now()
        entries: list[tuple[str, str, dict[str, object]]] = []
        total = len(export.connections)
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
                entries.append((entry.name, self._identity(entry), self._values(entry)))
            if progress is not None:
                await progress(min(start + len(batch), total), total)
            else:
                await asyncio.sleep(0)  # a batch at a time: other work runs in between
        try:
            return await self._import_rows(team_id, owner_id, export, entries, now)
        except IntegrityError:
            # The same person's import ran on another replica meanwhile and inserted some of
            # these: compared again with what is stored now, they are updates.
            return await self._import_rows(team_id, owner_id, export, entries, now)

    async def _import_rows(
        self,
        team_id: str,
        owner_id: str,
        export: ParsedExport,
        entries: list[tuple[str, str, dict[str, object]]],
        now: datetime,
    ) -> ImportReport:
        report = ImportReport(skipped=list(export.skipped))
        known = await self._identities(team_id, owner_id)
        rows = _ImportRows(team_id, owner_id, now, known, report)
        for name, identity, values in entries:
            rows.add(name, identity, values)
        await self._write_import(rows.inserts, rows.updates)
        report.added = len(rows.inserts)
        report.updated = len(rows.updates)
        return report

    async def _identities(self, team_id: str, owner_id: str) -> dict[str, Any]:
        """The owner's contacts by identity, with what an import compares."""
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(
                    Contact.identity_key,
                    Contact.id,
                    Contact.name,
                    Contact.company,
                    Contact.title,
                    Contact.since,
                    Contact.company_domain_key,
                ).where(Contact.team_id == team_id, Contact.owner_id == owner_id)
            )
            return {row.identity_key: row for row in rows}

    async def _write_import(
        self, inserts: list[dict[str, object]], updates: list[dict[str, object]]
    ) -> None:
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

    async def contacts_at(
        self, team_id: str, owner_id: str, company: str, limit: int = 100
    ) -> list[Contact]:
        """The owner's own contacts at a company (by its key, any spelling the team merged
        into it, or their email's short form of it), by name: whom they can pick when asked
        for a way in there. Theirs alone, shown to them alone."""
        key = company_key(company)
        if not key:
            return []
        async with reading(self._sessions) as session:
            spellings = company_keys_sql(team_id, key)
            rows = await session.scalars(
                select(Contact)
                .where(
                    Contact.team_id == team_id,
                    Contact.owner_id == owner_id,
                    or_(
                        Contact.company_key.in_(spellings),
                        Contact.company_domain_key.in_(spellings),
                    ),
                )
                .order_by(Contact.name_key, Contact.id)
                .limit(limit)
            )
            return list(rows)

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
                select(Contact).where(_owned_by(team_id, owner_id, contact_id))
            )

    async def update_contact(
        self, team_id: str, owner_id: str, contact_id: int, entry: ContactInput
    ) -> Literal["updated", "duplicate", "gone"]:
        """Edit the owner's contact in place: "updated", "duplicate" (it would become another
        of theirs) or "gone" (removed meanwhile, or not theirs). A blank email keeps the one on
        file (it is only a hash, so it cannot be shown back)."""
        async with self._sessions.begin() as session:
            contact = await session.scalar(
                select(Contact).where(_owned_by(team_id, owner_id, contact_id))
            )
            if contact is None:
                return "gone"
            values = self._values(entry)
            if entry.email.strip():
                identity = self._identity(entry)
            elif contact.identity_key.startswith(HASH_PREFIX):
                identity, values["email_hash"] = contact.identity_key, contact.email_hash
                if values["company_key"] == contact.company_key:  # what the email said holds
                    values["company_domain_key"] = contact.company_domain_key
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
            contact.lapsed_at = None  # declared again: it holds
            return "updated"

    async def delete_all_contacts(self, team_id: str, owner_id: str) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(Contact).where(Contact.team_id == team_id, Contact.owner_id == owner_id)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def forget_person(self, team_id: str, user_id: str) -> int:
        """Their contacts, settings and profile (`privacy.delete_person`); how many contacts
        went."""
        async with self._sessions.begin() as session:
            return await delete_person(session, team_id, user_id)

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
                delete(Contact).where(_owned_by(team_id, owner_id, contact_id))
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def confirm_tie(
        self, team_id: str, owner_id: str, contact_id: int, still_in_touch: bool
    ) -> None:
        async with self._sessions.begin() as session:
            contact = await session.scalar(
                select(Contact).where(_owned_by(team_id, owner_id, contact_id))
            )
            if contact is None:
                return
            contact.confirmed_at = self._clock.now()
            # Not in touch: the tie has lapsed, and ranks below the ties that hold.
            contact.lapsed_at = None if still_in_touch else contact.confirmed_at
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

    async def _candidates(
        self, team_id: str, target: str, company: str, owner_id: str | None = None
    ) -> list[tuple[float, Contact]]:
        query = parse_person(target, company)
        async with reading(self._sessions) as session:
            firm = await self.companies.resolve_key(team_id, query.company_key, session=session)
            matching = contacts_matching(team_id, query, owner_id, firm.keys)
            if matching is None:
                return []
            contacts = list(
                await session.scalars(
                    select(Contact).where(matching).order_by(Contact.id).limit(2000)
                )
            )
        return scored(query, contacts, firm.keys)

    async def _candidate_rows(
        self,
        team_id: str,
        target: str,
        company: str,
    ) -> list[tuple[float, Any]]:
        """`_candidates` for the suggestion search, as plain rows of what it is ranked by:
        no ORM objects built on /intro's path."""
        query = parse_person(target, company)
        async with reading(self._sessions) as session:
            keys = (
                await self.companies.resolve_key(team_id, query.company_key, session=session)
            ).keys
            matching = contacts_matching(team_id, query, None, keys)
            if matching is None:
                return []
            rows: list[Any] = list(
                await session.execute(
                    select(*_RANKED_BY).where(matching).order_by(Contact.id).limit(2000)
                )
            )
        return scored(query, rows, keys)


# What the suggestion search reads of a matching contact: what it is matched and ranked by.
_RANKED_BY = (
    Contact.owner_id,
    Contact.name,
    Contact.name_key,
    Contact.company,
    Contact.company_key,
    Contact.company_domain_key,
    Contact.closeness,
    Contact.since,
    Contact.source,
    Contact.confirmed_at,
    Contact.lapsed_at,
)
