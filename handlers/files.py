"""A LinkedIn export (Connections.csv, or the .zip LinkedIn sends) shared in the bot's DM:
imported into the sharer's contacts; or a CSV of accounts (its header has a `Company` or
`Account Name` column and no `First Name`): added to their list (handlers/accounts.py). Every
outcome, failures included, ends in one message."""

from __future__ import annotations

import tempfile
from logging import Logger
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.accounts import first_line, is_account_list
from bot.intro.contact_import import AlreadyImporting, ImportLimits, read_export_off_loop
from bot.intro.linkedin import MAX_BYTES, ExportError, ExportTooLarge
from bot.observability.slack_errors import slack_error_code
from bot.rendering import messages
from bot.services.container import Services
from bot.services.work_queue import WorkQueue
from handlers.accounts import import_account_list
from handlers.context import services_of
from handlers.slack_files import DownloadFailed, FileTooLarge, download, download_url

MAX_FILE_MB = MAX_BYTES // (1024 * 1024)
EXPORT_SUFFIXES = (".csv", ".zip")
PROGRESS_STEPS = 10
SHOWN_REASONS = 5


class LinkedInImports:
    """The file_shared listener, with the limits its imports share (one per person, a few
    at once) for as long as the app runs."""

    def __init__(self) -> None:
        self.limits = ImportLimits()

    async def file_shared(
        self,
        event: dict[str, Any],
        context: AsyncBoltContext,
        client: AsyncWebClient,
        logger: Logger,
    ) -> None:
        # Only files sent to the bot itself: a DM, not a file someone shared in a channel.
        if not str(event.get("channel_id", "")).startswith("D"):
            return
        user_id = str(event.get("user_id") or "")
        try:
            info = (await client.files_info(file=event["file_id"]))["file"]
        except SlackApiError as exc:
            logger.warning("files.info failed: %s", slack_error_code(exc))
            message = messages.import_message("info_failed", detail=slack_error_code(exc))
            await _post(client, user_id, message)
            return
        name = str(info.get("name") or "file")
        if not name.lower().endswith(EXPORT_SUFFIXES):
            return
        owner = (context.team_id or "", user_id)
        try:
            async with self.limits.person(*owner):
                await self.import_one(services_of(context), client, owner, info, name, logger)
        except AlreadyImporting:
            await _post(client, user_id, messages.import_message("busy", name=name))

    async def import_one(
        self,
        services: Services,
        client: AsyncWebClient,
        owner: tuple[str, str],
        info: dict[str, Any],
        name: str,
        logger: Logger,
    ) -> None:
        """One person's import, from "started" to its report."""
        posted = await _post(client, owner[1], messages.import_message("started", name=name))
        services.metrics.linkedin_imports.labels("started").inc()
        try:
            saved, outcome = await _import(
                services, self.limits, client, owner, info, name, posted, logger
            )
        except Exception:  # noqa: BLE001 - whatever it was, the person is told
            logger.exception("import of a shared file failed")
            saved, outcome = False, messages.import_message("failed", name=name)
        services.metrics.linkedin_imports.labels("finished" if saved else "failed").inc()
        await _update(client, posted, outcome, logger)


def register(app: AsyncApp, work: WorkQueue) -> None:
    app.event("file_shared")(work.bounded_apart(LinkedInImports().file_shared))


async def _import(
    services: Services,
    limits: ImportLimits,
    client: AsyncWebClient,
    owner: tuple[str, str],
    info: dict[str, Any],
    name: str,
    posted: tuple[str, str],
    logger: Logger,
) -> tuple[bool, messages.Message]:
    """Download, parse (off the loop) and store one export: whether it was saved, and the
    message to end with. Nothing is saved unless it returns the report."""
    url = download_url(info, services.settings.SLACK_FILES_URL)
    if url is None:
        return False, messages.import_message("not_readable", name=name)
    if int(info.get("size") or 0) > MAX_BYTES:
        return False, messages.import_message("too_big", name=name, limit=MAX_FILE_MB)
    async with limits.turn():
        with tempfile.TemporaryFile() as spool:
            try:
                await download(url, client.token or "", spool, MAX_BYTES)
            except FileTooLarge:
                return False, messages.import_message("too_big", name=name, limit=MAX_FILE_MB)
            except DownloadFailed as exc:
                return False, messages.import_message("download_failed", name=name, detail=str(exc))
            except (aiohttp.ClientError, TimeoutError):
                detail = "the connection failed"
                return False, messages.import_message("download_failed", name=name, detail=detail)
            if is_account_list(first_line(spool)):
                # A list of accounts, not LinkedIn's export: its header says which.
                return await import_account_list(services, client, owner, spool, name, logger)
            try:
                export = await read_export_off_loop(spool)
            except ExportError as exc:
                return False, _refusal(name, exc)
        shown = 0

        async def progress(done: int, total: int) -> None:
            # About ten updates however large the file: visible, and within chat.update's limits.
            nonlocal shown
            if done < total and done - shown >= total / PROGRESS_STEPS:
                shown = done
                message = messages.import_message("progress", name=name, done=done, total=total)
                await _update(client, posted, message)

        report = await services.directory.import_connections(*owner, export, progress)
    return True, messages.import_message(
        "done",
        name=name,
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        skipped=len(report.skipped),
        reasons=report.skipped[:SHOWN_REASONS],
        more=max(0, len(report.skipped) - SHOWN_REASONS),
    )


def _refusal(name: str, exc: ExportError) -> messages.Message:
    limit = MAX_FILE_MB if isinstance(exc, ExportTooLarge) else exc.limit
    return messages.import_message(
        exc.kind, name=name, detail=str(exc), limit=limit, at_line=exc.line
    )


async def _post(client: AsyncWebClient, user_id: str, message: messages.Message) -> tuple[str, str]:
    response = await client.chat_postMessage(
        channel=user_id, text=message.text, blocks=message.blocks
    )
    return str(response["channel"]), str(response["ts"])


async def _update(
    client: AsyncWebClient,
    posted: tuple[str, str],
    message: messages.Message,
    logger: Logger | None = None,
) -> None:
    """Best effort: a progress line (or the report) that can't be shown is no reason to undo
    an import."""
    try:
        await client.chat_update(
            channel=posted[0], ts=posted[1], text=message.text, blocks=message.blocks
        )
    except SlackApiError as exc:
        if logger is not None:
            logger.warning("chat.update of an import message failed: %s", slack_error_code(exc))
