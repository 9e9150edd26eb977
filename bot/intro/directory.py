"""Who knows whom, how hard each connector may be asked, and who owns which account.

Slack-free, like the workflow. A teammate's contacts (bot.intro.contacts) are theirs alone:
other people only ever see the suggestions they produce.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Integer,
    Row,
    String,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.intro.clock import Clock
from bot.intro.contacts import ContactInput, Contacts, scored
from bot.intro.declines import TargetDecline, TargetOnHold, holding
from bot.intro.matching import (
    PersonQuery,
    company_key,
    name_key,
    name_score,
    parse_person,
    split_person,
    surname_keys,
)
from bot.intro.people import Teammate
from bot.intro.profiles import PROFILE_FRESH_FOR, profile_from
from bot.intro.states import INTRO_MADE_STATUSES, OPEN_STATUSES, Action, Status
from storage.db import fetch_all, one_statement, reading
from storage.models import (
    AccountOwner,
    ConnectorPrefs,
    Contact,
    IntroRequest,
    RequestEvent,
    UTCDateTime,
    WorkspaceSettings,
)

# How long a target's no holds by default (INTROBOT_TARGET_DECLINED_HOLD).
TARGET_DECLINED_HOLD = timedelta(days=180)
CLOSENESS_WEIGHT = {"close": 1.0, "know_well": 0.8, "met_once": 0.45, "not_sure": 0.3}

# How a tie counts. Declared by its owner (added by hand, edited, or vouched for when asked
# "would they take your call?"); a LinkedIn connection they have not vouched for, which is
# being connected, not knowing someone; or one they said has lapsed.
KNOWN = "known"
CONNECTED = "connected"
LAPSED = "lapsed"
# Ties rank by kind first, whatever their age: a declared tie of ten years comes before a
# LinkedIn connection of last month, and a connection before a tie that lapsed.
TIE_TIER = {KNOWN: 2, CONNECTED: 1, LAPSED: 0}


def tie_kind(source: str, confirmed_at: datetime | None, lapsed_at: datetime | None) -> str:
    """Whether a tie is known, only connected, or lapsed (`TIE_TIER`)."""
    if lapsed_at is not None:
        return LAPSED
    if source == "linkedin" and confirmed_at is None:
        return CONNECTED
    return KNOWN


def tie_score(
    match: float,
    closeness: str,
    since: date | None,
    today: date,
    open_asks: int,
    intros_made: int,
) -> float:
    """How good a path a tie is within its kind: how well the person matches, how well and
    how recently the owner knows them, how loaded they are now, how their intros went."""
    years = (today - since).days / 365 if since else 2.0
    # Older ties count for less, but a real tie never for less than half.
    recency = max(0.5, 1.0 / (1.0 + 0.1 * max(0.0, years)))
    load = 1.0 / (1.0 + 0.25 * open_asks)
    track = 1.0 + 0.1 * min(intros_made, 5)
    return round(match * CLOSENESS_WEIGHT.get(closeness, 0.4) * recency * load * track, 4)


def rank_key(kind: str, score: float, user_id: str) -> tuple[int, float, str]:
    """Best first: the tie's kind, then its score (ties broken by id, so the order holds)."""
    return (-TIE_TIER[kind], -score, user_id)


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
    tie: str = KNOWN  # known, connected (on LinkedIn only) or lapsed (`tie_kind`)


@dataclass(frozen=True)
class PacingProblem:
    code: str  # max_open, max_per_30_days, snoozed, blocked_company
    detail: str


@dataclass(frozen=True)
class Pacing:
    """How hard a connector may be asked: most asks open at once, most in 30 days (None: no
    limit)."""

    max_open: int | None
    max_per_30_days: int | None


# Every connector's limits until they or an admin change them: a few asks at a time is what
# a connector can give each the care a warm intro needs.
DEFAULT_PACING = Pacing(max_open=3, max_per_30_days=6)


def workspace_pacing(default_max_open: int | None, default_max_per_30_days: int | None) -> Pacing:
    """The workspace's default from its stored columns: None is introbot's, 0 is no limit."""
    max_open = DEFAULT_PACING.max_open if default_max_open is None else default_max_open
    per_30 = (
        DEFAULT_PACING.max_per_30_days
        if default_max_per_30_days is None
        else default_max_per_30_days
    )
    return Pacing(max_open or None, per_30 or None)


