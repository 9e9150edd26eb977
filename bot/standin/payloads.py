"""Slack-shaped requests to the bot's endpoint, signed the way Slack signs them.

Used by `introbot demo` to play Slack's part, and by the end-to-end tests.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

TEAM_ID = "T0FAKE"


def slash_command(
    user_id: str,
    text: str,
    trigger_id: str,
    *,
    response_url: str = "",
    channel_id: str = "C0GENERAL",
    command: str = "/intro",
) -> dict[str, str]:
    return {
        "token": "legacy-verification-token-unused",
        "team_id": TEAM_ID,
        "team_domain": "fake",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": "A0INTROBOT",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def _user(user_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "team_id": TEAM_ID}


def view_submission(user_id: str, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Submit `view` (as the bot opened it) with `values`: block_id -> submitted value.

    A value is given the shape its block's element reports: a user, an option, or text.
    """
    state: dict[str, Any] = {}
    for block in view.get("blocks", []):
        block_id = block.get("block_id")
        if block.get("type") != "input" or block_id not in values:
            continue
        element = block["element"]
        value = values[block_id]
        if element["type"] == "users_select":
            reported: dict[str, Any] = {"type": "users_select", "selected_user": value}
        elif element["type"] == "datepicker":
            reported = {"type": "datepicker", "selected_date": value}
        elif element["type"] in ("static_select", "radio_buttons"):
            option = next(o for o in element["options"] if o["value"] == value)
            reported = {"type": element["type"], "selected_option": option}
        else:
            reported = {"type": element["type"], "value": value}
        state[block_id] = {element["action_id"]: reported}
    submitted = {**view, "state": {"values": state}}
    # Slack gives every opened view its own id; a view passed without one gets a fresh one.
    submitted.setdefault("id", f"V{uuid.uuid4().hex[:10].upper()}")
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user_id),
        "api_app_id": "A0INTROBOT",
        "trigger_id": "",
        "view": submitted,
    }


def block_action(
    user_id: str,
    action_id: str,
    value: str,
    trigger_id: str,
    *,
    channel_id: str | None = None,
    message_ts: str | None = None,
    response_url: str = "",
    on_home: bool = False,
    selected_option: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button pressed, or (with `selected_option`) an option picked from a static select
    whose options carry the values."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user_id),
        "api_app_id": "A0INTROBOT",
        "trigger_id": trigger_id,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "actions",
                "value": value,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    if selected_option is not None:
        picked = payload["actions"][0]
        del picked["value"]
        picked.update(type="static_select", selected_option=selected_option)
    if on_home:
        payload["container"] = {"type": "view", "view_id": "VHOME"}
        payload["view"] = {"id": "VHOME", "type": "home"}
    else:
        payload["container"] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": "directmessage"}
        payload["message"] = {"ts": message_ts, "type": "message"}
        payload["response_url"] = response_url
    return payload


def view_action(
    user_id: str,
    view: dict[str, Any],
    action: dict[str, Any],
    values: dict[str, Any] | None = None,
    trigger_id: str = "",
) -> dict[str, Any]:
    """An interactive element pressed (or Enter typed) inside an open modal."""
    submitted = view_submission(user_id, view, values or {})["view"]
    return {
        "type": "block_actions",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user_id),
        "api_app_id": "A0INTROBOT",
        "trigger_id": trigger_id,
        "container": {"type": "view", "view_id": submitted.get("id", "")},
        "view": submitted,
        "actions": [{"action_ts": f"{time.time():.6f}", **action}],
    }


def file_shared(user_id: str, file_id: str, channel_id: str) -> dict[str, Any]:
    return {
        "token": "unused",
        "team_id": TEAM_ID,
        "api_app_id": "A0INTROBOT",
        "type": "event_callback",
        "event_id": f"Ev{file_id}{int(time.time() * 1e6)}",
        "event_time": int(time.time()),
        "event": {
            "type": "file_shared",
            "file_id": file_id,
            "user_id": user_id,
            "file": {"id": file_id},
            "channel_id": channel_id,
            "event_ts": f"{time.time():.6f}",
        },
    }


def message_shortcut(
    user_id: str, text: str, trigger_id: str, *, channel_id: str = "C0DEALS", ts: str = "1.0"
) -> dict[str, Any]:
    return {
        "type": "message_action",
        "callback_id": "request_intro_from_message",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "user": _user(user_id),
        "channel": {"id": channel_id, "name": "deals"},
        "message": {"type": "message", "user": "U0AUTHOR", "ts": ts, "text": text},
        "trigger_id": trigger_id,
        "response_url": "",
        "message_ts": ts,
    }


