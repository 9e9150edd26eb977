"""The yardstick's measuring variants (bench/variants.py) still take out what they name.

A variant that patches a method renamed since would measure nothing and report a saving of
zero; these fail instead. The submissions run through the real endpoint on the test database
(PostgreSQL with TEST_DATABASE_URL, as the benchmark runs).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from bench import variants
from bot.standin.stack import LocalStack
from storage.models import IntroRequest
from tests.handlers.flow import (
    CONNECTOR,
    GOOD_BLURB,
    REQUESTER,
    good_values,
    open_intro_modal,
    submit,
)


@pytest.fixture(autouse=True)
def undone() -> Iterator[None]:
    yield
    variants.undo()


def test_every_variant_names_its_seams() -> None:
    assert set(variants.SEAMS) == set(variants.VARIANTS)


@pytest.mark.parametrize("name", sorted(variants.VARIANTS))
def test_each_variant_replaces_seams_that_exist_and_takes_what_they_take(name: str) -> None:
    originals = [variants.resolve(module, path)[2] for module, path in variants.SEAMS[name]]
    variants.VARIANTS[name]()
    for (module, path), original in zip(variants.SEAMS[name], originals, strict=True):
        patched = variants.resolve(module, path)[2]
        assert callable(original)
        assert patched is not original, f"{name} left {module}.{path} as it was"
        # Every argument the code passes the original is one the replacement takes.
        taken = inspect.signature(patched, follow_wrapped=False).parameters
        open_ended = {p.kind for p in taken.values()} >= {
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        }
        if not open_ended:
            assert list(inspect.signature(original).parameters) == list(taken)
    variants.undo()
    assert [variants.resolve(m, p)[2] for m, p in variants.SEAMS[name]] == originals


def test_a_seam_gone_stops_the_variant_naming_it() -> None:
    with pytest.raises(SystemExit, match=r"bot\.intro\.directory\.Directory\.review_gone"):
        variants.resolve("bot.intro.directory", "Directory.review_gone")


async def _stored(stack: LocalStack) -> list[IntroRequest]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        return list(await session.scalars(select(IntroRequest).order_by(IntroRequest.id)))


async def _ask(stack: LocalStack, **overrides: str) -> None:
    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values(**overrides))
    assert (status, body) == (200, ""), body


async def test_without_the_review_a_second_ask_for_the_same_person_is_stored_too(
    stack: LocalStack,
) -> None:
    # The review refuses the requester's second open ask for Jane Doe; with it taken out,
    # nothing objects and each submission goes straight to its write and its two cards.
    variants.skip_review()
    await _ask(stack)
    await _ask(stack)
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 2, "both cards")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "both cards")
    stored = await _stored(stack)
    assert [(r.requester_id, r.connector_id, r.target_name) for r in stored] == [
        (REQUESTER, CONNECTOR, "Jane Doe")
    ] * 2


def _cards(stack: LocalStack, count: int) -> Callable[[], bool]:
    return lambda: len(stack.fake.messages_for(CONNECTOR)) == count


async def test_rendered_once_sends_the_first_card_of_a_kind_and_state_again(
    stack: LocalStack,
) -> None:
    variants.rendered_once()
    people = (("Jane Doe", "Acme"), ("Kim Lee", "Globex"), ("Ana Ruiz", "Initech"))
    for sent, (name, company) in enumerate(people, 1):
        blurb = GOOD_BLURB.replace("Jane", name.split()[0]).replace("Acme", company)
        await _ask(stack, target_name=name, target_company=company, blurb=blurb)
        # Each card out before the next ask, so they are rendered in the asks' order.
        await stack.until(_cards(stack, sent), "the card")
    # The first ask's card may have no history of asks between the two to show where the
    # later ones do (on PostgreSQL the statement writing an ask reads it): a state of its
    # own, rendered once too. The third is sent as the second was, whatever its person.
    first, second, third = stack.fake.messages_for(CONNECTOR)
    assert "Jane Doe" in first["text"] and "Ana Ruiz" not in third["text"]
    assert (third["text"], third["blocks"]) == (second["text"], second["blocks"])
    assert [r.target_name for r in await _stored(stack)] == ["Jane Doe", "Kim Lee", "Ana Ruiz"]
