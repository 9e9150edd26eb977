"""A local stand-in for HubSpot's CRM API, served over HTTP on loopback.

The HubSpot adapter (bot.delivery.crm.hubspot) points hubspot-api-client's host at
``FakeHubSpot.url``. Only the endpoints the adapter calls are here, answering with HubSpot's
JSON shapes and refusing what HubSpot refuses, from its API reference:

- a missing or unknown Bearer token: 401, category INVALID_AUTHENTICATION;
- a call the token's scopes do not cover (creating properties without
  crm.schemas.contacts.write, say): 403, category MISSING_SCOPES;
- a property value for a property that does not exist (PROPERTY_DOESNT_EXIST), or not one of
  an enumeration's options (INVALID_OPTION): 400, category VALIDATION_ERROR;
- a contact with an email another contact has: 409, "Contact already exists. Existing ID: n";
- a property or property group that exists already: 409;
- a note without hs_timestamp, or associated with an unknown record or association type: 400;
- more than 100 calls with one token in any 10 seconds: 429, RATE_LIMIT
  (TEN_SECONDLY_ROLLING).

Tests can make the next calls fail (429 with a Retry-After, or a 5xx), and read the state
(contacts, notes, their associations, the contact properties) and the calls made.
"""

from __future__ import annotations

import html
import json
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.standin.serving import LoopbackServer

JSON = dict[str, Any]

PORTAL_ID = 4_242_424
# Every scope the adapter's calls need; a token may be given fewer.
ALL_SCOPES = frozenset(
    {
        "crm.objects.contacts.read",
        "crm.objects.contacts.write",
        "crm.schemas.contacts.read",
        "crm.schemas.contacts.write",
    }
)
SCHEMA_WRITE = "crm.schemas.contacts.write"
SCHEMA_READ = "crm.schemas.contacts.read"
CONTACTS_READ = "crm.objects.contacts.read"
CONTACTS_WRITE = "crm.objects.contacts.write"

# HubSpot's limit for a private app: calls in any window of this many seconds.
# OAuth: an access token lasts 30 minutes; a code must be exchanged within minutes.
ACCESS_TOKEN_SECONDS = 1800
CODE_SECONDS = 300
CALLS_PER_WINDOW = 100
WINDOW_SECONDS = 10.0
# Search: at most 5 filter groups, 6 filters in a group, 18 in all; 200 results a page.
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_SEARCH_LIMIT = 200
MAX_BATCH = 100

# HubSpot's association types this stand-in knows: (from, to) -> the HUBSPOT_DEFINED id.
ASSOCIATION_TYPES = {("notes", "contacts"): 202, ("contacts", "notes"): 201}

# The default options of hs_lead_status in a new portal.
LEAD_STATUS_OPTIONS = (
    ("New", "NEW"),
    ("Open", "OPEN"),
    ("In Progress", "IN_PROGRESS"),
    ("Open Deal", "OPEN_DEAL"),
    ("Unqualified", "UNQUALIFIED"),
    ("Attempted to Contact", "ATTEMPTED_TO_CONTACT"),
    ("Connected", "CONNECTED"),
    ("Bad Timing", "BAD_TIMING"),
)
_TYPES = {"string", "number", "date", "datetime", "enumeration", "bool"}
_FIELD_TYPES = {
    "text",
    "textarea",
    "html",
    "number",
    "date",
    "file",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "calculation_equation",
    "phonenumber",
}
# Values HubSpot sets itself: a create or update may not.
_READ_ONLY = {"hs_object_id", "createdate", "lastmodifieddate"}
# What a search returns of each object when it names no properties.
_DEFAULT_SEARCH_PROPERTIES = {
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _property(
    name: str,
    label: str,
    type_: str = "string",
    field_type: str = "text",
    group: str = "contactinformation",
    options: list[JSON] | None = None,
    hubspot_defined: bool = True,
) -> JSON:
    now = _now_iso()
    return {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "options": options or [],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "formField": True,
        "archived": False,
        "createdAt": now,
        "updatedAt": now,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": name in _READ_ONLY,
        },
    }


