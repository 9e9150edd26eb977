"""Settings: defaults, one-line errors naming the bad setting, env vars and `.env`, require().

tests/conftest.py clears SLACK_*/DATABASE_URL/INTROBOT_* and chdirs to tmp_path for each test.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import DEFAULT_SLACK_API_URL, Settings, SettingsError, load_settings

BOT_TOKEN = "xoxb-1111-2222-abcdef"
APP_TOKEN = "xapp-1-A111-2222-abcdef"

MALFORMED = [
    ("DATABASE_URL", "mysql://user@host/db"),
    ("DATABASE_URL", "introbot.db"),
    ("DATABASE_URL", ""),
    ("DATABASE_URL", "http://example.com/db"),
    ("SLACK_BOT_TOKEN", "xoxp-user-token-secret"),
    ("SLACK_BOT_TOKEN", "xapp-1-secret"),
    ("SLACK_BOT_TOKEN", ""),
    ("SLACK_APP_TOKEN", "xoxb-not-an-app-token"),
    ("SLACK_APP_TOKEN", "secret"),
    ("SLACK_API_URL", "slack.com/api"),
    ("SLACK_API_URL", "ftp://slack.com/api/"),
    ("INTROBOT_SWEEP_INTERVAL", "soon"),
    ("INTROBOT_SWEEP_INTERVAL", "30"),
    ("INTROBOT_SWEEP_INTERVAL", "5 minutes"),
    ("INTROBOT_SWEEP_INTERVAL", "-5s"),
    ("INTROBOT_SWEEP_INTERVAL", "every\nminute"),
    ("INTROBOT_SWEEP_INTERVAL", "0s"),
    ("INTROBOT_NUDGE_AFTER", "two days"),
    ("INTROBOT_FOLLOW_UP_AFTER", "24"),
    ("INTROBOT_FOLLOW_UP_AFTER", "2d"),
    ("INTROBOT_OUTCOME_AFTER", "1w"),
    ("INTROBOT_DELIVERY_LEASE", "0m"),
    ("INTROBOT_DELIVERY_LEASE", "1s"),
    ("INTROBOT_UNINSTALL_RETENTION", "99999999999d"),
    ("INTROBOT_SWEEP_INTERVAL", "100000000d"),
    ("INTROBOT_NUDGE_AFTER", "999999999999999999999s"),
    ("INTROBOT_SLACK_RATE_SCALE", "inf"),
    ("INTROBOT_SLACK_RATE_SCALE", "nan"),
    ("INTROBOT_TARGET_DECLINED_HOLD", "half a year"),
    ("INTROBOT_TARGET_DECLINED_HOLD", "0d"),
    ("INTROBOT_DIGEST_EVERY", "weekly"),
    ("INTROBOT_DIGEST_EVERY", "0d"),
    ("INTROBOT_UNINSTALL_RETENTION", "a month"),
    ("INTROBOT_UNINSTALL_RETENTION", "30"),
    ("INTROBOT_UNINSTALL_RETENTION", "-1d"),
    ("INTROBOT_HASH_KEY", "short"),
    ("INTROBOT_WORKING_HOURS", "nine to five"),
    ("INTROBOT_WORKING_HOURS", "17-9"),
    ("SLACK_SIGNING_SECRET", "   "),
    ("INTROBOT_WEBHOOK_URL", "hooks.example.com/introbot"),
    ("INTROBOT_WEBHOOK_URL", "http://hooks.example.com/introbot"),
    ("INTROBOT_WEBHOOK_SECRET", "too-short"),
]
MALFORMED_IDS = [f"{name}={value!r}" for name, value in MALFORMED]


def assert_one_line_naming(error: SettingsError, name: str) -> None:
    message = str(error)
    assert message.startswith(f"{name} is malformed: ")
    assert "\n" not in message and "\r" not in message
    assert len(message) < 300
    assert "Value error" not in message
    assert "validation error" not in message.lower()


# --- defaults ----------------------------------------------------------------------------


def test_defaults() -> None:
    settings = load_settings()
    assert settings.SLACK_BOT_TOKEN is None
    assert settings.SLACK_SIGNING_SECRET is None
    assert settings.SLACK_APP_TOKEN is None
    assert settings.SLACK_API_URL == DEFAULT_SLACK_API_URL == "https://slack.com/api/"
    assert settings.INTROBOT_SWEEP_INTERVAL == "30s"
    assert settings.sweep_interval_seconds == 30.0
    assert settings.DATABASE_URL.startswith("sqlite:///")
    assert settings.DATABASE_URL.endswith("/introbot.db")


def test_a_targets_no_holds_for_180_days_unless_set() -> None:
    assert load_settings().target_declined_hold == timedelta(days=180)
    assert load_settings(INTROBOT_TARGET_DECLINED_HOLD="30d").target_declined_hold == timedelta(
        days=30
    )


def test_the_offer_help_digest_comes_at_most_weekly_unless_set() -> None:
    assert load_settings().digest_every == timedelta(days=7)
    assert load_settings(INTROBOT_DIGEST_EVERY="14d").digest_every == timedelta(days=14)


def test_default_database_is_in_the_working_directory_at_load_time(tmp_path: Path) -> None:
    assert Path.cwd() == tmp_path
    database_url = load_settings().DATABASE_URL
    assert database_url == f"sqlite:///{tmp_path / 'introbot.db'}"


# --- malformed values --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), MALFORMED, ids=MALFORMED_IDS)
def test_malformed_override_is_one_line_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(**{name: value})
    assert_one_line_naming(caught.value, name)


@pytest.mark.parametrize(("name", "value"), MALFORMED, ids=MALFORMED_IDS)
def test_malformed_env_var_is_one_line_naming_the_setting(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert_one_line_naming(caught.value, name)


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("DATABASE_URL", "sqlite:///"),
        ("SLACK_BOT_TOKEN", "xoxb-"),
        ("SLACK_APP_TOKEN", "xapp-"),
        ("SLACK_API_URL", "http(s) URL"),
        ("INTROBOT_SWEEP_INTERVAL", "30s"),
        ("SLACK_SIGNING_SECRET", "empty"),
    ],
)
def test_malformed_message_says_what_is_expected(name: str, fragment: str) -> None:
    bad = {
        "DATABASE_URL": "mysql://x",
        "SLACK_BOT_TOKEN": "xoxp-1",
        "SLACK_APP_TOKEN": "xoxb-1",
        "SLACK_API_URL": "slack.com",
        "INTROBOT_SWEEP_INTERVAL": "often",
        "SLACK_SIGNING_SECRET": "",
    }[name]
    with pytest.raises(SettingsError, match=r"^" + name) as caught:
        load_settings(**{name: bad})
    assert fragment in str(caught.value)


@pytest.mark.parametrize("name", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"])
def test_a_wrong_token_is_not_echoed_in_the_error(name: str) -> None:
    secret = "xoxp-9999-TOPSECRET" if name == "SLACK_BOT_TOKEN" else "xoxb-9999-TOPSECRET"
    with pytest.raises(SettingsError) as caught:
        load_settings(**{name: secret})
    assert "TOPSECRET" not in str(caught.value)


def test_settings_error_hides_the_pydantic_traceback_chain() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(SLACK_BOT_TOKEN="nope")
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True


def test_only_the_first_bad_setting_is_named() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(SLACK_BOT_TOKEN="nope", SLACK_APP_TOKEN="nope")
    message = str(caught.value)
    assert ("SLACK_BOT_TOKEN" in message) != ("SLACK_APP_TOKEN" in message)


# --- good values -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///relative.db",
        "sqlite:////abs/path/introbot.db",
        "sqlite+aiosqlite:///x.db",
        "postgresql://user:pw@db:5432/introbot",
        "postgresql+psycopg://user@db/introbot",
        "postgres://user@db/introbot",
    ],
)
def test_supported_database_urls_are_accepted_unchanged(url: str) -> None:
    database_url = load_settings(DATABASE_URL=url).DATABASE_URL
    assert database_url == url


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080/api/"),
        ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080/api/"),
        ("https://slack.com/api", "https://slack.com/api/"),
    ],
)
def test_slack_api_url_gets_a_trailing_slash(value: str, expected: str) -> None:
    api_url = load_settings(SLACK_API_URL=value).SLACK_API_URL
    assert api_url == expected


def test_slack_api_url_from_env_gets_a_trailing_slash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://localhost:3000/api")
    assert load_settings().SLACK_API_URL == "http://localhost:3000/api/"


@pytest.mark.parametrize(
    ("value", "seconds"), [("30s", 30.0), ("15m", 900.0), ("1h", 3600.0), ("2d", 172800.0)]
)
def test_sweep_interval_seconds(value: str, seconds: float) -> None:
    assert load_settings(INTROBOT_SWEEP_INTERVAL=value).sweep_interval_seconds == seconds


# --- where settings come from ------------------------------------------------------------


def test_env_vars_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("INTROBOT_SWEEP_INTERVAL", "5m")
    settings = load_settings()
    assert settings.SLACK_BOT_TOKEN == BOT_TOKEN
    assert settings.SLACK_APP_TOKEN == APP_TOKEN
    assert settings.SLACK_SIGNING_SECRET == "s3cret"
    assert settings.DATABASE_URL == "postgresql://u@h/db"
    assert settings.sweep_interval_seconds == 300.0


def test_env_var_names_are_case_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("slack_bot_token", "lowercase-is-ignored")
    assert load_settings().SLACK_BOT_TOKEN is None


def test_overrides_beat_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_API_URL", "http://from-env/api/")
    assert load_settings(SLACK_API_URL="http://override/api").SLACK_API_URL == (
        "http://override/api/"
    )


def test_dotenv_in_the_working_directory_is_read(tmp_path: Path) -> None:
    assert Path.cwd() == tmp_path
    (tmp_path / ".env").write_text(
        "# local settings\n"
        f"SLACK_BOT_TOKEN={BOT_TOKEN}\n"
        "SLACK_SIGNING_SECRET='quoted secret'\n"
        "SLACK_API_URL=http://127.0.0.1:9999/api\n"
        "INTROBOT_SWEEP_INTERVAL=10s\n"
        "SOMETHING_ELSE=ignored\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.SLACK_BOT_TOKEN == BOT_TOKEN
    assert settings.SLACK_SIGNING_SECRET == "quoted secret"
    assert settings.SLACK_API_URL == "http://127.0.0.1:9999/api/"
    assert settings.sweep_interval_seconds == 10.0


def test_env_vars_beat_the_dotenv_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(f"SLACK_BOT_TOKEN={BOT_TOKEN}\n", encoding="utf-8")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    assert load_settings().SLACK_BOT_TOKEN == "xoxb-from-env"


def test_malformed_dotenv_value_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SLACK_APP_TOKEN=xoxb-wrong-kind\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert_one_line_naming(caught.value, "SLACK_APP_TOKEN")


def test_dotenv_elsewhere_is_not_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text(f"SLACK_BOT_TOKEN={BOT_TOKEN}\n", encoding="utf-8")
    assert load_settings().SLACK_BOT_TOKEN is None
    monkeypatch.chdir(elsewhere)
    assert load_settings().SLACK_BOT_TOKEN == BOT_TOKEN


# --- require() ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-"),
        ("SLACK_SIGNING_SECRET", "Signing Secret"),
        ("SLACK_APP_TOKEN", "xapp-"),
    ],
)
def test_require_names_the_missing_setting(name: str, hint: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings().require(name)
    message = str(caught.value)
    assert message.startswith(f"{name} is not set: ")
    assert hint in message
    assert "\n" not in message


def test_require_names_the_first_missing_of_several() -> None:
    settings = load_settings(SLACK_BOT_TOKEN=BOT_TOKEN)
    with pytest.raises(SettingsError, match=r"^SLACK_SIGNING_SECRET is not set"):
        settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")


def test_require_passes_when_everything_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cret")
    monkeypatch.setenv("SLACK_APP_TOKEN", APP_TOKEN)
    settings = load_settings()
    settings.require("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "DATABASE_URL")
    settings.require()


def test_settings_class_is_what_load_settings_returns() -> None:
    assert isinstance(load_settings(), Settings)


def test_loop_closure_settings() -> None:
    settings = load_settings(
        INTROBOT_NUDGE_AFTER="30s",
        INTROBOT_FOLLOW_UP_AFTER="15m",
        INTROBOT_OUTCOME_AFTER="2d",
        INTROBOT_WORKING_HOURS="always",
        INTROBOT_DELIVERY_LEASE="10s",
    )
    assert settings.cadence.nudge_after.total_seconds() == 30
    assert settings.cadence.follow_up_after.total_seconds() == 900
    assert settings.cadence.outcome_after.days == 2
    assert settings.working_hours is None
    assert settings.delivery_lease.total_seconds() == 10
    defaults = load_settings()
    assert defaults.cadence.nudge_after.days == 2
    assert defaults.working_hours is not None and defaults.working_hours.start.hour == 9


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({}, "SLACK_BOT_TOKEN is not set"),
        (
            {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "s"},
            "SLACK_BOT_TOKEN and SLACK_CLIENT_ID are both set",
        ),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"}, "SLACK_CLIENT_SECRET is not set"),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c"}, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_BOT_TOKEN": BOT_TOKEN}, "SLACK_SIGNING_SECRET is not set"),
    ],
)
def test_serving_needs_exactly_one_mode(overrides: dict[str, str], fragment: str) -> None:
    settings = load_settings(**overrides)
    with pytest.raises(SettingsError, match=fragment) as caught:
        settings.require_serving_mode()
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "overrides",
    [
        {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "s"},
        {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s"},
    ],
)
def test_either_mode_serves(overrides: dict[str, str]) -> None:
    settings = load_settings(**overrides)
    settings.require_serving_mode()
    assert settings.distributed == ("SLACK_CLIENT_ID" in overrides)


def test_uninstall_retention_rejects_junk() -> None:
    with pytest.raises(SettingsError, match="INTROBOT_UNINSTALL_RETENTION is malformed"):
        load_settings(INTROBOT_UNINSTALL_RETENTION="soon")


def test_the_files_url_defaults_to_slacks_file_host_and_must_be_http() -> None:
    assert load_settings().SLACK_FILES_URL == "https://files.slack.com/"
    assert load_settings(SLACK_FILES_URL="http://127.0.0.1:9").SLACK_FILES_URL == (
        "http://127.0.0.1:9/"
    )
    with pytest.raises(SettingsError) as raised:
        load_settings(SLACK_FILES_URL="files.slack.com")
    assert_one_line_naming(raised.value, "SLACK_FILES_URL")


# --- privacy: the hash key and the retention ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("0", timedelta(0)),
        ("0d", timedelta(0)),
        ("12h", timedelta(hours=12)),
    ],
)
def test_uninstall_retention(value: str, expected: timedelta) -> None:
    assert load_settings(INTROBOT_UNINSTALL_RETENTION=value).uninstall_retention == expected


def test_uninstall_retention_defaults_to_30_days() -> None:
    assert load_settings().uninstall_retention == timedelta(days=30)


def test_the_contact_hash_key_is_set_or_derived_from_the_signing_secret() -> None:
    assert load_settings().contact_hash_key is None
    own = load_settings(INTROBOT_HASH_KEY="a-long-random-secret-value")
    assert own.contact_hash_key == b"a-long-random-secret-value"
    derived = load_settings(SLACK_SIGNING_SECRET="signing-secret").contact_hash_key
    assert derived is not None and b"signing-secret" not in derived and len(derived) == 32
    assert derived == load_settings(SLACK_SIGNING_SECRET="signing-secret").contact_hash_key
    assert derived != load_settings(SLACK_SIGNING_SECRET="another-secret").contact_hash_key


def test_a_webhook_url_and_its_secret_are_set_together() -> None:
    only_url = load_settings(INTROBOT_WEBHOOK_URL="https://hooks.example.com/introbot")
    with pytest.raises(SettingsError, match="^INTROBOT_WEBHOOK_SECRET is not set"):
        only_url.require_webhook_pair()
    only_secret = load_settings(INTROBOT_WEBHOOK_SECRET="s" * 16)
    with pytest.raises(SettingsError, match="^INTROBOT_WEBHOOK_URL is not set"):
        only_secret.require_webhook_pair()
    both = load_settings(
        INTROBOT_WEBHOOK_URL="https://hooks.example.com/introbot", INTROBOT_WEBHOOK_SECRET="s" * 16
    )
    both.require_webhook_pair()
    assert both.webhook == ("https://hooks.example.com/introbot", "s" * 16)
    assert load_settings().webhook is None


def test_a_webhook_url_setting_is_refused_when_installed_over_oauth() -> None:
    # Every workspace's changes would go to the one URL.
    installed = load_settings(
        SLACK_CLIENT_ID="1.2",
        SLACK_CLIENT_SECRET="s",
        INTROBOT_WEBHOOK_URL="https://hooks.example.com/introbot",
        INTROBOT_WEBHOOK_SECRET="s" * 16,
    )
    with pytest.raises(SettingsError, match="^INTROBOT_WEBHOOK_URL is for one workspace"):
        installed.require_webhook_pair()
