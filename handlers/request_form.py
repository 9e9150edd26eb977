"""The request form: who knows the target as it is filled in, going in cold from it, and its
submission (checked before the ack, stored and sent after)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.coaching import still_to_see
from bot.intro.directory import AskReview
from bot.intro.people import Teammate
from bot.intro.validation import (
    RequestDraft,
    Review,
    coaching_words,
    review_draft,
    say,
    with_company_from_name,
)
from bot.intro.workflow import DuplicateSubmission, Outcome, TieUnknown, TransitionError
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.rendering.ids import ActionFamily, ActionId, BlockId, CallbackId
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.context import Actor, actor_of, services_of
from handlers.forms import errors_by_block, prefill_from, submitted_values
from handlers.refusals import refusal_text
from handlers.suggestions import pacing_note, refresh_suggestions, source_hint_of
from handlers.support import known_teammate, known_teammates

logger = logging.getLogger(__name__)


@dataclass
class Submission:
    """A submitted form, checked: the draft, what the review found, and where it came from."""

    draft: RequestDraft
    review: Review
    found: AskReview | None
    modal_context: messages.ModalContext

    @property
    def declined_unseen(self) -> bool:
        """The person said no lately and the form has not said so yet: it says so first, and
        a second send is a choice made knowing."""
        return (
            self.found is not None
            and self.found.target_declined is not None
            and not self.modal_context.declined_seen
        )


def draft_from(
    view: dict[str, Any],
    requester_id: str,
    values: dict[str, Any] | None = None,
    modal_context: messages.ModalContext | None = None,
) -> RequestDraft:
    """The form's fields as a request draft; its people are looked up after. `values` and
    `modal_context`: the view's, when the caller has read them already."""
    if values is None:
        values = submitted_values(view)
    if modal_context is None:
        modal_context = messages.ModalContext.load(view.get("private_metadata"))
    draft = RequestDraft(
        requester=Teammate(user_id=requester_id),
        connector=None,
        target_name=str(values.get("target_name") or ""),
        target_company=str(values.get("target_company") or ""),
        reason=str(values.get("reason") or ""),
        blurb=str(values.get("blurb") or ""),
        closeness=str(values.get("closeness") or ""),
        source_channel_id=modal_context.source_channel_id,
        source_message_ts=modal_context.source_message_ts,
        previous_request_id=modal_context.previous_request_id,
        submission_key=str(view.get("id") or "") or None,
        share_name=values.get("share_name") == "now",
        name_first_connector=values.get("name_first_connector") == "yes",
        ask_size=ask_size_of(values),
        anonymous_as=str(values.get("anonymous_as") or ""),
        target_role=str(values.get("target_role") or ""),
    )
    return with_company_from_name(draft)


def ask_size_of(values: dict[str, Any]) -> str:
    """The size of the ask as chosen in the form; a 15-minute call when none (or an unknown
    one) came back."""
    chosen = str(values.get("ask_size") or "")
    return chosen if chosen in messages.labels()["ask_size"] else "call_15"


async def check_submission(
    services: Services, client: AsyncWebClient, actor: Actor, view: dict[str, Any]
) -> Submission:
    """Before the ack: the draft with its people, reviewed, with the directory's findings
    (a duplicate, open asks, pacing) and an offer still open."""
    values = submitted_values(view)
    modal_context = messages.ModalContext.load(view.get("private_metadata"))
    draft = draft_from(view, actor.user_id, values, modal_context)
    connector_id = str(values.get("connector") or "")
    return await check_draft(services, client, actor, draft, connector_id, modal_context)


