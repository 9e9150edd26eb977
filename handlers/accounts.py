"""Target-account lists in Slack: `/intro accounts` (through handlers/commands.py), the Home
tab's *Add accounts* modal, and an account list's CSV sent in the bot's DM (through
handlers/files.py). The lists and their coverage are bot.intro.accounts'."""

from __future__ import annotations

import asyncio
from logging import Logger
from typing import IO, Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery.slack_people import USERS_PAGE
from bot.intro.accounts import (
    WORKSPACE_LIST,
    AddReport,
    ParsedAccounts,
    owner_handle,
    parse_names,
    plan_import,
    read_account_list,
)
from bot.intro.linkedin import ExportError
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.rendering.ids import ActionId, CallbackId
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.context import actor_of, services_of
from handlers.forms import submitted_values
from handlers.replies import open_view, publish_home
from handlers.support import is_admin

SHOWN_REASONS = 5


async def coverage_message(
    services: Services, team_id: str, user_id: str, *, team_only: bool = False
) -> messages.Message:
    """`/intro accounts`: my list and the workspace's (or the workspace's alone)."""
    lists = (WORKSPACE_LIST,) if team_only else (user_id, WORKSPACE_LIST)
    async with services.work.work_slot():
        coverage = await services.accounts.coverage(team_id, lists, viewer_id=user_id)
    return messages.accounts_message(coverage, lists)


async def added_message(
    services: Services,
    team_id: str,
    user_id: str,
    reports: dict[str, AddReport],
    *,
    name: str = "",
    skipped: list[tuple[int, str]] | None = None,
    owners_not_set: list[tuple[int, str]] | None = None,
) -> messages.Message:
    """What adding did (`reports` by list), and the coverage of the lists it changed."""
    lists = tuple(reports) or (user_id,)
    coverage = await services.accounts.coverage(team_id, lists, viewer_id=user_id)
    reasons = sorted(
        [*(skipped or []), *(r for report in reports.values() for r in report.skipped)],
        key=lambda reason: reason[0],
    )
    return messages.import_message(
        "accounts_done",
        name=name,
        added=sum(report.added for report in reports.values()),
        merged=sum(report.merged for report in reports.values()),
        owners=sum(report.owners_set for report in reports.values()),
        unowned=len(owners_not_set or []),
        unowned_reasons=(owners_not_set or [])[:SHOWN_REASONS],
        unowned_more=max(0, len(owners_not_set or []) - SHOWN_REASONS),
        skipped=len(reasons),
        reasons=reasons[:SHOWN_REASONS],
        more=max(0, len(reasons) - SHOWN_REASONS),
        lists=messages.lists_shown(lists),
        total=coverage.total,
        with_way_in=coverage.with_way_in,
    )


async def add_names(
    services: Services, team_id: str, user_id: str, text: str, *, team: bool
) -> messages.Message:
    """Names typed or pasted, onto my list or (an admin's choice) the workspace's."""
    parsed = parse_names(text)
    list_id = WORKSPACE_LIST if team else user_id
    report = await services.accounts.add(team_id, list_id, parsed.accounts, user_id)
    return await added_message(
        services, team_id, user_id, {list_id: report}, skipped=parsed.skipped
    )


async def remove_names(
    services: Services, team_id: str, user_id: str, text: str, *, team: bool
) -> str:
    list_id = WORKSPACE_LIST if team else user_id
    names = [account.company for account in parse_names(text).accounts]
    removed = await services.accounts.remove(team_id, list_id, names)
    return messages.command_reply(
        "accounts_removed",
        removed=removed.removed,
        not_found=removed.not_found,
        lists=messages.lists_shown((list_id,)),
    )


# --- the Home tab's modal -------------------------------------------------------------------


async def accounts_open(
    ack: AsyncAck,
    body: dict[str, Any],
    context: AsyncBoltContext,
    client: AsyncWebClient,
    logger: Logger,
) -> None:
    await ack()
    actor, services = actor_of(context), services_of(context)
    # Admins choose the list; the check is remembered for minutes, so the trigger keeps.
    admin = await is_admin(services, client, actor.team_id, actor.user_id)
    await open_view(client, body["trigger_id"], messages.accounts_modal(admin=bool(admin)), logger)


