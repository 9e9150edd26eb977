"""The HTTP endpoint's contract with Slack: signatures, timestamps, malformed bodies, health."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import aiohttp

from bot.standin import payloads
from bot.standin.stack import SIGNING_SECRET, LocalStack


async def test_bad_signature_is_refused_with_401(stack: LocalStack) -> None:
    assert stack.slack is not None
    body = urlencode(payloads.slash_command("U0REQUESTER", "", stack.fake.issue_trigger_id("x")))
    headers = stack.slack.signed_headers(body, "application/x-www-form-urlencoded")
    headers["X-Slack-Signature"] = "v0=" + "0" * 64
    status, _ = await stack.slack.post_raw(body, "", headers)
    assert status == 401
    assert stack.fake.count("views.open") == 0


async def test_timestamp_older_than_five_minutes_is_refused(stack: LocalStack) -> None:
    assert stack.slack is not None
    body = urlencode(payloads.slash_command("U0REQUESTER", "", stack.fake.issue_trigger_id("x")))
    headers = stack.slack.signed_headers(
        body, "application/x-www-form-urlencoded", timestamp=int(time.time()) - 6 * 60
    )
    status, _ = await stack.slack.post_raw(body, "", headers)
    assert status == 401


async def test_signed_but_malformed_payload_is_a_400_not_a_500(stack: LocalStack) -> None:
    assert stack.slack is not None
    for body, content_type in (
        ("payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
    ):
        status, _ = await stack.slack.post_raw(
            body, content_type, stack.slack.signed_headers(body, content_type)
        )
        assert status == 400, body


async def test_unsigned_malformed_payload_is_a_401(stack: LocalStack) -> None:
    assert stack.slack is not None
    status, _ = await stack.slack.post_raw("{not json", "", {"Content-Type": "application/json"})
    assert status == 401


async def test_signed_payload_of_unknown_shape_is_a_4xx(stack: LocalStack) -> None:
    assert stack.slack is not None
    for payload in ({"type": "block_actions"}, {"type": "view_submission", "view": {}}):
        status, _ = await stack.slack.interaction(payload)
        assert status == 404, payload
    status, _ = await stack.slack.event({"type": "event_callback", "event": {"type": "nope"}})
    assert status == 404


async def test_button_with_a_garbled_value_changes_nothing(stack: LocalStack) -> None:
    assert stack.slack is not None
    payload = payloads.block_action(
        "U0OTHER", "intro_accept", "not-a-number", "t", channel_id="D0OTHER", message_ts="1.0"
    )
    status, _ = await stack.slack.interaction(payload)
    assert status == 200
    await stack.until(lambda: len(stack.fake.messages_for("U0OTHER")) == 1, "a note")
    assert "no longer exists" in stack.fake.messages_for("U0OTHER")[0]["text"]


async def test_url_verification_challenge_is_answered(stack: LocalStack) -> None:
    assert stack.slack is not None
    status, body = await stack.slack.event({"type": "url_verification", "challenge": "c-123"})
    assert status == 200 and "c-123" in body


async def test_healthz_reports_ready(stack: LocalStack) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{stack.root}/healthz") as r:
        assert r.status == 200
        assert json.loads(await r.text()) == {"ok": True}


async def test_a_body_that_is_not_utf8_is_a_400_when_signed_and_401_when_not(
    stack: LocalStack,
) -> None:
    raw = b"payload=%7B%7D&text=caf\xe9"  # Latin-1, not UTF-8
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(stack.endpoint, data=raw, headers=headers) as response:
            assert response.status == 400
        headers["X-Slack-Signature"] = "v0=" + "0" * 64
        async with session.post(stack.endpoint, data=raw, headers=headers) as response:
            assert response.status == 401
