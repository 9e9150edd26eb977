"""A LinkedIn Connections.csv shared in the bot's DM: imported into the sharer's contacts."""

from __future__ import annotations

from logging import Logger
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.intro.linkedin import NotAConnectionsExport, parse_connections
from bot.rendering import messages
from bot.wiring.app import Services
from bot.wiring.slack_errors import slack_error_code

MAX_FILE_MB = 20
PROGRESS_STEPS = 10
SHOWN_REASONS = 5


def register(app: AsyncApp, services: Services) -> None:
    @app.event("file_shared")
    @services.tracked
    async def file_shared(
        event: dict[str, Any], context: AsyncBoltContext, client: AsyncWebClient, logger: Logger
    ) -> None:
        # Only files sent to the bot itself: a DM, not a file someone shared in a channel.
        if not str(event.get("channel_id", "")).startswith("D"):
            return
        user_id = str(event.get("user_id") or "")
        info = (await client.files_info(file=event["file_id"]))["file"]
        name = str(info.get("name") or "file")
        if not name.lower().endswith(".csv"):
            return
        posted = await _post(client, user_id, messages.import_message("started", name=name))
        services.metrics.linkedin_imports.labels("started").inc()
        if int(info.get("size") or 0) > MAX_FILE_MB * 1024 * 1024:
            await _update(
                client, posted, messages.import_message("too_big", name=name, limit=MAX_FILE_MB)
            )
            services.metrics.linkedin_imports.labels("failed").inc()
            return
        try:
            content = await _download(str(info["url_private_download"]), client.token or "")
            export = parse_connections(content)
        except NotAConnectionsExport as exc:
            await _update(
                client, posted, messages.import_message("not_linkedin", name=name, detail=str(exc))
            )
            services.metrics.linkedin_imports.labels("failed").inc()
            return
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            # Neither the file's name nor its URL goes in the log: either may name a person.
            reason = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
            logger.warning("could not fetch a shared file: %s", reason)
            await _update(
                client,
                posted,
                messages.import_message("failed", name=name, detail="download failed"),
            )
            services.metrics.linkedin_imports.labels("failed").inc()
            return
        shown = 0

        async def progress(done: int, total: int) -> None:
            # About ten updates however large the file: visible, and within chat.update's limits.
            nonlocal shown
            if done < total and done - shown >= total / PROGRESS_STEPS:
                shown = done
                await _update(
                    client,
                    posted,
                    messages.import_message("progress", name=name, done=done, total=total),
                )

        try:
            report = await services.directory.import_connections(
                context.team_id or "", user_id, export, progress
            )
        except Exception:
            services.metrics.linkedin_imports.labels("failed").inc()
            raise
        await _update(
            client,
            posted,
            messages.import_message(
                "done",
                name=name,
                added=report.added,
                updated=report.updated,
                unchanged=report.unchanged,
                skipped=len(report.skipped),
                reasons=report.skipped[:SHOWN_REASONS],
                more=max(0, len(report.skipped) - SHOWN_REASONS),
            ),
        )
        services.metrics.linkedin_imports.labels("finished").inc()


async def _download(url: str, token: str) -> bytes:
    """Private Slack files need the bot token; without it Slack answers a sign-in page."""
    timeout = aiohttp.ClientTimeout(total=60)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(
            url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
        ) as response,
    ):
        if response.status != 200:
            raise ValueError(f"HTTP {response.status}")
        # read(n) returns what has arrived so far, not n bytes: gather chunks to the end.
        content = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            content += chunk
            if len(content) > MAX_FILE_MB * 1024 * 1024:
                raise ValueError("file too large")
        return bytes(content)


async def _post(client: AsyncWebClient, user_id: str, message: messages.Message) -> tuple[str, str]:
    response = await client.chat_postMessage(
        channel=user_id, text=message.text, blocks=message.blocks
    )
    return str(response["channel"]), str(response["ts"])


async def _update(
    client: AsyncWebClient, posted: tuple[str, str], message: messages.Message
) -> None:
    try:
        await client.chat_update(
            channel=posted[0], ts=posted[1], text=message.text, blocks=message.blocks
        )
    except SlackApiError as exc:  # a progress line is not worth failing the import for
        if slack_error_code(exc) != "ratelimited":
            raise
