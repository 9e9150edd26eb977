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


# What a process with no CRM connected does without: the CRM vendors' clients (hubspot's
# thousands of generated modules, simple_salesforce and the requests it brings), the chart's
# matplotlib, and cryptography without INTROBOT_SECRET_KEY, are imported when first used, not
# with the app; Alembic only in `introbot migrate`, which serve runs as a child process
# (docs/performance.md, "Memory").
LOADED_ON_FIRST_USE = (
    "hubspot",
    "simple_salesforce",
    "requests",
    "matplotlib",
    "numpy",
    "cryptography",
    "alembic",
)
SERVE_WITHOUT_CRM = textwrap.dedent(
    f"""
    import sys
    from bot.wiring import cli
    from bot.wiring.app import build_services, create_app
    from bot.wiring.server import web_app
    from bot.settings import load_settings

    settings = load_settings(
        SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="s", DATABASE_URL="sqlite:///unused.db"
    )
    services = build_services(settings)
    web_app(create_app(services), services)

    def loaded():
        return sorted({{name.split(".")[0] for name in sys.modules}} & set({LOADED_ON_FIRST_USE!r}))

    print(loaded())
    # The probe sees an import when there is one: building a HubSpot adapter loads its client.
    from bot.delivery.crm.adapters import adapter_for
    adapter_for("hubspot", {{"token": "pat-1"}}, settings)
    print(loaded())
    """
)


def test_serve_without_a_crm_loads_only_what_its_requests_need() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVE_WITHOUT_CRM], capture_output=True, text=True, check=True
    )
    at_start, after_adapter = result.stdout.strip().splitlines()
    assert at_start == "[]"
    assert "hubspot" in after_adapter