@dataclass(frozen=True)
class PacingLoad:
    """How loaded a connector is against the limits that hold for them: each count up to
    its limit (no further; none counted where no limit holds)."""

    open_now: int
    recent: int  # asks in the last 30 days
    limits: Pacing

    def near(self) -> tuple[str, int, int] | None:
        """The limit the next ask brings closest, while none is hit yet: its code, the count
        and the limit (the form says so before a limit stops an ask)."""
        candidates = []
        limit = self.limits.max_open
        if limit is not None and 0 < self.open_now < limit:
            candidates.append((limit - self.open_now, "max_open", self.open_now, limit))
        limit = self.limits.max_per_30_days
        if limit is not None and 0 < self.recent < limit and limit - self.recent <= 2:
            candidates.append((limit - self.recent, "max_per_30_days", self.recent, limit))
        if not candidates:
            return None
        _, code, count, limit = min(candidates)
        return code, count, limit


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
    load: PacingLoad | None = None  # the connector's asks against their limits
    next_best: str | None = None  # who else to ask, when a limit is in the way
    enforce_pacing: bool = False  # the workspace blocks (not just warns) on limits
    account_owner: str | None = None  # approves first, unless already part of the ask
    # The connector's tie to the person, when over a year old and not confirmed since.
    stale_tie: Contact | None = None
    # The stored profiles read with the review (bot.intro.profiles), by user id: those asked
    # for, and with `review_ask`'s `name_people` those of the people the findings may name
    # (on the open asks, the next best path's owners).
    profiles: dict[str, Teammate] = field(default_factory=dict)
    # The person said no to an intro lately (bot.intro.declines): their no still holds.
    target_declined: TargetDecline | None = None
    target_declined_hold: timedelta = field(default_factory=lambda: TARGET_DECLINED_HOLD)


def _company_keys(rows: list[Row[Any]]) -> set[str]:
    """The keys the ask's company goes by in the team, among `_REVIEW`'s rows."""
    return {row.company_key for row in rows if row.kind == "company"}


def _pacing_from(
    row: Any, company: str, now: datetime, company_keys: set[str]
) -> list[PacingProblem]:
    """The limits an ask to this connector breaks, from a `_REVIEW` row; `company_keys`: the
    keys the company goes by in the team (a connector who blocked any spelling of it)."""
    problems = []
    if row.snoozed_until and row.snoozed_until >= now.date():
        problems.append(PacingProblem("snoozed", row.snoozed_until.isoformat()))
    blocked = {company_key(c) for c in row.blocked_companies or []}
    if company and blocked and blocked & (company_keys | {company_key(company)}):
        problems.append(PacingProblem("blocked_company", company))
    if row.max_open is not None and int(row.open_now or 0) >= row.max_open:
        problems.append(PacingProblem("max_open", str(row.max_open)))
    if row.max_per_30_days is not None and int(row.recent or 0) >= row.max_per_30_days:
        problems.append(PacingProblem("max_per_30_days", str(row.max_per_30_days)))
    return problems


def _sort_asks(
    review: AskReview, rows: list[Row[Any]], key: str, requester_id: str, replaces_id: int | None
) -> None:
    """The open asks for the person (`key`: their name's key, as the statement looked them up
    by) among `_REVIEW`'s rows: the requester's own, or others'."""
    for ask in (row for row in rows if row.kind == "ask"):
        if ask.id == replaces_id or name_score(key, name_key(ask.name)) < 85:
            continue  # the ask this one replaces; a different person of the same surname
        found = OpenAsk(ask.id, ask.requester_id, ask.connector_id, ask.name)
        if found.requester_id == requester_id:
            review.mine = found
        else:
            review.held_by_others.append(found)


def _stale_tie(
    rows: list[Row[Any]], query: PersonQuery, company_keys: set[str], now: datetime
) -> Contact | None:
    """The connector's best tie to the person among `_REVIEW`'s rows, when it is old enough
    to ask about. Scored as rows: only the best match becomes a Contact."""
    ties = scored(query, [row for row in rows if row.kind == "tie"], company_keys)
    if not ties:
        return None
    best = ties[0][1]
    tie = Contact(
        id=best.id,
        name=best.name,
        since=best.since,
        confirmed_at=best.confirmed_at,
        source=best.source,
    )
    return tie if Contacts.is_stale(tie, now) else None


def _declined(
    rows: list[Row[Any]], target: str, now: datetime, hold: timedelta
) -> TargetDecline | None:
    """The person's no that still holds, among `_REVIEW`'s rows (when it was told: the row's
    `confirmed_at`)."""
    declines = [TargetDecline(row.name, row.confirmed_at) for row in rows if row.kind == "declined"]
    return holding(declines, target, now, hold)


# The key a company typed goes by in the team (its merged spelling's, bot.intro.companies)
# and every key merged with it: the opening of the statements below.
_COMPANY_KEYS = """
        WITH canonical AS (
            SELECT COALESCE((
                SELECT canonical_key FROM company_aliases
                WHERE team_id = :team_id AND alias_key = :company_key
            ), :company_key) AS k
        ), company_keys AS (
            SELECT k FROM canonical WHERE k <> ''
            UNION
            SELECT a.alias_key FROM company_aliases a, canonical c
            WHERE a.team_id = :team_id AND a.canonical_key = c.k
        )"""

# The asks for the person's surname that ended in their no, with when the connector told it
# (`confirmed_at`), where that was lately enough for the no to still hold: the source of both
# statements' 'declined' rows.
_NOES_THAT_MAY_HOLD = """
        FROM (
            SELECT r.id, r.target_name AS name, (
                SELECT max(e.at) FROM request_events e
                WHERE e.request_id = r.id AND e.team_id = :team_id
                    AND e.action = :declined_action
            ) AS confirmed_at
            FROM intro_requests r
            WHERE r.team_id = :team_id AND r.target_surname_key IN :surname_keys
                AND r.status = :declined_status
        ) AS declines
        WHERE confirmed_at > :declined_after
"""

