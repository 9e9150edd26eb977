"""Delivery of outbound messages: claim rows with a lease, send them to Slack, record the result.

The database is the source of truth: rows are written by the workflow in the same transaction
as the state change that promises them. `deliver()` sends new rows at once; `sweep()` picks up
whatever is due or whose lease ran out (a crash mid-send), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as dt_time
from typing import Any, cast

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import CTE, ColumnElement, Table, bindparam, or_, select, text, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.group_commit import GroupCommit
from bot.delivery.pace import Pacer
from bot.delivery.slack_people import SlackUsers
from bot.delivery.tokens import BotTokens, FixedToken
from bot.delivery.workspaces import Workspaces
from bot.intro.cadence import WorkingHours, zone
from bot.intro.clock import Clock
from bot.intro.directory import Directory
from bot.intro.people import People
from bot.intro.states import DEAD_END_EVENTS, Action, IllegalTransition, Status
from bot.intro.workflow import (
    SECONDARY_OFFERED,
    IntroWorkflow,
    Lease,
    Outcome,
    offer_dedupe_key,
    tie_from,
)
from bot.observability import logs
from bot.observability.metrics import Metrics
from bot.observability.slack_errors import retry_after_seconds, slack_error_code, slack_status
from bot.rendering import messages
from storage.db import autocommit, on_postgres, reading
from storage.models import (
    CARD_KINDS,
    OFFER_KINDS,
    Contact,
    DeliveryStatus,
    IntroOffer,
    IntroRequest,
    MessageKind,
    OutboundMessage,
    UTCDateTime,
)

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
# Slack errors that no retry will fix: the message is marked failed.
PERMANENT_ERRORS = frozenset(
    {
        "user_not_found",
        "user_disabled",
        "channel_not_found",
        "cannot_dm_bot",
        "is_archived",
        "invalid_blocks",
        "invalid_arguments",
        "msg_too_long",
        "no_text",
        "not_in_channel",
        "missing_scope",
    }
)
# Errors of the app's own token, not of a recipient: the workspace's delivery pauses and its
# messages stay pending until the token works again (or the app is reinstalled). An expired
# rotating token is looked up again first, which refreshes it.
APP_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired"}
)
MAX_ATTEMPTS = 8
# A booked turn reached later than this is given up for a fresh one (bot.delivery.pace).
LATE_TURN_S = 0.1
# How often a workspace paused on an auth error is asked (auth.test) whether it works again.
PROBE_INTERVAL = timedelta(minutes=2)
# A workspace's token could not be looked up this time (database, or a failed rotation).
_LOOKUP_FAILED = ""
# Kinds sent with chat.update (a card changed in place); every other kind is a new post.
# How long the connector's tie, as an ask's review found it, stands for their card: after
# that (a send held back by a pause or Slack's limits) the card looks it up again.
REVIEW_FRESH_FOR = timedelta(minutes=5)
UPDATES = frozenset({MessageKind.CARD_REFRESH, MessageKind.OFFER_REFRESH})


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: AsyncWebClient,
        clock: Clock,
        workflow: IntroWorkflow,
        *,
        working_hours: WorkingHours | None = None,
        directory: Directory | None = None,
        owner: str | None = None,
        lease: timedelta = LEASE,
        concurrency: int = 8,
        batch: int = 128,
        metrics: Metrics | None = None,
        tokens: BotTokens | None = None,
        workspaces: Workspaces | None = None,
        probe_interval: timedelta = PROBE_INTERVAL,
        pacer: Pacer | None = None,
        people: People | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        self._sessions = sessions
        self._client = client
        self._clock = clock
        self._workflow = workflow
        self._working_hours = working_hours
        self._directory = directory
        # Host and pid name the process holding a lease, for whoever looks at a stuck row.
        self._owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = lease
        self._batch = batch
        # Several sends at once, so one slow or rate-limited call doesn't hold up the rest.
        self._slots = asyncio.Semaphore(concurrency)
        # Whom the messages go to and name (their time zones, their names): memory, the
        # stored profiles, then users.info.
        self._people = people or People(None)
        self._tokens: BotTokens = tokens or FixedToken(client.token)
        self._workspaces = workspaces
        self._probe_interval = probe_interval
        self._probed_at: dict[str, float] = {}
        # Slack's rate limits, kept to per workspace (bot.delivery.pace); None: as fast as
        # Slack answers, 429s honoured.
        self._pacer = pacer
        self._first_team = 0
        # Booked chat.postMessage turns (message id -> time.monotonic() it may go).
        self._turns: dict[int, float] = {}
        # What a reminder's move promised (cards updated, notices): sent after its batch.
        self._follow_ups: list[int] = []
        # Sends finishing together share one write of their results.
        self._results = GroupCommit(self._write_results)
        self._postgres = on_postgres(sessions)

    @property
    def tokens(self) -> BotTokens:
        return self._tokens

    def use_session(self, session: aiohttp.ClientSession) -> None:
        self._client.session = session

    def lease(self) -> Lease:
        """A claim on the messages a state change is about to write, for `deliver_outcome`."""
        return Lease(self._owner, self._clock.now() + self._lease)

    async def deliver(self, ids: Sequence[int]) -> None:
        """Send these rows now, if no one else holds them."""
        if ids:
            await self._send_all(await self._claim(ids=list(ids)))
            await self._send_follow_ups()

    async def deliver_outcome(self, outcome: Outcome) -> None:
        """Send what a state change promised at once. The messages it wrote leased to this
        process go out without being claimed or read again (the change returned them, with
        the request and its cards); any others are claimed as `deliver` would."""
        leased = [
            m
            for m in outcome.due_now
            if m.lease_owner == self._owner and m.status == DeliveryStatus.SENDING
        ]
        taken = {m.id for m in leased}
        if leased:
            known = None
            if outcome.cards is not None:
                known = ({outcome.request.id: outcome.request}, dict(outcome.cards))
            await self._send_all(leased, known)
        rest = [i for i in outcome.message_ids if i not in taken]
        if rest:
            await self.deliver(rest)  # and its follow-ups
        else:
            await self._send_follow_ups()

    async def sweep(self, limit: int | None = None) -> int:
        """Send what is due, including rows whose sender died mid-send. Returns the count."""
        if self._pacer is not None:
            claimed = await self._claim_fairly(limit or self._batch)
        else:
            claimed = await self._claim(limit=limit or self._batch)
        await self._send_all(claimed)
        await self._send_follow_ups()
        return len(claimed)

    async def _claim_fairly(self, limit: int, patience: float = 5.0) -> list[OutboundMessage]:
        """Each workspace with due messages gets its share of the batch, no more than its
        chat.postMessage budget lets go out within the pacer's wait: a workspace's backlog
        neither holds up another's messages nor is claimed only to be put back. When every
        such workspace has spent its budget, waits (up to `patience` s) for some to return."""
        assert self._pacer is not None
        waited = 0.0
        while True:
            teams = await self._teams_due()
            if not teams:
                return []
            # Who goes first turns round, so no workspace always gets the larger share.
            start = self._first_team % len(teams)
            self._first_team += 1
            teams = teams[start:] + teams[:start]
            reach = await self._pacer.sends_within_reach(teams)
            share = max(1, limit // len(teams))
            claimed: list[OutboundMessage] = []
            for team_id in teams:
                if reach.get(team_id, 0) > 0:
                    claimed += await self._claim(limit=min(share, reach[team_id]), team=team_id)
            spent = any(reach.get(team_id, 0) == 0 for team_id in teams)
            if claimed or not spent or waited >= patience:
                # (Nothing claimed from workspaces with budget: paused, or held by others.)
                return sorted(claimed, key=lambda m: (m.due_at, m.id))
            pause = min(0.5, self._pacer.rates.per_workspace.interval)
            await asyncio.sleep(pause)
            waited += pause

    async def _teams_due(self) -> list[str]:
        """The workspaces with messages due (or leases lapsed): a skip scan over
        ix_outbound_messages_team_due, one step per workspace, not per message."""
        async with reading(self._sessions) as session:
            rows = await session.execute(_TEAMS_DUE, {"now": self._clock.now()})
            return sorted({team_id for (team_id,) in rows})

    async def _send_follow_ups(self) -> None:
        """Send now what reminders' moves promised (the sweep would, on its next tick)."""
        while self._follow_ups:
            ids, self._follow_ups = self._follow_ups, []
            await self._send_all(await self._claim(ids=ids))

    async def _claim(
        self, *, ids: list[int] | None = None, limit: int = 100, team: str | None = None
    ) -> list[OutboundMessage]:
        now = self._clock.now()
        limit = limit if ids is None else len(ids)
        pending = (OutboundMessage.status == DeliveryStatus.PENDING) & (
            OutboundMessage.due_at <= now
        )
        lapsed = (OutboundMessage.status == DeliveryStatus.SENDING) & (
            OutboundMessage.lease_expires_at < now
        )
        if self._workspaces is not None:
            # A paused or uninstalled workspace's messages wait where they are.
            waiting = OutboundMessage.team_id.not_in(self._workspaces.not_delivered_to())
            pending, lapsed = pending & waiting, lapsed & waiting
        if team is not None:
            mine = OutboundMessage.team_id == team
            pending, lapsed = pending & mine, lapsed & mine
        async with self._sessions.begin() as session:
            claim = update(OutboundMessage)
            if self._postgres:
                claim = claim.where(
                    OutboundMessage.id == _claimable(pending, lapsed, ids, limit).c.id
                )
            else:
                candidates = select(OutboundMessage.id).where(or_(pending, lapsed))
                if ids is not None:
                    candidates = candidates.where(OutboundMessage.id.in_(ids))
                candidates = candidates.order_by(OutboundMessage.due_at, OutboundMessage.id)
                claim = claim.where(
                    OutboundMessage.id.in_(candidates.limit(limit).scalar_subquery())
                )
            # The due condition is repeated in the UPDATE: on SQLite this compare-and-set is
            # what makes the claim atomic.
            result = await session.scalars(
                claim.where(or_(pending, lapsed))
                .values(
                    status=DeliveryStatus.SENDING,
                    lease_owner=self._owner,
                    lease_expires_at=now + self._lease,
                    attempts=OutboundMessage.attempts + 1,
                )
                .returning(OutboundMessage)
                .execution_options(synchronize_session=False)
            )
            return sorted(result.all(), key=lambda m: (m.due_at, m.id))

    async def _send_all(
        self,
        claimed: list[OutboundMessage],
        known: tuple[dict[int, IntroRequest], dict[tuple[int, str], OutboundMessage]] | None = None,
    ) -> None:
        # A request's messages go in order (its card before the card's refresh); different
        # requests' messages go side by side.
        by_request: dict[int | None, list[OutboundMessage]] = {}
        for message in claimed:
            by_request.setdefault(message.request_id, []).append(message)
        tokens = await self._tokens_of(claimed)
        if self._pacer is not None:
            await self._book_turns(claimed)
        # The batch's requests, and the cards its refreshes update, in one checkout (unless
        # the state change that wrote them returned them).
        requests, cards = known if known is not None else await self._context(claimed)
        await self._recall_profiles(claimed)
        await asyncio.gather(
            *(
                self._send_in_order(
                    group,
                    requests.get(request_id) if request_id else None,
                    cards,
                    tokens,
                )
                for request_id, group in by_request.items()
            )
        )
        for message in claimed:  # turns not taken (a moot reminder, a deferral) lapse
            self._turns.pop(message.id, None)

    async def _book_turns(self, claimed: list[OutboundMessage]) -> None:
        """The batch's posts book their turns together, per workspace: two statements a
        batch instead of two a message."""
        assert self._pacer is not None
        posts: dict[str, list[OutboundMessage]] = {}
        for message in claimed:
            if message.kind not in UPDATES:
                posts.setdefault(message.team_id, []).append(message)
        now = time.monotonic()
        for team_id, batch in posts.items():
            waits = await self._pacer.book_posts(team_id, [m.recipient_id for m in batch])
            self._turns.update({m.id: now + wait for m, wait in zip(batch, waits, strict=True)})

    async def _tokens_of(self, claimed: list[OutboundMessage]) -> dict[str, str | None]:
        """Each team's bot token for this batch; None where there is none to send with."""
        tokens: dict[str, str | None] = {}
        for team_id in {message.team_id for message in claimed}:
            try:
                tokens[team_id] = await self._tokens.token_for(team_id)
            except Exception:  # noqa: BLE001 - a failed lookup or rotation: retry later
                logger.exception("no bot token for workspace %s this time", team_id)
                tokens[team_id] = _LOOKUP_FAILED
        return tokens

    async def _context(
        self, claimed: list[OutboundMessage]
    ) -> tuple[dict[int, IntroRequest], dict[tuple[int, str], OutboundMessage]]:
        request_ids = {m.request_id for m in claimed if m.request_id is not None}
        refreshed = {m.request_id for m in claimed if m.kind == MessageKind.CARD_REFRESH}
        if not request_ids:
            return {}, {}
        async with reading(self._sessions) as session:
            found = await session.scalars(
                select(IntroRequest).where(IntroRequest.id.in_(request_ids))
            )
            requests = {request.id: request for request in found}
            cards: dict[tuple[int, str], OutboundMessage] = {}
            if refreshed:
                for card in await session.scalars(
                    select(OutboundMessage).where(
                        OutboundMessage.request_id.in_(refreshed),
                        OutboundMessage.kind.in_(CARD_KINDS),
                    )
                ):
                    cards[(card.request_id or 0, card.kind)] = card
        return requests, cards

    async def _send_in_order(
        self,
        messages: list[OutboundMessage],
        request: IntroRequest | None,
        cards: dict[tuple[int, str], OutboundMessage],
        tokens: dict[str, str | None],
    ) -> None:
        # The request's sends are recorded together once its last is made: one write, not
        # one per message (a crash before it means they go again after the lease, as a
        # crash between any send and its record would).
        results: list[_Result] = []
        try:
            for message in messages:
                async with self._slots:
                    # Log lines about this message name its team, recipient and row.
                    with logs.bound(
                        team=request.team_id if request is not None else None,
                        user=message.recipient_id,
                        request=f"message-{message.id}",
                    ):
                        result = await self._send(
                            message, request, cards, tokens.get(message.team_id)
                        )
                if result is not None:
                    results.append(result)
        finally:
            if results:
                await self._results.record(results)

    async def _send(
        self,
        message: OutboundMessage,
        request: IntroRequest | None,
        cards: dict[tuple[int, str], OutboundMessage],
        token: str | None,
    ) -> _Result | None:
        """Sends one message. Returns the result to record when it was sent or found moot;
        any other ending is recorded here."""
        if token is None:
            await self._app_cannot_send(message, "not_installed")
            return None
        if token == _LOOKUP_FAILED:
            await self._reschedule(
                message, "no token", self._clock.now() + _backoff(message.attempts)
            )
            return None
        try:
            channel, ts = await self._post(message, request, cards, token)
        except SlackApiError as exc:
            await self._failed(message, exc, token)
            return None
        except _Moot as exc:
            self.metrics.deliveries.labels(message.kind, "cancelled").inc()
            return _Result(message.id, DeliveryStatus.CANCELLED, None, None, str(exc), None)
        except _NotYet as exc:
            await self._reschedule(message, str(exc), exc.until, count_attempt=False)
            return None
        except Exception as exc:  # noqa: BLE001 - a timeout or reset must not lose the message
            logger.warning("delivery of message %s failed: %r", message.id, exc)
            self.metrics.slack_errors.labels("transport").inc()
            self.metrics.deliveries.labels(message.kind, "retry").inc()
            await self._reschedule(
                message, repr(exc), self._clock.now() + _backoff(message.attempts)
            )
            return None
        sent = _Result(message.id, DeliveryStatus.SENT, channel, ts, None, self._clock.now())
        self.metrics.deliveries.labels(message.kind, "sent").inc()
        if message.kind == MessageKind.REMINDER:
            self.metrics.reminders_sent.labels(str(message.data.get("reminder", ""))).inc()
        if message.kind in CARD_KINDS and message.request_id is not None:
            # A refresh later in this batch updates the card just sent.
            message.status, message.slack_channel_id, message.slack_ts = (
                DeliveryStatus.SENT,
                channel,
                ts,
            )
            cards[(message.request_id, message.kind)] = message
        return sent

    async def _post(
        self,
        message: OutboundMessage,
        request: IntroRequest | None,
        cards: dict[tuple[int, str], OutboundMessage],
        token: str,
    ) -> tuple[str | None, str | None]:
        kind = MessageKind(message.kind)
        if kind in OFFER_KINDS:
            return await self._post_offer(message, kind, token)
        if request is None:
            raise _NotYet("request row not visible yet", self._clock.now() + timedelta(seconds=5))
        if kind is MessageKind.REMINDER:
            return await self._post_reminder(message, request, token)
        if kind is MessageKind.CARD_REFRESH:
            card_row = self._sent(cards.get((request.id, message.data["card"])))
            if card_row is None:
                return None, None  # it never went out: nothing to refresh
            rendered = await self._card(MessageKind(card_row.kind), request, card_row.data)
            return await self._update(message, card_row, rendered, token)
        if kind is MessageKind.NOTICE and message.data["event"] == SECONDARY_OFFERED:
            # Who could reach a target who went quiet: the next paths, as after any dead end.
            secondary = (await self._next_paths(request))[:2]
            names = await self._names(message.team_id, secondary, token)
            rendered = messages.notice(
                request, SECONDARY_OFFERED, message.data, secondary=secondary, names=names
            )
        elif kind is MessageKind.NOTICE:
            event = message.data["event"]
            paths = await self._next_paths(request) if event in DEAD_END_EVENTS else []
            rendered = messages.notice(request, event, message.data, paths)
        else:
            # Sent soon after the review that wrote it (not held back, say, by a pause).
            fresh = self._clock.now() - message.created_at <= REVIEW_FRESH_FOR
            rendered = await self._card(kind, request, message.data, fresh=fresh)
        return await self._post_new(message, rendered, token)

    async def _post_new(
        self, message: OutboundMessage, rendered: messages.Message, token: str
    ) -> tuple[str | None, str | None]:
        """A new DM to the message's recipient, in its turn under Slack's limits."""
        await self._slot(message.team_id, "chat.postMessage", message.recipient_id, message.id)
        response = await self._client.chat_postMessage(
            token=token, channel=message.recipient_id, text=rendered.text, blocks=rendered.blocks
        )
        return response.get("channel"), response.get("ts")

    def _sent(self, card_row: OutboundMessage | None) -> OutboundMessage | None:
        """The card, to be updated; None when it never went out. While it is still on its way
        it has no ts to update: the refresh waits (_NotYet)."""
        if card_row is None or card_row.status in (DeliveryStatus.FAILED, DeliveryStatus.CANCELLED):
            return None
        if card_row.status != DeliveryStatus.SENT:
            raise _NotYet("card not sent yet", self._clock.now() + timedelta(seconds=5))
        return card_row

    async def _update(
        self,
        message: OutboundMessage,
        card_row: OutboundMessage,
        rendered: messages.Message,
        token: str,
    ) -> tuple[str | None, str | None]:
        """A card already sent, updated in place to `rendered`."""
        await self._slot(message.team_id, "chat.update")
        await self._client.chat_update(
            token=token,
            channel=card_row.slack_channel_id or "",
            ts=card_row.slack_ts or "",
            text=rendered.text,
            blocks=rendered.blocks,
        )
        return card_row.slack_channel_id, card_row.slack_ts

    async def _post_offer(
        self, message: OutboundMessage, kind: MessageKind, token: str
    ) -> tuple[str | None, str | None]:
        """A connector's offer: the rep's card, its refresh once answered, the connector's
        notice. The offer row is read as it is now."""
        offer_id = message.data.get("offer_id")
        async with reading(self._sessions) as session:
            offer = await session.scalar(
                select(IntroOffer).where(
                    IntroOffer.id == offer_id, IntroOffer.team_id == message.team_id
                )
            )
            card_row = (
                await session.scalar(
                    select(OutboundMessage).where(
                        OutboundMessage.team_id == message.team_id,
                        OutboundMessage.dedupe_key
                        == offer_dedupe_key(offer.id, MessageKind.OFFER_CARD, "card"),
                    )
                )
                if offer is not None and kind is MessageKind.OFFER_REFRESH
                else None
            )
        if offer is None:
            raise _Moot("the offer is gone")
        if kind is MessageKind.OFFER_REFRESH:
            card_row = self._sent(card_row)
            if card_row is None:
                return None, None  # it never went out: nothing to refresh
            return await self._update(message, card_row, messages.offer_card(offer), token)
        rendered = (
            messages.offer_card(offer)
            if kind is MessageKind.OFFER_CARD
            else messages.offer_notice(offer)
        )
        return await self._post_new(message, rendered, token)

    async def _stale_tie(self, request: IntroRequest) -> Contact | None:
        """The connector's recorded tie to the target, when over a year old and unconfirmed."""
        if self._directory is None or request.status != Status.AWAITING_CONNECTOR:
            return None
        tie = await self._directory.tie(
            request.team_id, request.connector_id, request.target_name, request.target_company
        )
        return tie if tie is not None and Directory.is_stale(tie, self._clock.now()) else None

    async def _post_reminder(
        self, message: OutboundMessage, request: IntroRequest, token: str
    ) -> tuple[str | None, str | None]:
        if request.status not in message.data.get("expects", []):
            raise _Moot(f"request is {request.status} now")
        if await self._superseded(message):
            raise _Moot("a later reminder covers this one")
        now = self._clock.now()
        tz, _ = await self._profile(message.recipient_id, token, message.team_id)
        if request.ask_again_on is not None and message.data.get("moves") == Action.ASK_AGAIN:
            # Due from the day's earliest start anywhere: held until it is that day for them.
            day_starts = datetime.combine(request.ask_again_on, dt_time(0), zone(tz))
            if now < day_starts:
                raise _NotYet("the day to ask again has not come for them yet", day_starts)
        if self._working_hours is not None:
            opens = self._working_hours.next_opening(now, tz)
            if opens > now:
                raise _NotYet("outside the recipient's working hours", opens)
        request, follow_ups = await self._move_on(message, request)
        reminder = message.data["reminder"]
        secondary = (
            await self._next_paths(request) if reminder in ("stalled", "target_quiet") else []
        )
        rendered = messages.reminder(
            request,
            reminder,
            secondary,
            now=self._clock.now(),
            tz_name=tz,
            last=bool(message.data.get("last")),
        )
        sent = await self._post_new(message, rendered, token)
        self._follow_ups += follow_ups
        return sent

    async def _next_paths(self, request: IntroRequest) -> list[str]:
        """Who the requester could ask next after a dead end, looked up as the message goes
        (a teammate may have declined or reached their limit since it was promised)."""
        introduced = await self._workflow.secondary_connectors(request, limit=10)
        if self._directory is None:
            return introduced[:3]
        return await self._directory.next_paths(request, introduced)

    async def _move_on(
        self, message: OutboundMessage, request: IntroRequest
    ) -> tuple[IntroRequest, list[int]]:
        """A reminder that moves its request on (the ask went quiet, the day to ask again
        came) makes the move first: compare-and-set, so only one replica makes it. A send
        taken over after a lapsed lease finds the move made, and only sends the message."""
        moves = message.data.get("moves")
        if not moves or request.status != message.data["expects"][0]:
            return request, []
        try:
            outcome = await self._workflow.system_act(request.team_id, request.id, Action(moves))
        except IllegalTransition as exc:
            if exc.status not in message.data["expects"]:
                raise _Moot(f"request is {exc.status} now") from None
            moved = await self._workflow.get(request.team_id, request.id)
            return moved or request, []
        return outcome.request, outcome.message_ids

    async def _superseded(self, message: OutboundMessage) -> bool:
        """After downtime several reminders may be due at once; only the latest is worth it."""
        async with reading(self._sessions) as session:
            later = await session.scalar(
                select(OutboundMessage.id)
                .where(
                    OutboundMessage.request_id == message.request_id,
                    OutboundMessage.kind == MessageKind.REMINDER,
                    OutboundMessage.id != message.id,
                    OutboundMessage.due_at > message.due_at,
                    OutboundMessage.due_at <= self._clock.now(),
                    OutboundMessage.status.in_(
                        [DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.SENT]
                    ),
                )
                .limit(1)
            )
            return later is not None

    async def _recall_profiles(self, claimed: list[OutboundMessage]) -> None:
        """The time zones the batch's reminders need, read together from the stored profiles:
        10,000 reminders due at 09:00 would otherwise wait on 10,000 users.info calls, paced
        at Tier 4 (about 100 a minute). Whoever is not stored is asked about as before."""
        wanted: dict[str, set[str]] = {}
        for message in claimed:
            if message.kind == MessageKind.REMINDER:
                wanted.setdefault(message.team_id, set()).add(message.recipient_id)
        for team_id, user_ids in wanted.items():
            await self._people.recall(team_id, user_ids)

    async def _profile(self, user_id: str, token: str, team_id: str) -> tuple[str | None, str]:
        """A user's time zone and name, looked up as everyone is (bot.intro.people)."""
        try:
            person = await self._people.one(self._users(team_id, token), team_id, user_id)
        except SlackApiError as exc:
            if slack_error_code(exc) in APP_AUTH_ERRORS:
                raise  # the app's token, not this user: the message waits
            logger.info("no profile for %s: %s", user_id, slack_error_code(exc))
            return None, ""
        return ((person.tz or None), person.name) if person is not None else (None, "")

    async def _names(self, team_id: str, user_ids: list[str], token: str) -> dict[str, str]:
        """The names of a few people, with one read of the stored profiles for all."""
        await self._people.recall(team_id, user_ids)
        return {user_id: (await self._profile(user_id, token, team_id))[1] for user_id in user_ids}

    def _users(self, team_id: str, token: str) -> SlackUsers:
        """users.info with the workspace's token, in its turn under Slack's limits."""

        async def paced() -> None:
            await self._slot(team_id, "users.info")

        return SlackUsers(self._client, token=token, before_call=paced)

    async def _slot(
        self, team_id: str, method: str, channel: str | None = None, message_id: int = 0
    ) -> None:
        """Waits for the call's turn under Slack's limits (booked with its batch, or taken
        now); when it is further off, the message goes back to the outbox, due then (no
        attempt counted)."""
        if self._pacer is None:
            return
        turn = self._turns.pop(message_id, None)
        if turn is not None and time.monotonic() - turn <= LATE_TURN_S:
            await asyncio.sleep(max(0.0, turn - time.monotonic()))
            return
        # No turn booked, or reached late (a stalled loop, a slow render): sent now it would
        # crowd the calls booked after it, so it takes a turn of its own.
        grant = await self._pacer.slot(team_id, method, channel)
        if not grant.granted:
            raise _NotYet(
                f"{method}: Slack's rate limit",
                self._clock.now() + timedelta(seconds=grant.retry_in),
            )

    async def _card(
        self,
        kind: MessageKind,
        request: IntroRequest,
        data: dict[str, Any],
        *,
        fresh: bool = False,
    ) -> messages.Message:
        if kind is MessageKind.CONNECTOR_CARD:
            if fresh and "stale_tie" in data:
                # A new ask's card: the tie as its review found it, moments ago.
                tie = tie_from(data["stale_tie"])
            else:
                tie = await self._stale_tie(request)
            return messages.connector_card(request, tie, offered=bool(data.get("offered")))
        if kind is MessageKind.OWNER_CARD:
            return messages.owner_card(request)
        return messages.requester_card(request, data.get("advice", []))

    async def _failed(self, message: OutboundMessage, exc: SlackApiError, token: str) -> None:
        error = slack_error_code(exc)
        self.metrics.slack_errors.labels(error).inc()
        if error in APP_AUTH_ERRORS:
            if await self._token_replaced(message.team_id, token):
                # Reinstalled (or rotated) through another replica since this token was
                # looked up: send again with the new one, nothing paused.
                await self._reschedule(message, error, message.due_at, count_attempt=False)
            else:
                await self._app_cannot_send(message, error)
            return
        if error in PERMANENT_ERRORS or message.attempts >= MAX_ATTEMPTS:
            self.metrics.deliveries.labels(message.kind, "failed").inc()
            logger.error(
                "message %s to %s failed for good: %s", message.id, message.recipient_id, error
            )
            failed = _Result(message.id, DeliveryStatus.FAILED, None, None, error or str(exc), None)
            await self._results.record([failed])
            if message.kind in (
                MessageKind.CONNECTOR_CARD,
                MessageKind.OWNER_CARD,
                MessageKind.REMINDER,
            ):
                await self.deliver(await self._workflow.report_undeliverable(message, error))
            return
        self.metrics.deliveries.labels(message.kind, "retry").inc()
        delay = _backoff(message.attempts)
        if slack_status(exc) == 429:
            delay = timedelta(seconds=retry_after_seconds(exc))
        await self._reschedule(message, error or str(exc), self._clock.now() + delay)

    async def resume_when_token_works(self) -> list[str]:
        """Workspaces paused on an auth error (or uninstalled) resume once their token answers
        auth.test again: SLACK_BOT_TOKEN fixed, or a new installation's token. Asked at most
        every `probe_interval` per workspace. Returns the workspaces resumed."""
        if self._workspaces is None:
            return []
        resumed = []
        for team_id in await self._workspaces.not_active():
            now = time.monotonic()
            if now - self._probed_at.get(team_id, -1e9) < self._probe_interval.total_seconds():
                continue
            self._probed_at[team_id] = now
            self._tokens.forget(team_id)
            try:
                token = await self._tokens.token_for(team_id)
                if not token:
                    continue
                answer = await self._client.auth_test(token=token)
            except SlackApiError as exc:
                logger.info("workspace %s still paused: %s", team_id, slack_error_code(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - try again next time
                logger.info("workspace %s still paused: %r", team_id, exc)
                continue
            if answer.get("team_id") == team_id and await self._workspaces.resume(team_id):
                logger.warning("workspace %s: the bot token works again; delivery resumes", team_id)
                resumed.append(team_id)
        return resumed

    async def _token_replaced(self, team_id: str, failed: str) -> bool:
        self._tokens.forget(team_id)
        try:
            current = await self._tokens.token_for(team_id)
        except Exception:  # noqa: BLE001 - no better token to be found now
            return False
        return bool(current) and current != failed

    async def _app_cannot_send(self, message: OutboundMessage, reason: str) -> None:
        """The app has no working token for this workspace: pause its delivery (logged once,
        not per message) and put the message back as it was, pending."""
        self._tokens.forget(message.team_id)
        if self._workspaces is None:  # nowhere to record a pause: try again later
            await self._reschedule(message, reason, self._clock.now() + _backoff(message.attempts))
            return
        if await self._workspaces.pause(message.team_id, reason):
            logger.error(
                "delivery to workspace %s paused: %s (messages are kept until it works again)",
                message.team_id,
                reason,
            )
        await self._reschedule(message, reason, message.due_at, count_attempt=False)

    async def _write_results(self, results: list[_Result]) -> None:
        """Record a batch of sends' results: one statement, committed on its own, on
        PostgreSQL; one transaction elsewhere. Only rows this process still holds change."""
        if self._postgres:
            async with autocommit(self._sessions) as connection:
                await connection.execute(
                    _WRITE_RESULTS,
                    {
                        "owner": self._owner,
                        "ids": [r.message_id for r in results],
                        "statuses": [str(r.status) for r in results],
                        "channels": [r.channel for r in results],
                        "tss": [r.ts for r in results],
                        "errors": [r.error for r in results],
                        "sent_ats": [r.sent_at for r in results],
                    },
                )
            return
        table = cast(Table, OutboundMessage.__table__)
        async with self._sessions.begin() as session:
            await session.execute(
                update(table)
                .where(
                    table.c.id == bindparam("result_id"),
                    table.c.lease_owner == self._owner,
                    table.c.status == DeliveryStatus.SENDING,
                )
                .values(
                    status=bindparam("result_status"),
                    slack_channel_id=bindparam("result_channel"),
                    slack_ts=bindparam("result_ts"),
                    last_error=bindparam("result_error"),
                    sent_at=bindparam("result_sent_at"),
                    lease_expires_at=None,
                ),
                [
                    {
                        "result_id": r.message_id,
                        "result_status": str(r.status),
                        "result_channel": r.channel,
                        "result_ts": r.ts,
                        "result_error": r.error,
                        "result_sent_at": r.sent_at,
                    }
                    for r in results
                ],
            )

    async def _reschedule(
        self, message: OutboundMessage, error: str, until: datetime, *, count_attempt: bool = True
    ) -> None:
        values: dict[str, Any] = {
            "status": DeliveryStatus.PENDING,
            "due_at": until,
            "last_error": error,
            "lease_expires_at": None,
        }
        if not count_attempt:
            values["attempts"] = OutboundMessage.attempts - 1
        async with self._sessions.begin() as session:
            await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == message.id,
                    OutboundMessage.lease_owner == self._owner,
                    OutboundMessage.status == DeliveryStatus.SENDING,
                )
                .values(**values)
            )