async def accounts_saved(
    ack: AsyncAck, view: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient
) -> None:
    services, actor = services_of(context), actor_of(context)
    values = submitted_values(view)
    text = str(values.get("names") or "")
    parsed = parse_names(text)
    if not parsed.accounts:
        problem = parsed.skipped[0][1] if parsed.skipped else "Name at least one company."
        await ack(response_action="errors", errors={"names": problem[:150]})
        return
    team = values.get("list") == "team"
    if team and not await is_admin(services, client, actor.team_id, actor.user_id):
        await ack(
            response_action="errors",
            errors={"list": messages.command_reply("accounts_team_admins")},
        )
        return
    await ack()
    report = await add_names(services, actor.team_id, actor.user_id, text, team=team)
    await client.chat_postMessage(channel=actor.user_id, text=report.text, blocks=report.blocks)
    await publish_home(services, client, actor.team_id, actor.user_id)


# --- a CSV sent in the bot's DM ---------------------------------------------------------------


async def _teammates_by_handle(client: AsyncWebClient) -> dict[str, str]:
    """Every active human member by email, handle, display name and real name (folded as
    `owner_handle` folds an Owner cell), a page of users.list at a time."""
    found: dict[str, str] = {}
    async for page in await client.users_list(limit=USERS_PAGE):
        for member in page.get("members") or []:
            if member.get("deleted") or member.get("is_bot") or member.get("id") == "USLACKBOT":
                continue
            profile = member.get("profile") or {}
            user_id = str(member["id"])
            found[user_id] = user_id
            for said in (
                profile.get("email"),
                member.get("name"),
                profile.get("display_name"),
                member.get("real_name") or profile.get("real_name"),
            ):
                if said:
                    found.setdefault(owner_handle(str(said)), user_id)
    return found


async def import_account_list(
    services: Services,
    client: AsyncWebClient,
    owner: tuple[str, str],
    spool: IO[bytes],
    name: str,
    logger: Logger,
) -> tuple[bool, messages.Message]:
    """An account list's CSV: read off the loop, its rows put on the sender's list (and, for
    an admin, the workspace's, with owners set), in one transaction per list. Whether it was
    saved, and the report."""
    team_id, user_id = owner
    try:
        parsed: ParsedAccounts = await asyncio.to_thread(read_account_list, spool)
    except ExportError as exc:
        return False, messages.import_message(
            "accounts_too_many" if exc.kind == "too_many_rows" else "accounts_unreadable",
            name=name,
            detail=str(exc),
            limit=exc.limit,
            at_line=exc.line,
        )
    wants_admin = any(account.owner or account.workspace for account in parsed.accounts)
    admin = bool(wants_admin and await is_admin(services, client, team_id, user_id))
    handles: dict[str, str] = {}
    if admin and any(account.owner for account in parsed.accounts):
        try:
            handles = await _teammates_by_handle(client)
        except SlackApiError as exc:
            logger.warning("users.list for account owners failed: %s", slack_error_code(exc))
    plan = plan_import(parsed, admin=admin, owner_ids=handles)
    reports: dict[str, AddReport] = {}
    for list_id, rows in ((user_id, plan.mine), (WORKSPACE_LIST, plan.workspace)):
        if rows:
            add = services.accounts.add(team_id, list_id, rows, user_id, plan.owners)
            reports[list_id] = await add
    message = await added_message(
        services,
        team_id,
        user_id,
        reports,
        name=name,
        skipped=plan.skipped,
        owners_not_set=plan.owners_not_set,
    )
    return True, message


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.action(ActionId.ACCOUNTS_ADD)(work.opens_modal(accounts_open))
    app.view(CallbackId.ACCOUNTS_MODAL)(work.tracked(accounts_saved))
