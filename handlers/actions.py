"""Buttons: the connector's answers, the requester's cancel, and the modals they open."""

from __future__ import annotations

import re
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.states import REPORT_ACTION, Action, Outcome, Status
from bot.intro.validation import Teammate
from bot.intro.workflow import (
    DuplicateSubmission,
    TransitionError,
    UnknownOffer,
    UnknownRequest,
)
from bot.rendering import messages
from bot.wiring.app import Services
from handlers.support import (
    act_and_deliver,
    from_home,
    known_teammate,
    open_view,
    publish_home,
    record_closeness,
    refusal_text,
    replace_pressed_message,
    request_id_from,
    required_request_id,
    team_of,
    tell_privately,
    time_zone_of,
    value_detail,
)

# Buttons that change state at once.
DIRECT_ACTIONS = {
    "intro_accept": Action.ACCEPT,
    "intro_target_agreed": Action.TARGET_AGREED,
    "intro_target_declined": Action.TARGET_DECLINED,
    "intro_cancel": Action.CANCEL,
    "intro_followed_up": Action.FOLLOW_UP,
    "intro_owner_approve": Action.OWNER_APPROVE,
    "intro_owner_decline": Action.OWNER_DECLINE,
    "intro_mention_name": Action.MENTION_NAME,
}
# The connector's choice of opt-in ask: button -> named.
ASK_CHOICES = {"intro_ask_named": True, "intro_ask_anonymous": False}
# A stage button, or the stage menu (intro_outcome_select): value "<id>:<outcome>".
OUTCOME_BUTTON = re.compile(r"^intro_outcome_[a-z_]+$")
SECONDARY_BUTTON = re.compile(r"^intro_ask_secondary(_\d+)?$")  # value "<id>:<user or empty>"
# The secondary intro offer after "No response": ask a teammate who knows the target.
SECONDARY_OFFER_ASK = re.compile(r"^intro_secondary_ask_\d+$")  # value "<id>:<user>"
# Buttons that first ask for details in a modal.
MODAL_ACTIONS = {
    "intro_decline": (Action.DECLINE, messages.decline_modal),
    "intro_redirect": (Action.REDIRECT, messages.redirect_modal),
    "intro_owner_edit": (Action.OWNER_APPROVE, messages.owner_edit_modal),
}


