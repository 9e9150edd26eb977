"""Modal submissions: the intro request, a decline, a suggestion of someone else."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from logging import Logger
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.directory import AskReview
from bot.intro.states import Action
from bot.intro.validation import (
    RequestDraft,
    Review,
    Teammate,
    review_draft,
    say,
    with_company_from_name,
)
from bot.intro.workflow import (
    DuplicateSubmission,
    InvalidSuggestion,
    TieUnknown,
    TransitionError,
)
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.wiring.app import Services
from handlers.support import (
    act_and_deliver,
    known_teammate,
    known_teammates,
    refusal_text,
    remembered,
    submitted_values,
    time_zone_of,
)

logger = logging.getLogger(__name__)


def _request_id(view: dict[str, Any]) -> int | None:
    try:
        return int(view.get("private_metadata") or "")
    except ValueError:
        return None


async def _permalink(client: AsyncWebClient, channel: str, message_ts: str) -> str | None:
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
        values = submitted_values(view)
        requester_id = body["user"]["id"]
        connector_id = str(values.get("connector") or "")
        team_id = context.team_id or ""
        modal_context = messages.ModalContext.load(view.get("private_metadata"))
        draft = RequestDraft(
            requester=Teammate(user_id=requester_id),  # both looked up below
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
        )
        draft = with_company_from_name(draft)
        people = [requester_id, connector_id or requester_id]
        found, stored = None, None
        if connector_id:
            # The ask's review reads the people this process does not remember with it: their
            # stored profiles come without a round trip of their own.
            in_memory = remembered(services, team_id, people)
            found = await services.directory.review_ask(
                team_id,
                requester_id,
                connector_id,
                draft.target_name,
                draft.target_company,
                replaces_id=draft.previous_request_id,
                profile_ids=[uid for uid in people if uid not in in_memory],
            )
            stored = found.profiles
        requester, connector = await known_teammates(
            services, client, team_id, *people, stored=stored
        )
        draft = replace(
            draft,
            requester=requester or Teammate(user_id=requester_id),
            connector=connector if connector_id else None,
        )
        review = review_draft(draft)
        if review.ok and found is not None:
            await _word_review(services, client, team_id, draft, review, found)
        else:
            found = None  # not a request the review's findings bear on
        if modal_context.offer_id is not None:
            await _review_offer(services, team_id, modal_context.offer_id, draft, review)
        if not review.ok:
            await ack(response_action="errors", errors=_block_ids(view, review.errors))
            return
        await ack()
        # The form is closed now: store the request and its messages first, so nothing the
        # requester wrote is lost to an optional lookup failing.
        try:
            outcome = await services.workflow.submit(
                team_id,
                draft,
                review.advice,
                owner_id=found.account_owner if found else None,
                offer_id=modal_context.offer_id,
                lease=services.dispatcher.lease(),
                stale_tie=found.stale_tie if found else TieUnknown.UNKNOWN,
            )
        except DuplicateSubmission as duplicate:
            # The first of the two is already on its way; its confirmation is the answer.
            logger.info("form submitted again; request %s stands", duplicate.request.id)
            return
        except TransitionError as exc:  # the offer was taken (another form) or passed meanwhile
            await client.chat_postMessage(channel=requester_id, text=refusal_text(exc))
            return
        except Exception:
            logger.exception("a request could not be saved")
            failed = messages.note("submit_failed", detail=draft.blurb)
            await client.chat_postMessage(channel=requester_id, text=failed)
            return
        if modal_context.source_channel_id and modal_context.source_message_ts:
            permalink = await _permalink(
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

    @app.action("intro_go_cold_form")
    @services.tracked
    async def go_cold_from_form(
        ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
    ) -> None:
        """No warm path: the form's note becomes the requester's own first message; the form
        shows it, and their DM keeps it with a way to report how it went."""
        await ack()
        view = body["view"]
        user_id, team_id = body["user"]["id"], context.team_id or ""
        prefill = prefill_from(view)
        requester = await known_teammate(services, client, team_id, user_id) or Teammate(
            user_id=user_id
        )
        draft = with_company_from_name(
            RequestDraft(
                requester=requester,
                connector=None,
                target_name=prefill.target_name,
                target_company=prefill.target_company,
                reason=prefill.reason,
                blurb=prefill.blurb,
                submission_key=f"cold:{view.get('id') or ''}",
            )
        )
        problems = [field for field in review_draft(draft).errors if field != "connector"]
        if problems:
            fields = messages.labels()["cold_fields"]
            detail = " and ".join(fields.get(field, field) for field in problems)
            await refresh_suggestions(
                services, client, team_id, user_id, view, prefill, cold_problem=detail
            )
            return
        try:
            outcome = await services.workflow.go_cold(team_id, requester, draft)
        except DuplicateSubmission:
            return  # pressed twice: the first press already shows the message
        try:
            await client.views_update(
                view_id=view["id"], hash=view.get("hash"), view=messages.cold_modal(outcome.request)
            )
        except SlackApiError as exc:
            logger.info("cold message not shown in the form: %s", slack_error_code(exc))
        await services.dispatcher.deliver(outcome.message_ids)

    @app.view("intro_decline_modal")
    @services.tracked
    async def decline_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
    ) -> None:
        await ack()
        await act_and_deliver(
            services,
            client,
            body,
            _request_id(view),
            Action.DECLINE,
            reason=str(submitted_values(view).get("reason") or ""),
        )

    @app.view("intro_not_now_modal")
    @services.tracked
    async def not_now_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
    ) -> None:
        day = str(submitted_values(view).get("ask_again_on") or "")
        # "After today" as the connector's calendar has it: late in the day in the Americas,
        # UTC is already on tomorrow.
        team_id = context.team_id or ""
        tz_name = await time_zone_of(services, client, team_id, body["user"]["id"])
        try:
            services.workflow.valid_ask_again_on(day, tz_name)
        except InvalidSuggestion:
            await ack(response_action="errors", errors={"ask_again_on": say("ask_again_past")})
            return
        await ack()
        await act_and_deliver(
            services,
            client,
            body,
            _request_id(view),
            Action.TARGET_NOT_NOW,
            ask_again_on=day,
            tz_name=tz_name,
        )

    @app.view("intro_owner_edit_modal")
    @services.tracked
    async def owner_edit_submitted(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
    ) -> None:
        blurb = str(submitted_values(view).get("blurb") or "").strip()
        if not blurb:
            await ack(response_action="errors", errors={"blurb": say("blurb_missing")})
            return
        await ack()
        await act_and_deliver(
            services, client, body, _request_id(view), Action.OWNER_APPROVE, blurb=blurb
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
        values = submitted_values(view)
        suggested_id = str(values.get("suggested_user") or "")
        suggested = (
            await known_teammate(services, client, context.team_id or "", suggested_id)
            if suggested_id
            else None
        )
        if suggested is None or suggested.is_bot or suggested.deleted:
            await ack(
                response_action="errors",
                errors={"suggested_user": say("suggest_not_human")},
            )
            return
        if suggested.user_id == body["user"]["id"]:
            await ack(
                response_action="errors",
                errors={"suggested_user": say("suggest_self")},
            )
            return
        await ack()
        await act_and_deliver(
            services,
            client,
            body,
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


async def _word_review(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    draft: RequestDraft,
    review: Review,
    found: AskReview,
) -> None:
    """Put the directory's findings into words on the form."""
    assert draft.connector is not None
    # Everyone the findings name, looked up together: this all happens before the ack.
    named = [found.mine.connector_id] if found.mine else []
    named += [uid for r in found.held_by_others for uid in (r.requester_id, r.connector_id)]
    named += [found.next_best] if found.next_best else []
    names = await _names(services, client, team_id, named)
    if found.mine is not None:
        review.errors["target_name"] = say(
            "duplicate_mine", connector=names[found.mine.connector_id]
        )
        return
    for request in found.held_by_others:
        review.advice.append(
            say(
                "open_ask",
                requester=names[request.requester_id],
                connector=names[request.connector_id],
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


async def _review_offer(
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


async def _names(
    services: Services, client: AsyncWebClient, team_id: str, user_ids: list[str]
) -> dict[str, str]:
    unique = list(dict.fromkeys(user_ids))
    people = await known_teammates(services, client, team_id, *unique)
    return {
        user_id: person.name if person and person.name else "a teammate"
        for user_id, person in zip(unique, people, strict=True)
    }


async def refresh_suggestions(
    services: Services,
    client: AsyncWebClient,
    team_id: str,
    user_id: str,
    view: dict[str, Any],
    prefill: messages.ModalPrefill,
    *,
    cold_problem: str = "",
) -> None:
    """Show who knows the target (and any reason to hold back) in the open form; and what
    stops going in cold, when that was pressed too early."""
    if not prefill.target_name.strip() and not cold_problem:
        return
    directory = services.directory
    suggestions = await directory.suggest_connectors(
        team_id, prefill.target_name, prefill.target_company, exclude=(user_id,)
    )
    found = await directory.review_ask(
        team_id,
        user_id,
        prefill.connector_id,
        prefill.target_name,
        prefill.target_company,
        replaces_id=messages.ModalContext.load(view.get("private_metadata")).previous_request_id,
        suggestions=suggestions,
        ties=False,  # the form shows no tie: the connector's card asks about it
    )
    held = ([found.mine] if found.mine else []) + found.held_by_others
    flags: list[dict[str, str]] = [
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
        logger.info("suggestions not shown: %s", slack_error_code(exc))


def prefill_from(view: dict[str, Any], connector_id: str | None = None) -> messages.ModalPrefill:
    values = submitted_values(view)
    return messages.ModalPrefill(
        connector_id=connector_id if connector_id is not None else str(values.get("connector", "")),
        target_name=str(values.get("target_name") or ""),
        target_company=str(values.get("target_company") or ""),
        reason=str(values.get("reason") or ""),
        blurb=str(values.get("blurb") or ""),
        closeness=str(values.get("closeness") or ""),
        share_name=str(values.get("share_name") or ""),
    )
