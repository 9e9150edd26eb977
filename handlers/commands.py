"""The /intro slash command: a table of its sub-commands, each a function of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from logging import Logger
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.slack_people import SlackUsers
from bot.intro.command_text import Command, parse_command
from bot.intro.companies import key_of
from bot.intro.contacts import ContactInput
from bot.intro.privacy import forget_me
from bot.intro.validation import review_company, review_contact
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from bot.settings import webhook_url_ok
from handlers.accounts import add_names, coverage_message, remove_names
from handlers.context import Actor, actor_of, services_of
from handlers.offers import offer_intro
from handlers.suggestions import open_intro_form
from handlers.support import active_person, is_admin
from handlers.teams import stats_team, team


@dataclass(frozen=True)
class Typed:
    """One /intro as typed, with what its sub-command needs to answer."""

    command: Command
    body: dict[str, Any]
    actor: Actor
    services: Services
    ack: AsyncAck
    respond: AsyncRespond
    client: AsyncWebClient
    logger: Logger

    async def reply(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """An answer only the person sees, after the ack."""
        if blocks is None:
            await self.respond(text=text, response_type="ephemeral")
        else:
            await self.respond(text=text, blocks=blocks, response_type="ephemeral")


SubCommand = Callable[[Typed], Awaitable[None]]


async def request(typed: Typed) -> None:
    """The request form, prefilled with the name typed, and who knows them."""
    await typed.ack()
    prefill = messages.ModalPrefill(target_name=typed.command.name)
    opened = await open_intro_form(
        typed.services,
        typed.client,
        typed.actor,
        typed.body["trigger_id"],
        prefill,
        messages.ModalContext(),
    )
    if not opened:
        await typed.reply(messages.note("modal_failed"))


async def help_text(typed: Typed) -> None:
    in_dm = str(typed.body.get("channel_id") or "").startswith("D")
    await typed.ack(text=messages.command_reply("help", in_dm=in_dm))


async def usage(typed: Typed) -> None:
    command = typed.command
    await typed.ack(text=messages.command_reply("usage", meant=command.meant, typed=command.name))


async def know(typed: Typed) -> None:
    """Add someone to the people I know."""
    command, actor = typed.command, typed.actor
    if not command.name:
        await typed.ack(text=messages.command_reply("know_usage"))
        return
    review = review_contact(command.name, command.company)
    if not review.ok:
        await typed.ack(text=next(iter(review.errors.values())))
        return
    entry = ContactInput(command.name, command.company, closeness="know_well")
    _, added = await typed.services.directory.add_contact(actor.team_id, actor.user_id, entry)
    reply = messages.command_reply("known", added=added, name=command.name, company=command.company)
    await typed.ack(text=reply)


async def forget(typed: Typed) -> None:
    """`/intro forget me`: the person's contacts and words erased."""
    if typed.command.name != "me":
        await typed.ack(text=messages.command_reply("forget_usage"))
        return
    await typed.ack()
    services, actor = typed.services, typed.actor
    forgotten = await forget_me(services.sessions, actor.team_id, actor.user_id)
    await typed.reply(messages.command_reply("forgotten", rows=forgotten))


async def offer(typed: Typed) -> None:
    await typed.ack()
    command, actor = typed.command, typed.actor
    reply = await offer_intro(
        typed.services,
        typed.client,
        actor.team_id,
        actor.user_id,
        command.user_id,
        command.name,
        command.company,
    )
    await typed.reply(reply)


async def outcome(typed: Typed) -> None:
    """The person's intros whose outcome can move on, to pick a stage for."""
    await typed.ack()
    actor, search = typed.actor, typed.command.name
    mine = await typed.services.workflow.outcomes_to_report(actor.team_id, actor.user_id, search)
    listed = messages.outcome_list(mine, search)
    await typed.reply(listed.text, listed.blocks)


async def accounts(typed: Typed) -> None:
    """`/intro accounts`: which accounts on my list and the workspace's have a way in; `add`
    and `remove` change my list, or with `team` the workspace's (admins only)."""
    await typed.ack()
    command, services, actor, client = typed.command, typed.services, typed.actor, typed.client
    if command.team and command.name:
        admin = await is_admin(services, client, actor.team_id, actor.user_id)
        if not admin:
            kind = "accounts_team_admins" if admin is False else "admin_unknown"
            await typed.reply(messages.command_reply(kind))
            return
    team_id, user_id = actor.team_id, actor.user_id
    if command.name == "add":
        added = await add_names(services, team_id, user_id, command.company, team=command.team)
        await typed.reply(added.text, added.blocks)
    elif command.name == "remove":
        await typed.reply(
            await remove_names(services, team_id, user_id, command.company, team=command.team)
        )
    else:
        shown = await coverage_message(services, team_id, user_id, team_only=command.team)
        await typed.reply(shown.text, shown.blocks)


async def stats(typed: Typed) -> None:
    if typed.command.name == "team":
        await stats_team(typed)
        return
    await typed.ack()
    services, actor = typed.services, typed.actor
    async with services.work.work_slot():
        report = await services.attribution.report(actor.team_id, viewer=actor.user_id)
    rendered = messages.stats(report, actor.user_id)
    await typed.reply(rendered.text, rendered.blocks)


async def pacing(typed: Typed) -> None:
    """Whether pacing holds a connector's asks back or only advises, or every connector's
    default limits (admins only)."""
    if typed.command.name == "default":
        await pacing_default(typed)
        return
    strict = typed.command.name == "strict"
    await typed.services.directory.set_enforce_pacing(typed.actor.team_id, strict)
    await typed.reply(messages.command_reply("pacing_set", strict=strict))