# The contacts who may be the person (their surname among `surnames`) or work at the company
# (under any key it goes by: `company_keys`), whoever's they are but a departed teammate's:
# the rule `contacts_matching` writes in Core, as the review's and the form's statements read
# it. `only_if`: a condition for reading them at all.
_CANDIDATES = """
            SELECT id, owner_id, name, name_key, company, company_key, company_domain_key,
                closeness, since, source, confirmed_at, lapsed_at
            FROM contacts
            WHERE team_id = :team_id
                AND (surname_key IN {surnames}
                    OR company_key IN (SELECT k FROM company_keys)
                    OR company_domain_key IN (SELECT k FROM company_keys))
                AND owner_id NOT IN (SELECT user_id FROM departed_users WHERE team_id = :team_id)
                {only_if}
            ORDER BY id
            LIMIT 2000
"""

# The one read behind an ask's review (`Directory.review_ask`), in SQL both databases speak:
# the connector's limits (their own, else the workspace's default, else introbot's) and what
# they count, counted up to the limit only (whether it is reached, or how near, is all the
# count is for: a busy connector's hundred asks are not read one by one), the workspace's
# setting and the account's owner (the company's, under any
# spelling the team merged with it, its canonical spelling's first), on one row; LEFT JOINed
# to it, a row for each open ask for the person's surname, for each tie of the connector's
# that may be the person or their company (the rule `contacts_matching` writes in Core), for
# each ask the person said no to lately (whose no may still hold, `_declined`), for each
# stored profile asked for (the submission's people, bot.intro.profiles), and for each key
# the company goes by in the team (bot.intro.companies). When asked to (`search_next`) and
# the connector may be at a limit (`searched`: never less often than `_pacing_from` finds
# one), a row for each contact of anyone's who may be the person, as the suggestion search
# matches them: the next best paths, without a read of their own (their owners' loads are
# read apart, `_LOADS`, only when there are any: read here, every review would pay for
# them). When asked to (`name_people`), a 'profile' row too for each person the findings may
# name (on the open asks, the candidates' owners; a branch of its own, so that each keeps its
# index lookup), so that putting them in words reads nothing more. Built once: a statement
# put together per call costs more CPU than the round trips it saves.
_REVIEW = (
    text(
        _COMPANY_KEYS
        + """, caps AS (
            SELECT p.snoozed_until, p.blocked_companies,
                CASE WHEN p.max_open IS NOT NULL THEN p.max_open
                    ELSE NULLIF(COALESCE(w.default_max_open, :default_max_open), 0)
                END AS max_open,
                CASE WHEN p.max_per_30_days IS NOT NULL THEN p.max_per_30_days
                    ELSE NULLIF(COALESCE(w.default_max_per_30_days, :default_max_per_30_days), 0)
                END AS max_per_30_days,
                w.enforce_pacing
            FROM (SELECT 1 AS one) AS one_row
            LEFT JOIN connector_prefs p ON p.team_id = :team_id AND p.user_id = :connector_id
            LEFT JOIN workspace_settings w ON w.team_id = :team_id
        ), limits AS (
            SELECT caps.*,
                (
                    SELECT count(*) FROM (
                        SELECT 1 FROM intro_requests r
                        WHERE r.team_id = :team_id AND r.connector_id = :connector_id
                            AND r.status IN :open_statuses
                        LIMIT (SELECT COALESCE(max_open, 0) FROM caps)
                    ) AS counted
                ) AS open_now,
                (
                    SELECT count(*) FROM (
                        SELECT 1 FROM intro_requests r
                        WHERE r.team_id = :team_id AND r.connector_id = :connector_id
                            AND r.created_at >= :month_ago
                        LIMIT (SELECT COALESCE(max_per_30_days, 0) FROM caps)
                    ) AS counted
                ) AS recent
            FROM caps
        ), searched AS (
            SELECT CASE WHEN CAST(:search_next AS BOOLEAN) AND (
                l.snoozed_until >= :today
                OR CAST(l.blocked_companies AS TEXT) NOT IN ('[]', 'null')
                OR l.open_now >= l.max_open
                OR l.recent >= l.max_per_30_days
            ) THEN 1 ELSE 0 END AS next_searched
            FROM limits l
        ), asks AS (
            SELECT id, requester_id, connector_id, target_name
            FROM intro_requests
            WHERE team_id = :team_id AND target_surname_key IN :surname_keys
                AND status IN :open_statuses
        ), candidates AS ("""
        + _CANDIDATES.format(
            surnames=":surname_keys",
            only_if="AND EXISTS (SELECT 1 FROM searched WHERE next_searched = 1)",
        )
        + """)
        SELECT limits.*, searched.next_searched,
            (
                SELECT o.owner_id FROM account_owners o
                WHERE o.team_id = :team_id AND o.company_key IN (SELECT k FROM company_keys)
                ORDER BY CASE WHEN o.company_key = (SELECT k FROM canonical) THEN 0
                    WHEN o.company_key = :company_key THEN 1 ELSE 2 END, o.company_key
                LIMIT 1
            ) AS account_owner,
            found.*
        FROM limits CROSS JOIN searched
        LEFT JOIN (
            SELECT 'ask' AS kind, id, requester_id, connector_id, target_name AS name,
                NULL AS name_key, NULL AS company_key, NULL AS company_domain_key,
                NULL AS since, NULL AS confirmed_at,
                NULL AS user_id, NULL AS title, NULL AS email, NULL AS tz,
                CAST(NULL AS BOOLEAN) AS is_bot, CAST(NULL AS BOOLEAN) AS deleted,
                NULL AS source, NULL AS owner_id, NULL AS company, NULL AS closeness,
                NULL AS lapsed_at
            FROM asks
            UNION ALL
            SELECT 'tie', id, NULL, NULL, name, name_key, company_key, company_domain_key,
                since, confirmed_at, NULL, NULL, NULL, NULL, NULL, NULL, source, NULL, NULL,
                NULL, lapsed_at
            FROM (
                SELECT id, name, name_key, company_key, company_domain_key, since,
                    confirmed_at, source, lapsed_at
                FROM contacts
                WHERE team_id = :team_id AND owner_id = :tie_owner_id
                    AND (surname_key IN :surname_keys
                        OR company_key IN (SELECT k FROM company_keys)
                        OR company_domain_key IN (SELECT k FROM company_keys))
                    AND owner_id NOT IN (
                        SELECT user_id FROM departed_users WHERE team_id = :team_id
                    )
                ORDER BY id
                LIMIT 2000
            ) AS ties
            UNION ALL
            SELECT 'candidate', id, NULL, NULL, name, name_key, company_key,
                company_domain_key, since, confirmed_at, NULL, NULL, NULL, NULL, NULL, NULL,
                source, owner_id, company, closeness, lapsed_at
            FROM candidates
            UNION ALL
            SELECT 'declined', id, NULL, NULL, name, NULL, NULL, NULL, NULL, confirmed_at,
                NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
            """
        + _NOES_THAT_MAY_HOLD
        + """
            UNION ALL
            SELECT 'profile', NULL, NULL, NULL, name, NULL, NULL, NULL, NULL, NULL, user_id,
                title, email, tz, is_bot, deleted, NULL, NULL, NULL, NULL, NULL
            FROM profiles
            WHERE team_id = :team_id AND user_id IN :profile_ids
                AND refreshed_at > :fresh_after
            UNION ALL
            SELECT 'profile', NULL, NULL, NULL, name, NULL, NULL, NULL, NULL, NULL, user_id,
                title, email, tz, is_bot, deleted, NULL, NULL, NULL, NULL, NULL
            FROM profiles
            WHERE team_id = :team_id AND refreshed_at > :fresh_after
                AND CAST(:name_people AS BOOLEAN)
                AND user_id IN (
                    SELECT requester_id FROM asks
                    UNION SELECT connector_id FROM asks
                    UNION SELECT owner_id FROM candidates
                )
            UNION ALL
            SELECT 'company', NULL, NULL, NULL, NULL, NULL, k, NULL, NULL, NULL, NULL, NULL,
                NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
            FROM company_keys
        ) AS found ON 1 = 1
        ORDER BY found.kind, found.id
        """
    )
    .bindparams(
        bindparam("open_statuses", value=sorted(OPEN_STATUSES), expanding=True),
        bindparam("surname_keys", type_=String(), expanding=True),  # typed: it may be empty
        bindparam("profile_ids", type_=String(), expanding=True),
        bindparam("month_ago", type_=UTCDateTime()),
        bindparam("today", type_=Date()),
        bindparam("fresh_after", type_=UTCDateTime()),
        bindparam("declined_after", type_=UTCDateTime()),
        bindparam("declined_action", value=Action.TARGET_DECLINED.value),
        bindparam("declined_status", value=Status.TARGET_DECLINED.value),
    )
    .columns(  # by name: the others need no conversion
        snoozed_until=Date,
        blocked_companies=JSON,
        since=Date,
        confirmed_at=UTCDateTime(),
        lapsed_at=UTCDateTime(),
        is_bot=Boolean,
        deleted=Boolean,
    )
)


