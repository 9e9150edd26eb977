"""Salesforce: intros as Leads (or Tasks on a Contact someone already has), through
simple-salesforce.

Signing in is the OAuth 2.0 client credentials flow of the org's connected app: a POST to
``https://{My Domain}/services/oauth2/token`` (or to the login URL's host, when the install
points it elsewhere: a sandbox, the stand-in) gives an access token and the instance URL, which
simple-salesforce then uses as a session id. A token that has expired (401
``INVALID_SESSION_ID``) is renewed once, and the call made again.

A push writes, exactly once per (request, stage):
- when the target's email belongs to a Contact, a completed Task on that Contact;
- otherwise a Lead, upserted by introbot's external id (``Introbot_Key__c``), with its lead
  source and who referred, and a completed Task on it.
Before a Task is created, the record's Tasks with the stage's subject are read, and one that
names the request (its description ends "(introbot request {key})") means the stage is
already there: a retry after a lost answer adds nothing.

Every REST answer says how much of the org's daily API allocation is used
(``Sforce-Limit-Info: api-usage=N/M``); once what is left is the share kept for the org's
own integrations, the adapter stops calling until the next day.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from simple_salesforce import Salesforce, SFType
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
)
from simple_salesforce.format import format_soql

from bot.delivery.crm import (
    CrmError,
    CrmIds,
    CrmRateLimited,
    CrmRejected,
    CrmUnauthorized,
    CrmUnavailable,
)
from bot.intro.crm import (
    LEAD_SOURCE_COLD,
    LEAD_SOURCE_WARM,
    SALESFORCE_KEY,
    SALESFORCE_REFERRED_BY,
    CrmRecord,
)
from bot.settings import DEFAULT_SALESFORCE_LOGIN_URL

log = logging.getLogger(__name__)

T = TypeVar("T")

API_VERSION = "59.0"
TIMEOUT = 30.0  # seconds for each HTTP call
# The share of the day's API allocation introbot leaves to the org's own integrations: it
# stops pushing once less than this is left.
RESERVE_SHARE = 0.05
# How long to wait on a 429 that names no Retry-After.
DEFAULT_RETRY_AFTER = 60
UNKNOWN = "Unknown"
SALESFORCE_LOGIN_HOSTS = (
    urlsplit(DEFAULT_SALESFORCE_LOGIN_URL).hostname,
    "test.salesforce.com",
)  # Salesforce requires a Lead's last name and company

# The token endpoint's refusals that mean the connected app's credentials are wrong, revoked,
# or not allowed the client credentials flow.
_REFUSED_GRANTS = {
    "invalid_client_id",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "inactive_user",
    "inactive_org",
}
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")

# When each org's daily allocation is spent, by My Domain: an org's allocation is the org's,
# whichever adapter saw it spent.
_spent_until: dict[str, datetime] = {}
_spent_lock = threading.Lock()


def _next_utc_midnight(now: datetime) -> datetime:
    # Salesforce counts the allocation over a rolling 24 hours; the next UTC midnight is a
    # simple wait that gives most of it back, and a 403 REQUEST_LIMIT_EXCEEDED then says so.
    return datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)


class _Session(requests.Session):
    """requests, with a timeout on every call (simple-salesforce's create and upsert take
    none) and the certificate authorities to trust: given with each request, since requests
    lets REQUESTS_CA_BUNDLE override a session's own `verify`."""

    def __init__(self, timeout: float, verify: bool | str) -> None:
        super().__init__()
        self.verify = verify
        self._timeout = timeout

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        kwargs.setdefault("verify", self.verify)
        return super().request(method, url, *args, **kwargs)


def _domain(value: str) -> str:
    """The My Domain host, however it was typed: https://acme.my.salesforce.com/ -> host."""
    value = value.strip()
    if "://" in value:
        value = urlsplit(value).netloc
    return value.strip("/").lower()


def _sobject(sf: Salesforce, name: str) -> SFType:
    """The client's handle on an object (its attribute, which mypy cannot type)."""
    sobject = getattr(sf, name)
    assert isinstance(sobject, SFType)
    return sobject


