"""FakeSlack driven through the real slack_sdk AsyncWebClient, as the bot uses it."""

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.standin.web_api import ApiCall, FakeSlack

ALICE = "U0ALICE"
BOB = "U0BOB"
GONE = "U0GONE"
HELPER_BOT = "U0HELPER"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "intro_request",
    "title": {"type": "plain_text", "text": "Request an intro"},
    "submit": {"type": "plain_text", "text": "Send"},
    "blocks": [
        {
            "type": "input",
            "block_id": "why",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "why"},
        }
    ],
}


class FakeClock:
    """Manually advanced clock, so trigger expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeSlack]:
    slack = FakeSlack(clock=clock)
    slack.add_user(ALICE, name="alice", real_name="Alice Example")
    slack.add_user(BOB, name="bob", tz="Europe/London", tz_offset=0)
    slack.add_user(GONE, name="gone", deleted=True)
    slack.add_user(HELPER_BOT, name="helper", is_bot=True)
    await slack.start()
    yield slack
    await slack.stop()


@pytest.fixture
def client(fake: FakeSlack) -> AsyncWebClient:
    # No retry handlers: each test sees exactly what the server answered.
    return AsyncWebClient(token=fake.token, base_url=fake.base_url, retry_handlers=[])


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


# ------------------------------------------------------------------- basics


async def test_base_url_and_auth_test(fake: FakeSlack, client: AsyncWebClient) -> None:
    assert fake.base_url.startswith("http://127.0.0.1:")
    assert fake.base_url.endswith("/api/")
    assert fake.base_url == fake.url + "/api/"

    resp = await client.auth_test()

    assert resp["team_id"] == "T0FAKE"
    assert resp["user_id"] == "UBOT"
    assert resp["bot_id"] == "BFAKE"
    assert fake.calls == [ApiCall("auth.test", {}, True, None, 1000.0, "T0FAKE", "xoxb-fake")]


async def test_users_list_pages_with_a_cursor(fake: FakeSlack, client: AsyncWebClient) -> None:
    # slack_sdk's pager refills one response object: read each page as it comes.
    pages = [list(page["members"]) async for page in await client.users_list(limit=3)]
    assert [len(members) for members in pages] == [3, 2]
    seen = {member["id"] for members in pages for member in members}
    assert seen == {"UBOT", ALICE, BOB, GONE, HELPER_BOT}
    error = await api_error(client.users_list(cursor="not-a-cursor"))
    assert error.response["error"] == "invalid_cursor"


async def test_async_context_manager_starts_and_stops() -> None:
    async with FakeSlack() as slack:
        client = AsyncWebClient(token="xoxb-fake", base_url=slack.base_url, retry_handlers=[])
        assert (await client.auth_test())["ok"] is True
    with pytest.raises(aiohttp.ClientError):
        await client.auth_test()


async def test_unknown_method_refused(fake: FakeSlack, client: AsyncWebClient) -> None:
    err = await api_error(client.api_call("introductions.make"))

    assert err.response.status_code == 200
    assert err.response["error"] == "unknown_method"
    assert fake.calls[-1].ok is False
    assert fake.calls[-1].error == "unknown_method"


@pytest.mark.filterwarnings("ignore:stars.list is deprecated")
async def test_deprecated_method_refused(client: AsyncWebClient) -> None:
    err = await api_error(client.api_call("stars.list"))

    assert err.response["error"] == "method_deprecated"


async def test_missing_required_argument_refused(client: AsyncWebClient) -> None:
    err = await api_error(client.chat_postMessage(channel="", text="hi"))

    assert err.response["error"] == "invalid_arguments"
    assert err.response["response_metadata"]["messages"] == [
        "[ERROR] missing required field: channel"
    ]


async def test_missing_scope_refused_with_needed_and_provided(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    # conversations.open accepts any of four scopes; the default bot has none of them.
    err = await api_error(client.conversations_open(users=ALICE))

    assert err.response["error"] == "missing_scope"
    assert "im:write" in err.response["needed"].split(",")
    assert err.response["provided"] == "commands,chat:write,users:read"

    fake.scopes.append("im:write")
    resp = await client.conversations_open(users=ALICE)
    assert resp["channel"]["id"] == fake.dm_channel(ALICE)


@pytest.mark.parametrize(
    ("token", "error"), [(None, "not_authed"), ("xoxb-someone-else", "invalid_auth")]
)
async def test_bad_token_refused(fake: FakeSlack, token: str | None, error: str) -> None:
    client = AsyncWebClient(token=token, base_url=fake.base_url, retry_handlers=[])

    err = await api_error(client.auth_test())

    assert err.response["error"] == error


async def test_api_test_needs_no_token_and_echoes_errors(fake: FakeSlack) -> None:
    client = AsyncWebClient(token=None, base_url=fake.base_url, retry_handlers=[])

    resp = await client.api_test(foo="bar")
    err = await api_error(client.api_test(error="boom"))

    assert resp["args"] == {"foo": "bar"}
    assert err.response["error"] == "boom"


async def test_known_method_without_behaviour_is_ok_and_recorded(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    resp = await client.api_call("chat.meMessage", params={"channel": "C1", "text": "waves"})

    assert resp.data == {"ok": True}
    assert fake.calls_to("chat.meMessage")[0].args == {"channel": "C1", "text": "waves"}
    assert fake.count("chat.meMessage") == 1
    fake.reset_calls()
    assert fake.calls == []


# --------------------------------------------------------------------- views


async def test_views_open_with_fresh_trigger(fake: FakeSlack, client: AsyncWebClient) -> None:
    trigger = fake.issue_trigger_id(ALICE)

    resp = await client.views_open(trigger_id=trigger, view=MODAL)

    view = resp["view"]
    assert view["id"].startswith("V")
    assert view["callback_id"] == "intro_request"
    assert view["state"] == {"values": {}}
    assert fake.views[view["id"]] == view


async def test_views_open_with_reused_trigger_refused(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    trigger = fake.issue_trigger_id(ALICE)
    await client.views_open(trigger_id=trigger, view=MODAL)

    err = await api_error(client.views_open(trigger_id=trigger, view=MODAL))

    assert err.response["error"] == "exchanged_trigger_id"


async def test_views_open_with_expired_trigger_refused(
    fake: FakeSlack, client: AsyncWebClient, clock: FakeClock
) -> None:
    trigger = fake.issue_trigger_id(ALICE)
    clock.now += 3.5

    err = await api_error(client.views_open(trigger_id=trigger, view=MODAL))

    assert err.response["error"] == "expired_trigger_id"


async def test_views_open_with_unknown_trigger_refused(client: AsyncWebClient) -> None:
    err = await api_error(client.views_open(trigger_id="123.456.abc", view=MODAL))

    assert err.response["error"] == "invalid_trigger_id"


async def test_invalid_view_refused_without_burning_trigger(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    trigger = fake.issue_trigger_id(ALICE)
    no_submit = {key: value for key, value in MODAL.items() if key != "submit"}

    err = await api_error(client.views_open(trigger_id=trigger, view=no_submit))

    assert err.response["error"] == "invalid_arguments"
    assert "submit" in err.response["response_metadata"]["messages"][0]
    assert (await client.views_open(trigger_id=trigger, view=MODAL))["ok"] is True


async def test_views_update_and_publish(fake: FakeSlack, client: AsyncWebClient) -> None:
    opened = await client.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=MODAL)
    view_id = opened["view"]["id"]
    changed = {**MODAL, "title": {"type": "plain_text", "text": "Thanks"}}

    updated = await client.views_update(view_id=view_id, view=changed)
    missing = await api_error(client.views_update(view_id="VNOPE", view=changed))
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}],
    }
    published = await client.views_publish(user_id=ALICE, view=home)

    assert updated["view"]["id"] == view_id
    assert fake.views[view_id]["title"]["text"] == "Thanks"
    assert missing.response["error"] == "not_found"
    assert fake.home_views[ALICE] == published["view"]


# ----------------------------------------------------------------- Block Kit


@pytest.mark.parametrize(
    "block",
    [
        {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}},
        {"type": "actions", "elements": [{"type": "button", "action_id": "go"}]},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "go",
                    "text": {"type": "plain_text", "text": "y" * 76},
                }
            ],
        },
        {"type": "no_such_block"},
    ],
    ids=["section-text-too-long", "button-without-text", "nested-button-text", "unknown-type"],
)
async def test_invalid_blocks_refused(
    fake: FakeSlack, client: AsyncWebClient, block: dict[str, Any]
) -> None:
    err = await api_error(client.chat_postMessage(channel=ALICE, text="hi", blocks=[block]))

    assert err.response["error"] == "invalid_blocks"
    assert err.response["response_metadata"]["messages"][0].startswith("[ERROR] ")
    assert fake.messages_for(ALICE) == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_message_shape_limits(client: AsyncWebClient) -> None:
    divider = {"type": "divider"}

    too_many = await api_error(client.chat_postMessage(channel=ALICE, blocks=[divider] * 51))
    empty = await api_error(client.chat_postMessage(channel=ALICE))
    too_long = await api_error(client.chat_postMessage(channel=ALICE, text="x" * 40_001))

    assert too_many.response["error"] == "invalid_blocks"
    assert empty.response["error"] == "no_text"
    assert too_long.response["error"] == "msg_too_long"


async def test_form_encoded_blocks_are_decoded(fake: FakeSlack, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]

    await client.api_call(
        "chat.postMessage",
        data={"channel": ALICE, "text": "hi", "blocks": json.dumps(blocks)},
    )

    assert fake.messages_for(ALICE)[0]["blocks"] == blocks


# ----------------------------------------------------------------- messaging


async def test_post_to_user_creates_dm_and_update_changes_it(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel=ALICE, text="first")
    second = await client.chat_postMessage(channel=ALICE, text="second")

    updated = await client.chat_update(channel=posted["channel"], ts=posted["ts"], text="edited")

    assert posted["channel"] == fake.dm_channel(ALICE) == "D0ALICE"
    assert posted["message"]["text"] == "first"
    assert second["ts"] > posted["ts"]
    assert updated["message"]["text"] == "edited"
    messages = fake.messages_for(ALICE)
    assert [(m["text"], m["updates"]) for m in messages] == [("edited", 1), ("second", 0)]
    assert messages[0]["history"][0]["text"] == "first"
    assert fake.messages_for(BOB) == []


async def test_delete_removes_message(fake: FakeSlack, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=ALICE, text="bye")

    await client.chat_delete(channel=posted["channel"], ts=posted["ts"])
    again = await api_error(client.chat_delete(channel=posted["channel"], ts=posted["ts"]))

    assert fake.messages_for(ALICE) == []
    assert again.response["error"] == "message_not_found"


async def test_update_of_unknown_message_refused(client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=ALICE, text="first")

    err = await api_error(client.chat_update(channel=posted["channel"], ts="1.000001", text="x"))

    assert err.response["error"] == "message_not_found"


async def test_channels_must_exist(fake: FakeSlack, client: AsyncWebClient) -> None:
    missing = await api_error(client.chat_postMessage(channel="C0INTROS", text="hi"))
    fake.add_channel("C0INTROS", "intros")

    posted = await client.chat_postMessage(channel="C0INTROS", text="hi")
    link = await client.chat_getPermalink(channel="C0INTROS", message_ts=posted["ts"])

    assert missing.response["error"] == "channel_not_found"
    ts_digits = posted["ts"].replace(".", "")
    assert link["permalink"] == f"https://fake.slack.com/archives/C0INTROS/p{ts_digits}"


@pytest.mark.parametrize(
    ("user", "error"),
    [(HELPER_BOT, "cannot_dm_bot"), (GONE, "user_disabled"), ("U0NOBODY", "user_not_found")],
)
async def test_post_to_unreachable_user_refused(
    client: AsyncWebClient, user: str, error: str
) -> None:
    err = await api_error(client.chat_postMessage(channel=user, text="hi"))

    assert err.response["error"] == error


async def test_post_ephemeral_recorded(fake: FakeSlack, client: AsyncWebClient) -> None:
    resp = await client.chat_postEphemeral(channel=fake.dm_channel(ALICE), user=ALICE, text="psst")
    wrong = await api_error(
        client.chat_postEphemeral(channel=fake.dm_channel(ALICE), user=BOB, text="psst")
    )

    assert fake.ephemerals == [
        {
            "channel": "D0ALICE",
            "user": ALICE,
            "text": "psst",
            "blocks": None,
            "message_ts": resp["message_ts"],
        }
    ]
    assert wrong.response["error"] == "user_not_in_channel"


# --------------------------------------------------------------------- users


async def test_users_info(client: AsyncWebClient) -> None:
    alice = (await client.users_info(user=ALICE))["user"]
    bob = (await client.users_info(user=BOB))["user"]
    helper = (await client.users_info(user=HELPER_BOT))["user"]
    gone = (await client.users_info(user=GONE))["user"]
    unknown = await api_error(client.users_info(user="U0NOBODY"))

    assert alice["real_name"] == alice["profile"]["real_name"] == "Alice Example"
    assert alice["profile"]["display_name"] == "alice"
    assert (alice["tz"], alice["tz_label"], alice["tz_offset"]) == (
        "America/New_York",
        "Eastern Standard Time",
        -18000,
    )
    assert (bob["tz"], bob["tz_offset"]) == ("Europe/London", 0)
    assert helper["is_bot"] is True
    assert gone["deleted"] is True
    assert unknown.response["error"] == "user_not_found"


# ------------------------------------------------------------------ security


async def test_broadcast_mentions_recorded_not_refused(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    await client.chat_postMessage(channel=ALICE, text="a plain note for <@U0BOB>")
    assert fake.broadcast_mentions == []

    await client.chat_postMessage(channel=ALICE, text="<!here> look")
    nested = [{"type": "context", "elements": [{"type": "mrkdwn", "text": "cc <!channel>"}]}]
    await client.chat_postMessage(channel=ALICE, text="hi", blocks=nested)

    assert [m["mention"] for m in fake.broadcast_mentions] == ["<!here", "<!channel"]
    assert len(fake.messages_for(ALICE)) == 3


async def test_linked_broadcast_words_recorded(fake: FakeSlack, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=ALICE, text="@here hi")
    assert fake.broadcast_mentions == []  # plain text unless link_names is on

    await client.chat_postMessage(channel=ALICE, text="@everyone hi", link_names=True)

    assert [m["mention"] for m in fake.broadcast_mentions] == ["@everyone"]


# -------------------------------------------------------------------- faults


async def test_rate_limit_fault_answers_429_with_retry_after(
    fake: FakeSlack, client: AsyncWebClient
) -> None:
    fake.fail_next("chat.postMessage", status=429, retry_after=7)

    err = await api_error(client.chat_postMessage(channel=ALICE, text="hi"))
    retried = await client.chat_postMessage(channel=ALICE, text="hi")

    assert err.response.status_code == 429
    assert err.response.headers["Retry-After"] == "7"
    assert err.response["error"] == "ratelimited"
    assert retried["ok"] is True
    assert [(c.ok, c.error) for c in fake.calls_to("chat.postMessage")] == [
        (False, "ratelimited"),
        (True, None),
    ]
    assert len(fake.messages_for(ALICE)) == 1


async def test_server_error_fault(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("users.info", status=503, times=2)

    for _ in range(2):
        err = await api_error(client.users_info(user=ALICE))
        assert err.response.status_code == 503
    assert (await client.users_info(user=ALICE))["user"]["id"] == ALICE


async def test_api_error_fault(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("views.open", error="internal_error")

    err = await api_error(client.views_open(trigger_id=fake.issue_trigger_id(ALICE), view=MODAL))

    assert err.response.status_code == 200
    assert err.response["error"] == "internal_error"


async def test_connection_reset_fault(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.fail_next("chat.postMessage", reset_connection=True)

    with pytest.raises(aiohttp.ClientError):
        await client.chat_postMessage(channel=ALICE, text="hi")

    assert fake.calls_to("chat.postMessage")[0].error == "connection_reset"
    assert fake.messages_for(ALICE) == []
    assert (await client.chat_postMessage(channel=ALICE, text="hi"))["ok"] is True


async def test_default_client_retries_a_reset_once(fake: FakeSlack) -> None:
    # slack_sdk's default retry handler covers one dropped connection.
    client = AsyncWebClient(token=fake.token, base_url=fake.base_url)
    fake.fail_next("chat.postMessage", reset_connection=True)

    assert (await client.chat_postMessage(channel=ALICE, text="hi"))["ok"] is True
    assert fake.count("chat.postMessage") == 2


def test_fail_next_rejects_typos_and_empty_faults() -> None:
    slack = FakeSlack()
    with pytest.raises(ValueError):
        slack.fail_next("chat.postMesage", status=429)
    with pytest.raises(ValueError):
        slack.fail_next("chat.postMessage")
    with pytest.raises(ValueError):
        slack.fail_next("chat.postMessage", status=404)


# -------------------------------------------------------------- response_url


async def test_response_url_records_bolt_respond(fake: FakeSlack) -> None:
    url = fake.response_url("shortcut")
    respond = AsyncRespond(response_url=url)

    resp = await respond(text="Done, <@U0BOB> will hear from you", replace_original=True)

    assert resp.status_code == 200
    assert resp.body == "ok"
    assert fake.responses == [
        {
            "url": url,
            "tag": "shortcut",
            "body": {"text": "Done, <@U0BOB> will hear from you", "replace_original": True},
        }
    ]
    assert fake.broadcast_mentions == []


async def test_response_url_fault(fake: FakeSlack) -> None:
    fake.fail_next("response_url", status=500)
    respond = AsyncRespond(response_url=fake.response_url())

    failed = await respond(text="hello")
    delivered = await respond(text="hello")

    assert (failed.status_code, delivered.status_code) == (500, 200)
    assert len(fake.responses) == 1


async def test_unknown_response_url_is_404(fake: FakeSlack) -> None:
    respond = AsyncRespond(response_url=f"{fake.url}/response/nope")

    resp = await respond(text="hello")

    assert resp.status_code == 404
    assert fake.responses == []


# ------------------------------------------------------- workspaces and OAuth


async def test_each_token_sees_its_own_workspace(fake: FakeSlack, client: AsyncWebClient) -> None:
    fake.add_workspace("T0OTHER", "Other Co", token="xoxb-other")
    fake.add_user("U0THEIRS", name="theirs", team_id="T0OTHER")
    other = AsyncWebClient(token="xoxb-other", base_url=fake.base_url, retry_handlers=[])

    assert (await other.auth_test())["team_id"] == "T0OTHER"
    assert (await client.auth_test())["team_id"] == fake.team_id
    assert (await other.users_info(user="U0THEIRS"))["user"]["team_id"] == "T0OTHER"
    hidden = await api_error(other.users_info(user=ALICE))
    assert hidden.response["error"] == "user_not_found"
    unreachable = await api_error(client.chat_postMessage(channel="U0THEIRS", text="hi"))
    assert unreachable.response["error"] == "user_not_found"
    listed = [m["id"] for m in (await other.users_list())["members"]]
    assert sorted(listed) == ["U0THEIRS", "UBT0OTHER"]

    await other.chat_postMessage(channel="U0THEIRS", text="hi")
    (sent,) = [c for c in fake.calls_to("chat.postMessage") if c.ok]
    assert (sent.team_id, sent.token) == ("T0OTHER", "xoxb-other")


async def test_oauth_code_exchange_checks_the_app_and_the_code(fake: FakeSlack) -> None:
    fake.enable_oauth("1.2", "secret")
    anonymous = AsyncWebClient(base_url=fake.base_url, retry_handlers=[])
    code = fake.authorize(fake.team_id, ["chat:write"])

    wrong = await api_error(
        anonymous.oauth_v2_access(client_id="1.2", client_secret="x", code=code)
    )
    assert wrong.response["error"] == "bad_client_secret"
    answer = await anonymous.oauth_v2_access(client_id="1.2", client_secret="secret", code=code)
    assert answer["token_type"] == "bot" and answer["scope"] == "chat:write"
    assert answer["team"] == {"id": fake.team_id, "name": "Fake Team"}
    assert "refresh_token" not in answer
    again = await api_error(
        anonymous.oauth_v2_access(client_id="1.2", client_secret="secret", code=code)
    )
    assert again.response["error"] == "invalid_code"

    installed = AsyncWebClient(token=answer["access_token"], base_url=fake.base_url)
    assert (await installed.auth_test())["team_id"] == fake.team_id
    missing = await api_error(installed.users_info(user=ALICE))  # only chat:write granted
    assert missing.response["error"] == "missing_scope"


async def test_rotating_tokens_refresh_and_revoked_tokens_fail(fake: FakeSlack) -> None:
    fake.enable_oauth("1.2", "secret", token_rotation=True)
    anonymous = AsyncWebClient(base_url=fake.base_url, retry_handlers=[])
    code = fake.authorize(fake.team_id, ["users:read"])
    first = await anonymous.oauth_v2_access(client_id="1.2", client_secret="secret", code=code)
    assert first["access_token"].startswith("xoxe.xoxb-") and first["expires_in"] > 0

    refreshed = await anonymous.oauth_v2_access(
        client_id="1.2",
        client_secret="secret",
        grant_type="refresh_token",
        refresh_token=first["refresh_token"],
    )
    assert refreshed["access_token"] != first["access_token"]
    assert refreshed["refresh_token"] != first["refresh_token"]
    reused = await api_error(
        anonymous.oauth_v2_access(
            client_id="1.2",
            client_secret="secret",
            grant_type="refresh_token",
            refresh_token=first["refresh_token"],
        )
    )
    assert reused.response["error"] == "invalid_refresh_token"

    newest = AsyncWebClient(token=refreshed["access_token"], base_url=fake.base_url)
    fake.expire(refreshed["access_token"])
    expired = await api_error(newest.auth_test())
    assert expired.response["error"] == "token_expired"
    fake.revoke_workspace(fake.team_id)
    revoked = await api_error(AsyncWebClient(token=fake.token, base_url=fake.base_url).auth_test())
    assert revoked.response["error"] == "token_revoked"


# ------------------------------------------------------------- custom steps

STEP = {
    "title": "Reverse",
    "description": "Reverses a string",
    "input_parameters": {"text": {"type": "string", "is_required": True}},
    "output_parameters": {
        "reversed": {"type": "string", "is_required": True},
        "length": {"type": "integer", "is_required": False},
        "by": {"type": "slack#/types/user_id", "is_required": False},
    },
}


@pytest.fixture
def step_client(fake: FakeSlack) -> tuple[AsyncWebClient, str]:
    """A client holding one execution's own token, and that execution's id."""
    fake.declare_functions({"reverse": STEP})
    execution = fake.execute_function("reverse")
    client = AsyncWebClient(token=execution.token, base_url=fake.base_url, retry_handlers=[])
    return client, execution.id


async def test_a_function_completes_once_with_its_declared_outputs(
    fake: FakeSlack, step_client: tuple[AsyncWebClient, str]
) -> None:
    client, execution_id = step_client
    outputs = {"reversed": "olleh", "length": 5, "by": ALICE}
    await client.functions_completeSuccess(function_execution_id=execution_id, outputs=outputs)
    execution = fake.executions[execution_id]
    assert (execution.state, execution.outputs) == ("completed", outputs)
    again = await api_error(
        client.functions_completeError(function_execution_id=execution_id, error="late")
    )
    # The token lasts as long as the run: once it is over, Slack takes it no more.
    assert again.response["error"] == "token_revoked"


async def test_a_second_completion_of_one_execution_is_refused(
    fake: FakeSlack, step_client: tuple[AsyncWebClient, str]
) -> None:
    _, execution_id = step_client
    execution = fake.executions[execution_id]
    fake.grants[execution.token].revoked = False  # a token that still works: the state decides
    client = AsyncWebClient(token=execution.token, base_url=fake.base_url, retry_handlers=[])
    await client.functions_completeError(function_execution_id=execution_id, error="No luck.")
    assert (execution.state, execution.error) == ("failed", "No luck.")
    fake.grants[execution.token].revoked = False
    again = await api_error(
        client.functions_completeSuccess(
            function_execution_id=execution_id, outputs={"reversed": "x"}
        )
    )
    assert again.response["error"] == "execution_not_in_running_state"


async def test_completing_an_unknown_execution_or_with_another_token_is_refused(
    fake: FakeSlack, client: AsyncWebClient, step_client: tuple[AsyncWebClient, str]
) -> None:
    step, execution_id = step_client
    unknown = await api_error(
        step.functions_completeSuccess(function_execution_id="Fx0NONE", outputs={"reversed": "x"})
    )
    assert unknown.response["error"] == "function_execution_not_found"
    # The bot's own token is a good token, but not this execution's.
    other = await api_error(
        client.functions_completeSuccess(
            function_execution_id=execution_id, outputs={"reversed": "x"}
        )
    )
    assert other.response["error"] == "access_denied"
    assert fake.executions[execution_id].state == "running"


@pytest.mark.parametrize(
    ("outputs", "problem"),
    [
        ({}, "missing required output: reversed"),
        ({"reversed": "x", "extra": 1}, "extra is not an output of this function"),
        ({"reversed": 3}, "reversed must be a string"),
        ({"reversed": "x", "length": "5"}, "length must be a integer"),
        ({"reversed": "x", "length": True}, "length must be a integer"),
        ({"reversed": "x", "by": "alice"}, "by must be a slack#/types/user_id"),
    ],
)
async def test_outputs_that_do_not_match_the_declared_parameters_are_refused(
    fake: FakeSlack, step_client: tuple[AsyncWebClient, str], outputs: dict, problem: str
) -> None:
    client, execution_id = step_client
    refused = await api_error(
        client.functions_completeSuccess(function_execution_id=execution_id, outputs=outputs)
    )
    assert refused.response["error"] == "parameter_validation_failed"
    assert any(problem in m for m in refused.response["response_metadata"]["messages"])
    assert fake.executions[execution_id].state == "running"


async def test_completing_needs_the_execution_id_and_the_outputs_or_error(
    step_client: tuple[AsyncWebClient, str],
) -> None:
    client, execution_id = step_client
    missing = await api_error(client.api_call("functions.completeError", json={"error": "x"}))
    assert missing.response["error"] == "invalid_arguments"
    missing = await api_error(
        client.api_call("functions.completeSuccess", json={"function_execution_id": execution_id})
    )
    assert "missing required field: outputs" in str(missing.response)
