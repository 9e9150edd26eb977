"""The offer-help digest as it goes: in its connector's working hours, without the accounts
they have said are not for them since it was planned, and not at all once they turned
digests off (bot.intro.digests plans them)."""

from __future__ import annotations

from bot.delivery.outbox import Moot, NotYet
from bot.intro.cadence import WorkingHours
from bot.intro.clock import Clock
from bot.intro.digests import Digests
from bot.intro.offer_help import DigestItem
from bot.rendering import digests as rendering
from bot.rendering.messages import Message
from storage.models import OutboundMessage


def items_of(message: OutboundMessage) -> list[DigestItem]:
    return [DigestItem.from_data(item) for item in message.data.get("items", [])]


class DigestView:
    def __init__(self, digests: Digests, clock: Clock, working_hours: WorkingHours | None) -> None:
        self._digests = digests
        self._clock = clock
        self._working_hours = working_hours

    async def compose(self, message: OutboundMessage, tz: str | None) -> Message:
        """The digest as it goes now, in the connector's zone `tz`: NotYet outside their
        working hours; Moot when they turned digests off or nothing is left to tell."""
        now = self._clock.now()
        if self._working_hours is not None:
            opens = self._working_hours.next_opening(now, tz)
            if opens > now:
                raise NotYet("outside the recipient's working hours", opens)
        rendered = await self.render(message, sending=True)
        if rendered is None:
            raise Moot("nothing left to tell them")
        return rendered

    async def render(self, message: OutboundMessage, *, sending: bool = False) -> Message | None:
        """The digest with what its connector said of each account: as it goes (`sending`,
        the accounts they said are not for them left out), or after a press (those shown as
        such). None when nothing is left, or they turned digests off before it went."""
        items = items_of(message)
        team_id, connector_id = message.team_id, message.recipient_id
        wants, muted = await self._digests.still_for_them(team_id, connector_id, items)
        if sending and not wants:
            return None
        names = await self._digests.names_of(team_id, connector_id, [i.best for i in items])
        return rendering.digest(
            message.id,
            items,
            names,
            {} if sending else muted,
            self._digests.every,
            self._clock.now(),
            leave_out=frozenset(muted) if sending else frozenset(),
        )
