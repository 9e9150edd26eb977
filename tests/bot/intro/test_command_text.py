"""What `/intro …` asks for, read from whatever a person types (property-based)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.intro.command_text import parse_command, unescape

VERBS = {"request", "help", "know", "owner", "pacing", "stats", "export"}
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
def test_a_name_alone_is_a_request_for_that_person(name: str) -> None:
    first = name.split()[0].lower()
    if first in VERBS | {"help", "know", "owner", "pacing"}:
        return
    assert parse_command(name) == parse_command(f"  {name} ")
    assert parse_command(name).verb == "request" and parse_command(name).name == name


@given(st.text(alphabet="&<>ab ", max_size=40))
def test_slacks_escapes_are_undone_once(text: str) -> None:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert unescape(escaped) == text
