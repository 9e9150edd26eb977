"""The target's side of the double opt-in through the signed endpoint and the fake Slack: the
connector's opt-in ask (anonymous unless allowed), the intro email with the requester's profile,
the named/anonymous switch, and "Mention my name"."""

from __future__ import annotations

import re

from bot.intro.contacts import ContactInput
from bot.standin import payloads
from bot.standin.stack import LocalStack
from tests.handlers.flow import CONNECTOR, REQUESTER, button, card_text, press, request_intro

TITLE = "Head of Partnerships"
EMAIL = "riya@northwind.test"


def _profile(stack: LocalStack) -> None:
    stack.fake.add_user(REQUESTER, name="riya", real_name="Riya Patel", title=TITLE, email=EMAIL)


def _block(message: dict, block_id: str) -> str:
    block = next(b for b in message["blocks"] if b.get("block_id") == block_id)
    return str(block["text"]["text"])


def _copyable(text: str) -> str:
    """The text inside a block's code fence: what the connector copies."""
    found = re.search(r"```(.*)```", text, re.DOTALL)
    assert found, text
    return found.group(1)


async def _accepted(stack: LocalStack, **overrides: str) -> dict:
    card = await request_intro(stack, **overrides)
    await press(stack, CONNECTOR, card, "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    await stack.until(
        lambda: any(
            b.get("block_id") == "optin_ask"
            for b in stack.fake.messages_for(CONNECTOR)[0]["blocks"]
        ),
        "the card with the script",
    )
    return stack.fake.messages_for(CONNECTOR)[0]


async def test_accepting_gives_an_anonymous_ask_and_the_intro_email(stack: LocalStack) -> None:
    _profile(stack)
    card = await _accepted(
        stack, reason="Riya (@riya, riya@northwind.test) solves exactly Acme's customs problem."
    )
    ask = _copyable(_block(card, "optin_ask"))
    assert ask.startswith(
        "Hi Jane, a colleague of mine asked me for an intro to you at Acme: they'd like a "
        "15-minute call. What's in it for you, as they put it: "
    )
    assert "No worries at all if not" in ask
    for identifying in ("Riya", "Patel", "@riya", EMAIL, REQUESTER, TITLE, "Partnerships"):
        assert identifying.lower() not in ask.lower()
    assert "solves exactly Acme's customs problem" in ask
    # The requester chose nothing: no switch to the named version, and the card says why.
    assert all(b.get("block_id") != "optin_ask_actions" for b in card["blocks"])
    assert "would rather not be named until Jane Doe agrees" in card_text(card)

    email = _copyable(_block(card, "intro_email"))
    assert email.startswith("Subject: Intro: Riya Patel &lt;&gt; Jane Doe (Acme)")
    assert "As promised, here is Riya Patel (cc'd). Riya, this is Jane Doe at Acme." in email
    assert f"Riya Patel\n{TITLE}\n{EMAIL}" in email
    assert "a one-line reply saying so is plenty" in email
    notice = card_text(stack.fake.messages_for(REQUESTER)[-1])
    assert "They'll ask without naming you." in notice
    assert stack.fake.broadcast_mentions == []


async def test_a_requester_who_allows_it_can_be_named_and_unnamed_again(stack: LocalStack) -> None:
    _profile(stack)
    card = await _accepted(stack, share_name="now")
    assert "Riya" not in _copyable(_block(card, "optin_ask"))  # still anonymous by default
    assert "They may name you when they ask." in card_text(stack.fake.messages_for(REQUESTER)[-1])

    await press(stack, CONNECTOR, card, "intro_ask_named")
    await stack.until(
        lambda: (
            "my colleague Riya Patel (Head of Partnerships)"
            in _block(stack.fake.messages_for(CONNECTOR)[0], "optin_ask")
        ),
        "named ask",
    )
    card = stack.fake.messages_for(CONNECTOR)[0]
    assert button(card, "intro_ask_anonymous")
    await press(stack, CONNECTOR, card, "intro_ask_anonymous")
    await stack.until(
        lambda: "a colleague of mine" in _block(stack.fake.messages_for(CONNECTOR)[0], "optin_ask"),
        "anonymous again",
    )


async def test_the_named_ask_is_refused_when_the_requester_did_not_allow_it(
    stack: LocalStack,
) -> None:
    card = await _accepted(stack)
    # A forged press (the card has no such button): the name stays out.
    forged = {
        "type": "button",
        "action_id": "intro_ask_named",
        "value": button(card, "intro_target_agreed")["value"],
    }
    card = {**card, "blocks": [*card["blocks"], {"type": "actions", "elements": [forged]}]}
    await press(stack, CONNECTOR, card, "intro_ask_named")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") >= 1, "refusal")
    assert "not to be named" in stack.fake.calls_to("chat.postEphemeral")[-1].args["text"]
    assert "Riya" not in _copyable(_block(stack.fake.messages_for(CONNECTOR)[0], "optin_ask"))


async def test_the_home_tab_carries_the_script_too(stack: LocalStack) -> None:
    card = await request_intro(stack)
    await press(stack, CONNECTOR, card, "intro_accept", on_home=True)
    await stack.until(lambda: stack.fake.count("views.publish") >= 1, "home published")

    def home_blocks() -> list[dict]:
        view = stack.fake.calls_to("views.publish")[-1].args["view"]
        return list(view["blocks"])

    await stack.until(
        lambda: any(str(b.get("block_id", "")).startswith("home_ask_") for b in home_blocks()),
        "home with the script",
    )
    ids = [b.get("block_id", "") for b in home_blocks()]
    ask_at = next(i for i, b in enumerate(ids) if str(b).startswith("home_ask_"))
    assert str(ids[ask_at + 1]).startswith("home_email_")  # each in its own block


