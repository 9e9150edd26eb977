"""The operator's settings: INTROBOT_DB_WAIT, INTROBOT_HEALTH_PORT, INTROBOT_LOG_LEVEL/FORMAT."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.settings import SettingsError, load_settings


def test_defaults() -> None:
    settings = load_settings()
    assert settings.db_wait == timedelta(seconds=60)
    assert settings.INTROBOT_HEALTH_PORT is None
    assert settings.INTROBOT_LOG_LEVEL == "INFO"
    assert settings.INTROBOT_LOG_FORMAT == "text"


@pytest.mark.parametrize(
    ("value", "wait"), [("0", timedelta(0)), ("0s", timedelta(0)), ("2m", timedelta(minutes=2))]
)
def test_db_wait(monkeypatch: pytest.MonkeyPatch, value: str, wait: timedelta) -> None:
    monkeypatch.setenv("INTROBOT_DB_WAIT", value)
    assert load_settings().db_wait == wait


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTROBOT_LOG_LEVEL", "debug")
    assert load_settings().INTROBOT_LOG_LEVEL == "DEBUG"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("INTROBOT_DB_WAIT", "soon"),
        ("INTROBOT_DB_WAIT", "-5s"),
        ("INTROBOT_DB_WAIT", "60"),
        ("INTROBOT_HEALTH_PORT", "http"),
        ("INTROBOT_HEALTH_PORT", "70000"),
        ("INTROBOT_HEALTH_PORT", "0"),
        ("INTROBOT_LOG_LEVEL", "verbose"),
        ("INTROBOT_LOG_FORMAT", "xml"),
    ],
)
def test_malformed_is_one_line_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as error:
        load_settings()
    message = str(error.value)
    assert message.startswith(f"{name} is malformed: ") and "\n" not in message
