"""A varied table of requests and the messages the dispatcher renders for them (the cards and
the notices), with a fingerprint of each rendering: what tests/bot/rendering/test_card_output.py
compares against the fingerprints recorded in fixtures/card_output.json.

`python -m tests.bot.rendering.card_cases` records them again: only when a message's wording
changes on purpose (read the diff of the messages first; a fingerprint hides what changed).
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.intro.workflow.results import History
from bot.rendering import messages
from storage.models import Contact, IntroRequest, built

EXPECTED = Path(__file__).parent / "fixtures" / "card_output.json"
CASES = 240
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

STATUSES = (
    "awaiting_connector",
    "checking_with_target",
    "intro_made",
    "followed_up",
    "closed",
    "target_not_now",
    "target_declined",
    "connector_declined",
    "awaiting_owner",
    "cancelled",
)
NAMES = (
    "Jane Doe",
    "José Núñez-García",
    "李小龍",
    "Zoë O'Brien & <Partners>",
    'Dr. "Quoted" \\ Back',
    "Ana",
    "",
    "  ",
    "Ⅷ Ἀλέξανδρος 🎉",
)
COMPANIES = ("Acme & Sons <Labs>", "Northwind", "", "Ünïcødé GmbH", "ACME" * 40)
REQUESTERS = ("Sam Requester", "", "Riya Rep1", "Émile Zola", "<@U0X> Mallory")
REASONS = (
    "She runs payments.",
    "Acme is opening EU warehouses and could cut customs delays by a third; they worked "
    "with Jane Doe before.",
    "We cut customs delays by a third. I think our team can help. Email sam@example.com.",
    "Your expansion is where it pays off most.\nThe second line & <b>tags</b>.",
    "x" * 2100,
    "   ",
)
BLURBS = (
    "Hi Jane, I'm Sam, I lead partnerships at Northwind. We help teams like Acme cut "
    "customs delays by a third. Would you be open to a 20-minute call next week?",
    "Hello Dr. Doe! She runs payments. She runs payments. Would you be open to a call?",
    "I'm Sam and I lead partnerships at Widgets & Co <EU>. We help teams like Acme cut "
    'chargebacks by a third; "really". <!channel> \\o/ 🎉 مرحبا',
    "Dear José,\n\nLine one.\nLine two!\n\nThanks",
    ("A long note, sentence after sentence & more. " * 80).strip(),
)
EVENTS = (
    "target_agreed",
    "target_declined",
    "thanks",
    "target_not_now",
    "ask_again",
    "decline",
    "owner_approve",
    "owner_decline",
    "outcome",
    "thank_offer",
    "secondary_offer",
    "secondary_offer_done",
    "bump",
    "undeliverable",
    "mention_name",
    "no_response",
    "went_cold",
    "redirect",
    "suggest_person",
)


def request(i: int) -> IntroRequest:
    pick = random.Random(i)
    way_in = i % 7 == 3
    status = STATUSES[i % len(STATUSES)]
    target = pick.choice(NAMES)
    if way_in and (i // 7) % 2:
        target = ""  # the connector has not picked the person yet
    columns: dict[str, Any] = {column.key: None for column in IntroRequest.__table__.c}
    columns.update(
        id=1_000 + i,
        team_id="T0TEAM",
        requester_id=f"U0REQ{i}",
        requester_name=pick.choice(REQUESTERS),
        connector_id="" if i % 23 == 5 else f"U0CON{i % 5}",
        connector_name=pick.choice(("Carlos Mendes", "", "Ōno Kō", "Con & <Nector>")),
        target_name=target,
        target_company=pick.choice(COMPANIES),
        reason=pick.choice(REASONS),
        blurb=pick.choice(BLURBS),
        closeness=pick.choice(("know_well", "somewhat", "", "close")),
        status=status,
        created_at=NOW,
        updated_at=NOW,
        share_name=pick.random() < 0.5,
        named_ask=pick.random() < 0.5,
        requester_title=pick.choice(("", "Head of Partnerships, Northwind", "VP Sales")),
        requester_email=pick.choice(("", "sam@example.com")),
        connector_email="",
        anonymous_as=pick.choice(("", "someone on our partnerships team", "Sam's team")),
        ask_size=pick.choice(("call_15", "call_30", "email", "", "coffee")),
        intro_line=pick.choice((None, None, "", "You two should meet: both in logistics.")),
        way_in=way_in,
        target_role="Head of Ops" if way_in and i % 3 else None,
        connector_outside=i % 19 == 4,
        connector_closeness=pick.choice((None, "well", "somewhat", "not_really")),
        source_permalink=pick.choice((None, "https://example.slack.com/archives/C1/p1?a=1&b=2")),
        intro_made_at=NOW if status in ("intro_made", "followed_up", "closed") else None,
        ask_again_on=date(2024, 8, 1) if status == "target_not_now" else None,
        outcome=pick.choice(("meeting_held", "closed_won", "no_response"))
        if status == "closed"
        else None,
        decline_reason=pick.choice((None, "Not now & <never>")),
        suggested_user_id="U0SUG",
        suggested_name=pick.choice((None, "Priya Patel")),
        suggested_title=pick.choice((None, "CTO")),
        suggested_company=pick.choice((None, "Globex")),
        suggestion_note=pick.choice((None, "She knows the space.")),
        account_owner_id="U0OWN",
        name_first_connector=pick.random() < 0.5,
        previous_request_id=None,
    )
    made: IntroRequest = built(IntroRequest, **columns)
    return made


def rendered(i: int) -> dict[str, Any]:
    """Case `i`'s messages: the cards as a submission posts them and as an Accept (or any
    later change) updates them, the Accept's notice and one other."""
    pick = random.Random(-i)
    r = request(i)
    tie = None
    if i % 9 == 2:
        tie = built(
            Contact,
            id=77,
            name=r.target_name or "Someone",
            source=pick.choice(("linkedin", "manual")),
            confirmed_at=None,
            since=pick.choice((None, NOW)),
        )
    history = pick.choice((None, History(), History(3, 2, 1, 0, 1, 1), History(0, 0, 0, 0, 0, 2)))
    first_intro = None
    if i % 11 == 6:
        first_intro = built(IntroRequest, connector_id="U0FIRST", intro_made_at=NOW)
    event = EVENTS[i % len(EVENTS)]
    data: dict[str, Any] = {
        "outcome": pick.choice(("meeting_held", "opportunity", "closed_won", "not_a_fit")),
        "choice": pick.choice(("bump", "leave")),
        "words": pick.choice(("", "Thank you & <3")),
        "status": pick.choice(("", "target_declined")),
    }
    secondary = pick.choice(((), ("U0A", "U0B")))
    messages_out = {
        "connector_card": messages.connector_card(
            r,
            tie,
            offered=i % 6 == 1,
            pointed_from=pick.choice((None, "Old Person")),
            history=history,
            first_intro=first_intro,
        ),
        "requester_card": messages.requester_card(r, pick.choice(([], ["Say why <now>", "Ask"]))),
        "notice_accept": messages.notice(r, "accept", {}),
        f"notice_{event}": messages.notice(
            r,
            event,
            data,
            pick.choice(((), ("U0P1", "U0P2"))),
            secondary=secondary,
            names={"U0A": "Ann & Co"},
        ),
    }
    return {
        kind: {"text": message.text, "blocks": message.blocks}
        for kind, message in messages_out.items()
    }


def fingerprint(message: dict[str, Any]) -> str:
    encoded = json.dumps(message, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()[:24]


def fingerprints() -> dict[str, dict[str, str]]:
    return {
        str(i): {kind: fingerprint(message) for kind, message in rendered(i).items()}
        for i in range(CASES)
    }


if __name__ == "__main__":
    EXPECTED.write_text(json.dumps(fingerprints(), indent=1, sort_keys=True) + "\n")
