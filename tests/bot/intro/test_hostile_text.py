"""Every parser run on what a person types or posts reads hostile text of Slack's largest
size in one pass: long runs of whitespace, unclosed brackets and mentions, repeated separators.
These run on the event loop; a pattern that backtracks would stall every workspace."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.intro import matching
from bot.intro.command_text import parse_command
from bot.intro.names import find_prospect

# Slack's longest message; a slash command's text is shorter.
LONGEST = 40_000
FRAGMENTS = [
    *("Ab-", "Ab'", " ", "\n", "\t", "<", "<@U", "<@U1|", ">", "@", " at ", "a", "A", "Ab"),
    *("-", "'", "’", ".", ",", '"', "[", "{", "de ", "Hi ", "x@", "é", "\u200b"),
]
PARSERS: dict[str, Callable[[str], object]] = {
    "find_prospect": find_prospect,
    "parse_command": parse_command,
    "fold": matching.fold,
    "company_key": matching.company_key,
    "parse_person": matching.parse_person,
    "person_surname_key": matching.person_surname_key,
    "name_key": matching.name_key,
    "name_score": lambda text: matching.name_score(text, text[::-1]),
}


class _Stalled(Exception):
    pass


def _stalled(signum: int, frame: object) -> None:
    raise _Stalled


@contextmanager
def _at_most(seconds: int) -> Iterator[None]:
    # Not a speed measurement: these calls take milliseconds. The alarm turns a pattern that
    # backtracks (minutes to hours at this length) into a failure instead of a hung suite.
    previous = signal.signal(signal.SIGALRM, _stalled)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


hostile = st.lists(
    st.tuples(st.sampled_from(FRAGMENTS), st.integers(min_value=1, max_value=LONGEST)),
    min_size=1,
    max_size=3,
).map(lambda parts: "".join(fragment * count for fragment, count in parts)[:LONGEST])


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=hostile)
# A long run of spaces between characters that are not (a name "at" a company was sought from
# every place inside the run).
@example(text="\u200b" * 2113 + "\t" * 24375 + "\u200b" * 2113)
def test_hostile_text_is_read_in_one_pass(name: str, text: str) -> None:
    try:
        with _at_most(10):
            PARSERS[name](text)
    except _Stalled:
        pytest.fail(f"{name} did not finish on {len(text)} characters of {text[:20]!r}…")
