"""The manager's section of the Home tab, on the fullest Home tab there is: still within
Slack's 100 blocks, with the numbers always kept; and names a team's members typed with
mrkdwn in them only as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.delivery.webhooks import WebhookState
from bot.intro.attribution import Funnel, Report
from bot.intro.contacts import CONTACTS_PAGE, ContactPage
from bot.intro.states import Status
from bot.intro.teams import ConnectorLoad, Coverage, Members, OpenAsk, Team, TeamView, stuck_asks
from bot.rendering import messages
from bot.rendering.charts import chart_data
from bot.rendering.templating import trusted_mrkdwn
from handlers.team_view import ManagerView, with_team
from storage.models import Contact
from tests.bot.rendering.test_templating import (
    HOSTILE,
    assert_valid_view,
    fullest_crm,
    make_request,
)

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _view(stuck: int = 12) -> TeamView:
    asks = [
        OpenAsk(
            request_id=i,
            requester_id="U0RIYA",
            status=Status.AWAITING_CONNECTOR,
            since=NOW - timedelta(days=8 + i),
            connector_id="U0CARLOS",
            target_company=HOSTILE,
        )
        for i in range(stuck)
    ]
    funnel = Funnel()
    funnel.counts["requested"] = 12
    return TeamView(
        Team("U0OLIVIA", ("U0RIYA",), (("S0EAST", HOSTILE),)),
        Members({"U0RIYA", "U0SAM"}, [HOSTILE]),
        Report(funnel, {}, {}, []),
        Coverage(20, 14),
        stuck_asks(asks, NOW),
        [ConnectorLoad("U0CARLOS", 12, 3, 4)],
    )


def _fullest_home() -> dict:
    shown = messages.HOME_REQUESTS
    mine = [make_request(Status.AWAITING_CONNECTOR, id=i) for i in range(1, shown + 1)]
    waiting = [make_request(Status.CHECKING_WITH_TARGET, id=100 + i) for i in range(shown)]
    contacts = [
        Contact(id=n, name=HOSTILE, company=HOSTILE, title=HOSTILE, closeness="close")
        for n in range(CONTACTS_PAGE)
    ]
    page = ContactPage(contacts, matching=35, total=40, page=1, search="x")
    return messages.home_view(
        mine,
        waiting,
        first_time=True,
        notice_text="hello",
        contact_page=page,
        funnel=trusted_mrkdwn("*Your funnel*"),
        webhook=WebhookState("https://hooks.example.com/x", False, "sent", None, None),
        crm=fullest_crm(),
    )


def test_the_team_section_fits_the_fullest_home_tab_and_keeps_its_numbers() -> None:
    view = _view()
    home = with_team(_fullest_home(), ManagerView(view, chart_data(view), "F0CHART"))
    assert_valid_view(home)
    ids = [b.get("block_id") for b in home["blocks"]]
    assert len(ids) <= 100 and "team_funnel" in ids and "team_asks" in ids
    assert {"webhook", "crm", "crm_actions"} <= set(ids)
    asks = next(b for b in home["blocks"] if b.get("block_id") == "team_asks")["text"]["text"]
    assert asks.count("•") == 10 + 1 and "…and 2 more" in asks  # ten stuck, one connector
    assert "&lt;!channel&gt;" in asks and "<!channel>" not in asks


def test_on_a_roomy_home_tab_the_team_section_has_its_chart_and_members() -> None:
    view = _view(stuck=0)
    home = with_team(
        messages.home_view([], [], first_time=False), ManagerView(view, chart_data(view), "F0CHART")
    )
    assert_valid_view(home)
    chart = next(b for b in home["blocks"] if b.get("block_id") == "team_chart")
    assert chart["slack_file"] == {"id": "F0CHART"} and "14 of 20" in chart["alt_text"]
    members = next(b for b in home["blocks"] if b.get("block_id") == "team_members")
    text = members["elements"][0]["text"]
    assert text.startswith("<@U0RIYA>, @&lt;!channel&gt;") and "2 people" in text
    assert "couldn't read who is in @&lt;!channel&gt;" in text
