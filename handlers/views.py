"""Modal submissions: the intro request, a decline, a suggestion of someone else."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.app import Services
from bot.states import Action
from bot.validation import RequestDraft, Teammate, review_draft
from bot.workflow import InvalidSuggestion, TransitionError
from handlers.support import refusal_text, teammate, teammates


def _values(view: dict[str, Any]) -> dict[str, Any]:
    """Flatten view state into block_id -> submitted value."""
    flat: dict[str, Any] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        element = (actions or {}).get("value") or {}
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
        draft = RequestDraft(
            requester=requester or Teammate(user_id=requester_id),
            connector=connector if connector_id else None,
            target_name=str(values.get("target_name") or ""),
            target_company=str(values.get("target_company") or ""),
            reason=str(values.get("reason") or ""),
            blurb=str(values.get("blurb") or ""),
            closeness=str(values.get("closeness") or ""),
        )
        review = review_draft(draft)
        if not review.ok:
            await ack(response_action="errors", errors=review.errors)
            return
        await ack()
        modal_context = messages.ModalContext.load(view.get("private_metadata"))
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
        draft = RequestDraft(
            **{
                **draft.__dict__,
                "source_channel_id": modal_context.source_channel_id,
                "source_message_ts": modal_context.source_message_ts,
                "source_permalink": permalink,
                "redirected_from_id": modal_context.redirected_from_id,
            }
        )
        outcome = await services.workflow.submit(context.team_id or "", draft, review.advice)
        await services.dispatcher.deliver(outcome.message_ids)

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