def register(app: AsyncApp, services: Services) -> None:
    async def direct_action(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await act_and_deliver(
            services, client, body, request_id_from(action), DIRECT_ACTIONS[action["action_id"]]
        )

    async def choose_ask(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        user_id, team_id = body["user"]["id"], team_of(body)
        try:
            request_id = required_request_id(action)
            outcome = await services.workflow.choose_named_ask(
                team_id, request_id, user_id, ASK_CHOICES[action["action_id"]]
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        await services.dispatcher.deliver(outcome.message_ids)
        if from_home(body):
            await publish_home(services, client, team_id, user_id)

    async def qualify(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The connector's answer to "would they take your call?": kept on the request and
        in their directory."""
        await ack()
        user_id, team_id = body["user"]["id"], team_of(body)
        value = str((action.get("selected_option") or {}).get("value", ""))
        request_id, _, answer = value.partition(":")
        try:
            if not request_id.isdigit():
                raise UnknownRequest(0)
            outcome = await services.workflow.qualify(team_id, int(request_id), user_id, answer)
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        await record_closeness(services, team_id, outcome.request, answer)
        await services.dispatcher.deliver(outcome.message_ids)

    async def report_outcome(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """A stage button (the card, a reminder) or a choice in a menu (Home, /intro outcome):
        the value is "<id>:<outcome>" either way."""
        await ack()
        if "selected_option" in action:
            action = {"value": (action.get("selected_option") or {}).get("value", "")}
        stage = value_detail(action)
        if stage not in set(Outcome):
            user_id = body["user"]["id"]
            await tell_privately(services, client, body, user_id, messages.note("unknown"))
            return
        await act_and_deliver(
            services, client, body, request_id_from(action), REPORT_ACTION[Outcome(stage)]
        )

    async def secondary_offer_answered(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The requester answers the secondary intro offer with "Ask <connector> to nudge" or
        "Leave it": the offer is replaced by what was done."""
        await ack()
        user_id, team_id = body["user"]["id"], team_of(body)
        bump = action["action_id"] == "intro_secondary_bump"
        try:
            request_id = required_request_id(action)
            if bump:
                sent = await services.workflow.send_bump(team_id, request_id, user_id)
                request = sent.request
            else:
                request = await services.workflow.check_requester(team_id, request_id, user_id)
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        if bump:
            await services.dispatcher.deliver(sent.message_ids)
        done = messages.notice(
            request, "secondary_offer_done", {"choice": "bump" if bump else "leave"}
        )
        if not await replace_pressed_message(client, body, done):
            await tell_privately(services, client, body, user_id, done.text)

    modal_actions = {
        **MODAL_ACTIONS,
        # The target said not now: the day to ask them again, counted from today.
        "intro_target_not_now": (
            Action.TARGET_NOT_NOW,
            lambda request: messages.not_now_modal(request, services.clock.now().date()),
        ),
    }

    async def modal_action(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        """Check the action is still possible before asking for its details in a modal."""
        await ack()
        user_id = body["user"]["id"]
        workflow_action, modal = modal_actions[action["action_id"]]
        try:
            request_id = required_request_id(action)
            request = await services.workflow.check(
                context.team_id or "", request_id, user_id, workflow_action
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        await open_view(client, body["trigger_id"], modal(request), logger)

    async def still_waiting(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The connector hasn't heard back yet: thank them in the reminder itself, which keeps
        the report buttons; the next reminder stays as planned."""
        await ack()
        user_id, team_id = body["user"]["id"], team_of(body)
        try:
            request_id = required_request_id(action)
            request = await services.workflow.check(
                team_id, request_id, user_id, Action.TARGET_AGREED
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        upcoming = await services.workflow.next_reminder(team_id, request.id)
        rendered = messages.reminder(
            request,
            "target_check_waiting",
            now=services.clock.now(),
            tz_name=await time_zone_of(services, client, team_id, user_id),
            last=upcoming is not None and upcoming[1] == "target_quiet",
            next_due=upcoming[0] if upcoming else None,
        )
        await replace_pressed_message(client, body, rendered)

    async def ask_again(
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
        *,
        expected: Status | None,
        connector_id: str | None,
    ) -> None:
        """Open the form prefilled from the requester's earlier request, for another
        connector; the new request follows the earlier one (and replaces it, if stalled)."""
        user_id = body["user"]["id"]
        try:
            request_id = required_request_id(action)
            original = await services.workflow.earlier_request(
                context.team_id or "", request_id, user_id, expected
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        view = messages.intro_modal(
            messages.ModalPrefill(
                connector_id=connector_id or original.suggested_user_id or "",
                target_name=original.target_name,
                target_company=original.target_company,
                reason=original.reason,
                blurb=original.blurb,
                share_name="now" if original.share_name else "",
            ),
            messages.ModalContext(previous_request_id=original.id),
        )
        await open_view(client, body["trigger_id"], view, logger)

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
        await ask_again(
            body,
            action,
            context,
            client,
            logger,
            expected=Status.REDIRECTED,
            connector_id=None,
        )

    async def ask_secondary(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        """After a dead end (a decline, a stall, no response, an ask gone quiet): "Ask them"
        opens the form prefilled for that teammate ("Pick someone else": whoever they choose)."""
        await ack()
        await ask_again(
            body,
            action,
            context,
            client,
            logger,
            expected=None,  # any dead end
            connector_id=value_detail(action),
        )

    async def take_offer(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        """Take it: the request form, prefilled from the offer, with its connector chosen."""
        await ack()
        user_id = body["user"]["id"]
        offer_id = request_id_from(action)
        try:
            if offer_id is None:
                raise UnknownOffer(0)
            offer = await services.workflow.open_offer(context.team_id or "", offer_id, user_id)
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        view = messages.intro_modal(
            messages.ModalPrefill(
                connector_id=offer.connector_id,
                target_name=offer.target_name,
                target_company=offer.company,
                reason=offer.reason,
            ),
            messages.ModalContext(offer_id=offer.id, offered_by=offer.connector_id),
        )
        await open_view(client, body["trigger_id"], view, logger)

    async def pass_offer(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """No thanks: the connector hears it kindly; the offer's card says so."""
        await ack()
        user_id, team_id = body["user"]["id"], team_of(body)
        offer_id = request_id_from(action)
        try:
            if offer_id is None:
                raise UnknownOffer(0)
            outcome = await services.workflow.pass_offer(team_id, offer_id, user_id)
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        await services.dispatcher.deliver(outcome.message_ids)

    async def go_cold(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """After a dead end: the note becomes the requester's own first message to the target
        (in their DM), and this path ends there."""
        await ack()
        user_id, team_id = body["user"]["id"], team_of(body)
        requester = await known_teammate(services, client, team_id, user_id) or Teammate(
            user_id=user_id
        )
        try:
            request_id = required_request_id(action)
            outcome = await services.workflow.go_cold(
                team_id, requester, previous_request_id=request_id
            )
        except TransitionError as exc:
            await tell_privately(services, client, body, user_id, refusal_text(exc))
            return
        except DuplicateSubmission:
            return  # pressed twice: the first press's message is on its way
        await services.dispatcher.deliver(outcome.message_ids)

    async def new_request(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, logger: Logger
    ) -> None:
        await ack()
        view = messages.intro_modal(messages.ModalPrefill(), messages.ModalContext())
        await open_view(client, body["trigger_id"], view, logger)

    for action_id in DIRECT_ACTIONS:
        app.action(action_id)(services.work.tracked(direct_action))
    app.action("intro_qualify")(services.work.tracked(qualify))
    for action_id in ASK_CHOICES:
        app.action(action_id)(services.work.tracked(choose_ask))
    for action_id in modal_actions:
        app.action(action_id)(services.work.opens_modal(modal_action))
    app.action("intro_still_waiting")(services.work.tracked(still_waiting))
    app.action("intro_ask_suggested")(services.work.opens_modal(ask_suggested))
    app.action(OUTCOME_BUTTON)(services.work.tracked(report_outcome))
    for action_id in ("intro_secondary_bump", "intro_secondary_leave"):
        app.action(action_id)(services.work.tracked(secondary_offer_answered))
    # The second-voice offer's teammates: "No response" is a dead end like the others.
    app.action(SECONDARY_OFFER_ASK)(services.work.opens_modal(ask_secondary))
    app.action(SECONDARY_BUTTON)(services.work.opens_modal(ask_secondary))
    app.action("intro_go_cold")(services.work.tracked(go_cold))
    app.action("intro_new")(services.work.opens_modal(new_request))
    app.action("intro_offer_take")(services.work.opens_modal(take_offer))
    app.action("intro_offer_pass")(services.work.tracked(pass_offer))
