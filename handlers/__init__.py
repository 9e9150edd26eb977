"""Slack listeners, a module per surface or flow, each with a `register(app, work)`.

Listeners are module-level functions: the services and the acting user and team come in
Bolt's context (handlers/context.py), the work queue wraps them as they are registered."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.services.work_queue import WorkQueue
from handlers import (
    accounts,
    asking_again,
    buttons,
    commands,
    crm,
    details,
    digests,
    errors,
    events,
    files,
    home,
    intro_made,
    offers,
    outside,
    request_form,
    shortcuts,
    steps,
    thanks,
    way_in,
)
from handlers.context import ProvideServices

__all__ = ["ProvideServices", "register_listeners"]


def register_listeners(app: AsyncApp, work: WorkQueue) -> None:
    # Bolt tries each listener's matchers in the order they were registered until one
    # matches, building every argument a listener could take for each try: the requests that
    # come most (Accept, /intro, the request form's submission) come first. No two listeners
    # match the same request (tests/handlers/test_listener_order.py), so the order only
    # decides how soon each is found.
    buttons.register_accept(app, work)
    commands.register(app, work)
    request_form.register(app, work)
    shortcuts.register(app, work)
    buttons.register(app, work)
    details.register(app, work)
    intro_made.register(app, work)
    asking_again.register(app, work)
    offers.register(app, work)
    digests.register(app, work)
    outside.register(app, work)
    way_in.register(app, work)
    events.register(app, work)
    files.register(app, work)
    home.register(app, work)
    accounts.register(app, work)
    crm.register(app, work)
    thanks.register(app, work)
    steps.register(app, work)
    errors.register(app)
