"""Offer help: who hears, in their weekly digest, of the accounts teammates are working where
they know people, and what it says. Pure: the rows come in as plain values, the moment and
the periods as arguments (the store that reads and writes them is bot.intro.digests).

A connector knows people at an account when they have a tie there that holds: declared, or a
LinkedIn connection (a lapsed tie is no longer knowing someone). The digest names only the
connector's own ties, to them. An item is *news* when the connector has not been told of that
account before, or since then a rep started working it or their tie there changed (a list
dropping it is not news); a digest goes only with news, at most once a period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from bot.intro.declines import TargetDecline, holding
from bot.intro.directory import CLOSENESS_WEIGHT, LAPSED, TIE_TIER, tie_kind

# How often a connector may get a digest, by default (INTROBOT_DIGEST_EVERY).
DIGEST_EVERY = timedelta(days=7)
# "Not for me" holds this long: a quarter.
NOT_FOR_ME = timedelta(days=91)
# Accounts in one digest: each takes two blocks, well within Slack's 50. The rest wait for
# the next digest (they are not told yet, so they are still new then).
MOST_ITEMS = 10


@dataclass(frozen=True)
class Account:
    """A row of a list: the company (its key and name as written) and whose list ("" for the
    workspace's)."""

    company_key: str
    company: str
    list_owner_id: str


@dataclass(frozen=True)
class Tie:
    """One of a connector's contacts at a company."""

    owner_id: str
    company_key: str
    name: str
    source: str
    closeness: str
    confirmed_at: datetime | None = None
    lapsed_at: datetime | None = None
    id: int = 0  # the contact's row

    @property
    def kind(self) -> str:
        return tie_kind(self.source, self.confirmed_at, self.lapsed_at)


@dataclass(frozen=True)
class LastDigest:
    """The connector's latest digest row: its delivery status, when written and when sent."""

    status: str
    created_at: datetime
    sent_at: datetime | None = None


@dataclass(frozen=True)
class Connector:
    """What bears on one connector's digest besides their ties."""

    wants_it: bool = True  # "How often to ask me": on unless they turned it off
    snoozed_until: date | None = None
    blocked: frozenset[str] = frozenset()  # company keys they are not to be asked about
    open_asks: frozenset[str] = frozenset()  # company keys of asks open through them
    told: Mapping[str, str] = field(default_factory=dict)  # company key -> DigestItem.told
    not_for_me_until: Mapping[str, datetime] = field(default_factory=dict)
    last: LastDigest | None = None
    last_id: int = 0  # its outbound_messages id; 0 for none


@dataclass(frozen=True)
class DigestItem:
    """One account in a digest: the company, whose lists it is on ("" for the team's), and
    the connector's best tie there."""

    company_key: str
    company: str
    reps: tuple[str, ...]
    tie: str  # known or connected (bot.intro.directory)
    closeness: str
    people: int  # how many of the connector's ties there hold
    best: int = 0  # the contact row of the best of them, named to the connector alone

    @property
    def told(self) -> str:
        """What telling it tells, as stored: "<tie>:<closeness>|<rep>,<rep>" ("" for the
        team's list)."""
        return f"{self.tie}:{self.closeness}|{','.join(sorted(self.reps))}"

    def is_news(self, told: str | None) -> bool:
        """Whether it tells more than `told` (what was told before, if anything): another
        rep's list, or a tie that changed since."""
        if told is None:
            return True
        tie, _, reps = told.partition("|")
        return tie != self.told.partition("|")[0] or not set(self.reps) <= set(reps.split(","))

    def as_data(self) -> dict[str, object]:
        return {
            "company_key": self.company_key,
            "company": self.company,
            "reps": list(self.reps),
            "tie": self.tie,
            "closeness": self.closeness,
            "people": self.people,
            "best": self.best,
        }

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> DigestItem:
        people, best = data.get("people", 1), data.get("best", 0)
        return cls(
            company_key=str(data["company_key"]),
            company=str(data.get("company", "")),
            reps=tuple(str(r) for r in data.get("reps", ()) or ()),  # type: ignore[attr-defined]
            tie=str(data.get("tie", "")),
            closeness=str(data.get("closeness", "")),
            people=people if isinstance(people, int) else 1,
            best=best if isinstance(best, int) else 0,
        )


def may_send(last: LastDigest | None, now: datetime, every: timedelta) -> bool:
    """Whether a new digest may be planned: none waiting to go, and the last one sent (or,
    never sent, written) at least a period ago."""
    if last is None:
        return True
    if last.status in ("pending", "sending"):
        return False
    since = last.sent_at if last.status == "sent" and last.sent_at else last.created_at
    return now >= since + every


def tie_strength(tie: Tie) -> tuple[int, float]:
    """How strong a tie is: its kind first (declared above LinkedIn), then how well."""
    return TIE_TIER[tie.kind], CLOSENESS_WEIGHT.get(tie.closeness, 0.4)


def items_for(
    connector_id: str,
    connector: Connector,
    accounts: Iterable[Account],
    ties: Iterable[Tie],
    declines: Iterable[TargetDecline],
    now: datetime,
    hold: timedelta,
) -> list[DigestItem]:
    """The accounts this connector could help with now, best ties first: teammates' accounts
    (not only their own list) where they have a tie that holds (not lapsed, not to a person
    whose no to an intro still holds), leaving out companies they are not to be asked about,
    accounts with an ask open through them already, and accounts they said are not for them.
    Whether each is new is `digest_for`'s to say."""
    declines = list(declines)
    reps: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for account in accounts:
        if not account.company_key or account.list_owner_id == connector_id:
            continue
        reps.setdefault(account.company_key, []).append(account.list_owner_id)
        names.setdefault(account.company_key, account.company)
    held: dict[str, list[Tie]] = {}
    for tie in ties:
        if tie.owner_id != connector_id or tie.company_key not in reps or tie.kind == LAPSED:
            continue
        if holding(declines, tie.name, now, hold) is not None:
            continue
        held.setdefault(tie.company_key, []).append(tie)
    items = []
    for key, there in held.items():
        muted = connector.not_for_me_until.get(key)
        if key in connector.blocked or key in connector.open_asks or (muted and muted > now):
            continue
        best = max(there, key=tie_strength)
        items.append(
            DigestItem(
                company_key=key,
                company=names[key],
                reps=tuple(dict.fromkeys(reps[key])),
                tie=best.kind,
                closeness=best.closeness,
                people=len(there),
                best=best.id,
            )
        )
    items.sort(key=lambda i: (-TIE_TIER[i.tie], -CLOSENESS_WEIGHT.get(i.closeness, 0.4), i.company))
    return items


def digest_for(
    connector_id: str,
    connector: Connector,
    accounts: Iterable[Account],
    ties: Iterable[Tie],
    declines: Iterable[TargetDecline],
    now: datetime,
    *,
    every: timedelta = DIGEST_EVERY,
    hold: timedelta = timedelta(days=180),
) -> list[DigestItem]:
    """What this connector's digest says now: the items that are news (`items_for`,
    `DigestItem.is_news`), at most MOST_ITEMS; nothing when they turned it off, are snoozed, had
    one within the period or have one waiting to go."""
    if not connector.wants_it or not may_send(connector.last, now, every):
        return []
    if connector.snoozed_until is not None and connector.snoozed_until >= now.date():
        return []
    items = items_for(connector_id, connector, accounts, ties, declines, now, hold)
    fresh = [i for i in items if i.is_news(connector.told.get(i.company_key))]
    return fresh[:MOST_ITEMS]
