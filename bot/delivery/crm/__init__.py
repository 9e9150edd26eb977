"""Pushing intros to a workspace's CRM: the adapters for each vendor, behind one protocol.

An adapter is built from the workspace's decrypted credentials and talks to its CRM through
the vendor's own client (hubspot-api-client, simple-salesforce), in a worker thread: both are
synchronous. It raises one of the errors below; the CRM channel (bot.delivery.crm.pushes)
maps them onto the outbox's retries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.intro.crm import CrmRecord


@dataclass(frozen=True)
class CrmIds:
    """The CRM record a request's pushes write: kept on the request, so a retry or a later
    stage updates it rather than creating another."""

    object_type: str  # "contact" (HubSpot), "Lead" or "Contact" (Salesforce)
    object_id: str


class CrmError(Exception):
    """The CRM did not take the push; its message is one line an admin can act on."""


class CrmUnauthorized(CrmError):
    """The credentials were refused (401, an expired or revoked token): the workspace's
    pushes wait until an admin connects again."""


class CrmRateLimited(CrmError):
    """The CRM asked to wait (429, or the day's API allocation is spent) until `until`."""

    def __init__(self, message: str, until: datetime) -> None:
        super().__init__(message)
        self.until = until


class CrmUnavailable(CrmError):
    """No answer, or a 5xx: worth trying again with backoff."""


class CrmRejected(CrmError):
    """The CRM refused this push for a reason trying again won't change (a missing field, a
    picklist value it lacks): failed, shown to admins with Retry."""


class CrmAdapter(Protocol):
    async def check(self) -> list[str]:
        """Make ready what introbot needs in the CRM where it may (HubSpot's custom
        properties), and name, one line each, what is still missing. Empty: ready."""
        ...

    async def account(self) -> str:
        """What the admin reads of the connection: the portal id, the instance's host."""
        ...

    async def push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        """Write `record`'s stage on its CRM record (`known` when an earlier push made it),
        and return the record's ids. Idempotent for one (request, stage)."""
        ...
