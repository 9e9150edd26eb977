"""Logging, metrics and the reading of Slack errors: used by every layer above the domain."""
