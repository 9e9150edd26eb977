"""Connecting HubSpot over OAuth, for an install distributed over Slack's OAuth (where each
workspace is someone else's, and pasting a private-app token is not the norm).

An admin presses Connect HubSpot; the modal's button takes them to HubSpot's consent page
with a state that names their workspace and them, signed, and good once for ten minutes.
HubSpot sends them back to `REDIRECT_PATH` with a code, exchanged for an access token (30
minutes) and a refresh token (kept, sealed, with the connection). An access token is refreshed
when it runs out, in each process that pushes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp

from bot.delivery.crm import CrmAdapter, CrmIds, CrmUnauthorized, CrmUnavailable
from bot.intro.crm import CrmRecord
from bot.settings import Settings

REDIRECT_PATH = "/crm/hubspot/oauth_redirect"
STATE_SECONDS = 600
# What introbot asks HubSpot for: read and write contacts (and their notes), and read and
# create its three contact properties.
SCOPES = (
    "oauth",
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
)
# An access token this close to its end is refreshed before use.
REFRESH_MARGIN_SECONDS = 60
TOKEN_TIMEOUT = aiohttp.ClientTimeout(total=10)
_SIGNING_LABEL = b"introbot hubspot oauth state v1"


class StateStore(Protocol):
    """Single-use states (the OAuth state store Slack's install uses)."""

    async def async_issue(self, *args: Any, **kwargs: Any) -> str: ...

    async def async_consume(self, state: str) -> bool: ...


@dataclass(frozen=True)
class Connecting:
    """Who a state was issued to: the admin and their workspace."""

    team_id: str
    user_id: str


class HubSpotTokens:
    """HubSpot's token endpoint, as introbot's public HubSpot app."""

    def __init__(self, *, client_id: str, client_secret: str, public_url: str, api_url: str):
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = public_url.rstrip("/") + REDIRECT_PATH
        self._api_url = api_url

    @classmethod
    def from_settings(cls, settings: Settings) -> HubSpotTokens | None:
        if not (settings.INTROBOT_HUBSPOT_CLIENT_ID and settings.INTROBOT_HUBSPOT_CLIENT_SECRET):
            return None
        return cls(
            client_id=settings.INTROBOT_HUBSPOT_CLIENT_ID,
            client_secret=settings.INTROBOT_HUBSPOT_CLIENT_SECRET,
            public_url=settings.INTROBOT_PUBLIC_URL or "",
            api_url=settings.INTROBOT_HUBSPOT_API_URL,
        )

    async def exchange(self, code: str) -> dict[str, Any]:
        """The credentials a consent's code gives: kept sealed with the connection."""
        return await self._token(grant_type="authorization_code", code=code)

    async def refresh(self, credentials: dict[str, Any]) -> dict[str, Any]:
        """`credentials` with a new access token (HubSpot's refresh token stays the same)."""
        return await self._token(
            grant_type="refresh_token", refresh_token=credentials["refresh_token"]
        )

    async def _token(self, **grant: str) -> dict[str, Any]:
        # HubSpot's v3 token endpoint, called directly: hubspot-api-client 12 speaks only v1,
        # which HubSpot retires on 2027-02-16. The form carries the secret (never a URL).
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "redirect_uri": self.redirect_uri,
            **grant,
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=TOKEN_TIMEOUT) as http,
                http.post(f"{self._api_url}/oauth/v3/token", data=form) as response,
            ):
                answer = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise CrmUnavailable("HubSpot's sign-in did not answer") from exc
        if 400 <= status < 500:
            # A code used twice or too late, a revoked refresh token, a wrong secret.
            category = answer.get("category", "") if isinstance(answer, dict) else ""
            raise CrmUnauthorized(f"HubSpot refused the sign-in ({status} {category})".strip())
        if status != 200 or not isinstance(answer, dict) or "access_token" not in answer:
            raise CrmUnavailable(f"HubSpot's sign-in did not answer ({status})")
        return {
            "token": answer["access_token"],
            "refresh_token": answer.get("refresh_token") or grant.get("refresh_token"),
            "expires_at": int(time.time()) + int(answer.get("expires_in", 1800)),
        }


class HubSpotOAuth:
    """The consent: a signed single-use state out, the admin and workspace back."""

    def __init__(
        self, tokens: HubSpotTokens, *, authorize_url: str, signing_secret: str, states: StateStore
    ) -> None:
        self.tokens = tokens
        self._authorize_url = authorize_url
        self._key = hmac.new(signing_secret.encode(), _SIGNING_LABEL, hashlib.sha256).digest()
        self._states = states

    async def consent_url(self, team_id: str, user_id: str) -> str:
        """HubSpot's consent page, for this admin of this workspace, good once for ten
        minutes."""
        nonce = await self._states.async_issue()
        query = {
            "client_id": self.tokens.client_id,
            "redirect_uri": self.tokens.redirect_uri,
            "scope": " ".join(SCOPES),
            "state": self._sign(nonce, team_id, user_id),
        }
        return f"{self._authorize_url}?{urlencode(query)}"

    def _sign(self, nonce: str, team_id: str, user_id: str) -> str:
        payload = f"{nonce}.{team_id}.{user_id}".encode()
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        return ".".join(
            base64.urlsafe_b64encode(part).decode().rstrip("=") for part in (payload, mac)
        )

    async def accept(self, state: str) -> Connecting | None:
        """Whom `state` was issued to, if it is ours, unexpired and not used before (it is
        used up now)."""
        try:
            payload_text, mac_text = state.split(".", 1)
            payload = base64.urlsafe_b64decode(payload_text + "=" * (-len(payload_text) % 4))
            mac = base64.urlsafe_b64decode(mac_text + "=" * (-len(mac_text) % 4))
            nonce, team_id, user_id = payload.decode().split(".")
        except ValueError:
            return None
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, expected):
            return None
        if not await self._states.async_consume(nonce):
            return None
        return Connecting(team_id, user_id)


def needs_refresh(credentials: dict[str, Any], now: float | None = None) -> bool:
    """Whether OAuth credentials' access token has run out (or is about to)."""
    if "refresh_token" not in credentials:
        return False  # a private-app token does not expire
    now = time.time() if now is None else now
    return int(credentials.get("expires_at", 0)) - REFRESH_MARGIN_SECONDS <= now


class RefreshingHubSpot:
    """The HubSpot adapter for OAuth credentials: the access token refreshed when it has run
    out, once per process for all pushes that need it."""

    def __init__(
        self,
        credentials: dict[str, Any],
        tokens: HubSpotTokens,
        build: Callable[[dict[str, Any]], CrmAdapter],
    ) -> None:
        self._credentials = credentials
        self._tokens = tokens
        self._build = build

    async def _adapter(self) -> CrmAdapter:
        key = hashlib.sha256(str(self._credentials["refresh_token"]).encode()).hexdigest()
        async with _REFRESHING.setdefault(key, asyncio.Lock()):
            current = _FRESH.get(key, self._credentials)
            if needs_refresh(current):
                current = await self._tokens.refresh(self._credentials)
                _FRESH[key] = current
        return self._build({"token": current["token"]})

    async def check(self) -> list[str]:
        return await (await self._adapter()).check()

    async def account(self) -> str:
        return await (await self._adapter()).account()

    async def push(self, record: CrmRecord, known: CrmIds | None) -> CrmIds:
        return await (await self._adapter()).push(record, known)


# Access tokens refreshed in this process, by refresh token (hashed): each connection's latest.
_FRESH: dict[str, dict[str, Any]] = {}
_REFRESHING: dict[str, asyncio.Lock] = {}