def app_home_opened(user_id: str) -> dict[str, Any]:
    return {
        "token": "unused",
        "team_id": TEAM_ID,
        "api_app_id": "A0INTROBOT",
        "type": "event_callback",
        "event_id": f"Ev{int(time.time() * 1e6)}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user_id,
            "channel": "D0HOME",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
    }


def user_change(
    user_id: str,
    *,
    deleted: bool,
    kind: str = "user_change",
    tz: str = "Europe/Paris",
    **profile: str,
) -> dict[str, Any]:
    """Slack's event when a member's profile or status changes, deactivation included
    (`kind="team_join"`: when a member joins). `profile` adds fields such as title or
    real_name."""
    return {
        "token": "unused",
        "team_id": TEAM_ID,
        "api_app_id": "A0INTROBOT",
        "type": "event_callback",
        "event_id": f"Ev{user_id}{int(time.time() * 1e6)}",
        "event_time": int(time.time()),
        "event": {
            "type": kind,
            "user": {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": user_id.lower(),
                "deleted": deleted,
                "is_bot": False,
                "tz": tz,
                "profile": {"real_name": user_id} | profile,
            },
            "cache_ts": int(time.time()),
            "event_ts": f"{time.time():.6f}",
        },
        "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT", "is_bot": True}],
    }


def function_executed(
    callback_id: str,
    definition: dict[str, Any],
    inputs: dict[str, Any],
    *,
    function_execution_id: str,
    bot_access_token: str,
    workflow_execution_id: str,
    team_id: str = TEAM_ID,
    enterprise_id: str | None = None,
    app_id: str = "A0INTROBOT",
) -> dict[str, Any]:
    """A workflow reached one of the app's custom steps: Slack's `function_executed` event,
    with the step as the manifest declares it (its parameters as lists, each with its name),
    the inputs the workflow gave, and the execution's own short-lived token. With
    `enterprise_id`, the shape of an org-wide install: the envelope names the org, and its
    authorization no workspace."""
    now = time.time()

    def parameters(kind: str) -> list[dict[str, Any]]:
        declared = definition.get(kind) or {}
        return [{"name": name, **spec} for name, spec in declared.items()]

    payload: dict[str, Any] = {
        "token": "unused",
        "team_id": team_id,
        "api_app_id": app_id,
        "type": "event_callback",
        "event_id": f"Ev{function_execution_id}",
        "event_time": int(now),
        "event": {
            "type": "function_executed",
            "function": {
                "id": f"Fn{callback_id.upper()[:10]}",
                "callback_id": callback_id,
                "title": definition.get("title", ""),
                "description": definition.get("description", ""),
                "type": "app",
                "input_parameters": parameters("input_parameters"),
                "output_parameters": parameters("output_parameters"),
                "app_id": app_id,
                "date_created": int(now) - 86_400,
                "date_updated": int(now) - 86_400,
                "date_deleted": 0,
            },
            "inputs": inputs,
            "function_execution_id": function_execution_id,
            "workflow_execution_id": workflow_execution_id,
            "event_ts": f"{now:.6f}",
            "bot_access_token": bot_access_token,
        },
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": None if enterprise_id else team_id,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": enterprise_id is not None,
            }
        ],
        "is_ext_shared_channel": False,
    }
    if enterprise_id is not None:
        payload.update(enterprise_id=enterprise_id, is_enterprise_install=True)
    return payload


@dataclass
class SlackSender:
    """Posts payloads to the bot's endpoint, signed with the signing secret."""

    endpoint: str
    signing_secret: str
    session: aiohttp.ClientSession | None = None
    last_status: int = field(default=0)

    async def __aenter__(self) -> SlackSender:
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    def signed_headers(
        self, body: str, content_type: str, *, timestamp: int | None = None
    ) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(self.signing_secret).generate_signature(
            timestamp=ts, body=body
        )
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "",
        }

    async def post_raw(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str]:
        assert self.session is not None, "use SlackSender as an async context manager"
        all_headers = headers or self.signed_headers(body, content_type)
        async with self.session.post(self.endpoint, data=body, headers=all_headers) as response:
            self.last_status = response.status
            return response.status, await response.text()

    async def command(self, fields: dict[str, str]) -> tuple[int, str]:
        return await self.post_raw(urlencode(fields), "application/x-www-form-urlencoded")

    async def interaction(self, payload: dict[str, Any]) -> tuple[int, str]:
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post_raw(body, "application/x-www-form-urlencoded")

    async def event(self, payload: dict[str, Any]) -> tuple[int, str]:
        return await self.post_raw(json.dumps(payload), "application/json")
