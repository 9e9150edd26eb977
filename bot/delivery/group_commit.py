"""Group commit: writes that arrive while one is on its way go together in the next.

Every caller still waits for its own item to be written (nothing is acknowledged before it is
stored), but concurrent callers share one statement and one commit instead of one each. With
one caller at a time each write goes alone, at once: nothing waits on a timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")


class GroupCommit(Generic[Item]):
    def __init__(self, write: Callable[[list[Item]], Awaitable[None]]) -> None:
        self._write = write
        self._waiting: list[tuple[list[Item], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, items: list[Item]) -> None:
        """Returns once `items` are written; raises what their batch's write raised."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((items, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        await done

    async def _write_batches(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self._write([item for items, _ in batch for item in items])
            except Exception as exc:  # noqa: BLE001 - handed to every caller in the batch
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            except BaseException:  # cancelled (shutting down): so are the callers' waits
                for _, done in batch + self._waiting:
                    done.cancel()
                raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
