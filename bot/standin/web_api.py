"""A local stand-in for Slack's Web API, served over HTTP on loopback.

`introbot demo` and the end-to-end tests point slack_sdk's ``AsyncWebClient`` at
``FakeSlack.base_url``. The fake answers the way Slack does (HTTP 200 with
``{"ok": false, "error": ...}`` for API errors) and is deliberately strict where
real Slack is strict (tokens, scopes, required arguments, trigger ids, Block Kit),
so bugs surface locally instead of in a workspace.

Arguments are accepted from the query string, form bodies and JSON bodies alike,
because slack_sdk uses all three: methods called with ``params=`` (e.g. auth.test,
conversations.open, users.info) put their arguments in the URL query string with
an empty body, while chat.* and views.* send a JSON body.
"""

import asyncio
import base64
import contextlib
import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from yarl import URL

from bot.delivery.pace import Rates, gcra
from bot.standin.serving import LoopbackServer

JSON = dict[str, Any]

DEFAULT_METHODS_PATH = Path(__file__).parent / "reference" / "web_api_methods.json"

BOT_USER_ID = "UBOT"
BOT_ID = "BFAKE"
APP_ID = "AFAKE"

# Key accepted by fail_next() to inject faults into response_url deliveries.
RESPONSE_URL_FAULT_KEY = "response_url"

# Slack's documented limits.
MAX_TEXT_LENGTH = 40_000
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
USERS_PAGE_MAX = 1000  # users.list members per page at most
# files.getUploadURLExternal: an image's description for screen readers, at most; and the
# largest file a workspace takes (Slack's 1 GB; a workspace may set less).
ALT_TXT_MAX = 1000
MAX_UPLOAD_BYTES = 1024**3
FILENAME_MAX = 255
# What Slack shows in an image block from a file (slack_file): images.
_IMAGE_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif"}

# Form bodies can only carry strings, so Slack (and we) decode these from JSON.
_JSON_ARGS = ("blocks", "view", "attachments", "metadata", "user_auth_blocks", "outputs")

# Any of these in posted content would ping many people at once.
_BROADCAST_TOKENS = ("<!channel", "<!here", "<!everyone", "<!subteam^")
# With link_names / parse=full, Slack turns plain "@here" into a real mention too.
_LINKED_BROADCAST_WORDS = ("@channel", "@here", "@everyone")

# First "ts" handed out; Slack timestamps are "seconds.microseconds" strings.
_TS_EPOCH = 1_700_000_000

# Enough to make users.info look like Slack for the zones the demo uses.
_TZ_LABELS = {
    "America/New_York": "Eastern Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/Denver": "Mountain Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "Europe/London": "Greenwich Mean Time",
    "Europe/Paris": "Central European Time",
    "Europe/Berlin": "Central European Time",
    "Asia/Tokyo": "Japan Standard Time",
    "UTC": "Coordinated Universal Time",
}


@dataclass
class ApiCall:
    """One Web API request as the fake saw it (token stripped from args)."""

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    at: float
    # The workspace whose token made the call, and the (fake) token itself, so tests can
    # check each workspace is served with its own.
    team_id: str | None = None
    token: str | None = None


@dataclass
class Grant:
    """A bot token the fake accepts: whose it is, and whether it still works."""

    team_id: str | None
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    scopes: list[str] | None = None  # None: the fake's `scopes`
    revoked: bool = False
    expires_at: float | None = None  # time.time() after which Slack answers token_expired


@dataclass
class FunctionExecution:
    """A run of one of the app's custom steps (Workflow Builder), as Slack keeps it: the
    short-lived token handed out with `function_executed`, and how it was completed."""

    id: str
    callback_id: str
    team_id: str | None
    token: str
    workflow_execution_id: str
    state: str = "running"  # then "completed" or "failed"
    outputs: JSON | None = None
    error: str | None = None


# Slack's parameter types as their JSON values; a user id is checked for its shape too.
_PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
    "slack#/types/user_id": (str,),
    "slack#/types/channel_id": (str,),
}


def _parameter_problem(name: str, spec: JSON, value: Any) -> str | None:
    """Why `value` does not fit the declared output parameter, or None."""
    kind = str(spec.get("type", ""))
    accepted = _PARAMETER_TYPES.get(kind)
    if accepted is None:
        return None  # a type the fake does not model: Slack's own check is not repeated
    # JSON's true is no number: a bool fits only a boolean.
    fits = kind == "boolean" if isinstance(value, bool) else isinstance(value, accepted)
    if fits and kind == "slack#/types/user_id":
        fits = value[:1] in ("U", "W") and value[1:].isalnum() and value.upper() == value
    if fits and kind == "slack#/types/channel_id":
        fits = value[:1] in ("C", "D", "G") and value[1:].isalnum()
    return None if fits else f"{name} must be a {kind} [json-pointer:/outputs/{name}]"


@dataclass
class _Code:
    team_id: str | None
    enterprise_id: str | None
    is_enterprise_install: bool
    scopes: list[str]
    redirect_uri: str | None


@dataclass
class _Fault:
    status: int
    error: str | None
    retry_after: int | None
    reset_connection: bool
    # A body that is not Slack's JSON (a proxy's error page), with its content type.
    raw_body: tuple[str, str] | None = None


@dataclass
class _Trigger:
    user_id: str
    issued_at: float
    used: bool = False


