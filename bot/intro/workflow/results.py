"""What the workflow hands back: a change's outcome for delivery, and the small values its
callers pass in (a form's details, a lease on the messages due now)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
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


# How far back a connector's card looks at their history with the requester.
HISTORY_SPAN = timedelta(days=365)
# Outcomes that mean the two met (a meeting, and the stages after one).
MET_OUTCOMES = ("meeting_held", "opportunity", "closed_won", "closed_lost")


@dataclass(frozen=True)
class History:
    """A connector and a requester over the last year, before this ask: the requester's
    asks of the connector and what came of them, and intros the requester made for them."""

    asks: int = 0
    made: int = 0
    met: int = 0  # of those made, how many led to a meeting (or further)
    declined: int = 0  # asks the connector declined
    open: int = 0  # asks still waiting on the connector or the target
    made_for_them: int = 0

    @property
    def other(self) -> int:
        """Asks that ended otherwise (withdrawn, redirected, the target said no...)."""
        return self.asks - self.made - self.declined - self.open

    def __bool__(self) -> bool:
        return bool(self.asks or self.made_for_them)


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
    # A new ask's connector and requester over the last year, as the statement that wrote
    # it found them: what the connector's first card would otherwise read again. None: not
    # read (the card reads it as it goes out).
    history: History | None = None

    @property
    def message_ids(self) -> list[int]:
        return [m.id for m in self.due_now]


@dataclass(frozen=True)
class OfferOutcome:
    offer: IntroOffer
    message_ids: list[int]
