"""Kept for callers above delivery that still name it here; the helpers live in
bot.observability.slack_errors, below delivery, which uses them too."""

from bot.observability.slack_errors import retry_after_seconds, slack_error_code, slack_status

__all__ = ["retry_after_seconds", "slack_error_code", "slack_status"]