# What the request form shows while no connector is picked, in one read
# (`Directory.form_findings`): the contacts who may be the person or work at the company (the
# rule `contacts_matching` writes in Core, under every key the team merged with the company's),
# the asks open now and the intros made by each of their owners and which owners share tie
# details (`loads_and_sharing`), the open asks for the person's surname, their noes that may
# still hold, and the company's keys: what the contacts' search, its loads and the review
# without a connector read in two or three statements. `owner_id` is the contact's owner on
# a contact's row, the teammate counted on a load's or a share's. Built once, as `_REVIEW` is.
_FORM_FINDINGS = (
    text(
        _COMPANY_KEYS
        + """, candidates AS ("""
        + _CANDIDATES.format(surnames=":contact_surname_keys", only_if="")
        + """)
        SELECT 'contact' AS kind, id, owner_id, name, name_key, company,
            company_key, company_domain_key, closeness, since, source, confirmed_at,
            lapsed_at, CAST(NULL AS VARCHAR) AS requester_id,
            CAST(NULL AS VARCHAR) AS connector_id, CAST(NULL AS BIGINT) AS asks,
            CAST(NULL AS BIGINT) AS intros, CAST(NULL AS BOOLEAN) AS enforce_pacing
        FROM candidates
        UNION ALL
        SELECT 'load', NULL, connector_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL,
            count(CASE WHEN status IN :open_statuses THEN 1 END),
            count(CASE WHEN status IN :made_statuses THEN 1 END), NULL
        FROM intro_requests
        WHERE team_id = :team_id AND connector_id IN (SELECT owner_id FROM candidates)
            AND (status IN :open_statuses OR status IN :made_statuses)
        GROUP BY connector_id
        UNION ALL
        SELECT 'share', NULL, user_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL, NULL
        FROM connector_prefs
        WHERE team_id = :team_id AND user_id IN (SELECT owner_id FROM candidates)
            AND share_tie_details = :sharing
        UNION ALL
        SELECT 'ask', id, NULL, target_name, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, requester_id, connector_id, NULL, NULL, NULL
        FROM intro_requests
        WHERE team_id = :team_id AND target_surname_key IN :surname_keys
            AND status IN :open_statuses
        UNION ALL
        SELECT 'declined', id, NULL, name, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            confirmed_at, NULL, NULL, NULL, NULL, NULL, NULL
        """
        + _NOES_THAT_MAY_HOLD
        + """
        UNION ALL
        SELECT 'company', NULL, NULL, NULL, NULL, NULL, k, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, NULL
        FROM company_keys
        UNION ALL
        SELECT 'workspace', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, NULL, NULL, NULL, NULL, enforce_pacing
        FROM workspace_settings
        WHERE team_id = :team_id
        ORDER BY kind, id
        """
    )
    .bindparams(
        bindparam("open_statuses", value=sorted(OPEN_STATUSES), expanding=True),
        bindparam("made_statuses", value=sorted(INTRO_MADE_STATUSES), expanding=True),
        bindparam("surname_keys", type_=String(), expanding=True),  # typed: it may be empty
        bindparam("contact_surname_keys", type_=String(), expanding=True),
        bindparam("sharing", value=True, type_=Boolean()),
        bindparam("declined_after", type_=UTCDateTime()),
        bindparam("declined_action", value=Action.TARGET_DECLINED.value),
        bindparam("declined_status", value=Status.TARGET_DECLINED.value),
    )
    .columns(  # by name: the others need no conversion
        since=Date, confirmed_at=UTCDateTime(), lapsed_at=UTCDateTime(), enforce_pacing=Boolean
    )
)


