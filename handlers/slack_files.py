"""Files people share with the bot, fetched from Slack's file host. Not a surface of its own:
what handlers/files.py needs to download a file without sending the token anywhere else."""

from __future__ import annotations

from typing import IO, Any

import aiohttp
from yarl import URL

DOWNLOAD_TIMEOUT_SECONDS = 60
CHUNK_BYTES = 64 * 1024


class DownloadFailed(Exception):
    """The file host did not hand the file over; the message says how (for the person)."""


class FileTooLarge(Exception):
    pass


def download_url(info: dict[str, Any], files_url: str) -> URL | None:
    """Where to fetch a shared file with the bot token, or None if it must not be fetched:
    only files Slack hosts itself (not links to Google Drive and the like), and only from
    Slack's file host (`files_url`), whatever else files.info says."""
    if info.get("mode") != "hosted" or info.get("is_external"):
        return None
    raw = info.get("url_private_download")
    if not isinstance(raw, str) or not raw:
        return None
    try:
        url, allowed = URL(raw), URL(files_url)
    except (TypeError, ValueError):
        return None
    same_origin = (url.scheme, url.host, url.port) == (allowed.scheme, allowed.host, allowed.port)
    # The same parser (yarl) reads the URL here and when aiohttp requests it.
    if not same_origin or url.user or url.password or not url.path.startswith(allowed.path):
        return None
    return url


async def download(url: URL, token: str, into: IO[bytes], max_bytes: int) -> None:
    """Stream the file into `into`, stopping past `max_bytes`. Private files need the token;
    without it Slack answers with a redirect to a sign-in page, which is never followed."""
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_SECONDS)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(
            url, headers={"Authorization": f"Bearer {token}"}, allow_redirects=False
        ) as response,
    ):
        if response.status != 200:
            raise DownloadFailed(f"HTTP {response.status}")
        received = 0
        async for chunk in response.content.iter_chunked(CHUNK_BYTES):
            received += len(chunk)
            if received > max_bytes:
                raise FileTooLarge
            into.write(chunk)
    into.seek(0)
