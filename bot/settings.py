"""Typed settings, read once from the environment and an optional `.env` file."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.intro.cadence import WITHIN_A_DAY, Cadence, WorkingHours
from bot.intro.durations import parse_duration
from bot.intro.privacy import derive_hash_key

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_SLACK_AUTHORIZE_URL = "https://slack.com/oauth/v2/authorize"
DEFAULT_SLACK_FILES_URL = "https://files.slack.com/"


DEFAULT_HUBSPOT_API_URL = "https://api.hubapi.com"
DEFAULT_SALESFORCE_LOGIN_URL = "https://login.salesforce.com"
DEFAULT_HUBSPOT_AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
# INTROBOT_SECRET_KEY is at least this long: a key is derived from it (bot.delivery.crm).
SECRET_KEY_MIN = 32

# A webhook's secret is at least this long (one an admin sets is generated: 32 bytes, hex).
WEBHOOK_SECRET_MIN = 16


def webhook_url_ok(url: str) -> bool:
    """An https URL with a host (http only to this machine, for a local receiver)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    local = parts.hostname in ("127.0.0.1", "localhost", "::1")
    return bool(parts.hostname) and (parts.scheme == "https" or (parts.scheme == "http" and local))


class SettingsError(Exception):
    """A missing or malformed setting; its message is one line naming the setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    SLACK_BOT_TOKEN: str | None = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: str | None = None
    # Resolved when settings load, so it follows the directory introbot runs in.
    DATABASE_URL: str = Field(default_factory=lambda: f"sqlite:///{Path.cwd() / 'introbot.db'}")
    SLACK_API_URL: str = DEFAULT_SLACK_API_URL
    # The only place shared files are downloaded from (with the bot token); tests point it at
    # the fake Slack.
    SLACK_FILES_URL: str = DEFAULT_SLACK_FILES_URL
    INTROBOT_SWEEP_INTERVAL: str = "30s"
    INTROBOT_NUDGE_AFTER: str = "2d"
    INTROBOT_FOLLOW_UP_AFTER: str = "3h"
    INTROBOT_OUTCOME_AFTER: str = "7d"
    INTROBOT_OUTCOME_AGAIN_AFTER: str = "30d"
    INTROBOT_TARGET_CHECK_AFTER: str = "3d"
    INTROBOT_TARGET_DECLINED_HOLD: str = "180d"
    INTROBOT_DIGEST_EVERY: str = "7d"
    INTROBOT_WORKING_HOURS: str = "9-17 mon-fri"
    INTROBOT_DELIVERY_LEASE: str = "2m"
    INTROBOT_DB_WAIT: str = "60s"
    INTROBOT_HEALTH_PORT: int | None = Field(default=None, ge=1, le=65535)
    INTROBOT_HEALTH_HOST: str = "0.0.0.0"
    INTROBOT_LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    INTROBOT_LOG_FORMAT: Literal["text", "json"] = "text"
    # Distributed over OAuth (instead of SLACK_BOT_TOKEN): any number of workspaces.
    SLACK_CLIENT_ID: str | None = None
    SLACK_CLIENT_SECRET: str | None = None
    # Where "Add to Slack" sends the installer; only tests point it elsewhere.
    SLACK_AUTHORIZE_URL: str = DEFAULT_SLACK_AUTHORIZE_URL
    INTROBOT_UNINSTALL_RETENTION: str = "30d"
    INTROBOT_HASH_KEY: str | None = None
    # Multiplies Slack's rate limits the dispatcher keeps to; 0 sends as fast as Slack answers.
    INTROBOT_SLACK_RATE_SCALE: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    # One workspace's webhook, set here instead of by an admin (bot.delivery.webhooks).
    INTROBOT_WEBHOOK_URL: str | None = None
    INTROBOT_WEBHOOK_SECRET: str | None = None
    # Encrypts what must be kept secret at rest (a CRM's credentials): bot.delivery.crm.
    INTROBOT_SECRET_KEY: str | None = None
    # One workspace's CRM, set here instead of connected by an admin.
    INTROBOT_HUBSPOT_TOKEN: str | None = None
    INTROBOT_SALESFORCE_CLIENT_ID: str | None = None
    INTROBOT_SALESFORCE_CLIENT_SECRET: str | None = None
    INTROBOT_SALESFORCE_DOMAIN: str | None = None
    # Where the CRMs' APIs are: tests and sandboxes point them elsewhere.
    INTROBOT_HUBSPOT_API_URL: str = DEFAULT_HUBSPOT_API_URL
    # Installed over OAuth: admins connect HubSpot through HubSpot's OAuth, as this public app,
    # sent back to INTROBOT_PUBLIC_URL.
    INTROBOT_HUBSPOT_CLIENT_ID: str | None = None
    INTROBOT_HUBSPOT_CLIENT_SECRET: str | None = None
    INTROBOT_HUBSPOT_AUTHORIZE_URL: str = DEFAULT_HUBSPOT_AUTHORIZE_URL
    INTROBOT_PUBLIC_URL: str | None = None
    INTROBOT_SALESFORCE_LOGIN_URL: str = DEFAULT_SALESFORCE_LOGIN_URL

    @field_validator("INTROBOT_SECRET_KEY")
    @classmethod
    def _secret_key(cls, value: str | None) -> str | None:
        if value is not None and len(value.strip()) < SECRET_KEY_MIN:
            raise ValueError(
                f"must be a secret of at least {SECRET_KEY_MIN} characters, such as the output "
                "of: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return value

    @field_validator("INTROBOT_PUBLIC_URL")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is not None and not webhook_url_ok(value):
            raise ValueError(
                "must be the https URL introbot is reached at, such as https://introbot.example.com"
            )
        return value.rstrip("/") if value else value

    @field_validator(
        "INTROBOT_HUBSPOT_API_URL",
        "INTROBOT_SALESFORCE_LOGIN_URL",
        "INTROBOT_HUBSPOT_AUTHORIZE_URL",
    )
    @classmethod
    def _crm_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as " + DEFAULT_HUBSPOT_API_URL)
        return value.rstrip("/")

    @field_validator("INTROBOT_WEBHOOK_URL")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value is not None and not webhook_url_ok(value):
            raise ValueError("must be an https URL such as https://hooks.example.com/introbot")
        return value

    @field_validator("INTROBOT_WEBHOOK_SECRET")
    @classmethod
    def _webhook_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value.strip()) < WEBHOOK_SECRET_MIN:
            raise ValueError(f"must be at least {WEBHOOK_SECRET_MIN} characters")
        return value

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("SLACK_SIGNING_SECRET")
    @classmethod
    def _signing_secret(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme.split("+", 1)[0] not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                "must look like sqlite:///path/to/introbot.db or "
                "postgresql://user:password@host:port/db"
            )
        return value

    @field_validator("SLACK_AUTHORIZE_URL")
    @classmethod
    def _authorize_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as " + DEFAULT_SLACK_AUTHORIZE_URL)
        return value

    @field_validator("INTROBOT_UNINSTALL_RETENTION")
    @classmethod
    def _retention(cls, value: str) -> str:
        if value.strip() != "0":
            parse_duration(value)
        return value

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("SLACK_FILES_URL")
    @classmethod
    def _files_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://files.slack.com/")
        return value if value.endswith("/") else value + "/"

    @field_validator(
        "INTROBOT_SWEEP_INTERVAL",
        "INTROBOT_NUDGE_AFTER",
        "INTROBOT_FOLLOW_UP_AFTER",
        "INTROBOT_OUTCOME_AFTER",
        "INTROBOT_OUTCOME_AGAIN_AFTER",
        "INTROBOT_TARGET_CHECK_AFTER",
        "INTROBOT_TARGET_DECLINED_HOLD",
        "INTROBOT_DIGEST_EVERY",
        "INTROBOT_DELIVERY_LEASE",
    )
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value).total_seconds() <= 0:
            raise ValueError("must be longer than zero")
        return value

    @field_validator("INTROBOT_FOLLOW_UP_AFTER")
    @classmethod
    def _within_a_day(cls, value: str) -> str:
        if parse_duration(value) > WITHIN_A_DAY:
            raise ValueError("the follow-up comes within a day of the intro: at most 24h")
        return value

    @field_validator("INTROBOT_DB_WAIT")
    @classmethod
    def _wait(cls, value: str) -> str:
        parse_duration(value.strip() + ("s" if value.strip() == "0" else ""))
        return value

    @field_validator("INTROBOT_DELIVERY_LEASE")
    @classmethod
    def _lease(cls, value: str) -> str:
        # A send starts only with 30 s (or half a shorter lease) left (bot.delivery.outbox
        # LEASE_MARGIN): a lease of a few seconds would be extended before every send and
        # still be outlasted by a slow Slack call (the client waits up to 10 s).
        if parse_duration(value) < timedelta(seconds=10):
            raise ValueError("must be at least 10s")
        return value

    @field_validator("INTROBOT_LOG_LEVEL", mode="before")
    @classmethod
    def _log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("INTROBOT_HASH_KEY")
    @classmethod
    def _hash_key(cls, value: str | None) -> str | None:
        if value is not None and len(value.strip()) < 16:
            raise ValueError("must be a secret of at least 16 characters")
        return value

    @field_validator("INTROBOT_WORKING_HOURS")
    @classmethod
    def _working_hours(cls, value: str) -> str:
        WorkingHours.parse(value)
        return value

    @cached_property
    def sweep_interval_seconds(self) -> float:
        return parse_duration(self.INTROBOT_SWEEP_INTERVAL).total_seconds()

    @cached_property
    def cadence(self) -> Cadence:
        return Cadence.from_text(
            self.INTROBOT_NUDGE_AFTER,
            self.INTROBOT_FOLLOW_UP_AFTER,
            self.INTROBOT_OUTCOME_AFTER,
            self.INTROBOT_OUTCOME_AGAIN_AFTER,
            self.INTROBOT_TARGET_CHECK_AFTER,
        )

    @cached_property
    def working_hours(self) -> WorkingHours | None:
        return WorkingHours.parse(self.INTROBOT_WORKING_HOURS)

    @cached_property
    def target_declined_hold(self) -> timedelta:
        """How long a target's no to an intro is kept in front of anyone asking for them."""
        return parse_duration(self.INTROBOT_TARGET_DECLINED_HOLD)

    @cached_property
    def digest_every(self) -> timedelta:
        """How often at most a connector gets the offer-help digest."""
        return parse_duration(self.INTROBOT_DIGEST_EVERY)

    @cached_property
    def delivery_lease(self) -> timedelta:
        return parse_duration(self.INTROBOT_DELIVERY_LEASE)

    @cached_property
    def db_wait(self) -> timedelta:
        value = self.INTROBOT_DB_WAIT.strip()
        return parse_duration("0s" if value == "0" else value)

    @cached_property
    def uninstall_retention(self) -> timedelta:
        """How long an uninstalled workspace's data is kept; zero deletes it at once."""
        if self.INTROBOT_UNINSTALL_RETENTION.strip() == "0":
            return timedelta(0)
        return parse_duration(self.INTROBOT_UNINSTALL_RETENTION)

    @property
    def distributed(self) -> bool:
        """Installed over OAuth in any number of workspaces, rather than one bot token."""
        return bool(self.SLACK_CLIENT_ID) and not self.SLACK_BOT_TOKEN

    def require_serving_mode(self) -> None:
        """`introbot serve` runs with one bot token, or distributed over OAuth: exactly one."""
        if self.SLACK_BOT_TOKEN and (self.SLACK_CLIENT_ID or self.SLACK_CLIENT_SECRET):
            raise SettingsError(
                "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set: set SLACK_BOT_TOKEN for one "
                "workspace, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install over OAuth"
            )
        if self.SLACK_CLIENT_ID or self.SLACK_CLIENT_SECRET:
            self.require("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "SLACK_SIGNING_SECRET")
            return
        if not self.SLACK_BOT_TOKEN:
            raise SettingsError(
                "SLACK_BOT_TOKEN is not set: set it to the app's Bot User OAuth Token (xoxb-...), "
                "or set SLACK_CLIENT_ID and SLACK_CLIENT_SECRET to install over OAuth"
            )
        self.require("SLACK_SIGNING_SECRET")

    @cached_property
    def contact_hash_key(self) -> bytes | None:
        """The key contacts' emails are hashed with: INTROBOT_HASH_KEY, else one derived from
        the signing secret (or the OAuth client secret), so no new setting is needed; None when
        none is set, and then emails are not kept at all (bot.intro.privacy)."""
        if self.INTROBOT_HASH_KEY:
            return self.INTROBOT_HASH_KEY.encode()
        secret = self.SLACK_SIGNING_SECRET or getattr(self, "SLACK_CLIENT_SECRET", None)
        return derive_hash_key(secret) if secret else None

    @property
    def webhook(self) -> tuple[str, str] | None:
        """The webhook every change is POSTed to (URL, secret), when one is set here."""
        if self.INTROBOT_WEBHOOK_URL and self.INTROBOT_WEBHOOK_SECRET:
            return self.INTROBOT_WEBHOOK_URL, self.INTROBOT_WEBHOOK_SECRET
        return None

    def require_webhook_pair(self) -> None:
        """INTROBOT_WEBHOOK_URL and INTROBOT_WEBHOOK_SECRET go together, for one workspace:
        installed over OAuth, every workspace's changes would go to that one URL."""
        if self.INTROBOT_WEBHOOK_URL and self.distributed:
            raise SettingsError(
                "INTROBOT_WEBHOOK_URL is for one workspace (SLACK_BOT_TOKEN): installed over "
                "OAuth, each workspace's admin sets its own with /intro webhook"
            )
        if bool(self.INTROBOT_WEBHOOK_URL) != bool(self.INTROBOT_WEBHOOK_SECRET):
            url, secret = "INTROBOT_WEBHOOK_URL", "INTROBOT_WEBHOOK_SECRET"
            missing = secret if self.INTROBOT_WEBHOOK_URL else url
            raise SettingsError(
                f"{missing} is not set: INTROBOT_WEBHOOK_URL and INTROBOT_WEBHOOK_SECRET are set "
                "together"
            )

    @property
    def crm_from_env(self) -> str | None:
        """The CRM this install's one workspace pushes to, set here ("hubspot",
        "salesforce"), if any."""
        if self.INTROBOT_HUBSPOT_TOKEN:
            return "hubspot"
        if self.INTROBOT_SALESFORCE_CLIENT_ID:
            return "salesforce"
        return None

    def require_crm_settings(self) -> None:
        """A CRM set here is for one workspace, one CRM, with every setting it needs."""
        salesforce = (
            "INTROBOT_SALESFORCE_CLIENT_ID",
            "INTROBOT_SALESFORCE_CLIENT_SECRET",
            "INTROBOT_SALESFORCE_DOMAIN",
        )
        if self.crm_from_env and self.distributed:
            raise SettingsError(
                f"INTROBOT_{self.crm_from_env.upper()}_* is for one workspace "
                "(SLACK_BOT_TOKEN): installed over OAuth, each workspace's admin connects its "
                "CRM from the Home tab"
            )
        if self.INTROBOT_HUBSPOT_CLIENT_ID or self.INTROBOT_HUBSPOT_CLIENT_SECRET:
            if not self.distributed:
                raise SettingsError(
                    "INTROBOT_HUBSPOT_CLIENT_ID is for an install over OAuth (SLACK_CLIENT_ID): "
                    "one workspace sets INTROBOT_HUBSPOT_TOKEN, or pastes a private-app token on "
                    "the Home tab"
                )
            hubspot_oauth = (
                "INTROBOT_HUBSPOT_CLIENT_ID",
                "INTROBOT_HUBSPOT_CLIENT_SECRET",
                "INTROBOT_PUBLIC_URL",
                "INTROBOT_SECRET_KEY",
            )
            for name in hubspot_oauth:
                if not getattr(self, name):
                    raise SettingsError(
                        f"{name} is not set: connecting HubSpot over OAuth needs "
                        + ", ".join(hubspot_oauth)
                    )
        if self.INTROBOT_HUBSPOT_TOKEN and self.INTROBOT_SALESFORCE_CLIENT_ID:
            raise SettingsError(
                "INTROBOT_HUBSPOT_TOKEN and INTROBOT_SALESFORCE_CLIENT_ID are both set: a "
                "workspace pushes to one CRM"
            )
        if any(getattr(self, name) for name in salesforce):
            for name in salesforce:
                if not getattr(self, name):
                    raise SettingsError(
                        f"{name} is not set: INTROBOT_SALESFORCE_CLIENT_ID, "
                        "INTROBOT_SALESFORCE_CLIENT_SECRET and INTROBOT_SALESFORCE_DOMAIN are "
                        "set together"
                    )

    def require(self, *names: str) -> None:
        """Stop with one clear line if a setting this command needs is unset."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"{name} is not set: {_HINTS.get(name, 'set it')}")


_HINTS = {
    "SLACK_BOT_TOKEN": "set it to the app's Bot User OAuth Token (xoxb-...)",
    "SLACK_SIGNING_SECRET": "set it to the app's Signing Secret (Basic Information page)",
    "SLACK_APP_TOKEN": "set it to an app-level token with connections:write (xapp-...)",
    "SLACK_CLIENT_ID": "set it to the app's Client ID (Basic Information page)",
    "SLACK_CLIENT_SECRET": "set it to the app's Client Secret (Basic Information page)",
}


# What each setting means, in one place: `introbot <command> --help` lists them from here, and
# tests check that every setting has a line here and a row in the README's settings table.
DESCRIPTIONS = {
    "SLACK_BOT_TOKEN": "Bot User OAuth Token, xoxb-...",
    "SLACK_SIGNING_SECRET": "verifies that requests come from Slack",
    "SLACK_APP_TOKEN": "app-level token for Socket Mode, xapp-...",
    "DATABASE_URL": "sqlite:///path/to/introbot.db or postgresql://user:password@host:port/db",
    "SLACK_API_URL": "Web API base URL",
    "INTROBOT_SWEEP_INTERVAL": "how often due and undelivered messages are looked for",
    "INTROBOT_NUDGE_AFTER": "nudge a silent connector after this long (days count working days)",
    "INTROBOT_FOLLOW_UP_AFTER": "remind the requester to follow up this long after the intro "
    "(counted from the start of their working day), before that day ends; at most 24h",
    "INTROBOT_OUTCOME_AFTER": "ask for the outcome this long after the intro",
    "INTROBOT_OUTCOME_AGAIN_AFTER": "after a meeting or opportunity, ask again this long after "
    "(twice at most)",
    "INTROBOT_TARGET_CHECK_AFTER": (
        "ask a connector checking with the target whether they answered, this long after "
        "accepting and again after as long; as long after that, the ask has gone quiet "
        "(days count working days)"
    ),
    "INTROBOT_TARGET_DECLINED_HOLD": (
        "how long a target's no to an intro holds: anyone's form for them says so, and nothing "
        "steers the team back to them"
    ),
    "INTROBOT_DIGEST_EVERY": (
        "how often at most a connector hears of teammates' accounts where they know people"
    ),
    "INTROBOT_WORKING_HOURS": "when reminders may arrive, in each recipient's time zone",
    "INTROBOT_DELIVERY_LEASE": "how long a replica holds a message it is sending",
    "INTROBOT_DB_WAIT": "how long to wait for the database at start (0: not at all)",
    "INTROBOT_HEALTH_PORT": "run: serve /healthz, /readyz and /metrics on this port (unset: not)",
    "INTROBOT_HEALTH_HOST": "run: the address INTROBOT_HEALTH_PORT listens on",
    "INTROBOT_LOG_LEVEL": "DEBUG, INFO, WARNING or ERROR",
    "INTROBOT_LOG_FORMAT": "text, or json for one JSON object a line",
    "SLACK_CLIENT_ID": "the app's Client ID: installed over OAuth in any number of workspaces",
    "SLACK_CLIENT_SECRET": "the app's Client Secret, with SLACK_CLIENT_ID",
    "SLACK_AUTHORIZE_URL": "where Add to Slack sends the installer",
    "SLACK_FILES_URL": "where shared files are downloaded from, with the bot token",
    "INTROBOT_UNINSTALL_RETENTION": (
        "how long an uninstalled workspace's data, or a deactivated teammate's contacts, "
        "are kept (0: none)"
    ),
    "INTROBOT_HASH_KEY": "the key contacts' emails are hashed with (default: from a Slack secret)",
    "INTROBOT_SLACK_RATE_SCALE": "multiplies Slack's rate limits delivery keeps to; 0: no pacing",
    "INTROBOT_WEBHOOK_URL": "one workspace: POST every change of a request here (https)",
    "INTROBOT_WEBHOOK_SECRET": "the secret that signs those POSTs, with INTROBOT_WEBHOOK_URL",
    "INTROBOT_SECRET_KEY": (
        "encrypts CRM credentials at rest (at least 32 characters); needed to connect a CRM "
        "from the Home tab"
    ),
    "INTROBOT_HUBSPOT_TOKEN": "one workspace: push intros to HubSpot with this private-app token",
    "INTROBOT_SALESFORCE_CLIENT_ID": (
        "one workspace: push intros to Salesforce as this connected app (client credentials)"
    ),
    "INTROBOT_SALESFORCE_CLIENT_SECRET": "the connected app's secret, with the client id",
    "INTROBOT_SALESFORCE_DOMAIN": (
        "the org's My Domain host (acme.my.salesforce.com), with the client id"
    ),
    "INTROBOT_HUBSPOT_API_URL": "HubSpot's API base URL",
    "INTROBOT_HUBSPOT_CLIENT_ID": (
        "installed over OAuth: admins connect HubSpot through HubSpot's OAuth as this public app"
    ),
    "INTROBOT_HUBSPOT_CLIENT_SECRET": "that HubSpot app's client secret",
    "INTROBOT_HUBSPOT_AUTHORIZE_URL": "HubSpot's consent page",
    "INTROBOT_PUBLIC_URL": (
        "the https URL introbot is reached at: HubSpot sends admins back to "
        "/crm/hubspot/oauth_redirect there"
    ),
    "INTROBOT_SALESFORCE_LOGIN_URL": "Salesforce's login URL (test.salesforce.com: a sandbox)",
}


def load_settings(**overrides: str) -> Settings:
    """Read settings; turn pydantic's report into one line naming the first bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{name} is malformed: {message}") from None
