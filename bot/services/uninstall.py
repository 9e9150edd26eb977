"""The app was uninstalled from a workspace, or its tokens revoked."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.services.container import Services

logger = logging.getLogger(__name__)


async def workspace_removed(
    services: Services,
    team_id: str | None,
    enterprise_id: str | None,
    is_enterprise_install: bool,
    reason: str,
) -> None:
    """Stop sending there at once and keep its pending messages; its data is deleted after
    INTROBOT_UNINSTALL_RETENTION (by the sweep, or now when that is 0) unless it is
    installed again first."""
    workspaces = services.workspaces
    if workspaces is None:
        return
    org_wide = is_enterprise_install and enterprise_id is not None
    if org_wide and enterprise_id is not None:
        await workspaces.uninstalled_org(enterprise_id, reason)
    if team_id and await workspaces.uninstalled(team_id, reason):
        logger.warning("workspace %s: %s; delivery stops, messages are kept", team_id, reason)
    if team_id and services.tokens is not None:
        services.tokens.forget(team_id)
    store = services.installation_store
    if store is not None:
        # Its tokens no longer work; a reinstall stores new ones.
        stored_team = None if org_wide else team_id
        await store.async_delete_bot(enterprise_id=enterprise_id, team_id=stored_team)
        await store.async_delete_installation(enterprise_id=enterprise_id, team_id=stored_team)
    if services.settings.uninstall_retention <= timedelta(0):
        await workspaces.forget_uninstalled(timedelta(0))