# Per teammate, asks open now and intros made ('load'); and which of them share tie details
# ('share'): the suggestions' ranking reads it (`loads_and_sharing`, and raw on a lent
# connection for the review's next best). Built once: a Core union put together per call,
# through a session, cost more than the read.
_LOADS = (
    text(
        """
        SELECT 'load' AS part, connector_id AS user_id,
            count(CASE WHEN status IN :open_statuses THEN 1 END) AS asks,
            count(CASE WHEN status IN :made_statuses THEN 1 END) AS intros
        FROM intro_requests
        WHERE team_id = :team_id AND connector_id IN :user_ids
            AND (status IN :open_statuses OR status IN :made_statuses)
        GROUP BY connector_id
        UNION ALL
        SELECT 'share', user_id, 0, 0 FROM connector_prefs
        WHERE team_id = :team_id AND user_id IN :user_ids AND share_tie_details = :sharing
        """
    )
    .bindparams(
        bindparam("open_statuses", value=sorted(OPEN_STATUSES), expanding=True),
        bindparam("made_statuses", value=sorted(INTRO_MADE_STATUSES), expanding=True),
        bindparam("user_ids", type_=String(), expanding=True),
        bindparam("sharing", value=True, type_=Boolean()),
    )
    .columns(user_id=String, asks=Integer, intros=Integer)
)


async def loads_and_sharing(
    session: AsyncSession, team_id: str, user_ids: Collection[str]
) -> tuple[dict[str, tuple[int, int]], set[str]]:
    """In one statement (one round trip, `_LOADS`): per connector, asks open now and intros
    made; and which of them share how well they know people."""
    if not user_ids:
        return {}, set()
    params = {"team_id": team_id, "user_ids": sorted(user_ids)}
    return _loads_from((await session.execute(_LOADS, params)).all())


def _loads_from(rows: Sequence[Any]) -> tuple[dict[str, tuple[int, int]], set[str]]:
    """`_LOADS`' rows as each teammate's (asks open, intros made), and who shares."""
    counts = {row.user_id: (int(row.asks), int(row.intros)) for row in rows if row.part == "load"}
    return counts, {row.user_id for row in rows if row.part == "share"}


async def target_declines(
    session: AsyncSession,
    team_id: str,
    since: datetime,
    surnames: Collection[str] | None = None,
) -> list[TargetDecline]:
    """Each no to an intro reported since `since` in the workspace, whoever asked (of the
    people with these surname keys, when given): read from the requests that ended in it."""
    conditions = [
        IntroRequest.team_id == team_id,
        IntroRequest.status == Status.TARGET_DECLINED,
        RequestEvent.team_id == team_id,
        RequestEvent.action == Action.TARGET_DECLINED,
        RequestEvent.at > since,
    ]
    if surnames is not None:
        conditions.append(IntroRequest.target_surname_key.in_(sorted(surnames)))
    rows = await session.execute(
        select(IntroRequest.target_name, func.max(RequestEvent.at))
        .join(RequestEvent, RequestEvent.request_id == IntroRequest.id)
        .where(*conditions)
        .group_by(IntroRequest.id, IntroRequest.target_name)
    )
    return [TargetDecline(name, at) for name, at in rows]


