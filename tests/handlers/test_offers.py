"""A connector offers an intro, through the signed endpoint and the fake Slack: `/intro offer`
and the Home tab's form, the rep's DM, Take it (the form prefilled, the request starting with
the connector checking with the target) and No thanks."""

from __future__ import annotations

from sqlalchemy import select

from bot.intro.states import OfferStatus, Status
from bot.standin import payloads
from bot.standin.stack import LocalStack
from storage.models import IntroOffer, IntroRequest, RequestEvent
from tests.handlers.flow import (
    CONNECTOR,
    GOOD_BLURB,
    OTHER,
    REQUESTER,
    button,
    card_text,
    press,
    request_intro,
    submit,
)

MENTION = f"<@{REQUESTER}|riya>"


async def _command(stack: LocalStack, user: str, text: str) -> str:
    """Run `/intro <text>` as `user`; the ephemeral reply."""
    assert stack.slack is not None
    before = len(stack.fake.responses)
    command = payloads.slash_command(
        user, text, stack.fake.issue_trigger_id(user), response_url=stack.fake.response_url()
    )
    status, body = await stack.slack.command(command)
    assert status == 200
    if body:  # answered in the acknowledgement
        return body
    await stack.until(lambda: len(stack.fake.responses) > before, "the reply")
    reply = stack.fake.responses[-1]["body"]
    return "\n".join([str(reply["text"]), card_text({"blocks": reply.get("blocks") or []})])


async def _offered(stack: LocalStack, text: str = f"offer {MENTION} Jane Doe at Acme") -> dict:
    """The connector offers; the rep's DM."""
    reply = await _command(stack, CONNECTOR, text)
    assert f"I've sent <@{REQUESTER}> your offer of an intro to *Jane Doe* at *Acme*" in reply
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 1, "the offer")
    return stack.fake.messages_for(REQUESTER)[0]


async def _take(stack: LocalStack, offer_card: dict) -> dict:
    """Take it: the form that opens."""
    before = stack.fake.count("views.open")
    await press(stack, REQUESTER, offer_card, "intro_offer_take")
    await stack.until(lambda: stack.fake.count("views.open") > before, "the form")
    call = stack.fake.calls_to("views.open")[-1]
    assert call.ok, call.error
    view: dict = call.args["view"]
    return view


def _block(view: dict, prefix: str) -> dict:
    return next(b for b in view["blocks"] if str(b.get("block_id", "")).startswith(prefix))


async def _stored(stack: LocalStack) -> tuple[list[IntroOffer], list[IntroRequest]]:
    assert stack.services is not None
    async with stack.services.sessions() as session:
        offers = list(await session.scalars(select(IntroOffer).order_by(IntroOffer.id)))
        requests = list(await session.scalars(select(IntroRequest).order_by(IntroRequest.id)))
    return offers, requests