async def check_draft(
    services: Services,
    client: AsyncWebClient,
    actor: Actor,
    draft: RequestDraft,
    connector_id: str,
    modal_context: messages.ModalContext,
) -> Submission:
    """A request however it was written (the form, a Workflow Builder step), checked as the
    form checks it: its people looked up, the words reviewed, the directory's findings."""
    people = [actor.user_id, connector_id or actor.user_id]
    found, stored = None, None
    if connector_id:
        # The ask's review reads the people this process does not remember with it: their
        # stored profiles come without a round trip of their own.
        in_memory = services.people.remembered(actor.team_id, people)
        found = await services.directory.review_ask(
            actor.team_id,
            actor.user_id,
            connector_id,
            draft.target_name,
            draft.target_company,
            replaces_id=draft.previous_request_id,
            profile_ids=[uid for uid in people if uid not in in_memory],
            name_people=True,
        )
        stored = found.profiles
    requester, connector = await known_teammates(
        services, client, actor.team_id, *people, stored=stored
    )
    draft = replace(
        draft,
        requester=requester or Teammate(user_id=actor.user_id),
        connector=connector if connector_id else None,
    )
    review = review_draft(draft)
    if review.ok and found is not None:
        await word_review(services, client, actor.team_id, draft, review, found)
    else:
        found = None  # not a request the review's findings bear on
    if modal_context.offer_id is not None:
        await review_offer_taken(services, actor.team_id, modal_context.offer_id, draft, review)
    return Submission(draft, review, found, modal_context)


async def store_and_send(
    services: Services, client: AsyncWebClient, actor: Actor, submission: Submission
) -> None:
    """After the ack (the form is closed): store the request and its messages first, so
    nothing the requester wrote is lost to an optional look-up failing; then the source
    message's link, then the messages."""
    modal_context = submission.modal_context
    try:
        outcome = await submit_checked(services, actor, submission)
    except DuplicateSubmission as duplicate:
        # The first of the two is already on its way; its confirmation is the answer.
        logger.info("form submitted again; request %s stands", duplicate.request.id)
        return
    except TransitionError as exc:  # the offer was taken (another form) or passed meanwhile
        await client.chat_postMessage(channel=actor.user_id, text=refusal_text(exc))
        return
    except Exception:
        logger.exception("a request could not be saved")
        failed = messages.note("submit_failed", detail=submission.draft.blurb)
        await client.chat_postMessage(channel=actor.user_id, text=failed)
        return
    if modal_context.source_channel_id and modal_context.source_message_ts:
        permalink = await source_permalink(
            client, modal_context.source_channel_id, modal_context.source_message_ts
        )
        if permalink:
            await services.workflow.attach_permalink(outcome.request, permalink)
    try:
        await services.dispatcher.deliver_outcome(outcome)
    except Exception:
        # Stored and promised: the sweep sends what this could not.
        logger.exception(
            "request %s stored; its messages are left to the sweep", outcome.request.id
        )


async def submit_checked(services: Services, actor: Actor, submission: Submission) -> Outcome:
    """Store a checked request and the messages it promises, leased to this process to send
    at once (DuplicateSubmission: stored already; TransitionError: an offer gone)."""
    found = submission.found
    return await services.workflow.submit(
        actor.team_id,
        submission.draft,
        submission.review.advice,
        owner_id=found.account_owner if found else None,
        offer_id=submission.modal_context.offer_id,
        lease=services.dispatcher.lease(),
        # An ask for a way in has no person to ask about a tie to yet.
        stale_tie=None
        if submission.draft.way_in
        else (found.stale_tie if found else TieUnknown.UNKNOWN),
    )


