"""Who knows the target, shown in the open request form as it is filled in."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.directory import AskReview
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.rendering.ids import BlockId
from bot.services.container import Services
from handlers.context import Actor
from handlers.replies import open_view

logger = logging.getLogger(__name__)


async def refresh_suggestions(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
    view: dict[str, Any],
    prefill: messages.ModalPrefill,
    *,
    cold_problem: str = "",
    shown: messages.IntroForm | None = None,
) -> None:
    """Show who knows the target (and any reason to hold back) in the open form; and what
    stops going in cold, when that was pressed too early. `shown`: the form as this process
    rendered it to open it, findings not in yet (only they are rendered again, when the rest
    stays as it is)."""
    named = bool(prefill.target_name.strip())
    # No name, a company: a way in there, and who knows people at it.
    named = named or prefill.way_in
    if not named and not cold_problem and not prefill.connector_id:
        return
    modal_context = messages.ModalContext.load(view.get("private_metadata"))
    suggestions, found = await services.directory.form_review(
        team_id,
        user_id,
        prefill.connector_id,
        prefill.target_name,
        prefill.target_company,
        named=named,
        replaces_id=modal_context.previous_request_id,
    )
    declined = found.target_declined is not None
    if declined:
        modal_context = replace(modal_context, declined_seen=True)
    # The person said no lately: no one is steered back to them, warm or cold.
    shown_suggestions = [] if declined else suggestions
    flags = form_flags(found, prefill, cold_problem)
    searched = (named or bool(cold_problem)) and not declined
    note = pacing_note(found, prefill.connector_id)
    updated: dict[str, Any] | str
    if shown is not None and not declined and note is None:
        # Only the findings change (a no would change the form's metadata, a note its fields).
        updated = messages.intro_with_findings(
            shown, prefill, suggestions=shown_suggestions, flags=flags, searched=searched
        )
    else:
        updated = messages.intro_modal(
            prefill,
            modal_context,
            source_hint_mrkdwn=source_hint_of(view),
            suggestions=shown_suggestions,
            flags=flags,
            searched=searched,
            pacing_note=note,
        )
    try:
        # A view as JSON text goes as it is: slack_sdk passes a string on, and Slack takes one.
        await client.views_update(
            view_id=view["id"],
            hash=view.get("hash"),
            view=updated,  # type: ignore[arg-type]
        )
    except SlackApiError as exc:
        # hash_conflict: the user changed the form meanwhile; their next Enter tries again.
        logger.info("suggestions not shown: %s", slack_error_code(exc))


async def open_intro_form(
    services: Services,
    client: AsyncWebClient,
    actor: Actor,
    trigger_id: str,
    prefill: messages.ModalPrefill,
    context: messages.ModalContext,
    source_hint: str | None = None,
) -> bool:
    """Open the request form (/intro's and the message shortcut's), then, with a name in it,
    who knows the person: in a work slot of their own, left out when the work queue is busy,
    as they are optional. Whether Slack opened it. The trigger_id lasts about 3 seconds: the
    form opens first, the suggestions follow."""
    form = messages.intro_form(prefill, context, source_hint)
    opened = await open_view(client, trigger_id, form.with_findings(), logger)
    if opened is None:
        return False
    if prefill.target_name and not services.work.busy:
        async with services.work.work_slot():
            await refresh_suggestions(
                services, client, actor.team_id, actor.user_id, opened, prefill, shown=form
            )
    return True


def form_flags(
    found: AskReview, prefill: messages.ModalPrefill, cold_problem: str
) -> list[dict[str, str]]:
    """What the form says under its suggestions: a no from the person that still holds, asks
    for the target open already, the connector's pacing, and what stops going in cold."""
    held = ([found.mine] if found.mine else []) + found.held_by_others
    flags: list[dict[str, str]] = []
    if found.target_declined is not None:
        flags.append({"kind": "target_declined", **messages.declined_words(found)})
    flags += [
        {
            "kind": "open_ask",
            "requester_id": r.requester_id,
            "connector_id": r.connector_id,
            "target": r.target_name,
        }
        for r in held
    ]
    if found.pacing is not None:
        flags.append(
            {
                "kind": "pacing",
                "connector_id": prefill.connector_id,
                "code": found.pacing.code,
                "detail": found.pacing.detail,
                "next_best": found.next_best or "",
            }
        )
    if cold_problem:
        flags.append({"kind": "cold_incomplete", "detail": cold_problem})
    return flags


def pacing_note(found: AskReview | None, connector_id: str) -> dict[str, Any] | None:
    """The picked connector's load, when the next ask brings them near a limit not hit yet
    (a limit hit is a flag of its own)."""
    if found is None or found.load is None or found.pacing is not None or not connector_id:
        return None
    near = found.load.near()
    if near is None:
        return None
    code, count, limit = near
    return {"connector_id": connector_id, "code": code, "count": count, "limit": limit}


def source_hint_of(view: dict[str, Any]) -> str | None:
    """The source message's hint as the open form shows it (mrkdwn already)."""
    return next(
        (
            element["text"]
            for block in view.get("blocks", [])
            if block.get("type") == "context" and block.get("block_id") == BlockId.SOURCE_HINT
            for element in block.get("elements", [])
        ),
        None,
    )
