"""The adapter for a workspace's CRM, from its vendor and decrypted credentials.

Credentials, as sealed in crm_connections (or read from the install's settings):
- HubSpot: {"token": private-app token}, or over OAuth {"token": access token,
  "refresh_token": ..., "expires_at": Unix seconds}
- Salesforce: {"domain": My Domain host, "client_id": ..., "client_secret": ...}
"""

from __future__ import annotations

from typing import Any

from bot.delivery.crm import CrmAdapter
from bot.intro.crm import CrmVendor
from bot.settings import Settings


def adapter_for(vendor: str, credentials: dict[str, Any], settings: Settings) -> CrmAdapter:
    if vendor == CrmVendor.HUBSPOT:
        from bot.delivery.crm.hubspot import HubSpotAdapter

        api_url = settings.INTROBOT_HUBSPOT_API_URL
        if "refresh_token" in credentials:  # connected over HubSpot's OAuth
            from bot.delivery.crm.hubspot_oauth import HubSpotTokens, RefreshingHubSpot

            tokens = HubSpotTokens.from_settings(settings)
            if tokens is None:
                raise ValueError("connected over OAuth, and INTROBOT_HUBSPOT_CLIENT_ID is unset")
            return RefreshingHubSpot(
                credentials, tokens, lambda fresh: HubSpotAdapter.from_credentials(fresh, api_url)
            )
        return HubSpotAdapter.from_credentials(credentials, api_url)
    if vendor == CrmVendor.SALESFORCE:
        from bot.delivery.crm.salesforce import SalesforceAdapter

        return SalesforceAdapter.from_credentials(
            credentials, settings.INTROBOT_SALESFORCE_LOGIN_URL
        )
    raise ValueError(f"no adapter for {vendor!r}")


def credentials_from_settings(settings: Settings) -> tuple[str, dict[str, Any]] | None:
    """The CRM an install's one workspace set in its settings, and its credentials."""
    if settings.INTROBOT_HUBSPOT_TOKEN:
        return CrmVendor.HUBSPOT, {"token": settings.INTROBOT_HUBSPOT_TOKEN}
    if settings.INTROBOT_SALESFORCE_CLIENT_ID:
        return CrmVendor.SALESFORCE, {
            "domain": settings.INTROBOT_SALESFORCE_DOMAIN,
            "client_id": settings.INTROBOT_SALESFORCE_CLIENT_ID,
            "client_secret": settings.INTROBOT_SALESFORCE_CLIENT_SECRET,
        }
    return None
