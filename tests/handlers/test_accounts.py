"""Target accounts through Slack: `/intro accounts`, the Home tab's section and modal, and a
CSV of accounts sent in the bot's DM, all through the signed endpoint against the fake Slack.
Coverage says which teammates know people at an account, never whom."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select

from bot.intro.accounts import WORKSPACE_LIST
from bot.intro.contacts import ContactInput
from bot.rendering import messages
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import AccountOwner
from tests.handlers.flow import CONNECTOR, OTHER, REQUESTER, SECOND, button, card_text

TEAM = "T0FAKE"
ADMIN = "U0ADMIN"
SECRET_NAMES = ("Zelda Quince", "Bartholomew Ruiz", "zelda@acme.com", "VP Ops")


async def _command(stack: LocalStack, user: str, text: str) -> dict[str, Any]:
    """`/intro <text>` as `user`; the answer only they see (acked or sent after)."""
    assert stack.slack is not None
    before = len(stack.fake.responses)
    status, body = await stack.slack.command(
        payloads.slash_command(
            user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
        )
    )
    assert status == 200
    if body:
        return {"text": json.loads(body)["text"] if body.startswith("{") else body, "blocks": []}
    await stack.until(lambda: len(stack.fake.responses) > before, f"/intro {text}")
    answer: dict[str, Any] = stack.fake.responses[-1]["body"]
    assert answer.get("response_type") == "ephemeral"
    return answer


def _all_text(message: dict[str, Any]) -> str:
    return message.get("text", "") + "\n" + card_text({"blocks": message.get("blocks") or []})


async def _home(stack: LocalStack, user: str) -> dict[str, Any]:
    assert stack.slack is not None
    before = stack.fake.count("views.publish")
    await stack.slack.event(payloads.app_home_opened(user))
    await stack.until(lambda: stack.fake.count("views.publish") > before, "home")
    return stack.fake.home_views[user]


async def _teammates_know_people(stack: LocalStack) -> None:
    """Carlos knows Zelda at Acme well, and shares how well; Olivia has met Bartholomew there."""
    assert stack.services is not None
    directory = stack.services.directory
    jane = ContactInput(
        "Zelda Quince", "Acme Inc.", "VP Ops", "zelda@acme.com", "know_well", date(2016, 4, 1)
    )
    await directory.add_contact(TEAM, CONNECTOR, jane)
    await directory.set_share_tie_details(TEAM, CONNECTOR, True)
    await directory.add_contact(
        TEAM, OTHER, ContactInput("Bartholomew Ruiz", "ACME", closeness="met_once")
    )


async def test_a_rep_adds_accounts_and_sees_which_have_a_way_in_never_whom(
    stack: LocalStack,
) -> None:
    await _teammates_know_people(stack)
    added = await _command(stack, REQUESTER, "accounts add Acme, Globex, acme inc")
    text = _all_text(added)
    assert "*2* accounts added to your list" in text
    assert "1 already there under this or another spelling" in text
    assert "*1 of 2* have a way in" in text

    shown = await _command(stack, REQUESTER, "accounts")
    text = _all_text(shown)
    assert "1 of 2 accounts have a way in" in text
    acme = next(line for line in text.splitlines() if line.startswith("*Acme*"))
    # Carlos ranks first (he shares how well he knows people there); Olivia only counts.
    assert "2 teammates know people there, ask <@U0CONNECTOR>" in acme
    assert "(knows people there well · since 2016)" in acme
    assert "*Globex*: no path yet" in text
    for secret in SECRET_NAMES:
        assert secret not in json.dumps(shown)
    assert len(shown["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in shown["blocks"] if b["type"] == "section")


async def test_a_teammate_who_does_not_share_is_named_without_how_well(stack: LocalStack) -> None:
    assert stack.services is not None
    await stack.services.directory.add_contact(
        TEAM, OTHER, ContactInput("Bob Lee", "Globex", closeness="close", since=date(2010, 1, 1))
    )
    await _command(stack, REQUESTER, "accounts add Globex")
    text = _all_text(await _command(stack, REQUESTER, "accounts"))
    line = next(line for line in text.splitlines() if line.startswith("*Globex*"))
    assert line == "*Globex*: 1 teammate knows people there, ask <@U0OTHER>"


async def test_removing_an_account_and_the_workspaces_list_is_for_admins(
    stack: LocalStack,
) -> None:
    await _command(stack, REQUESTER, "accounts add Acme, Globex")
    removed = await _command(stack, REQUESTER, "accounts remove ACME Corp, Initech")
    assert removed["text"] == (
        ":wastebasket: Took *Acme* off your list. *Initech* isn't on your list."
    )
    refused = await _command(stack, REQUESTER, "accounts team add Umbrella")
    assert refused["text"] == "Only workspace admins change the workspace's list."
    added = await _command(stack, ADMIN, "accounts team add Umbrella")
    assert "added to the workspace's list" in added["text"]
    # Everyone sees the workspace's list beside their own.
    text = _all_text(await _command(stack, SECOND, "accounts"))
    assert "0 of 1 account has a way in" in text and "*Umbrella*" in text
    mine = _all_text(await _command(stack, REQUESTER, "accounts"))
    assert "*Globex*: no path yet" in mine and "*Umbrella* · workspace's list" in mine
    assert "*Acme*" not in mine


async def test_a_mistyped_accounts_command_says_how_to_use_it(stack: LocalStack) -> None:
    answer = await _command(stack, REQUESTER, "accounts list")
    assert answer["text"].startswith("`/intro accounts` shows which of your accounts")


async def test_the_home_tab_shows_coverage_within_slacks_limits(stack: LocalStack) -> None:
    await _teammates_know_people(stack)
    assert stack.services is not None
    names = ", ".join(f"Company {n:02d}" for n in range(30))
    await _command(stack, REQUESTER, f"accounts add Acme, {names}")
    home = await _home(stack, REQUESTER)
    assert len(home["blocks"]) <= 100
    section = next(b for b in home["blocks"] if b.get("block_id") == "home_accounts")
    text = section["text"]["text"]
    assert text.startswith(":dart: *1 of 31 accounts have a way in*")
    assert "*Acme*: 2 teammates know people there" in text and len(text) <= 3000
    assert "And 23 more: `/intro accounts` lists them all." in card_text(home)
    for secret in SECRET_NAMES:
        assert secret not in json.dumps(home)


async def test_accounts_pasted_in_the_home_tabs_modal_join_the_list(stack: LocalStack) -> None:
    assert stack.slack is not None
    home = await _home(stack, REQUESTER)
    before = stack.fake.count("views.open")
    payload = payloads.block_action(
        REQUESTER,
        button(home, "intro_accounts_add")["action_id"],
        "",
        stack.fake.issue_trigger_id(REQUESTER),
        on_home=True,
    )
    payload["view"] = home
    assert (await stack.slack.interaction(payload))[0] == 200
    await stack.until(lambda: stack.fake.count("views.open") > before, "the modal")
    call = stack.fake.calls_to("views.open")[-1]
    assert call.ok, call.error
    modal = call.args["view"]
    assert not any(b.get("block_id") == "list" for b in modal["blocks"])  # not an admin

    published = stack.fake.count("views.publish")
    submitted = payloads.view_submission(REQUESTER, modal, {"names": "Acme\nGlobex\nInitech"})
    status, body = await stack.slack.interaction(submitted)
    assert (status, body) == (200, "")
    await stack.until(lambda: stack.fake.count("views.publish") > published, "home again")
    assert "*0 of 3 accounts have a way in*" in card_text(stack.fake.home_views[REQUESTER])
    report = stack.fake.messages_for(REQUESTER)[-1]
    assert "*3* accounts added to your list" in report["text"]


async def test_an_admin_chooses_the_workspaces_list_in_the_modal(stack: LocalStack) -> None:
    assert stack.slack is not None and stack.services is not None
    home = await _home(stack, ADMIN)
    payload = payloads.block_action(
        ADMIN, "intro_accounts_add", "", stack.fake.issue_trigger_id(ADMIN), on_home=True
    )
    payload["view"] = home
    await stack.slack.interaction(payload)
    await stack.until(lambda: stack.fake.count("views.open") == 1, "the modal")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    values = {"names": "Umbrella", "list": "team"}
    status, body = await stack.slack.interaction(payloads.view_submission(ADMIN, modal, values))
    assert (status, body) == (200, "")
    await stack.until(lambda: bool(stack.fake.messages_for(ADMIN)), "the report")
    listed = await stack.services.accounts.listed(TEAM, [WORKSPACE_LIST])
    assert [a.company for a in listed] == ["Umbrella"]


async def test_an_empty_paste_is_answered_in_the_modal(stack: LocalStack) -> None:
    assert stack.slack is not None
    modal = messages.accounts_modal(admin=False)
    status, body = await stack.slack.interaction(
        payloads.view_submission(REQUESTER, modal, {"names": " , "})
    )
    assert status == 200 and json.loads(body)["response_action"] == "errors"


# --- a CSV of accounts sent in the bot's DM ----------------------------------------------------


async def _share(stack: LocalStack, user: str, name: str, content: bytes) -> str:
    assert stack.slack is not None
    shared = stack.fake.add_file(user, name, content)
    await stack.slack.event(payloads.file_shared(user, shared["id"], stack.fake.dm_channel(user)))

    def settled() -> bool:
        messages = stack.fake.messages_for(user)
        return bool(messages) and "Reading" not in str(messages[-1]["text"])

    await stack.until(settled, "the import's report", timeout=30)
    message = stack.fake.messages_for(user)[-1]
    return _all_text(message)


ACCOUNTS_CSV = (
    "Account Name,Domain,Owner,Tier,List\n"
    "Acme Inc.,acme.com,carlos,Tier 1,\n"
    "Globex,globex.com,,Tier 2,\n"
    "Initech,initech.com,someone@nowhere.example,,team\n"
    ",nameless.com,,,\n"
)


async def test_a_reps_csv_fills_their_list_and_leaves_owners_to_admins(stack: LocalStack) -> None:
    await _teammates_know_people(stack)
    assert stack.services is not None
    report = await _share(stack, REQUESTER, "accounts.csv", ACCOUNTS_CSV.encode())
    assert (
        "Read *accounts.csv*: *2* accounts added to your list, 2 skipped; 1 owner not set."
        in report
    )
    assert "Skipped: line 4: Initech: only workspace admins add to the workspace's list" in report
    assert "line 5: no company" in report
    assert (
        "Owners not set (their accounts are on the list): "
        "line 2: Acme Inc.: only workspace admins set account owners" in report
    )
    assert "*1 of 2* have a way in" in report
    listed = await stack.services.accounts.listed(TEAM, [REQUESTER])
    assert [(a.company, a.domain, a.tier) for a in listed] == [
        ("Acme Inc.", "acme.com", "Tier 1"),
        ("Globex", "globex.com", "Tier 2"),
    ]
    async with stack.services.sessions() as session:
        assert list(await session.scalars(select(AccountOwner))) == []
    # Not mistaken for LinkedIn's export: nobody was added to the people the rep knows.
    assert (await stack.services.directory.contacts_of(TEAM, REQUESTER))[1] == 0


async def test_an_admins_csv_sets_owners_and_the_workspaces_list(stack: LocalStack) -> None:
    assert stack.services is not None
    report = await _share(stack, ADMIN, "accounts.csv", ACCOUNTS_CSV.encode())
    assert "*3* accounts added to your list and the workspace's" in report
    assert "1 account owner set, so intros there go through them first; 1 owner not set" in report
    assert "line 4: Initech: no teammate is someone@nowhere.example" in report
    async with stack.services.sessions() as session:
        owners = [(o.company_key, o.owner_id) for o in await session.scalars(select(AccountOwner))]
    assert owners == [("acme", CONNECTOR)]
    team = await stack.services.accounts.listed(TEAM, [WORKSPACE_LIST])
    assert [a.company for a in team] == ["Initech"]


async def test_an_unreadable_account_list_saves_nothing_and_says_why(stack: LocalStack) -> None:
    assert stack.services is not None
    content = b"Company\n" + b"a" * 70_000 + b"\n"
    report = await _share(stack, REQUESTER, "accounts.csv", content)
    assert "line 2 is longer than 65536 characters. Nothing was saved." in report
    assert await stack.services.accounts.listed(TEAM, [REQUESTER]) == []


async def test_forget_me_deletes_the_reps_list(stack: LocalStack) -> None:
    assert stack.services is not None
    await _command(stack, REQUESTER, "accounts add Acme")
    await _command(stack, REQUESTER, "forget me")
    assert await stack.services.accounts.listed(TEAM, [REQUESTER]) == []
