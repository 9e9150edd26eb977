"""A manager's view through Slack: an admin names a team (people or a user group), and the
manager sees its funnel, accounts, stuck asks and busiest connectors, with a chart, on their
Home tab and with `/intro stats team`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.intro.clock import ManualClock
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import CONNECTOR, OTHER, REQUESTER, SECOND, press, request_intro

ADMIN = "U0ADMIN"
MANAGER = OTHER  # Olivia manages Riya (the requester) and Sam
TEAM = "T0FAKE"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def command(stack: LocalStack, user: str, text: str) -> str:
    """The answer the person reads: the ack's text, or the message sent after it."""
    assert stack.slack is not None
    before = len(stack.fake.responses)
    status, body = await stack.slack.command(
        payloads.slash_command(
            user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
        )
    )
    assert status == 200
    if body:
        return body
    await stack.until(lambda: len(stack.fake.responses) > before, "the answer")
    return str(stack.fake.responses[-1]["body"]["text"])


async def open_home(stack: LocalStack, user: str) -> dict[str, Any]:
    assert stack.slack is not None
    before = sum(1 for c in stack.fake.calls_to("views.publish") if c.args["user_id"] == user)
    await stack.slack.event(payloads.app_home_opened(user))
    await stack.until(
        lambda: (
            sum(1 for c in stack.fake.calls_to("views.publish") if c.args["user_id"] == user)
            > before
            and user in stack.fake.home_views
        ),
        "home",
    )
    await stack.settled()
    return stack.fake.home_views[user]


def block(view: dict[str, Any], block_id: str) -> dict[str, Any] | None:
    return next((b for b in view["blocks"] if b.get("block_id") == block_id), None)


def text_of(view: dict[str, Any], block_id: str) -> str:
    found = block(view, block_id)
    assert found is not None, f"no {block_id} in {json.dumps(view)[:400]}"
    return str(found["text"]["text"])


def members_of(view: dict[str, Any]) -> str:
    found = block(view, "team_members")
    assert found is not None
    return str(found["elements"][0]["text"])


async def test_an_admin_names_shows_lists_and_removes_a_team(stack: LocalStack) -> None:
    named = f"team <@{MANAGER}|olivia> <@{REQUESTER}|riya> <@{SECOND}|sam>"
    assert "Only workspace admins" in await command(stack, REQUESTER, named)
    answer = await command(stack, ADMIN, named)
    assert f"<@{MANAGER}>'s team is now <@{REQUESTER}>, <@{SECOND}>." in answer
    assert "`/intro stats team`" in answer
    assert f"<@{MANAGER}>: <@{REQUESTER}>, <@{SECOND}>" in await command(stack, ADMIN, "team")
    shown = await command(stack, ADMIN, f"team <@{MANAGER}>")
    assert f"<@{MANAGER}>'s team: <@{REQUESTER}>, <@{SECOND}>." in shown
    refused = await command(stack, ADMIN, f"team <@{MANAGER}> <@U0SOMEBOT|deploy>")
    assert "<@U0SOMEBOT> isn't an active teammate" in refused
    usage = await command(stack, ADMIN, "team olivia riya")
    assert usage.startswith("`/intro team @maria @riya @sam` names @maria a manager")
    removed = await command(stack, ADMIN, f"team remove <@{MANAGER}>")
    assert f"<@{MANAGER}> no longer has a team" in removed
    assert "No teams yet" in await command(stack, ADMIN, "team")


async def test_a_team_named_by_user_group_follows_the_groups_members(
    stack: LocalStack,
) -> None:
    stack.fake.add_usergroup("S0EAST", "sales-east", [REQUESTER])
    unknown = await command(stack, ADMIN, f"team <@{MANAGER}> <!subteam^S0WEST|@sales-west>")
    assert "can't find the user group @sales-west" in unknown
    answer = await command(stack, ADMIN, f"team <@{MANAGER}|olivia> <!subteam^S0EAST|@sales-east>")
    assert "is now @sales-east (the group's members as Slack has them" in answer
    await request_intro(stack)
    home = await open_home(stack, MANAGER)
    assert members_of(home) == "@sales-east · 1 person"
    assert "Requested *1*" in text_of(home, "team_funnel")
    # The group changes in Slack: the team follows it.
    stack.fake.usergroups["S0EAST"]["users"] = [SECOND, CONNECTOR]
    home = await open_home(stack, MANAGER)
    assert members_of(home) == "@sales-east · 2 people"
    assert "Requested *0*" in text_of(home, "team_funnel")
    calls = stack.fake.calls_to("usergroups.users.list")
    assert [(c.args["usergroup"], c.ok) for c in calls] == [("S0WEST", False)] + [
        ("S0EAST", True)
    ] * (len(calls) - 1)


