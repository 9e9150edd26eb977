"""What the workflow hands back: a change's outcome for delivery, and the small values its
callers pass in (a form's details, a lease on the messages due now)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import TypedDict

from storage.models import IntroOffer, IntroRequest, OutboundMessage


class ActionDetails(TypedDict, total=False):
    """What a person adds to an action in a form (see IntroWorkflow.act)."""

    reason: str | None
    suggested_user_id: str | None
    # A better person to talk to than the target (not a teammate): who, their role, where.
    suggested_name: str | None
    suggested_title: str | None
    suggested_company: str | None
    note: str | None
    blurb: str | None
    ask_again_on: str | None
    tz_name: str | None  # the presser's time zone (IANA name): whose "today" a day is after
    how_known: str | None  # "Mention my name": how the connector knows the target
    # An ask for a way in: the person the connector picked when they accepted.
    picked_name: str | None
    # "They agreed: intro made": the target's email, when the workspace's CRM is to get it.
    target_email: str | None


class TieUnknown(Enum):
    """No review looked for the connector's tie to the person: their card looks it up."""

    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Lease:
    """The claim on a state change's messages due now, taken as they are written by the
    process that sends them at once: no other sender touches them until `until` (after a
    crash mid-send, the sweep takes them over then)."""

    owner: str
    until: datetime


@dataclass(frozen=True)
class Outcome:
    request: IntroRequest
    # The messages due now as written (leased, when the caller passed a lease), and the
    # request's cards as the change found them: what delivery would otherwise read again.
    due_now: list[OutboundMessage] = field(default_factory=list)
    cards: dict[tuple[int, str], OutboundMessage] | None = None

    @property
    def message_ids(self) -> list[int]:
        return [m.id for m in self.due_now]


@dataclass(frozen=True)
class OfferOutcome:
    offer: IntroOffer
    message_ids: list[int]
