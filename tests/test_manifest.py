"""manifest.yml is a valid Slack app manifest that matches what the code listens for."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "slack"
REFERENCE = ROOT / "bot" / "standin" / "reference" / "web_api_methods.json"


@pytest.fixture(scope="module")
def manifest() -> dict:
    loaded: dict = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    return loaded


def test_manifest_validates_against_slacks_schema(manifest: dict) -> None:
    schema_path = SHARED / "manifest.schema.1.0.0.json"
    if not schema_path.exists():
        pytest.skip(f"Slack's manifest schema is not at {schema_path}")
    jsonschema.validate(manifest, json.loads(schema_path.read_text(encoding="utf-8")))


def test_manifest_declares_each_surface(manifest: dict) -> None:
    features = manifest["features"]
    (command,) = features["slash_commands"]
    assert command["command"] == "/intro" and command["usage_hint"]
    (shortcut,) = features["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == "request_intro_from_message"
    assert features["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "file_shared",
    ]
    assert command["should_escape"] is True  # mentions arrive as <@U…> for /intro owner


def test_bot_scopes_are_the_fewest_that_cover_the_methods_used(manifest: dict) -> None:
    methods = json.loads((REFERENCE).read_text())
    used = [
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        "chat.getPermalink",
        "users.info",
        "views.open",
        "views.update",
        "views.publish",
        "files.info",  # a LinkedIn export shared in the bot's DM
        "files.getUploadURLExternal",  # /intro export
        "files.completeUploadExternal",
        "conversations.open",
    ]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    needed = {"commands"}  # slash commands and shortcuts
    for method in used:
        alternatives = set(methods[method]["scopes"])
        assert not alternatives or scopes & alternatives, method
        needed |= scopes & alternatives  # conversations.open takes any of four; im:write is ours
    assert scopes == needed  # nothing asked for that no call needs


def test_vendored_web_api_reference_matches_the_shared_copy() -> None:
    shared = SHARED / "web_api_methods.json"
    if not shared.exists():
        pytest.skip(f"no shared reference at {shared}")
    vendored = REFERENCE
    assert json.loads(vendored.read_text()) == json.loads(shared.read_text())


def test_the_local_stand_in_grants_exactly_the_manifest_scopes(manifest: dict) -> None:
    from bot.standin.stack import BOT_SCOPES

    assert set(BOT_SCOPES) == set(manifest["oauth_config"]["scopes"]["bot"])