def _best_ties(matches: list[tuple[float, Any]], exclude: Collection[str]) -> dict[str, Any]:
    """Each teammate's best tie to the person among the scored contacts: of the best kind,
    then the best match; `exclude`'s left out."""
    best: dict[str, tuple[tuple[int, float], Any]] = {}
    for match, contact in matches:
        if contact.owner_id in exclude:
            continue
        kind = tie_kind(contact.source, contact.confirmed_at, contact.lapsed_at)
        better = (TIE_TIER[kind], match)
        if contact.owner_id not in best or better > best[contact.owner_id][0]:
            best[contact.owner_id] = (better, contact)
    return best


def _ranked(
    best: dict[str, Any],
    counts: dict[str, tuple[int, int]],
    sharing: set[str],
    today: date,
    limit: int,
) -> list[Suggestion]:
    """The suggestions from each teammate's best tie (`_best_ties`), their loads and whether
    they share tie details: best first, `limit` of them."""
    suggestions = []
    for user_id, ((_, match), contact) in best.items():
        open_asks, intros_made = counts.get(user_id, (0, 0))
        suggestions.append(
            Suggestion(
                user_id=user_id,
                score=tie_score(
                    match, contact.closeness, contact.since, today, open_asks, intros_made
                ),
                closeness=contact.closeness,
                since=contact.since,
                open_asks=open_asks,
                intros_made=intros_made,
                contact_name=contact.name,
                contact_company=contact.company,
                shares_details=user_id in sharing,
                tie=tie_kind(contact.source, contact.confirmed_at, contact.lapsed_at),
            )
        )
    suggestions.sort(key=lambda s: rank_key(s.tie, s.score, s.user_id))
    return suggestions[:limit]