async def test_an_offer_taken_becomes_a_request_the_connector_is_checking(
    stack: LocalStack,
) -> None:
    card = await _offered(stack)
    assert f"<@{CONNECTOR}> knows *Jane Doe* at *Acme* and offers to introduce you" in card_text(
        card
    )
    assert button(card, "intro_offer_pass")

    view = await _take(stack, card)
    connector_block = _block(view, "connector")
    assert connector_block["element"]["initial_user"] == CONNECTOR
    assert _block(view, "target_name")["element"]["initial_value"] == "Jane Doe"
    assert _block(view, "target_company")["element"]["initial_value"] == "Acme"
    assert f"<@{CONNECTOR}> offered this intro" in str(_block(view, "offer_hint"))

    values = {
        connector_block["block_id"]: CONNECTOR,
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "Acme is expanding into Europe and we solve their customs problem.",
        "blurb": GOOD_BLURB,
    }
    status, body = await submit(stack, view, values)
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")
    connector_card = stack.fake.messages_for(CONNECTOR)[0]
    assert any(b.get("block_id") == "optin_ask" for b in connector_card["blocks"])
    assert any(b.get("block_id") == "intro_email" for b in connector_card["blocks"])
    assert button(connector_card, "intro_target_agreed")
    assert "Over to you" in card_text(connector_card)
    assert f"<@{REQUESTER}> took your offer of an intro to *Jane Doe* at *Acme*." in card_text(
        connector_card
    )
    assert "thinks you know them" not in card_text(connector_card)
    await stack.until(lambda: len(stack.fake.messages_for(REQUESTER)) == 2, "requester card")
    await stack.until(
        lambda: "You took" in card_text(stack.fake.messages_for(REQUESTER)[0]), "offer updated"
    )
    assert "is asking Jane Doe whether they'd like the intro" in card_text(
        stack.fake.messages_for(REQUESTER)[1]
    )
    offers, requests = await _stored(stack)
    assert [(o.status, o.request_id) for o in offers] == [(OfferStatus.TAKEN, requests[0].id)]
    assert [r.status for r in requests] == [Status.CHECKING_WITH_TARGET]
    assert stack.services is not None
    async with stack.services.sessions() as session:
        events = list(await session.scalars(select(RequestEvent).order_by(RequestEvent.id)))
    assert [(e.action, e.actor_id, e.to_status) for e in events] == [
        ("submit", REQUESTER, Status.AWAITING_CONNECTOR),
        ("accept", CONNECTOR, Status.CHECKING_WITH_TARGET),
    ]

    # A second press of the old card's Take it makes nothing: the rep is told.
    await press(stack, REQUESTER, card, "intro_offer_take")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") >= 1, "refusal")
    assert (
        "You took this offer already" in stack.fake.calls_to("chat.postEphemeral")[-1].args["text"]
    )

    # Then the double opt-in runs as for any request.
    await press(stack, CONNECTOR, connector_card, "intro_target_agreed")
    await stack.until(
        lambda: any(":tada:" in card_text(m) for m in stack.fake.messages_for(REQUESTER)),
        "intro made",
    )
    _, requests = await _stored(stack)
    assert requests[0].status == Status.INTRO_MADE
    assert "Intros offered by connectors *1* · taken *1*" in await _command(
        stack, CONNECTOR, "stats"
    )


async def test_two_forms_from_one_offer_make_one_request(stack: LocalStack) -> None:
    card = await _offered(stack)
    first, second = await _take(stack, card), await _take(stack, card)
    values = {
        "connector:" + CONNECTOR: CONNECTOR,
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "Acme is expanding into Europe.",
        "blurb": GOOD_BLURB,
    }
    assert await submit(stack, first, values) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")
    status, body = await submit(stack, second, values)
    assert status == 200 and "You took this offer already" in body
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "connector card")
    _, requests = await _stored(stack)
    assert len(requests) == 1


async def test_no_thanks_tells_the_connector_kindly(stack: LocalStack) -> None:
    card = await _offered(stack)
    await press(stack, REQUESTER, card, "intro_offer_pass")
    await stack.until(lambda: len(stack.fake.messages_for(CONNECTOR)) == 1, "the notice")
    notice = card_text(stack.fake.messages_for(CONNECTOR)[0])
    assert f"<@{REQUESTER}> passed on your offer of an intro to *Jane Doe*" in notice
    assert "Thank you for thinking of them" in notice
    await stack.until(
        lambda: "You passed on" in card_text(stack.fake.messages_for(REQUESTER)[0]), "card"
    )
    assert not any(
        b.get("type") == "actions" for b in stack.fake.messages_for(REQUESTER)[0]["blocks"]
    )
    offers, requests = await _stored(stack)
    assert [o.status for o in offers] == [OfferStatus.PASSED] and requests == []
    # Take it after passing: refused, nothing made.
    await press(stack, REQUESTER, card, "intro_offer_take")
    await stack.until(lambda: stack.fake.count("chat.postEphemeral") >= 1, "refusal")
    assert "You passed on this offer" in stack.fake.calls_to("chat.postEphemeral")[-1].args["text"]