def _message(content: Any) -> tuple[str, str]:
    """Salesforce's errorCode and message from an error's body (a list of them)."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode", "")), str(first.get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode", "")), str(content.get("message", ""))
    text = content.decode(errors="replace") if isinstance(content, bytes) else str(content)
    return "", text[:200]


class SalesforceAdapter:
    """One org, reached with its connected app's client id and secret."""

    def __init__(
        self,
        *,
        domain: str,
        client_id: str,
        client_secret: str,
        login_url: str = DEFAULT_SALESFORCE_LOGIN_URL,
        verify: bool | str = True,
        timeout: float = TIMEOUT,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.domain = _domain(domain)
        self._client_id = client_id
        self._client_secret = client_secret
        # The client credentials flow is served at the org's My Domain only: Salesforce's
        # own login hosts (production's, a sandbox's) mean the My Domain; any other login
        # URL (a proxy, the stand-in) serves the token endpoint itself.
        parts = urlsplit(login_url)
        if (parts.hostname or "") in SALESFORCE_LOGIN_HOSTS:
            token_root = f"https://{self.domain}"
        else:
            token_root = f"{parts.scheme}://{parts.netloc}"
        self._token_url = f"{token_root}/services/oauth2/token"
        self._now = now
        self._session = _Session(timeout, verify)
        self._session.hooks["response"].append(self._observe)
        self._sf: Salesforce | None = None
        self._instance_url = ""
        self._retry_after: int | None = None
        # One call at a time: simple-salesforce's client is not shared between threads.
        self._lock = threading.Lock()

    @classmethod
    def from_credentials(
        cls,
        credentials: dict[str, Any],
        login_url: str,
        *,
        verify: bool | str = True,
        timeout: float = TIMEOUT,
    ) -> SalesforceAdapter:
        """`verify`: the certificate authorities to trust (a file), or True for the usual."""
        return cls(
            domain=str(credentials["domain"]),
            client_id=str(credentials["client_id"]),
            client_secret=str(credentials["client_secret"]),
            login_url=login_url,
            verify=verify,
            timeout=timeout,
        )

    # -------------------------------------------------------------- protocol

    async def check(self) -> list[str]:
        return await asyncio.to_thread(self._locked, self._check)

    async def account(self) -> str:
        return await asyncio.to_thread(self._locked, self._account)

    async def push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        return await asyncio.to_thread(self._locked, lambda: self._push(record, known))

    def close(self) -> None:
        self._session.close()

    # ------------------------------------------------------------ the work

    def _locked(self, work: Callable[[], T]) -> T:
        with self._lock:
            return work()

    def _check(self) -> list[str]:
        lead = self._call("Lead's fields", lambda sf: _sobject(sf, "Lead").describe())
        contact = self._call("Contact's fields", lambda sf: _sobject(sf, "Contact").describe())
        fields = {f["name"]: f for f in lead.get("fields", [])}
        missing: list[str] = []
        source = fields.get("LeadSource")
        values = {
            v.get("value") for v in (source or {}).get("picklistValues", []) if v.get("active")
        }
        for value in (LEAD_SOURCE_WARM, LEAD_SOURCE_COLD):
            if value not in values:
                missing.append(
                    f'Lead Source has no "{value}" value '
                    "(Setup > Object Manager > Lead > Fields > Lead Source)."
                )
        if SALESFORCE_REFERRED_BY not in fields:
            missing.append(
                f"Leads have no Referred By text field (API name {SALESFORCE_REFERRED_BY})."
            )
        key = fields.get(SALESFORCE_KEY)
        if key is None:
            missing.append(
                f"Leads have no introbot key text field (API name {SALESFORCE_KEY}), "
                "marked External ID."
            )
        elif not key.get("externalId"):
            missing.append(f"The Lead field {SALESFORCE_KEY} is not marked External ID.")
        contact_fields = {f["name"]: f for f in contact.get("fields", [])}
        if not contact_fields.get("Email", {}).get("filterable"):
            missing.append("introbot cannot look up Contacts by email.")
        return missing

    def _account(self) -> str:
        if self._sf is None:
            self._sign_in()
        return urlsplit(self._instance_url).hostname or self._instance_url

    def _push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        # A Lead is upserted again at each stage (its fields as the request now has them);
        # one sales has converted stays converted, and the stage goes on its Contact.
        if known is not None and known.object_type == "Contact":
            who = known
        else:
            contact = None
            if known is None and record.email:
                contact = self._contact_with(record.email)
            who = CrmIds("Contact", contact) if contact else self._upsert_lead(record)
        self._task(record, who.object_id)
        return who

    def _contact_with(self, email: str) -> str | None:
        soql = format_soql("SELECT Id FROM Contact WHERE Email = {} LIMIT 1", email)
        found = self._call("the Contact look-up", lambda sf: sf.query(soql))
        records = found.get("records", [])
        return str(records[0]["Id"]) if records else None

    def _upsert_lead(self, record: CrmRecord) -> CrmIds:
        lead: dict[str, Any] = {
            "LastName": record.last_name or UNKNOWN,
            "Company": record.company or UNKNOWN,
            "LeadSource": record.lead_source,
            SALESFORCE_REFERRED_BY: record.referred_by or None,
        }
        if record.first_name:
            lead["FirstName"] = record.first_name
        if record.title:
            lead["Title"] = record.title
        if record.email:
            lead["Email"] = record.email
        path = f"{SALESFORCE_KEY}/{record.key}"

        def upsert(sf: Salesforce) -> Any:
            try:
                return _sobject(sf, "Lead").upsert(path, lead, raw_response=True)
            except SalesforceMalformedRequest as error:
                if _message(error.content)[0] == "CANNOT_UPDATE_CONVERTED_LEAD":
                    return None  # sales converted it: its Contact takes the stage
                raise

        response = self._call("the Lead", upsert)
        if response is not None and response.content:  # 201; 200 from API 46.0 on, 204 before
            return CrmIds("Lead", str(response.json()["id"]))
        soql = format_soql(
            "SELECT Id, ConvertedContactId FROM Lead WHERE " + SALESFORCE_KEY + " = {} LIMIT 1",
            record.key,
        )
        found = self._call("the Lead look-up", lambda sf: sf.query(soql))
        records = found.get("records", [])
        if not records:
            raise CrmUnavailable("Salesforce saved the Lead but could not find it again.")
        if response is None and records[0].get("ConvertedContactId"):
            return CrmIds("Contact", str(records[0]["ConvertedContactId"]))
        return CrmIds("Lead", str(records[0]["Id"]))

    def _task(self, record: CrmRecord, who_id: str) -> None:
        # Description is a long text field, which SOQL cannot filter on: the Tasks with the
        # stage's subject are read, and the request's own named in Python.
        marker = f"(introbot request {record.key})"
        soql = format_soql(
            "SELECT Id, Description FROM Task WHERE WhoId = {} AND Subject = {}",
            who_id,
            record.subject,
        )
        found = self._call("the Task look-up", lambda sf: sf.query(soql))
        if any(marker in (r.get("Description") or "") for r in found.get("records", [])):
            return
        description = record.body if marker in record.body else f"{record.body} {marker}"
        task = {
            "WhoId": who_id,
            "Subject": record.subject,
            "Description": description,
            "Status": "Completed",
            "ActivityDate": record.at.date().isoformat(),
        }
        self._call("the Task", lambda sf: _sobject(sf, "Task").create(task))

    # ------------------------------------------------------------ transport

    def _sign_in(self) -> None:
        """A new access token from the token endpoint (client credentials flow)."""
        self._sf = None
        try:
            response = self._session.post(
                self._token_url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
            )
        except requests.RequestException as error:
            raise CrmUnavailable(
                f"Salesforce's sign-in did not answer ({type(error).__name__})."
            ) from error
        if response.status_code >= 500:
            raise CrmUnavailable(f"Salesforce's sign-in answered {response.status_code}.")
        if response.status_code == 429:
            raise self._rate_limited("Salesforce asked introbot to sign in less often.")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            grant_error = str(body.get("error", ""))
            description = str(body.get("error_description", "")) or f"HTTP {response.status_code}"
            if grant_error in _REFUSED_GRANTS or response.status_code in (400, 401, 403):
                # The error names only the grant's problem, never the secret.
                raise CrmUnauthorized(
                    f"Salesforce refused introbot's connected app: {description}."
                )
            raise CrmUnavailable(f"Salesforce's sign-in failed: {description}.")
        self._instance_url = str(body["instance_url"])
        self._sf = Salesforce(
            instance_url=self._instance_url,
            session_id=str(body["access_token"]),
            session=self._session,
            version=API_VERSION,
        )

    def _call(self, what: str, call: Callable[[Salesforce], Any]) -> Any:
        """One REST call: refused without calling while the allocation is spent, made again
        once on a new token when the old one has expired, its errors as CrmError."""
        self._refuse_when_spent()
        if self._sf is None:
            self._sign_in()
        assert self._sf is not None
        try:
            try:
                return call(self._sf)
            except SalesforceExpiredSession:
                log.info("salesforce session expired; signing in again", extra={"org": self.domain})
                self._sign_in()
                self._refuse_when_spent()
                return call(self._sf)
        except SalesforceError as error:
            raise self._error(what, error) from error
        except requests.RequestException as error:
            raise CrmUnavailable(f"Salesforce did not answer ({type(error).__name__}).") from error

    def _error(self, what: str, error: SalesforceError) -> CrmError:
        code, message = _message(error.content)
        if error.status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            until = _next_utc_midnight(self._now())
            with _spent_lock:
                _spent_until[self.domain] = until
            return CrmRateLimited("Salesforce's API requests for today are used up.", until)
        if error.status == 429:
            return self._rate_limited("Salesforce asked introbot to slow down.")
        if error.status >= 500:
            return CrmUnavailable(f"Salesforce is unavailable ({error.status}). {message}".strip())
        if error.status == 401:
            return CrmUnauthorized(f"Salesforce refused introbot's sign-in: {message}")
        return CrmRejected(f"Salesforce refused {what}: {message or code}")

    def _rate_limited(self, message: str) -> CrmRateLimited:
        wait = self._retry_after if self._retry_after is not None else DEFAULT_RETRY_AFTER
        return CrmRateLimited(message, self._now() + timedelta(seconds=wait))

    def _refuse_when_spent(self) -> None:
        with _spent_lock:
            until = _spent_until.get(self.domain)
        if until is None:
            return
        if self._now() < until:
            raise CrmRateLimited("Salesforce's API requests for today are used up.", until)
        with _spent_lock:
            _spent_until.pop(self.domain, None)

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Every answer: how much of the day's allocation is used, and any Retry-After."""
        retry_after = response.headers.get("Retry-After", "")
        self._retry_after = int(retry_after) if retry_after.isdigit() else None
        info = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if info is None:
            return
        used, limit = int(info[1]), int(info[2])
        if limit and limit - used <= limit * RESERVE_SHARE:
            until = _next_utc_midnight(self._now())
            with _spent_lock:
                _spent_until[self.domain] = until
            log.warning(
                "salesforce api allocation nearly spent; pausing pushes",
                extra={"org": self.domain, "used": used, "limit": limit},
            )
