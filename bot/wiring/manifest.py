"""The Slack app manifest a workspace admin pastes: for Socket Mode, or for HTTP at a URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from bot.rendering.templating import environment
from bot.rendering.texts import step_definitions
from bot.wiring.scopes import BOT_EVENTS, BOT_SCOPES


class ManifestUrlError(ValueError):
    """The URL given for the HTTP manifest is not a bare https origin."""


def public_origin(url: str) -> str:
    """`https://host[:port][/prefix]` without a trailing slash, as Slack requires request URLs."""
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
        raise ManifestUrlError(f"{url!r} is not an https URL such as https://intro.example.com")
    if any(c.isspace() or c in "\"'#" for c in url):
        raise ManifestUrlError(f"{url!r} has characters a URL cannot have")
    return f"https://{parts.netloc}{parts.path.rstrip('/')}"


def render_manifest(url: str | None = None) -> str:
    """The manifest as YAML; with `url`, every request URL and the OAuth redirect filled in."""
    origin = public_origin(url) if url else None
    template = environment().get_template("manifest.yml.j2")
    return template.render(
        url=origin, scopes=BOT_SCOPES, events=BOT_EVENTS, functions=step_definitions()
    )
