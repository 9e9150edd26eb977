"""Reading a failed Web API call, whatever Slack (or a proxy in front of it) answered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.observability.slack_errors import retry_after_seconds, slack_error_code, slack_status
from bot.standin.web_api import FakeSlack


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as started:
        started.add_user("U1", name="riya")
        yield started


async def _failure(fake: FakeSlack) -> SlackApiError:
    client = AsyncWebClient(token=fake.token, base_url=fake.base_url, retry_handlers=[])
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U1")
    return raised.value


@pytest.mark.parametrize(
    "content_type, body",
    [
        ("text/plain", "Bad Gateway"),
        ("text/html", "<html><h1>502 Bad Gateway</h1></html>"),
        ("application/json", "<html>not json</html>"),
    ],
)
async def test_an_error_page_reads_as_its_http_status(
    fake: FakeSlack, content_type: str, body: str
) -> None:
    fake.fail_next("users.info", status=502, raw_body=(content_type, body))
    failure = await _failure(fake)
    assert slack_error_code(failure) == "http_502"
    assert slack_status(failure) == 502


async def test_slacks_own_error_reads_as_its_code(fake: FakeSlack) -> None:
    fake.fail_next("users.info", error="user_not_found")
    assert slack_error_code(await _failure(fake)) == "user_not_found"


async def test_retry_after_is_read_from_a_429(fake: FakeSlack) -> None:
    fake.fail_next("users.info", status=429, retry_after=17)
    failure = await _failure(fake)
    assert (slack_error_code(failure), retry_after_seconds(failure)) == ("ratelimited", 17)
