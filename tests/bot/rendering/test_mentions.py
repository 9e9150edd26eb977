"""Every mention resolves: no message introbot renders names nobody ("<@>", "<@None>").

A cold approach has no connector: each message it can get is rendered here for each status it
can reach, and a warm request's for every status (the flows' own messages are checked too,
as sent, by the `every_mention_resolves` fixture)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.intro.states import Outcome, Status
from bot.rendering import messages
from storage.models import IntroRequest
from tests.conftest import UNRESOLVED_MENTION

NOW = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
# Where a cold approach can be: as sent, then each outcome the requester can report.
COLD_STATUSES = [
    Status.WENT_COLD,
    Status.MEETING_HELD,
    Status.OPPORTUNITY,
    Status.NO_RESPONSE,
    Status.CLOSED,
]
NOTICES = [
    ("went_cold", {}),
    ("no_response", {}),
    ("secondary_offer", {}),
    ("secondary_offer_done", {"choice": "leave"}),
]
REMINDERS = [
    "nudge",
    "stalled",
    "follow_up",
    "outcome",
    "outcome_again",
    "target_check",
    "target_check_waiting",
    "target_quiet",
    "ask_again",
]


def request(status: Status, connector_id: str = "", **changes: Any) -> IntroRequest:
    values: dict[str, Any] = {
        "id": 3,
        "team_id": "T0TEAM",
        "requester_id": "U0REQ",
        "requester_name": "Riya Patel",
        "connector_id": connector_id,
        "connector_name": "Carlos Mendes" if connector_id else "",
        "target_name": "Jane Doe",
        "target_company": "Acme",
        "reason": "r",
        "blurb": "Hi Jane, I'm Riya. Would you be open to a call?",
        "status": status,
        "outcome": Outcome.NO_RESPONSE if status == Status.NO_RESPONSE else None,
        "intro_made_at": NOW if connector_id else None,
        "went_cold_at": None if connector_id else NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(changes)
    return IntroRequest(**values)


def names_nobody(message: messages.Message | dict[str, Any]) -> str | None:
    rendered = json.dumps(
        message if isinstance(message, dict) else {"text": message.text, "blocks": message.blocks}
    )
    found = UNRESOLVED_MENTION.search(rendered)
    return found.group(0) if found else None


@pytest.mark.parametrize("status", COLD_STATUSES)
@pytest.mark.parametrize(("event", "data"), NOTICES)
@pytest.mark.parametrize("secondary", [[], ["U0OTHER"]])
def test_a_cold_approachs_notices_name_only_people(
    status: Status, event: str, data: dict[str, str], secondary: list[str]
) -> None:
    cold = request(status)
    if event == "secondary_offer":
        message = messages.notice(cold, event, data, secondary=secondary, names={})
    else:
        message = messages.notice(cold, event, data, secondary)
    assert names_nobody(message) is None, message.text


@pytest.mark.parametrize("status", COLD_STATUSES)
@pytest.mark.parametrize("kind", ["outcome", "outcome_again"])
def test_a_cold_approachs_reminders_name_only_people(status: Status, kind: str) -> None:
    message = messages.reminder(request(status), kind, now=NOW)
    assert names_nobody(message) is None, message.text


@pytest.mark.parametrize("status", COLD_STATUSES)
def test_a_cold_approachs_cards_and_lists_name_only_people(status: Status) -> None:
    cold = request(status)
    assert names_nobody(messages.outcome_list([cold])) is None
    assert names_nobody(messages.home_view([cold], [], first_time=False)) is None
    assert names_nobody(messages.cold_modal(cold)) is None


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("kind", REMINDERS)
def test_a_warm_requests_reminders_name_only_people(status: Status, kind: str) -> None:
    warm = request(status, "U0CON", account_owner_id="U0OWN")
    message = messages.reminder(warm, kind, ["U0OTHER"], now=NOW)
    assert names_nobody(message) is None, message.text
