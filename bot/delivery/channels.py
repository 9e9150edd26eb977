"""Delivery channels other than Slack: the outbox holds their rows too, and the dispatcher
routes each row by its kind. A channel sends one row; the outbox's lease, retries with backoff,
expiry and once-per-dedupe-key are the dispatcher's, as for Slack messages. Slack's pacing does
not apply: a channel keeps to its own service's limits (raising NotYet to wait its turn)."""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol

from storage.models import IntroRequest, MessageKind, OutboundMessage


class Refused(Exception):
    """The service did not take it this time (an error status, a timeout): tried again with
    backoff for as long as the channel says its rows are worth sending."""


class Failed(Exception):
    """The service refused it for a reason no retry will change (a field it lacks): the row
    fails for good, with the reason, until someone puts it back (a Retry on the Home tab)."""


class Channel(Protocol):
    @property
    def kind(self) -> MessageKind:
        """The outbox rows it sends."""
        ...

    @property
    def worth_sending_for(self) -> timedelta:
        """How long after it was written a row is still tried; then it is expired."""
        ...

    async def send(self, message: OutboundMessage, request: IntroRequest | None) -> None:
        """Send one row, or raise: Refused (retry with backoff), NotYet (retry at a given
        time, no attempt counted), Moot (nothing to send any more), Failed (never)."""
        ...
