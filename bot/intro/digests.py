"""The offer-help digest's store: plans each connector's digest as an outbox row, records
what it told, and keeps a connector's "Not for me" and opt-out (the rules are in
bot.intro.offer_help).

Planning reads a workspace in a few indexed statements (its lists, the ties at those
companies, the connectors' settings, open asks and the declines that hold) and writes each
digest with what it tells in one transaction. The row's dedupe key names the connector's
previous digest, so of several replicas planning at once exactly one writes the next one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.companies import Companies
from bot.intro.declines import TargetDecline
from bot.intro.directory import TARGET_DECLINED_HOLD, target_declines
from bot.intro.matching import company_key
from bot.intro.offer_help import (
    DIGEST_EVERY,
    NOT_FOR_ME,
    Account,
    Connector,
    DigestItem,
    LastDigest,
    Tie,
    digest_for,
)
from bot.intro.states import OPEN_STATUSES
from storage.db import reading
from storage.models import (
    ConnectorPrefs,
    Contact,
    DeliveryStatus,
    DepartedUser,
    DigestAccount,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    TargetAccount,
)

# A replica looks for digests to plan this often at most (the sweep runs every few seconds).
PLAN_EVERY = timedelta(minutes=10)


def digest_key(connector_id: str, previous_id: int | None) -> str:
    """The dedupe key of a connector's next digest: one successor to each digest (and to
    none), however many replicas plan it."""
    return f"offer_help:{connector_id}:after:{previous_id or 0}"


class Digests:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        every: timedelta = DIGEST_EVERY,
        declined_hold: timedelta = TARGET_DECLINED_HOLD,
        plan_every: timedelta = PLAN_EVERY,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self.every = every
        self._hold = declined_hold
        self._plan_every = plan_every
        self._planned_at: datetime | None = None

    # --- planning ------------------------------------------------------------------------

    async def plan_due(self) -> list[int]:
        """Plan every workspace's digests, unless this process did so lately; the new rows'
        ids (due now: delivery holds each for its connector's working hours)."""
        now = self._clock.now()
        if self._planned_at is not None and now - self._planned_at < self._plan_every:
            return []
        self._planned_at = now
        async with reading(self._sessions) as session:
            teams = list(await session.scalars(select(TargetAccount.team_id).distinct()))
        planned: list[int] = []
        for team_id in teams:
            planned += await self.plan(team_id)
        return planned

    async def plan(self, team_id: str) -> list[int]:
        """Each connector's digest in this workspace, where one is due and has something new."""
        now = self._clock.now()
        # Spellings an admin merged are one company: every key below is its merged one.
        merged = await Companies(self._sessions).merged(team_id)

        def canonical(key: str) -> str:
            return merged.get(key, key)

        accounts, ties = await self._accounts_and_ties(team_id, merged, canonical)
        if not ties:
            return []
        connectors = await self._connectors(team_id, sorted({t.owner_id for t in ties}), canonical)
        declines = await self._declines(team_id, now)
        planned = []
        for connector_id, connector in connectors.items():
            items = digest_for(
                connector_id,
                connector,
                accounts,
                ties,
                declines,
                now,
                every=self.every,
                hold=self._hold,
            )
            if items:
                written = await self._write(team_id, connector_id, connector, items, now)
                if written is not None:
                    planned.append(written)
        return planned

    async def _accounts_and_ties(
        self, team_id: str, merged: dict[str, str], canonical: Callable[[str], str]
    ) -> tuple[list[Account], list[Tie]]:
        """The workspace's lists, and every tie at their companies, under any spelling merged
        into them, of teammates still here (ix_target_accounts_team_company,
        ix_contacts_team_company)."""
        departed = select(DepartedUser.user_id).where(DepartedUser.team_id == team_id)
        async with reading(self._sessions) as session:
            accounts = [
                Account(canonical(key), company, owner)
                for key, company, owner in await session.execute(
                    select(
                        TargetAccount.company_key,
                        TargetAccount.company,
                        TargetAccount.list_owner_id,
                    )
                    .where(TargetAccount.team_id == team_id, TargetAccount.company_key != "")
                    .order_by(TargetAccount.added_at, TargetAccount.id)
                )
            ]
            if not accounts:
                return [], []
            keys = {account.company_key for account in accounts}
            spellings = keys | {alias for alias, key in merged.items() if key in keys}
            ties = [
                replace(tie, company_key=canonical(tie.company_key))
                for tie in (
                    Tie(*row)
                    for row in await session.execute(
                        select(
                            Contact.owner_id,
                            Contact.company_key,
                            Contact.name,
                            Contact.source,
                            Contact.closeness,
                            Contact.confirmed_at,
                            Contact.lapsed_at,
                            Contact.id,
                        ).where(
                            Contact.team_id == team_id,
                            Contact.company_key.in_(sorted(spellings)),
                            Contact.owner_id.not_in(departed),
                        )
                    )
                )
            ]
        return accounts, ties

    async def _connectors(
        self, team_id: str, user_ids: list[str], canonical: Callable[[str], str]
    ) -> dict[str, Connector]:
        """For each teammate with ties at listed companies: their settings, the companies of
        asks open through them, what they were told, and their last digest."""
        async with reading(self._sessions) as session:
            prefs = {
                p.user_id: p
                for p in await session.scalars(
                    select(ConnectorPrefs).where(
                        ConnectorPrefs.team_id == team_id, ConnectorPrefs.user_id.in_(user_ids)
                    )
                )
            }
            open_asks: dict[str, set[str]] = defaultdict(set)
            for connector_id, company in await session.execute(
                select(IntroRequest.connector_id, IntroRequest.target_company).where(
                    IntroRequest.team_id == team_id,
                    IntroRequest.connector_id.in_(user_ids),
                    IntroRequest.status.in_(sorted(OPEN_STATUSES)),
                )
            ):
                open_asks[connector_id].add(canonical(company_key(company)))
            told: dict[str, dict[str, DigestAccount]] = defaultdict(dict)
            for row in await session.scalars(
                select(DigestAccount).where(
                    DigestAccount.team_id == team_id, DigestAccount.connector_id.in_(user_ids)
                )
            ):
                told[row.connector_id][row.company_key] = row
            last_ids = {
                max((r.digest_id or 0) for r in rows.values()) for rows in told.values()
            } - {0}
            last = {
                m.recipient_id: m
                for m in await session.scalars(
                    select(OutboundMessage).where(OutboundMessage.id.in_(sorted(last_ids)))
                )
            }
        return {
            user_id: _connector(
                prefs.get(user_id), open_asks[user_id], told[user_id], last.get(user_id), canonical
            )
            for user_id in user_ids
        }

    async def _declines(self, team_id: str, now: datetime) -> list[TargetDecline]:
        """The people whose no to an intro still holds in the workspace."""
        async with reading(self._sessions) as session:
            return await target_declines(session, team_id, now - self._hold)

    async def _write(
        self,
        team_id: str,
        connector_id: str,
        connector: Connector,
        items: list[DigestItem],
        now: datetime,
    ) -> int | None:
        """The digest row and what it tells, in one transaction; None when another replica
        wrote this connector's next digest first."""
        message = OutboundMessage(
            team_id=team_id,
            request_id=None,
            dedupe_key=digest_key(connector_id, connector.last_id),
            kind=MessageKind.DIGEST,
            recipient_id=connector_id,
            data={"items": [item.as_data() for item in items]},
            status=DeliveryStatus.PENDING,
            due_at=now,
            created_at=now,
        )
        try:
            async with self._sessions.begin() as session:
                session.add(message)
                await session.flush()
                for item in items:
                    row = await session.get(
                        DigestAccount, (team_id, connector_id, item.company_key)
                    )
                    if row is None:
                        row = DigestAccount(
                            team_id=team_id, connector_id=connector_id, company_key=item.company_key
                        )
                        session.add(row)
                    row.told, row.digest_id = item.told, message.id
        except IntegrityError:
            return None
        return message.id

    # --- the connector's own word --------------------------------------------------------

    async def digest_row(
        self, team_id: str, digest_id: int, connector_id: str
    ) -> OutboundMessage | None:
        """A digest of this connector's (None for anyone else's, or none)."""
        async with reading(self._sessions) as session:
            return await session.scalar(
                select(OutboundMessage).where(
                    OutboundMessage.id == digest_id,
                    OutboundMessage.team_id == team_id,
                    OutboundMessage.recipient_id == connector_id,
                    OutboundMessage.kind == MessageKind.DIGEST,
                )
            )

    async def set_wanted(self, team_id: str, user_id: str, wanted: bool) -> None:
        """Whether they get digests at all ("How often to ask me")."""
        async with self._sessions.begin() as session:
            prefs = await session.get(ConnectorPrefs, (team_id, user_id), with_for_update=True)
            if prefs is None:
                session.add(
                    ConnectorPrefs(
                        team_id=team_id, user_id=user_id, blocked_companies=[], offer_help=wanted
                    )
                )
            else:
                prefs.offer_help = wanted

    async def not_for_me(self, team_id: str, connector_id: str, key: str) -> datetime:
        """ "Not for me": no digest brings this account up for a quarter. Until when."""
        until = self._clock.now() + NOT_FOR_ME
        async with self._sessions.begin() as session:
            row = await session.get(
                DigestAccount, (team_id, connector_id, key), with_for_update=True
            )
            if row is None:
                session.add(
                    DigestAccount(
                        team_id=team_id,
                        connector_id=connector_id,
                        company_key=key,
                        told="",
                        not_for_me_until=until,
                    )
                )
            else:
                row.not_for_me_until = until
        return until

    async def still_for_them(
        self, team_id: str, connector_id: str, items: list[DigestItem]
    ) -> tuple[bool, dict[str, datetime]]:
        """As a digest goes: whether the connector still wants digests, and the accounts
        among `items` they have said are not for them since (until when)."""
        now = self._clock.now()
        async with reading(self._sessions) as session:
            wants = await session.scalar(
                select(ConnectorPrefs.offer_help).where(
                    ConnectorPrefs.team_id == team_id, ConnectorPrefs.user_id == connector_id
                )
            )
            muted = {
                key: until
                for key, until in await session.execute(
                    select(DigestAccount.company_key, DigestAccount.not_for_me_until).where(
                        DigestAccount.team_id == team_id,
                        DigestAccount.connector_id == connector_id,
                        DigestAccount.company_key.in_([i.company_key for i in items]),
                        DigestAccount.not_for_me_until > now,
                    )
                )
                if until is not None
            }
        return wants is not False, muted

    async def names_of(self, team_id: str, connector_id: str, ids: list[int]) -> dict[int, str]:
        """The names of these contacts of the connector's own whose ties still hold: shown
        to them alone, in their digest."""
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(Contact.id, Contact.name).where(
                    Contact.team_id == team_id,
                    Contact.owner_id == connector_id,
                    Contact.id.in_(ids),
                    Contact.lapsed_at.is_(None),
                )
            )
            return {contact_id: name for contact_id, name in rows}


def _connector(
    prefs: ConnectorPrefs | None,
    open_asks: set[str],
    told: dict[str, DigestAccount],
    last: OutboundMessage | None,
    canonical: Callable[[str], str],
) -> Connector:
    return Connector(
        wants_it=prefs is None or prefs.offer_help is not False,
        snoozed_until=prefs.snoozed_until if prefs is not None else None,
        blocked=frozenset(canonical(company_key(c)) for c in (prefs.blocked_companies or []))
        if prefs
        else frozenset(),
        open_asks=frozenset(open_asks),
        told={key: row.told for key, row in told.items() if row.told},
        not_for_me_until={
            key: row.not_for_me_until for key, row in told.items() if row.not_for_me_until
        },
        last=LastDigest(last.status, last.created_at, last.sent_at) if last is not None else None,
        last_id=max((r.digest_id or 0 for r in told.values()), default=0),
    )
