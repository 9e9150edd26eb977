"""The connector's and requester's buttons, the modals they open, stale and racing presses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import (
    CONNECTOR,
    REQUESTER,
    SECOND,
    SELECTS,
    button,
    card_text,
    press,
    request_intro,
)


async def _submit_modal(stack: LocalStack, user: str, values: dict[str, str]) -> str:
    assert stack.slack is not None
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    _, body = await stack.slack.interaction(payloads.view_submission(user, view, values))
    return body


async def test_decline_with_reason_tells_the_requester_kindly(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_decline")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "decline modal")
    await _submit_modal(stack, CONNECTOR, {"reason": "I haven't spoken to Jane in years."})
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "notice")
    notice = card_text(stack.fake.messages_for(REQUESTER)[-1])
    assert "can't make the intro" in notice and "spoken to Jane in years" in notice
    await stack.until(
        lambda: "You declined" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "card"
    )
    assert stack.fake.messages_for(CONNECTOR)[0]["blocks"][-1]["type"] != "actions"


async def test_redirect_lets_the_requester_choose_to_ask_the_suggested_teammate(
    stack: LocalStack,
) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_redirect")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "redirect modal")
    await _submit_modal(stack, CONNECTOR, {"suggested_user": SECOND, "note": "Sam knows her."})
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "notice")
    notice = stack.fake.messages_for(REQUESTER)[-1]
    assert f"<@{SECOND}>" in card_text(notice)
    assert stack.fake.messages_for(SECOND) == []  # the requester decides whether to ask

    await press(stack, REQUESTER, notice, "intro_ask_suggested")
    await stack.until(lambda: stack.fake.count("views.open") == 3, "prefilled modal")
    view = stack.fake.calls_to("views.open")[-1].args["view"]
    connector_block = next(
        b for b in view["blocks"] if str(b.get("block_id", "")).startswith("connector")
    )
    assert connector_block["element"]["initial_user"] == SECOND
    values = {
        b["block_id"]: b["element"].get("initial_value") or b["element"].get("initial_user")
        for b in view["blocks"]
        if b.get("type") == "input" and b["block_id"] not in SELECTS
    }
    body = await _submit_modal(stack, REQUESTER, values)
    assert body == ""
    await stack.until(lambda: len(stack.fake.messages_for(SECOND)) == 1, "card for Sam")
    assert stack.services is not None
    requests = await stack.services.workflow.requests_by("T0FAKE", REQUESTER)
    assert requests[0].connector_id == SECOND and requests[0].previous_request_id == requests[1].id


async def test_redirect_to_a_bot_is_refused_inline(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_redirect")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "redirect modal")
    body = await _submit_modal(stack, CONNECTOR, {"suggested_user": "U0SOMEBOT"})
    assert '"response_action": "errors"' in body or '"response_action":"errors"' in body


async def test_requester_cancels_and_the_connector_card_says_so(stack: LocalStack) -> None:
    await request_intro(stack)
    confirmation = stack.fake.messages_for(REQUESTER)[0]
    await press(stack, REQUESTER, confirmation, "intro_cancel")
    await stack.until(
        lambda: "Cancelled" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "card update"
    )
    card = stack.fake.messages_for(CONNECTOR)[0]
    assert all(block["type"] != "actions" for block in card["blocks"])


async def test_connector_cannot_cancel_and_requester_cannot_accept(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, REQUESTER, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "note")
    assert "Only <@U0CONNECTOR>" in stack.fake.messages_for(REQUESTER)[-1]["text"]
    assert "Over to you*: Accept, decline" in card_text(stack.fake.messages_for(CONNECTOR)[0])


async def test_double_click_changes_nothing_and_says_so(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.ephemerals) == 1, "stale note")
    assert "button is out of date" in stack.fake.ephemerals[0]["text"]
    assert "It was accepted, and the target is being asked." in stack.fake.ephemerals[0]["text"]
    assert len(stack.fake.messages_for(REQUESTER)) == 2


async def test_racing_presses_apply_once(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await asyncio.gather(*(press(stack, CONNECTOR, card, "intro_accept") for _ in range(8)))
    await stack.until(lambda: len(stack.fake.ephemerals) == 7, "seven stale notes")
    assert stack.services is not None
    await stack.services.work.drain()
    notices = [m for m in stack.fake.messages_for(REQUESTER) if "accepted" in m["text"]]
    assert len(notices) == 1


async def _cards_awaiting_the_connector(stack: LocalStack, count: int) -> list[dict]:
    """`count` requests (for different people) delivered: the connector's cards."""
    assert stack.services is not None
    for n in range(count):
        await request_intro(stack, target_name=f"Jane Doe{n}")
    await stack.services.work.drain()
    cards = stack.fake.messages_for(CONNECTOR)
    assert len(cards) == count
    return cards


def _accepted_notices(stack: LocalStack) -> list[dict]:
    return [m for m in stack.fake.messages_for(REQUESTER) if "accepted" in m["text"]]