async def test_a_managers_home_shows_the_team_with_a_chart_and_a_reps_does_not(
    stack: LocalStack,
) -> None:
    await command(stack, ADMIN, f"team <@{MANAGER}> <@{REQUESTER}> <@{SECOND}>")
    card = await request_intro(stack)
    home = await open_home(stack, MANAGER)
    assert any(b.get("text", {}).get("text") == "Your team" for b in home["blocks"])
    chart = block(home, "team_chart")
    assert chart is not None and chart["type"] == "image"
    file_id = chart["slack_file"]["id"]
    assert stack.fake.files[file_id]["mimetype"] == "image/png"
    assert stack.fake.file_contents[file_id].startswith(b"\x89PNG")
    # The numbers are beside the picture in words, and in its description.
    assert "Requested 1" in chart["alt_text"] and "Requested *1*" in text_of(home, "team_funnel")
    assert "No accounts on the team's lists yet" in text_of(home, "team_funnel")
    assert f"<@{CONNECTOR}>: 1 ask from the team (1 open), 0 intros made" in text_of(
        home, "team_asks"
    )
    assert "Nothing: every ask has moved within the week" in text_of(home, "team_asks")
    rep_home = await open_home(stack, REQUESTER)
    assert block(rep_home, "team_chart") is None and "Your team" not in json.dumps(rep_home)

    # Opened again with nothing changed: the same file, not a new upload.
    again = await open_home(stack, MANAGER)
    assert block(again, "team_chart")["slack_file"]["id"] == file_id  # type: ignore[index]
    assert stack.fake.count("files.getUploadURLExternal") == 1
    # The funnel moves: a new chart.
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: stack.fake.count("chat.update") >= 1, "card updated")
    moved = await open_home(stack, MANAGER)
    assert stack.fake.count("files.getUploadURLExternal") == 2
    assert block(moved, "team_chart")["slack_file"]["id"] != file_id  # type: ignore[index]
    assert all(c.ok for c in stack.fake.calls_to("files.completeUploadExternal"))


async def test_the_view_counts_the_teams_accounts_with_a_way_in(stack: LocalStack) -> None:
    from bot.intro.contacts import ContactInput
    from bot.intro.matching import company_key
    from storage.models import TargetAccount

    assert stack.services is not None
    await command(stack, ADMIN, f"team <@{MANAGER}> <@{REQUESTER}>")
    now = stack.services.clock.now()
    async with stack.services.sessions.begin() as session:
        for company in ("Acme", "Globex", "Initech"):
            session.add(
                TargetAccount(
                    team_id=TEAM,
                    list_owner_id=REQUESTER,
                    company=company,
                    company_key=company_key(company),
                    added_by=REQUESTER,
                    added_at=now,
                )
            )
    await stack.services.directory.add_contact(
        TEAM, CONNECTOR, ContactInput("Hank Scorpio", "ACME Inc.", closeness="know_well")
    )
    home = await open_home(stack, MANAGER)
    assert "1 of 3 accounts on the team's lists has a way in" in text_of(home, "team_funnel")
    assert "Scorpio" not in json.dumps(home)  # a contact is counted, never named
    assert "1 of 3 have a way in" in block(home, "team_chart")["alt_text"]  # type: ignore[index]


async def test_asks_stuck_for_over_a_week_say_who_waits_on_whom(
    stack: LocalStack, clock: ManualClock
) -> None:
    await command(stack, ADMIN, f"team <@{MANAGER}> <@{REQUESTER}>")
    await request_intro(stack)
    clock.advance(timedelta(days=8))
    home = await open_home(stack, MANAGER)
    stuck = text_of(home, "team_asks")
    assert f"<@{REQUESTER}>'s ask at *Acme* has waited 8 days for <@{CONNECTOR}> to answer" in (
        stuck
    )
    assert "Jane" not in stuck  # the manager sees the account, not the person asked for


async def test_stats_team_shows_a_manager_their_team_where_they_typed_it(
    stack: LocalStack,
) -> None:
    stack.fake.add_channel("C0GENERAL", "general")
    await command(stack, ADMIN, f"team <@{MANAGER}> <@{REQUESTER}>")
    await request_intro(stack)
    assert stack.slack is not None
    await stack.slack.command(
        payloads.slash_command(MANAGER, "stats team", stack.fake.issue_trigger_id(MANAGER))
    )
    await stack.until(lambda: len(stack.fake.ephemerals) == 1, "the team's view")
    shown = stack.fake.ephemerals[0]
    assert (shown["channel"], shown["user"], shown["text"]) == (
        "C0GENERAL",
        MANAGER,
        "Your team's intros",
    )
    chart = next(b for b in shown["blocks"] if b["type"] == "image")
    assert stack.fake.files[chart["slack_file"]["id"]]["mimetype"] == "image/png"
    assert "Requested *1*" in json.dumps(shown["blocks"])
    assert "You don't have a team" in await command(stack, REQUESTER, "stats team")


async def test_a_chart_slack_will_not_show_is_left_out_then_uploaded_again(
    stack: LocalStack,
) -> None:
    await command(stack, ADMIN, f"team <@{MANAGER}> <@{REQUESTER}>")
    await request_intro(stack)
    first = await open_home(stack, MANAGER)
    file_id = block(first, "team_chart")["slack_file"]["id"]  # type: ignore[index]
    del stack.fake.files[file_id]  # deleted in Slack meanwhile
    home = await open_home(stack, MANAGER)
    refused = [c for c in stack.fake.calls_to("views.publish") if not c.ok]
    assert [c.error for c in refused] == ["invalid_arguments"]
    assert block(home, "team_chart") is None and "Requested *1*" in text_of(home, "team_funnel")
    again = await open_home(stack, MANAGER)
    assert block(again, "team_chart") is not None
    assert stack.fake.count("files.getUploadURLExternal") == 2
