"""The offer-help digest as its connector reads it (templates/digest.json.j2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.intro.offer_help import DigestItem
from bot.rendering.messages import Message
from bot.rendering.templating import render_json
from bot.rendering.texts import day_of


@dataclass(frozen=True)
class DigestLine:
    """One account as the digest shows it: its place in the digest (what its buttons name),
    the connector's best contact there and how many others, and, once they said so, until
    when it is not for them."""

    place: int
    item: DigestItem
    name: str
    others: int
    not_for_me_until: str = ""


def period_words(every: timedelta) -> str:
    """ "a week", "every 2 weeks", "every 3 days", "every 12 hours": how often at most."""
    if every % timedelta(days=7) == timedelta(0):
        weeks = every // timedelta(days=7)
        return "a week" if weeks == 1 else f"every {weeks} weeks"
    if every % timedelta(days=1) == timedelta(0):
        days = every.days
        return "a day" if days == 1 else f"every {days} days"
    hours = max(1, round(every.total_seconds() / 3600))
    return "an hour" if hours == 1 else f"every {hours} hours"


def digest(
    digest_id: int,
    items: Sequence[DigestItem],
    names: Mapping[int, str],
    not_for_me: Mapping[str, datetime],
    every: timedelta,
    today: datetime,
    *,
    leave_out: frozenset[str] = frozenset(),
) -> Message | None:
    """The connector's digest: each account still worth telling (their best tie there still
    holds: `names` has it, by contact id), with Offer an intro and Not for me, or what they
    said. None when no account is left to show. `leave_out`: accounts not to show at all
    (said not for them before the digest went)."""
    lines = []
    for place, item in enumerate(items):
        name = names.get(item.best)
        if not name or item.company_key in leave_out:
            continue  # the tie is gone or lapsed since, or the account not for them
        until = not_for_me.get(item.company_key)
        lines.append(
            DigestLine(
                place=place,
                item=item,
                name=name,
                others=max(0, item.people - 1),
                not_for_me_until=day_of(until, today.date()) if until else "",
            )
        )
    if not lines:
        return None
    rendered = render_json(
        "digest.json.j2", digest_id=digest_id, lines=lines, every=period_words(every)
    )
    return Message(text=rendered["text"], blocks=rendered["blocks"])
