"""Contacts that stay private, through the bot's signed endpoint: what teammates see of them,
a deactivated teammate's, a person's own list and forgetting it, third parties' emails."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.intro.clock import ManualClock
from bot.intro.contacts import ContactInput
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import RequestDraft
from bot.standin import payloads
from bot.standin.stack import LocalStack
from bot.wiring.sweeper import sweep_until_idle
from storage.models import ConnectorPrefs, Contact, DepartedUser, IntroRequest
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    button,
    card_text,
    open_intro_modal,
    request_intro,
    submit,
)

TEAM = "T0FAKE"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(database_url: str, clock: ManualClock) -> AsyncIterator[LocalStack]:
    async with LocalStack(database_url, clock=clock) as local:
        yield local


async def _suggestions(stack: LocalStack, target: str = "Jane Doe (Acme)") -> dict[str, Any]:
    before = stack.fake.count("views.update")
    await open_intro_modal(stack, text=target)
    await stack.until(lambda: stack.fake.count("views.update") > before, "suggestions")
    view: dict[str, Any] = stack.fake.calls_to("views.update")[-1].args["view"]
    return view


def _suggestion_lines(view: dict[str, Any]) -> list[str]:
    return [
        b["text"]["text"]
        for b in view["blocks"]
        if str(b.get("block_id", "")).startswith("suggestion_")
    ]


async def _home(stack: LocalStack, user: str) -> dict[str, Any]:
    """Open the Home tab and return what Slack shows."""
    assert stack.slack is not None
    before = stack.fake.count("views.publish")
    await stack.slack.event(payloads.app_home_opened(user))
    await stack.until(lambda: stack.fake.count("views.publish") > before, "home")
    return stack.fake.home_views[user]


async def _on_home(
    stack: LocalStack, user: str, action_id: str, value: str, *, kind: str = "button"
) -> dict[str, Any]:
    """Press a control on the user's current Home tab, as Slack sends it (the view included)."""
    assert stack.slack is not None
    payload = payloads.block_action(
        user, action_id, value, stack.fake.issue_trigger_id(user), on_home=True
    )
    payload["view"] = stack.fake.home_views[user]
    payload["actions"][0]["type"] = kind
    before = stack.fake.count("views.publish") + stack.fake.count("views.open")
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.until(
        lambda: stack.fake.count("views.publish") + stack.fake.count("views.open") > before,
        action_id,
    )
    return stack.fake.home_views[user]


async def _press(
    stack: LocalStack, user: str, home: dict[str, Any], action_id: str
) -> dict[str, Any]:
    return await _on_home(stack, user, action_id, button(home, action_id)["value"])


def _text(view: dict[str, Any]) -> str:
    return card_text(view)


def _contact_names(view: dict[str, Any]) -> list[str]:
    return [
        b["text"]["text"].split("*")[1]
        for b in view["blocks"]
        if str(b.get("block_id", "")).startswith("contact_") and b["type"] == "section"
    ]


async def _command(stack: LocalStack, user: str, text: str) -> str:
    assert stack.slack is not None
    status, body = await stack.slack.command(
        payloads.slash_command(
            user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
        )
    )
    assert status == 200
    return body


# --- teammates see you suggested, nothing more -------------------------------------------


async def test_a_suggestion_shows_only_who_and_in_what_order_unless_they_share(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    await directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close", since=date(2015, 3, 1))
    )
    await directory.add_contact(
        TEAM, SECOND, ContactInput("Jane Doe", "Acme", closeness="met_once", since=date(2024, 1, 1))
    )
    lines = _suggestion_lines(await _suggestions(stack))
    assert lines == [f"1. <@{OTHER}>", f"2. <@{SECOND}>"]

    # Olivia chooses, on her Home tab, to share more; Sam does not.
    home = await _home(stack, OTHER)
    share = button(home, "intro_share_details")
    assert share["value"] == "on" and "confirm" in share
    home = await _on_home(stack, OTHER, "intro_share_details", "on")
    assert button(home, "intro_share_details")["value"] == "off"
    assert "because you chose to share that" in _text(home)

    lines = _suggestion_lines(await _suggestions(stack))
    assert lines[0].startswith(f"1. <@{OTHER}> · close, talks with them often · since 2015")
    assert lines[1] == f"2. <@{SECOND}>"

    # And stops sharing.
    await _on_home(stack, OTHER, "intro_share_details", "off")
    assert _suggestion_lines(await _suggestions(stack))[0] == f"1. <@{OTHER}>"


