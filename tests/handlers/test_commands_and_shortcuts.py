"""/intro and the "Request an intro" message shortcut."""

from __future__ import annotations

from bot.intro import command_text
from bot.intro.contacts import ContactInput
from bot.standin import payloads
from bot.standin.stack import LocalStack
from handlers import commands
from tests.handlers.flow import CONNECTOR, card_text, good_values, submit


def _initial(view: dict, block_id: str) -> str:
    block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
    return str(block["element"].get("initial_value", ""))


async def _shortcut(stack: LocalStack, text: str) -> dict:
    assert stack.slack is not None
    ts = stack.fake.add_message("C0DEALS", text)
    payload = payloads.message_shortcut(
        "U0REQUESTER", text, stack.fake.issue_trigger_id("U0REQUESTER"), ts=ts
    )
    status, body = await stack.slack.interaction(payload)
    assert (status, body) == (200, "")
    await stack.until(lambda: stack.fake.count("views.open") == 1, "modal")
    call = stack.fake.calls_to("views.open")[0]
    assert call.ok, call.error
    view: dict = call.args["view"]
    return view


async def test_slash_command_acks_with_an_empty_body(stack: LocalStack) -> None:
    assert stack.slack is not None
    status, body = await stack.slack.command(
        payloads.slash_command("U0REQUESTER", "", stack.fake.issue_trigger_id("U0REQUESTER"))
    )
    assert (status, body) == (200, "")
    await stack.until(lambda: stack.fake.count("views.open") == 1, "modal")


async def test_expired_trigger_is_reported_to_the_user(stack: LocalStack) -> None:
    assert stack.slack is not None
    stack.fake.trigger_ttl = 0.0  # as if Slack's 3 seconds had passed
    command = payloads.slash_command(
        "U0REQUESTER",
        "",
        stack.fake.issue_trigger_id("U0REQUESTER"),
        response_url=stack.fake.response_url(),
    )
    await stack.slack.command(command)
    await stack.until(lambda: len(stack.fake.responses) == 1, "an ephemeral reply")
    assert stack.fake.calls_to("views.open")[0].error == "expired_trigger_id"
    assert "try again" in stack.fake.responses[0]["body"]["text"]


async def test_shortcut_prefills_a_name_found_in_the_message(stack: LocalStack) -> None:
    view = await _shortcut(stack, "Does anyone know Jane Doe at Acme? We're pitching Friday.")
    assert _initial(view, "target_name") == "Jane Doe"


async def test_shortcut_prefills_a_mentioned_user_by_real_name(stack: LocalStack) -> None:
    view = await _shortcut(stack, "<@U0OTHER> is the buyer at Globex")
    assert _initial(view, "target_name") == "Olivia Chen"


async def test_shortcut_keeps_the_message_permalink_as_context(stack: LocalStack) -> None:
    view = await _shortcut(stack, "Can someone get me in front of Jane Doe?")
    await submit(stack, view, good_values())
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "card")
    card = card_text(stack.fake.messages_for(CONNECTOR)[0])
    ts = stack.fake.calls_to("chat.getPermalink")[0].args["message_ts"]
    assert f"archives/C0DEALS/p{ts.replace('.', '')}|The message this came from" in card


async def test_a_permalink_that_cannot_be_had_loses_nothing(stack: LocalStack) -> None:
    """The form closed at the ack: the request is stored and sent without the message's link."""
    view = await _shortcut(stack, "Can someone get me in front of Jane Doe?")
    # Slack unreachable for the lookup, however often the app's client retries.
    stack.fake.fail_next("chat.getPermalink", reset_connection=True, times=10)
    await submit(stack, view, good_values())
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "card")
    card = card_text(stack.fake.messages_for(CONNECTOR)[0])
    assert "Jane Doe" in card and "The message this came from" not in card


async def test_the_shortcut_shows_who_knows_them_under_the_message_hint(
    stack: LocalStack,
) -> None:
    assert stack.services is not None
    await stack.services.directory.add_contact(
        "T0FAKE", CONNECTOR, ContactInput("Jane Doe", "Acme", closeness="close")
    )
    opened = await _shortcut(stack, "Can someone get me in front of Jane Doe?")
    await stack.until(lambda: stack.fake.count("views.update") == 1, "suggestions")
    updated = stack.fake.calls_to("views.update")[0].args["view"]
    ids = [b.get("block_id") for b in updated["blocks"]]
    assert ids[0] == "source_hint" and ids[2] == "suggestion_1"
    assert f"<@{CONNECTOR}>" in updated["blocks"][2]["text"]["text"]
    # The form's context (where it came from) and the rest of it as opened.
    assert updated["private_metadata"] == opened["private_metadata"]
    assert updated["blocks"][:1] + updated["blocks"][3:] == opened["blocks"]


async def test_a_mistyped_sub_command_is_answered_with_what_was_meant(stack: LocalStack) -> None:
    assert stack.slack is not None
    fields = payloads.slash_command("U0REQUESTER", "stat", stack.fake.issue_trigger_id("x"))
    status, body = await stack.slack.command(fields)
    assert status == 200
    assert "Did you mean `/intro stats`?" in body and "`/intro request stat`" in body
    assert stack.fake.count("views.open") == 0
    fields = payloads.slash_command("U0REQUESTER", "pacing", stack.fake.issue_trigger_id("x"))
    _, body = await stack.slack.command(fields)
    assert "`/intro pacing strict` or `/intro pacing gentle`" in body


async def test_a_name_that_is_a_sub_command_can_still_be_asked_for(stack: LocalStack) -> None:
    assert stack.slack is not None
    trigger = stack.fake.issue_trigger_id("U0REQUESTER")
    fields = payloads.slash_command("U0REQUESTER", "request Stat Jones", trigger)
    assert await stack.slack.command(fields) == (200, "")
    await stack.until(lambda: stack.fake.count("views.open") == 1, "the form")
    assert _initial(stack.fake.calls_to("views.open")[0].args["view"], "target_name") == (
        "Stat Jones"
    )


async def test_help_fits_where_it_is_asked(stack: LocalStack) -> None:
    assert stack.slack is not None
    in_channel = payloads.slash_command("U0REQUESTER", "help", "t", channel_id="C0GENERAL")
    _, body = await stack.slack.command(in_channel)
    assert "in this DM" not in body and "in a DM to me" in body
    in_dm = payloads.slash_command("U0REQUESTER", "help", "t", channel_id="D0REQUESTER")
    _, body = await stack.slack.command(in_dm)
    assert "the .zip LinkedIn sent you, here." in body
    assert all(f"`/intro {verb}" in body for verb in ("know", "stats", "request", "owner"))


def test_every_sub_command_the_text_can_name_has_one_answer() -> None:
    verbs = {*command_text.SUB_COMMANDS, "usage"}
    answered = set(commands.SUB_COMMANDS) | set(commands.ADMIN_COMMANDS)
    assert answered == verbs
    assert not set(commands.SUB_COMMANDS) & set(commands.ADMIN_COMMANDS)
