"""The stand-in's file uploads, images shown from Slack files, and user groups, as Slack's
reference describes them, driven through slack_sdk's AsyncWebClient."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.standin.web_api import FakeSlack, Grant

ALICE = "U0ALICE"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 56


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack(scopes=("commands", "chat:write", "files:write", "usergroups:read"))
    slack.add_user(ALICE, name="alice")
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token=fake.token, base_url=fake.base_url, retry_handlers=[])


async def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await call
    return str(info.value.response["error"])


async def post(url: str, body: bytes) -> int:
    async with aiohttp.ClientSession() as session, session.post(url, data=body) as response:
        return response.status


def image(file_id: str) -> list[dict[str, Any]]:
    return [{"type": "image", "slack_file": {"id": file_id}, "alt_text": "a chart"}]


async def test_an_upload_is_a_ticket_the_bytes_then_a_completion(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ticket = await client.files_getUploadURLExternal(filename="chart.png", length=len(PNG))
    assert str(ticket["upload_url"]).startswith(fake.url)
    assert await post(ticket["upload_url"], PNG) == 200
    assert await post(ticket["upload_url"], PNG) == 404  # the URL is used up
    done = await client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}])
    (info,) = done["files"]
    assert (info["id"], info["mimetype"], info["size"]) == (ticket["file_id"], "image/png", 64)
    # "This method can only be called once."
    again = client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}])
    assert await error_of(again) == "file_not_found"


async def test_an_upload_is_refused_as_slack_refuses_it(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ticket = client.files_getUploadURLExternal
    assert await error_of(ticket(filename="c.png", length=0)) == "missing_argument"
    assert await error_of(ticket(filename="c.png", length=1, alt_txt="x" * 1001)) == (
        "alt_txt_too_large"
    )
    fake.max_upload_bytes = 10
    assert await error_of(ticket(filename="c.png", length=11)) == "file_upload_size_restricted"
    assert await error_of(ticket(filename="../c.png", length=1)) == "invalid_arguments"
    assert await error_of(client.api_call("files.getUploadURLExternal", params={})) == (
        "invalid_arguments"
    )
    # Fewer bytes than the ticket said: not taken; completing without bytes: no file.
    short = await ticket(filename="c.png", length=5)
    assert await post(short["upload_url"], b"abc") == 400
    complete = client.files_completeUploadExternal(files=[{"id": short["file_id"]}])
    assert await error_of(complete) == "file_not_found"
    assert await error_of(client.files_completeUploadExternal(files=[{"id": "F404"}])) == (
        "file_not_found"
    )


async def test_only_the_workspace_that_asked_completes_an_upload(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    ticket = await client.files_getUploadURLExternal(filename="c.png", length=len(PNG))
    await post(ticket["upload_url"], PNG)
    fake.grants["xoxb-other"] = Grant("T0OTHER")
    other = AsyncWebClient(token="xoxb-other", base_url=fake.base_url, retry_handlers=[])
    refused = other.files_completeUploadExternal(files=[{"id": ticket["file_id"]}])
    assert await error_of(refused) == "file_not_found"


async def test_an_image_block_shows_only_an_uploaded_image_of_the_workspace(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    home = {"type": "home", "blocks": image("F0NOSUCHFILE")}
    assert await error_of(client.views_publish(user_id=ALICE, view=home)) == "invalid_arguments"
    ephemeral = client.chat_postEphemeral(
        channel=fake.dm_channel(ALICE), user=ALICE, text="t", blocks=image("F0NOSUCHFILE")
    )
    assert await error_of(ephemeral) == "invalid_blocks"
    # Uploaded but not completed: not a file yet. A CSV is no image.
    ticket = await client.files_getUploadURLExternal(filename="c.png", length=len(PNG))
    await post(ticket["upload_url"], PNG)
    pending = {"type": "home", "blocks": image(ticket["file_id"])}
    assert await error_of(client.views_publish(user_id=ALICE, view=pending)) == (
        "invalid_arguments"
    )
    await client.files_completeUploadExternal(files=[{"id": ticket["file_id"]}])
    published = await client.views_publish(user_id=ALICE, view=pending)
    assert published["view"]["blocks"][0]["slack_file"] == {"id": ticket["file_id"]}
    csv = await client.files_upload_v2(content="a,b\n", filename="x.csv")
    shown_csv = {"type": "home", "blocks": image(csv["file"]["id"])}
    assert await error_of(client.views_publish(user_id=ALICE, view=shown_csv)) == (
        "invalid_arguments"
    )


async def test_a_user_groups_members_are_listed_by_its_id(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.add_usergroup("S0EAST", "sales-east", [ALICE, "U0BOB"])
    fake.add_usergroup("S0OLD", "sales-old", [ALICE], disabled=True)
    fake.add_usergroup("S0ELSE", "elsewhere", [ALICE], team_id="T0OTHER")
    listed = await client.usergroups_users_list(usergroup="S0EAST")
    assert listed["users"] == [ALICE, "U0BOB"]
    for group in ("S0NOPE", "S0OLD", "S0ELSE"):
        assert await error_of(client.usergroups_users_list(usergroup=group)) == ("no_such_subteam")
    old = await client.usergroups_users_list(usergroup="S0OLD", include_disabled=True)
    assert old["users"] == [ALICE]
    fake.scopes.remove("usergroups:read")
    assert await error_of(client.usergroups_users_list(usergroup="S0EAST")) == "missing_scope"
    assert json.dumps(fake.calls_to("usergroups.users.list")[0].args) == ('{"usergroup": "S0EAST"}')
