"""Companies as a team knows them: a spelling's key (bot.intro.matching.company_key), and the
spellings an admin merged into one company (`/intro company merge "Acme" "Acme Logistics"`).

Stored rows keep their spelling's own key; a merge is resolved where companies are matched,
so undoing it needs no rewrite. A merge is one hop: the alias's key stands for the canonical
key, and a canonical key is never itself an alias.

Slack-free, like the rest of the domain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    func,
    literal,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.matching import company_key
from storage.db import reading
from storage.models import CompanyAlias

KEY_LENGTH = 200  # the stored keys' column length


def key_of(company: str) -> str:
    """A spelling's key, as stored (within its column)."""
    return company_key(company)[:KEY_LENGTH]


@dataclass(frozen=True)
class Company:
    """One company as a team knows it, from one spelling of it."""

    key: str  # the spelling's own key
    canonical: str  # the key the team matches it by: its merge's, else its own
    keys: frozenset[str]  # every key that is this company: the canonical and its aliases

    def __bool__(self) -> bool:
        return bool(self.key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys


@dataclass(frozen=True)
class Merge:
    """A company and the spellings merged into it, as the admin typed them."""

    canonical_key: str
    name: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class MergeResult:
    """What `Companies.merge` did: "merged", "same" (one company already) or "empty" (a
    spelling with nothing left once folded)."""

    outcome: str
    name: str = ""  # the company both spellings now are
    moved: tuple[str, ...] = ()  # the spellings that joined it


def canonical_key_sql(
    team_id: str | ColumnElement[str], key: ColumnElement[str]
) -> ColumnElement[str]:
    """In SQL: the key a stored company key is matched by in the team (its merge's canonical
    key, else itself). For grouping many rows by company (coverage, stats)."""
    merged = (
        select(CompanyAlias.canonical_key)
        .where(CompanyAlias.team_id == team_id, CompanyAlias.alias_key == key)
        .scalar_subquery()
    )
    return func.coalesce(merged, key)


def company_keys_sql(team_id: str, key: str) -> Select[tuple[str]]:
    """In SQL: every stored key that is the same company as `key` in the team (for
    `column.in_(...)`)."""
    canonical = canonical_key_sql(team_id, literal(key))
    merged = select(CompanyAlias.alias_key).where(
        CompanyAlias.team_id == team_id, CompanyAlias.canonical_key == canonical
    )
    return select(union(select(canonical.label("key")), merged).subquery().c[0])


class Companies:
    """A team's companies: how a spelling resolves, and the merges admins make and undo."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def resolve(
        self, team_id: str, company: str, *, session: AsyncSession | None = None
    ) -> Company:
        """The company a spelling is in the team; an empty one for a blank spelling."""
        return await self.resolve_key(team_id, key_of(company), session=session)

    async def resolve_key(
        self, team_id: str, key: str, *, session: AsyncSession | None = None
    ) -> Company:
        """The company a stored key is in the team."""
        if not key:
            return Company("", "", frozenset())
        # One statement: the canonical key, joined to every spelling merged into it (one row
        # with no alias when there is no merge).
        resolved = select(canonical_key_sql(team_id, literal(key)).label("canonical")).subquery()
        merged = and_(
            CompanyAlias.team_id == team_id, CompanyAlias.canonical_key == resolved.c.canonical
        )
        async with reading(self._sessions, session) as session:
            rows = (
                await session.execute(
                    select(resolved.c.canonical, CompanyAlias.alias_key).select_from(
                        resolved.outerjoin(CompanyAlias, merged)
                    )
                )
            ).all()
        canonical = (rows[0][0] if rows else None) or key
        aliases = {alias for _, alias in rows if alias}
        return Company(key, canonical, frozenset({canonical, *aliases}))

    async def merged(self, team_id: str, *, session: AsyncSession | None = None) -> dict[str, str]:
        """Every merge in the team, alias key -> canonical key: one small read (admins merge a
        handful of spellings) for code that matches many companies at once."""
        async with reading(self._sessions, session) as session:
            rows = await session.execute(
                select(CompanyAlias.alias_key, CompanyAlias.canonical_key).where(
                    CompanyAlias.team_id == team_id
                )
            )
            return {alias: canonical for alias, canonical in rows}

    async def canonical_keys(self, team_id: str, keys: Iterable[str]) -> dict[str, str]:
        """Many stored keys at once: each key's canonical key (itself unless merged)."""
        wanted = sorted({key for key in keys if key})
        found: dict[str, str] = {}
        async with reading(self._sessions) as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = await session.execute(
                    select(CompanyAlias.alias_key, CompanyAlias.canonical_key).where(
                        CompanyAlias.team_id == team_id, CompanyAlias.alias_key.in_(chunk)
                    )
                )
                found.update({alias: canonical for alias, canonical in rows})
        return {key: found.get(key, key) for key in wanted}

    async def merge(self, team_id: str, name: str, other: str, now: datetime) -> MergeResult:
        """`other` becomes another way to write `name` (with every spelling merged into it
        before): from now on they are one company everywhere."""
        key, other_key = key_of(name), key_of(other)
        if not key or not other_key:
            return MergeResult("empty")
        async with self._sessions.begin() as session:
            into = await self._alias(session, team_id, key)
            canonical = into.canonical_key if into else key
            shown = into.canonical if into else name.strip()[:200]
            joining = await self._alias(session, team_id, other_key)
            old = joining.canonical_key if joining else other_key
            if old == canonical:
                return MergeResult("same", shown)
            moved = await self._move_group(session, team_id, old, canonical, shown)
            await session.execute(
                update(CompanyAlias)
                .where(CompanyAlias.team_id == team_id, CompanyAlias.canonical_key == canonical)
                .values(canonical=shown)
            )
            old_name = joining.canonical if joining is not None else other.strip()[:200]
            session.add(
                CompanyAlias(
                    team_id=team_id,
                    alias_key=old,
                    canonical_key=canonical,
                    alias=old_name,
                    canonical=shown,
                    merged_at=now,
                )
            )
            return MergeResult("merged", shown, (old_name, *moved))

    async def _alias(self, session: AsyncSession, team_id: str, key: str) -> CompanyAlias | None:
        return await session.get(CompanyAlias, (team_id, key), with_for_update=True)

    async def _move_group(
        self, session: AsyncSession, team_id: str, old: str, canonical: str, shown: str
    ) -> list[str]:
        """The spellings merged into `old` now go to `canonical`; their names."""
        names = list(
            await session.scalars(
                select(CompanyAlias.alias)
                .where(CompanyAlias.team_id == team_id, CompanyAlias.canonical_key == old)
                .order_by(CompanyAlias.alias)
            )
        )
        await session.execute(
            update(CompanyAlias)
            .where(CompanyAlias.team_id == team_id, CompanyAlias.canonical_key == old)
            .values(canonical_key=canonical, canonical=shown)
        )
        return names

    async def unmerge(self, team_id: str, company: str) -> list[str]:
        """The spelling is its own company again; or, for a company others were merged into,
        each of those is. The spellings set apart (none: it was not merged)."""
        key = key_of(company)
        if not key:
            return []
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(CompanyAlias)
                    .where(
                        CompanyAlias.team_id == team_id,
                        or_(CompanyAlias.alias_key == key, CompanyAlias.canonical_key == key),
                    )
                    .order_by(CompanyAlias.alias)
                )
            )
            alias = [row for row in rows if row.alias_key == key]
            parted = alias or rows
            if parted:
                await session.execute(
                    delete(CompanyAlias).where(
                        CompanyAlias.team_id == team_id,
                        CompanyAlias.alias_key.in_([row.alias_key for row in parted]),
                    )
                )
            return [row.alias for row in parted]

    async def merges(self, team_id: str) -> list[Merge]:
        """Every company with spellings merged into it, by name."""
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(CompanyAlias.canonical_key, CompanyAlias.canonical, CompanyAlias.alias)
                .where(CompanyAlias.team_id == team_id)
                .order_by(CompanyAlias.canonical_key, CompanyAlias.alias)
            )
            grouped: dict[str, tuple[str, list[str]]] = {}
            for canonical_key, canonical, alias in rows:
                grouped.setdefault(canonical_key, (canonical, []))[1].append(alias)
        merges = [Merge(key, name, tuple(aliases)) for key, (name, aliases) in grouped.items()]
        return sorted(merges, key=lambda merge: merge.name.casefold())
