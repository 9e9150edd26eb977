"""Buttons: the connector's answers, the requester's cancel, and the modals they open."""

from __future__ import annotations

import re
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.app import Services
from bot.states import Action, Status
from bot.workflow import TransitionError, UnknownRequest
from handlers.support import from_home, publish_home, refusal_text, request_id_from, tell_privately
from storage.models import IntroRequest

# Buttons that change state at once.
DIRECT_ACTIONS = {
    "intro_accept": Action.ACCEPT,
    "intro_target_agreed": Action.TARGET_AGREED,
    "intro_target_declined": Action.TARGET_DECLINED,
    "intro_target_not_now": Action.TARGET_NOT_NOW,
    "intro_cancel": Action.CANCEL,
    "intro_followed_up": Action.FOLLOW_UP,
    "intro_owner_approve": Action.OWNER_APPROVE,
    "intro_owner_decline": Action.OWNER_DECLINE,
}
OUTCOME_BUTTON = re.compile(r"^intro_outcome_[a-z_]+$")
SECONDARY_BUTTON = re.compile(r"^intro_ask_secondary(_\d+)?$")
# Buttons that first ask for details in a modal.
MODAL_ACTIONS = {
    "intro_decline": Action.DECLINE,
    "intro_redirect": Action.REDIRECT,
    "intro_owner_edit": Action.OWNER_APPROVE,
}


def register(app: AsyncApp, services: Services) -> None:
    async def direct_action(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        user_id = body["user"]["id"]
        request_id = request_id_from(action)
        team_id = context.team_id or ""
        try:
            if request_id is None:
                raise UnknownRequest(0)
            outcome = await services.workflow.act(
                team_id, request_id, user_id, DIRECT_ACTIONS[action["action_id"]]
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        await services.dispatcher.deliver(outcome.message_ids)
        if from_home(body):
            await publish_home(services, client, team_id, user_id)

    async def modal_action(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        await ack()
        user_id = body["user"]["id"]
        request_id = request_id_from(action)
        workflow_action = MODAL_ACTIONS[action["action_id"]]
        try:
            if request_id is None:
                raise UnknownRequest(0)
            request = await services.workflow.check(
                context.team_id or "", request_id, user_id, workflow_action
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        view = {
            Action.DECLINE: messages.decline_modal,
            Action.REDIRECT: messages.redirect_modal,
            Action.OWNER_APPROVE: messages.owner_edit_modal,
        }[workflow_action](request)
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            logger.warning("views.open failed: %s", exc.response.get("error"))

    async def ask_suggested(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        """The requester chose to ask the teammate the connector suggested."""
        await ack()
        user_id = body["user"]["id"]
        request_id = request_id_from(action)
        original = (
            await services.workflow.get(context.team_id or "", request_id)
            if request_id is not None
            else None
        )
        if original is None or original.requester_id != user_id:
            await tell_privately(services, client, body, user_id, messages.note("unknown"))
            return
        if original.status != Status.REDIRECTED or not original.suggested_user_id:
            label = messages.status_label(original.status)
            await tell_privately(
                services, client, body, user_id, messages.note("stale", status_label=label)
            )
            return
        await _open_modal(client, body, logger, original, original.suggested_user_id)

    async def report_outcome(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        await ack()
        user_id = body["user"]["id"]
        request_part, _, outcome = str(action.get("value", "")).partition(":")
        team_id = context.team_id or ""
        try:
            outcome_result = await services.workflow.act(
                team_id, _int_or_zero(request_part), user_id, Action.REPORT_OUTCOME, outcome=outcome
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        await services.dispatcher.deliver(outcome_result.message_ids)
        if from_home(body):
            await publish_home(services, client, team_id, user_id)

    async def ask_secondary(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        """After a stall: open the form for another teammate, who replaces the first ask."""
        await ack()
        user_id = body["user"]["id"]
        request_part, _, suggested = str(action.get("value", "")).partition(":")
        original = await services.workflow.get(context.team_id or "", _int_or_zero(request_part))
        if original is None or original.requester_id != user_id:
            await tell_privately(services, client, body, user_id, messages.note("unknown"))
            return
        if original.status != Status.AWAITING_CONNECTOR:
            label = messages.status_label(original.status)
            await tell_privately(
                services, client, body, user_id, messages.note("stale", status_label=label)
            )
            return
        await _open_modal(client, body, logger, original, suggested)

    async def new_request(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, logger: Logger
    ) -> None:
        await ack()
        view = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as exc:
            logger.warning("views.open failed: %s", exc.response.get("error"))

    for action_id in DIRECT_ACTIONS:
        app.action(action_id)(services.tracked(direct_action))
    for action_id in MODAL_ACTIONS:
        app.action(action_id)(services.tracked(modal_action))
    app.action("intro_ask_suggested")(services.tracked(ask_suggested))
    app.action(OUTCOME_BUTTON)(services.tracked(report_outcome))
    app.action(SECONDARY_BUTTON)(services.tracked(ask_secondary))
    app.action("intro_new")(services.tracked(new_request))


def _int_or_zero(text: str) -> int:
    return int(text) if text.isdigit() else 0


async def _open_modal(
    client: AsyncWebClient,
    body: dict[str, Any],
    logger: Logger,
    original: IntroRequest,
    connector_id: str,
) -> None:
    """The intro form, prefilled from an earlier request, for another connector."""
    view = messages.intro_modal(
        messages.ModalPrefill(
            connector_id=connector_id,
            target_name=original.target_name,
            target_company=original.target_company,
            reason=original.reason,
            blurb=original.blurb,
        ),
        messages.ModalContext(redirected_from_id=original.id),
    )
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        logger.warning("views.open failed: %s", exc.response.get("error"))
