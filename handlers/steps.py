"""Workflow Builder steps (custom functions, `function_executed`): "Request a warm intro"
makes a request as the form would, with the form's checks; "Record an intro outcome" moves an
intro's outcome stage as its requester's buttons would.

Bolt acks the event and hands the step its inputs with `complete` and `fail`, whose client
carries the execution's own short-lived token (`function_bot_access_token`). Every refusal
ends the step with `fail` and words the person running the workflow can act on; a step that
stored a request always completes, whatever became of sending its messages."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.coaching import still_to_see
from bot.intro.states import IllegalTransition, Outcome
from bot.intro.validation import RequestDraft, coaching_words, say, with_company_from_name
from bot.intro.workflow import (
    DuplicateSubmission,
    NotYourRequest,
    TransitionError,
    UnknownRequest,
)
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.rendering.ids import StepId
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.context import Actor, services_of
from handlers.refusals import refusal_text
from handlers.replies import say_privately
from handlers.request_form import Submission, check_draft, source_permalink, submit_checked
from handlers.support import active_person, known_teammate

logger = logging.getLogger(__name__)


class StepRefused(Exception):
    """The step cannot go on: `words` say why, to whoever runs the workflow."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.words = words


def _text(inputs: dict[str, Any], name: str) -> str:
    value = inputs.get(name)
    return "" if value is None else str(value).strip()


async def workspace_of(context: AsyncBoltContext, client: AsyncWebClient, user_id: str) -> str:
    """The workspace a step runs for: the one the event names (handlers.context), else, on an
    org-wide install whose event names only the org, the acting person's own workspace."""
    if context.team_id:
        return context.team_id
    if not user_id:
        return ""
    try:
        answer = await client.users_info(user=user_id)
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        logger.info("no workspace for a step's person: %s", type(exc).__name__)
        return ""
    return str((answer.get("user") or {}).get("team_id") or "")


# --- Request a warm intro ------------------------------------------------------------------


async def request_warm_intro(
    body: dict[str, Any],
    event: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    complete: AsyncComplete,
    fail: AsyncFail,
) -> None:
    services, inputs = services_of(context), event.get("inputs") or {}
    requester_id = _text(inputs, "requester")
    team_id = await workspace_of(context, client, requester_id)
    actor = Actor(requester_id, team_id, context.enterprise_id)
    try:
        submission = await checked_request(services, client, actor, event)
        outcome = await submit_checked(services, actor, submission)
    except StepRefused as refused:
        await fail(refused.words)
        return
    except DuplicateSubmission as duplicate:  # this execution stored it already
        request = duplicate.request
    except TransitionError as exc:
        await fail(refusal_text(exc))
        return
    except Exception:
        logger.exception("a step's request could not be saved")
        await fail(messages.note("step_failed"))
        return
    else:
        request = outcome.request
        try:
            await services.dispatcher.deliver_outcome(outcome)
        except Exception:
            # Stored and promised: the sweep sends what this could not.
            logger.exception("request %s stored; its messages are left to the sweep", request.id)
    link = await request_link(services, client, team_id, request.id, str(body.get("api_app_id")))
    await complete(
        {"request_id": request.id, "request_link": link, "connector": request.connector_id}
    )


async def checked_request(
    services: Services, client: AsyncWebClient, actor: Actor, event: dict[str, Any]
) -> Submission:
    """The step's inputs as a request draft, checked as the form checks one; StepRefused
    with the form's own words where the form would stop or coach."""
    inputs = event.get("inputs") or {}
    team_id = actor.team_id
    requester = await active_person(services, client, team_id, actor.user_id) if team_id else None
    if requester is None:
        raise StepRefused(messages.note("step_no_requester"))
    draft = with_company_from_name(
        RequestDraft(
            requester=requester,
            connector=None,
            target_name=_text(inputs, "target_name"),
            target_company=_text(inputs, "target_company"),
            reason=_text(inputs, "reason"),
            blurb=_text(inputs, "note"),
            # One request per run of the step, however often Slack sends its event.
            submission_key=f"step:{event.get('function_execution_id') or ''}"[:64],
        )
    )
    connector_id = await connector_for(services, client, actor, draft, _text(inputs, "connector"))
    submission = await check_draft(
        services, client, actor, draft, connector_id, messages.ModalContext()
    )
    refuse_as_the_form_would(submission, bool(inputs.get("send_anyway")))
    return submission