class Directory(Contacts):
    """The contacts (bot.intro.contacts), and what is worked out from them for everyone:
    suggestions, pacing, the review of an ask, the paths after a dead end, and the people
    whose no to an intro still holds."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        hash_key: bytes | None = None,
        *,
        target_declined_hold: timedelta = TARGET_DECLINED_HOLD,
    ) -> None:
        super().__init__(sessions, clock, hash_key)
        self.target_declined_hold = target_declined_hold

    # --- a target's no ------------------------------------------------------------------

    async def target_declined(self, team_id: str, target: str) -> TargetDecline | None:
        """The latest no from this person (as the connector reported it) that still holds
        in the workspace, whoever asked: read from the requests that ended in it."""
        key = name_key(parse_person(target).name_key)
        if not key:
            return None
        now = self._clock.now()
        async with reading(self._sessions) as session:
            declines = await target_declines(
                session, team_id, now - self.target_declined_hold, surname_keys(key)
            )
        return holding(declines, target, now, self.target_declined_hold)

    async def keep_to_their_no(self, team_id: str, target: str) -> None:
        """A way back to a person whose no still holds is refused: raises TargetOnHold."""
        decline = await self.target_declined(team_id, target)
        if decline is not None:
            raise TargetOnHold(decline, decline.until(self.target_declined_hold))

    # --- the connector's own word on a tie ----------------------------------------------

    async def record_vouch(
        self,
        team_id: str,
        connector_id: str,
        target: str,
        company: str,
        closeness: str,
        *,
        lapsed: bool,
    ) -> None:
        """The connector's answer to "would they take your call?" updates (or starts) their
        entry for the target: vouched for, it counts as knowing them (a LinkedIn connection
        included); `lapsed` ("not really") records the tie as lapsed."""
        tie = await self.tie(team_id, connector_id, target, company)
        if tie is None:
            entry = ContactInput(target, company, closeness=closeness)
            tie, _ = await self.add_contact(team_id, connector_id, entry)
        else:
            # In place: the entry's email is on file only as a hash, which a blank email keeps.
            entry = ContactInput(tie.name, tie.company, tie.title, "", closeness, tie.since)
            await self.update_contact(team_id, connector_id, tie.id, entry)
        if lapsed:
            await self.confirm_tie(team_id, connector_id, tie.id, still_in_touch=False)

    # --- suggestions --------------------------------------------------------------------

    async def suggest_connectors(
        self,
        team_id: str,
        target: str,
        company: str = "",
        exclude: tuple[str, ...] = (),
        limit: int = 3,
    ) -> list[Suggestion]:
        """Teammates who know this person or company, best first: declared ties before
        LinkedIn connections, lapsed ties last (`rank_key`); within each, how well, how
        recently, how loaded they are now, and how their past intros went (`tie_score`)."""
        candidates = await self._candidate_rows(team_id, target, company)
        return await self._suggested(team_id, candidates, exclude, limit)

    async def _suggested(
        self,
        team_id: str,
        candidates: list[tuple[float, Any]],
        exclude: tuple[str, ...],
        limit: int,
    ) -> list[Suggestion]:
        """`suggest_connectors`' ranking of the matching contacts (plain rows of what they are
        ranked by, not Contact objects, with how well each matches), their loads read."""
        best = _best_ties(candidates, exclude)
        if not best:
            return []
        params = {"team_id": team_id, "user_ids": sorted(best)}
        async with one_statement(self._sessions) as connection:
            counts, sharing = _loads_from(await fetch_all(connection, _LOADS, params))
        return _ranked(best, counts, sharing, self._clock.now().date(), limit)

    async def form_findings(
        self,
        team_id: str,
        requester_id: str,
        target: str,
        company: str = "",
        replaces_id: int | None = None,
        limit: int = 3,
    ) -> tuple[list[Suggestion], AskReview]:
        """What the request form shows before a connector is picked, in one statement
        (`_FORM_FINDINGS`): `suggest_connectors` with the requester left out, and what
        `review_ask` finds without a connector (the asks open for the person already, and
        their no while it holds)."""
        query = parse_person(target, company)
        key = name_key(query.name_key)  # the name as written whatever the company given
        now = self._clock.now()
        params = {
            "team_id": team_id,
            "company_key": query.company_key,
            "contact_surname_keys": surname_keys(query.name_key) if query.name_key else [],
            "surname_keys": surname_keys(key) if key else [],
            "declined_after": now - self.target_declined_hold,
        }
        async with one_statement(self._sessions) as connection:
            rows = list(await fetch_all(connection, _FORM_FINDINGS, params))
        keys = _company_keys(rows)
        contacts = [row for row in rows if row.kind == "contact"]
        counts = {
            row.owner_id: (int(row.asks), int(row.intros)) for row in rows if row.kind == "load"
        }
        sharing = {row.owner_id for row in rows if row.kind == "share"}
        best = _best_ties(scored(query, contacts, keys), (requester_id,))
        suggestions = _ranked(best, counts, sharing, now.date(), limit) if best else []
        review = AskReview(
            enforce_pacing=any(row.enforce_pacing for row in rows if row.kind == "workspace")
        )
        _sort_asks(review, rows, key, requester_id, replaces_id)
        review.target_declined = _declined(rows, target, now, self.target_declined_hold)
        review.target_declined_hold = self.target_declined_hold
        return suggestions, review

    async def form_review(
        self,
        team_id: str,
        requester_id: str,
        connector_id: str,
        target: str,
        company: str,
        *,
        named: bool,
        replaces_id: int | None = None,
    ) -> tuple[list[Suggestion], AskReview]:
        """What the request form shows: who else knows the person (when one is `named`) and
        the review of the ask so far. With no connector picked, one statement
        (`form_findings`); with one, the suggestions and that connector's review (no tie: the
        connector's card asks about it)."""
        if named and not connector_id:
            return await self.form_findings(
                team_id, requester_id, target, company, replaces_id=replaces_id
            )
        suggestions = (
            await self.suggest_connectors(team_id, target, company, exclude=(requester_id,))
            if named
            else []
        )
        review = await self.review_ask(
            team_id,
            requester_id,
            connector_id,
            target,
            company,
            replaces_id=replaces_id,
            suggestions=suggestions,
            ties=False,
        )
        return suggestions, review

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
        rows = await self._review_rows(team_id, connector_id, "", company, now, ties=False)
        return _pacing_from(rows[0], company, now, _company_keys(rows))

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
        search_next: bool = False,
        name_people: bool = False,
    ) -> list[Row[Any]]:
        """`_REVIEW`'s rows: at least one, however little it finds (`ties`: with the
        connector's ties to the person; `search_next`: with everyone's contacts who may be the
        person, when the connector may be at a limit; `name_people`: with the stored profiles
        of the people its findings may name)."""
        key = name_key(parse_person(target).name_key)
        params = {
            "team_id": team_id,
            "connector_id": connector_id,
            "tie_owner_id": connector_id if ties else "",
            "company_key": company_key(company)[:200],
            "surname_keys": surname_keys(key) if key else [],
            "month_ago": now - timedelta(days=30),
            "today": now.date(),
            "search_next": search_next,
            "name_people": name_people,
            "profile_ids": sorted(set(profile_ids)),
            "fresh_after": now - PROFILE_FRESH_FOR,
            "default_max_open": DEFAULT_PACING.max_open or 0,
            "default_max_per_30_days": DEFAULT_PACING.max_per_30_days or 0,
            "declined_after": now - self.target_declined_hold,
        }
        async with one_statement(self._sessions) as connection:
            return list(await fetch_all(connection, _REVIEW, params))

    async def set_enforce_pacing(self, team_id: str, enforce: bool) -> None:
        async with self._sessions.begin() as session:
            found = await session.get(WorkspaceSettings, team_id, with_for_update=True)
            if found is None:
                session.add(WorkspaceSettings(team_id=team_id, enforce_pacing=enforce))
            else:
                found.enforce_pacing = enforce

    async def workspace_pacing(self, team_id: str) -> Pacing:
        """The limits for a connector who has not set their own."""
        async with reading(self._sessions) as session:
            found = await session.get(WorkspaceSettings, team_id)
        if found is None:
            return DEFAULT_PACING
        return workspace_pacing(found.default_max_open, found.default_max_per_30_days)

    async def set_workspace_pacing(
        self, team_id: str, max_open: int | None, max_per_30_days: int | None
    ) -> Pacing:
        """An admin's default for every connector (None: leave that limit as it is; 0: no
        limit); the default as it now holds."""
        async with self._sessions.begin() as session:
            found = await session.get(WorkspaceSettings, team_id, with_for_update=True)
            if found is None:
                found = WorkspaceSettings(team_id=team_id, enforce_pacing=False)
                session.add(found)
            if max_open is not None:
                found.default_max_open = max_open
            if max_per_30_days is not None:
                found.default_max_per_30_days = max_per_30_days
            return workspace_pacing(found.default_max_open, found.default_max_per_30_days)

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
        name_people: bool = False,
    ) -> AskReview:
        """Duplicate asks, the connector's limits (and the next-best path), the account owner,
        whether the person's no to an earlier intro still holds, and (unless `ties` is False)
        the connector's own tie to the person when it is old enough to ask about.

        One statement (`_REVIEW`) answers all but the next best's loads (read apart, only
        when the connector is at a limit and someone else may know the person). It reads the
        stored profiles of `profile_ids` with it (a submission's people, without a round trip
        of their own), and with `name_people` those of everyone its findings may name
        (`AskReview.profiles`, both).
        `suggestions`, when the caller has them already (best first, the requester left out),
        give the next-best path without searching for it."""
        # "Jane Doe (Acme)" with no company given: the rules about Acme apply all the same.
        company = company or split_person(target)[1]
        now = self._clock.now()
        rows = await self._review_rows(
            team_id,
            connector_id,
            target,
            company,
            now,
            ties=ties,
            profile_ids=profile_ids,
            search_next=bool(connector_id) and suggestions is None,
            name_people=name_people,
        )
        first = rows[0]
        review = AskReview(
            profiles={row.user_id: profile_from(row) for row in rows if row.kind == "profile"}
        )
        query = parse_person(target, company)
        _sort_asks(review, rows, name_key(query.name_key), requester_id, replaces_id)
        if connector_id:
            review.load = PacingLoad(
                open_now=int(first.open_now or 0),
                recent=int(first.recent or 0),
                limits=Pacing(first.max_open, first.max_per_30_days),
            )
            keys = _company_keys(rows)
            problems = _pacing_from(first, company, now, keys)
            if problems:
                review.pacing = problems[0]
                if suggestions is None:
                    # The statement read the contacts who may be the person (`search_next`:
                    # `searched` holds wherever `_pacing_from` finds a limit): ranked here,
                    # not read again.
                    candidates = [row for row in rows if row.kind == "candidate"]
                    suggestions = await self._suggested(
                        team_id, scored(query, candidates, keys), (requester_id,), 3
                    )
                review.next_best = next(
                    (s.user_id for s in suggestions if s.user_id != connector_id), None
                )
            review.stale_tie = _stale_tie(rows, query, keys, now)
        review.enforce_pacing = bool(first.enforce_pacing)
        review.target_declined = _declined(rows, target, now, self.target_declined_hold)
        review.target_declined_hold = self.target_declined_hold
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
        for this person, nor anyone over their pacing limits. None while the person's no
        holds: their no is not a path to try again."""
        if await self.target_declined(request.team_id, request.target_name):
            return []
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
        candidates = [user_id for user_id in ranked if user_id and user_id not in excluded]
        return await self._within_pacing(request.team_id, candidates, request.target_company, limit)

    async def best_connector(
        self, team_id: str, target: str, company: str, exclude: Sequence[str] = ()
    ) -> str | None:
        """Whom an ask for this person goes to when nobody was named: the teammate the form
        would suggest first, leaving out ties that lapsed and anyone over their limits."""
        suggestions = await self.suggest_connectors(
            team_id, target, company, exclude=tuple(exclude), limit=10
        )
        candidates = [s.user_id for s in suggestions if s.tie != LAPSED]
        free = await self._within_pacing(team_id, candidates, company, 1)
        return free[0] if free else None

    async def _within_pacing(
        self, team_id: str, candidates: Sequence[str], company: str, limit: int
    ) -> list[str]:
        """The first `limit` of these teammates, in order, whose limits allow an ask now."""
        free: list[str] = []
        for user_id in candidates:
            if await self.pacing_problems(team_id, user_id, company):
                continue
            free.append(user_id)
            if len(free) == limit:
                break
        return free

    # --- account owners ------------------------------------------------------------------

    async def set_account_owner(self, team_id: str, company: str, owner_id: str) -> None:
        """The company's owner, under every spelling the team merged with it (kept on its
        canonical key, which routing reads first)."""
        async with self._sessions.begin() as session:
            firm = await self.companies.resolve(team_id, company, session=session)
            await session.merge(
                AccountOwner(
                    team_id=team_id,
                    company_key=firm.canonical,
                    company=company.strip(),
                    owner_id=owner_id,
                )
            )