class _ApiError(Exception):
    """Raised by handlers; becomes Slack's ``{"ok": false, "error": ...}``."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


def _invalid_arguments(*messages: str, error: str = "invalid_arguments") -> _ApiError:
    return _ApiError(error, response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _truthy(value: Any) -> bool:
    # Form/query values arrive as strings ("1", "true"); JSON ones as real booleans.
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _iter_strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _iter_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _iter_strings(item)


def _decode_json_args(args: JSON) -> None:
    for key in _JSON_ARGS:
        value = args.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            # Leave undecodable strings in place; the validators report them.
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)


class FakeSlack(LoopbackServer):
    """In-memory Slack workspace plus an aiohttp server speaking the Web API."""

    def __init__(
        self,
        *,
        token: str = "xoxb-fake",
        scopes: Iterable[str] = ("commands", "chat:write", "users:read"),
        team_id: str = "T0FAKE",
        trigger_ttl: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        methods_path: Path | None = None,
        rate_limits: Rates | None = None,
    ) -> None:
        self.token = token
        # Socket Mode: the app-level token apps.connections.open takes, and the source of the
        # WebSocket URL it answers with (set by bot.standin.socket_mode.SocketModeStandIn).
        self.app_token = "xapp-1-AFAKE-1-fake"
        self.socket_mode_url: Callable[[], str] | None = None
        # A list (not a set) so "provided" in missing_scope errors keeps the given order.
        self.scopes: list[str] = list(scopes)
        self.team_id = team_id
        # Workspaces (team id -> name, Grid org) and the tokens each was granted.
        self.teams: dict[str, JSON] = {team_id: {"name": "Fake Team", "enterprise_id": None}}
        self.grants: dict[str, Grant] = {token: Grant(team_id)}
        # OAuth v2: the app's credentials, codes handed out by authorize, refresh tokens.
        self.client_id: str | None = None
        self.client_secret: str | None = None
        self.token_rotation = False
        self.token_lifetime = 12 * 3600
        # Whom the browser's authorize step installs for: a workspace, or (team None) a Grid
        # org-wide install on installing_enterprise.
        self.installing_team: str | None = team_id
        self.installing_enterprise: str | None = None
        self._codes: dict[str, _Code] = {}
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> the access token it renews
        self._caller: Grant | None = None
        self.redirect_uri: str | None = None  # the app's one configured redirect URL
        self.trigger_ttl = trigger_ttl
        self.latency = 0.0  # seconds added to every Web API answer
        # Slack's rate limits, enforced per workspace and method (and per channel for
        # chat.postMessage) from each method's tier in the reference, answering 429 with
        # Retry-After when exceeded; None (the default) enforces none.
        self.rate_limits = rate_limits
        self._budgets: dict[tuple[str, str, str], float] = {}
        self._clock = clock
        path = methods_path if methods_path is not None else DEFAULT_METHODS_PATH
        self.methods: dict[str, JSON] = json.loads(path.read_text(encoding="utf-8"))

        # Workspace state, public so tests and the demo can inspect it directly.
        self.users: dict[str, JSON] = {}
        self.channels: dict[str, str] = {}
        self.views: dict[str, JSON] = {}
        self.home_views: dict[str, JSON] = {}
        self.ephemerals: list[JSON] = []
        self.responses: list[JSON] = []
        self.broadcast_mentions: list[JSON] = []
        # Files people shared (for downloads) and files the bot uploaded (by channel).
        self.files: dict[str, JSON] = {}
        self.file_contents: dict[str, bytes] = {}
        self.uploads: list[JSON] = []
        self.max_upload_bytes = MAX_UPLOAD_BYTES
        # User groups by id: {"id", "handle", "team_id", "users", "disabled"}.
        self.usergroups: dict[str, JSON] = {}
        # Shared files fetched with the token; while `downloads_held` is clear, they wait.
        self.downloads: list[str] = []
        self.downloading = 0
        self.downloads_held: asyncio.Event | None = None
        self.calls: list[ApiCall] = []
        # Custom steps: what the app's manifest declares (callback id -> definition), and
        # each run of one, by its function_execution_id.
        self.functions: dict[str, JSON] = {}
        self.executions: dict[str, FunctionExecution] = {}

        self._messages: dict[tuple[str, str], JSON] = {}
        self._dm_by_user: dict[str, str] = {}
        self._user_by_dm: dict[str, str] = {}
        self._mpims: dict[str, tuple[str, ...]] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._external_ids: dict[str, str] = {}
        self._response_urls: dict[str, str] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        # An outage: until this time (time.monotonic()), every Web API call answers a 503.
        self._down_until = 0.0
        self._ts_counter = 0
        self._id_counter = 0

        LoopbackServer.__init__(self)

        self._handlers: dict[str, Callable[[JSON], JSON]] = {
            "api.test": self._api_test,
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "conversations.open": self._conversations_open,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.info": self._files_info,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
            "functions.completeSuccess": self._functions_complete_success,
            "functions.completeError": self._functions_complete_error,
            "usergroups.users.list": self._usergroups_users_list,
            "oauth.v2.access": self._oauth_v2_access,
        }

        # The bot itself exists in the directory, as it does in a real workspace.
        self.add_user(BOT_USER_ID, name="introbot", is_bot=True)

    # ------------------------------------------------------------------ server

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on the running loop; returns the base URL for AsyncWebClient."""
        self._not_running()
        app = web.Application()
        # Slack accepts GET and POST for every method; slack_sdk uses both.
        app.router.add_route("POST", "/api/{method}", self._handle_api)
        app.router.add_route("GET", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{key}", self._handle_response_url)
        # Private file downloads and uploads, both behind the bot token as on Slack.
        app.router.add_get("/files-pri/{file_id}/{name}", self._download_file)
        app.router.add_post("/upload/{file_id}", self._receive_upload)
        # Slack's authorize page, where the installer clicks "Allow" (here: at once).
        app.router.add_get("/oauth/v2/authorize", self._authorize_page)
        await self._serve(app, host, port)
        return self.base_url

    @property
    def base_url(self) -> str:
        """Value for ``AsyncWebClient(base_url=...)``; the trailing slash matters to urljoin."""
        return f"{self.url}/api/"

    # ---------------------------------------------------------------- directory

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        real_name: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "America/New_York",
        tz_offset: int = -18000,
        is_admin: bool = False,
        team_id: str | None = None,
        title: str = "",
        email: str | None = None,
    ) -> JSON:
        full_name = real_name if real_name is not None else name
        team_id = team_id or self.team_id
        user: JSON = {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "real_name": full_name,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_app_user": False,
            "tz": tz,
            "tz_label": _TZ_LABELS.get(tz, tz),
            "tz_offset": tz_offset,
            "is_admin": is_admin,
            "is_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "profile": {
                "real_name": full_name,
                "real_name_normalized": full_name,
                "display_name": name,
                "display_name_normalized": name,
                "team": team_id,
                "title": title,
            },
        }
        if email is not None:  # users.info shows it only with the users:read.email scope
            user["profile"]["email"] = email
        self.users[user_id] = user
        return user

    # -------------------------------------------------------------- workspaces

    @property
    def authorize_url(self) -> str:
        """Stands in for https://slack.com/oauth/v2/authorize."""
        return f"{self.url}/oauth/v2/authorize"

    def add_workspace(
        self, team_id: str, name: str, *, enterprise_id: str | None = None, token: str | None = None
    ) -> str | None:
        """Another workspace (of a Grid org, given enterprise_id), with its own bot user and,
        given `token`, a bot token of its own already granted."""
        self.teams[team_id] = {"name": name, "enterprise_id": enterprise_id}
        self.add_user(self.bot_user_of(team_id), name="introbot", is_bot=True, team_id=team_id)
        if token is not None:
            self.grants[token] = Grant(team_id, enterprise_id)
        return token

    def bot_user_of(self, team_id: str | None) -> str:
        return BOT_USER_ID if team_id in (None, self.team_id) else f"UB{team_id}"

    def enable_oauth(
        self, client_id: str, client_secret: str, *, token_rotation: bool = False
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.token_rotation = token_rotation

    def authorize(
        self,
        team_id: str | None,
        scopes: Iterable[str],
        *,
        redirect_uri: str | None = None,
        enterprise_id: str | None = None,
    ) -> str:
        """The installer approved the app for a workspace (team_id None: org-wide on the Grid
        org enterprise_id): a one-time code for oauth.v2.access."""
        code = f"code-{uuid.uuid4().hex}"
        org = enterprise_id or (self.teams.get(team_id or "") or {}).get("enterprise_id")
        self._codes[code] = _Code(team_id, org, team_id is None, list(scopes), redirect_uri)
        return code

    def revoke_workspace(self, team_id: str) -> None:
        """The app was uninstalled, or its tokens revoked: they answer token_revoked now."""
        for grant in self.grants.values():
            if grant.team_id == team_id:
                grant.revoked = True

    def tokens_of(self, team_id: str | None) -> list[str]:
        """The tokens granted to a workspace, oldest first, revoked ones included."""
        return [token for token, grant in self.grants.items() if grant.team_id == team_id]

    def expire(self, token: str) -> None:
        self.grants[token].expires_at = time.time() - 1

    def add_channel(self, channel_id: str, name: str) -> None:
        self.channels[channel_id] = name

    def add_message(self, channel_id: str, text: str) -> str:
        """A message someone wrote in a channel (for shortcuts and permalinks); returns its ts."""
        if channel_id not in self.channels:
            self.add_channel(channel_id, channel_id.lower())
        ts = self._next_ts()
        self._messages[(channel_id, ts)] = {
            "channel": channel_id,
            "ts": ts,
            "text": text,
            "blocks": None,
            "attachments": None,
            "thread_ts": None,
            "updates": 0,
            "history": [],
        }
        return ts

    def dm_channel(self, user_id: str) -> str:
        """The bot's DM channel with a user; stable for the fake's lifetime."""
        channel = self._dm_by_user.get(user_id)
        if channel is None:
            channel = "D" + user_id[1:]
            if channel in self._user_by_dm:  # U123 and W123 would otherwise collide
                channel = "D" + user_id
            self._dm_by_user[user_id] = channel
            self._user_by_dm[channel] = user_id
        return channel

    def issue_trigger_id(self, user_id: str) -> str:
        """Mint a trigger id as if ``user_id`` had just clicked or run a command."""
        self._id_counter += 1
        trigger_id = f"{self._id_counter}.{self._id_counter * 7919}.{uuid.uuid4().hex}"
        self._triggers[trigger_id] = _Trigger(user_id=user_id, issued_at=self._clock())
        return trigger_id

    def response_url(self, tag: str = "") -> str:
        """A response_url that records what is posted to it into ``self.responses``."""
        key = uuid.uuid4().hex
        self._response_urls[key] = tag
        return f"{self.url}/response/{key}"

    # ------------------------------------------------------------ custom steps

    def declare_functions(self, functions: JSON) -> None:
        """The app manifest's `functions` (callback id -> title, parameters, ...)."""
        self.functions = json.loads(json.dumps(functions))

    def execute_function(
        self, callback_id: str, *, team_id: str | None = None, enterprise_id: str | None = None
    ) -> FunctionExecution:
        """A workflow reached one of the app's steps: Slack mints a function execution and a
        token for it (granted the app's scopes, on the workspace, or org-wide on the Grid org
        given `enterprise_id`), valid until the execution is completed."""
        if callback_id not in self.functions:
            raise ValueError(f"the manifest declares no function {callback_id!r}")
        team = team_id if team_id is not None or enterprise_id else self.team_id
        token = f"xwfp-{team or enterprise_id}-{uuid.uuid4().hex[:16]}"
        self.grants[token] = Grant(team, enterprise_id, is_enterprise_install=team is None)
        execution = FunctionExecution(
            id=self._next_id("Fx"),
            callback_id=callback_id,
            team_id=team,
            token=token,
            workflow_execution_id=self._next_id("Wx"),
        )
        self.executions[execution.id] = execution
        return execution

    def _running_execution(self, args: JSON) -> FunctionExecution:
        execution = self.executions.get(str(args["function_execution_id"]))
        if execution is None:
            raise _ApiError("function_execution_not_found")
        caller = self._caller
        if caller is None or self.grants.get(execution.token) is not caller:
            raise _ApiError("access_denied")  # only the execution's own token completes it
        if execution.state != "running":
            raise _ApiError("execution_not_in_running_state")
        return execution

    def _finish(self, execution: FunctionExecution, state: str) -> None:
        execution.state = state
        self.grants[execution.token].revoked = True  # the token lasts as long as the run

    def _functions_complete_success(self, args: JSON) -> JSON:
        execution = self._running_execution(args)
        outputs = args["outputs"]
        if not isinstance(outputs, dict):
            raise _invalid_arguments("outputs must be an object", error="invalid_arguments")
        declared: JSON = self.functions[execution.callback_id].get("output_parameters") or {}
        problems = [
            f"{name} is not an output of this function" for name in outputs if name not in declared
        ]
        for name, spec in declared.items():
            if name not in outputs:
                if spec.get("is_required"):
                    problems.append(f"missing required output: {name}")
                continue
            problem = _parameter_problem(name, spec, outputs[name])
            if problem:
                problems.append(problem)
        if problems:
            raise _invalid_arguments(*problems, error="parameter_validation_failed")
        execution.outputs = outputs
        self._finish(execution, "completed")
        return {}

    def _functions_complete_error(self, args: JSON) -> JSON:
        execution = self._running_execution(args)
        execution.error = str(args["error"])
        self._finish(execution, "failed")
        return {}

    # ---------------------------------------------------------------- inspection

    def calls_to(self, method: str) -> list[ApiCall]:
        return [call for call in self.calls if call.method == method]

    def count(self, method: str) -> int:
        return len(self.calls_to(method))

    def messages_for(self, user_id: str) -> list[JSON]:
        """Current messages in the bot's DM with ``user_id``, oldest first."""
        channel = self._dm_by_user.get(user_id)
        return [
            {**message, "history": list(message["history"])}
            for (msg_channel, _), message in self._messages.items()
            if msg_channel == channel
        ]

    def reset_calls(self) -> None:
        self.calls.clear()

    # ----------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        reset_connection: bool = False,
        times: int = 1,
        raw_body: tuple[str, str] | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail (FIFO per method).

        status=429 answers "ratelimited" with a Retry-After header, 5xx answers that
        status, ``error`` answers HTTP 200 ``{"ok": false, "error": error}``, and
        ``reset_connection`` drops the TCP connection without any answer, and ``raw_body``
        (content type, text) answers the status with that body instead of Slack's JSON, as a
        proxy or load balancer in front of Slack does.
        """
        if method not in self.methods and method != RESPONSE_URL_FAULT_KEY:
            raise ValueError(f"unknown Slack method {method!r}")  # catches typos in tests
        if times < 1:
            raise ValueError("times must be at least 1")
        if status not in (200, 429) and not 500 <= status <= 599:
            raise ValueError("status must be 200, 429 or 5xx")
        if raw_body is not None and status == 200:
            raise ValueError("a raw body stands for an error page: give a 429/5xx status")
        if status == 200 and error is None and not reset_connection:
            raise ValueError("a fault needs an error, a 429/5xx status or reset_connection")
        fault = _Fault(status, error, retry_after, reset_connection, raw_body)
        self._faults.setdefault(method, deque()).extend([fault] * times)

    def down_for(self, seconds: float) -> None:
        """An outage: every Web API call answers HTTP 503 for the next `seconds`."""
        self._down_until = time.monotonic() + seconds

    def _take_fault(self, key: str) -> _Fault | None:
        queue = self._faults.get(key)
        return queue.popleft() if queue else None

    @staticmethod
    def _drop_connection(request: web.Request) -> web.Response:
        # abort() closes the socket at once, so the client sees ServerDisconnected
        # instead of a response; aiohttp quietly discards the response returned here.
        if request.transport is not None:
            request.transport.abort()
        return web.Response()

    # ------------------------------------------------------------------ routing

    async def _read_args(self, request: web.Request) -> JSON:
        args: JSON = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _ApiError("invalid_json") from None
                if not isinstance(body, dict):
                    raise _ApiError("invalid_json")
                args.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    # Uploaded files are kept by name only; nothing here reads content.
                    if isinstance(value, FileField):
                        args[key] = value.filename
                    elif isinstance(value, bytes | bytearray):
                        args[key] = value.decode("utf-8", "replace")
                    else:
                        args[key] = value
        _decode_json_args(args)
        return args

    @staticmethod
    def _token_of(request: web.Request, args: JSON) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header.removeprefix("Bearer ").strip() or None
        token = args.get("token")
        return str(token) if token else None

    @staticmethod
    def _basic_auth(request: web.Request) -> tuple[str | None, str | None]:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None, None
        try:
            decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
        except ValueError:
            return None, None
        client_id, _, client_secret = decoded.partition(":")
        return client_id, client_secret

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        if self.latency:
            await asyncio.sleep(self.latency)  # Slack's own time to answer, when a test wants it
        try:
            args = await self._read_args(request)
        except _ApiError as exc:
            self._record(method, {}, exc.error)
            return web.json_response({"ok": False, "error": exc.error})
        token = self._token_of(request, args)
        args.pop("token", None)  # never keep secrets in the call log
        client_id, client_secret = self._basic_auth(request)
        if client_id is not None:
            # oauth.v2.access: slack_sdk sends the app's credentials as HTTP Basic auth.
            args.setdefault("client_id", client_id)
            args.setdefault("client_secret", client_secret)

        fault = self._take_fault(method)
        if fault is None and time.monotonic() < self._down_until:
            fault = _Fault(503, None, None, False, None)
        if fault is not None:
            return self._answer_fault(request, method, args, fault)
        retry_after = self._over_limit(method, args, token)
        if retry_after is not None:
            self._record(method, args, "ratelimited", token)
            return web.json_response(
                {"ok": False, "error": "ratelimited"},
                status=429,
                headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
            )

        self._caller = None
        try:
            body = self._dispatch(method, args, token)
        except _ApiError as exc:
            self._record(method, args, exc.error, token)
            return web.json_response({"ok": False, "error": exc.error, **exc.extra})
        self._record(method, args, None, token)
        return web.json_response({"ok": True, **body})

    def _over_limit(self, method: str, args: JSON, token: str | None) -> float | None:
        """Seconds until this call would be within every limit it counts against, or None
        when it is (and then it is counted)."""
        grant = self.grants.get(token or "")
        if self.rate_limits is None or grant is None:
            return None
        tier = self.methods.get(method, {}).get("tier")
        channel = args.get("channel")
        rules = self.rate_limits.rules(
            method, str(channel) if channel else None, tier if isinstance(tier, str) else None
        )
        now = self._clock()
        moved: dict[tuple[str, str, str], float] = {}
        for scope, limit in rules:
            key = (grant.team_id or "", method, scope)
            tat, answer = gcra(self._budgets.get(key), now, limit, max_wait=0.0)
            if tat is None:
                return answer.retry_in
            moved[key] = tat
        self._budgets.update(moved)
        return None

    def _answer_fault(
        self, request: web.Request, method: str, args: JSON, fault: _Fault
    ) -> web.Response:
        if fault.reset_connection:
            self._record(method, args, "connection_reset")
            return self._drop_connection(request)
        headers: dict[str, str] = {}
        if fault.status == 429:
            error = fault.error or "ratelimited"
            headers["Retry-After"] = str(fault.retry_after if fault.retry_after is not None else 1)
        else:
            error = fault.error or "fatal_error"
            if fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
        self._record(method, args, error)
        if fault.raw_body is not None:
            content_type, text = fault.raw_body
            return web.Response(
                text=text, content_type=content_type, status=fault.status, headers=headers
            )
        return web.json_response(
            {"ok": False, "error": error}, status=fault.status, headers=headers
        )

    def _record(self, method: str, args: JSON, error: str | None, token: str | None = None) -> None:
        grant = self.grants.get(token or "")
        self.calls.append(
            ApiCall(
                method=method,
                args=args,
                ok=error is None,
                error=error,
                at=self._clock(),
                team_id=grant.team_id if grant is not None else None,
                token=token if grant is not None else None,
            )
        )

    def _dispatch(self, method: str, args: JSON, token: str | None) -> JSON:
        # Same order of checks as Slack: method, auth, scope, then arguments.
        spec = self.methods.get(method)
        if spec is None:
            raise _ApiError("unknown_method")
        if spec.get("deprecated"):
            raise _ApiError("method_deprecated")
        if method == "apps.connections.open":
            return self._apps_connections_open(token)  # app-level token, not the bot's
        # Methods whose reference lists no "token" argument (api.test, oauth.*) need no auth.
        if "token" in spec.get("args", ["token"]):
            if token is None:
                raise _ApiError("not_authed")
            grant = self.grants.get(token)
            if grant is None:
                raise _ApiError("invalid_auth")
            if grant.revoked:
                raise _ApiError("token_revoked")
            if grant.expires_at is not None and grant.expires_at < time.time():
                raise _ApiError("token_expired")
            self._caller = grant
        scopes = self.scopes
        if self._caller is not None and self._caller.scopes is not None:
            scopes = self._caller.scopes
        needed: list[str] = spec.get("scopes", [])
        # The reference lists alternatives: any one of them grants access.
        if needed and not set(needed) & set(scopes):
            raise _ApiError("missing_scope", needed=",".join(needed), provided=",".join(scopes))
        missing = [
            name
            for name in spec.get("required", [])
            if name != "token"
            and _is_empty(args.get(name))
            # A function with no outputs completes with an empty object.
            and not (name == "outputs" and args.get(name) == {})
        ]
        if missing:
            raise _invalid_arguments(*(f"missing required field: {name}" for name in missing))
        handler = self._handlers.get(method)
        # Known methods without special behaviour just succeed (and are recorded).
        return handler(args) if handler is not None else {}

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        tag = self._response_urls.get(key)
        if tag is None:
            return web.Response(status=404, text="expired_url")
        fault = self._take_fault(RESPONSE_URL_FAULT_KEY)
        if fault is not None:
            if fault.reset_connection:
                return self._drop_connection(request)
            headers: dict[str, str] = {}
            if fault.retry_after is not None or fault.status == 429:
                headers["Retry-After"] = str(fault.retry_after or 1)
            return web.Response(status=fault.status, text=fault.error or "fault", headers=headers)
        try:
            body = await request.json()
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        if isinstance(body, dict):
            _decode_json_args(body)
            self._scan_broadcast("response_url", tag, body)
        url = f"{self.url}/response/{key}"  # as handed out, whatever Host header came in
        self.responses.append({"url": url, "tag": tag, "body": body})
        return web.Response(text="ok")

    # ------------------------------------------------------------- validation

    def _scan_broadcast(self, method: str, channel: str, args: JSON) -> None:
        # Recorded, not refused: Slack would deliver these, and the tests assert none exist.
        linked = _truthy(args.get("link_names")) or args.get("parse") == "full"
        content = [args.get(key) for key in ("text", "markdown_text", "blocks", "attachments")]
        for text in _iter_strings(content):
            for needle in _BROADCAST_TOKENS + (_LINKED_BROADCAST_WORDS if linked else ()):
                if needle in text:
                    self.broadcast_mentions.append(
                        {"method": method, "channel": channel, "mention": needle, "text": text}
                    )

    @staticmethod
    def _validate_blocks(raw: Any, *, limit: int, error: str, pointer: str) -> list[JSON]:
        if not isinstance(raw, list):
            raise _invalid_arguments(
                f"expected an array of blocks [json-pointer:{pointer}]",
                error="invalid_blocks_format" if error == "invalid_blocks" else error,
            )
        if len(raw) > limit:
            raise _invalid_arguments(
                f"no more than {limit} items allowed [json-pointer:{pointer}]", error=error
            )
        for index, block in enumerate(raw):
            where = f"[json-pointer:{pointer}/{index}]"
            if not isinstance(block, dict):
                raise _invalid_arguments(f"expected an object {where}", error=error)
            try:
                parsed = Block.parse(block)
                if parsed is None:  # slack_sdk only logs unknown types; Slack refuses them
                    raise ValueError(f"unsupported block type {block.get('type')!r}")
                # to_dict() validates nested elements too; validate_json() alone does not.
                parsed.to_dict()
            except (SlackObjectFormationError, ValueError, TypeError, AttributeError) as exc:
                raise _invalid_arguments(f"{exc} {where}", error=error) from None
        return raw

    def _check_slack_files(self, blocks: list[JSON], *, error: str, pointer: str) -> None:
        """An image (a block, or an element of a context block or a section's accessory) shown
        from a Slack file must name, by id or URL, an image uploaded and completed in the
        caller's workspace, as Slack checks it: "invalid slack file" otherwise."""
        for index, block in enumerate(blocks):
            images = [(f"{pointer}/{index}", block)]
            accessory = block.get("accessory")
            if isinstance(accessory, dict):
                images.append((f"{pointer}/{index}/accessory", accessory))
            for number, element in enumerate(block.get("elements") or []):
                if isinstance(element, dict):
                    images.append((f"{pointer}/{index}/elements/{number}", element))
            for where, image in images:
                source = image.get("slack_file")
                if (
                    image.get("type") == "image"
                    and source is not None
                    and not self._showable_file(source)
                ):
                    raise _invalid_arguments(
                        f"invalid slack file [json-pointer:{where}/slack_file]", error=error
                    )

    def _showable_file(self, source: Any) -> bool:
        if not isinstance(source, dict):
            return False
        if source.get("id"):
            info = self.files.get(str(source["id"]))
        else:
            url = str(source.get("url") or "")
            info = next(
                (
                    f
                    for f in self.files.values()
                    if url in (f.get("url_private"), f.get("permalink"))
                ),
                None,
            )
        if info is None or info.get("pending") or info["id"] not in self.file_contents:
            return False
        team = self._caller.team_id if self._caller is not None else self.team_id
        return info.get("user_team", self.team_id) == team and info.get("mimetype") in set(
            _IMAGE_TYPES.values()
        )

    def _validate_message(self, args: JSON) -> None:
        text = args.get("text")
        if text is not None and len(str(text)) > MAX_TEXT_LENGTH:
            raise _ApiError("msg_too_long")
        if args.get("blocks") is not None:
            self._validate_blocks(
                args["blocks"], limit=MAX_MESSAGE_BLOCKS, error="invalid_blocks", pointer="/blocks"
            )
            self._check_slack_files(args["blocks"], error="invalid_blocks", pointer="/blocks")
        has_content = any(
            not _is_empty(args.get(key))
            for key in ("text", "markdown_text", "blocks", "attachments")
        )
        if not has_content:
            raise _ApiError("no_text")

    def _validate_view(self, args: JSON, *, view_type: str | None) -> JSON:
        raw = args.get("view")
        if not isinstance(raw, dict):
            raise _invalid_arguments("failed to parse view: expected a JSON object")
        if view_type is not None and raw.get("type") != view_type:
            raise _invalid_arguments(f"view type must be {view_type} [json-pointer:/view/type]")
        if raw.get("blocks") is not None:
            self._validate_blocks(
                raw["blocks"],
                limit=MAX_VIEW_BLOCKS,
                error="invalid_arguments",
                pointer="/view/blocks",
            )
            self._check_slack_files(
                raw["blocks"], error="invalid_arguments", pointer="/view/blocks"
            )
        if raw.get("type") == "modal":
            if _is_empty(raw.get("title")):
                raise _invalid_arguments("missing required field: title [json-pointer:/view]")
            has_input = any(
                isinstance(b, dict) and b.get("type") == "input" for b in raw.get("blocks") or []
            )
            if has_input and _is_empty(raw.get("submit")):
                raise _invalid_arguments(
                    "must provide a submit property when using input blocks [json-pointer:/view]"
                )
        try:
            View(**raw).to_dict()
        except (SlackObjectFormationError, ValueError, TypeError, AttributeError) as exc:
            raise _invalid_arguments(f"{exc} [json-pointer:/view]") from None
        return raw

    def _exchange_trigger(self, args: JSON) -> str:
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if _is_empty(trigger_id):
            raise _invalid_arguments("missing required field: trigger_id")
        trigger = self._triggers.get(str(trigger_id))
        if trigger is None:
            raise _ApiError("invalid_trigger_id")
        if trigger.used:
            raise _ApiError("exchanged_trigger_id")
        if self._clock() - trigger.issued_at > self.trigger_ttl:
            raise _ApiError("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    # ------------------------------------------------------------ channels/ids

    def _next_ts(self) -> str:
        # Strictly increasing and fixed-width, so string order equals time order.
        self._ts_counter += 100
        seconds, micros = divmod(self._ts_counter, 1_000_000)
        return f"{_TS_EPOCH + seconds}.{micros:06d}"

    def _next_id(self, prefix: str) -> str:
        self._id_counter += 1
        return f"{prefix}{self._id_counter:010d}"

    def _visible_user(self, user_id: str) -> JSON | None:
        """A user the calling token's workspace can see: its own, or its Grid org's."""
        user = self.users.get(user_id)
        caller = self._caller
        if user is None or caller is None or user["team_id"] == caller.team_id:
            return user
        org = (self.teams.get(user["team_id"]) or {}).get("enterprise_id")
        if caller.is_enterprise_install and org is not None and org == caller.enterprise_id:
            return user
        return None

    def _dm_target(self, user_id: str) -> str:
        user = self._visible_user(user_id)
        if user is None:
            raise _ApiError("user_not_found")
        if user["deleted"]:
            raise _ApiError("user_disabled")
        if user["is_bot"]:
            raise _ApiError("cannot_dm_bot")
        return self.dm_channel(user_id)

    def _resolve_channel(self, value: Any) -> str:
        channel = str(value)
        # chat.postMessage accepts a user id and posts into the bot's DM with them.
        if channel[:1] in ("U", "W"):
            return self._dm_target(channel)
        if channel.startswith("#"):
            for channel_id, name in self.channels.items():
                if name == channel[1:]:
                    return channel_id
            raise _ApiError("channel_not_found")
        if channel in self.channels or channel in self._user_by_dm or channel in self._mpims:
            return channel
        raise _ApiError("channel_not_found")

    def _message_payload(self, message: JSON) -> JSON:
        payload: JSON = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": self.team_id,
            "text": message["text"] or "",
            "ts": message["ts"],
        }
        if message["blocks"] is not None:
            payload["blocks"] = message["blocks"]
        if message["thread_ts"] is not None:
            payload["thread_ts"] = message["thread_ts"]
        return payload

    # ---------------------------------------------------------------- handlers

    def _api_test(self, args: JSON) -> JSON:
        # Slack echoes the arguments, and fails on purpose when given "error".
        if not _is_empty(args.get("error")):
            raise _ApiError(str(args["error"]), args=args)
        return {"args": args}

    def _auth_test(self, args: JSON) -> JSON:
        caller = self._caller or Grant(self.team_id)
        answer: JSON = {
            "url": "https://fake.slack.com/",
            "team": (self.teams.get(caller.team_id or "") or {}).get("name"),
            "user": "introbot",
            "team_id": caller.team_id,
            "user_id": self.bot_user_of(caller.team_id),
            "bot_id": BOT_ID,
            "is_enterprise_install": caller.is_enterprise_install,
        }
        if caller.enterprise_id is not None:
            answer["enterprise_id"] = caller.enterprise_id
        return answer

    def _oauth_v2_access(self, args: JSON) -> JSON:
        # Slack checks the app's credentials first, then the code or refresh token.
        if self.client_id is None or args.get("client_id") != self.client_id:
            raise _ApiError("invalid_client_id")
        if args.get("client_secret") != self.client_secret:
            raise _ApiError("bad_client_secret")
        if args.get("grant_type") == "refresh_token":
            return self._refresh(str(args.get("refresh_token") or ""))
        code = self._codes.pop(str(args.get("code") or ""), None)
        if code is None:
            raise _ApiError("invalid_code")
        if code.redirect_uri and args.get("redirect_uri") not in (None, "", code.redirect_uri):
            raise _ApiError("bad_redirect_uri")
        token = f"xoxb-{code.team_id or code.enterprise_id}-{uuid.uuid4().hex[:12]}"
        if self.token_rotation:
            token = "xoxe." + token
        self.grants[token] = Grant(
            code.team_id, code.enterprise_id, code.is_enterprise_install, code.scopes
        )
        team = self.teams.get(code.team_id or "") or {}
        org = code.enterprise_id
        answer: JSON = {
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(code.scopes),
            "bot_user_id": self.bot_user_of(code.team_id),
            "app_id": APP_ID,
            "team": {"id": code.team_id, "name": team.get("name")} if code.team_id else None,
            "enterprise": {"id": org, "name": f"Org {org}"} if org else None,
            "is_enterprise_install": code.is_enterprise_install,
            "authed_user": {"id": "U0INSTALLER"},
        }
        if self.token_rotation:
            answer.update(self._rotating(token))
        return answer

    def _rotating(self, token: str) -> JSON:
        refresh = f"xoxe-1-{uuid.uuid4().hex}"
        self._refresh_tokens[refresh] = token
        self.grants[token].expires_at = time.time() + self.token_lifetime
        return {"refresh_token": refresh, "expires_in": self.token_lifetime}

    def _refresh(self, refresh_token: str) -> JSON:
        old = self._refresh_tokens.pop(refresh_token, None)
        if old is None or self.grants[old].revoked:
            raise _ApiError("invalid_refresh_token")
        grant = self.grants[old]
        token = f"xoxe.xoxb-{grant.team_id or grant.enterprise_id}-{uuid.uuid4().hex[:12]}"
        self.grants[token] = Grant(
            grant.team_id, grant.enterprise_id, grant.is_enterprise_install, grant.scopes
        )
        team = self.teams.get(grant.team_id or "") or {}
        return {
            "access_token": token,
            "token_type": "bot",
            "scope": ",".join(grant.scopes or self.scopes),
            "bot_user_id": self.bot_user_of(grant.team_id),
            "app_id": APP_ID,
            "team": {"id": grant.team_id, "name": team.get("name")} if grant.team_id else None,
            "enterprise": {"id": grant.enterprise_id} if grant.enterprise_id else None,
            "is_enterprise_install": grant.is_enterprise_install,
            **self._rotating(token),
        }

    def _apps_connections_open(self, token: str | None) -> JSON:
        # Slack takes only an app-level token here, and a fresh URL is handed out each call.
        if token is None:
            raise _ApiError("not_authed")
        if not token.startswith("xapp-"):
            raise _ApiError("not_allowed_token_type")
        if token != self.app_token:
            raise _ApiError("invalid_auth")
        if self.socket_mode_url is None:
            raise RuntimeError("apps.connections.open needs a SocketModeStandIn on this FakeSlack")
        return {"url": self.socket_mode_url()}

    async def _authorize_page(self, request: web.Request) -> web.StreamResponse:
        """The installer approves at once: back to the app's redirect URL with a code."""
        query = request.query
        if self.client_id is None or query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        redirect_uri = query.get("redirect_uri") or self.redirect_uri
        if not redirect_uri:
            return web.Response(status=400, text="no redirect_uri")
        scopes = [s for s in query.get("scope", "").split(",") if s]
        code = self.authorize(
            self.installing_team,
            scopes,
            redirect_uri=query.get("redirect_uri"),
            enterprise_id=self.installing_enterprise,
        )
        target = URL(redirect_uri).update_query(code=code, state=query.get("state", ""))
        raise web.HTTPFound(str(target))

    def _users_info(self, args: JSON) -> JSON:
        user = self._visible_user(str(args["user"]))
        if user is None:
            raise _ApiError("user_not_found")
        found: JSON = json.loads(json.dumps(user))  # deep copy: callers may mutate
        if "users:read.email" not in self.scopes:  # as Slack: no email without the scope
            found["profile"].pop("email", None)
        return {"user": found}

    def _users_list(self, args: JSON) -> JSON:
        # Slack pages with an opaque cursor; a page holds at most `limit` (default and
        # maximum here 1,000) members, and the last page's next_cursor is "".
        limit = int(args.get("limit") or USERS_PAGE_MAX)
        if limit < 1:
            raise _ApiError("invalid_limit")
        limit = min(limit, USERS_PAGE_MAX)
        start = 0
        if not _is_empty(args.get("cursor")):
            try:
                start = int(base64.b64decode(str(args["cursor"])).decode().removeprefix("user:"))
            except ValueError as exc:
                raise _ApiError("invalid_cursor") from exc
        visible = [user for user in self.users.values() if self._visible_user(user["id"])]
        members = visible[start : start + limit]
        following = start + limit
        next_cursor = (
            base64.b64encode(f"user:{following}".encode()).decode()
            if following < len(visible)
            else ""
        )
        return {
            "members": json.loads(json.dumps(members)),  # deep copy: callers may mutate
            "response_metadata": {"next_cursor": next_cursor},
        }

    def _conversations_open(self, args: JSON) -> JSON:
        if not _is_empty(args.get("channel")):
            return {"channel": {"id": self._resolve_channel(args["channel"])}}
        users = args.get("users")
        if _is_empty(users):
            raise _ApiError("users_list_not_supplied")
        ids = users if isinstance(users, list) else str(users).split(",")
        ids = [str(u).strip() for u in ids if str(u).strip()]
        if len(ids) == 1:
            already_open = ids[0] in self._dm_by_user
            channel = self._dm_target(ids[0])
            return {
                "channel": {"id": channel},
                "no_op": already_open,
                "already_open": already_open,
            }
        for user_id in ids:
            self._dm_target(user_id)
        members = tuple(sorted(set(ids)))
        for mpim_id, existing in self._mpims.items():
            if existing == members:
                return {"channel": {"id": mpim_id}, "no_op": True, "already_open": True}
        mpim_id = self._next_id("G")
        self._mpims[mpim_id] = members
        return {"channel": {"id": mpim_id}}

    def _chat_post_message(self, args: JSON) -> JSON:
        channel = self._resolve_channel(args["channel"])
        self._validate_message(args)
        self._scan_broadcast("chat.postMessage", channel, args)
        ts = self._next_ts()
        message: JSON = {
            "channel": channel,
            "ts": ts,
            "text": args.get("text"),
            "blocks": args.get("blocks"),
            "attachments": args.get("attachments"),
            "thread_ts": args.get("thread_ts"),
            "updates": 0,
            "history": [],
        }
        self._messages[(channel, ts)] = message
        return {"channel": channel, "ts": ts, "message": self._message_payload(message)}

    def _chat_update(self, args: JSON) -> JSON:
        channel, ts = str(args["channel"]), str(args["ts"])
        message = self._messages.get((channel, ts))
        if message is None:
            raise _ApiError("message_not_found")
        self._validate_message(args)
        self._scan_broadcast("chat.update", channel, args)
        message["history"].append(
            {"text": message["text"], "blocks": message["blocks"], "at": self._clock()}
        )
        # Like Slack: omitted blocks/attachments are kept, given ones replace.
        for key in ("text", "blocks", "attachments"):
            if key in args:
                message[key] = args[key]
        message["updates"] += 1
        return {
            "channel": channel,
            "ts": ts,
            "text": message["text"] or "",
            "message": self._message_payload(message),
        }

    def _chat_delete(self, args: JSON) -> JSON:
        channel, ts = str(args["channel"]), str(args["ts"])
        if self._messages.pop((channel, ts), None) is None:
            raise _ApiError("message_not_found")
        return {"channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, args: JSON) -> JSON:
        channel = self._resolve_channel(args["channel"])
        user_id = str(args["user"])
        user = self.users.get(user_id)
        if user is None:
            raise _ApiError("user_not_found")
        dm_owner = self._user_by_dm.get(channel)
        if dm_owner is not None and dm_owner != user_id:
            raise _ApiError("user_not_in_channel")
        self._validate_message(args)
        self._scan_broadcast("chat.postEphemeral", channel, args)
        ts = self._next_ts()
        self.ephemerals.append(
            {
                "channel": channel,
                "user": user_id,
                "text": args.get("text"),
                "blocks": args.get("blocks"),
                "message_ts": ts,
            }
        )
        return {"message_ts": ts}

    def _chat_get_permalink(self, args: JSON) -> JSON:
        channel, ts = str(args["channel"]), str(args["message_ts"])
        if (channel, ts) not in self._messages:
            raise _ApiError("message_not_found")
        return {
            "channel": channel,
            "permalink": f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _render_view(self, raw: JSON, view_id: str, previous: JSON | None) -> JSON:
        """The view object Slack echoes back: the input plus server-side fields."""
        view = {key: value for key, value in raw.items() if key not in ("state", "hash", "id")}
        view.update(
            {
                "id": view_id,
                "team_id": self.team_id,
                "app_id": APP_ID,
                "bot_id": BOT_ID,
                "app_installed_team_id": self.team_id,
                "callback_id": raw.get("callback_id", ""),
                "external_id": raw.get("external_id", ""),
                "private_metadata": raw.get("private_metadata", ""),
                "state": {"values": {}},
                "hash": uuid.uuid4().hex[:16],
                "root_view_id": previous["root_view_id"] if previous else view_id,
                "previous_view_id": None,
            }
        )
        return view

    def _claim_external_id(self, raw: JSON, view_id: str) -> None:
        external_id = raw.get("external_id")
        if _is_empty(external_id):
            return
        owner = self._external_ids.get(str(external_id))
        if owner is not None and owner != view_id:
            raise _ApiError("duplicate_external_id")
        self._external_ids[str(external_id)] = view_id

    def _views_open(self, args: JSON) -> JSON:
        # Validate before exchanging, so a rejected view does not burn the trigger.
        raw = self._validate_view(args, view_type="modal")
        self._exchange_trigger(args)
        view_id = self._next_id("V")
        self._claim_external_id(raw, view_id)
        view = self._render_view(raw, view_id, None)
        self.views[view_id] = view
        return {"view": view}

    def _views_update(self, args: JSON) -> JSON:
        view_id = args.get("view_id")
        if _is_empty(view_id) and not _is_empty(args.get("external_id")):
            view_id = self._external_ids.get(str(args["external_id"]))
        current = self.views.get(str(view_id)) if view_id else None
        if current is None:
            raise _ApiError("not_found")
        if not _is_empty(args.get("hash")) and args["hash"] != current["hash"]:
            raise _ApiError("hash_conflict")
        raw = self._validate_view(args, view_type=current["type"])
        self._claim_external_id(raw, current["id"])
        view = self._render_view(raw, current["id"], current)
        self.views[current["id"]] = view
        for user_id, home in self.home_views.items():
            if home["id"] == current["id"]:
                self.home_views[user_id] = view
        return {"view": view}

    @property
    def files_url(self) -> str:
        """Where this fake serves shared files from: its stand-in for https://files.slack.com/."""
        return f"{self.url}/"

    def add_file(
        self,
        user_id: str,
        name: str,
        content: bytes,
        *,
        mode: str = "hosted",
        download_url: str | None = None,
    ) -> JSON:
        """A file a user shared (e.g. in the bot's DM); returns its Slack file object.

        ``mode="external"`` is a link to a file kept elsewhere (Google Drive, say), as Slack
        reports it; ``download_url`` overrides where files.info says the file can be fetched.
        """
        file_id = self._next_id("F")
        hosted_url = f"{self.url}/files-pri/{file_id}/{name}"
        info: JSON = {
            "id": file_id,
            "name": name,
            "title": name,
            "user": user_id,
            "size": len(content),
            "filetype": name.rsplit(".", 1)[-1].lower() if "." in name else "text",
            "mimetype": "text/csv" if name.lower().endswith(".csv") else "text/plain",
            "mode": mode,
            "is_external": mode == "external",
            "url_private": download_url or hosted_url,
            "url_private_download": download_url or hosted_url,
            "user_team": (self.users.get(user_id) or {}).get("team_id", self.team_id),
        }
        if mode == "external":
            info["external_type"] = "gdrive"
        self.files[file_id] = info
        self.file_contents[file_id] = content
        return info

    def _files_info(self, args: JSON) -> JSON:
        info = self.files.get(str(args["file"]))
        if info is None:
            raise _ApiError("file_not_found")
        return {"file": info}

    def _files_get_upload_url(self, args: JSON) -> JSON:
        """An upload ticket: the file's id and a single-use URL (on this fake) to POST its
        bytes to, which files.completeUploadExternal then shares (or keeps private)."""
        try:
            length = int(str(args["length"]))
        except ValueError:
            raise _invalid_arguments("length must be an integer") from None
        if length <= 0:
            raise _ApiError("missing_argument")  # "typically only when length is 0"
        if length > self.max_upload_bytes:
            raise _ApiError("file_upload_size_restricted")
        alt_txt = args.get("alt_txt")
        if alt_txt is not None and len(str(alt_txt)) > ALT_TXT_MAX:
            raise _ApiError("alt_txt_too_large")
        filename = str(args["filename"]).strip()
        if len(filename) > FILENAME_MAX or "/" in filename or "\\" in filename:
            raise _invalid_arguments("invalid filename")
        extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        file_id = self._next_id("F")
        caller = self._caller.team_id if self._caller is not None else None
        self.files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "user": BOT_USER_ID,
            "user_team": caller or self.team_id,
            "size": length,
            "filetype": extension or "binary",
            "mimetype": _IMAGE_TYPES.get(
                extension, "text/csv" if extension == "csv" else "application/octet-stream"
            ),
            "mode": "hosted",
            "is_external": False,
            "is_public": False,
            "alt_txt": str(alt_txt) if alt_txt is not None else "",
            "url_private": f"{self.url}/files-pri/{file_id}/{filename}",
            "url_private_download": f"{self.url}/files-pri/{file_id}/{filename}",
            "permalink": f"https://fake.slack.com/files/{BOT_USER_ID}/{file_id}/{filename}",
            "channels": [],
            "pending": True,
        }
        return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def _upload_items(self, raw: Any) -> list[JSON]:
        try:
            items = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            raise _invalid_arguments("files must be a JSON array") from None
        if not isinstance(items, list) or not items:
            raise _invalid_arguments("files must be a non-empty array")
        if not all(isinstance(item, dict) and item.get("id") for item in items):
            raise _invalid_arguments("each file needs an id")
        return items

    def _files_complete_upload(self, args: JSON) -> JSON:
        """Finishes uploads: each ticket once, only with its bytes received, only in the
        workspace that asked for it ("Could not find the file from the upload ticket")."""
        items = self._upload_items(args["files"])
        caller = self._caller.team_id if self._caller is not None else self.team_id
        shared = [str(c) for c in str(args.get("channels") or "").split(",") if c.strip()]
        if not _is_empty(args.get("channel_id")):
            shared.insert(0, str(args["channel_id"]))
        channels = [self._resolve_channel(channel) for channel in shared]
        for item in items:
            info = self.files.get(str(item["id"]))
            if (
                info is None
                or not info.get("pending")
                or info.get("user_team") != caller
                or str(item["id"]) not in self.file_contents
            ):
                raise _ApiError("file_not_found")
        completed = []
        for item in items:
            info = self.files[str(item["id"])]
            info.pop("pending", None)
            info["title"] = item.get("title") or info["name"]
            info["channels"] = channels
            completed.append(info)
            self.uploads.append(
                {
                    "channel": args.get("channel_id"),
                    "file": info,
                    "content": self.file_contents[str(item["id"])],
                    "initial_comment": args.get("initial_comment"),
                }
            )
        return {"files": completed}

    async def _download_file(self, request: web.Request) -> web.StreamResponse:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        grant = self.grants.get(bearer)
        if grant is None or grant.revoked:
            # Slack answers a login page, not the file, without the token.
            return web.Response(status=302, headers={"Location": f"{self.url}/signin"})
        file_id = request.match_info["file_id"]
        content = self.file_contents.get(file_id)
        if content is None:
            return web.Response(status=404)
        self.downloads.append(file_id)
        self.downloading += 1
        try:
            if self.downloads_held is not None:
                await self.downloads_held.wait()
            return web.Response(body=content, content_type="application/octet-stream")
        finally:
            self.downloading -= 1

    async def _receive_upload(self, request: web.Request) -> web.StreamResponse:
        """The upload URL: the file's bytes, raw or as a multipart form, once, and exactly as
        many as the ticket said. Slack answers 200 when it took them, anything else when not."""
        file_id = request.match_info["file_id"]
        info = self.files.get(file_id)
        if info is None or not info.get("pending") or file_id in self.file_contents:
            return web.Response(status=404, text="unknown upload")
        if request.content_type == "multipart/form-data":
            form = await request.post()
            fields = [value for value in form.values() if isinstance(value, FileField)]
            if not fields:
                return web.Response(status=400, text="no file in the form")
            content = fields[0].file.read()
        else:
            content = await request.read()
        if len(content) != info["size"]:
            return web.Response(status=400, text="length does not match the upload ticket")
        self.file_contents[file_id] = content
        return web.Response(text="OK - " + str(len(content)))

    def add_usergroup(
        self,
        group_id: str,
        handle: str,
        users: Iterable[str],
        *,
        team_id: str | None = None,
        disabled: bool = False,
    ) -> None:
        """A user group (an @handle) of the workspace, with its members."""
        self.usergroups[group_id] = {
            "id": group_id,
            "handle": handle,
            "team_id": team_id or self.team_id,
            "users": list(users),
            "disabled": disabled,
        }

    def _usergroups_users_list(self, args: JSON) -> JSON:
        group = self.usergroups.get(str(args["usergroup"]))
        caller = self._caller.team_id if self._caller is not None else self.team_id
        if group is None or group["team_id"] != caller:
            raise _ApiError("no_such_subteam")
        if group["disabled"] and not _truthy(args.get("include_disabled")):
            raise _ApiError("no_such_subteam")
        return {"users": list(group["users"])}

    def _views_publish(self, args: JSON) -> JSON:
        user_id = str(args["user_id"])
        if user_id not in self.users:
            raise _ApiError("user_not_found")
        current = self.home_views.get(user_id)
        stale_hash = current is not None and args.get("hash") not in (None, "", current["hash"])
        if stale_hash:
            raise _ApiError("hash_conflict")
        raw = self._validate_view(args, view_type="home")
        # A user's Home tab keeps its view id across publishes.
        view_id = current["id"] if current is not None else self._next_id("V")
        view = self._render_view(raw, view_id, current)
        self.views[view_id] = view
        self.home_views[user_id] = view
        return {"view": view}
