"""Steps of the intro flow, driven through the bot's real endpoint like Slack would."""

from __future__ import annotations

import json
from typing import Any

from bot.standin import payloads
from bot.standin.stack import LocalStack

REQUESTER = "U0REQUESTER"
CONNECTOR = "U0CONNECTOR"
OTHER = "U0OTHER"
SECOND = "U0SECOND"

GOOD_BLURB = (
    "Hi Jane, I'm Riya, I run partnerships at Northwind. We help logistics teams like "
    "Acme's cut cross-border delays by a third. Would you be open to a 20-minute call "
    "next week to compare notes?"
)

# The form's menus: a prefilled form reports them as chosen options, not typed values.
SELECTS = ("closeness", "share_name", "ask_size", "name_first_connector")


def good_values(**overrides: Any) -> dict[str, Any]:
    values = {
        "connector": CONNECTOR,
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "Acme is expanding into Europe and we solve exactly their customs problem.",
        "blurb": GOOD_BLURB,
        "closeness": "know_well",
    }
    values.update(overrides)
    return values


async def open_intro_modal(stack: LocalStack, user: str = REQUESTER, text: str = "") -> dict:
    assert stack.slack is not None
    before = stack.fake.count("views.open")
    trigger = stack.fake.issue_trigger_id(user)
    status, _ = await stack.slack.command(payloads.slash_command(user, text, trigger))
    assert status == 200
    await stack.until(lambda: stack.fake.count("views.open") > before, "views.open")
    call = stack.fake.calls_to("views.open")[-1]
    assert call.ok, call.error
    view: dict = call.args["view"]
    return view


def as_opened(stack: LocalStack, view: dict) -> dict:
    """The view as Slack holds it, with its id (a views.update or a view action names it).

    Found by its content, not as the latest view: a Home tab published meanwhile is newer.
    """
    return next(
        held
        for held in reversed(stack.fake.views.values())
        if held.get("callback_id") == view.get("callback_id") and held["blocks"] == view["blocks"]
    )


async def submit(
    stack: LocalStack, view: dict, values: dict[str, Any], user: str = REQUESTER
) -> tuple[int, str]:
    assert stack.slack is not None
    # A field whose block id carries a value ("connector:U1", a picked connector) is
    # submitted under that id, as Slack would.
    ids = [str(b["block_id"]) for b in view.get("blocks", []) if b.get("block_id")]
    keyed = {block_id.split(":", 1)[0]: block_id for block_id in ids}
    values = {keyed.get(name, name): value for name, value in values.items()}
    return await stack.slack.interaction(payloads.view_submission(user, view, values))


async def request_intro(stack: LocalStack, **overrides: Any) -> dict:
    """Open the modal and submit a good request; returns the connector's card message."""
    view = await open_intro_modal(stack)
    status, body = await submit(stack, view, good_values(**overrides))
    assert status == 200 and body == "", body
    connector = overrides.get("connector", CONNECTOR)
    await stack.until(lambda: len(stack.fake.messages_for(connector)) >= 1, "connector card")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) >= 1, "requester card")
    await stack.sends_recorded()
    return stack.fake.messages_for(connector)[-1]


def button(message: dict, action_id: str) -> dict:
    for block in message["blocks"]:
        for element in block.get("elements", []) + [block.get("accessory") or {}]:
            if element.get("action_id") == action_id:
                return element
    raise AssertionError(f"no {action_id} button in {message['blocks']}")


async def press(
    stack: LocalStack, user: str, message: dict, action_id: str, *, on_home: bool = False
) -> None:
    assert stack.slack is not None
    value = button(message, action_id)["value"]
    payload = payloads.block_action(
        user,
        action_id,
        value,
        stack.fake.issue_trigger_id(user),
        channel_id=message.get("channel"),
        message_ts=message.get("ts"),
        on_home=on_home,
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200


def card_text(message: dict) -> str:
    parts = []
    for block in message["blocks"]:
        text = block.get("text") or {}
        parts.append(text.get("text", ""))
        for item in block.get("fields", []) + block.get("elements", []):
            if isinstance(item, dict) and item.get("type") in ("mrkdwn", "plain_text"):
                parts.append(item.get("text", ""))
    return "\n".join(parts)


async def submit_coached(
    stack: LocalStack, view: dict, values: dict[str, Any], user: str = REQUESTER
) -> dict:
    """Submit words the form coaches: the answer is the form again, checked as Slack checks a
    view, with the suggestions under their fields and Send anyway. Returns that form (with
    the open view's id, as Slack keeps it)."""
    status, body = await submit(stack, view, values, user)
    assert status == 200 and body, body
    answer = json.loads(body)
    assert answer["response_action"] == "update", answer
    coached: dict = answer["view"]
    stack.fake._validate_view({"view": coached}, view_type="modal")
    assert coached["submit"]["text"] == "Send anyway"
    return {**coached, "id": view.get("id") or "V0COACHED"}


async def request_intro_anyway(stack: LocalStack, **overrides: Any) -> dict:
    """Like request_intro, for words the form coaches: seen once, sent as they are."""
    view = await open_intro_modal(stack)
    coached = await submit_coached(stack, view, good_values(**overrides))
    status, body = await submit(stack, coached, good_values(**overrides))
    assert status == 200 and body == "", body
    connector = overrides.get("connector", CONNECTOR)
    await stack.until(lambda: len(stack.fake.messages_for(connector)) >= 1, "connector card")
    await stack.sends_recorded()
    return stack.fake.messages_for(connector)[-1]