@dataclass(frozen=True)
class _Result:
    """How a send ended, for its row."""

    message_id: int
    status: DeliveryStatus
    channel: str | None
    ts: str | None
    error: str | None
    sent_at: datetime | None


_WRITE_RESULTS = text(
    """
    UPDATE outbound_messages m SET status = r.status, slack_channel_id = r.channel,
        slack_ts = r.ts, last_error = r.error, sent_at = r.sent_at, lease_expires_at = NULL
    FROM unnest(CAST(:ids AS integer[]), CAST(:statuses AS text[]), CAST(:channels AS text[]),
        CAST(:tss AS text[]), CAST(:errors AS text[]), CAST(:sent_ats AS timestamptz[]))
        AS r(id, status, channel, ts, error, sent_at)
    WHERE m.id = r.id AND m.lease_owner = :owner AND m.status = 'sending'
    """
)


_TEAMS_DUE = text(
    """
    WITH RECURSIVE teams(team_id) AS (
        SELECT min(team_id) FROM outbound_messages WHERE status = 'pending'
        UNION ALL
        SELECT (
            SELECT min(m.team_id) FROM outbound_messages m
            WHERE m.status = 'pending' AND m.team_id > teams.team_id
        )
        FROM teams WHERE teams.team_id IS NOT NULL
    )
    SELECT team_id FROM teams
    WHERE team_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM outbound_messages m
        WHERE m.status = 'pending' AND m.team_id = teams.team_id AND m.due_at <= :now
    )
    UNION
    SELECT team_id FROM outbound_messages WHERE status = 'sending' AND lease_expires_at < :now
    """
).bindparams(bindparam("now", type_=UTCDateTime()))


