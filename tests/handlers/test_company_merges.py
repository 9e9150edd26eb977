"""Two spellings of a company an admin merged (`/intro company merge`) are one company
everywhere: routing to the account's owner and the form's suggestions among them."""

from __future__ import annotations

from bot.intro.contacts import ContactInput
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    OTHER,
    REQUESTER,
    SECOND,
    button,
    good_values,
    open_intro_modal,
    request_intro,
    submit,
)

TEAM = "T0FAKE"
ADMIN = "U0ADMIN"


async def _command(stack: LocalStack, user: str, text: str) -> str:
    """What introbot answers to `/intro <text>`, only to `user`."""
    assert stack.slack is not None
    before = len(stack.fake.responses)
    trigger = stack.fake.issue_trigger_id(user)
    status, body = await stack.slack.command(
        payloads.slash_command(user, text, trigger, response_url=stack.fake.response_url())
    )
    assert status == 200
    if body:  # answered in the ack
        return body
    await stack.until(lambda: len(stack.fake.responses) > before, f"the answer to {text}")
    answer: str = stack.fake.responses[-1]["body"]["text"]
    return answer


async def test_after_a_merge_an_ask_at_either_spelling_goes_through_the_accounts_owner(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    merged = await _command(stack, ADMIN, 'company merge "Acme" "Acme Logistics"')
    assert "*Acme Logistics* and *Acme* are now one company: intros at either" in merged
    assert "now go through" in await _command(stack, ADMIN, f"owner Acme <@{SECOND}|sam>")
    # A teammate who knows someone at ACME Inc. (not the person asked for).
    await stack.services.directory.add_contact(
        TEAM, OTHER, ContactInput("Bob Smith", "ACME Inc.", closeness="close")
    )

    await open_intro_modal(stack, text="Jane Doe (Acme Logistics)")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "suggestions")
    suggested = stack.fake.calls_to("views.update")[0].args["view"]
    assert button(suggested, "intro_pick_connector_1")["value"] == OTHER

    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values(target_company="Acme Logistics Inc."))
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(SECOND)) == 1, "the owner's card")
    assert "an account you own" in stack.fake.messages_for(SECOND)[0]["text"]
    assert stack.fake.messages_for(CONNECTOR) == []


async def test_once_unmerged_the_other_spelling_has_no_owner_again(stack: LocalStack) -> None:
    await _command(stack, ADMIN, 'company merge "Acme" "Acme Logistics"')
    await _command(stack, ADMIN, f"owner Acme <@{SECOND}|sam>")
    unmerged = await _command(stack, ADMIN, "company unmerge “Acme Logistics”")
    assert "*Acme Logistics* is its own company again" in unmerged
    await request_intro(stack, target_company="Acme Logistics")  # straight to the connector
    assert stack.fake.messages_for(SECOND) == []


async def test_only_admins_merge_and_an_admin_sees_and_undoes_the_merges(
    stack: LocalStack,
) -> None:
    refused = await _command(stack, REQUESTER, 'company merge "Acme" "Acme Logistics"')
    assert "Only workspace admins" in refused
    assert "No spellings are merged" in await _command(stack, ADMIN, "company")
    same = await _command(stack, ADMIN, "company merge Acme, ACME Inc.")
    assert "already one company" in same and "legal forms" in same
    await _command(stack, ADMIN, 'company merge "Acme" "Acme Logistics"')
    await _command(stack, ADMIN, 'company merge "Acme" "Acme Freight"')
    listed = await _command(stack, ADMIN, "company")
    assert "• *Acme*: also *Acme Freight*, *Acme Logistics*" in listed
    again = await _command(stack, ADMIN, 'company merge "Acme Logistics" "Acme Freight"')
    assert "merged before" in again
    parted = await _command(stack, ADMIN, "company unmerge Acme")
    assert "*Acme Freight*, *Acme Logistics* are each their own company again" in parted
    assert "isn't merged" in await _command(stack, ADMIN, "company unmerge Acme")
    usage = await _command(stack, ADMIN, "company merge Acme")
    assert '`/intro company merge "Acme" "Acme Logistics"`' in usage
    assert '`/intro company unmerge "Acme Logistics"` undoes it' in usage
