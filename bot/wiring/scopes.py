"""What introbot asks a workspace for: one list for the manifest, installs and the stand-in."""

from __future__ import annotations

# The fewest bot scopes that cover the Web API methods introbot calls (tests/test_manifest.py).
BOT_SCOPES = ("commands", "chat:write", "users:read", "files:read", "files:write", "im:write")

# The events introbot listens for (tests/test_manifest.py checks each has a listener).
BOT_EVENTS = ("app_home_opened", "file_shared", "user_change")