async def test_mention_my_name_gives_the_requester_a_message_to_send(stack: LocalStack) -> None:
    _profile(stack)
    card = await request_intro(stack)
    # Nothing happens on the press but a question: how they know Jane, said in the message.
    await press(stack, CONNECTOR, card, "intro_mention_name")
    await stack.until(lambda: stack.fake.count("views.open") == 2, "the question")
    modal = stack.fake.calls_to("views.open")[-1].args["view"]
    assert modal["callback_id"] == "intro_mention_name_modal"
    assert len(stack.fake.messages_for(REQUESTER)) == 1
    assert stack.slack is not None
    how = "from DHL, where you worked together."
    await stack.slack.interaction(payloads.view_submission(CONNECTOR, modal, {"how_known": how}))
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "notice")
    notice = stack.fake.messages_for(REQUESTER)[-1]
    assert "won't make the intro to *Jane Doe* themselves" in card_text(notice)
    message = _copyable(_block(notice, "direct_message"))
    assert message.startswith("Subject: Jane, a 15-minute call about Acme?\n\nHi Jane,\n\n")
    # Who suggested it, said once; the note follows without its own greeting.
    assert (
        "Hi Jane,\n\nCarlos Mendes, a colleague of mine who knows you from DHL, where you "
        "worked together, suggested I get in touch.\n\n"
        "I'm Riya, I run partnerships" in message
    )
    assert message.count("Carlos Mendes") == 1 and message.count("Hi Jane") == 1
    assert message.endswith(f"Riya Patel\n{TITLE}\n{EMAIL}")
    await stack.until(
        lambda: (
            "You let them mention your name" in card_text(stack.fake.messages_for(CONNECTOR)[0])
        ),
        "card updated",
    )
    assert stack.fake.messages_for(CONNECTOR)[0]["blocks"][-1]["type"] != "actions"
    assert stack.services is not None
    report = await stack.services.attribution.report("T0FAKE")
    assert report.workspace.counts["name_mentioned"] == 1
    assert report.workspace.counts["accepted"] == 0


async def test_without_the_email_scope_the_intro_email_goes_without_it(stack: LocalStack) -> None:
    _profile(stack)
    stack.fake.scopes.remove("users:read.email")
    card = await _accepted(stack)
    email = _copyable(_block(card, "intro_email"))
    assert f"Riya Patel\n{TITLE}\n\nJane, if now" in email
    assert EMAIL not in email


async def _pick(stack: LocalStack, message: dict, answer: str) -> None:
    assert stack.slack is not None
    block = next(b for b in message["blocks"] if b.get("block_id") == "qualify")
    option = next(o for o in block["accessory"]["options"] if o["value"].endswith(f":{answer}"))
    payload = payloads.block_action(
        CONNECTOR,
        "intro_qualify",
        "",
        stack.fake.issue_trigger_id(CONNECTOR),
        channel_id=message.get("channel"),
        message_ts=message.get("ts"),
        selected_option=option,
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200


async def test_the_connector_qualifies_the_tie_and_not_really_suggests_another_path(
    stack: LocalStack,
) -> None:
    card = await request_intro(stack)
    text = card_text(card)
    assert "*How well <@U0REQUESTER> thinks you know them*\nKnow them well" in text
    assert "*Would Jane Doe take your call?*" in text

    await _pick(stack, card, "not_really")
    await stack.until(
        lambda: "may not land" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "the hint"
    )
    card = stack.fake.messages_for(CONNECTOR)[0]
    qualify = next(b for b in card["blocks"] if b.get("block_id") == "qualify")
    assert qualify["accessory"]["initial_option"]["text"]["text"] == "Not really"
    assert stack.services is not None
    request = (await stack.services.workflow.requests_by("T0FAKE", REQUESTER))[0]
    assert request.connector_closeness == "not_really"
    tie = await stack.services.directory.tie("T0FAKE", CONNECTOR, "Jane Doe", "Acme")
    assert tie is not None and tie.closeness == "not_sure"

    await _pick(stack, card, "well")  # they think again: the entry follows
    await stack.until(
        lambda: "may not land" not in card_text(stack.fake.messages_for(CONNECTOR)[0]), "hint gone"
    )
    tie = await stack.services.directory.tie("T0FAKE", CONNECTOR, "Jane Doe", "Acme")
    assert tie is not None and tie.closeness == "know_well"
    await press(stack, CONNECTOR, stack.fake.messages_for(CONNECTOR)[0], "intro_accept")
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "accept notice")
    request = (await stack.services.workflow.requests_by("T0FAKE", REQUESTER))[0]
    assert (request.status, request.connector_closeness) == ("checking_with_target", "well")

    # Once accepted, the question is settled: a late pick changes nothing.
    await _pick(stack, card, "not_really")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") >= 1, "refusal")
    request = (await stack.services.workflow.requests_by("T0FAKE", REQUESTER))[0]
    assert request.connector_closeness == "well"


async def test_qualifying_an_emailed_tie_updates_it_in_place(stack: LocalStack) -> None:
    """The connector's recorded tie has an email (kept only as a hash): their answer updates
    that entry rather than adding a second one keyed by name."""
    assert stack.services is not None
    directory = stack.services.directory
    await directory.add_contact(
        "T0FAKE", CONNECTOR, ContactInput("Jane Doe", "Acme", email="jane@acme.com")
    )
    card = await request_intro(stack)
    await _pick(stack, card, "not_really")
    await stack.until(
        lambda: "may not land" in card_text(stack.fake.messages_for(CONNECTOR)[0]), "the hint"
    )
    contacts, total = await directory.contacts_of("T0FAKE", CONNECTOR)
    assert total == 1 and contacts[0].closeness == "not_sure"
    assert contacts[0].email_hash
