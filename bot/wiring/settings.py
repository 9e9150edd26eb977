"""Typed settings, read once from the environment and an optional `.env` file."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.intro.cadence import Cadence, WorkingHours
from bot.intro.durations import parse_duration
from bot.intro.privacy import derive_hash_key

DEFAULT_SLACK_API_URL = "https://slack.com/api/"


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
    INTROBOT_SWEEP_INTERVAL: str = "30s"
    INTROBOT_NUDGE_AFTER: str = "2d"
    INTROBOT_FOLLOW_UP_AFTER: str = "20h"
    INTROBOT_OUTCOME_AFTER: str = "7d"
    INTROBOT_WORKING_HOURS: str = "9-17 mon-fri"
    INTROBOT_DELIVERY_LEASE: str = "2m"
    INTROBOT_UNINSTALL_RETENTION: str = "30d"
    INTROBOT_HASH_KEY: str | None = None

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

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator(
        "INTROBOT_SWEEP_INTERVAL",
        "INTROBOT_NUDGE_AFTER",
        "INTROBOT_FOLLOW_UP_AFTER",
        "INTROBOT_OUTCOME_AFTER",
        "INTROBOT_DELIVERY_LEASE",
    )
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value).total_seconds() <= 0:
            raise ValueError("must be longer than zero")
        return value

    @field_validator("INTROBOT_UNINSTALL_RETENTION")
    @classmethod
    def _retention(cls, value: str) -> str:
        if value.strip() != "0":  # 0: delete at once
            parse_duration(value)
        return value

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
            self.INTROBOT_NUDGE_AFTER, self.INTROBOT_FOLLOW_UP_AFTER, self.INTROBOT_OUTCOME_AFTER
        )

    @cached_property
    def working_hours(self) -> WorkingHours | None:
        return WorkingHours.parse(self.INTROBOT_WORKING_HOURS)

    @cached_property
    def delivery_lease(self) -> timedelta:
        return parse_duration(self.INTROBOT_DELIVERY_LEASE)

    @cached_property
    def uninstall_retention(self) -> timedelta:
        text = self.INTROBOT_UNINSTALL_RETENTION
        return timedelta(0) if text.strip() == "0" else parse_duration(text)

    @cached_property
    def contact_hash_key(self) -> bytes | None:
        """The key contacts' emails are hashed with: INTROBOT_HASH_KEY, else one derived from
        the signing secret (or the OAuth client secret), so no new setting is needed; None when
        none is set, and then emails are not kept at all (bot.intro.privacy)."""
        if self.INTROBOT_HASH_KEY:
            return self.INTROBOT_HASH_KEY.encode()
        secret = self.SLACK_SIGNING_SECRET or getattr(self, "SLACK_CLIENT_SECRET", None)
        return derive_hash_key(secret) if secret else None

    def require(self, *names: str) -> None:
        """Stop with one clear line if a setting this command needs is unset."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"{name} is not set: {_HINTS.get(name, 'set it')}")


_HINTS = {
    "SLACK_BOT_TOKEN": "set it to the app's Bot User OAuth Token (xoxb-...)",
    "SLACK_SIGNING_SECRET": "set it to the app's Signing Secret (Basic Information page)",
    "SLACK_APP_TOKEN": "set it to an app-level token with connections:write (xapp-...)",
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
