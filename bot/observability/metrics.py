"""Prometheus metrics (GET /metrics), kept in a registry of each app's own.

A registry per app, not prometheus-client's global one: the tests run several apps in one
process, and each must count only its own requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import DeliveryStatus, OutboundMessage, Workspace, WorkspaceStatus

# Slack wants its ack within 3 s; the buckets are finest where an ack normally lands.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)

_KINDS = {
    "block_actions": "block_action",
    "block_suggestion": "options",
    "view_submission": "view_submission",
    "view_closed": "view_closed",
    "shortcut": "shortcut",
    "message_action": "message_shortcut",
    "event_callback": "event",
    "url_verification": "url_verification",
    "app_rate_limited": "app_rate_limited",
}


def request_kind(body: Any) -> str:
    """What sort of Slack request a payload is, as a metric label."""
    if not isinstance(body, dict):
        return "other"
    if body.get("command"):
        return "slash_command"
    return _KINDS.get(str(body.get("type") or ""), "other")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._count_requests(self.registry)
        self._count_delivery(self.registry)
        ProcessCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def _count_requests(self, registry: CollectorRegistry) -> None:
        """What Slack asked of the app, and how soon it was answered."""
        self.requests = Counter(
            "introbot_slack_requests",
            "Requests from Slack, by kind",
            ["kind"],
            registry=registry,
        )
        self.refused_requests = Counter(
            "introbot_refused_requests",
            "Requests refused before any listener: not signed by Slack, or signed too long ago",
            registry=registry,
        )
        self.ack_seconds = Histogram(
            "introbot_slack_ack_seconds",
            "Time from a Slack request reaching the app to its ack, by kind",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=registry,
        )
        self._acked_series: dict[str, tuple[Counter, Histogram]] = {}
        self.listener_errors = Counter(
            "introbot_listener_errors",
            "Listeners (or middleware) that raised, by request kind",
            ["kind"],
            registry=registry,
        )

    def request_acked(self, kind: str, seconds: float) -> None:
        """A Slack request of this kind answered in `seconds`. Each kind's series are looked
        up once (prometheus-client's `labels()` checks and joins its labels on every call)."""
        series = self._acked_series.get(kind)
        if series is None:
            series = self._acked_series[kind] = (
                self.requests.labels(kind),
                self.ack_seconds.labels(kind),
            )
        series[0].inc()
        series[1].observe(seconds)

    def _count_delivery(self, registry: CollectorRegistry) -> None:
        """The outbox and what became of its messages."""
        self.outbox_pending = Gauge(
            "introbot_outbox_pending",
            "Messages not yet sent (pending or being sent), by kind; read at scrape time",
            ["kind"],
            registry=registry,
        )
        self.outbox_due = Gauge(
            "introbot_outbox_due",
            "Pending messages already due, by kind; read at scrape time",
            ["kind"],
            registry=registry,
        )
        self.outbox_failed = Gauge(
            "introbot_outbox_failed",
            "Messages that failed for good, by kind; read at scrape time",
            ["kind"],
            registry=registry,
        )
        self.outbox_expired = Gauge(
            "introbot_outbox_expired",
            "Messages Slack could not take for as long as they were worth sending, by kind; "
            "read at scrape time",
            ["kind"],
            registry=registry,
        )
        self.outbox_retrying = Gauge(
            "introbot_outbox_retrying",
            "Pending messages whose last try failed (Slack unreachable, 5xx, 429), by kind; "
            "read at scrape time",
            ["kind"],
            registry=registry,
        )
        self.outbox_oldest_due = Gauge(
            "introbot_outbox_oldest_due_seconds",
            "How long the oldest due message of a workspace delivered to has waited past its "
            "due time (0: none); growing means delivery is not draining",
            registry=registry,
        )
        self.deliveries = Counter(
            "introbot_deliveries",
            "Delivery attempts by message kind and outcome "
            "(sent, retry, failed, expired, cancelled, taken_over)",
            ["kind", "outcome"],
            registry=registry,
        )
        self.crm_pushes = Counter(
            "introbot_crm_pushes",
            "Pushes of intros to a workspace's CRM, by vendor and result (pushed, "
            "unauthorized, rate_limited, unavailable, rejected, unreadable)",
            ["vendor", "result"],
            registry=registry,
        )
        self.slack_errors = Counter(
            "introbot_slack_errors",
            "Slack Web API errors met in delivery, by error code (ratelimited is a 429)",
            ["error"],
            registry=registry,
        )
        self.reminders_sent = Counter(
            "introbot_reminders_sent",
            "Reminders sent, by reminder",
            ["reminder"],
            registry=registry,
        )
        self.linkedin_imports = Counter(
            "introbot_linkedin_imports",
            "LinkedIn imports by stage (started, finished, failed)",
            ["stage"],
            registry=registry,
        )

    async def read_outbox(self, sessions: async_sessionmaker[AsyncSession], now: datetime) -> None:
        """Set the outbox gauges from one grouped query over the rows not yet sent, failed or
        expired, and the oldest due message's wait."""
        waiting = [DeliveryStatus.PENDING, DeliveryStatus.SENDING]
        pending = OutboundMessage.status.in_(waiting)
        due = (OutboundMessage.status == DeliveryStatus.PENDING) & (OutboundMessage.due_at <= now)
        failed = OutboundMessage.status == DeliveryStatus.FAILED
        expired = OutboundMessage.status == DeliveryStatus.EXPIRED
        retrying = (OutboundMessage.status == DeliveryStatus.PENDING) & (
            OutboundMessage.attempts > 0
        )
        query = (
            select(
                OutboundMessage.kind,
                func.count().filter(pending),
                func.count().filter(due),
                func.count().filter(failed),
                func.count().filter(expired),
                func.count().filter(retrying),
            )
            .where(
                OutboundMessage.status.in_(
                    [*waiting, DeliveryStatus.FAILED, DeliveryStatus.EXPIRED]
                )
            )
            .group_by(OutboundMessage.kind)
        )
        async with sessions() as session:
            rows = (await session.execute(query)).all()
            oldest = await oldest_due_at(session, now)
        gauges = (
            self.outbox_pending,
            self.outbox_due,
            self.outbox_failed,
            self.outbox_expired,
            self.outbox_retrying,
        )
        for gauge in gauges:
            gauge.clear()  # a kind with no rows left reads 0, not its last value
        for kind, *counts in rows:
            for gauge, count in zip(gauges, counts, strict=True):
                gauge.labels(kind).set(count)
        self.outbox_oldest_due.set((now - oldest).total_seconds() if oldest else 0)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics in the format the scraper's Accept header asks for (Prometheus text, or
        OpenMetrics), and its content type."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type


async def oldest_due_at(session: AsyncSession, now: datetime) -> datetime | None:
    """When the oldest message due now was due, among workspaces delivered to (a paused or
    uninstalled workspace's messages wait by design); None when nothing is due."""
    return await session.scalar(
        select(func.min(OutboundMessage.due_at)).where(
            OutboundMessage.status == DeliveryStatus.PENDING,
            OutboundMessage.due_at <= now,
            OutboundMessage.team_id.not_in(
                select(Workspace.team_id).where(Workspace.status != WorkspaceStatus.ACTIVE)
            ),
        )
    )
