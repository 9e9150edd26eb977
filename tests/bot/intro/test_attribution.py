"""The funnel on a known dataset, and the CRM export read back with the csv module."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.intro.attribution import Attribution, Report
from bot.intro.clock import ManualClock
from bot.intro.states import Action
from bot.intro.validation import RequestDraft, Teammate
from bot.intro.workflow import IntroWorkflow
from bot.rendering import messages
from storage.db import create_engine_for, make_sessionmaker

TEAM = "T1"


@pytest.fixture
async def report_and_export(database_url: str) -> AsyncIterator[tuple[Report, str]]:
    """Four asks: two won by C1 (meeting, closed-won), one declined and one silent at C2."""
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    workflow = IntroWorkflow(sessions, clock)

    async def ask(connector: str, target: str) -> int:
        draft = RequestDraft(
            requester=Teammate("UR", "Riya Patel"),
            connector=Teammate(connector),
            target_name=target,
            target_company='=HYPERLINK("x")',  # must not become a formula in a spreadsheet
            reason="r",
            blurb="b",
        )
        return (await workflow.submit(TEAM, draft, [])).request.id

    async def step(request_id: int, actor: str, action: Action, hours: float, **kw: str) -> None:
        clock.advance(timedelta(hours=hours))
        await workflow.act(TEAM, request_id, actor, action, **kw)

    r1, r2 = await ask("C1", "Jane Doe"), await ask("C1", "John Roe")
    r3, _r4 = await ask("C2", "Ann Poe"), await ask("C2", "Bo Lee")
    await step(r1, "C1", Action.ACCEPT, 2)
    await step(r2, "C1", Action.ACCEPT, 2)  # 4 h after it was asked
    await step(r3, "C2", Action.ACCEPT, 2)  # 6 h
    await step(r1, "C1", Action.TARGET_AGREED, 20)  # 24 h after accepting
    await step(r2, "C1", Action.TARGET_AGREED, 24)  # 46 h
    await step(r3, "C2", Action.TARGET_DECLINED, 1)
    await step(r1, "UR", Action.REPORT_OUTCOME, 100, outcome="meeting_held")  # 125 h on
    await step(r2, "UR", Action.REPORT_OUTCOME, 100, outcome="closed_won")  # 201 h on
    attribution = Attribution(sessions)
    report = await attribution.report(TEAM, viewer="UR")
    exported = await attribution.export_csv(TEAM, {"C1": "Carlos Mendes", "UR": "Riya Patel"})
    yield report, exported
    await engine.dispose()


def test_workspace_funnel(report_and_export: tuple[Report, str]) -> None:
    funnel = report_and_export[0].workspace
    assert funnel.counts == {
        "requested": 4,
        "accepted": 3,
        "intro_made": 2,
        "meeting": 2,
        "opportunity": 1,
        "won": 1,
        "name_mentioned": 0,
        "re_asks": 0,
        "went_cold": 0,
        "cold_meeting": 0,
        "cold_opportunity": 0,
        "cold_won": 0,
    }
    assert funnel.rate("accepted") == 0.75
    assert funnel.rate("opportunity") == 0.5
    assert funnel.rate("requested") is None
    assert funnel.median_hours("request_to_accept") == 4.0
    assert funnel.median_hours("accept_to_intro") == 35.0
    assert funnel.median_hours("intro_to_outcome") == 163.0  # (125 + 201) / 2


def test_per_connector_and_thanks(report_and_export: tuple[Report, str]) -> None:
    report = report_and_export[0]
    assert report.by_connector["C1"].counts["won"] == 1
    assert report.by_connector["C2"].counts == {
        "requested": 2,
        "accepted": 1,
        "intro_made": 0,
        "meeting": 0,
        "opportunity": 0,
        "won": 0,
        "name_mentioned": 0,
        "re_asks": 0,
        "went_cold": 0,
        "cold_meeting": 0,
        "cold_opportunity": 0,
        "cold_won": 0,
    }
    assert report.by_requester["UR"].counts["requested"] == 4
    assert report.thanked == [("C1", 2)]
    # Median times are kept where the stats message shows them: the workspace, the viewer.
    assert report.by_requester["UR"].median_hours("intro_to_outcome") == 163.0
    assert report.by_connector["C1"].medians == {}


def test_export_reads_back_as_crm_rows(report_and_export: tuple[Report, str]) -> None:
    rows = list(csv.DictReader(io.StringIO(report_and_export[1])))
    assert len(rows) == 4
    first = rows[0]
    assert (first["First Name"], first["Last Name"]) == ("Jane", "Doe")
    assert first["Lead Source"] == "Warm Introduction"
    assert first["Referred By"] == "Carlos Mendes" and first["Referred By Slack ID"] == "C1"
    assert first["Outcome"] == "meeting_held" and first["Status"] == "closed"
    assert first["Requested Date"] == "2026-01-05" and first["Intro Date"] == "2026-01-06"
    assert first["Company"].startswith("'=")  # neutralised formula
    assert rows[3]["Accepted Date"] == "" and rows[3]["Status"] == "awaiting_connector"


async def test_mention_my_name_is_its_own_outcome_in_the_funnel_and_export(
    database_url: str,
) -> None:
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    workflow = IntroWorkflow(sessions, ManualClock())
    ids = []
    for target in ("Jane Doe", "John Roe"):
        draft = RequestDraft(
            requester=Teammate("UR", "Riya Patel"),
            connector=Teammate("C1", "Carlos Mendes"),
            target_name=target,
            target_company="Acme",
            reason="r",
            blurb="b",
        )
        ids.append((await workflow.submit(TEAM, draft, [])).request.id)
    await workflow.act(TEAM, ids[0], "C1", Action.MENTION_NAME)
    await workflow.act(TEAM, ids[1], "C1", Action.ACCEPT)
    attribution = Attribution(sessions)
    report = await attribution.report(TEAM)
    for funnel in (report.workspace, report.by_connector["C1"], report.by_requester["UR"]):
        assert funnel.counts["name_mentioned"] == 1
        assert funnel.counts["accepted"] == 1 and funnel.counts["requested"] == 2
    stats = messages.stats(report, "UR")
    assert "Mentioned a name instead *1*" in stats.blocks[1]["text"]["text"]
    rows = list(csv.DictReader(io.StringIO(await attribution.export_csv(TEAM, {}))))
    assert [(r["Status"], r["Outcome"]) for r in rows] == [
        ("name_mentioned", "name_mentioned"),
        ("checking_with_target", ""),
    ]
    await engine.dispose()
