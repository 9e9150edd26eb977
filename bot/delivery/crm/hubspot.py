"""HubSpot: an intro's target as a contact, and a note on it for each stage.

Through HubSpot's own client (hubspot-api-client), which is synchronous: each call runs in a
worker thread. A push finds the contact (by the ids an earlier push kept, else by email, by
introbot's request id, or by name and company), creates or updates it with introbot's three
custom properties, and adds one note for the stage unless the contact already carries that
request's note for it: a retry after a lost answer adds nothing.

Errors become the CRM errors of bot.delivery.crm. HubSpot allows a private app about 100
calls in any 10 seconds; the adapter counts its own calls per token and says "wait" before
HubSpot has to. The token is never logged, nor put in an error's message.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import urllib3
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException as ContactsApiException
from hubspot.crm.contacts import Filter, FilterGroup, PublicObjectSearchRequest
from hubspot.crm.contacts import SimplePublicObjectInput as ContactInput
from hubspot.crm.contacts import SimplePublicObjectInputForCreate as ContactCreate
from hubspot.crm.objects.notes import ApiException as NotesApiException
from hubspot.crm.objects.notes import (
    AssociationSpec,
    BatchReadInputSimplePublicObjectId,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectId,
)
from hubspot.crm.objects.notes import SimplePublicObjectInputForCreate as NoteCreate
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import OptionInput, PropertyCreate, PropertyGroupCreate

from bot.delivery.crm import (
    CrmError,
    CrmIds,
    CrmRateLimited,
    CrmRejected,
    CrmUnauthorized,
    CrmUnavailable,
)
from bot.intro.crm import (
    HUBSPOT_LEAD_SOURCE,
    HUBSPOT_PROPERTIES,
    HUBSPOT_REFERRED_BY,
    HUBSPOT_REQUEST_ID,
    LEAD_SOURCE_COLD,
    LEAD_SOURCE_WARM,
    CrmRecord,
)

# The property group introbot's properties are kept in, on contacts.
PROPERTY_GROUP = "introbot"
PROPERTY_GROUP_LABEL = "Introbot"
# The scope a private app needs to create them.
SCHEMA_WRITE_SCOPE = "crm.schemas.contacts.write"
SCHEMA_READ_SCOPE = "crm.schemas.contacts.read"
# A new contact's lead status (one of HubSpot's default options of hs_lead_status).
LEAD_STATUS = "hs_lead_status"
NEW_LEAD_STATUS = "NEW"
# HubSpot's own association type: a note to a contact.
NOTE_TO_CONTACT = 202
# HubSpot's limit for a private app: this many calls in any window of this many seconds.
CALLS_PER_WINDOW = 100
WINDOW_SECONDS = 10.0
# When HubSpot asks to wait and does not say how long.
DEFAULT_WAIT = timedelta(seconds=10)
# When the day's allowance is spent (it comes back at midnight, the portal's time): look again
# in an hour.
DAILY_WAIT = timedelta(hours=1)
# Connect and read timeouts of each call, in seconds.
TIMEOUT = (5.0, 20.0)
# A batch read takes at most this many ids.
BATCH_MAX = 100

_PROPERTY_LABELS = {
    HUBSPOT_LEAD_SOURCE: ("Introbot lead source", "How the contact came: a warm intro or not"),
    HUBSPOT_REFERRED_BY: ("Introbot referred by", "Who made the intro"),
    HUBSPOT_REQUEST_ID: ("Introbot request id", "introbot's id of the latest intro request"),
}
_CONTACT_FIELDS = ("firstname", "lastname", "company", "jobtitle", "email")
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)")
_API_ERRORS = (ContactsApiException, NotesApiException, PropertiesApiException)

T = TypeVar("T")


class CallWindow:
    """The calls made with one token in the last `seconds`, at most `limit` of them."""

    def __init__(
        self,
        limit: int = CALLS_PER_WINDOW,
        seconds: float = WINDOW_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.seconds = seconds
        self._monotonic = monotonic
        self._calls: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """Count a call for `key` and return None, or, when the window is full, the seconds
        until a call may be made (counting nothing)."""
        with self._lock:
            now = self._monotonic()
            calls = self._calls.setdefault(key, deque())
            while calls and calls[0] <= now - self.seconds:
                calls.popleft()
            if len(calls) >= self.limit:
                return calls[0] + self.seconds - now
            calls.append(now)
            return None


# One window per process: every adapter built for a token shares its count.
WINDOW = CallWindow()


def _token_key(token: str) -> str:
    """What the window counts a token's calls under: not the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def _error_body(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        return {"message": str(body)[:300]}
    return data if isinstance(data, dict) else {"message": str(body)[:300]}


