"""What `/intro …` asks for, read from whatever a person types (property-based)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intro.command_text import SUB_COMMANDS, Command, parse_command, unescape
from bot.rendering import messages

VERBS = {
    "request",
    "help",
    "know",
    "owner",
    "pacing",
    "stats",
    "export",
    "usage",
    "forget",
    "outcome",
    "offer",
    "accounts",
    "webhook",
    "company",
}
# Words a name or company is made of: no spaces at either end, no " at " inside.
word = st.text(
    alphabet=st.characters(categories=("L", "Nd"), max_codepoint=0x2FFFF), min_size=1, max_size=12
).filter(lambda w: w.lower() not in ("at", "@"))
phrase = st.lists(word, min_size=1, max_size=4).map(" ".join)


@given(st.text(max_size=300))
def test_any_text_is_read_as_one_command(text: str) -> None:
    command = parse_command(text)
    assert command.verb in VERBS
    assert len(command.name) <= len(unescape(text))


@given(phrase, phrase)
def test_know_reads_back_the_name_and_company_typed(name: str, company: str) -> None:
    assert parse_command(f"know {name} at {company}").name == name
    assert parse_command(f"know {name} at {company}").company == company
    assert parse_command(f"know   {name}  @  {company} ").company == company


@given(phrase)
def test_a_name_is_a_request_for_that_person_or_a_sub_command_meant(name: str) -> None:
    command = parse_command(name)
    assert command == parse_command(f"  {name} ")
    if command.verb == "request":
        assert command.name == name
    else:  # a name that reads as a sub-command is still one `request` away
        assert parse_command(f"request {name}") == Command("request", name=name)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("stat", "stats"),
        ("exprt", "export"),
        ("pacng strict", "pacing"),
        ("ownr Acme <@U1>", "owner"),
        ("knw Jane at Acme", "know"),
        ("pacing", "pacing"),
        ("pacing fast", "pacing"),
        ("export csv", "export"),
        ("stats for me", "stats"),
        ("forgt me", "forget"),
        ("forget everything", "forget"),
        ("offer", "offer"),
        ("offer Jane Doe at Acme", "offer"),
        ("offer <@U1>", "offer"),
        ("offer <@U1> at Acme", "offer"),
        ("offr <@U1> Jane Doe", "offer"),
        ("outcom", "outcome"),
        ("webhok https://hooks.example.com/x", "webhook"),
        ("webhook hooks.example.com/x", "webhook"),
        ("webhook https://a.example.com/x and more", "webhook"),
    ],
)
def test_a_sub_command_mistyped_or_misused_is_answered_with_its_usage(
    typed: str, meant: str
) -> None:
    command = parse_command(typed)
    assert (command.verb, command.meant) == ("usage", meant)


user_id = st.from_regex(r"U[A-Z0-9]{2,10}", fullmatch=True)


@given(user_id, st.sampled_from(["", "|riya", "|r.patel"]), phrase, st.none() | phrase)
def test_offer_reads_back_the_teammate_name_and_company_typed(
    user: str, label: str, name: str, company: str | None
) -> None:
    at = f" at {company}" if company else ""
    command = parse_command(f"offer <@{user}{label}>  {name}{at} ")
    assert command == Command("offer", name=name, company=company or "", user_id=user)


def test_offer_unescapes_what_slack_escaped() -> None:
    command = parse_command("offer <@U1|riya> Jane &amp; Joe at AT&amp;T")
    assert (command.name, command.company) == ("Jane & Joe", "AT&T")


@pytest.mark.parametrize("typed", ["Owen Smith", "Stat Jones", "Knox Harrington", "Stan Lee"])
def test_names_close_to_a_sub_command_are_still_names(typed: str) -> None:
    assert parse_command(typed) == Command("request", name=typed)


@given(st.text(alphabet="&<>ab ", max_size=40))
def test_slacks_escapes_are_undone_once(text: str) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert unescape(escaped) == text


def test_help_names_every_sub_command() -> None:
    shown = messages.command_reply("help")
    missing = [v for v in SUB_COMMANDS if v != "help" and not re.search(f"`/intro {v}[ `]", shown)]
    assert missing == []


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("accounts", Command("accounts")),
        ("Accounts team", Command("accounts", team=True)),
        ("accounts add Acme, Globex", Command("accounts", name="add", company="Acme, Globex")),
        ("accounts ADD AT&amp;T", Command("accounts", name="add", company="AT&T")),
        ("accounts remove  Acme ", Command("accounts", name="remove", company="Acme")),
        (
            "accounts team add Team Rocket",
            Command("accounts", name="add", company="Team Rocket", team=True),
        ),
        ("accounts add", Command("usage", meant="accounts")),
        ("accounts list", Command("usage", meant="accounts")),
        ("acounts add Acme", Command("usage", name="acounts add Acme", meant="accounts")),
    ],
)
def test_accounts_reads_the_change_and_whose_list(typed: str, command: Command) -> None:
    assert parse_command(typed) == command


def test_outcome_lists_the_intros_or_those_to_a_name() -> None:
    assert parse_command("outcome") == Command("outcome")
    assert parse_command("Outcome  Jane Doe ") == Command("outcome", name="Jane Doe")
    assert parse_command("request Outcome Smith") == Command("request", name="Outcome Smith")


@pytest.mark.parametrize(
    ("text", "limits", "meant"),
    [
        ("pacing default 3 open 6 per 30 days", (3, 6), ""),
        ("pacing default 3 open, 6 asks in 30 days", (3, 6), ""),
        ("pacing default 2 open asks at a time and 5 a month", (2, 5), ""),
        ("Pacing Default 4 open", (4, None), ""),
        ("pacing default 8 per 30 days", (None, 8), ""),
        ("pacing default off", (0, 0), ""),
        ("pacing default 0 open", (0, None), ""),
        ("pacing default", None, ""),  # shows the default
        ("pacing default lots", None, "pacing_default"),
        ("pacing default 3", None, "pacing_default"),  # 3 of what?
        ("pacing default 101 open", None, "pacing_default"),
        ("pacing default 3 open 1001 per 30 days", None, "pacing_default"),
    ],
)
def test_pacing_default_reads_the_limits_an_admin_types(
    text: str, limits: tuple[int | None, int | None] | None, meant: str
) -> None:
    assert parse_command(text) == Command("pacing", name="default", meant=meant, limits=limits)


def test_a_mistyped_pacing_default_is_answered_with_how_to_use_pacing() -> None:
    assert parse_command("pacng default 3 open").meant == "pacing"


@pytest.mark.parametrize(
    ("typed", "url"),
    [
        ("webhook https://hooks.example.com/introbot", "https://hooks.example.com/introbot"),
        (
            "webhook <https://hooks.example.com/a?b=1&amp;c=2>",
            "https://hooks.example.com/a?b=1&c=2",
        ),
        (
            "webhook <https://hooks.example.com/x|hooks.example.com/x>",
            "https://hooks.example.com/x",
        ),
        ("webhook OFF", "off"),
        ("webhook", ""),
    ],
)
def test_webhook_reads_the_url_as_slack_sends_it(typed: str, url: str) -> None:
    assert parse_command(typed) == Command("webhook", name=url)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team", Command("team")),
        (
            "team <@U1|maria> <@U2|riya> <@U3>",
            Command("team", user_id="U1", people=("U2", "U3")),
        ),
        (
            "team <@U1|maria> <!subteam^S0123|@sales-east>",
            Command("team", user_id="U1", groups=(("S0123", "sales-east"),)),
        ),
        (
            "team <@U1> <!subteam^S0123>",
            Command("team", user_id="U1", groups=(("S0123", "S0123"),)),
        ),
        ("team <@U1|maria>", Command("team", user_id="U1")),
        ("team remove <@U1|maria>", Command("team", name="remove", user_id="U1")),
        ("team remove maria", Command("usage", meant="team_remove")),
        ("team maria riya", Command("usage", meant="team")),
        ("team <@U1> and <@U2>", Command("usage", meant="team")),
        ("stats team", Command("stats", name="team")),
        ("tam <@U1> <@U2>", Command("usage", name="tam <@U1> <@U2>", meant="team")),
    ],
)
def test_team_names_the_manager_then_people_and_user_groups(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@given(phrase, phrase)
def test_company_merge_reads_back_both_spellings_quoted_or_by_a_comma(
    first: str, other: str
) -> None:
    merged = Command("company", name="merge", companies=(first, other))
    assert parse_command(f'company merge "{first}" "{other}"') == merged
    assert parse_command(f"company merge “{first}” “{other}”") == merged
    if "," not in first + other:
        assert parse_command(f"company merge {first}, {other}") == merged
    assert parse_command(f"company unmerge {other}") == Command(
        "company", name="unmerge", companies=(other,)
    )


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        ("company", Command("company")),
        ("company merge Acme", Command("usage", meant="company")),
        ('company merge "Acme" "Acme Logistics" "Globex"', Command("usage", meant="company")),
        ("company unmerge", Command("usage", meant="company")),
        ("company list", Command("usage", meant="company")),
        (
            'company merge "AT&amp;T" "ATT"',
            Command("company", name="merge", companies=("AT&T", "ATT")),
        ),
    ],
)
def test_company_is_read_or_answered_with_how_to_use_it(typed: str, command: Command) -> None:
    assert parse_command(typed) == command
