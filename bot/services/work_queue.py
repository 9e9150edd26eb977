"""The listeners' work queue: a few work slots for what listeners do after their ack, and
back-pressure on Slack when too much is waiting for one."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

Listener = TypeVar("Listener", bound=Callable[..., Awaitable[Any]])

# Listeners working after their ack at once. With the dispatcher's 8 sends, fewer than the
# database pool's 20 kept connections, so the checks some listeners make before their ack
# still find a free one.
WORK_SLOTS = 10
# Acked listeners waiting for a slot, beyond which a new request's ack is held (back-pressure)
# until the queue shrinks, for at most ACK_HOLD_SECONDS: Slack wants its ack within 3 s.
QUEUE_LIMIT = 400
ACK_HOLD_SECONDS = 1.5


@dataclass
class WorkQueue:
    """Work under way (shutdown waits for it), work nobody waits for, and the slots that
    bound how much listeners do at once."""

    in_flight: set[asyncio.Task[Any]] = field(default_factory=set)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(WORK_SLOTS))
    queue_limit: int = QUEUE_LIMIT
    ack_hold_seconds: float = ACK_HOLD_SECONDS
    queued: int = 0
    queue_full_logged_at: float = 0.0
    queue_has_room: asyncio.Event = field(default_factory=asyncio.Event)

    def tracked(self, listener: Listener) -> Listener:
        """Mark a listener's work so shutdown waits for it instead of cutting a transaction,
        and bound the work listeners do.

        Slack gets its ack at once; what the listener does after it waits for one of
        `WORK_SLOTS` slots, in the order the requests came. Without the bound, a burst above
        capacity is acked and then worked on all at once: every request finishes late, memory
        grows with the backlog, and listeners time out waiting for a database connection
        (docs/performance.md). When more than `queue_limit` wait, a new request is held
        before any work, for at most `ack_hold_seconds` (back-pressure on the sender).
        """
        return self._track(listener, slot_at_ack=True)

    def opens_modal(self, listener: Listener) -> Listener:
        """`tracked`, for a listener that opens a modal after its ack: its trigger_id expires
        about 3 s after the click, so the modal is opened at once, never behind a queue. Work
        after the modal takes a slot itself (`work_slot`)."""
        return self._track(listener, slot_at_ack=False)

    def bounded_apart(self, listener: Listener) -> Listener:
        """`tracked`, for a listener whose work has limits of its own (a LinkedIn import: one
        per person, a few at once) and can take long: it takes no work slot, so files sent
        together cannot hold every slot while they wait their turn."""
        return self._track(listener, slot_at_ack=False)

    @property
    def busy(self) -> bool:
        """More work is waiting than the queue limit: optional work is better left out."""
        return self.queued >= self.queue_limit

    @contextlib.asynccontextmanager
    async def work_slot(self) -> AsyncIterator[None]:
        """One of the work slots, for work after a listener's modal."""
        await self._take_slot()
        try:
            yield
        finally:
            self.slots.release()

    def _track(self, listener: Listener, *, slot_at_ack: bool) -> Listener:
        @functools.wraps(listener)
        async def run(*args: Any, **kwargs: Any) -> Any:
            task = asyncio.current_task()
            if task is not None:
                self.in_flight.add(task)
            holding = False
            ack = kwargs.get("ack")
            if slot_at_ack and ack is not None:

                async def ack_then_take_a_slot(*ack_args: Any, **ack_kwargs: Any) -> None:
                    nonlocal holding
                    await ack(*ack_args, **ack_kwargs)
                    if not holding:
                        await self._take_slot()
                        holding = True

                kwargs["ack"] = ack_then_take_a_slot
            try:
                if slot_at_ack:
                    await self._wait_for_room()
                    if ack is None:
                        # An event: Bolt acked it before the listener ran, so its work takes a
                        # slot now, like any other work after an ack.
                        await self._take_slot()
                        holding = True
                return await listener(*args, **kwargs)
            finally:
                if holding:
                    self.slots.release()
                if task is not None:
                    self.in_flight.discard(task)

        return run  # type: ignore[return-value]

    async def _take_slot(self) -> None:
        self._queue_changed(+1)
        try:
            await self.slots.acquire()
        finally:
            self._queue_changed(-1)

    async def _wait_for_room(self) -> None:
        if not self.busy:
            return
        try:
            await asyncio.wait_for(self.queue_has_room.wait(), self.ack_hold_seconds)
        except TimeoutError:
            now = time.monotonic()
            if now - self.queue_full_logged_at > 10:  # once in a while, not once per request
                self.queue_full_logged_at = now
                logger.warning("work queue full (%d waiting): working anyway", self.queued)

    def _queue_changed(self, delta: int) -> None:
        self.queued += delta
        if self.busy:
            self.queue_has_room.clear()
        else:
            self.queue_has_room.set()

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run work nobody waits for and nothing is lost without (filling the stored
        profiles): shutdown cancels what is still running after the drain."""
        task = asyncio.create_task(work)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait for work already under way (Bolt runs listeners after answering Slack)."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight), timeout=timeout)

    async def close(self) -> None:
        """Let the work under way finish; cancel the background work still running."""
        await self.drain()
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
