"""The /intro slash command and its sub-commands."""

from __future__ import annotations

from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.command_text import parse_command
from bot.intro.directory import ContactInput
from bot.intro.validation import review_company, review_contact
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.wiring.app import Services
from handlers.support import (
    is_admin,
    known_teammate,
    offer_intro,
    open_intro_modal,
    workspace_names,
)
from handlers.views import refresh_suggestions


def register(app: AsyncApp, services: Services) -> None:
    @app.command("/intro")
    @services.opens_modal
    async def intro_command(
        ack: AsyncAck,
        body: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        respond: AsyncRespond,
        logger: Logger,
    ) -> None:
        command = parse_command(body.get("text") or "")
        user_id = body["user_id"]
        team_id = context.team_id or ""
        if command.verb == "request":
            await ack()
            # The trigger_id lasts about 3 seconds: open the form first, suggest after.
            opened = await open_intro_modal(
                client,
                body["trigger_id"],
                messages.ModalPrefill(target_name=command.name),
                messages.ModalContext(),
                logger,
            )
            if opened is None:
                await respond(text=messages.note("modal_failed"), response_type="ephemeral")
            elif command.name and not services.busy:  # suggestions are optional when busy
                async with services.work_slot():
                    await refresh_suggestions(
                        services,
                        client,
                        team_id,
                        user_id,
                        opened,
                        messages.ModalPrefill(target_name=command.name),
                    )
            return
        if command.verb == "help":
            in_dm = str(body.get("channel_id") or "").startswith("D")
            await ack(text=messages.command_reply("help", in_dm=in_dm))
            return
        if command.verb == "usage":
            await ack(text=messages.command_reply("usage", meant=command.meant, typed=command.name))
            return
        if command.verb == "know":
            if not command.name:
                await ack(text=messages.command_reply("know_usage"))
                return
            review = review_contact(command.name, command.company)
            if not review.ok:
                await ack(text=next(iter(review.errors.values())))
                return
            _, added = await services.directory.add_contact(
                team_id, user_id, ContactInput(command.name, command.company, closeness="know_well")
            )
            await ack(
                text=messages.command_reply(
                    "known", added=added, name=command.name, company=command.company
                )
            )
            return
        if command.verb == "forget":
            if command.name != "me":
                await ack(text=messages.command_reply("forget_usage"))
                return
            await ack()
            forgotten = await services.directory.forget_person(team_id, user_id)
            await services.workflow.erase_words_of(team_id, user_id)
            await respond(
                text=messages.command_reply("forgotten", rows=forgotten),
                response_type="ephemeral",
            )
            return
        if command.verb == "offer":
            await ack()
            reply = await offer_intro(
                services, client, team_id, user_id, command.user_id, command.name, command.company
            )
            await respond(text=reply, response_type="ephemeral")
            return
        if command.verb == "outcome":
            await ack()
            mine = await services.workflow.outcomes_to_report(team_id, user_id, command.name)
            listed = messages.outcome_list(mine, command.name)
            await respond(text=listed.text, blocks=listed.blocks, response_type="ephemeral")
            return
        if command.verb == "stats":
            await ack()
            async with services.work_slot():
                report = await services.attribution.report(team_id, viewer=user_id)
            rendered = messages.stats(report, user_id)
            await respond(text=rendered.text, blocks=rendered.blocks, response_type="ephemeral")
            return
        # owner and export are for workspace admins.
        await ack()
        if not await is_admin(services, client, team_id, user_id):
            await respond(text=messages.command_reply("admins_only"), response_type="ephemeral")
            return
        if command.verb == "pacing":
            strict = command.name == "strict"
            await services.directory.set_enforce_pacing(team_id, strict)
            await respond(
                text=messages.command_reply("pacing_set", strict=strict), response_type="ephemeral"
            )
            return
        if command.verb == "owner":
            owner = (
                await known_teammate(services, client, team_id, command.user_id)
                if command.user_id
                else None
            )
            if not command.company or owner is None or owner.is_bot or owner.deleted:
                await respond(text=messages.command_reply("owner_usage"), response_type="ephemeral")
                return
            problem = review_company(command.company)
            if problem:
                await respond(text=problem, response_type="ephemeral")
                return
            await services.directory.set_account_owner(team_id, command.company, owner.user_id)
            await respond(
                text=messages.command_reply(
                    "owner_set", company=command.company, owner=owner.user_id
                ),
                response_type="ephemeral",
            )
            return
        await respond(text=messages.command_reply("export_started"), response_type="ephemeral")
        async with services.work_slot():
            await _export(services, client, team_id, user_id, logger)


async def _export(
    services: Services, client: AsyncWebClient, team_id: str, user_id: str, logger: Logger
) -> None:
    try:
        names = await workspace_names(client)
    except SlackApiError as exc:  # the export is still worth having with ids for names
        logger.warning("users.list failed, names left as ids: %s", slack_error_code(exc))
        names = {}
    csv_text = await services.attribution.export_csv(team_id, names)
    rows = max(0, csv_text.count("\n") - 1)
    try:
        channel = (await client.conversations_open(users=user_id))["channel"]["id"]
        await client.files_upload_v2(
            channel=channel,
            content=csv_text,
            filename="introbot-requests.csv",
            title="introbot: intro requests",
            initial_comment=messages.command_reply("export_done", rows=rows),
        )
    except SlackApiError as exc:
        logger.error("export upload failed: %s", slack_error_code(exc))