# --- a deactivated teammate --------------------------------------------------------------


async def test_a_deactivated_teammate_leaves_suggestions_and_their_contacts_go_later(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None and stack.slack is not None
    directory = stack.services.directory
    await directory.add_contact(TEAM, OTHER, ContactInput("Jane Doe", "Acme", closeness="close"))
    await directory.add_contact(TEAM, SECOND, ContactInput("Jane Doe", "Acme"))
    assert _suggestion_lines(await _suggestions(stack))[0] == f"1. <@{OTHER}>"

    await stack.slack.event(payloads.user_change(OTHER, deleted=True))
    await _until_departed(stack, OTHER, True)
    lines = _suggestion_lines(await _suggestions(stack))
    assert lines == [f"1. <@{SECOND}>"]
    # Kept for INTROBOT_UNINSTALL_RETENTION (30 days by default), in case they come back.
    clock.advance(timedelta(days=29))
    await sweep_until_idle(stack.services)
    assert (await directory.contacts_of(TEAM, OTHER))[1] == 1
    clock.advance(timedelta(days=2))
    await sweep_until_idle(stack.services)
    assert (await directory.contacts_of(TEAM, OTHER))[1] == 0
    assert (await directory.contacts_of(TEAM, SECOND))[1] == 1


async def test_a_teammate_brought_back_is_suggested_again_and_keeps_their_list(
    stack: LocalStack, clock: ManualClock
) -> None:
    assert stack.services is not None and stack.slack is not None
    directory = stack.services.directory
    await directory.add_contact(TEAM, OTHER, ContactInput("Jane Doe", "Acme"))
    await stack.slack.event(payloads.user_change(OTHER, deleted=True))
    await _until_departed(stack, OTHER, True)
    await stack.slack.event(payloads.user_change(OTHER, deleted=False))
    await _until_departed(stack, OTHER, False)
    clock.advance(timedelta(days=60))
    await sweep_until_idle(stack.services)
    assert _suggestion_lines(await _suggestions(stack)) == [f"1. <@{OTHER}>"]


async def test_a_deactivated_teammate_is_no_second_path_for_a_stalled_ask(
    stack: LocalStack,
) -> None:
    assert stack.services is not None and stack.slack is not None
    workflow = stack.services.workflow
    earlier = await workflow.submit(
        TEAM,
        RequestDraft(
            requester=Teammate(SECOND, "Sam Okafor"),
            connector=Teammate(OTHER, "Olivia Chen"),
            target_name="John Roe",
            target_company="Acme",
            reason="r",
            blurb="b",
        ),
        [],
    )
    for action in (Action.ACCEPT, Action.TARGET_AGREED):
        await workflow.act(TEAM, earlier.request.id, OTHER, action)
    await request_intro(stack)
    async with workflow._sessions() as session:
        stalled = await session.scalar(
            select(IntroRequest).where(IntroRequest.requester_id == REQUESTER)
        )
    assert stalled is not None
    assert await workflow.secondary_connectors(stalled) == [OTHER]
    await stack.slack.event(payloads.user_change(OTHER, deleted=True))
    await _until_departed(stack, OTHER, True)
    assert await workflow.secondary_connectors(stalled) == []


async def _until_departed(stack: LocalStack, user: str, departed: bool) -> None:
    assert stack.services is not None
    sessions = stack.services.directory._sessions
    for _ in range(500):
        async with sessions() as session:
            found = await session.get(DepartedUser, (TEAM, user))
        if (found is not None) == departed:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{user} departed={departed} never recorded")


async def test_with_no_retention_a_deactivated_teammates_contacts_go_at_once(
    database_url: str, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTROBOT_UNINSTALL_RETENTION", "0")
    async with LocalStack(database_url, clock=clock) as stack:
        assert stack.services is not None and stack.slack is not None
        directory = stack.services.directory
        await directory.add_contact(TEAM, OTHER, ContactInput("Jane Doe", "Acme"))
        await stack.slack.event(payloads.user_change(OTHER, deleted=True))
        for _ in range(500):
            if (await directory.contacts_of(TEAM, OTHER))[1] == 0:
                break
            await asyncio.sleep(0.01)
        assert (await directory.contacts_of(TEAM, OTHER))[1] == 0


# --- see, search, page, edit and delete all of my list; forget me ------------------------


async def test_the_home_tab_pages_and_searches_the_whole_list(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    for n in range(23):
        company = "Globex" if n % 5 == 0 else "Acme"
        await directory.add_contact(TEAM, OTHER, ContactInput(f"Person{n:02d} Smith", company))
    home = await _home(stack, OTHER)
    assert len(home["blocks"]) <= 100
    assert _contact_names(home)[0] == "Person00 Smith" and len(_contact_names(home)) == 10
    assert "1–10 of 23" in _text(home)
    assert "intro_contacts_previous" not in json.dumps(home)

    seen = list(_contact_names(home))
    home = await _press(stack, OTHER, home, "intro_contacts_next")
    assert "11–20 of 23" in _text(home)
    seen += _contact_names(home)
    home = await _press(stack, OTHER, home, "intro_contacts_next")
    assert "21–23 of 23" in _text(home) and "intro_contacts_next" not in json.dumps(home)
    seen += _contact_names(home)
    assert sorted(seen) == [f"Person{n:02d} Smith" for n in range(23)]
    home = await _press(stack, OTHER, home, "intro_contacts_previous")
    assert "11–20 of 23" in _text(home)

    # Search (Enter in the search box) finds by company or name, accents and case folded.
    search = next(b for b in home["blocks"] if b.get("block_id") == "contact_search")
    assert search["dispatch_action"] is True
    home = await _on_home(stack, OTHER, "intro_contact_search", "globex", kind="plain_text_input")
    assert _contact_names(home) == [f"Person{n:02d} Smith" for n in (0, 5, 10, 15, 20)]
    assert "1–5 of 5 matching _globex_" in _text(home)
    home = await _on_home(stack, OTHER, "intro_contact_search", "PERSON07", kind="plain_text_input")
    assert _contact_names(home) == ["Person07 Smith"]
    home = await _on_home(stack, OTHER, "intro_contact_search", "nobody", kind="plain_text_input")
    assert "Nobody on your list matches _nobody_" in _text(home)


async def test_removing_keeps_the_page_and_delete_all_empties_the_list(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    for n in range(12):
        await directory.add_contact(TEAM, OTHER, ContactInput(f"Person{n:02d} Smith", "Acme"))
    await directory.add_contact(TEAM, SECOND, ContactInput("Jane Doe", "Acme"))
    home = await _home(stack, OTHER)
    home = await _press(stack, OTHER, home, "intro_contacts_next")
    assert _contact_names(home) == ["Person10 Smith", "Person11 Smith"]
    home = await _press(stack, OTHER, home, "intro_contact_delete")
    assert _contact_names(home) == ["Person11 Smith"]  # still on page 2

    # A forged value (digits int() refuses, an id past the database's integers) does nothing.
    for forged in ("²", "9" * 30):
        home = await _on_home(stack, OTHER, "intro_contact_delete", forged)
        assert _contact_names(home) == ["Person11 Smith"]
    home = await _on_home(stack, OTHER, "intro_contacts_next", "9" * 30 + ":")
    assert _contact_names(home)[0] == "Person00 Smith"

    delete_all = button(home, "intro_contacts_delete_all")
    assert delete_all["style"] == "danger" and "Delete all 11?" in json.dumps(delete_all["confirm"])
    home = await _on_home(stack, OTHER, "intro_contacts_delete_all", "")
    assert "Deleted the 11 people on your list" in _text(home)
    home = await _on_home(stack, OTHER, "intro_contacts_delete_all", "")  # pressed twice
    assert "Your list is already empty." in _text(home)
    assert (await directory.contacts_of(TEAM, OTHER))[1] == 0
    assert (await directory.contacts_of(TEAM, SECOND))[1] == 1  # nobody else's


async def test_edit_opens_the_contact_prefilled_and_saves_in_place(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    contact, _ = await directory.add_contact(
        TEAM,
        OTHER,
        ContactInput("Jane Doe", "Acme", "CFO", "jane@acme.com", "close", date(2019, 5, 1)),
    )
    await directory.add_contact(TEAM, OTHER, ContactInput("John Roe", "Initech"))
    home = await _home(stack, OTHER)
    edit = next(
        e
        for b in home["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == "intro_contact_edit" and e["value"] == str(contact.id)
    )
    await _on_home(stack, OTHER, "intro_contact_edit", edit["value"])
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    fields = {b["block_id"]: b for b in modal["blocks"] if b["type"] == "input"}
    assert fields["name"]["element"]["initial_value"] == "Jane Doe"
    assert fields["company"]["element"]["initial_value"] == "Acme"
    assert fields["title"]["element"]["initial_value"] == "CFO"
    assert fields["closeness"]["element"]["initial_option"]["value"] == "close"
    assert fields["since"]["element"]["initial_date"] == "2019-05-01"
    assert "initial_value" not in fields["email"]["element"]  # only a fingerprint is kept
    assert "fingerprint" in fields["email"]["hint"]["text"]

    # A blank email keeps the one on file: adding her again by email still finds her.
    status, body = await submit(
        stack,
        modal,
        {"name": "Jane Doe-Smith", "company": "Acme", "title": "CEO", "closeness": "know_well"},
        user=OTHER,
    )
    assert (status, body) == (200, "")
    await stack.until(lambda: "Jane Doe-Smith" in _text(stack.fake.home_views[OTHER]), "saved")
    _, added = await directory.add_contact(
        TEAM, OTHER, ContactInput("Jane D.", "Acme", email="JANE@acme.com")
    )
    assert not added and (await directory.contacts_of(TEAM, OTHER))[1] == 2
    # Renaming to someone else already on the list is refused inline, not merged silently.
    await directory.add_contact(TEAM, OTHER, ContactInput("Ann Lee", "Initech"))
    john = next(
        e["value"]
        for b in stack.fake.home_views[OTHER]["blocks"]
        for e in b.get("elements", [])
        if e.get("action_id") == "intro_contact_edit" and e["value"] != str(contact.id)
    )
    await _on_home(stack, OTHER, "intro_contact_edit", john)
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    _, body = await submit(
        stack, modal, {"name": "Ann Lee", "company": "Initech", "closeness": "close"}, user=OTHER
    )
    assert "already has this name" in json.loads(body)["errors"]["name"]
    # Removed meanwhile (say, from another device): saving closes the form, nothing comes back.
    await directory.delete_contact(TEAM, OTHER, int(john))
    status, body = await submit(
        stack, modal, {"name": "John Roe", "company": "Initech", "closeness": "close"}, user=OTHER
    )
    assert (status, body) == (200, "")
    await stack.until(lambda: "John Roe" not in _text(stack.fake.home_views[OTHER]), "republished")
    assert (await directory.contacts_of(TEAM, OTHER, search="John"))[1] == 0
    # Nobody can open someone else's contact.
    await _home(stack, SECOND)
    opened = stack.fake.count("views.open")
    await _on_home(stack, SECOND, "intro_contact_edit", str(contact.id))
    assert stack.fake.count("views.open") == opened


async def test_forget_me_deletes_my_list_and_settings_and_erases_my_words(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    await directory.add_contact(TEAM, REQUESTER, ContactInput("Jane Doe", "Acme"))
    await directory.add_contact(TEAM, CONNECTOR, ContactInput("Jane Doe", "Acme"))
    await directory.set_share_tie_details(TEAM, REQUESTER, True)
    await request_intro(stack, anonymous_as="the one who ran the Lisbon office")

    assert "/intro forget me" in await _command(stack, REQUESTER, "forget")
    assert (await directory.contacts_of(TEAM, REQUESTER))[1] == 1  # nothing happened yet
    await _command(stack, REQUESTER, "forget me")
    await stack.until(lambda: len(stack.fake.responses) == 1, "confirmation")
    assert "I deleted the 1 person you knew" in stack.fake.responses[0]["body"]["text"]

    assert (await directory.contacts_of(TEAM, REQUESTER))[1] == 0
    assert (await directory.contacts_of(TEAM, CONNECTOR))[1] == 1
    async with directory._sessions() as session:
        assert await session.get(ConnectorPrefs, (TEAM, REQUESTER)) is None
        request = await session.scalar(select(IntroRequest))
    assert request is not None
    assert (request.reason, request.blurb) == ("", "")
    assert request.anonymous_as == ""  # the words they chose to be described by
    assert (request.requester_name, request.requester_title, request.requester_email) == (
        "a former teammate",
        "",
        "",
    )
    assert request.connector_name != "a former teammate"  # the connector's side is theirs
    await _command(stack, CONNECTOR, "forget me")
    await stack.until(lambda: len(stack.fake.responses) == 2, "the connector's confirmation")
    async with directory._sessions() as session:
        request = await session.scalar(select(IntroRequest))
    assert request is not None
    assert (request.connector_name, request.connector_closeness) == ("a former teammate", None)
    # The funnel still counts the ask.
    report = await stack.services.attribution.report(TEAM, REQUESTER)
    assert report.workspace.counts["requested"] == 1


# --- third parties' emails kept only as a keyed hash -------------------------------------


async def test_an_email_is_stored_only_as_a_keyed_hash(stack: LocalStack) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    await directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Doe", "Acme", email="Jane@Acme.com")
    )
    _, added = await directory.add_contact(
        TEAM, OTHER, ContactInput("Jane Smith", "Acme Corp", email=" jane@acme.com ")
    )
    assert not added  # the same person, recognised by the hash
    async with directory._sessions() as session:
        contact = await session.scalar(select(Contact))
    assert contact is not None
    stored = json.dumps({c.name: str(getattr(contact, c.key)) for c in Contact.__table__.columns})
    assert "jane@acme.com" not in stored.lower()
    assert len(contact.email_hash) == 64 and contact.identity_key == "email:" + contact.email_hash
    assert not hasattr(Contact, "email")


async def test_the_linkedin_import_hashes_emails_too(stack: LocalStack) -> None:
    from pathlib import Path

    assert stack.services is not None and stack.slack is not None
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "Connections.csv"
    shared = stack.fake.add_file(REQUESTER, "Connections.csv", fixture.read_bytes())
    await stack.slack.event(
        payloads.file_shared(REQUESTER, shared["id"], stack.fake.dm_channel(REQUESTER))
    )
    await stack.until(
        lambda: any("Imported" in m["text"] for m in stack.fake.messages_for(REQUESTER)), "report"
    )
    emails = re.findall(r"[\w.]+@[\w.]+", fixture.read_text(encoding="utf-8-sig"))
    assert emails == ["jane.doe@acme.com", "amdv@example.nl"]
    async with stack.services.directory._sessions() as session:
        rows = list(await session.scalars(select(Contact)))
    dump = json.dumps([[str(getattr(r, c.key)) for c in Contact.__table__.columns] for r in rows])
    assert not any(email and email in dump.lower() for email in emails)
    assert any(r.email_hash for r in rows)
