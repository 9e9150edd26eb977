"""The funnel on a known dataset, and the CRM export read back with the csv module."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from bot.intro.attribution import Attribution, Report
from bot.intro.clock import ManualClock
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.intro.workflow import IntroWorkflow
from bot.rendering import messages
from storage.db import create_engine_for, make_sessionmaker
from storage.models import IntroRequest

TEAM = "T1"


@pytest.fixture
async def report_and_export(database_url: str) -> AsyncIterator[tuple[Report, str, datetime]]:
    """Five asks. C1: Jane (meeting, opportunity, closed-won) and John (meeting, closed-lost);
    C2: Ann said no, C2 passed on Bo, Cy introduced but never answered."""
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    start = clock.now()
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

    async def step(request_id: int, actor: str, action: Action, hours: float) -> None:
        clock.advance(timedelta(hours=hours))
        await workflow.act(TEAM, request_id, actor, action)

    r1, r2 = await ask("C1", "Jane Doe"), await ask("C1", "John Roe")
    r3, r4, r5 = await ask("C2", "Ann Poe"), await ask("C2", "Bo Lee"), await ask("C2", "Cy Wu")
    await step(r1, "C1", Action.ACCEPT, 2)  # t = 2 h
    await step(r2, "C1", Action.ACCEPT, 2)  # 4
    await step(r3, "C2", Action.ACCEPT, 2)  # 6
    await step(r5, "C2", Action.ACCEPT, 2)  # 8
    await step(r1, "C1", Action.TARGET_AGREED, 20)  # 28: 26 h after accepting
    await step(r2, "C1", Action.TARGET_AGREED, 24)  # 52: 48 h
    await step(r3, "C2", Action.TARGET_DECLINED, 1)  # 53
    await step(r5, "C2", Action.TARGET_AGREED, 1)  # 54: 46 h
    await step(r1, "UR", Action.REPORT_MEETING_HELD, 100)  # 154: 126 h after the intro
    await step(r2, "UR", Action.REPORT_MEETING_HELD, 100)  # 254: 202 h
    await step(r5, "UR", Action.REPORT_NO_RESPONSE, 10)  # 264
    await step(r1, "UR", Action.REPORT_OPPORTUNITY, 100)  # 364
    await step(r2, "UR", Action.REPORT_CLOSED_LOST, 100)  # 464
    await step(r1, "UR", Action.REPORT_CLOSED_WON, 100)  # 564: 536 h after the intro
    await step(r4, "C2", Action.DECLINE, 1)  # 565
    async with sessions.begin() as session:  # Jane's intro was pushed to the CRM
        await session.execute(
            update(IntroRequest)
            .where(IntroRequest.id == r1)
            .values(crm_object_type="contact", crm_object_id="90210")
        )
    attribution = Attribution(sessions)
    report = await attribution.report(TEAM, viewer="UR")
    exported = await attribution.export_csv(TEAM, {"C1": "Carlos Mendes", "UR": "Riya Patel"})
    yield report, exported, start
    await engine.dispose()


def test_workspace_funnel(report_and_export: tuple[Report, str, datetime]) -> None:
    funnel = report_and_export[0].workspace
    assert funnel.counts == {
        "requested": 5,
        "accepted": 4,
        "intro_made": 3,
        "meeting": 2,
        "opportunity": 2,  # a deal lost was an opportunity too
        "won": 1,
        "name_mentioned": 0,
        "lost": 1,
        "no_response": 1,
        "target_declined": 1,  # Ann's no, apart from the connector's
        "connector_declined": 1,
        "re_asks": 0,
        "better_person": 0,
        "went_cold": 0,
        "cold_meeting": 0,
        "cold_opportunity": 0,
        "cold_won": 0,
    }
    assert funnel.rate("accepted") == 0.8
    assert funnel.rate("won") == 0.5
    assert funnel.rate("requested") is None
    assert funnel.median_hours("request_to_accept") == 5.0
    assert funnel.median_hours("accept_to_intro") == 46.0
    assert funnel.median_hours("intro_to_meeting") == 164.0  # (126 + 202) / 2
    assert funnel.median_hours("intro_to_won") == 536.0


def test_per_connector_and_thanks(report_and_export: tuple[Report, str, datetime]) -> None:
    report = report_and_export[0]
    assert report.by_connector["C1"].counts["won"] == 1
    assert report.by_connector["C1"].counts["lost"] == 1
    assert report.by_connector["C2"].counts == {
        "requested": 3,
        "accepted": 2,
        "intro_made": 1,
        "meeting": 0,
        "opportunity": 0,
        "won": 0,
        "name_mentioned": 0,
        "lost": 0,
        "no_response": 1,
        "target_declined": 1,  # Ann's no, apart from the connector's
        "connector_declined": 1,
        "re_asks": 0,
        "better_person": 0,
        "went_cold": 0,
        "cold_meeting": 0,
        "cold_opportunity": 0,
        "cold_won": 0,
    }
    assert report.by_requester["UR"].counts["requested"] == 5
    # "No response" thanks nobody: only C1's two intros count.
    assert report.thanked == [("C1", 2)]
    # Median times are kept where the stats message shows them: the workspace, the viewer.
    assert report.by_requester["UR"].median_hours("intro_to_meeting") == 164.0
    assert report.by_connector["C1"].medians == {}
    stats = messages.stats(report, "UR").blocks[1]["text"]["text"]
    assert "Won *1* (50%)" in stats and "Lost *1*" in stats and "No response *1*" in stats
    assert "The person said no *1*" in stats and "Connector passed *1*" in stats


def test_export_reads_back_as_crm_rows(report_and_export: tuple[Report, str, datetime]) -> None:
    _report, exported, start = report_and_export

    def day(hours: int) -> str:
        return (start + timedelta(hours=hours)).date().isoformat()

    rows = list(csv.DictReader(io.StringIO(exported)))
    assert len(rows) == 5
    first = rows[0]
    assert (first["First Name"], first["Last Name"]) == ("Jane", "Doe")
    assert first["Lead Source"] == "Warm Introduction"
    assert first["Referred By"] == "Carlos Mendes" and first["Referred By Slack ID"] == "C1"
    assert first["Outcome"] == "closed_won" and first["Status"] == "closed"
    assert first["Requested Date"] == day(0) and first["Intro Date"] == day(28)
    # A column per stage, each with the day it was reported.
    assert (
        first["Meeting Date"],
        first["Opportunity Date"],
        first["Won Date"],
        first["Lost Date"],
    ) == (day(154), day(364), day(564), "")
    assert first["Outcome Date"] == day(564)
    second = rows[1]
    assert (second["Meeting Date"], second["Opportunity Date"], second["Lost Date"]) == (
        day(254),
        "",
        day(464),
    )
    assert (rows[4]["Status"], rows[4]["Outcome"], rows[4]["Meeting Date"]) == (
        "no_response",
        "no_response",
        "",
    )
    assert first["Company"].startswith("'=")  # neutralised formula
    # The CRM record the pushes wrote, where one was pushed.
    assert (first["CRM Object Type"], first["CRM Object ID"]) == ("contact", "90210")
    assert (second["CRM Object Type"], second["CRM Object ID"]) == ("", "")
    assert rows[3]["Accepted Date"] == "" and rows[3]["Status"] == "connector_declined"


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
