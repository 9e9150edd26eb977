"""The domain's refusals (a gone request, a stale button, someone else's request, an offer
answered already) in the words the person reads, told where they pressed."""

from __future__ import annotations

import functools
import inspect
from typing import Any

from bot.intro.declines import TargetOnHold
from bot.intro.states import IllegalTransition, TransitionError
from bot.intro.workflow import (
    NotYourRequest,
    OfferAnswered,
    UnknownChoice,
    UnknownOffer,
    UnknownRequest,
)
from bot.rendering import messages
from bot.services.work_queue import Listener
from handlers.context import actor_of, services_of
from handlers.replies import tell_privately


def refusal_text(exc: TransitionError) -> str:
    if isinstance(exc, UnknownRequest):
        return messages.note("unknown")
    if isinstance(exc, UnknownChoice):
        return messages.note("unknown_choice")
    if isinstance(exc, UnknownOffer):
        return messages.note("offer_unknown")
    if isinstance(exc, OfferAnswered):
        return messages.note(f"offer_{exc.status.value}", connector=exc.connector_id)
    if isinstance(exc, NotYourRequest):
        return messages.note("not_yours", party=exc.party_id)
    if isinstance(exc, TargetOnHold):
        return messages.target_on_hold(exc.decline, exc.until)
    if isinstance(exc, IllegalTransition):
        return messages.note("stale", status_label=messages.status_label(exc.status))
    return messages.note("invalid", detail=str(exc))


def tells_refusals(listener: Listener) -> Listener:
    """A listener whose action the workflow may refuse: the person is told why, privately,
    and nothing else happens. The listener takes `body`, `context` and `client`."""

    signature = inspect.signature(listener)

    @functools.wraps(listener)
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await listener(*args, **kwargs)
        except TransitionError as exc:
            given = signature.bind(*args, **kwargs).arguments
            context, actor = given["context"], actor_of(given["context"])
            await tell_privately(
                services_of(context),
                given["client"],
                given["body"],
                actor.team_id,
                actor.user_id,
                refusal_text(exc),
            )
            return None

    return run  # type: ignore[return-value]