def _claimable(
    pending: ColumnElement[bool], lapsed: ColumnElement[bool], ids: list[int] | None, limit: int
) -> CTE:
    """PostgreSQL: the first `limit` claimable rows, locked, skipping rows other replicas hold.

    Each way a row can be claimable is its own index-ordered, limited scan (pending rows by
    due_at; rows whose lease lapsed), merged afterwards. One scan with an OR would collect and
    sort every due row on every claim, so a claim would cost more the larger the backlog.
    The scans are MATERIALIZED CTEs: as an IN (subquery), PostgreSQL may run the LIMIT once per
    outer row and claim far more than a batch.
    """
    scans = []
    for name, condition in (("pending", pending), ("lapsed", lapsed)):
        scan = select(OutboundMessage.id, OutboundMessage.due_at).where(condition)
        if ids is not None:
            scan = scan.where(OutboundMessage.id.in_(ids))
        scans.append(
            scan.order_by(OutboundMessage.due_at, OutboundMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte(name)
            .prefix_with("MATERIALIZED")
        )
    either = union_all(*(select(scan.c.id, scan.c.due_at) for scan in scans)).subquery("either")
    return select(either.c.id).order_by(either.c.due_at, either.c.id).limit(limit).cte("claimable")


class _NotYet(Exception):
    """Not now: the message depends on something not there yet, or waits for working hours."""

    def __init__(self, why: str, until: datetime) -> None:
        super().__init__(why)
        self.until = until


class _Moot(Exception):
    """The message no longer makes sense: its request moved on."""


def _backoff(attempts: int) -> timedelta:
    base = min(300.0, 2.0 ** max(0, attempts - 1))
    return timedelta(seconds=base * random.uniform(0.5, 1.5))