async def pacing_default(typed: Typed) -> None:
    """Every connector's limits until they set their own (admins only)."""
    command, directory, team_id = typed.command, typed.services.directory, typed.actor.team_id
    if command.meant:
        await typed.reply(messages.command_reply("pacing_default_usage"))
    elif command.limits is None:
        shown = await directory.workspace_pacing(team_id)
        await typed.reply(messages.command_reply("pacing_default_shown", pacing=shown))
    else:
        now = await directory.set_workspace_pacing(team_id, *command.limits)
        await typed.reply(messages.command_reply("pacing_default_set", pacing=now))


async def owner(typed: Typed) -> None:
    """An account's owner, who approves intros at that company (admins only)."""
    command, services, team_id = typed.command, typed.services, typed.actor.team_id
    person = await active_person(services, typed.client, team_id, command.user_id)
    if not command.company or person is None:
        await typed.reply(messages.command_reply("owner_usage"))
        return
    problem = review_company(command.company)
    if problem:
        await typed.reply(problem)
        return
    await services.directory.set_account_owner(team_id, command.company, person.user_id)
    await typed.reply(
        messages.command_reply("owner_set", company=command.company, owner=person.user_id)
    )


async def company(typed: Typed) -> None:
    """Spellings of a company made one, set apart again, or listed (admins only)."""
    command, companies = typed.command, typed.services.directory.companies
    team_id = typed.actor.team_id
    for name in command.companies:
        problem = review_company(name)
        if problem:
            await typed.reply(problem)
            return
    if command.name == "merge":
        name, other = command.companies
        now = typed.services.clock.now()
        merged = await companies.merge(team_id, name, other, now)
        if merged.outcome == "merged":
            reply = messages.command_reply(
                "company_merged", company=merged.name, moved=merged.moved
            )
        elif merged.outcome == "same":
            different = key_of(name) != key_of(other)
            reply = messages.command_reply(
                "company_same", company=merged.name, other=other, merged=different
            )
        else:
            reply = messages.command_reply("usage", meant="company")
    elif command.name == "unmerge":
        parted = await companies.unmerge(team_id, command.companies[0])
        if parted:
            reply = messages.command_reply("company_unmerged", parted=parted)
        else:
            reply = messages.command_reply("company_not_merged", company=command.companies[0])
    else:
        reply = messages.command_reply("company_merges", merges=await companies.merges(team_id))
    await typed.reply(reply)


async def export(typed: Typed) -> None:
    """Every request as a CSV in the admin's DM (admins only)."""
    await typed.reply(messages.command_reply("export_started"))
    async with typed.services.work.work_slot():
        await export_csv(typed)


async def export_csv(typed: Typed) -> None:
    client, logger, actor = typed.client, typed.logger, typed.actor
    try:
        names = await SlackUsers(client).names()
    except SlackApiError as exc:  # the export is still worth having with ids for names
        logger.warning("users.list failed, names left as ids: %s", slack_error_code(exc))
        names = {}
    csv_text = await typed.services.attribution.export_csv(actor.team_id, names)
    rows = max(0, csv_text.count("\n") - 1)
    try:
        channel = (await client.conversations_open(users=actor.user_id))["channel"]["id"]
        await client.files_upload_v2(
            channel=channel,
            content=csv_text,
            filename="introbot-requests.csv",
            title="introbot: intro requests",
            initial_comment=messages.command_reply("export_done", rows=rows),
        )
    except SlackApiError as exc:
        logger.error("export upload failed: %s", slack_error_code(exc))


async def webhook(typed: Typed) -> None:
    """Where the workspace's request changes are POSTed (admins only): set to a URL (the
    secret that signs them shown once, to this admin only), turned off, or shown."""
    webhooks, team_id, url = typed.services.webhooks, typed.actor.team_id, typed.command.name
    if webhooks is None:
        return
    if url == "off":
        removed = await webhooks.remove(team_id)
        await typed.reply(messages.command_reply("webhook_off", removed=removed))
    elif not url:
        state = await webhooks.state(team_id)
        await typed.reply(messages.command_reply("webhook_shown", webhook=state))
    elif not webhook_url_ok(url):
        await typed.reply(messages.command_reply("webhook_bad_url", url=url))
    else:
        secret = await webhooks.set(team_id, url, typed.actor.user_id)
        await typed.reply(messages.command_reply("webhook_set", url=url, secret=secret))


# Sub-command word (as bot.intro.command_text reads it) -> what answers it. Between them,
# the two tables hold every verb parse_command gives.
SUB_COMMANDS: dict[str, SubCommand] = {
    "request": request,
    "help": help_text,
    "usage": usage,
    "know": know,
    "forget": forget,
    "offer": offer,
    "outcome": outcome,
    "accounts": accounts,
    "stats": stats,
}
# Sub-commands for workspace admins: acked first, then the admin check.
ADMIN_COMMANDS: dict[str, SubCommand] = {
    "pacing": pacing,
    "owner": owner,
    "export": export,
    "webhook": webhook,
    "team": team,
    "company": company,
}


async def intro_command(
    ack: AsyncAck,
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    respond: AsyncRespond,
    logger: Logger,
) -> None:
    command = parse_command(body.get("text") or "")
    services, actor = services_of(context), actor_of(context)
    typed = Typed(command, body, actor, services, ack, respond, client, logger)
    answer = SUB_COMMANDS.get(command.verb)
    if answer is not None:
        await answer(typed)
        return
    admins_answer = ADMIN_COMMANDS[command.verb]
    await ack()
    admin = await is_admin(services, client, actor.team_id, actor.user_id)
    if not admin:
        await typed.reply(
            messages.command_reply("admins_only" if admin is False else "admin_unknown")
        )
        return
    await admins_answer(typed)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.command("/intro")(work.opens_modal(intro_command))