async def test_work_after_the_ack_waits_for_a_slot_but_the_ack_does_not(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert stack.services is not None
    services = stack.services
    cards = await _cards_awaiting_the_connector(stack, 4)
    monkeypatch.setattr(services.work, "slots", asyncio.Semaphore(1))
    working, most, release = 0, 0, asyncio.Event()
    act = services.workflow.act

    async def slow_act(*args: Any, **kwargs: Any) -> Any:
        nonlocal working, most
        working += 1
        most = max(most, working)
        await release.wait()
        try:
            return await act(*args, **kwargs)
        finally:
            working -= 1

    monkeypatch.setattr(services.workflow, "act", slow_act)
    # Every press is acked (press() checks the 200) while the first one's work is held up.
    await asyncio.gather(*(press(stack, CONNECTOR, card, "intro_accept") for card in cards))
    assert working == 1
    release.set()
    await services.work.drain()
    assert most == 1
    assert len(_accepted_notices(stack)) == 4


async def test_above_the_queue_limit_the_ack_waits_for_room(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Back-pressure: a burst far above capacity slows its senders instead of piling up."""
    assert stack.services is not None
    services = stack.services
    cards = await _cards_awaiting_the_connector(stack, 3)
    slots = asyncio.Semaphore(0)  # every slot busy
    monkeypatch.setattr(services.work, "slots", slots)
    monkeypatch.setattr(services.work, "queue_limit", 2)
    monkeypatch.setattr(services.work, "ack_hold_seconds", 30.0)
    await asyncio.gather(*(press(stack, CONNECTOR, card, "intro_accept") for card in cards[:2]))
    assert services.work.queued == 2
    third = asyncio.create_task(press(stack, CONNECTOR, cards[2], "intro_accept"))
    await asyncio.sleep(0.3)
    assert not third.done()  # its ack is held: the queue is full
    slots.release()  # one request starts working: room for one more
    await asyncio.wait_for(third, 5)
    for _ in range(2):
        slots.release()
    await services.work.drain()
    assert len(_accepted_notices(stack)) == 3


async def test_app_home_first_time_then_with_requests(stack: LocalStack) -> None:
    assert stack.slack is not None
    await stack.slack.event(payloads.app_home_opened(CONNECTOR))
    await stack.until(lambda: CONNECTOR in stack.fake.home_views, "home")
    assert "How to start" in str(stack.fake.home_views[CONNECTOR])

    await request_intro(stack)
    await stack.slack.event(payloads.app_home_opened(CONNECTOR))
    await stack.until(
        lambda: "intro_accept" in str(stack.fake.home_views[CONNECTOR]), "home with the ask"
    )
    home = stack.fake.home_views[CONNECTOR]
    assert "How to start" not in str(home)
    accept = button(home, "intro_accept")
    await press(
        stack, CONNECTOR, {"blocks": [{"elements": [accept]}]}, "intro_accept", on_home=True
    )
    await stack.until(
        lambda: "They agreed" in str(stack.fake.home_views[CONNECTOR]), "home republished"
    )
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")


async def test_requester_home_lists_my_requests_with_status(stack: LocalStack) -> None:
    assert stack.slack is not None
    await request_intro(stack)
    await stack.slack.event(payloads.app_home_opened(REQUESTER))
    await stack.until(lambda: REQUESTER in stack.fake.home_views, "home")
    home = str(stack.fake.home_views[REQUESTER])
    assert "Jane Doe" in home and "Waiting for an answer" in home
    assert "intro_cancel" in home


async def test_people_are_looked_up_once_not_once_per_request(stack: LocalStack) -> None:
    """Bolt builds a Web API client per request: the users.info cache outlives them."""
    await request_intro(stack, target_name="Jane Doe")
    looked_up = stack.fake.count("users.info")
    assert looked_up >= 2  # the requester and the connector, before the first ack
    await request_intro(stack, target_name="Jane Poe")
    assert stack.fake.count("users.info") == looked_up


async def test_a_note_refused_with_an_error_page_falls_back_to_a_dm(stack: LocalStack) -> None:
    """Slack (or a proxy) answering a 5xx with a text page must not crash the fallback."""
    assert stack.slack is not None
    # Once for the call and once for each retry of the app's client.
    stack.fake.fail_next(
        "chat.postEphemeral", status=502, raw_body=("text/plain", "Bad Gateway"), times=3
    )
    payload = payloads.block_action(
        "U0OTHER", "intro_accept", "not-a-number", "t", channel_id="C0DEALS", message_ts="1.0"
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.until(lambda: len(stack.fake.messages_for("U0OTHER")) == 1, "the note as a DM")
    assert "no longer exists" in stack.fake.messages_for("U0OTHER")[0]["text"]


async def test_an_events_work_waits_for_a_slot_like_any_other(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bolt acks an event before its listener runs; the Home tab's work still takes a slot."""
    assert stack.slack is not None and stack.services is not None
    slots = asyncio.Semaphore(0)  # every slot busy
    monkeypatch.setattr(stack.services.work, "slots", slots)
    status, _ = await stack.slack.event(payloads.app_home_opened(REQUESTER))
    assert status == 200
    await asyncio.sleep(0.3)
    assert stack.fake.count("views.publish") == 0
    slots.release()
    await stack.until(lambda: stack.fake.count("views.publish") == 1, "the Home tab")
