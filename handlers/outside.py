"""A connector outside the team: the request form's switch to its own form, that form's
submission (checked before the ack, stored and sent after), and the requester's reports of
what the connector and then the target said."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro import outside
from bot.intro.directory import AskReview
from bot.intro.people import Teammate
from bot.intro.states import Action
from bot.intro.validation import (
    RequestDraft,
    Review,
    review_draft,
    say,
    with_company_from_name,
)
from bot.intro.workflow import DuplicateSubmission
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.rendering.ids import ActionId, BlockId, CallbackId
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.buttons import act_and_deliver
from handlers.context import Actor, actor_of, services_of
from handlers.forms import errors_by_block, prefill_from, submitted_values
from handlers.pressed import pressed_request
from handlers.refusals import tells_refusals
from handlers.request_form import names_of
from handlers.support import known_teammate

logger = logging.getLogger(__name__)

# The requester's reports of the connector's answers: button -> the connector's action
# (that the target agreed is handlers.intro_made's).
STEPS = {
    ActionId.OUTSIDE_AGREED: Action.ACCEPT,
    ActionId.OUTSIDE_DECLINED: Action.DECLINE,
    ActionId.OUTSIDE_TARGET_DECLINED: Action.TARGET_DECLINED,
}


async def open_outside_form(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    """The request form becomes the form for a connector outside the team, what was typed
    about the person carried over."""
    await ack()
    view = body["view"]
    modal_context = messages.ModalContext.load(view.get("private_metadata"))
    form = messages.outside_modal(prefill_from(view), modal_context)
    try:
        await client.views_update(view_id=view["id"], hash=view.get("hash"), view=form)
    except SlackApiError as exc:
        logger.info("outside form not shown: %s", slack_error_code(exc))


def connector_from(view: dict[str, Any]) -> outside.OutsideConnector:
    values = submitted_values(view)
    return outside.OutsideConnector.typed(
        str(values.get(outside.NAME) or ""),
        str(values.get(outside.EMAIL) or ""),
        str(values.get(outside.KNOWS_TARGET) or ""),
        str(values.get(outside.KNOWS_THEM) or ""),
    )


def draft_from(view: dict[str, Any], requester: Teammate) -> RequestDraft:
    values = submitted_values(view)
    modal_context = messages.ModalContext.load(view.get("private_metadata"))
    return with_company_from_name(
        RequestDraft(
            requester=requester,
            connector=None,
            target_name=str(values.get(BlockId.TARGET_NAME) or ""),
            target_company=str(values.get("target_company") or ""),
            reason=str(values.get("reason") or ""),
            blurb=str(values.get("blurb") or ""),
            source_channel_id=modal_context.source_channel_id,
            source_message_ts=modal_context.source_message_ts,
            previous_request_id=modal_context.previous_request_id,
            submission_key=str(view.get("id") or "") or None,
        )
    )


async def review_asks(
    services: Services,
    client: AsyncWebClient,
    actor: Actor,
    draft: RequestDraft,
    connector: outside.OutsideConnector,
    review: Review,
) -> AskReview:
    """The asks already open for this person and with this connector, in words on the form:
    the requester's own and another's ask to the same connector for the same person block
    it; the team's open asks to this connector pace it (refused past the limit when the
    workspace enforces pacing)."""
    found = await services.directory.review_ask(
        actor.team_id,
        actor.user_id,
        "",
        draft.target_name,
        draft.target_company,
        replaces_id=draft.previous_request_id,
        ties=False,
    )
    to_them = await services.workflow.open_asks_to_outside(actor.team_id, connector.email)
    same_person = outside.asks_for_person(to_them, draft.target_name)
    named = [a.connector_id for a in found.held_by_others if a.connector_id]
    named += [a.requester_id for a in found.held_by_others]
    named += [r.requester_id for r in to_them]
    if found.mine is not None and found.mine.connector_id:
        named.append(found.mine.connector_id)
    names = await names_of(services, client, actor.team_id, named)
    outside_names = {r.id: r.connector_name for r in to_them}
    if found.mine is not None:
        mine = found.mine
        with_whom = names[mine.connector_id] if mine.connector_id else None
        if with_whom is None:
            earlier = await services.workflow.get(actor.team_id, mine.id)
            with_whom = earlier.connector_name if earlier is not None else "someone"
        review.errors[BlockId.TARGET_NAME] = outside.say("duplicate_mine", connector=with_whom)
        return found
    if same_person:
        review.errors[BlockId.TARGET_NAME] = outside.say(
            "duplicate_other",
            requester=names[same_person[0].requester_id],
            connector=connector.name,
        )
        return found
    for ask in found.held_by_others:
        review.advice.append(
            outside.say(
                "open_ask",
                requester=names[ask.requester_id],
                connector=names[ask.connector_id]
                if ask.connector_id
                else outside_names.get(ask.id, "someone outside the team"),
            )
        )
    enforce = await services.workflow.enforces_pacing(actor.team_id)
    problem, advice = outside.review_open_asks(
        connector.name,
        len(to_them),
        [names[r.requester_id] for r in to_them if r.requester_id != actor.user_id],
        enforce=enforce,
    )
    if problem:
        review.errors[outside.EMAIL] = problem
    if advice:
        review.advice.append(advice)
    return found


async def outside_request_submitted(
    ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    """The form for a connector outside the team: checked before the ack (errors shown on
    their fields), then stored, and the requester's card, with the ask to send, goes out."""
    services, actor = services_of(context), actor_of(context)
    requester = await known_teammate(services, client, actor.team_id, actor.user_id)
    requester = requester or Teammate(user_id=actor.user_id)
    draft = draft_from(view, requester)
    connector = connector_from(view)
    review = review_draft(draft)
    review.errors.pop("connector", None)  # named in this form's own fields
    if draft.way_in:  # a way in is picked by a teammate from their list: a name here
        review.errors["target_name"] = say("target_missing")
    review.errors.update(outside.review_connector(connector, requester.email))
    found = None
    if review.ok:
        found = await review_asks(services, client, actor, draft, connector, review)
    if not review.ok:
        await ack(response_action="errors", errors=errors_by_block(view, review.errors))
        return
    await ack()
    try:
        outcome = await services.workflow.submit_outside(
            actor.team_id,
            draft,
            connector,
            review.advice,
            owner_id=found.account_owner if found else None,
            lease=services.dispatcher.lease(),
        )
    except DuplicateSubmission as duplicate:
        logger.info("form submitted again; request %s stands", duplicate.request.id)
        return
    except Exception:
        logger.exception("a request could not be saved")
        failed = messages.note("submit_failed", detail=draft.blurb)
        await client.chat_postMessage(channel=actor.user_id, text=failed)
        return
    await services.dispatcher.deliver_outcome(outcome)


@tells_refusals
async def report_step(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    """The requester tells what the connector outside the team said, or what the target
    said to them: the same move the connector's own button makes for a teammate."""
    await ack()
    step = STEPS[ActionId(action["action_id"])]
    await act_and_deliver(context, client, body, pressed_request(action), step)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.OUTSIDE_FORM)(work.tracked(open_outside_form))
    app.view(CallbackId.OUTSIDE_MODAL)(work.tracked(outside_request_submitted))
    for step in STEPS:
        app.action(step)(work.tracked(report_step))
