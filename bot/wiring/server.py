"""The HTTP endpoint (`introbot serve`): POST /slack/events, and the operator's routes
(GET /healthz, /readyz, /metrics: bot.wiring.health)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.delivery.crm import CrmUnauthorized, CrmUnavailable
from bot.delivery.crm.hubspot_oauth import REDIRECT_PATH
from bot.intro.crm import CrmVendor
from bot.rendering.templating import render_html
from bot.services.container import Services
from bot.wiring.health import add_operator_routes
from bot.wiring.sweeper import start_sweeper

logger = logging.getLogger(__name__)

# Slack's payloads are small; anything much larger is not from Slack.
MAX_BODY_BYTES = 1024 * 1024
SERVICES_KEY = web.AppKey("services", Services)
BOLT_KEY = web.AppKey("bolt", AsyncApp)


class AccessLog(AbstractAccessLogger):
    """One line per HTTP request: method, path, status, time taken. Never the query string
    (/slack/oauth_redirect carries the OAuth code and state in it) nor headers."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s in %.3f s", request.method, request.path, response.status, time)


async def slack_events(request: web.Request) -> web.Response:
    bolt = request.app[BOLT_KEY]
    services = request.app[SERVICES_KEY]
    raw = await request.read()
    try:
        body = raw.decode("utf-8")
        bolt_request = _parsed(request, body)
    except ValueError as exc:  # UnicodeDecodeError included
        # Answer 401 to a forger and 400 to Slack (or anyone signing) sending junk. The signature
        # is checked on the raw bytes: slack_sdk's verifier decodes them as UTF-8 first.
        if not signed_by_slack(services.settings.SLACK_SIGNING_SECRET or "", raw, request):
            return web.Response(status=401, text="invalid request signature")
        # The body itself stays out of the log: it may hold names and messages.
        logger.warning("malformed Slack payload (%s, %d bytes)", type(exc).__name__, len(raw))
        return web.Response(status=400, text="malformed payload")
    bolt_response = await bolt.async_dispatch(bolt_request)
    return await to_aiohttp_response(bolt_response)


def signed_by_slack(secret: str, raw: bytes, request: web.Request) -> bool:
    """Slack's v0 signature over the raw body, with its five-minute timestamp window."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not secret or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 5 * 60:
        return False
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256)
    return hmac.compare_digest(f"v0={digest.hexdigest()}", signature)


def _parsed(request: web.Request, body: str) -> AsyncBoltRequest:
    """Bolt's request, or ValueError for a body that is not a Slack payload."""
    try:
        bolt_request = AsyncBoltRequest(
            body=body, query=request.query_string, headers=dict(request.headers)
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(type(exc).__name__) from exc
    if not isinstance(bolt_request.body, dict):
        raise ValueError("payload is not an object")
    return bolt_request


async def slack_oauth(request: web.Request) -> web.Response:
    """Distributed mode: GET /slack/install (the "Add to Slack" page, which sets the state
    cookie) and GET /slack/oauth_redirect (Slack sends the installer back here)."""
    flow = request.app[BOLT_KEY].oauth_flow
    if flow is None:
        raise web.HTTPNotFound()
    bolt_request = AsyncBoltRequest(
        body="", query=request.query_string, headers=dict(request.headers)
    )
    if request.path == flow.install_path:
        bolt_response = await flow.handle_installation(bolt_request)
    else:
        bolt_response = await flow.handle_callback(bolt_request)
    return await to_aiohttp_response(bolt_response)


async def hubspot_connected(request: web.Request) -> web.Response:
    """GET /crm/hubspot/oauth_redirect: HubSpot sends the admin back with a code for the
    state issued to them (bot.delivery.crm.hubspot_oauth). The state is checked and used up
    first; the code is exchanged, the connection checked and stored like a pasted token's."""
    services = request.app[SERVICES_KEY]
    oauth = services.hubspot_oauth
    if oauth is None or services.crm is None:
        raise web.HTTPNotFound()
    query = request.query
    connecting = await oauth.accept(query.get("state", ""))
    if connecting is None:
        return _connect_page("expired", status=400)
    if "error" in query or not query.get("code"):
        return _connect_page("cancelled")
    try:
        credentials = await oauth.tokens.exchange(query["code"])
    except CrmUnauthorized:
        return _connect_page("refused", status=400)
    except CrmUnavailable:
        return _connect_page("no_answer", status=502)
    result = await services.crm.connect(
        connecting.team_id, CrmVendor.HUBSPOT, credentials, connecting.user_id
    )
    logger.info("hubspot connect for %s: %s", connecting.team_id, result.outcome)
    return _connect_page(result.outcome, account=result.account, missing=result.missing)


def _connect_page(outcome: str, *, status: int = 200, **words: object) -> web.Response:
    page = render_html("crm_connect_result.html.j2", outcome=outcome, **words)
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


def web_app(bolt: AsyncApp, services: Services, *, sweep: bool = True) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[BOLT_KEY] = bolt
    app[SERVICES_KEY] = services
    app.router.add_post("/slack/events", slack_events)
    add_operator_routes(app, services)
    if bolt.oauth_flow is not None:
        app.router.add_get(bolt.oauth_flow.install_path, slack_oauth)
        app.router.add_get(bolt.oauth_flow.redirect_uri_path, slack_oauth)
    if services.hubspot_oauth is not None:
        app.router.add_get(REDIRECT_PATH, hubspot_connected)
    app.on_startup.append(_open_http)
    if sweep:
        app.cleanup_ctx.append(_sweeper)
    return app


async def _open_http(app: web.Application) -> None:
    await app[SERVICES_KEY].open_http()


async def _sweeper(app: web.Application) -> AsyncIterator[None]:
    scheduler = start_sweeper(app[SERVICES_KEY])
    yield
    scheduler.shutdown(wait=False)
