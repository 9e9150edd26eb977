"""How many LinkedIn imports run at once, and reading one off the event loop. Slack-free.

A parse is CPU work that would hold the event loop (and every other user's ack) for as long as
it runs, so it runs in a thread. Imports are bounded: one per person at a time (a second file
from them is answered, not queued) and `AT_ONCE` in the whole process, each holding at most
one bounded export (bot/intro/linkedin.py) in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import IO

from bot.intro.linkedin import ParsedExport, read_export

AT_ONCE = 3


class AlreadyImporting(Exception):
    """This person's previous import has not finished."""


class ImportLimits:
    def __init__(self, at_once: int = AT_ONCE) -> None:
        self._turns = asyncio.Semaphore(at_once)
        self._running: set[tuple[str, str]] = set()

    @contextlib.asynccontextmanager
    async def person(self, team_id: str, user_id: str) -> AsyncIterator[None]:
        """Held for the whole import, from the first message to the report."""
        key = (team_id, user_id)
        if key in self._running:  # checked and claimed with no await between: no race
            raise AlreadyImporting
        self._running.add(key)
        try:
            yield
        finally:
            self._running.discard(key)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """One of the process's `AT_ONCE` turns: waited for, in order."""
        async with self._turns:
            yield


async def read_export_off_loop(source: IO[bytes]) -> ParsedExport:
    """`read_export` in a worker thread. The file is the caller's and is left open."""
    return await asyncio.to_thread(read_export, source)
