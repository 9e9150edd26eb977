"""find_prospect: who a Slack message is about, a user mention or a person's name."""

from __future__ import annotations

import signal

import pytest

from bot.intro.names import Prospect, find_prospect


def test_plain_name_in_a_question() -> None:
    assert find_prospect("Can anyone intro me to Jane Doe at Acme?") == Prospect(name="Jane Doe")


def test_user_mention_wins_and_carries_the_user_id() -> None:
    assert find_prospect("<@U123ABC> is the CTO") == Prospect(user_id="U123ABC")


def test_user_mention_with_a_label() -> None:
    assert find_prospect("Anyone know <@W0ABC12|jane>?") == Prospect(user_id="W0ABC12")


def test_mention_is_preferred_over_a_name_earlier_in_the_text() -> None:
    prospect = find_prospect("Jane Doe says <@U42XYZ> knows the buyer")
    assert prospect.user_id == "U42XYZ"
    assert prospect.name == ""


def test_accented_name_after_a_greeting() -> None:
    prospect = find_prospect("Hi Team, meeting Seán O'Brien tomorrow")
    assert "Seán" in prospect.name
    assert prospect.user_id is None
    # The greeting and "Team" are not part of the name.
    assert "Hi" not in prospect.name.split()
    assert "Team" not in prospect.name.split()


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Hi Team, meeting Seán O'Brien tomorrow", "Seán O'Brien"),
        ("Does anyone know Mary-Jane Watson?", "Mary-Jane Watson"),
        ("Please meet D'Angelo Russell", "D'Angelo Russell"),
    ],
)
def test_names_with_a_capital_after_an_apostrophe_or_hyphen(text: str, name: str) -> None:
    assert find_prospect(text).name == name


def test_particles_are_kept_inside_a_name() -> None:
    assert find_prospect("Intro to Ludwig van Beethoven please").name == "Ludwig van Beethoven"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no names here at all, just lowercase chatter",
        "Thanks Team",
        "Hi Team",
        "Does anyone have a contact at the bank?",
        "Monday March is busy",
        "CEO CTO",
        "<!channel> anyone around?",
    ],
)
def test_text_with_no_name_gives_an_empty_prospect(text: str) -> None:
    assert find_prospect(text) == Prospect()


def test_none_is_tolerated() -> None:
    assert find_prospect(None) == Prospect()  # type: ignore[arg-type]


def test_empty_prospect_defaults() -> None:
    empty = Prospect()
    assert empty.name == ""
    assert empty.user_id is None


@pytest.mark.parametrize(
    "text",
    [
        "<https://x.com|Jane Doe>",
        "see <https://x.com|Jane Doe> please",
        "<mailto:jane@x.com|Jane Doe>",
        "<#C0123|Jane Doe>",
        "<!subteam^S123|Sales Team> can help",
    ],
)
def test_link_and_channel_labels_are_not_taken_as_names(text: str) -> None:
    assert find_prospect(text) == Prospect()


def test_a_real_name_after_a_link_is_still_found() -> None:
    text = "Read <https://acme.com/blog|Acme News Today> and then ask Jane Doe about it"
    assert find_prospect(text) == Prospect(name="Jane Doe")


def test_leading_capitalised_non_names_are_dropped() -> None:
    assert find_prospect("Does Jane Doe know anyone?").name == "Jane Doe"
    assert find_prospect("Hello Jane Doe").name == "Jane Doe"


def test_at_most_three_words() -> None:
    prospect = find_prospect("We should meet Anna Maria Lopez Garcia soon")
    assert prospect.name
    assert len(prospect.name.split()) <= 3
    assert prospect.name.startswith("Anna Maria")


@pytest.mark.parametrize(
    "text",
    ["🎉🎉 مرحبا <@U999", "<<<>>>", "[Name] {{company}} <name>", "\u202e\u202c", "a" * 10_000],
)
def test_hostile_text_does_not_crash(text: str) -> None:
    assert isinstance(find_prospect(text), Prospect)


class _Hung(Exception):
    pass


def _raise_hung(signum: int, frame: object) -> None:
    raise _Hung


@pytest.mark.parametrize(
    "text",
    [
        "Jane" + " " * 400_000 + "x",
        "Ab-" * 200_000,
        "Ab'" * 200_000,
        "Ab\u2019" * 200_000,
        "<" * 400_000,
        "<@U" * 200_000,
        "<@U1|" * 100_000,
        "Ab " * 3 + "de " * 100_000,
    ],
    ids=[
        "spaces",
        "hyphens",
        "apostrophes",
        "curly-apostrophes",
        "open-angles",
        "open-mentions",
        "open-labels",
        "particles",
    ],
)
def test_a_long_hostile_message_is_read_in_one_pass(text: str) -> None:
    # Each of these took quadratic time with the earlier patterns: minutes to hours at this
    # length, on the event loop. Linear patterns read them in milliseconds; the alarm only turns
    # a regression into a failure instead of a hung suite.
    previous = signal.signal(signal.SIGALRM, _raise_hung)
    signal.alarm(30)
    try:
        assert isinstance(find_prospect(text), Prospect)
    except _Hung:
        pytest.fail("reading the message did not finish: a name pattern backtracks")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
