"""Every path after a no: who to ask next, re-asks linked, going in cold, and the funnel."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.intro.attribution import Attribution
from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.directory import Directory
from bot.intro.people import Teammate
from bot.intro.states import Action, IllegalTransition, Status
from bot.intro.validation import RequestDraft
from bot.intro.workflow import (
    DuplicateSubmission,
    IntroWorkflow,
    NotYourRequest,
    UnknownRequest,
)
from bot.rendering import messages
from storage.db import create_engine_for, make_sessionmaker
from storage.models import ConnectorPrefs, MessageKind, OutboundMessage

TEAM = "T1"
REQUESTER = Teammate("UR", "Riya Patel", title="Partnerships", email="riya@example.com")
BLURB = "Hi Jane, Carlos kindly offered to introduce us. I run partnerships. Open to a call?"


@dataclass
class Rig:
    directory: Directory
    workflow: IntroWorkflow
    attribution: Attribution
    clock: ManualClock

    async def ask(
        self, connector: str, target: str = "Jane Doe", previous: int | None = None
    ) -> int:
        draft = RequestDraft(
            requester=REQUESTER,
            connector=Teammate(connector),
            target_name=target,
            target_company="Acme",
            reason="Acme is expanding into Europe.",
            blurb=BLURB,
            previous_request_id=previous,
        )
        return (await self.workflow.submit(TEAM, draft, [])).request.id

    async def act(self, request_id: int, actor: str, action: Action, **kw: str) -> None:
        await self.workflow.act(TEAM, request_id, actor, action, **kw)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    engine = create_engine_for(database_url)
    sessions = make_sessionmaker(engine)
    clock = ManualClock()
    yield Rig(
        Directory(sessions, clock), IntroWorkflow(sessions, clock), Attribution(sessions), clock
    )
    await engine.dispose()


async def _notices(rig: Rig, request_id: int) -> list[OutboundMessage]:
    async with rig.workflow._sessions() as session:
        rows = await session.scalars(
            select(OutboundMessage).where(
                OutboundMessage.request_id == request_id,
                OutboundMessage.kind == MessageKind.NOTICE,
            )
        )
        return list(rows)


async def test_next_paths_rank_suggestions_then_past_intros_and_leave_out_who_cannot_help(
    rig: Rig,
) -> None:
    d = rig.directory
    for owner, closeness in (
        ("UA", "close"),
        ("UB", "know_well"),
        ("UD", "close"),
        ("UC", "close"),
    ):
        await d.add_contact(TEAM, owner, ContactInput("Jane Doe", "Acme", closeness=closeness))
    # UB is over their limit; UD was asked for Jane before and declined.
    await d.save_prefs(ConnectorPrefs(team_id=TEAM, user_id="UB", max_open=0, blocked_companies=[]))
    declined = await rig.ask("UD")
    await rig.act(declined, "UD", Action.DECLINE)
    # UE introduced someone at Acme before: a path after the directory's suggestions.
    earlier = await rig.workflow.submit(
        TEAM,
        RequestDraft(Teammate("UX"), Teammate("UE"), "John Roe", "Acme", "r", "b"),
        [],
    )
    await rig.act(earlier.request.id, "UE", Action.ACCEPT)
    await rig.act(earlier.request.id, "UE", Action.TARGET_AGREED)

    stalled = await rig.ask("UC")
    request = await rig.workflow.get(TEAM, stalled)
    assert request is not None
    introduced = await rig.workflow.secondary_connectors(request, limit=10)
    assert await d.next_paths(request, introduced) == ["UA", "UE"]
    assert await d.already_asked(TEAM, "UR", "jane doe") == {"UC", "UD"}


async def test_only_the_requester_follows_up_a_request_and_only_from_a_dead_end(
    rig: Rig,
) -> None:
    workflow = rig.workflow
    first = await rig.ask("UC")
    await rig.act(first, "UC", Action.ACCEPT)
    with pytest.raises(IllegalTransition) as under_way:  # the connector is on it
        await workflow.earlier_request(TEAM, first, "UR")
    assert under_way.value.status == Status.CHECKING_WITH_TARGET
    await rig.act(first, "UC", Action.TARGET_DECLINED)
    with pytest.raises(IllegalTransition) as final:  # the person's own no leads nowhere
        await workflow.earlier_request(TEAM, first, "UR")
    assert final.value.status == Status.TARGET_DECLINED
    first = await rig.ask("UD", target="John Roe")
    await rig.act(first, "UD", Action.DECLINE)
    assert (await workflow.earlier_request(TEAM, first, "UR")).id == first
    with pytest.raises(NotYourRequest) as theirs:
        await workflow.earlier_request(TEAM, first, "UX")
    assert theirs.value.party_id == "UR"
    with pytest.raises(UnknownRequest):
        await workflow.earlier_request(TEAM, first + 1000, "UR")
    with pytest.raises(IllegalTransition):  # a suggestion is followed only from a redirect
        await workflow.earlier_request(TEAM, first, "UR", at=Status.REDIRECTED)


async def test_a_re_ask_after_a_decline_is_linked_and_not_stopped_as_a_duplicate(rig: Rig) -> None:
    first = await rig.ask("UC")
    await rig.act(first, "UC", Action.DECLINE)
    review = await rig.directory.review_ask(TEAM, "UR", "UA", "Jane Doe", "Acme", replaces_id=first)
    assert review.mine is None
    second = await rig.ask("UA", previous=first)
    request = await rig.workflow.get(TEAM, second)
    assert request is not None and request.previous_request_id == first
    # A third ask while the second is open is a duplicate again.
    third = await rig.directory.review_ask(TEAM, "UR", "UB", "Jane Doe", "Acme", replaces_id=first)
    assert third.mine is not None and third.mine.id == second


async def test_a_re_ask_links_only_the_requesters_own_request(rig: Rig) -> None:
    theirs = (
        await rig.workflow.submit(
            TEAM, RequestDraft(Teammate("UX"), Teammate("UC"), "Jane Doe", "", "r", "b"), []
        )
    ).request.id
    mine = await rig.ask("UA", previous=theirs)
    request = await rig.workflow.get(TEAM, mine)
    assert request is not None and request.previous_request_id is None
    stored = await rig.workflow.get(TEAM, theirs)
    assert stored is not None and stored.status == Status.AWAITING_CONNECTOR


async def test_going_cold_after_a_decline_records_a_linked_cold_approach_once(rig: Rig) -> None:
    first = await rig.ask("UC")
    await rig.act(first, "UC", Action.DECLINE)
    outcome = await rig.workflow.go_cold(TEAM, REQUESTER, previous_request_id=first)
    cold = outcome.request
    assert cold.status == Status.WENT_COLD and cold.went_cold_at is not None
    assert cold.previous_request_id == first and cold.connector_id == ""
    assert (cold.target_name, cold.reason, cold.blurb) == (
        "Jane Doe",
        "Acme is expanding into Europe.",
        BLURB,
    )
    [notice] = await _notices(rig, cold.id)
    assert notice.recipient_id == "UR" and notice.data == {"event": "went_cold"}
    assert notice.id in outcome.message_ids
    with pytest.raises(DuplicateSubmission) as again:
        await rig.workflow.go_cold(TEAM, REQUESTER, previous_request_id=first)
    assert again.value.request.id == cold.id
    # Its outcome is reported like an intro's; nobody is thanked, there was no connector.
    await rig.act(cold.id, "UR", Action.REPORT_MEETING_HELD)
    met = await rig.workflow.get(TEAM, cold.id)
    assert met is not None and met.status == Status.MEETING_HELD
    assert [n.data["event"] for n in await _notices(rig, cold.id)] == ["went_cold"]


async def test_going_cold_withdraws_a_stalled_ask_and_is_refused_after_an_intro(rig: Rig) -> None:
    stalled = await rig.ask("UC")
    await rig.workflow.go_cold(TEAM, REQUESTER, previous_request_id=stalled)
    withdrawn = await rig.workflow.get(TEAM, stalled)
    assert withdrawn is not None and withdrawn.status == Status.REROUTED

    made = await rig.ask("UA", target="John Roe")
    await rig.act(made, "UA", Action.ACCEPT)
    await rig.act(made, "UA", Action.TARGET_AGREED)
    with pytest.raises(IllegalTransition):
        await rig.workflow.go_cold(TEAM, REQUESTER, previous_request_id=made)


async def test_going_cold_from_the_form_needs_no_connector(rig: Rig) -> None:
    draft = RequestDraft(
        REQUESTER, None, "Bo Lee", "Globex", "Why them.", BLURB, submission_key="cold:V1"
    )
    cold = (await rig.workflow.go_cold(TEAM, REQUESTER, draft)).request
    assert cold.status == Status.WENT_COLD and cold.previous_request_id is None
    assert cold.connector_id == "" and cold.target_company == "Globex"


async def test_no_response_is_a_dead_end_the_requester_hears_of(rig: Rig) -> None:
    made = await rig.ask("UA")
    await rig.act(made, "UA", Action.ACCEPT)
    await rig.act(made, "UA", Action.TARGET_AGREED)
    await rig.act(made, "UR", Action.REPORT_NO_RESPONSE)
    notices = {(n.recipient_id, n.data["event"]) for n in await _notices(rig, made)}
    # The first "No response" for a person offers a second voice; "no response" thanks nobody.
    assert ("UR", "secondary_offer") in notices
    assert not [event for who, event in notices if who == "UA"]
    cold = (await rig.workflow.go_cold(TEAM, REQUESTER, previous_request_id=made)).request
    assert cold.previous_request_id == made


async def test_the_funnel_counts_a_person_once_with_re_asks_and_cold_approaches_apart(
    rig: Rig,
) -> None:
    # Jane: UC declines; the re-ask to UA gets the intro and a meeting.
    jane = await rig.ask("UC")
    await rig.act(jane, "UC", Action.DECLINE)
    jane_again = await rig.ask("UA", previous=jane)
    await rig.act(jane_again, "UA", Action.ACCEPT)
    await rig.act(jane_again, "UA", Action.TARGET_AGREED)
    await rig.act(jane_again, "UR", Action.REPORT_MEETING_HELD)
    # John: UA passes; the requester goes in cold and gets a meeting.
    john = await rig.ask("UA", target="John Roe")
    await rig.act(john, "UA", Action.DECLINE)
    john_cold = (await rig.workflow.go_cold(TEAM, REQUESTER, previous_request_id=john)).request
    await rig.act(john_cold.id, "UR", Action.REPORT_CLOSED_WON)
    # Bo: nobody knows him; straight in cold from the form.
    draft = RequestDraft(REQUESTER, None, "Bo Lee", "", "Why.", BLURB, submission_key="cold:V2")
    await rig.workflow.go_cold(TEAM, REQUESTER, draft)

    report = await rig.attribution.report(TEAM, viewer="UR")
    expected = {
        "requested": 2,  # Jane and John, each once
        "accepted": 1,
        "intro_made": 1,
        "meeting": 1,
        "opportunity": 0,
        "won": 0,
        "name_mentioned": 0,
        "lost": 0,
        "no_response": 0,
        "target_declined": 0,
        "connector_declined": 2,  # every warm ask a connector passed on, re-asked or not
        "re_asks": 1,
        "better_person": 0,
        "went_cold": 2,
        "cold_meeting": 1,
        "cold_opportunity": 1,
        "cold_won": 1,
    }
    assert report.workspace.counts == expected
    assert report.by_requester["UR"].counts == expected
    # Each connector's own asks count as they were given; cold approaches are nobody's.
    assert report.by_connector["UC"].counts["requested"] == 1
    assert report.by_connector["UA"].counts["requested"] == 2
    assert "" not in report.by_connector

    exported = await rig.attribution.export_csv(TEAM, {})
    rows = list(csv.DictReader(io.StringIO(exported)))
    paths = [(r["First Name"], r["Approach"], r["Lead Source"]) for r in rows]
    assert paths == [
        ("Jane", "warm", "Warm Introduction"),
        ("Jane", "re-ask", "Warm Introduction"),
        ("John", "warm", "Warm Introduction"),
        ("John", "cold", "Cold Outreach"),
        ("Bo", "cold", "Cold Outreach"),
    ]
    assert rows[1]["Previous Request ID"] == str(jane)
    assert rows[3]["Previous Request ID"] == str(john) and rows[3]["Referred By"] == ""


async def test_stats_and_home_show_re_asks_and_cold_approaches(rig: Rig) -> None:
    jane = await rig.ask("UC")
    await rig.act(jane, "UC", Action.DECLINE)
    await rig.ask("UA", previous=jane)
    cold = (await rig.workflow.go_cold(TEAM, REQUESTER, previous_request_id=jane)).request
    await rig.act(cold.id, "UR", Action.REPORT_MEETING_HELD)

    report = await rig.attribution.report(TEAM, viewer="UR")
    mine = messages.stats(report, "UR").blocks[1]["text"]["text"]
    assert "Requested *1*" in mine
    assert "Asked someone else after a no *1*" in mine
    assert "Went in cold *1* → Meeting *1* → Opportunity *0* → Won *0*" in mine

    requests = await rig.workflow.requests_by(TEAM, "UR")
    home = json.dumps(messages.home_view(requests, [], first_time=False))
    assert "<@>" not in home  # a cold approach has no connector to name
    assert "via <@UA>" in home  # the re-ask still names its connector
