"""A local stand-in for a Salesforce org's REST API, served over HTTPS on loopback.

simple-salesforce builds every URL as ``https://{instance}/...``, so the stand-in serves TLS
with a self-signed certificate it makes on start (``ca_file``): the adapter is told to trust
that file, as it would a company's own certificate authority.

It answers the way Salesforce's REST API reference says, and refuses what Salesforce refuses:

- ``POST /services/oauth2/token``: the OAuth 2.0 client credentials flow of a connected app
  (client id and secret in the form body or as HTTP Basic); a wrong id or secret gets
  Salesforce's ``{"error": ..., "error_description": ...}`` with 400.
- ``GET /services/data/vNN.N/sobjects/{Lead|Contact|Task}/describe``: the fields, their types,
  ``externalId``, ``picklistValues``; an org may lack a field or a picklist value.
- ``GET /services/data/vNN.N/query?q=``: the SOQL shapes ``SELECT f, ... FROM Object WHERE
  Field = 'value' [AND ...] [LIMIT n]``; anything else is ``MALFORMED_QUERY``.
- ``POST /services/data/vNN.N/sobjects/{Object}``: create (201).
- ``PATCH /services/data/vNN.N/sobjects/{Object}/{ExternalIdField}/{value}``: upsert (201
  created, 200 updated, as API 46.0 and later answer).

Every REST answer carries ``Sforce-Limit-Info: api-usage=N/M``; a spent allocation is 403
``REQUEST_LIMIT_EXCEEDED``; a bad or expired token is 401 ``INVALID_SESSION_ID``; errors are
Salesforce's list of ``{"message", "errorCode", "fields"}``. Tests read ``records``,
``calls`` and ``api_used``, and can ``expire_tokens()``, ``fail_next()``, ``drop_field()``
and ``drop_picklist_value()``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import ipaddress
import itertools
import re
import secrets
import shutil
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bot.standin.serving import LoopbackServer

JSON = dict[str, Any]

CLIENT_ID = "3MVG9local.introbot.connected.app"
CLIENT_SECRET = "local-connected-app-secret"
DEFAULT_API_LIMIT = 100_000  # a day's API requests, as a small org's allocation

# The LeadSource values a new org has, and the two introbot needs an admin to add.
STANDARD_LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
INTROBOT_LEAD_SOURCES = ("Warm Introduction", "Cold Outreach")
TASK_STATUSES = ("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred")

# The first three characters of a record id name its object.
_ID_PREFIX = {"Lead": "00Q", "Contact": "003", "Task": "00T"}
_ORG_ID = "00D000000000001EAA"


@dataclass
class Field:
    """A field as describe shows it (the parts the adapter and the checks read)."""

    name: str
    type: str  # id, string, email, picklist, reference, textarea, date, combobox
    label: str
    required: bool = False  # not nillable, createable, not defaulted on create
    length: int = 0
    external_id: bool = False
    filterable: bool = True
    createable: bool = True
    picklist: list[str] | None = None
    restricted: bool = False
    default: str | None = None  # a picklist's default value
    reference_to: tuple[str, ...] = ()

    def describe(self) -> JSON:
        values = [
            {"value": v, "label": v, "active": True, "defaultValue": v == self.default}
            for v in self.picklist or []
        ]
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "length": self.length,
            "nillable": not self.required and self.type != "id",
            "createable": self.createable,
            "updateable": self.createable,
            "defaultedOnCreate": self.default is not None or self.type == "id",
            "externalId": self.external_id,
            "unique": self.external_id,
            "filterable": self.filterable,
            "custom": self.name.endswith("__c"),
            "picklistValues": values,
            "restrictedPicklist": self.restricted,
            "referenceTo": list(self.reference_to),
        }


def _schema() -> dict[str, dict[str, Field]]:
    """Lead, Contact and Task as an org set up for introbot has them."""
    lead_sources = [*STANDARD_LEAD_SOURCES, *INTROBOT_LEAD_SOURCES]
    lead = [
        Field("Id", "id", "Lead ID", createable=False, length=18),
        Field("FirstName", "string", "First Name", length=40),
        Field("LastName", "string", "Last Name", required=True, length=80),
        Field("Company", "string", "Company", required=True, length=255),
        Field("Title", "string", "Title", length=128),
        Field("Email", "email", "Email", length=80),
        Field("LeadSource", "picklist", "Lead Source", picklist=lead_sources, restricted=True),
        Field(
            "Status",
            "picklist",
            "Lead Status",
            picklist=["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted"],
            restricted=True,
            default="Open - Not Contacted",
        ),
        Field("Description", "textarea", "Description", length=32000, filterable=False),
        Field("Referred_By__c", "string", "Referred By", length=255),
        Field("Introbot_Key__c", "string", "Introbot Key", length=80, external_id=True),
        Field("IsConverted", "boolean", "Converted", createable=False),
        Field(
            "ConvertedContactId",
            "reference",
            "Converted Contact ID",
            createable=False,
            length=18,
            reference_to=("Contact",),
        ),
    ]
    contact = [
        Field("Id", "id", "Contact ID", createable=False, length=18),
        Field("FirstName", "string", "First Name", length=40),
        Field("LastName", "string", "Last Name", required=True, length=80),
        Field("Email", "email", "Email", length=80),
        Field("Title", "string", "Title", length=128),
        Field("LeadSource", "picklist", "Lead Source", picklist=lead_sources, restricted=True),
    ]
    task = [
        Field("Id", "id", "Activity ID", createable=False, length=18),
        Field("WhoId", "reference", "Name ID", length=18, reference_to=("Contact", "Lead")),
        Field("Subject", "combobox", "Subject", length=255),
        Field(
            "Status",
            "picklist",
            "Status",
            picklist=list(TASK_STATUSES),
            restricted=True,
            default="Not Started",
        ),
        Field(
            "Priority",
            "picklist",
            "Priority",
            picklist=["High", "Normal", "Low"],
            restricted=True,
            default="Normal",
        ),
        Field("ActivityDate", "date", "Due Date Only"),
        Field("Description", "textarea", "Comments", length=32000, filterable=False),
    ]
    return {
        "Lead": {f.name: f for f in lead},
        "Contact": {f.name: f for f in contact},
        "Task": {f.name: f for f in task},
    }


@dataclass
class Call:
    """One request as the stand-in saw it."""

    method: str
    path: str
    status: int
    query: str | None = None  # the SOQL, for a query


@dataclass
class _Fault:
    status: int
    retry_after: int | None


@dataclass
class _Token:
    expired: bool = False


class _SalesforceError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []


def _invalid_field(name: str, sobject: str) -> _SalesforceError:
    return _SalesforceError(
        400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}", [name]
    )


@dataclass
class _Query:
    fields: list[str]
    sobject: str
    where: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None


_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>[A-Za-z_][\w]*(?:\s*,\s*[A-Za-z_][\w]*)*)\s+"
    r"FROM\s+(?P<sobject>[A-Za-z_]\w*)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
# One condition: Field = 'quoted value' (SOQL escapes \' and \\ inside the quotes).
_CONDITION = re.compile(r"\s*([A-Za-z_]\w*)\s*=\s*'((?:[^'\\]|\\.)*)'\s*", re.DOTALL)
_SOQL_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_SOQL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def parse_soql(soql: str) -> _Query:
    """The SOQL shapes the adapter sends; MALFORMED_QUERY for any other."""
    match = _SELECT.match(soql)
    if match is None:
        raise _SalesforceError(400, "MALFORMED_QUERY", f"unexpected token in: {soql[:80]}")
    query = _Query(
        fields=[f.strip() for f in match["fields"].split(",")],
        sobject=match["sobject"],
        limit=int(match["limit"]) if match["limit"] else None,
    )
    where = match["where"]
    if where:
        position = 0
        while True:
            condition = _CONDITION.match(where, position)
            if condition is None:
                raise _SalesforceError(400, "MALFORMED_QUERY", f"unexpected token: {where}")
            value = _SOQL_UNESCAPE.sub(lambda m: _SOQL_ESCAPES.get(m[1], m[1]), condition[2])
            query.where.append((condition[1], value))
            position = condition.end()
            if position == len(where):
                break
            joiner = re.compile(r"AND\s+", re.IGNORECASE).match(where, position)
            if joiner is None:
                raise _SalesforceError(400, "MALFORMED_QUERY", f"unexpected token: {where}")
            position = joiner.end()
    return query


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, its own authority, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "introbot Salesforce stand-in")])
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "standin.pem", directory / "standin.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class FakeSalesforce(LoopbackServer):
    """One Salesforce org: its connected app, schema, records and daily API allocation."""

    scheme = "https"

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        api_limit: int = DEFAULT_API_LIMIT,
        api_used: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_limit = api_limit
        self.api_used = api_used
        self.schema = _schema()
        # Records by object, then by id; each holds its fields as last written.
        self.records: dict[str, dict[str, JSON]] = {name: {} for name in self.schema}
        self.calls: list[Call] = []
        self.tokens_issued = 0
        self._tokens: dict[str, _Token] = {}
        self._faults: list[_Fault] = []
        self._late: list[tuple[str, str, float]] = []  # method, path's end, seconds
        self._ids = itertools.count(1)
        LoopbackServer.__init__(self)
        self._dir: Path | None = None
        self.ca_file = ""

    # ------------------------------------------------------------------ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve HTTPS on the running loop; returns the instance URL (also the login URL)."""
        self._not_running()
        self._remove_certificate()
        self._dir = Path(tempfile.mkdtemp(prefix="introbot-salesforce-"))
        cert_file, key_file = _self_signed(self._dir)
        self.ca_file = str(cert_file)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file, key_file)
        app = web.Application()
        app.router.add_post("/services/oauth2/token", self._token)
        rest = "/services/data/v{version}"
        app.router.add_get(rest + "/sobjects/{sobject}/describe", self._describe)
        app.router.add_get(rest + "/sobjects/{sobject}/describe/", self._describe)
        app.router.add_get(rest + "/query", self._query)
        app.router.add_get(rest + "/query/", self._query)
        app.router.add_post(rest + "/sobjects/{sobject}", self._create)
        app.router.add_post(rest + "/sobjects/{sobject}/", self._create)
        app.router.add_patch(rest + "/sobjects/{sobject}/{field}/{value}", self._upsert)
        return await self._serve(app, host, port, ssl_context=context)

    def _remove_certificate(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await super().__aexit__(exc_type, exc, tb)
        # Stopped, the certificate stays (a client may try and find no one); out of `with`,
        # it goes too.
        self._remove_certificate()

    # ------------------------------------------------------------ test controls

    def expire_tokens(self) -> None:
        """Every access token handed out so far stops working (a session timeout)."""
        for token in self._tokens.values():
            token.expired = True

    def fail_next(
        self, count: int = 1, *, status: int = 503, retry_after: int | None = None
    ) -> None:
        """The next `count` REST calls answer `status` (503: Salesforce is down for
        maintenance; 429 with Retry-After: too many concurrent requests)."""
        self._faults.extend(_Fault(status, retry_after) for _ in range(count))

    def answer_late(self, method: str, path_end: str, seconds: float) -> None:
        """The next `method` call whose path ends with `path_end` is carried out, and answered
        only after `seconds`: a client that gives up sooner has lost the answer."""
        self._late.append((method, path_end, seconds))

    def drop_field(self, sobject: str, name: str) -> None:
        """The org lacks the field (the admin has not created it)."""
        del self.schema[sobject][name]

    def drop_picklist_value(self, sobject: str, name: str, value: str) -> None:
        picklist = self.schema[sobject][name].picklist
        assert picklist is not None
        picklist.remove(value)

    def add_contact(self, *, first_name: str, last_name: str, email: str) -> str:
        record = {"FirstName": first_name, "LastName": last_name, "Email": email}
        return self._insert("Contact", record)

    def convert_lead(self, lead_id: str) -> str:
        """Sales converts the Lead: a Contact from it, its Tasks moved onto the Contact (as
        Salesforce moves a converted Lead's activities); the Lead can no longer be updated."""
        lead = self.records["Lead"][lead_id]
        contact = self._insert(
            "Contact",
            {k: lead[k] for k in ("FirstName", "LastName", "Email", "Title") if k in lead},
        )
        lead.update(IsConverted=True, ConvertedContactId=contact)
        for task in self.records["Task"].values():
            if task.get("WhoId") == lead_id:
                task["WhoId"] = contact
        return contact

    def of(self, sobject: str, **where: Any) -> list[JSON]:
        """The records of `sobject` whose fields equal `where`."""
        return [
            r
            for r in self.records[sobject].values()
            if all(r.get(k) == v for k, v in where.items())
        ]

    @property
    def rest_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path.startswith("/services/data/")]

    # ----------------------------------------------------------------- OAuth

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.startswith("Basic "):
            with contextlib.suppress(ValueError):
                decoded = base64.b64decode(basic[6:]).decode()
                client_id, _, client_secret = decoded.partition(":")
        status, body = 200, {}
        if form.get("grant_type") != "client_credentials":
            status = 400
            body = {
                "error": "unsupported_grant_type",
                "error_description": "grant type not supported",
            }
        elif client_id != self.client_id:
            status = 400
            body = {"error": "invalid_client_id", "error_description": "client identifier invalid"}
        elif client_secret != self.client_secret:
            status = 400
            body = {"error": "invalid_client", "error_description": "invalid client credentials"}
        else:
            token = f"{_ORG_ID}!{secrets.token_urlsafe(48)}"
            self._tokens[token] = _Token()
            self.tokens_issued += 1
            body = {
                "access_token": token,
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
                "scope": "api",
                "instance_url": self.url,
                "id": f"{self.url}/id/{_ORG_ID}/005000000000001AAA",
                "token_type": "Bearer",
                "issued_at": str(int(dt.datetime.now(dt.UTC).timestamp() * 1000)),
            }
        self.calls.append(Call(request.method, request.path, status))
        return web.json_response(body, status=status)

    # ------------------------------------------------------------------ REST

    async def _rest(self, request: web.Request, handler: Any) -> web.Response:
        """Authenticate, count against the day's allocation, answer; errors as Salesforce's
        list of {message, errorCode}."""
        query = request.query.get("q")
        headers: dict[str, str] = {}
        try:
            auth = request.headers.get("Authorization", "")
            token = self._tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            if token is None or token.expired:
                raise _SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if self._faults:
                fault = self._faults.pop(0)
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                code = "REQUEST_LIMIT_EXCEEDED" if fault.status == 429 else "SERVER_UNAVAILABLE"
                raise _SalesforceError(fault.status, code, "Try again later.")
            if self.api_used >= self.api_limit:
                headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_limit}"
                raise _SalesforceError(
                    403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."
                )
            self.api_used += 1
            headers["Sforce-Limit-Info"] = f"api-usage={self.api_used}/{self.api_limit}"
            status, body = await handler(request)
        except _SalesforceError as error:
            status = error.status
            body = [{"message": error.message, "errorCode": error.code, "fields": error.fields}]
        self.calls.append(Call(request.method, request.path, status, query))
        for late in self._late:
            if request.method == late[0] and request.path.rstrip("/").endswith(late[1]):
                self._late.remove(late)
                await asyncio.sleep(late[2])
                break
        if body is None:
            return web.Response(status=status, headers=headers)
        return web.json_response(body, status=status, headers=headers)

    async def _describe(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> tuple[int, Any]:
            name, fields = self._sobject(request.match_info["sobject"])
            return 200, {
                "name": name,
                "label": name,
                "custom": False,
                "createable": True,
                "queryable": True,
                "keyPrefix": _ID_PREFIX[name],
                "fields": [f.describe() for f in fields.values()],
            }

        return await self._rest(request, handle)

    async def _query(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> tuple[int, Any]:
            soql = request.query.get("q", "")
            query = parse_soql(soql)
            name, fields = self._sobject(query.sobject, status=400, code="INVALID_TYPE")
            for selected in query.fields:
                if selected not in fields:
                    raise _SalesforceError(
                        400, "INVALID_FIELD", f"No such column '{selected}' on entity '{name}'."
                    )
            for filtered, _ in query.where:
                if filtered not in fields:
                    raise _SalesforceError(
                        400, "INVALID_FIELD", f"No such column '{filtered}' on entity '{name}'."
                    )
                if not fields[filtered].filterable:
                    raise _SalesforceError(
                        400,
                        "INVALID_FIELD",
                        f"field '{filtered}' can not be filtered in a query call",
                    )
            # SOQL's = on text ignores case.
            rows = [
                r
                for r in self.records[name].values()
                if all(str(r.get(f) or "").casefold() == v.casefold() for f, v in query.where)
            ]
            if query.limit is not None:
                rows = rows[: query.limit]
            version = request.match_info["version"]
            records = [
                {
                    "attributes": {
                        "type": name,
                        "url": f"/services/data/v{version}/sobjects/{name}/{r['Id']}",
                    },
                    **{f: r.get(f) for f in query.fields},
                }
                for r in rows
            ]
            return 200, {"totalSize": len(records), "done": True, "records": records}

        return await self._rest(request, handle)

    async def _create(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> tuple[int, Any]:
            name, _ = self._sobject(request.match_info["sobject"])
            data = await self._body(request)
            self._validate(name, data, creating=True)
            record_id = self._insert(name, data)
            return 201, {"id": record_id, "success": True, "errors": []}

        return await self._rest(request, handle)

    async def _upsert(self, request: web.Request) -> web.Response:
        async def handle(request: web.Request) -> tuple[int, Any]:
            name, fields = self._sobject(request.match_info["sobject"])
            key, value = request.match_info["field"], request.match_info["value"]
            if key not in fields or not fields[key].external_id:
                raise _SalesforceError(
                    404,
                    "NOT_FOUND",
                    f"Provided external ID field does not exist or is not accessible: {key}",
                )
            data = await self._body(request)
            if key in data and data[key] != value:
                raise _SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"The value of {key} in the body doesn't match the URL's.",
                    [key],
                )
            matches = [r for r in self.records[name].values() if r.get(key) == value]
            if len(matches) > 1:
                return 300, [f"/services/data/sobjects/{name}/{r['Id']}" for r in matches]
            if matches and matches[0].get("IsConverted"):
                raise _SalesforceError(
                    400, "CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead"
                )
            if matches:
                self._validate(name, data, creating=False)
                matches[0].update(data)
                return 200, {
                    "id": matches[0]["Id"],
                    "success": True,
                    "errors": [],
                    "created": False,
                }
            data = {**data, key: value}
            self._validate(name, data, creating=True)
            record_id = self._insert(name, data)
            return 201, {"id": record_id, "success": True, "errors": [], "created": True}

        return await self._rest(request, handle)

    # --------------------------------------------------------------- helpers

    def _sobject(
        self, name: str, *, status: int = 404, code: str = "NOT_FOUND"
    ) -> tuple[str, dict[str, Field]]:
        for known, fields in self.schema.items():
            if known.lower() == name.lower():
                return known, fields
        if code == "INVALID_TYPE":
            message = f"sObject type '{name}' is not supported."
        else:
            message = "The requested resource does not exist"
        raise _SalesforceError(status, code, message)

    @staticmethod
    async def _body(request: web.Request) -> JSON:
        try:
            data = await request.json()
        except ValueError as error:
            raise _SalesforceError(400, "JSON_PARSER_ERROR", str(error)) from error
        if not isinstance(data, dict):
            raise _SalesforceError(400, "JSON_PARSER_ERROR", "Expected an object")
        return data

    def _validate(self, sobject: str, data: JSON, *, creating: bool) -> None:
        fields = self.schema[sobject]
        for name, value in data.items():
            spec = fields.get(name)
            if spec is None:
                raise _invalid_field(name, sobject)
            if not spec.createable:
                raise _SalesforceError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {name}. Please check the security "
                    "settings of this field and verify that it is read/write for your "
                    "profile or permission set.",
                    [name],
                )
            if value is not None and value != "":
                self._check_value(spec, value)
        missing = [
            f.name
            for f in fields.values()
            if f.required and (creating or f.name in data) and data.get(f.name) in (None, "")
        ]
        if missing:
            raise _SalesforceError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )

    def _check_value(self, spec: Field, value: Any) -> None:
        """A value Salesforce takes for the field: its type, length, picklist, reference."""
        name = spec.name
        if not isinstance(value, str):
            raise _SalesforceError(
                400, "JSON_PARSER_ERROR", f"Cannot deserialize instance of {spec.type}"
            )
        if spec.length and len(value) > spec.length:
            raise _SalesforceError(
                400,
                "STRING_TOO_LONG",
                f"{spec.label}: data value too large: {value[:20]} (max length={spec.length})",
                [name],
            )
        if spec.restricted and value not in (spec.picklist or []):
            raise _SalesforceError(
                400,
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{spec.label}: bad value for restricted picklist field: {value}",
                [name],
            )
        if spec.type == "email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
            raise _SalesforceError(
                400, "INVALID_EMAIL_ADDRESS", f"{spec.label}: invalid email address: {value}"
            )
        if spec.type == "date":
            try:
                dt.date.fromisoformat(value)
            except ValueError as error:
                raise _SalesforceError(
                    400,
                    "JSON_PARSER_ERROR",
                    f"Cannot deserialize instance of date from VALUE_STRING value {value}",
                ) from error
        if spec.type == "reference" and not any(
            value in self.records[target] for target in spec.reference_to
        ):
            raise _SalesforceError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                f"{spec.label}: id value of incorrect type: {value}",
                [name],
            )

    def _insert(self, sobject: str, data: JSON) -> str:
        record_id = f"{_ID_PREFIX[sobject]}{next(self._ids):012d}AAA"
        record = {"Id": record_id, **data}
        for spec in self.schema[sobject].values():
            if spec.default is not None and record.get(spec.name) in (None, ""):
                record[spec.name] = spec.default
            if spec.type == "boolean":
                record.setdefault(spec.name, False)
        self.records[sobject][record_id] = record
        return record_id