async def connector_for(
    services: Services, client: AsyncWebClient, actor: Actor, draft: RequestDraft, given: str
) -> str:
    """The connector the step names, if Slack knows them; else the teammate the directory
    ranks first for the person (as the form suggests them), leaving out ties that lapsed
    and anyone over their pacing limits."""
    if given:
        if await known_teammate(services, client, actor.team_id, given) is None:
            raise StepRefused(messages.note("step_no_connector"))
        return given
    target = draft.target_name.strip()
    if not target:
        return ""  # the check says the name is missing
    directory = services.directory
    found = await directory.best_connector(
        actor.team_id, target, draft.target_company, exclude=(actor.user_id,)
    )
    if found is not None:
        return found
    if await directory.target_declined(actor.team_id, target):
        return ""  # the check says they said no, and until when their no holds
    raise StepRefused(messages.note("step_no_suggestion", target=target))


def refuse_as_the_form_would(submission: Submission, send_anyway: bool) -> None:
    """What would stop the form stops the step: its errors; a no from the person that still
    holds (the form says it first, and nobody sees a step's warning); and the coaching on the
    words, unless the step says to send them as written."""
    draft, review, found = submission.draft, submission.review, submission.found
    target = draft.target_name.strip() or "them"
    if not review.ok:
        detail = " ".join(dict.fromkeys(review.errors.values()))
        raise StepRefused(messages.note("step_refused", target=target, detail=detail))
    if found is not None and found.target_declined is not None:
        words = say("target_declined", **messages.declined_words(found))
        raise StepRefused(messages.note("step_refused", target=target, detail=words))
    coaching = still_to_see(review.coaching, frozenset())
    if coaching and not send_anyway:
        fixes = [fix for words in coaching_words(coaching, draft).values() for fix in words]
        raise StepRefused(messages.note("step_coached", target=target, detail=" ".join(fixes)))


async def request_link(
    services: Services, client: AsyncWebClient, team_id: str, request_id: int, app_id: str
) -> str:
    """The requester's card for the request once it is in their DM (its permalink); until
    then, introbot's Home tab, which lists the request from the moment it is stored."""
    card = await services.workflow.requester_card_at(team_id, request_id)
    if card is not None:
        permalink = await source_permalink(client, *card)
        if permalink:
            return permalink
    return f"slack://app?team={team_id}&id={app_id}&tab=home"


# --- Record an intro outcome ---------------------------------------------------------------


async def record_intro_outcome(
    body: dict[str, Any],
    event: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    complete: AsyncComplete,
    fail: AsyncFail,
) -> None:
    """The requester's outcome buttons, as a step: the same rule on who may record it (the
    acting person must be the request's requester), forward stages only."""
    services, inputs = services_of(context), event.get("inputs") or {}
    requester_id, stage = _text(inputs, "requester"), _text(inputs, "stage")
    team_id = await workspace_of(context, client, requester_id)
    try:
        request_id = int(_text(inputs, "request_id"))
    except ValueError:
        await fail(messages.note("step_no_request", detail=_text(inputs, "request_id")))
        return
    if stage not in set(Outcome):
        stages = ", ".join(messages.labels()["outcome"].values())
        await fail(messages.note("step_unknown_stage", detail=stage, stages=stages))
        return
    try:
        outcome = await services.workflow.report_outcome(
            team_id, request_id, requester_id, stage, lease=services.dispatcher.lease()
        )
    except TransitionError as exc:
        await fail(outcome_refusal(exc, request_id, stage))
        return
    except Exception:
        logger.exception("a step's outcome could not be recorded")
        await fail(messages.note("step_outcome_failed"))
        return
    try:
        await services.dispatcher.deliver_outcome(outcome)
    except Exception:
        logger.exception("outcome of %s stored; its messages are left to the sweep", request_id)
    request = outcome.request
    if request.connector_id and stage != Outcome.NO_RESPONSE:
        # As after the buttons: introbot told the connector; the thanks are the requester's.
        offer = messages.notice(request, "thank_offer")
        try:
            await say_privately(client, body, requester_id, offer)
        except SlackApiError as exc:
            logger.info("no thanks offered after a step: %s", slack_error_code(exc))
    await complete({"request_id": request.id, "stage": stage})


def outcome_refusal(exc: TransitionError, request_id: int, stage: str) -> str:
    """A refused outcome in a step's words: no button was pressed, and who asked for a
    request is not told to whoever runs a workflow with its number."""
    if isinstance(exc, NotYourRequest):
        return messages.note("step_not_yours")
    if isinstance(exc, UnknownRequest):
        return messages.note("step_no_request", detail=str(request_id))
    if isinstance(exc, IllegalTransition):
        label = str(messages.labels()["outcome"][stage])
        return messages.note(
            "step_stage_refused", detail=label, status_label=messages.status_label(exc.status)
        )
    return refusal_text(exc)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.function(StepId.REQUEST_INTRO)(work.tracked(request_warm_intro))
    app.function(StepId.RECORD_OUTCOME)(work.tracked(record_intro_outcome))