def _hubspot_message(data: dict[str, Any]) -> tuple[str, frozenset[str]]:
    """HubSpot's message, its invalid property values said one by one; and the names of
    those properties."""
    message = str(data.get("message") or "")
    prefix = "Property values were not valid: "
    if message.startswith(prefix):
        try:
            problems = json.loads(message[len(prefix) :])
            said = " ".join(str(p["message"]).rstrip(".") + "." for p in problems)
            return said, frozenset(str(p.get("name")) for p in problems)
        except (ValueError, TypeError, KeyError, AttributeError):
            return message, frozenset()
    return message, frozenset()


def _retry_after(headers: Any) -> timedelta:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        seconds = None
    if seconds is None or seconds < 0:
        return DEFAULT_WAIT
    return timedelta(seconds=seconds)


class HubSpotRejected(CrmRejected):
    """HubSpot refused a call (a 4xx other than 401 and 429); `status` says which."""

    def __init__(self, message: str, status: int, invalid: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.status = status
        self.invalid = invalid  # the properties whose values HubSpot did not take


def crm_error(status: int, body: Any, headers: Any) -> CrmError:
    """The CRM error of one of HubSpot's error answers."""
    data = _error_body(body)
    if status == 401:
        return CrmUnauthorized(
            "HubSpot refused the access token: connect HubSpot again with a working token."
        )
    if status == 429:
        if data.get("policyName") == "DAILY":
            return CrmRateLimited(
                "HubSpot's allowance of calls for the day is spent.",
                datetime.now(UTC) + DAILY_WAIT,
            )
        wait = _retry_after(headers)
        return CrmRateLimited(
            f"HubSpot asked to wait {int(wait.total_seconds())} seconds.",
            datetime.now(UTC) + wait,
        )
    if status >= 500 or status == 0:
        return CrmUnavailable("HubSpot did not answer as it should; it may be down for now.")
    message, invalid = _hubspot_message(data)
    return HubSpotRejected(f"HubSpot refused it: {message or f'error {status}'}", status, invalid)


def note_body(record: CrmRecord) -> str:
    """A stage's note: its subject, then its text (HubSpot shows a note's body as HTML)."""
    return f"<p><strong>{html.escape(record.subject)}</strong></p><p>{html.escape(record.body)}</p>"


def note_is_for(body: str, record: CrmRecord) -> bool:
    """Whether a note's body is this request's note of this stage: it names the request
    (the closing parenthesis keeps request 4 from matching request 42) and the stage."""
    return (
        html.escape(f"(introbot request {record.key})") in body
        and html.escape(record.subject) in body
    )


class HubSpotAdapter:
    """A workspace's HubSpot, reached with a private app's token."""

    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        window: CallWindow | None = None,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        if not token:
            raise CrmUnauthorized("No HubSpot access token is saved: connect HubSpot again.")
        # No retries of the client's own: the outbox retries, and knows when.
        client = HubSpot(access_token=token, host=api_url.rstrip("/"), retries=False)
        # Each API the client hands out has a connection pool of its own: kept, not rebuilt
        # for every call.
        self._properties_api = client.crm.properties.core_api
        self._groups_api = client.crm.properties.groups_api
        self._contacts_api = client.crm.contacts.basic_api
        self._search_api = client.crm.contacts.search_api
        self._notes_api = client.crm.objects.notes.basic_api
        self._notes_batch_api = client.crm.objects.notes.batch_api
        self._key = _token_key(token)
        self._window = window or WINDOW
        self._timeout = timeout

    def __repr__(self) -> str:
        return "HubSpotAdapter(token=<hidden>)"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any], api_url: str) -> HubSpotAdapter:
        return cls(str(credentials.get("token") or ""), api_url)

    # --- calls ------------------------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call, counted against the token's window, with HubSpot's answer as a CRM
        error when it is one."""
        wait = self._window.take(self._key)
        if wait is not None:
            raise CrmRateLimited(
                "introbot has made as many calls to HubSpot as it may for now.",
                datetime.now(UTC) + timedelta(seconds=max(wait, 0.0)),
            )
        try:
            return fn(*args, _request_timeout=self._timeout, **kwargs)
        except _API_ERRORS as exc:
            raise crm_error(int(exc.status or 0), exc.body, exc.headers) from None
        except urllib3.exceptions.HTTPError:
            raise CrmUnavailable("HubSpot could not be reached.") from None

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.to_thread(fn)

    # --- the protocol -----------------------------------------------------------------------

    async def check(self) -> list[str]:
        return await self._run(self._check)

    async def account(self) -> str:
        return await self._run(self._account)

    async def push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        return await self._run(lambda: self._push(record, known))

    # --- check and account ------------------------------------------------------------------

    def _check(self) -> list[str]:
        core = self._properties_api
        try:
            existing = self._call(core.get_all, "contacts", archived=False)
        except HubSpotRejected as exc:
            if exc.status != 403:
                raise
            return [
                f"The token may not read contact properties: give the private app the "
                f"{SCHEMA_READ_SCOPE} scope."
            ]
        have = {prop.name for prop in existing.results or []}
        missing = [name for name in HUBSPOT_PROPERTIES if name not in have]
        if not missing:
            return []
        try:
            self._ensure_group()
            for name in list(missing):
                try:
                    self._call(core.create, "contacts", self._property(name))
                except HubSpotRejected as exc:
                    if exc.status != 409:  # 409: made meanwhile, which is as good
                        raise
                missing.remove(name)
        except HubSpotRejected as exc:
            if exc.status != 403:
                raise
            return [
                f"The contact property {name} is missing, and the token may not create it: "
                f"give the private app the {SCHEMA_WRITE_SCOPE} scope, or create the property "
                "in HubSpot."
                for name in missing
            ]
        return []

    def _ensure_group(self) -> None:
        groups = self._groups_api
        try:
            self._call(
                groups.create,
                "contacts",
                PropertyGroupCreate(name=PROPERTY_GROUP, label=PROPERTY_GROUP_LABEL),
            )
        except HubSpotRejected as exc:
            if exc.status != 409:  # the group is there already
                raise

    @staticmethod
    def _property(name: str) -> PropertyCreate:
        label, description = _PROPERTY_LABELS[name]
        if name == HUBSPOT_LEAD_SOURCE:
            return PropertyCreate(
                name=name,
                label=label,
                description=description,
                group_name=PROPERTY_GROUP,
                type="enumeration",
                field_type="select",
                options=[
                    OptionInput(label=value, value=value, display_order=order, hidden=False)
                    for order, value in enumerate((LEAD_SOURCE_WARM, LEAD_SOURCE_COLD))
                ],
            )
        return PropertyCreate(
            name=name,
            label=label,
            description=description,
            group_name=PROPERTY_GROUP,
            type="string",
            field_type="text",
        )

    def _account(self) -> str:
        # The client has no account-info API of its own: its generic call, on the same host.
        api_client = self._contacts_api.api_client
        details = self._call(
            api_client.call_api,
            "/account-info/v3/details",
            "GET",
            header_params={"Accept": "application/json"},
            response_types_map={200: "object"},
            auth_settings=["oauth2"],
            _return_http_data_only=True,
        )
        return str(details["portalId"])

    # --- push -------------------------------------------------------------------------------

    def _push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        contact = self._read_contact(known.object_id) if known is not None else None
        if contact is None:
            found = self._search_contact(record)
            contact = self._read_contact(found) if found is not None else None
        notes: list[str] = []
        if contact is None:
            contact_id, notes = self._create_contact(record)
        else:
            contact_id, current, notes = contact
            self._update_contact(contact_id, record, current)
        if not any(note_is_for(body, record) for body in self._note_bodies(notes)):
            self._add_note(contact_id, record)
        return CrmIds("contact", contact_id)

    def _read_contact(self, contact_id: str) -> tuple[str, dict[str, str], list[str]] | None:
        """The contact's id, the fields introbot fills, and its notes' ids; None when it is
        gone (deleted since an earlier push)."""
        try:
            contact = self._call(
                self._contacts_api.get_by_id,
                contact_id,
                properties=[*_CONTACT_FIELDS, LEAD_STATUS],
                associations=["notes"],
                archived=False,
            )
        except HubSpotRejected as exc:
            if exc.status == 404:
                return None
            raise
        current = {k: v for k, v in (contact.properties or {}).items() if v}
        notes = (contact.associations or {}).get("notes")
        ids = [str(a.id) for a in (notes.results or [])] if notes is not None else []
        return str(contact.id), current, ids

    def _search_contact(self, record: CrmRecord) -> str | None:
        """The contact the target already is, if any: by email first, then the one an
        earlier push of this request made, then by name and company."""
        groups: list[tuple[str, list[Filter]]] = []
        if record.email:
            groups.append(("email", [_eq("email", record.email)]))
        groups.append(("key", [_eq(HUBSPOT_REQUEST_ID, record.key)]))
        named = [
            _eq(field, value)
            for field, value in (
                ("firstname", record.first_name),
                ("lastname", record.last_name),
                ("company", record.company),
            )
            if value
        ]
        if record.last_name and record.company:
            groups.append(("name", named))
        answer = self._call(
            self._search_api.do_search,
            PublicObjectSearchRequest(
                filter_groups=[FilterGroup(filters=filters) for _, filters in groups],
                properties=["email", "firstname", "lastname", "company", HUBSPOT_REQUEST_ID],
                limit=20,
            ),
        )
        results = answer.results or []
        for kind, _ in groups:
            for contact in results:
                if _matches(kind, contact.properties or {}, record):
                    return str(contact.id)
        return None

    def _properties(self, record: CrmRecord, current: dict[str, str]) -> dict[str, str]:
        """What a push writes: introbot's properties always; the target's fields where the
        contact has none (a CRM user's own edits stay); a lead status where it has none."""
        props = {
            HUBSPOT_LEAD_SOURCE: record.lead_source,
            HUBSPOT_REFERRED_BY: record.referred_by,
            HUBSPOT_REQUEST_ID: record.key,
        }
        fields = {
            "firstname": record.first_name,
            "lastname": record.last_name,
            "company": record.company,
            "jobtitle": record.title,
            "email": record.email or "",
        }
        props.update({k: v for k, v in fields.items() if v and not current.get(k)})
        if not current.get(LEAD_STATUS):
            props[LEAD_STATUS] = NEW_LEAD_STATUS
        return props

    def _create_contact(self, record: CrmRecord) -> tuple[str, list[str]]:
        """The new contact's id (no notes yet), or the one HubSpot says has the email, with
        its notes' ids."""
        try:
            created = self._lead_status_optional(
                lambda props: self._call(
                    self._contacts_api.create, ContactCreate(properties=props, associations=[])
                ),
                self._properties(record, {}),
            )
        except HubSpotRejected as exc:
            # The email is a contact's already, one HubSpot's search did not show yet.
            existing = _EXISTING_ID.search(str(exc))
            if exc.status != 409 or existing is None:
                raise
            contact = self._read_contact(existing.group(1))
            if contact is None:
                raise
            self._update_contact(contact[0], record, contact[1])
            return contact[0], contact[2]
        return str(created.id), []

    def _update_contact(self, contact_id: str, record: CrmRecord, current: dict[str, str]) -> None:
        self._lead_status_optional(
            lambda props: self._call(
                self._contacts_api.update, contact_id, ContactInput(properties=props)
            ),
            self._properties(record, current),
        )

    @staticmethod
    def _lead_status_optional(write: Callable[[dict[str, str]], T], props: dict[str, str]) -> T:
        """Write `props`; again without the lead status when the portal's lead statuses
        lack ours (an admin may change the options): the status is a courtesy, not the push."""
        try:
            return write(props)
        except HubSpotRejected as exc:
            if exc.invalid != {LEAD_STATUS} or LEAD_STATUS not in props:
                raise
            return write({k: v for k, v in props.items() if k != LEAD_STATUS})

    def _note_bodies(self, note_ids: list[str]) -> list[str]:
        bodies: list[str] = []
        for start in range(0, len(note_ids), BATCH_MAX):
            chunk = note_ids[start : start + BATCH_MAX]
            answer = self._call(
                self._notes_batch_api.read,
                BatchReadInputSimplePublicObjectId(
                    inputs=[SimplePublicObjectId(id=i) for i in chunk],
                    properties=["hs_note_body"],
                    properties_with_history=[],
                ),
                archived=False,
            )
            bodies.extend(
                str((note.properties or {}).get("hs_note_body") or "")
                for note in answer.results or []
            )
        return bodies

    def _add_note(self, contact_id: str, record: CrmRecord) -> None:
        self._call(
            self._notes_api.create,
            NoteCreate(
                properties={
                    "hs_note_body": note_body(record),
                    "hs_timestamp": _utc(record.at),
                },
                associations=[
                    PublicAssociationsForObject(
                        to=PublicObjectId(id=contact_id),
                        types=[
                            AssociationSpec(
                                association_category="HUBSPOT_DEFINED",
                                association_type_id=NOTE_TO_CONTACT,
                            )
                        ],
                    )
                ],
            ),
        )


def _utc(at: datetime) -> str:
    """A time as HubSpot takes it: ISO 8601 in UTC, to the millisecond."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _eq(field: str, value: str) -> Filter:
    return Filter(property_name=field, operator="EQ", value=value)


def _matches(kind: str, props: dict[str, Any], record: CrmRecord) -> bool:
    def same(field: str, value: str) -> bool:
        return str(props.get(field) or "").strip().lower() == value.strip().lower()

    if kind == "email":
        return bool(record.email) and same("email", record.email or "")
    if kind == "key":
        return same(HUBSPOT_REQUEST_ID, record.key)
    return (
        same("lastname", record.last_name)
        and same("company", record.company)
        and (not record.first_name or same("firstname", record.first_name))
    )
