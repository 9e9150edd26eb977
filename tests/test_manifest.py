"""manifest.yml is a valid Slack app manifest that matches what the code listens for, and is
what `introbot manifest` prints; the HTTP variant is valid too."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from bot.wiring.cli import main
from bot.wiring.manifest import render_manifest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "slack"
REFERENCE = ROOT / "bot" / "standin" / "reference" / "web_api_methods.json"


HOST = "https://intro.example.com"


@pytest.fixture(scope="module")
def manifest() -> dict:
    loaded: dict = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def http_manifest() -> dict:
    loaded: dict = yaml.safe_load(render_manifest(HOST + "/"))
    return loaded


def test_manifest_yml_is_what_introbot_manifest_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest"]) == 0
    assert capsys.readouterr().out == (ROOT / "manifest.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("variant", ["manifest", "http_manifest"])
def test_manifest_validates_against_slacks_schema(
    variant: str, request: pytest.FixtureRequest
) -> None:
    schema_path = SHARED / "manifest.schema.1.0.0.json"
    if not schema_path.exists():
        pytest.skip(f"Slack's manifest schema is not at {schema_path}")
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    jsonschema.validate(request.getfixturevalue(variant), schema)


def test_socket_mode_manifest_needs_no_public_url(manifest: dict) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "url" not in manifest["features"]["slash_commands"][0]
    assert "request_url" not in manifest["settings"]["event_subscriptions"]
    assert "request_url" not in manifest["settings"]["interactivity"]


def test_http_manifest_fills_in_every_request_url(http_manifest: dict) -> None:
    events = HOST + "/slack/events"
    assert http_manifest["settings"]["socket_mode_enabled"] is False
    assert http_manifest["features"]["slash_commands"][0]["url"] == events
    assert http_manifest["settings"]["event_subscriptions"]["request_url"] == events
    assert http_manifest["settings"]["interactivity"]["request_url"] == events
    assert http_manifest["oauth_config"]["redirect_urls"] == [HOST + "/slack/oauth_redirect"]


@pytest.mark.parametrize(
    "url", ["http://intro.example.com", "intro.example.com", "https://", "https://a.b/?x=1"]
)
def test_introbot_manifest_refuses_a_url_slack_would_not_call(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["manifest", "--url", url]) == 2
    assert "https" in capsys.readouterr().err


def test_messages_tab_accepts_what_people_send(manifest: dict) -> None:
    """The LinkedIn import reads a file sent in the Messages tab: read-only would forbid it."""
    app_home = manifest["features"]["app_home"]
    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is False


def test_subscribed_events_are_the_ones_handled(manifest: dict) -> None:
    handled = set()
    for module in (ROOT / "handlers").glob("*.py"):
        source = module.read_text()
        handled |= set(re.findall(r"app\.event\(\"(\w+)\"\)", source))
        if re.search(r"app\.function\(", source):  # a custom step runs on this event
            handled.add("function_executed")
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == handled


def test_manifest_declares_the_workflow_steps_the_app_runs(manifest: dict) -> None:
    from bot.rendering.ids import StepId

    source = (ROOT / "handlers" / "steps.py").read_text()
    registered = {
        StepId[name].value for name in re.findall(r"app\.function\(StepId\.(\w+)\)", source)
    }
    assert set(manifest["functions"]) == {step.value for step in StepId} == registered
    # Custom steps run here, in an org-ready app, on Slack's function_executed event.
    settings = manifest["settings"]
    assert settings["function_runtime"] == "remote"
    assert settings["org_deploy_enabled"] is True
    assert "function_executed" in settings["event_subscriptions"]["bot_events"]
    for step in manifest["functions"].values():
        for kind in ("input_parameters", "output_parameters"):
            for name, parameter in step[kind].items():
                assert parameter["name"] == name and parameter["title"], (name, parameter)


def test_manifest_declares_each_surface(manifest: dict) -> None:
    features = manifest["features"]
    (command,) = features["slash_commands"]
    assert command["command"] == "/intro" and command["usage_hint"]
    (shortcut,) = features["shortcuts"]
    assert shortcut["type"] == "message"
    assert shortcut["callback_id"] == "request_intro_from_message"
    assert features["app_home"]["home_tab_enabled"] is True
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    # Mentions arrive as <@U…> for /intro owner, and user groups as <!subteam^S…|@handle> for
    # /intro team.
    assert command["should_escape"] is True


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
        "files.getUploadURLExternal",  # /intro export, a manager's chart
        "files.completeUploadExternal",
        "conversations.open",
        "usergroups.users.list",  # a user group named as a manager's team
    ]
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    # Slash commands and shortcuts; the profile's email field in users.info (the intro email).
    needed = {"commands", "users:read.email"}
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
    from bot.standin.stack import LocalStack

    stack = LocalStack("sqlite:///unused.db")
    assert set(stack.fake.scopes) == set(manifest["oauth_config"]["scopes"]["bot"])
