"""Which connectors source meetings and deals: the funnel, its timings, and the CRM export."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Label,
    Row,
    case,
    exists,
    func,
    literal,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.intro.states import OfferStatus, Outcome, Status
from storage.db import reading
from storage.models import IntroOffer, IntroRequest, RequestEvent

STAGES = ["requested", "accepted", "intro_made", "meeting", "opportunity", "won"]
# An outcome beside the funnel, not a step of it: the connector let the requester use their name.
NAME_MENTIONED = "name_mentioned"
# Beside the funnel too: asks that followed a dead end for the same person (the person is
# counted once, at their first ask), and cold approaches with how they went.
RE_ASKS = "re_asks"
# Beside it: asks whose connector pointed to a better person than the one asked for (the ask
# for that person, if made, follows it: one account, two paths).
BETTER_PERSON = "better_person"
COLD = ["went_cold", "cold_meeting", "cold_opportunity", "cold_won"]
# Ends beside the funnel too: a deal lost, and targets who never answered (so far).
LOST = "lost"
NO_RESPONSE = "no_response"
# And the two kinds of no, apart: the person said no (final), or the connector passed (another
# path may work). Every warm ask that ended so counts, re-asks too.
TARGET_DECLINED = "target_declined"
CONNECTOR_DECLINED = "connector_declined"
COUNTED = [
    *STAGES,
    NAME_MENTIONED,
    LOST,
    NO_RESPONSE,
    TARGET_DECLINED,
    CONNECTOR_DECLINED,
    RE_ASKS,
    BETTER_PERSON,
    *COLD,
]
# Where a request the connector lent their name to may be: as lent, then each outcome reported.
NAME_USED_STATUSES = [
    Status.NAME_MENTIONED,
    Status.MEETING_HELD,
    Status.OPPORTUNITY,
    Status.NO_RESPONSE,
    Status.CLOSED,
]
_STAGE_DATES = (
    IntroRequest.meeting_at,
    IntroRequest.opportunity_at,
    IntroRequest.won_at,
    IntroRequest.lost_at,
)
# Rows read from the database at a time (the export).
PARTITION = 2000


@dataclass
class Funnel:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTED, 0))
    # step -> median hours, where the stats message shows them (the workspace, the viewer).
    medians: dict[str, float] = field(default_factory=dict)

    def rate(self, stage: str) -> float | None:
        """Conversion from the stage before."""
        index = STAGES.index(stage)
        before = self.counts[STAGES[index - 1]] if index else 0
        return self.counts[stage] / before if index and before else None

    def median_hours(self, step: str) -> float | None:
        value = self.medians.get(step)
        return None if value is None else round(value, 1)


@dataclass
class Report:
    workspace: Funnel
    # By connector: a teammate's Slack id, or for a connector outside the team `outside_key`.
    by_connector: dict[str, Funnel]
    by_requester: dict[str, Funnel]
    thanked: list[tuple[str, int]]  # connectors whose intros got an outcome reported
    # Intros connectors offered unasked, and how many the teammate took.
    offered: int = 0
    offers_taken: int = 0
    # The names of the connectors outside the team among `by_connector`, by their key.
    outside_names: dict[str, str] = field(default_factory=dict)


# A connector outside the team, counted by their email (one person, however their name was
# typed); one whose requester had introbot forget them is counted as "outside:".
OUTSIDE_PREFIX = "outside:"


def is_outside_key(connector: str) -> bool:
    return connector.startswith(OUTSIDE_PREFIX)


def _connector_key() -> ColumnElement[Any]:
    """Who a request's connector is, for counting: their Slack id, or for a connector
    outside the team `outside:` and their email."""
    return case(
        (
            IntroRequest.connector_outside.is_(True),
            literal(OUTSIDE_PREFIX) + IntroRequest.connector_email,
        ),
        else_=IntroRequest.connector_id,
    ).label("connector_id")


def _scope(
    team_id: str, user_id: str | None, requesters: Collection[str] | None = None
) -> ColumnElement[bool]:
    """The workspace's requests; one person's (as requester or connector); or those a group
    of people asked for (a manager's team)."""
    scope = IntroRequest.team_id == team_id
    if user_id is not None:
        scope &= (IntroRequest.requester_id == user_id) | (IntroRequest.connector_id == user_id)
    if requesters is not None:
        scope &= IntroRequest.requester_id.in_(sorted(requesters))
    return scope


def _accepted_at() -> Label[Any]:
    """When the connector first accepted: the request's own events, by their index."""
    return (
        select(func.min(RequestEvent.at))
        .where(
            RequestEvent.request_id == IntroRequest.id,
            RequestEvent.to_status == Status.CHECKING_WITH_TARGET,
        )
        .correlate(IntroRequest)
        .scalar_subquery()
        .label("accepted_at")
    )


def _followed_by_a_warm_ask() -> Label[Any]:
    """1 where the requester asked someone else for the same person after this request."""
    later = aliased(IntroRequest)
    followed = exists().where(
        later.previous_request_id == IntroRequest.id, later.went_cold_at.is_(None)
    )
    return case((followed, 1), else_=0).label("superseded")


def _previous_status() -> Label[Any]:
    """Where the request this one follows ended: a better person named there makes this ask
    the better person's."""
    previous = aliased(IntroRequest)
    return (
        select(previous.status)
        .where(previous.id == IntroRequest.previous_request_id)
        .correlate(IntroRequest)
        .scalar_subquery()
        .label("previous_status")
    )


def _approach(request: Row[Any]) -> str:
    """How the requester went about it: warm, a re-ask after a dead end, the better person a
    connector named instead, or cold."""
    if request.went_cold_at is not None:
        return "cold"
    if request.previous_request_id is None:
        return "warm"
    return "better person" if request.previous_status == Status.REDIRECTED_TO_PERSON else "re-ask"


def _reached(base: CTE, *, per_path: bool) -> list[ColumnElement[Any]]:
    """How many reached each stage (COUNTED's order), then how many had an outcome the
    connector was thanked for.

    Per person or workspace, a person asked for twice is one ask, and so is an account whose
    connector pointed to a better person there: counted where first asked ("requested"), at
    the stages the latest warm path reached, and once more as a re-ask.
    Per connector (`per_path`) each ask they were given counts. Cold approaches count apart."""
    warm = base.c.went_cold_at.is_(None)
    cold = base.c.went_cold_at.is_not(None)
    counted = warm if per_path else warm & (base.c.superseded == 0)
    first = warm if per_path else warm & base.c.previous_request_id.is_(None)
    # A later stage implies the earlier ones, reported or not: a deal won or lost was an
    # opportunity, and an opportunity came of a meeting.
    opportunity = func.coalesce(base.c.opportunity_at, base.c.won_at, base.c.lost_at)
    meeting = func.coalesce(base.c.meeting_at, opportunity)

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.count(case((condition, 1)))

    # The stages after an intro; reaching out with the connector's name instead (no intro)
    # is counted beside the funnel, whatever came of it.
    introduced = counted & base.c.intro_made_at.is_not(None)
    name_used = counted & base.c.intro_made_at.is_(None) & base.c.status.in_(NAME_USED_STATUSES)
    return [
        count(first),
        count(counted & base.c.accepted_at.is_not(None)),
        count(introduced),
        count(introduced & meeting.is_not(None)),
        count(introduced & opportunity.is_not(None)),
        count(introduced & base.c.won_at.is_not(None)),
        count(name_used),
        count(introduced & base.c.lost_at.is_not(None)),
        count(introduced & (base.c.status == Status.NO_RESPONSE)),
        count(warm & (base.c.status == Status.TARGET_DECLINED)),
        count(warm & (base.c.status == Status.CONNECTOR_DECLINED)),
        count(warm & base.c.previous_request_id.is_not(None)),
        count(warm & (base.c.status == Status.REDIRECTED_TO_PERSON)),
        count(cold),
        count(cold & meeting.is_not(None)),
        count(cold & opportunity.is_not(None)),
        count(cold & base.c.won_at.is_not(None)),
        # The connector was thanked for each outcome but "no response".
        count(warm & (base.c.outcome != Outcome.NO_RESPONSE)),
    ]


def _stage_counts(base: CTE) -> CompoundSelect[Any]:
    """Per connector, per requester and for the whole scope: how many reached each stage."""
    by_person = _reached(base, per_path=False)
    return union_all(
        select(literal("connector"), base.c.connector_id, *_reached(base, per_path=True)).group_by(
            base.c.connector_id
        ),
        select(literal("requester"), base.c.requester_id, *by_person).group_by(base.c.requester_id),
        select(literal("workspace"), literal(""), *by_person),
    )


def _steps(base: CTE, dialect: str) -> dict[str, ColumnElement[Any]]:
    """Each step's duration in hours, in SQL (NULL where the step was not reached)."""
    pairs = {
        "request_to_accept": (base.c.created_at, base.c.accepted_at),
        "accept_to_intro": (base.c.accepted_at, base.c.intro_made_at),
        "intro_to_meeting": (base.c.intro_made_at, base.c.meeting_at),
        "intro_to_won": (base.c.intro_made_at, base.c.won_at),
    }
    if dialect == "postgresql":
        return {
            step: func.extract("epoch", end - start) / 3600.0
            for step, (start, end) in pairs.items()
        }
    # SQLite keeps UTC datetimes as text, which julianday() reads.
    return {
        step: (func.julianday(end) - func.julianday(start)) * 24.0
        for step, (start, end) in pairs.items()
    }


async def _medians(
    session: AsyncSession, dialect: str, base: CTE, where: ColumnElement[bool] | None = None
) -> dict[str, float]:
    steps = _steps(base, dialect)
    if dialect == "postgresql":
        statement = select(
            *(func.percentile_cont(0.5).within_group(hours) for hours in steps.values())
        )
        if where is not None:
            statement = statement.where(where)
        found = (await session.execute(statement)).one()
        return {step: float(v) for step, v in zip(steps, found, strict=True) if v is not None}
    # SQLite has no percentile function: its (small) workspaces' durations come back to Python.
    statement = select(*steps.values())
    if where is not None:
        statement = statement.where(where)
    values: dict[str, list[float]] = {step: [] for step in steps}
    for row in await session.execute(statement):
        for step, hours in zip(steps, row, strict=True):
            if hours is not None:
                values[step].append(float(hours))
    return {step: statistics.median(found) for step, found in values.items() if found}


# The export's header row: the names CRM lead imports expect.
EXPORT_COLUMNS = (
    "Request ID",
    "First Name",
    "Last Name",
    "Company",
    "Lead Source",
    "Lead Source Detail",
    "Referred By",
    "Referred By Slack ID",
    "Requested By",
    "Requested By Slack ID",
    "Status",
    "Outcome",
    "Requested Date",
    "Accepted Date",
    "Intro Date",
    "Followed Up Date",
    "Outcome Date",
    "Approach",
    "Previous Request ID",
    "Meeting Date",
    "Opportunity Date",
    "Won Date",
    "Lost Date",
    # "yes" where the connector is outside the team (a customer, an investor, an advisor): no
    # Slack id, their name as the requester typed it.
    "Referred By Outside Team",
    # The CRM record introbot's pushes wrote for the request (a HubSpot "contact", a
    # Salesforce "Lead" or "Contact") and its id there: empty until one was pushed.
    "CRM Object Type",
    "CRM Object ID",
)


class Attribution:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _rows(self, team_id: str, user_id: str | None = None) -> AsyncIterator[Row[Any]]:
        """The columns the export needs, a partition at a time, in id order."""
        statement = (
            select(
                IntroRequest.id,
                IntroRequest.target_name,
                IntroRequest.target_company,
                IntroRequest.connector_id,
                IntroRequest.connector_outside,
                IntroRequest.connector_name,
                IntroRequest.requester_id,
                IntroRequest.requester_name,
                IntroRequest.status,
                IntroRequest.outcome,
                IntroRequest.created_at,
                IntroRequest.intro_made_at,
                IntroRequest.followed_up_at,
                IntroRequest.outcome_at,
                IntroRequest.previous_request_id,
                IntroRequest.went_cold_at,
                IntroRequest.crm_object_type,
                IntroRequest.crm_object_id,
                *_STAGE_DATES,
                _accepted_at(),
                _previous_status(),
            )
            .where(_scope(team_id, user_id))
            .order_by(IntroRequest.id)
            .execution_options(yield_per=PARTITION)
        )
        async with self._sessions() as session:
            result = await session.stream(statement)
            async for partition in result.partitions():
                for row in partition:
                    yield row  # type: ignore[misc]  # a Row; its typed-tuple stub disagrees

    async def report(
        self,
        team_id: str,
        user_id: str | None = None,
        *,
        viewer: str | None = None,
        session: AsyncSession | None = None,
        requesters: Collection[str] | None = None,
    ) -> Report:
        """The funnel for the workspace, or (with user_id) just one person's asks and intros,
        or (with requesters) the asks a team made: its funnel is the report's `workspace`.

        Counted in SQL, so a history of a million requests never comes into the process.
        Median times are given where the messages show them: for the viewer's own asks
        (`viewer`, or `user_id`), and for the whole workspace unless scoped to one person."""
        viewer = viewer or user_id
        base = (
            select(
                _connector_key(),
                IntroRequest.connector_name,
                IntroRequest.requester_id,
                IntroRequest.outcome,
                IntroRequest.status,
                IntroRequest.created_at,
                IntroRequest.intro_made_at,
                IntroRequest.outcome_at,
                IntroRequest.previous_request_id,
                IntroRequest.went_cold_at,
                *_STAGE_DATES,
                _accepted_at(),
                _followed_by_a_warm_ask(),
            )
            .where(_scope(team_id, user_id, requesters))
            .cte("base")
        )
        report = Report(Funnel(), {}, {}, [])
        thanked: Counter[str] = Counter()
        async with reading(self._sessions, session) as session:
            dialect = session.get_bind().dialect.name
            for side, person, *counts, with_outcome in await session.execute(_stage_counts(base)):
                funnel = Funnel(counts=dict(zip(COUNTED, counts, strict=True)))
                if side == "workspace":
                    report.workspace.counts = funnel.counts
                elif side == "requester":
                    report.by_requester[person] = funnel
                elif person:  # "": cold approaches, which no connector made
                    report.by_connector[person] = funnel
                    thanked[person] = with_outcome
            if user_id is None:  # one person's report (the Home tab) shows only their own
                report.workspace.medians = await _medians(session, dialect, base)
            if viewer in report.by_requester:
                report.by_requester[viewer].medians = await _medians(
                    session, dialect, base, base.c.requester_id == viewer
                )
            report.offered, report.offers_taken = await _offers(
                session, team_id, user_id, requesters
            )
            report.outside_names = await _outside_names(session, base)
        report.thanked = [(who, n) for who, n in thanked.most_common(5) if n]
        return report

    async def export_csv(self, team_id: str, names: dict[str, str]) -> str:
        """One row per request, columns named the way CRM lead imports expect."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        async for request in self._rows(team_id):
            writer.writerow(_safe_cell(value) for value in _export_row(request, names))
        return out.getvalue()


def _export_row(request: Row[Any], names: dict[str, str]) -> list[object]:
    """One request's cells, in EXPORT_COLUMNS' order; `names` maps Slack ids to names."""
    first, _, last = request.target_name.partition(" ")
    cold = request.went_cold_at is not None
    outside = bool(request.connector_outside)
    return [
        request.id,
        first,
        last,
        request.target_company,
        "Cold Outreach" if cold else "Warm Introduction",
        "introbot",
        request.connector_name
        if outside
        else names.get(request.connector_id, request.connector_id),
        request.connector_id,
        names.get(request.requester_id, request.requester_name or request.requester_id),
        request.requester_id,
        request.status,
        request.outcome or (NAME_MENTIONED if request.status == Status.NAME_MENTIONED else ""),
        _day(request.created_at),
        _day(request.accepted_at),
        _day(request.intro_made_at),
        _day(request.followed_up_at),
        _day(request.outcome_at),
        _approach(request),
        request.previous_request_id or "",
        _day(request.meeting_at),
        _day(request.opportunity_at),
        _day(request.won_at),
        _day(request.lost_at),
        "yes" if outside else "",
        request.crm_object_type or "",
        request.crm_object_id or "",
    ]


async def _outside_names(session: AsyncSession, base: CTE) -> dict[str, str]:
    """The names of the connectors outside the team in the report, by their key: the latest
    name the team typed for each."""
    latest = (
        select(base.c.connector_id, base.c.connector_name)
        .where(base.c.connector_id.startswith(OUTSIDE_PREFIX))
        .order_by(base.c.created_at)
    )
    return {key: name for key, name in await session.execute(latest) if name}


async def _offers(
    session: AsyncSession,
    team_id: str,
    user_id: str | None,
    requesters: Collection[str] | None = None,
) -> tuple[int, int]:
    """Offers made and taken: the workspace's, those one person made or was made, or those
    made to a team."""
    scope = IntroOffer.team_id == team_id
    if user_id is not None:
        scope &= (IntroOffer.connector_id == user_id) | (IntroOffer.rep_id == user_id)
    if requesters is not None:
        scope &= IntroOffer.rep_id.in_(sorted(requesters))
    offered, taken = (
        await session.execute(
            select(
                func.count(),
                func.count(case((IntroOffer.status == OfferStatus.TAKEN, 1))),
            ).where(scope)
        )
    ).one()
    return int(offered), int(taken)


def _day(moment: datetime | None) -> str:
    return moment.date().isoformat() if moment else ""


def _safe_cell(value: object) -> object:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
