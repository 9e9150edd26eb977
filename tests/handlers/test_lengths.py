"""Text that would not fit where it is stored is refused where it enters, with a clear message:
never cut short silently, never a database error."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import AccountOwner, ConnectorPrefs, Contact
from tests.handlers.flow import OTHER

ADMIN = "U0ADMIN"


async def _command(stack: LocalStack, user: str, text: str) -> str:
    assert stack.slack is not None
    fields = payloads.slash_command(
        user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
    )
    status, body = await stack.slack.command(fields)
    assert status == 200
    return body


async def _count(stack: LocalStack, model: type) -> int:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _home_modal(stack: LocalStack, user: str, action_id: str) -> dict:
    assert stack.slack is not None
    before = stack.fake.count("views.open")
    payload = payloads.block_action(
        user, action_id, "", stack.fake.issue_trigger_id(user), on_home=True
    )
    await stack.slack.interaction(payload)
    await stack.until(lambda: stack.fake.count("views.open") > before, "the modal")
    view: dict = stack.fake.calls_to("views.open")[-1].args["view"]
    return view


async def test_know_with_a_name_too_long_says_so_and_stores_nothing(stack: LocalStack) -> None:
    body = await _command(stack, OTHER, "know " + "J" * 500 + " at Acme")
    assert "500 characters; keep it to 200" in body
    assert await _count(stack, Contact) == 0


async def test_know_with_a_company_too_long_says_so(stack: LocalStack) -> None:
    body = await _command(stack, OTHER, "know Jane Doe at " + "A" * 201)
    assert "The company is 201 characters" in body
    assert await _count(stack, Contact) == 0


async def test_know_keeps_a_name_whose_folded_form_is_long(stack: LocalStack) -> None:
    """Folding (ligatures, accents) can make the matching key longer than the name typed."""
    name = "ﬃ" * 150 + " Doe"
    body = await _command(stack, OTHER, f"know {name} at " + "ﬃ" * 150)
    assert "Added" in body
    assert stack.services is not None
    async with stack.services.sessions() as session:
        stored = await session.scalar(select(Contact))
    assert stored is not None and stored.name == name


async def test_the_contact_form_answers_each_field_too_long_inline(stack: LocalStack) -> None:
    assert stack.slack is not None
    view = await _home_modal(stack, OTHER, "intro_contact_add")
    values = {"name": "Jane Doe", "title": "T" * 201, "email": "not-an-email"}
    status, body = await stack.slack.interaction(payloads.view_submission(OTHER, view, values))
    assert status == 200
    errors = json.loads(body)["errors"]
    assert "201 characters" in errors["title"] and "email" in errors["email"]
    assert await _count(stack, Contact) == 0


async def test_owner_with_a_company_too_long_says_so(stack: LocalStack) -> None:
    await _command(stack, ADMIN, "owner " + "A" * 300 + f" <@{OTHER}>")
    await stack.until(lambda: len(stack.fake.responses) == 1, "the reply")
    assert "300 characters" in stack.fake.responses[0]["body"]["text"]
    assert await _count(stack, AccountOwner) == 0


async def test_pacing_with_a_company_too_long_is_answered_inline(stack: LocalStack) -> None:
    assert stack.slack is not None
    view = await _home_modal(stack, OTHER, "intro_pacing_open")
    values = {"blocked_companies": "Acme\n" + "G" * 250}
    status, body = await stack.slack.interaction(payloads.view_submission(OTHER, view, values))
    assert status == 200
    assert "250 characters" in json.loads(body)["errors"]["blocked_companies"]
    assert await _count(stack, ConnectorPrefs) == 0
