"""`introbot --help`: options with their defaults, and the settings each command reads, from
the Settings fields and their descriptions (bot.settings.DESCRIPTIONS)."""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from pydantic_core import PydanticUndefined

from bot.settings import DESCRIPTIONS, Settings

# Settings a command does not read; a setting not named here is read by run and serve.
NOT_READ = {
    "run": {
        "SLACK_SIGNING_SECRET",
        "SLACK_CLIENT_ID",
        "SLACK_CLIENT_SECRET",
        "SLACK_AUTHORIZE_URL",
    },
    "serve": {"SLACK_APP_TOKEN", "INTROBOT_HEALTH_PORT", "INTROBOT_HEALTH_HOST"},
}
# migrate and demo read only these.
ONLY_READ = {
    "migrate": (
        "DATABASE_URL",
        "INTROBOT_DB_WAIT",
        "INTROBOT_LOG_LEVEL",
        "INTROBOT_LOG_FORMAT",
        # Migration 0009 hashes contacts' emails with the key the app runs with.
        "INTROBOT_HASH_KEY",
        "SLACK_SIGNING_SECRET",
        "SLACK_CLIENT_SECRET",
    ),
    "demo": (),
    "manifest": (),
}


class Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each option; the epilog's lines kept as written."""


def version() -> str:
    try:
        return package_version("introbot")
    except PackageNotFoundError:  # a checkout run without being installed
        return "unknown"


def settings_read_by(command: str) -> list[str]:
    if command in ONLY_READ:
        return list(ONLY_READ[command])
    skipped = NOT_READ.get(command, set())
    return [name for name in Settings.model_fields if name not in skipped]


def _default(name: str) -> str:
    if name == "DATABASE_URL":
        return "sqlite:///./introbot.db"
    default = Settings.model_fields[name].default
    return "unset" if default is None or default is PydanticUndefined else str(default)


def settings_epilog(command: str) -> str:
    names = settings_read_by(command)
    if not names:
        if command == "demo":
            return (
                "reads no settings: it starts its own stand-in for Slack and a database in a "
                "temporary directory"
            )
        return "reads no settings"
    width = max(len(name) for name in names)
    lines = [
        f"  {name:<{width}}  {DESCRIPTIONS.get(name, '')} (default: {_default(name)})"
        for name in names
    ]
    return "settings read (environment or .env):\n" + "\n".join(lines)
