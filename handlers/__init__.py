"""Slack listeners, one module per surface, registered together."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.wiring.app import Services
from handlers import actions, commands, errors, events, files, home, shortcuts, views


def register_listeners(app: AsyncApp, services: Services) -> None:
    commands.register(app, services)
    shortcuts.register(app, services)
    views.register(app, services)
    actions.register(app, services)
    events.register(app, services)
    files.register(app, services)
    home.register(app, services)
    errors.register(app, services)
