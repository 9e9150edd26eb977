"""A workspace's CRM connection as its admins see and manage it: the connect form's fields
read into credentials (bot.delivery.crm.adapters' shapes), what connecting came to, and the
connection's state on the Home tab. No I/O; the words are in templates/."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.intro.crm import CrmVendor
from bot.intro.validation import say

# What each vendor's form asks for: block id -> the credentials' key.
FORM_FIELDS: dict[CrmVendor, tuple[str, ...]] = {
    CrmVendor.HUBSPOT: ("token",),
    CrmVendor.SALESFORCE: ("domain", "client_id", "client_secret"),
}
# Fields shown again when the form comes back: never a token or a secret.
KEPT_FIELDS = ("domain", "client_id")
FIELD_MAX = 500
# Failed pushes the Home tab lists, newest first, each with a Retry (its section's text and
# the fullest Home tab's 100 blocks allow this many).
FAILED_SHOWN = 3
# A host name, with a port when it is not the default (a sandbox, a stand-in).
_HOST = re.compile(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::[0-9]{1,5})?$"
)
_WHITESPACE = re.compile(r"\s")

VENDOR_NAMES: dict[str, str] = {CrmVendor.HUBSPOT: "HubSpot", CrmVendor.SALESFORCE: "Salesforce"}


def vendor_of(raw: object) -> CrmVendor | None:
    """The vendor a form or button names; None for anything else (an old or forged one)."""
    try:
        return CrmVendor(str(raw or ""))
    except ValueError:
        return None


def host_of(typed: str) -> str:
    """A My Domain host as pasted: a URL's host, lowercased, without a trailing slash."""
    host = typed.strip().lower()
    host = re.sub(r"^https?://", "", host)
    return host.split("/", 1)[0]


def read_credentials(
    vendor: CrmVendor, values: dict[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """The credentials the form gave, and the problems of the fields that cannot be right
    (field -> what to fix); checking them with the CRM is the caller's next step."""
    credentials: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in FORM_FIELDS[vendor]:
        value = str(values.get(name) or "").strip()
        if name == "domain":
            value = host_of(value)
        credentials[name] = value
        if not value:
            errors[name] = say(f"crm_{name}_missing")
        elif len(value) > FIELD_MAX or _WHITESPACE.search(value):
            errors[name] = say(f"crm_{name}_malformed")
        elif name == "domain" and not _HOST.fullmatch(value):
            errors[name] = say("crm_domain_malformed")
    return credentials, errors


class ConnectOutcome(StrEnum):
    CONNECTED = "connected"
    MISSING = "missing"  # the CRM lacks what introbot needs: `missing` names it
    REFUSED = "refused"  # the CRM refused the credentials
    NO_ANSWER = "no_answer"  # the CRM did not answer, or asked to wait
    PROBLEM = "problem"  # the CRM said no for another reason: `detail` says it
    NO_SECRET_KEY = "no_secret_key"  # INTROBOT_SECRET_KEY is not set: nothing can be sealed
    SET_IN_SETTINGS = "set_in_settings"  # the install's settings name the CRM
    BROKE = "broke"  # introbot failed while checking (logged): nothing was stored


@dataclass(frozen=True)
class ConnectResult:
    outcome: ConnectOutcome
    vendor: str
    account: str = ""
    missing: tuple[str, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class PushTried:
    """The latest push tried: its outbox status and when."""

    status: str
    at: datetime


@dataclass(frozen=True)
class FailedPush:
    message_id: int
    target_name: str  # the request's target, "" when the request is gone
    reason: str
    at: datetime


@dataclass(frozen=True)
class CrmState:
    """A workspace's CRM as its admins see it on the Home tab."""

    vendor: str | None  # None: not connected
    account: str = ""
    connected_by: str = ""
    connected_at: datetime | None = None
    set_here: bool = False  # named in the install's settings: no Disconnect
    paused_at: datetime | None = None
    paused_reason: str | None = None
    last_push: PushTried | None = None
    failed: tuple[FailedPush, ...] = field(default_factory=tuple)
    can_connect: bool = True  # INTROBOT_SECRET_KEY is set

    @property
    def name(self) -> str:
        return VENDOR_NAMES.get(self.vendor or "", self.vendor or "")
