"""The running bot never imports Slack's stand-in: `introbot serve` and `introbot run` build
their app from bot.wiring, handlers and storage alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# What `introbot serve` and `introbot run` import and build before they take a request.
SERVE_AND_RUN = textwrap.dedent(
    """
    import sys
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
    from bot.wiring import cli
    from bot.wiring.app import build_services, create_app
    from bot.wiring.server import web_app
    from bot.settings import load_settings

    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", DATABASE_URL="sqlite:///unused.db"
    )
    services = build_services(settings)
    web_app(create_app(services), services)
    print(sorted(name for name in sys.modules if name.startswith("bot.standin")))
    """
)


def test_serve_and_run_never_import_the_stand_in() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVE_AND_RUN], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
