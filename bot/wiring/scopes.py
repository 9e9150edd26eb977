"""The bot scopes and events the app asks for, in one place: the OAuth install, the manifest
generator and the local stand-in read them from here."""

from __future__ import annotations

# commands: /intro; chat:write: DMs and card updates; users:read: names, time zones, admins;
# files:read: a LinkedIn export sent to the bot; files:write and im:write: the CSV export;
# users:read.email: the requester's email in the intro email the connector sends;
# usergroups:read: the members of a user group named as a manager's team (files:write uploads
# the team's chart too).
BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "users:read",
    "files:read",
    "files:write",
    "im:write",
    "users:read.email",
    "usergroups:read",
)

# app_uninstalled and tokens_revoked need no scope; they pause and later forget a workspace.
BOT_EVENTS: tuple[str, ...] = (
    "app_home_opened",
    "file_shared",
    "app_uninstalled",
    "tokens_revoked",
    # users:read. A teammate joined, or changed: their stored profile follows. Deactivated:
    # out of suggestions, their contacts deleted after the retention.
    "team_join",
    "user_change",
    # No scope: a workflow reached one of the custom steps the manifest declares.
    "function_executed",
)