async def intro_request_submitted(
    ack: AsyncAck,
    view: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    services, actor = services_of(context), actor_of(context)
    submission = await check_submission(services, client, actor, view)
    if not submission.review.ok:
        errors = errors_by_block(view, submission.review.errors)
        await ack(response_action="errors", errors=errors)
        return
    if submission.declined_unseen:
        assert submission.found is not None
        await ack(response_action="update", view=declined_form(view, submission.found))
        return
    if still_to_see(submission.review.coaching, submission.modal_context.coached):
        await ack(response_action="update", view=coached_form(view, submission))
        return
    await ack()
    await store_and_send(services, client, actor, submission)


# What the form shows above its fields and renders afresh; the rest of what is there (the
# suggestions, the flags) stays as the requester last saw it.
_RENDERED_ABOVE_FIELDS = {BlockId.SOURCE_HINT.value, "offer_hint", "coach_intro"}


def coached_form(view: dict[str, Any], submission: Submission) -> dict[str, Any]:
    """The form again with each suggestion on the words under its field and Send anyway;
    it remembers what it showed, so the next press sends."""
    review, context = submission.review, submission.modal_context
    seen = replace(context, coached=context.coached | {c.code for c in review.coaching})
    form = messages.intro_modal(
        prefill_from(view),
        seen,
        source_hint_mrkdwn=source_hint_of(view),
        coaching=coaching_words(review.coaching, submission.draft),
        pacing_note=pacing_note(
            submission.found,
            submission.draft.connector.user_id if submission.draft.connector else "",
        ),
    )
    shown = view.get("blocks", [])
    fields_at = next((i for i, b in enumerate(shown) if b.get("type") == "input"), len(shown))
    above = [b for b in shown[:fields_at] if b.get("block_id") not in _RENDERED_ABOVE_FIELDS]
    # The suggestions as they were, then "Before it goes" right above the fields.
    at = next(i for i, b in enumerate(form["blocks"]) if b.get("block_id") == "coach_intro")
    form["blocks"][at:at] = above
    return form


def declined_form(view: dict[str, Any], found: AskReview) -> dict[str, Any]:
    """The form again, as filled in, saying first that the person said no lately."""
    modal_context = messages.ModalContext.load(view.get("private_metadata"))
    return messages.intro_modal(
        prefill_from(view),
        replace(modal_context, declined_seen=True),
        source_hint_mrkdwn=source_hint_of(view),
        flags=[{"kind": "target_declined", **messages.declined_words(found)}],
    )


async def source_permalink(client: AsyncWebClient, channel: str, message_ts: str) -> str | None:
    """The source message's link, if Slack gives it: the card is useful without it."""
    try:
        response = await client.chat_getPermalink(channel=channel, message_ts=message_ts)
    except SlackApiError as exc:
        logger.info("no permalink for the source message: %s", slack_error_code(exc))
        return None
    except (aiohttp.ClientError, TimeoutError) as exc:
        logger.info("no permalink for the source message: %s", type(exc).__name__)
        return None
    permalink = response.get("permalink")
    return str(permalink) if permalink else None


async def word_review(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    draft: RequestDraft,
    review: Review,
    found: AskReview,
) -> None:
    """Put the directory's findings into words on the form."""
    assert draft.connector is not None
    # Everyone the findings name, looked up together: this all happens before the ack. The
    # review read their stored profiles with it (`name_people`).
    named = [found.mine.connector_id] if found.mine and found.mine.connector_id else []
    named += [uid for r in found.held_by_others for uid in (r.requester_id, r.connector_id) if uid]
    named += [found.next_best] if found.next_best else []
    names = await names_of(services, client, team_id, named, stored=found.profiles)
    if found.target_declined is not None and found.enforce_pacing:
        review.errors["target_name"] = say("target_declined", **messages.declined_words(found))
        return
    if found.mine is not None:
        with_whom = names.get(found.mine.connector_id, "")
        if not with_whom:  # no Slack id: their ask to a connector outside the team
            earlier = await services.workflow.get(team_id, found.mine.id)
            with_whom = (earlier.connector_name if earlier else "") or "someone outside the team"
        review.errors["target_name"] = say("duplicate_mine", connector=with_whom)
        return
    for request in found.held_by_others:
        review.advice.append(
            say(
                "open_ask",
                requester=names[request.requester_id],
                # No Slack id: a connector outside the team.
                connector=names[request.connector_id]
                if request.connector_id
                else "someone outside the team",
            )
        )
    if found.pacing is not None:
        next_best = say("next_best", name=names[found.next_best]) if found.next_best else ""
        words = say(
            found.pacing.code,
            connector=draft.connector.name or "This teammate",
            detail=found.pacing.detail,
            next=next_best,
        )
        if found.enforce_pacing:
            review.errors["connector"] = words
        else:
            review.advice.append(words)


async def review_offer_taken(
    services: Services, team_id: str, offer_id: int, draft: RequestDraft, review: Review
) -> None:
    """Taking an offer: still open, and still asking the connector who made it."""
    try:
        offer = await services.workflow.open_offer(team_id, offer_id, draft.requester.user_id)
    except TransitionError as exc:
        review.errors["connector"] = refusal_text(exc)
        return
    if draft.connector is not None and draft.connector.user_id != offer.connector_id:
        review.errors["connector"] = say("offer_connector_changed")


async def names_of(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    user_ids: list[str],
    *,
    stored: dict[str, Teammate] | None = None,
) -> dict[str, str]:
    """Each person's name, or "a teammate"; `stored`: their stored profiles, when the
    caller read them already (see known_teammates)."""
    unique = list(dict.fromkeys(user_ids))
    people = await known_teammates(services, client, team_id, *unique, stored=stored)
    return {
        user_id: person.name if person and person.name else "a teammate"
        for user_id, person in zip(unique, people, strict=True)
    }


async def target_or_connector_changed(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    view = body["view"]
    await refresh_suggestions(
        services, client, actor.team_id, actor.user_id, view, prefill_from(view)
    )


async def connector_picked(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
) -> None:
    await ack()
    services, actor = services_of(context), actor_of(context)
    view = body["view"]
    prefill = prefill_from(view, connector_id=str(action.get("value") or ""))
    await refresh_suggestions(services, client, actor.team_id, actor.user_id, view, prefill)


def cold_draft(requester: Teammate, view: dict[str, Any]) -> RequestDraft:
    prefill = prefill_from(view)
    return with_company_from_name(
        RequestDraft(
            requester=requester,
            connector=None,
            target_name=prefill.target_name,
            target_company=prefill.target_company,
            reason=prefill.reason,
            blurb=prefill.blurb,
            submission_key=f"cold:{view.get('id') or ''}",
            ask_size=ask_size_of({"ask_size": prefill.ask_size}),
        )
    )


async def go_cold_from_form(
    ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    """No warm path: the form's note becomes the requester's own first message; the form
    shows it, and their DM keeps it with a way to report how it went."""
    await ack()
    services, actor = services_of(context), actor_of(context)
    view = body["view"]
    requester = await known_teammate(services, client, actor.team_id, actor.user_id) or Teammate(
        user_id=actor.user_id
    )
    draft = cold_draft(requester, view)
    problems = [field for field in review_draft(draft).errors if field != "connector"]
    if draft.way_in:  # going in cold is writing to a person: it needs their name
        problems.insert(0, "target_name")
    if await services.directory.target_declined(actor.team_id, draft.target_name):
        # The person said no lately: the form says so, and offers no way in cold.
        await refresh_suggestions(
            services, client, actor.team_id, actor.user_id, view, prefill_from(view)
        )
        return
    if problems:
        fields = messages.labels()["cold_fields"]
        detail = " and ".join(fields.get(field, field) for field in problems)
        await refresh_suggestions(
            services,
            client,
            actor.team_id,
            actor.user_id,
            view,
            prefill_from(view),
            cold_problem=detail,
        )
        return
    try:
        outcome = await services.workflow.go_cold(actor.team_id, requester, draft)
    except DuplicateSubmission:
        return  # pressed twice: the first press already shows the message
    try:
        await client.views_update(
            view_id=view["id"], hash=view.get("hash"), view=messages.cold_modal(outcome.request)
        )
    except SlackApiError as exc:
        logger.info("cold message not shown in the form: %s", slack_error_code(exc))
    await services.dispatcher.deliver(outcome.message_ids)


# The name field, the company field (with no name: an ask for a way in) and the connector
# picker ask for suggestions when they change (Enter, a pick): their element's action id is
# every field's.
FORM_FIELDS_THAT_SEARCH: dict[str, str | re.Pattern[str]] = {
    "block_id": re.compile(rf"^({BlockId.TARGET_NAME}|target_company|{BlockId.CONNECTOR}(:\w+)?)$"),
    "action_id": ActionId.FIELD.value,
}


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.view(CallbackId.REQUEST_MODAL)(work.tracked(intro_request_submitted))
    app.action(FORM_FIELDS_THAT_SEARCH)(work.tracked(target_or_connector_changed))
    app.action(ActionFamily.PICK_CONNECTOR.pattern)(work.tracked(connector_picked))
    app.action(ActionId.GO_COLD_FORM)(work.tracked(go_cold_from_form))
