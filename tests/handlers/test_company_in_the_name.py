"""A company written into the name ("Jane Doe (Acme)", Company left blank) is the company for
every rule, not only for suggestions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.standin.stack import LocalStack
from storage.models import IntroRequest
from tests.handlers.flow import CONNECTOR, REQUESTER, SECOND, good_values, open_intro_modal, submit

TEAM = "T0FAKE"


@pytest.mark.parametrize("typed", ["Jane Doe (Acme)", "Jane Doe at Acme"])
async def test_the_account_owner_is_asked_first(stack: LocalStack, typed: str) -> None:
    assert stack.services is not None
    await stack.services.directory.set_account_owner(TEAM, "Acme", SECOND)
    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values(target_name=typed, target_company=""))
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(SECOND)) == 1, "the owner's card")
    assert "an account you own" in stack.fake.messages_for(SECOND)[0]["text"]
    assert stack.fake.messages_for(CONNECTOR) == []
    async with stack.services.sessions() as session:
        stored = await session.scalar(select(IntroRequest))
    assert stored is not None
    assert (stored.target_name, stored.target_company) == ("Jane Doe", "Acme")


async def test_a_connector_who_asked_not_about_the_company_is_not_asked(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    directory = stack.services.directory
    prefs = await directory.prefs(TEAM, CONNECTOR)
    prefs.blocked_companies = ["Acme"]
    await directory.save_prefs(prefs)
    await directory.set_enforce_pacing(TEAM, True)
    view = await open_intro_modal(stack, REQUESTER)
    _, body = await submit(
        stack, view, good_values(target_name="Jane Doe (Acme)", target_company="")
    )
    assert "asked not to be asked about Acme" in json.loads(body)["errors"]["connector"]
