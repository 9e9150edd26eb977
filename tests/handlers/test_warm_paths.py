"""Warm paths through Slack: who knows whom, imports, suggestions, pacing, routing, stats."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from bot.intro.contacts import ContactInput
from bot.intro.privacy import forget_me
from bot.rendering import messages
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    button,
    card_text,
    good_values,
    open_intro_modal,
    press,
    request_intro,
    submit,
)

ADMIN = "U0ADMIN"
FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "Connections.csv"


async def _command(stack: LocalStack, user: str, text: str) -> str:
    assert stack.slack is not None
    status, body = await stack.slack.command(
        payloads.slash_command(
            user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
        )
    )
    assert status == 200
    return body


async def test_know_records_a_contact_only_its_owner_sees(stack: LocalStack) -> None:
    body = await _command(stack, OTHER, "know Jane Doe at Acme")
    assert "Added *Jane Doe* at *Acme*" in body  # Bolt answers ack(text=…) as plain text
    assert stack.slack is not None
    await stack.slack.event(payloads.app_home_opened(OTHER))
    await stack.slack.event(payloads.app_home_opened(REQUESTER))
    await stack.until(lambda: len(stack.fake.home_views) == 2, "two homes")
    assert "Jane Doe" in json.dumps(stack.fake.home_views[OTHER])
    assert "Jane Doe" not in json.dumps(stack.fake.home_views[REQUESTER]).replace(
        "/intro Jane Doe", ""
    )


async def test_the_form_suggests_who_knows_the_target_and_picking_fills_it(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    await stack.services.directory.add_contact(
        "T0FAKE", OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    await open_intro_modal(stack, text="jane doe (Acme)")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "suggestions")
    updated = stack.fake.calls_to("views.update")[0].args["view"]
    pick = button(updated, "intro_pick_connector_1")
    assert pick["value"] == OTHER and f"<@{OTHER}>" in json.dumps(updated)

    # Typing a name and pressing Enter asks again; picking a suggestion fills the connector.
    view = {**updated, "id": stack.fake.calls_to("views.update")[0].args["view_id"]}
    assert stack.slack is not None
    await stack.slack.interaction(
        payloads.view_action(
            REQUESTER,
            view,
            {
                "action_id": pick["action_id"],
                "value": OTHER,
                "block_id": "suggestion_1",
                "type": "button",
            },
            {"target_name": "Jane Doe"},
        )
    )
    await stack.until(lambda: stack.fake.count("views.update") == 2, "connector filled")
    filled = stack.fake.calls_to("views.update")[1].args["view"]
    connector = next(b for b in filled["blocks"] if b.get("block_id") == f"connector:{OTHER}")
    assert connector["element"]["initial_user"] == OTHER


async def test_linkedin_export_in_the_dm_is_imported_with_a_report(stack: LocalStack) -> None:
    assert stack.slack is not None and stack.services is not None
    shared = stack.fake.add_file(REQUESTER, "Connections.csv", FIXTURE.read_bytes())
    dm = stack.fake.dm_channel(REQUESTER)
    await stack.slack.event(payloads.file_shared(REQUESTER, shared["id"], dm))
    await stack.until(
        lambda: any("Imported" in m["text"] for m in stack.fake.messages_for(REQUESTER)), "report"
    )
    report = stack.fake.messages_for(REQUESTER)[-1]
    assert "*4* added, *0* updated" in report["text"]
    assert "2 skipped" in report["text"] and "no name" in card_text(report)
    assert (await stack.services.directory.contacts_of("T0FAKE", REQUESTER))[1] == 4
    # Sharing it again updates in place.
    await stack.slack.event(payloads.file_shared(REQUESTER, shared["id"], dm))
    await stack.until(
        lambda: "*0* added" in stack.fake.messages_for(REQUESTER)[-1]["text"], "again"
    )
    assert (await stack.services.directory.contacts_of("T0FAKE", REQUESTER))[1] == 4


async def test_a_file_that_is_not_an_export_is_explained(stack: LocalStack) -> None:
    assert stack.slack is not None
    shared = stack.fake.add_file(REQUESTER, "leads.csv", b"name,email\nJane,j@x.com\n")
    await stack.slack.event(
        payloads.file_shared(REQUESTER, shared["id"], stack.fake.dm_channel(REQUESTER))
    )
    await stack.until(
        lambda: (
            "doesn't look like"
            in (stack.fake.messages_for(REQUESTER) or [{"text": ""}])[-1]["text"]
        ),
        "explanation",
    )


async def test_enforced_pacing_blocks_and_names_the_next_best(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    await directory.add_contact("T0FAKE", SECOND, ContactInput("Jane Doe", "Acme"))
    prefs = await directory.prefs("T0FAKE", CONNECTOR)
    prefs.snoozed_until = date(2099, 1, 1)
    await directory.save_prefs(prefs)
    await directory.set_enforce_pacing("T0FAKE", True)
    view = await open_intro_modal(stack)
    _, body = await submit(stack, view, good_values())
    errors = json.loads(body)["errors"]
    assert "snoozed until 2099-01-01" in errors["connector"]
    assert "Next best: Sam Okafor" in errors["connector"]
    # Warn-only workspaces let it through, with the advice in the confirmation.
    await directory.set_enforce_pacing("T0FAKE", False)
    await request_intro(stack)
    assert "snoozed" in card_text(stack.fake.messages_for(REQUESTER)[0])


async def test_a_second_ask_for_the_same_person_is_stopped(stack: LocalStack) -> None:
    await request_intro(stack)
    view = await open_intro_modal(stack)
    _, body = await submit(stack, view, good_values(connector=OTHER, target_name="jane doe"))
    assert "already have an open ask" in json.loads(body)["errors"]["target_name"]


async def test_an_admin_command_says_so_when_slack_cannot_say_who_is_an_admin(
    stack: LocalStack,
) -> None:
    stack.fake.fail_next("users.info", status=503, times=3)  # the client's two retries too
    await _command(stack, ADMIN, f"owner Acme <@{SECOND}|sam>")
    await stack.until(lambda: len(stack.fake.responses) == 1, "answer")
    answer = stack.fake.responses[0]["body"]["text"]
    assert "couldn't check with Slack" in answer and "Only workspace admins" not in answer
    await _command(stack, ADMIN, f"owner Acme <@{SECOND}|sam>")
    await stack.until(lambda: len(stack.fake.responses) == 2, "confirmation")
    assert "now go through" in stack.fake.responses[1]["body"]["text"]


async def test_account_owner_approves_before_the_connector_is_asked(stack: LocalStack) -> None:
    refused = await _command(stack, REQUESTER, f"owner Acme <@{SECOND}|sam>")
    assert refused == ""
    await stack.until(lambda: len(stack.fake.responses) == 1, "refusal")
    assert "Only workspace admins" in stack.fake.responses[0]["body"]["text"]
    await _command(stack, ADMIN, f"owner Acme <@{SECOND}|sam>")
    await stack.until(lambda: len(stack.fake.responses) == 2, "confirmation")

    view = await open_intro_modal(stack)
    await submit(stack, view, good_values())
    await stack.until(lambda: len(stack.fake.messages_for(SECOND)) == 1, "owner card")
    assert stack.fake.messages_for(CONNECTOR) == []
    owner_card = stack.fake.messages_for(SECOND)[0]
    assert "an account you own" in owner_card["text"]
    await press(stack, SECOND, owner_card, "intro_owner_approve")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")
    await stack.until(
        lambda: any("approved your ask" in m["text"] for m in stack.fake.messages_for(REQUESTER)),
        "requester told",
    )


async def test_an_account_owners_decline_says_why_to_the_requester(stack: LocalStack) -> None:
    assert stack.services is not None and stack.slack is not None
    await stack.services.directory.set_account_owner("T0FAKE", "Acme", SECOND)
    view = await open_intro_modal(stack)
    await submit(stack, view, good_values())
    await stack.until(lambda: len(stack.fake.messages_for(SECOND)) == 1, "owner card")
    await press(stack, SECOND, stack.fake.messages_for(SECOND)[0], "intro_owner_decline")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "the owner's reason")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    assert "with your reason" in json.dumps(modal)
    # A decline with no reason is not sent: the requester would not know what to do instead.
    _, body = await stack.slack.interaction(payloads.view_submission(SECOND, modal, {}))
    assert "Say why" in json.loads(body)["errors"]["reason"]
    why = "We're mid-renewal with Acme; let's wait until it's signed in May."
    await stack.slack.interaction(payloads.view_submission(SECOND, modal, {"reason": why}))
    await stack.until(
        lambda: any("hold off" in m["text"] for m in stack.fake.messages_for(REQUESTER)),
        "the requester told",
    )
    [notice] = [m for m in stack.fake.messages_for(REQUESTER) if "hold off" in m["text"]]
    text = card_text(notice)
    assert f"Their reason: _{why}_" in text and "They can tell you why" not in text
    assert stack.fake.messages_for(CONNECTOR) == []
    # The reason is the owner's words: `/intro forget me` erases it.
    await forget_me(stack.services.sessions, "T0FAKE", SECOND)
    [request] = await stack.services.workflow.requests_by("T0FAKE", REQUESTER)
    assert request.status == "owner_declined" and request.decline_reason is None


async def test_stats_and_export(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accepted")
    await _command(stack, REQUESTER, "stats")
    await stack.until(lambda: len(stack.fake.responses) == 1, "stats")
    stats = json.dumps(stack.fake.responses[0]["body"]["blocks"])
    assert "Intro funnel" in stats and "Requested *1* \\u2192 Accepted *1* (100%)" in stats

    await stack.settled()  # the members' listing the request started
    looked_up = stack.fake.count("users.info"), stack.fake.count("users.list")
    await _command(stack, ADMIN, "export")
    await stack.until(lambda: len(stack.fake.uploads) == 1, "export upload")
    upload = stack.fake.uploads[0]
    assert upload["channel"] == stack.fake.dm_channel(ADMIN)
    (row,) = csv.DictReader(io.StringIO(upload["content"].decode()))
    assert row["Referred By"] == "Carlos Mendes" and row["Requested By"] == "Riya Patel"
    assert row["Status"] == "checking_with_target"
    # Names come from users.list a page at a time, not from a users.info per person (the one
    # users.info asks whether the caller is an admin).
    assert (stack.fake.count("users.info"), stack.fake.count("users.list")) == (
        looked_up[0] + 1,
        looked_up[1] + 1,
    )


async def _old_tie(stack: LocalStack) -> None:
    """The connector recorded knowing Jane Doe since 2019 and has not confirmed it since."""
    assert stack.services is not None
    await stack.services.directory.add_contact(
        "T0FAKE", CONNECTOR, ContactInput("Jane Doe", "Acme", since=date(2019, 5, 1))
    )
    # The tie was recorded (and so confirmed) now; make it an old, unconfirmed one.
    async with stack.services.sessions.begin() as session:
        from sqlalchemy import update

        from storage.models import Contact

        await session.execute(update(Contact).values(confirmed_at=None))


async def test_an_old_tie_is_confirmed_before_accepting(stack: LocalStack) -> None:
    assert stack.services is not None
    await _old_tie(stack)
    card = await request_intro(stack)
    assert "Still in touch?" in card_text(card)
    await press(stack, CONNECTOR, card, "intro_tie_yes")
    await stack.until(
        lambda: "Still in touch?" not in card_text(stack.fake.messages_for(CONNECTOR)[0]),
        "question gone",
    )
    tie = await stack.services.directory.tie("T0FAKE", CONNECTOR, "Jane Doe", "Acme")
    assert tie is not None and tie.confirmed_at is not None


async def test_an_old_tie_is_asked_about_after_the_account_owner_approves(
    stack: LocalStack,
) -> None:
    """The connector's card then comes after the ask's review, not with it: the tie is looked
    up as the card goes out."""
    await _old_tie(stack)
    await _command(stack, ADMIN, f"owner Acme <@{SECOND}|sam>")
    await stack.until(lambda: len(stack.fake.responses) == 1, "confirmation")
    view = await open_intro_modal(stack)
    await submit(stack, view, good_values())
    await stack.until(lambda: len(stack.fake.messages_for(SECOND)) == 1, "owner card")
    await press(stack, SECOND, stack.fake.messages_for(SECOND)[0], "intro_owner_approve")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")
    card = stack.fake.messages_for(CONNECTOR)[0]
    assert "Still in touch?" in card_text(card)
    await press(stack, CONNECTOR, card, "intro_tie_no")
    await stack.until(
        lambda: "Still in touch?" not in card_text(stack.fake.messages_for(CONNECTOR)[0]),
        "question gone",
    )


async def test_a_large_export_shows_progress(stack: LocalStack) -> None:
    assert stack.slack is not None
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    rows = "".join(f"Per{i},Son{i},u,,Co {i % 50},Role,04 Mar 2021\n" for i in range(10_000))
    shared = stack.fake.add_file(REQUESTER, "Connections.csv", (header + rows).encode())
    await stack.slack.event(
        payloads.file_shared(REQUESTER, shared["id"], stack.fake.dm_channel(REQUESTER))
    )
    await stack.until(
        lambda: "Imported" in (stack.fake.messages_for(REQUESTER) or [{"text": ""}])[-1]["text"],
        "report",
        timeout=60,
    )
    (message,) = stack.fake.messages_for(REQUESTER)
    progress = [h for h in message["history"] if "of 10000 connections" in str(h)]
    assert len(progress) >= 5  # the same message, updated as the import went
    assert "*10000* added" in message["text"]


async def test_the_form_opens_at_once_even_when_every_work_slot_is_taken(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trigger_id expires in about 3 s, so opening the modal never queues; the
    suggestions that follow it wait for a slot like any other work after an ack."""
    assert stack.services is not None
    await stack.services.directory.add_contact(
        "T0FAKE", OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    slots = asyncio.Semaphore(0)  # all taken
    monkeypatch.setattr(stack.services.work, "slots", slots)
    await open_intro_modal(stack, text="jane doe (Acme)")
    await asyncio.sleep(0.2)
    assert stack.fake.count("views.update") == 0
    slots.release()
    await stack.until(lambda: stack.fake.count("views.update") == 1, "suggestions")


async def test_when_busy_the_form_opens_without_suggestions(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the queue limit, suggestions (optional, and late by then) are left out; the
    name field's Enter still asks for them."""
    assert stack.services is not None
    await stack.services.directory.add_contact(
        "T0FAKE", OTHER, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    monkeypatch.setattr(stack.services.work, "queue_limit", 0)
    assert stack.services.work.busy
    await open_intro_modal(stack, text="jane doe (Acme)")
    await stack.services.work.drain()
    assert stack.fake.count("views.update") == 0


async def test_only_a_person_with_an_active_account_can_own_an_account(stack: LocalStack) -> None:
    for n, user_id in enumerate(("U0SOMEBOT", "U0DEACTIVATED", "U0NOBODY"), start=1):
        await _command(stack, ADMIN, f"owner Acme <@{user_id}>")
        await stack.until(lambda n=n: len(stack.fake.responses) == n, "refusal")
        assert stack.fake.responses[-1]["body"]["text"] == messages.command_reply("owner_usage")
    view = await open_intro_modal(stack)
    await submit(stack, view, good_values())
    # No owner stands between the request and its connector.
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")