def _default_properties() -> dict[str, dict[str, JSON]]:
    lead_status = [
        {"label": label, "value": value, "displayOrder": i, "hidden": False}
        for i, (label, value) in enumerate(LEAD_STATUS_OPTIONS)
    ]
    contacts = [
        _property("firstname", "First Name"),
        _property("lastname", "Last Name"),
        _property("email", "Email"),
        _property("company", "Company Name"),
        _property("jobtitle", "Job Title"),
        _property("phone", "Phone Number", field_type="phonenumber"),
        _property("hs_lead_status", "Lead Status", "enumeration", "radio", options=lead_status),
        _property("hs_object_id", "Record ID", "number", "number"),
        _property("createdate", "Create Date", "datetime", "date"),
        _property("lastmodifieddate", "Last Modified Date", "datetime", "date"),
    ]
    notes = [
        _property("hs_note_body", "Note body", field_type="html", group="engagement"),
        _property("hs_timestamp", "Activity date", "datetime", "date", group="engagement"),
        _property("hubspot_owner_id", "Activity assigned to", "enumeration", "select"),
        _property("hs_attachment_ids", "Attachment IDs", "enumeration", "checkbox"),
        _property("hs_object_id", "Record ID", "number", "number"),
        _property("hs_createdate", "Create date", "datetime", "date"),
        _property("hs_lastmodifieddate", "Last modified date", "datetime", "date"),
    ]
    return {
        "contacts": {p["name"]: p for p in contacts},
        "notes": {p["name"]: p for p in notes},
    }


def _default_groups() -> dict[str, dict[str, JSON]]:
    return {
        "contacts": {
            "contactinformation": {
                "name": "contactinformation",
                "label": "Contact information",
                "displayOrder": 0,
                "archived": False,
            }
        },
        "notes": {},
    }


class HubSpotError(Exception):
    """An error answer: the status and HubSpot's body."""

    def __init__(self, status: int, body: JSON, headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, message: str, category: str, **extra: Any) -> HubSpotError:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return HubSpotError(status, body)


def _invalid_values(problems: list[JSON]) -> HubSpotError:
    """HubSpot's answer to property values it does not take: one entry per value."""
    detail = [
        {**p, "isValid": False, "localizedErrorMessage": p["message"], "portalId": PORTAL_ID}
        for p in problems
    ]
    return _error(
        400,
        "Property values were not valid: " + json.dumps(detail, separators=(",", ":")),
        "VALIDATION_ERROR",
    )


def _not_found() -> HubSpotError:
    return _error(404, "resource not found", "OBJECT_NOT_FOUND")


@dataclass
class Token:
    """A private app's token the stand-in accepts, and the scopes it was given."""

    scopes: frozenset[str] = ALL_SCOPES
    revoked: bool = False
    expires_at: float | None = None  # an OAuth access token's end (the stand-in's clock)


@dataclass(frozen=True)
class OAuthApp:
    """A public app registered with HubSpot: its secret and its one redirect URL."""

    client_secret: str
    redirect_uri: str


@dataclass
class Consent:
    """What an authorization code or a refresh token stands for."""

    client_id: str
    scopes: frozenset[str]
    expires_at: float = 0.0  # a code's end; refresh tokens do not expire


@dataclass
class Call:
    """One request as the stand-in saw it (no token)."""

    method: str
    path: str
    status: int
    body: Any = None


@dataclass
class Record:
    """A contact or a note as HubSpot keeps it."""

    id: str
    properties: dict[str, str]
    created_at: str
    updated_at: str
    associations: dict[str, list[str]] = field(default_factory=dict)  # type -> ids

    def as_json(self, names: list[str] | None = None) -> JSON:
        props: dict[str, str | None] = dict(self.properties)
        if names is not None:
            props = {name: self.properties.get(name) for name in names}
        return {
            "id": self.id,
            "properties": props,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": False,
        }


GRANT_KEY = web.RequestKey("grant", Token)
BODY_KEY = web.RequestKey("body", dict)


