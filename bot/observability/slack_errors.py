"""What a failed Web API call said, read safely whatever came back.

A 5xx from Slack, or from a proxy in front of it, may carry a text or HTML page instead of
Slack's JSON: slack_sdk then gives the error a response whose data is a string (text/plain), an
empty dict (HTML), or the raw aiohttp response (a JSON content type that doesn't parse).
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError


def slack_status(exc: SlackApiError) -> int:
    response = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return int(status) if isinstance(status, int) else 0


def slack_error_code(exc: SlackApiError) -> str:
    """Slack's error code (`user_not_found`), or `http_502` when the answer had none."""
    data = getattr(exc.response, "data", None)
    if isinstance(data, dict) and data.get("error"):
        return str(data["error"])
    status = slack_status(exc)
    return f"http_{status}" if status else "unreadable_response"


def retry_after_seconds(exc: SlackApiError, default: int = 1) -> int:
    headers = getattr(exc.response, "headers", None) or {}
    try:
        return max(1, int(headers.get("Retry-After", default)))
    except (TypeError, ValueError):
        return default
