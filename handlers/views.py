"""Modal submissions: the intro request, a decline, a suggestion of someone else."""

from __future__ import annotations

import dataclasses
import logging
import re
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.app import Services
from bot.states import Action
from bot.validation import RequestDraft, Review, Teammate, review_draft, say
from bot.workflow import InvalidSuggestion, TransitionError
from handlers.support import refusal_text, teammate, teammates

logger = logging.getLogger(__name__)


def _values(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten view state into field -> submitted value ("connector:U1" counts as "connector")."""
    flat: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        element = next(iter((actions or {}).values()), None) or {}
        block_id = block_id.split(":", 1)[0]
        option = element.get("selected_option") or {}
        flat[block_id] = (
            element.get("selected_user") or option.get("value") or element.get("value") or ""
        )
    return flat


def _request_id(view: dict[str, Any]) -> int | None:
    try:
        return int(view.get("private_metadata") or "")
    except ValueError:
        return None


def register(app: AsyncApp, services: Services) -> None:
    @app.view("intro_request_modal")
    @services.tracked
    async def intro_request_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        values = _values(view)
        requester_id = body["user"]["id"]
        connector_id = str(values.get("connector") or "")
        requester, connector = await teammates(client, requester_id, connector_id or requester_id)
        modal_context = messages.ModalContext.load(view.get("private_metadata"))
        draft = RequestDraft(
            requester=requester or Teammate(user_id=requester_id),
            connector=connector if connector_id else None,
            target_name=str(values.get("target_name") or ""),
            target_company=str(values.get("target_company") or ""),
            reason=str(values.get("reason") or ""),
            blurb=str(values.get("blurb") or ""),
            closeness=str(values.get("closeness") or ""),
            source_channel_id=modal_context.source_channel_id,
            source_message_ts=modal_context.source_message_ts,
            redirected_from_id=modal_context.redirected_from_id,
        )
        review = review_draft(draft)
        team_id = context.team_id or ""
        if review.ok and connector is not None:
            await _pacing_review(services, client, team_id, draft, review)
        if not review.ok:
            await ack(response_action="errors", errors=_block_ids(view, review.errors))
            return
        await ack()
        permalink = None
        if modal_context.source_channel_id and modal_context.source_message_ts:
            try:
                permalink = (
                    await client.chat_getPermalink(
                        channel=modal_context.source_channel_id,
                        message_ts=modal_context.source_message_ts,
                    )
                ).get("permalink")
            except SlackApiError as exc:
                logger.info("no permalink for the source message: %s", exc.response.get("error"))
        draft = dataclasses.replace(draft, source_permalink=permalink)
        owner = await services.directory.account_owner(team_id, draft.target_company)
        if owner in (draft.requester.user_id, draft.connector.user_id if draft.connector else ""):
            owner = None  # the owner is already part of this ask
        outcome = await services.workflow.submit(team_id, draft, review.advice, owner_id=owner)
        await services.dispatcher.deliver(outcome.message_ids)

    @app.action({"block_id": re.compile(r"^(target_name|connector(:\w+)?)$"), "action_id": "value"})
    @services.tracked
    async def target_or_connector_changed(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        await ack()
        view = body["view"]
        await refresh_suggestions(
            services, client, context.team_id or "", body["user"]["id"], view, prefill_from(view)
        )

    @app.action(re.compile(r"^intro_pick_connector_\d+$"))
    @services.tracked
    async def connector_picked(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        view = body["view"]
        prefill = prefill_from(view, connector_id=str(action.get("value") or ""))
        await refresh_suggestions(
            services, client, context.team_id or "", body["user"]["id"], view, prefill
        )

    @app.view("intro_decline_modal")
    @services.tracked
    async def decline_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        await _act(
            services,
            client,
            body,
            context,
            _request_id(view),
            Action.DECLINE,
            reason=str(_values(view).get("reason") or ""),
        )

    @app.view("intro_owner_edit_modal")
    @services.tracked
    async def owner_edit_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        blurb = str(_values(view).get("blurb") or "").strip()
        if not blurb:
            await ack(response_action="errors", errors={"blurb": say("blurb_missing")})
            return
        await ack()
        await _act(
            services, client, body, context, _request_id(view), Action.OWNER_APPROVE, blurb=blurb
        )

    @app.view("intro_redirect_modal")
    @services.tracked
    async def redirect_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        values = _values(view)
        suggested_id = str(values.get("suggested_user") or "")
        suggested = await teammate(client, suggested_id) if suggested_id else None
        if suggested is None or suggested.is_bot or suggested.deleted:
            await ack(
                response_action="errors",
                errors={"suggested_user": "Pick an active, human teammate."},
            )
            return
        if suggested.user_id == body["user"]["id"]:
            await ack(
                response_action="errors",
                errors={"suggested_user": "Suggest someone other than yourself."},
            )
            return
        await ack()
        await _act(
            services,
            client,
            body,
            context,
            _request_id(view),
            Action.REDIRECT,
            suggested_user_id=suggested_id,
            note=str(values.get("note") or ""),
        )


def _block_ids(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Errors keyed by the view's actual block ids (a picked connector's block is re-keyed)."""
    actual = {
        str(block.get("block_id", "")).split(":", 1)[0]: str(block.get("block_id"))
        for block in view.get("blocks", [])
        if block.get("block_id")
    }
    return {actual.get(field, field): message for field, message in errors.items()}


async def _pacing_review(
    services: Services, client: AsyncWebClient, team_id: str, draft: RequestDraft, review: Review
) -> None:
    """Respect the connector's limits and stop duplicate asks for the same person."""
    assert draft.connector is not None
    for request in await services.directory.open_asks_for_target(team_id, draft.target_name):
        if request.id == draft.redirected_from_id:
            continue  # the ask this one replaces
        connector_name = await _name(client, request.connector_id)
        if request.requester_id == draft.requester.user_id:
            review.errors["target_name"] = say("duplicate_mine", connector=connector_name)
            return
        review.advice.append(
            say(
                "open_ask",
                requester=await _name(client, request.requester_id),
                connector=connector_name,
            )
        )
    problems = await services.directory.pacing_problems(
        team_id, draft.connector.user_id, draft.target_company
    )
    if not problems:
        return
    alternatives = await services.directory.suggest_connectors(
        team_id,
        draft.target_name,
        draft.target_company,
        exclude=(draft.requester.user_id, draft.connector.user_id),
        limit=1,
    )
    next_best = (
        say("next_best", name=await _name(client, alternatives[0].user_id)) if alternatives else ""
    )
    words = say(
        problems[0].code,
        connector=draft.connector.name or "This teammate",
        detail=problems[0].detail,
        next=next_best,
    )
    if await services.directory.enforce_pacing(team_id):
        review.errors["connector"] = words
    else:
        review.advice.append(words)


async def _name(client: AsyncWebClient, user_id: str) -> str:
    person = await teammate(client, user_id)
    return person.name if person and person.name else "a teammate"


async def refresh_suggestions(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
    view: dict[str, Any],
    prefill: messages.ModalPrefill,
) -> None:
    """Show who knows the target (and any reason to hold back) in the open form."""
    if not prefill.target_name.strip():
        return
    directory = services.directory
    suggestions = await directory.suggest_connectors(
        team_id, prefill.target_name, prefill.target_company, exclude=(user_id,)
    )
    flags: list[dict[str, str]] = [
        {
            "kind": "open_ask",
            "requester_id": r.requester_id,
            "connector_id": r.connector_id,
            "target": r.target_name,
        }
        for r in await directory.open_asks_for_target(team_id, prefill.target_name)
    ]
    if prefill.connector_id:
        problems = await directory.pacing_problems(
            team_id, prefill.connector_id, prefill.target_company
        )
        next_best = next((s.user_id for s in suggestions if s.user_id != prefill.connector_id), "")
        flags += [
            {
                "kind": "pacing",
                "connector_id": prefill.connector_id,
                "code": p.code,
                "detail": p.detail,
                "next_best": next_best,
            }
            for p in problems[:1]
        ]
    hint = next(
        (
            element["text"]
            for block in view.get("blocks", [])
            if block.get("type") == "context" and block.get("block_id") == "source_hint"
            for element in block.get("elements", [])
        ),
        None,
    )
    updated = messages.intro_modal(
        prefill,
        messages.ModalContext.load(view.get("private_metadata")),
        source_hint_mrkdwn=hint,
        suggestions=suggestions,
        flags=flags,
        searched=True,
    )
    try:
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=updated)
    except SlackApiError as exc:
        # hash_conflict: the user changed the form meanwhile; their next Enter tries again.
        logger.info("suggestions not shown: %s", exc.response.get("error"))


def prefill_from(view: dict[str, Any], connector_id: str | None = None) -> messages.ModalPrefill:
    values = _values(view)
    return messages.ModalPrefill(
        connector_id=connector_id if connector_id is not None else str(values.get("connector", "")),
        target_name=str(values.get("target_name") or ""),
        target_company=str(values.get("target_company") or ""),
        reason=str(values.get("reason") or ""),
        blurb=str(values.get("blurb") or ""),
        closeness=str(values.get("closeness") or ""),
    )


async def _act(
    services: Services,
    client: AsyncWebClient,
    body: dict[str, Any],
    context: AsyncBoltContext,
    request_id: int | None,
    action: Action,
    **details: str,
) -> None:
    user_id = body["user"]["id"]
    if request_id is None:
        return
    try:
        outcome = await services.workflow.act(
            context.team_id or "", request_id, user_id, action, **details
        )
    except (TransitionError, InvalidSuggestion) as exc:
        # A modal has no channel: the note goes to the user's DM with the bot.
        await client.chat_postMessage(channel=user_id, text=refusal_text(exc))
        return
    await services.dispatcher.deliver(outcome.message_ids)
