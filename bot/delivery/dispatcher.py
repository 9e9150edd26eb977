"""Delivery of outbound messages: claim rows with a lease, send them to Slack, record the result.

The database is the source of truth: rows are written by the workflow in the same transaction
as the state change that promises them. `deliver()` sends new rows at once; `sweep()` picks up
whatever is due or whose lease ran out (a crash mid-send), so nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.channels import Channel, Failed, Refused
from bot.delivery.digests import DigestView
from bot.delivery.group_commit import GroupCommit
from bot.delivery.outbox import (
    LEASE,
    LEASE_MARGIN,
    WORTH_SENDING_FOR,
    LeaseLost,
    Moot,
    NotYet,
    Outbox,
    Result,
    backoff,
    worth_sending_until,
)
from bot.delivery.pace import Pacer
from bot.delivery.pauses import APP_AUTH_ERRORS, PROBE_INTERVAL, Pauses
from bot.delivery.recipients import Recipients
from bot.delivery.reminders import Reminders
from bot.delivery.tokens import BotTokens, FixedToken
from bot.delivery.workspaces import Workspaces
from bot.intro.cadence import WorkingHours
from bot.intro.clock import Clock
from bot.intro.directory import Directory
from bot.intro.people import People
from bot.intro.states import DEAD_END_EVENTS
from bot.intro.workflow import (
    SECONDARY_OFFERED,
    IntroWorkflow,
    Lease,
    Outcome,
    offer_dedupe_key,
)
from bot.intro.workflow.results import History
from bot.observability import logs
from bot.observability.metrics import Metrics
from bot.observability.slack_errors import retry_after_seconds, slack_error_code, slack_status
from bot.rendering import messages
from storage.db import reading
from storage.models import (
    CARD_KINDS,
    OFFER_KINDS,
    DeliveryStatus,
    IntroOffer,
    IntroRequest,
    MessageKind,
    OutboundMessage,
)

logger = logging.getLogger(__name__)

# Slack errors that no retry will fix: the message is marked failed at once. Every other
# error is retried for as long as the message is worth sending (bot.delivery.outbox).
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
# A workspace's token could not be looked up this time (database, or a failed rotation).
_LOOKUP_FAILED = ""
# How long the connector's tie, as an ask's review found it, stands for their card: after
# that (a send held back by a pause or Slack's limits) the card looks it up again.
REVIEW_FRESH_FOR = timedelta(minutes=5)
# A card in one of these states is not in the recipient's DMs, and will not be.
_NEVER_SENT = frozenset({DeliveryStatus.FAILED, DeliveryStatus.CANCELLED, DeliveryStatus.EXPIRED})
# Kinds sent with chat.update (a card changed in place); every other kind is a new post.
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
        channels: Sequence[Channel] = (),
        digests: DigestView | None = None,
    ) -> None:
        self.metrics = metrics or Metrics()
        # Where rows that are not Slack messages go, by kind (bot.delivery.channels).
        self._channels = {channel.kind: channel for channel in channels}
        self._sessions = sessions
        self._client = client
        self._clock = clock
        self._workflow = workflow
        # Host and pid name the process holding a lease, for whoever looks at a stuck row.
        self._owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._lease = lease
        self._batch = batch
        # Several sends at once, so one slow or rate-limited call doesn't hold up the rest.
        self._slots = asyncio.Semaphore(concurrency)
        # Whom the messages go to and name (their time zones, their names): memory, the
        # stored profiles, then users.info.
        self._recipients = Recipients(people or People(None), client, self._slot)
        self._tokens: BotTokens = tokens or FixedToken(client.token)
        # Slack's rate limits, kept to per workspace (bot.delivery.pace); None: as fast as
        # Slack answers, 429s honoured.
        self._pacer = pacer
        self._first_team = 0
        # The messages this process holds a lease on and has not sent yet, by id: a lease
        # running short is extended for all of them in one statement.
        self._held: dict[int, OutboundMessage] = {}
        self._extending = asyncio.Lock()
        # What a reminder's move promised (cards updated, notices): sent after its batch.
        self._follow_ups: list[int] = []
        # Sends finishing together share one write of their results.
        self._outbox = Outbox(sessions, clock, self._owner, lease, workspaces)
        self._reminders = Reminders(sessions, clock, workflow, directory, working_hours)
        self._pauses = Pauses(client, clock, self._tokens, workspaces, self._outbox, probe_interval)
        self._results = GroupCommit(self._outbox.write_results)
        # The offer-help digests (bot.delivery.digests); None: not sent by this dispatcher.
        self.digests = digests

    @property
    def tokens(self) -> BotTokens:
        return self._tokens

    def use_session(self, session: aiohttp.ClientSession) -> None:
        self._client.session = session

    def lease(self) -> Lease:
        """A claim on the messages a state change is about to write, for `deliver_outcome`."""
        return Lease(self._owner, self._clock.now() + self._lease)

    async def connector_card(self, request: IntroRequest) -> messages.Message:
        """The connector's card as it stands now: their tie, their history with the
        requester, the intro it adds a second voice to."""
        return await self._reminders.card(MessageKind.CONNECTOR_CARD, request, {})

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
            # A new ask's history with its connector, as the statement that wrote it read
            # it, for the connector's first card.
            histories: dict[int, History] = {}
            if outcome.history is not None:
                histories[outcome.request.id] = outcome.history
            await self._send_all(leased, known, histories)
        rest = [i for i in outcome.message_ids if i not in taken]
        if rest:
            await self.deliver(rest)  # and its follow-ups
        else:
            await self._send_follow_ups()

    async def resume_when_token_works(self) -> list[str]:
        """Workspaces paused on an auth error resume once their token works again."""
        return await self._pauses.resume_when_token_works()

    async def sweep(self, limit: int | None = None) -> int:
        """Send what is due, including rows whose sender died mid-send. Returns the count."""
        claimed = []
        if self._channels:
            # Not Slack's: not held back by a workspace's Slack budget.
            claimed = await self._claim(limit=limit or self._batch, kinds=list(self._channels))
        if self._pacer is not None:
            claimed += await self._claim_fairly(limit or self._batch)
        else:
            claimed += await self._claim(limit=limit or self._batch)
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
            teams = await self._outbox.teams_due()
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

    async def _claim(
        self,
        *,
        ids: list[int] | None = None,
        limit: int = 100,
        team: str | None = None,
        kinds: list[str] | None = None,
    ) -> list[OutboundMessage]:
        return await self._outbox.claim(ids=ids, limit=limit, team=team, kinds=kinds)

    async def _send_follow_ups(self) -> None:
        """Send now what reminders' moves promised (the sweep would, on its next tick)."""
        while self._follow_ups:
            ids, self._follow_ups = self._follow_ups, []
            await self._send_all(await self._claim(ids=ids))

    async def _send_all(
        self,
        claimed: list[OutboundMessage],
        known: tuple[dict[int, IntroRequest], dict[tuple[int, str], OutboundMessage]] | None = None,
        histories: dict[int, History] | None = None,
    ) -> None:
        # A request's messages go in order (its card before the card's refresh); different
        # requests' messages go side by side.
        by_request: dict[int | None, list[OutboundMessage]] = {}
        for message in claimed:
            by_request.setdefault(message.request_id, []).append(message)
        tokens = await self._tokens_of(claimed)
        self._held.update((message.id, message) for message in claimed)
        if self._pacer is not None:
            await self._book_turns(claimed)
        # The batch's requests, and the cards its refreshes update, in one checkout (unless
        # the state change that wrote them returned them).
        requests, cards = known if known is not None else await self._context(claimed)
        await self._recipients.recall(claimed)
        sends = [
            self._send_in_order(
                group,
                requests.get(request_id) if request_id else None,
                cards,
                tokens,
                (histories or {}).get(request_id) if request_id else None,
            )
            for request_id, group in by_request.items()
        ]
        if len(sends) == 1:
            # One request's messages (a pressed button's): nothing to run beside them, so no
            # task of their own.
            await sends[0]
        else:
            await asyncio.gather(*sends)
        for message in claimed:  # turns not taken (a moot reminder, a deferral) lapse
            self._held.pop(message.id, None)

    async def _book_turns(self, claimed: list[OutboundMessage]) -> None:
        """The batch's calls lease their turns together, in every budget they draw on (the
        posts' workspaces and channels, the updates' tier): one statement a batch, none a
        send. A call whose turn is not there when it goes (a users.info, a turn that lapsed)
        leases its own."""
        assert self._pacer is not None
        calls: list[tuple[str, str, str | None]] = []
        tickets = []
        for message in claimed:
            if message.kind in self._channels:
                continue
            if message.kind in UPDATES:
                calls.append((message.team_id, "chat.update", None))
            else:
                calls.append((message.team_id, "chat.postMessage", message.recipient_id))
            tickets.append(message.id)
        await self._pacer.reserve(calls, tickets)

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
        history: History | None = None,
    ) -> None:
        # The request's sends are recorded together once its last is made: one write, not
        # one per message (a crash before it means they go again after the lease, as a
        # crash between any send and its record would).
        results: list[Result] = []
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
                            message, request, cards, tokens.get(message.team_id), history
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
        history: History | None = None,
    ) -> Result | None:
        """Sends one message (`history`: its request's, as a new ask read it). Returns the
        result to record when it was sent or found moot; any other ending is recorded here."""
        elsewhere = self._channels.get(MessageKind(message.kind))
        if elsewhere is not None:
            return await self._send_elsewhere(message, request, elsewhere)
        if token is None:
            await self._pauses.app_cannot_send(message, "not_installed")
            return None
        if token == _LOOKUP_FAILED:
            await self._retry_later(message, "no token", backoff(message.attempts))
            return None
        try:
            channel, ts = await self._post(message, request, cards, token, history)
        except LeaseLost:
            # Another replica holds it now and sends it: nothing to send or record here.
            self.metrics.deliveries.labels(message.kind, "taken_over").inc()
            return None
        except SlackApiError as exc:
            await self._failed(message, exc, token)
            return None
        except Moot as exc:
            self.metrics.deliveries.labels(message.kind, "cancelled").inc()
            return Result(message.id, DeliveryStatus.CANCELLED, None, None, str(exc), None)
        except NotYet as exc:
            await self._outbox.reschedule(message, str(exc), exc.until, count_attempt=False)
            return None
        except Exception as exc:  # noqa: BLE001 - a timeout or reset must not lose the message
            logger.warning("delivery of message %s failed: %r", message.id, exc)
            self.metrics.slack_errors.labels("transport").inc()
            await self._retry_later(message, repr(exc), backoff(message.attempts))
            return None
        sent = Result(message.id, DeliveryStatus.SENT, channel, ts, None, self._clock.now())
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

    async def _send_elsewhere(
        self, message: OutboundMessage, request: IntroRequest | None, channel: Channel
    ) -> Result | None:
        """A row for another channel than Slack: sent by it, with the outbox's lease, retries
        and expiry (after the channel's own span)."""
        try:
            await self._keep_lease(message)
            await channel.send(message, request)
        except LeaseLost:
            self.metrics.deliveries.labels(message.kind, "taken_over").inc()
            return None
        except Moot as exc:
            self.metrics.deliveries.labels(message.kind, "cancelled").inc()
            return Result(message.id, DeliveryStatus.CANCELLED, None, None, str(exc), None)
        except NotYet as exc:
            await self._outbox.reschedule(message, str(exc), exc.until, count_attempt=False)
            return None
        except Refused as exc:
            await self._retry_later(message, str(exc), backoff(message.attempts))
            return None
        except Failed as exc:
            self.metrics.deliveries.labels(message.kind, "failed").inc()
            logger.error("%s %s failed for good: %s", message.kind, message.id, exc)
            return Result(message.id, DeliveryStatus.FAILED, None, None, str(exc), None)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the row is kept
            logger.warning("delivery of %s %s failed: %r", message.kind, message.id, exc)
            await self._retry_later(message, repr(exc), backoff(message.attempts))
            return None
        self.metrics.deliveries.labels(message.kind, "sent").inc()
        return Result(message.id, DeliveryStatus.SENT, None, None, None, self._clock.now())

    async def _post(
        self,
        message: OutboundMessage,
        request: IntroRequest | None,
        cards: dict[tuple[int, str], OutboundMessage],
        token: str,
        history: History | None = None,
    ) -> tuple[str | None, str | None]:
        kind = MessageKind(message.kind)
        if kind in OFFER_KINDS:
            return await self._post_offer(message, kind, token)
        if kind is MessageKind.DIGEST:
            return await self._post_digest(message, token)
        if kind is MessageKind.NOTICE and message.request_id is None:
            # About the workspace, not a request: an admin hears their CRM stopped taking
            # pushes.
            return await self._post_new(message, messages.workspace_notice(message.data), token)
        if request is None:
            raise NotYet("request row not visible yet", self._clock.now() + timedelta(seconds=5))
        if kind is MessageKind.REMINDER:
            return await self._post_reminder(message, request, token)
        if kind is MessageKind.CARD_REFRESH:
            card_row = self._sent(cards.get((request.id, message.data["card"])))
            if card_row is None:
                return None, None  # it never went out: nothing to refresh
            rendered = await self._reminders.card(
                MessageKind(card_row.kind), request, card_row.data
            )
            return await self._update(message, card_row, rendered, token)
        if kind is MessageKind.NOTICE and message.data["event"] == SECONDARY_OFFERED:
            # Who could reach a target who went quiet: the next paths, as after any dead end.
            secondary = (await self._reminders.next_paths(request))[:2]
            names = await self._recipients.names(message.team_id, secondary, token)
            rendered = messages.notice(
                request, SECONDARY_OFFERED, message.data, secondary=secondary, names=names
            )
        elif kind is MessageKind.NOTICE:
            event = message.data["event"]
            paths = await self._reminders.next_paths(request) if event in DEAD_END_EVENTS else []
            rendered = messages.notice(request, event, message.data, paths)
        else:
            # Sent soon after the review that wrote it (not held back, say, by a pause).
            fresh = self._clock.now() - message.created_at <= REVIEW_FRESH_FOR
            rendered = await self._reminders.card(
                kind, request, message.data, fresh=fresh, history=history if fresh else None
            )
        return await self._post_new(message, rendered, token)

    async def _post_new(
        self, message: OutboundMessage, rendered: messages.Message, token: str
    ) -> tuple[str | None, str | None]:
        """A new DM to the message's recipient, in its turn under Slack's limits."""
        # The lease first: its extension (rarely, a statement) must not come between the
        # turn and the call.
        await self._keep_lease(message)
        await self._slot(message.team_id, "chat.postMessage", message.recipient_id, message.id)
        response = await self._client.chat_postMessage(
            token=token,
            channel=message.recipient_id,
            text=rendered.text,
            blocks=rendered.blocks_json,
        )
        return response.get("channel"), response.get("ts")

    def _sent(self, card_row: OutboundMessage | None) -> OutboundMessage | None:
        """The card, to be updated; None when it never went out. While it is still on its way
        it has no ts to update: the refresh waits (NotYet)."""
        if card_row is None or card_row.status in _NEVER_SENT:
            return None
        if card_row.status != DeliveryStatus.SENT:
            raise NotYet("card not sent yet", self._clock.now() + timedelta(seconds=5))
        return card_row

    async def _update(
        self,
        message: OutboundMessage,
        card_row: OutboundMessage,
        rendered: messages.Message,
        token: str,
    ) -> tuple[str | None, str | None]:
        """A card already sent, updated in place to `rendered`."""
        await self._keep_lease(message)
        await self._slot(message.team_id, "chat.update", None, message.id)
        await self._client.chat_update(
            token=token,
            channel=card_row.slack_channel_id or "",
            ts=card_row.slack_ts or "",
            text=rendered.text,
            blocks=rendered.blocks_json,
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
            raise Moot("the offer is gone")
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

    async def _post_digest(
        self, message: OutboundMessage, token: str
    ) -> tuple[str | None, str | None]:
        """A connector's offer-help digest, in their working hours."""
        if self.digests is None:
            raise Moot("digests are not sent here")
        tz, _ = await self._recipients.profile(message.recipient_id, token, message.team_id)
        rendered = await self.digests.compose(message, tz)
        return await self._post_new(message, rendered, token)

    async def _post_reminder(
        self, message: OutboundMessage, request: IntroRequest, token: str
    ) -> tuple[str | None, str | None]:
        tz, _ = await self._recipients.profile(message.recipient_id, token, message.team_id)
        rendered, follow_ups = await self._reminders.compose(message, request, tz)
        sent = await self._post_new(message, rendered, token)
        self._follow_ups += follow_ups
        return sent

    async def _slot(
        self, team_id: str, method: str, channel: str | None = None, message_id: int | None = None
    ) -> None:
        """Waits for the call's turn under Slack's limits (leased with its batch, or leased
        now); when it is further off, the message goes back to the outbox, due then (no
        attempt counted)."""
        if self._pacer is None:
            return
        grant = await self._pacer.turn(team_id, method, channel, message_id)
        if not grant.granted:
            raise NotYet(
                f"{method}: Slack's rate limit",
                self._clock.now() + timedelta(seconds=grant.retry_in),
            )

    async def _keep_lease(self, message: OutboundMessage) -> None:
        """Just before a Slack call: the message's lease must outlast the call. When it is
        running short it is extended, with the lease of every other message this process
        still holds, in one statement; a message another replica took over raises LeaseLost."""
        now = self._clock.now()
        expires = message.lease_expires_at
        margin = min(LEASE_MARGIN, self._lease / 2)
        if expires is not None and expires - now >= margin:
            return
        async with self._extending:
            expires = message.lease_expires_at  # another send may have extended it meanwhile
            if expires is None or expires - self._clock.now() < margin:
                held = await self._outbox.extend(list(self._held))
                for message_id, held_message in list(self._held.items()):
                    if message_id in held:
                        held_message.lease_expires_at = held[message_id]
                    else:
                        del self._held[message_id]
                if message.id not in held:
                    raise LeaseLost(f"message {message.id}")

    async def _failed(self, message: OutboundMessage, exc: SlackApiError, token: str) -> None:
        error = slack_error_code(exc)
        self.metrics.slack_errors.labels(error).inc()
        if error in APP_AUTH_ERRORS:
            if await self._pauses.token_replaced(message.team_id, token):
                # Reinstalled (or rotated) through another replica since this token was
                # looked up: send again with the new one, nothing paused.
                await self._outbox.reschedule(message, error, message.due_at, count_attempt=False)
            else:
                await self._pauses.app_cannot_send(message, error)
            return
        if error in PERMANENT_ERRORS:
            self.metrics.deliveries.labels(message.kind, "failed").inc()
            logger.error(
                "message %s to %s failed for good: %s", message.id, message.recipient_id, error
            )
            await self._give_up(message, DeliveryStatus.FAILED, error or str(exc))
            return
        if slack_status(exc) == 429:
            # Slack said when: that wait is not a failed attempt.
            delay = timedelta(seconds=retry_after_seconds(exc))
            await self._retry_later(message, error or str(exc), delay, count_attempt=False)
            return
        await self._retry_later(message, error or str(exc), backoff(message.attempts))

    async def _retry_later(
        self, message: OutboundMessage, error: str, delay: timedelta, *, count_attempt: bool = True
    ) -> None:
        """A transient failure: the message goes again after `delay`, unless by then it is no
        longer worth sending, when it is expired with the reason."""
        until = self._clock.now() + delay
        channel = self._channels.get(MessageKind(message.kind))
        span = channel.worth_sending_for if channel is not None else WORTH_SENDING_FOR
        if until > worth_sending_until(message, span):
            self.metrics.deliveries.labels(message.kind, "expired").inc()
            logger.error(
                "message %s to %s expired unsent: %s", message.id, message.recipient_id, error
            )
            await self._give_up(message, DeliveryStatus.EXPIRED, error)
            return
        self.metrics.deliveries.labels(message.kind, "retry").inc()
        await self._outbox.reschedule(message, error, until, count_attempt=count_attempt)

    async def _give_up(self, message: OutboundMessage, status: DeliveryStatus, error: str) -> None:
        """The message will not go out: recorded, and for a card or reminder, the request's
        people are told (bot.intro.workflow report_undeliverable)."""
        await self._results.record([Result(message.id, status, None, None, error, None)])
        if message.kind in (
            MessageKind.CONNECTOR_CARD,
            MessageKind.OWNER_CARD,
            MessageKind.REMINDER,
        ):
            await self.deliver(await self._workflow.report_undeliverable(message, error))