async def test_offers_to_oneself_a_bot_or_nobody_are_refused(stack: LocalStack) -> None:
    own = await _command(stack, REQUESTER, f"offer {MENTION} Jane Doe")
    assert "You can't offer an intro to yourself" in own
    for user_id in ("U0SOMEBOT", "U0DEACTIVATED", "U0NOBODY"):
        reply = await _command(stack, CONNECTOR, f"offer <@{user_id}> Jane Doe")
        assert f"I can only offer intros to active, human teammates, and <@{user_id}>" in reply
    usage = await _command(stack, CONNECTOR, "offer Jane Doe")
    assert "`/intro offer @maria Jane Doe at Acme`" in usage
    offers, _ = await _stored(stack)
    assert offers == []


async def test_the_same_offer_twice_is_sent_once(stack: LocalStack) -> None:
    await _offered(stack)
    again = await _command(stack, CONNECTOR, f"offer {MENTION} jane doe")
    assert "already" in again
    offers, _ = await _stored(stack)
    assert len(offers) == 1


async def test_the_home_tab_offers_through_a_form(stack: LocalStack) -> None:
    assert stack.slack is not None
    stack.fake.reset_calls()
    payload = payloads.block_action(
        CONNECTOR, "intro_offer_open", "", stack.fake.issue_trigger_id(CONNECTOR), on_home=True
    )
    assert (await stack.slack.interaction(payload))[0] == 200
    await stack.until(lambda: stack.fake.count("views.open") == 1, "the form")
    view = stack.fake.calls_to("views.open")[0].args["view"]
    status, body = await submit(
        stack, view, {"rep": CONNECTOR, "target_name": "Jane Doe"}, user=CONNECTOR
    )
    assert status == 200 and "not yourself" in body and "why they should meet" in body
    status, body = await submit(
        stack,
        view,
        {"rep": OTHER, "target_name": "Jane Doe", "reason": "She's hiring a data team."},
        user=CONNECTOR,
    )
    assert (status, body) == (200, "")
    await stack.until(lambda: len(stack.fake.messages_for(OTHER)) == 1, "the offer")
    offer = stack.fake.messages_for(OTHER)[0]
    assert "She's hiring a data team." in card_text(offer)
    await stack.until(lambda: stack.fake.count("views.publish") >= 1, "home")
    home = stack.fake.calls_to("views.publish")[-1].args["view"]
    assert f"I've sent <@{OTHER}> your offer" in str(home["blocks"])


async def test_taking_an_offer_is_guarded_like_any_ask(stack: LocalStack) -> None:
    await request_intro(stack, connector=OTHER)  # Riya already asked Olivia for Jane
    reply = await _command(stack, CONNECTOR, f"offer {MENTION} Jane Doe at Acme")
    assert "I've sent" in reply
    await stack.until(
        lambda: any(
            "offers to introduce you" in m["text"] for m in stack.fake.messages_for(REQUESTER)
        ),
        "the offer",
    )
    card = next(m for m in stack.fake.messages_for(REQUESTER) if "offers to introduce" in m["text"])
    view = await _take(stack, card)
    values = {
        f"connector:{CONNECTOR}": CONNECTOR,
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "Acme is expanding into Europe.",
        "blurb": GOOD_BLURB,
    }
    status, body = await submit(stack, view, values)
    assert status == 200 and "You already have an open ask for this person" in body
    # Changing the connector on the form is not taking this offer.
    values = {**values, f"connector:{CONNECTOR}": "U0SECOND"}
    status, body = await submit(stack, view, values)
    assert status == 200 and "This intro was offered by the teammate picked here before" in body
    offers, requests = await _stored(stack)
    assert [o.status for o in offers] == [OfferStatus.OFFERED] and len(requests) == 1