class FakeHubSpot(LoopbackServer):
    """HubSpot's CRM API for one portal, on loopback."""

    def __init__(
        self,
        *,
        token: str = "pat-na1-local-stand-in",
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.tokens: dict[str, Token] = {token: Token()}
        self.portal_id = PORTAL_ID
        self.properties = _default_properties()
        self.groups = _default_groups()
        self.objects: dict[str, dict[str, Record]] = {"contacts": {}, "notes": {}}
        self.calls: list[Call] = []
        # Records HubSpot's search does not show yet (its index lags writes by seconds).
        self.unindexed: set[str] = set()
        self._next_id = 100_001
        self._monotonic = monotonic
        self._windows: dict[str, deque[float]] = {}
        self._faults: deque[tuple[int, float | None]] = deque()
        LoopbackServer.__init__(self)
        # OAuth: public apps, and the codes and refresh tokens their consents gave.
        self.apps: dict[str, OAuthApp] = {}
        self.codes: dict[str, Consent] = {}
        self.refresh_tokens: dict[str, Consent] = {}
        self.access_seconds = ACCESS_TOKEN_SECONDS

    # --- what tests set and read ------------------------------------------------------------

    def add_token(self, token: str, scopes: frozenset[str] | set[str] = ALL_SCOPES) -> str:
        self.tokens[token] = Token(frozenset(scopes))
        return token

    def register_app(self, client_id: str, client_secret: str, redirect_uri: str) -> None:
        """A public app whose install URL sends admins back to `redirect_uri`."""
        self.apps[client_id] = OAuthApp(client_secret, redirect_uri)

    def expire(self, token: str) -> None:
        """An OAuth access token runs out now (as it does after 30 minutes)."""
        self.tokens[token].expires_at = self._monotonic()

    def revoke(self, token: str) -> None:
        self.tokens[token].revoked = True

    def fail_next(self, count: int, status: int, *, retry_after: float | None = None) -> None:
        """Answer the next `count` calls (with a valid token) with `status`: 429 (with a
        Retry-After of `retry_after` seconds, when given) or a 5xx."""
        for _ in range(count):
            self._faults.append((status, retry_after))

    @property
    def contacts(self) -> dict[str, Record]:
        return self.objects["contacts"]

    @property
    def notes(self) -> dict[str, Record]:
        return self.objects["notes"]

    def notes_of(self, contact_id: str) -> list[Record]:
        contact = self.contacts[contact_id]
        return [self.notes[i] for i in contact.associations.get("notes", [])]

    def add_contact(self, **properties: str) -> str:
        """A contact already in the portal (as someone made it in HubSpot)."""
        return self._create("contacts", {k: v for k, v in properties.items() if v}).id

    # --- serving ----------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on the running loop; returns the API's base URL."""
        self._not_running()
        app = web.Application(middlewares=[self._middleware])
        r = app.router
        r.add_get("/account-info/v3/details", self._account_details)
        r.add_get("/crm/v3/properties/{object_type}", self._list_properties)
        r.add_post("/crm/v3/properties/{object_type}", self._create_property)
        r.add_post("/crm/v3/properties/{object_type}/groups", self._create_group)
        r.add_post("/crm/v3/objects/{object_type}/search", self._search)
        r.add_post("/crm/v3/objects/{object_type}/batch/read", self._batch_read)
        r.add_post("/crm/v3/objects/{object_type}", self._create_object)
        r.add_get("/crm/v3/objects/{object_type}/{object_id}", self._read_object)
        r.add_patch("/crm/v3/objects/{object_type}/{object_id}", self._update_object)
        r.add_get("/oauth/authorize", self._consent_page)
        r.add_get("/oauth/authorize/decide", self._decide)
        r.add_post("/oauth/v3/token", self._token)
        return await self._serve(app, host, port)

    # --- every call: auth, faults, the limit ------------------------------------------------

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path.startswith("/oauth/"):  # no bearer token: the app's own credentials
            answered: web.StreamResponse = await handler(request)
            self.calls.append(Call(request.method, request.path, answered.status))
            return answered
        body: Any = None
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = None
        try:
            grant = self._authorize(request)
            request[GRANT_KEY] = grant
            self._fault()
            self._count(request.headers["Authorization"])
            if request.can_read_body and not isinstance(body, dict):
                raise _error(400, "Invalid input JSON on line 1", "VALIDATION_ERROR")
            request[BODY_KEY] = body if isinstance(body, dict) else {}
            response: web.StreamResponse = await handler(request)
        except HubSpotError as exc:
            response = web.json_response(exc.body, status=exc.status, headers=exc.headers)
        self.calls.append(Call(request.method, request.path, response.status, body))
        return response

    def _authorize(self, request: web.Request) -> Token:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        grant = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is not None and grant.expires_at is not None:
            late = self._monotonic() - grant.expires_at
            if late >= 0:
                raise _error(
                    401,
                    f"The OAuth token used to make this call expired {int(late)} second(s) ago.",
                    "EXPIRED_AUTHENTICATION",
                )
        if grant is None or grant.revoked:
            message = (
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
                if not token
                else "The access token provided is invalid or has been revoked."
            )
            raise _error(401, message, "INVALID_AUTHENTICATION")
        return grant

    def _fault(self) -> None:
        if not self._faults:
            return
        status, retry_after = self._faults.popleft()
        if status == 429:
            exc = _error(
                429,
                "You have reached your ten_secondly_rolling limit.",
                "RATE_LIMITS",
                errorType="RATE_LIMIT",
                policyName="TEN_SECONDLY_ROLLING",
            )
            if retry_after is not None:
                exc.headers["Retry-After"] = str(int(retry_after))
            raise exc
        raise _error(status, "internal error", "INTERNAL_ERROR")

    def _count(self, authorization: str) -> None:
        now = self._monotonic()
        calls = self._windows.setdefault(authorization, deque())
        while calls and calls[0] <= now - WINDOW_SECONDS:
            calls.popleft()
        if len(calls) >= CALLS_PER_WINDOW:
            raise _error(
                429,
                "You have reached your ten_secondly_rolling limit.",
                "RATE_LIMITS",
                errorType="RATE_LIMIT",
                policyName="TEN_SECONDLY_ROLLING",
            )
        calls.append(now)

    @staticmethod
    def _require(request: web.Request, scope: str) -> None:
        grant = request[GRANT_KEY]
        if scope not in grant.scopes:
            raise _error(
                403,
                "This app hasn't been granted all required scopes to make this call. Read "
                "more about required scopes here: https://developers.hubspot.com/scopes.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": [scope]},
                    }
                ],
                links={"scopes": "https://developers.hubspot.com/scopes"},
            )

    def _object_type(self, request: web.Request) -> str:
        kind = request.match_info["object_type"]
        # HubSpot takes the singular and the object type id too.
        kind = {"contact": "contacts", "0-1": "contacts", "note": "notes", "0-46": "notes"}.get(
            kind, kind
        )
        if kind not in self.objects:
            raise _error(400, f"Unable to infer object type from: {kind}", "VALIDATION_ERROR")
        return kind

    # --- account ----------------------------------------------------------------------------

    async def _account_details(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "portalId": self.portal_id,
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": [],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            }
        )

    # --- properties -------------------------------------------------------------------------

    async def _list_properties(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, SCHEMA_READ if kind == "contacts" else CONTACTS_READ)
        return web.json_response({"results": list(self.properties[kind].values())})

    async def _create_group(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, SCHEMA_WRITE)
        body: JSON = request[BODY_KEY]
        name, label = body.get("name"), body.get("label")
        missing = [f for f, v in (("name", name), ("label", label)) if not v]
        if missing:
            raise _error(400, f"Some required fields were not set: {missing}", "VALIDATION_ERROR")
        if name in self.groups[kind]:
            raise _error(
                409, f"A property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
            )
        group = {
            "name": name,
            "label": label,
            "displayOrder": body.get("displayOrder", -1),
            "archived": False,
        }
        self.groups[kind][str(name)] = group
        return web.json_response(group, status=201)

    async def _create_property(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, SCHEMA_WRITE)
        body: JSON = request[BODY_KEY]
        required = ("name", "label", "type", "fieldType", "groupName")
        missing = [f for f in required if not body.get(f)]
        if missing:
            raise _error(400, f"Some required fields were not set: {missing}", "VALIDATION_ERROR")
        name = str(body["name"])
        if body["type"] not in _TYPES or body["fieldType"] not in _FIELD_TYPES:
            raise _error(
                400,
                f"Invalid type/fieldType combination: {body['type']}/{body['fieldType']}",
                "VALIDATION_ERROR",
            )
        if body["groupName"] not in self.groups[kind]:
            raise _error(
                400,
                f"Property group '{body['groupName']}' does not exist",
                "VALIDATION_ERROR",
            )
        options = body.get("options") or []
        if body["type"] == "enumeration" and not options:
            raise _error(
                400, "Enumeration properties must have at least one option", "VALIDATION_ERROR"
            )
        if name in self.properties[kind]:
            raise _error(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        prop = _property(
            name,
            str(body["label"]),
            str(body["type"]),
            str(body["fieldType"]),
            group=str(body["groupName"]),
            options=[
                {
                    "label": o.get("label"),
                    "value": o.get("value"),
                    "displayOrder": o.get("displayOrder", -1),
                    "hidden": bool(o.get("hidden")),
                }
                for o in options
            ],
            hubspot_defined=False,
        )
        prop["description"] = body.get("description") or ""
        self.properties[kind][name] = prop
        return web.json_response(prop, status=201)

    # --- objects ----------------------------------------------------------------------------

    def _check_values(self, kind: str, values: Any) -> dict[str, str]:
        """The values as HubSpot stores them (text), or its 400 for those it refuses."""
        if not isinstance(values, dict):
            raise _error(400, "Invalid input JSON: properties", "VALIDATION_ERROR")
        known = self.properties[kind]
        problems: list[JSON] = []
        stored: dict[str, str] = {}
        for name, value in values.items():
            prop = known.get(name)
            if prop is None:
                problems.append(
                    {
                        "message": f'Property "{name}" does not exist',
                        "error": "PROPERTY_DOESNT_EXIST",
                        "name": name,
                    }
                )
                continue
            if name in _READ_ONLY:
                problems.append(
                    {
                        "message": f'"{name}" is a read only property; its value cannot be set.',
                        "error": "READ_ONLY_VALUE",
                        "name": name,
                    }
                )
                continue
            text = "" if value is None else str(value)
            if prop["type"] == "enumeration" and text and prop["fieldType"] != "checkbox":
                allowed = [o["value"] for o in prop["options"]]
                if text not in allowed:
                    problems.append(
                        {
                            "message": f"{text} was not one of the allowed options: {allowed}",
                            "error": "INVALID_OPTION",
                            "name": name,
                        }
                    )
                    continue
            if prop["type"] in ("datetime", "date") and text and not _is_time(text):
                problems.append(
                    {
                        "message": f"{text} is not a valid date: a Unix time in milliseconds, "
                        "or ISO 8601 in UTC",
                        "error": "INVALID_DATE",
                        "name": name,
                    }
                )
                continue
            if name == "email" and text and ("@" not in text or " " in text):
                problems.append(
                    {
                        "message": f"Email address {text} is invalid",
                        "error": "INVALID_EMAIL",
                        "name": name,
                    }
                )
                continue
            stored[name] = text
        if problems:
            raise _invalid_values(problems)
        return stored

    def _email_taken(self, email: str | None, besides: str | None = None) -> None:
        if not email:
            return
        for contact in self.contacts.values():
            if contact.id != besides and contact.properties.get("email", "").lower() == (
                email.lower()
            ):
                raise _error(409, f"Contact already exists. Existing ID: {contact.id}", "CONFLICT")

    def _create(self, kind: str, values: dict[str, str]) -> Record:
        record_id = str(self._next_id)
        self._next_id += 1
        now = _now_iso()
        created = "hs_createdate" if kind == "notes" else "createdate"
        modified = "hs_lastmodifieddate" if kind == "notes" else "lastmodifieddate"
        props = {**values, "hs_object_id": record_id, created: now, modified: now}
        record = Record(record_id, props, now, now)
        self.objects[kind][record_id] = record
        return record

    async def _create_object(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, CONTACTS_WRITE)
        body: JSON = request[BODY_KEY]
        values = self._check_values(kind, body.get("properties"))
        associations = self._check_associations(kind, body.get("associations") or [])
        if kind == "notes" and not values.get("hs_timestamp"):
            raise _invalid_values(
                [
                    {
                        "message": "hs_timestamp is required",
                        "error": "REQUIRED_FIELD",
                        "name": "hs_timestamp",
                    }
                ]
            )
        if kind == "contacts":
            self._email_taken(values.get("email"))
        record = self._create(kind, values)
        for other_kind, other_id in associations:
            record.associations.setdefault(other_kind, []).append(other_id)
            other = self.objects[other_kind][other_id]
            other.associations.setdefault(kind, []).append(record.id)
        return web.json_response(record.as_json(), status=201)

    def _check_associations(self, kind: str, associations: Any) -> list[tuple[str, str]]:
        if not isinstance(associations, list):
            raise _error(400, "Invalid input JSON: associations", "VALIDATION_ERROR")
        found: list[tuple[str, str]] = []
        for association in associations:
            to_id = str((association.get("to") or {}).get("id") or "")
            types = association.get("types") or []
            if not types:
                raise _error(400, "At least one association type is required", "VALIDATION_ERROR")
            for spec in types:
                category = spec.get("associationCategory")
                type_id = spec.get("associationTypeId")
                targets = [
                    other
                    for (source, other), known_id in ASSOCIATION_TYPES.items()
                    if source == kind and known_id == type_id
                ]
                if category != "HUBSPOT_DEFINED" or not targets:
                    raise _error(
                        400,
                        f"{category} {type_id} is not a valid association type for {kind}",
                        "VALIDATION_ERROR",
                    )
                other_kind = targets[0]
                if to_id not in self.objects[other_kind]:
                    raise _error(
                        400,
                        f"One or more associations are invalid: no {other_kind} {to_id}",
                        "VALIDATION_ERROR",
                    )
                found.append((other_kind, to_id))
        return found

    @staticmethod
    def _names(request: web.Request, key: str) -> list[str]:
        """A query parameter given as repeats or as a comma-separated list (both work)."""
        return [n for v in request.query.getall(key, []) for n in v.split(",") if n]

    async def _read_object(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, CONTACTS_READ)
        record = self.objects[kind].get(request.match_info["object_id"])
        if record is None or request.query.get("archived") == "true":
            raise _not_found()
        names = self._names(request, "properties") or list(_DEFAULT_SEARCH_PROPERTIES[kind])
        answer = record.as_json([n for n in names if n in self.properties[kind]])
        associated: JSON = {}
        for other in self._names(request, "associations"):
            other_kind = {"contact": "contacts", "note": "notes"}.get(other, other)
            ids = record.associations.get(other_kind, [])
            if ids:
                associated[other_kind] = {
                    "results": [{"id": i, "type": f"{kind[:-1]}_to_{other_kind[:-1]}"} for i in ids]
                }
        if associated:
            answer["associations"] = associated
        return web.json_response(answer)

    async def _update_object(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, CONTACTS_WRITE)
        record = self.objects[kind].get(request.match_info["object_id"])
        if record is None:
            raise _not_found()
        values = self._check_values(kind, request[BODY_KEY].get("properties"))
        if kind == "contacts":
            self._email_taken(values.get("email"), besides=record.id)
        record.properties.update(values)
        record.updated_at = _now_iso()
        modified = "hs_lastmodifieddate" if kind == "notes" else "lastmodifieddate"
        record.properties[modified] = record.updated_at
        return web.json_response(record.as_json())

    async def _batch_read(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, CONTACTS_READ)
        body: JSON = request[BODY_KEY]
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or body.get("properties") is None:
            raise _error(
                400, "Some required fields were not set: [inputs, properties]", "VALIDATION_ERROR"
            )
        if len(inputs) > MAX_BATCH:
            raise _error(400, f"Batch size exceeds the limit of {MAX_BATCH}", "VALIDATION_ERROR")
        names = [n for n in body["properties"] if n in self.properties[kind]]
        now = _now_iso()
        results = [
            self.objects[kind][str(i.get("id"))].as_json(names)
            for i in inputs
            if str(i.get("id")) in self.objects[kind]
        ]
        return web.json_response(
            {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
        )

    # --- search -----------------------------------------------------------------------------

    async def _search(self, request: web.Request) -> web.Response:
        kind = self._object_type(request)
        self._require(request, CONTACTS_READ)
        body: JSON = request[BODY_KEY]
        groups = body.get("filterGroups") or []
        filters = [f for g in groups for f in g.get("filters") or []]
        if (
            len(groups) > MAX_FILTER_GROUPS
            or any(len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in groups)
            or len(filters) > MAX_FILTERS
        ):
            raise _error(
                400,
                "Too many filters or filter groups: at most 5 groups, 6 filters in a group "
                "and 18 filters in all",
                "VALIDATION_ERROR",
            )
        for f in filters:
            if f.get("propertyName") not in self.properties[kind]:
                raise _error(
                    400,
                    f"There was a problem with the request: property "
                    f"{f.get('propertyName')} does not exist",
                    "VALIDATION_ERROR",
                )
        limit = int(body.get("limit") or 10)
        if not 0 < limit <= MAX_SEARCH_LIMIT:
            raise _error(400, f"limit must be between 1 and {MAX_SEARCH_LIMIT}", "VALIDATION_ERROR")
        after = int(body.get("after") or 0)
        matched = [
            r
            for r in self.objects[kind].values()
            if r.id not in self.unindexed
            and (not groups or any(_matches_group(r, g.get("filters") or []) for g in groups))
        ]
        page = matched[after : after + limit]
        names = body.get("properties") or list(_DEFAULT_SEARCH_PROPERTIES[kind])
        names = [n for n in names if n in self.properties[kind]]
        answer: JSON = {"total": len(matched), "results": [r.as_json(names) for r in page]}
        if after + limit < len(matched):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return web.json_response(answer)

    # --- OAuth: the consent page and the token endpoint ----------------------------------

    async def _consent_page(self, request: web.Request) -> web.Response:
        """HubSpot's install page: refuses an unknown app, a redirect URL other than the app's,
        or scopes it doesn't know; else asks the (already signed-in) super admin to connect."""
        query = request.query
        app = self.apps.get(query.get("client_id", ""))
        if app is None or query.get("redirect_uri") != app.redirect_uri:
            return web.Response(status=400, text="Authorization failed: invalid client or redirect")
        scopes = set(query.get("scope", "").split())
        known = ALL_SCOPES | {"oauth"}
        if not scopes or not scopes <= known:
            return web.Response(status=400, text="Authorization failed: invalid scope")
        decide = "/oauth/authorize/decide?" + request.query_string
        page = (
            "<!DOCTYPE html><html><head><title>Connect to HubSpot</title></head><body>"
            f"<h1>Connect this app to portal {self.portal_id}?</h1>"
            f'<a id="connect" href="{html.escape(decide + "&allow=1")}">Connect app</a> '
            f'<a id="cancel" href="{html.escape(decide + "&allow=0")}">Cancel</a>'
            "</body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _decide(self, request: web.Request) -> web.Response:
        query = request.query
        app = self.apps.get(query.get("client_id", ""))
        if app is None or query.get("redirect_uri") != app.redirect_uri:
            return web.Response(status=400, text="Authorization failed: invalid client or redirect")
        back: dict[str, str] = {}
        if query.get("allow") == "1":
            code = uuid.uuid4().hex
            scopes = frozenset(query.get("scope", "").split()) & ALL_SCOPES
            self.codes[code] = Consent(query["client_id"], scopes, self._monotonic() + CODE_SECONDS)
            back["code"] = code
        else:
            back = {"error": "access_denied", "error_description": "The user cancelled."}
        if "state" in query:
            back["state"] = query["state"]
        raise web.HTTPFound(f"{app.redirect_uri}?{urlencode(back)}")

    async def _token(self, request: web.Request) -> web.Response:
        """POST /oauth/v3/token, form-encoded: an authorization code (once, within minutes, with
        the app's redirect URL) or a refresh token, for an access token good for 30 minutes."""
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(415, "Content type must be form-encoded", "INVALID_CONTENT_TYPE")
        form = await request.post()
        app = self.apps.get(str(form.get("client_id", "")))
        if app is None or form.get("client_secret") != app.client_secret:
            return _oauth_error(400, "Invalid client credentials", "INVALID_CLIENT")
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            consent = self.codes.pop(str(form.get("code", "")), None)
            if consent is None or consent.expires_at < self._monotonic():
                return _oauth_error(400, "Invalid or expired authorization code", "INVALID_CODE")
            if form.get("redirect_uri") != app.redirect_uri:
                return _oauth_error(400, "redirect_uri does not match", "INVALID_REDIRECT_URI")
            refresh = uuid.uuid4().hex
            self.refresh_tokens[refresh] = consent
        elif grant_type == "refresh_token":
            refresh = str(form.get("refresh_token", ""))
            consent = self.refresh_tokens.get(refresh)  # type: ignore[assignment]
            if consent is None or consent.client_id != form.get("client_id"):
                return _oauth_error(400, "Invalid refresh token", "INVALID_TOKEN")
        else:
            return _oauth_error(400, "grant_type is not supported", "INVALID_GRANT_TYPE")
        access = "oauth-" + uuid.uuid4().hex
        self.tokens[access] = Token(
            consent.scopes, expires_at=self._monotonic() + self.access_seconds
        )
        return web.json_response(
            {
                "token_type": "bearer",
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": self.access_seconds,
                "hub_id": self.portal_id,
            }
        )


def _is_time(text: str) -> bool:
    if text.isdigit():
        return True
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# --- OAuth errors -------------------------------------------------------------------------------


def _oauth_error(status: int, message: str, sub_category: str) -> web.Response:
    """The v3 token endpoint's refusal."""
    return web.json_response(
        {
            "status": "error",
            "message": message,
            "category": "VALIDATION_ERROR",
            "subCategory": sub_category,
            "correlationId": str(uuid.uuid4()),
        },
        status=status,
    )


def _matches_group(record: Record, filters: list[JSON]) -> bool:
    return all(_matches_filter(record, f) for f in filters)


def _matches_filter(record: Record, f: JSON) -> bool:
    """One filter of HubSpot's search: text compares without regard to case."""
    value = (record.properties.get(str(f.get("propertyName"))) or "").lower()
    wanted = str(f.get("value") or "").lower()
    operator = f.get("operator")
    if operator == "EQ":
        return value == wanted
    if operator == "NEQ":
        return value != wanted
    if operator == "HAS_PROPERTY":
        return bool(value)
    if operator == "NOT_HAS_PROPERTY":
        return not value
    if operator == "IN":
        return value in [str(v).lower() for v in f.get("values") or []]
    if operator == "CONTAINS_TOKEN":
        words = value.replace(",", " ").split()
        if wanted.startswith("*") or wanted.endswith("*"):
            core = wanted.strip("*")
            return any(core in w for w in words)
        return wanted in words
    raise _error(400, f"Unsupported filter operator: {operator}", "VALIDATION_ERROR")


async def serve(host: str = "127.0.0.1") -> tuple[FakeHubSpot, str]:
    """A stand-in HubSpot, started on a free port: it and its URL (stop it when done)."""
    fake = FakeHubSpot()
    url = await fake.start(host)
    return fake, url
