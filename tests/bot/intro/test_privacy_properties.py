"""Property-based tests for the user text the privacy controls read: the command, the Home
tab's search (carried through paging buttons and view metadata), and emails to hash."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.intro.command_text import parse_command
from bot.intro.contacts import SEARCH_MAX, ContactPage
from bot.intro.privacy import HASH_PREFIX, email_fingerprint
from bot.rendering import messages
from bot.rendering.values import HomePosition

KEY = b"a-long-random-secret-value"
SPACES = st.text(alphabet=" \t", min_size=1, max_size=3)


@given(SPACES, SPACES, st.sampled_from(["forget me", "FORGET ME", "Forget Me", "forget  me"]))
def test_forget_me_is_read_however_it_is_spaced_or_cased(
    before: str, after: str, words: str
) -> None:
    assert parse_command(f"{before}{words}{after}").verb == "forget"
    assert parse_command(f"{before}{words}{after}").name == "me"


@given(st.text(max_size=80))
def test_only_forget_me_or_bare_forget_is_the_forget_command(text: str) -> None:
    command = parse_command(text)
    words = text.split()
    if command.verb == "forget":
        assert words[0].lower() == "forget" and [w.lower() for w in words[1:]] in ([], ["me"])
    else:
        assert not (words and words[0].lower() == "forget" and len(words) == 1)


@given(st.integers(min_value=0, max_value=10_000), st.text(max_size=SEARCH_MAX))
def test_a_home_position_comes_back_as_it_was_written(page: int, search: str) -> None:
    assert HomePosition.decode(f"{page}:{search}") == HomePosition(page, search)


@given(st.text(max_size=300))
def test_any_home_position_text_reads_as_a_page_and_a_search(text: str) -> None:
    position = HomePosition.decode(text)
    assert position.page >= 0 and isinstance(position.search, str)


@given(st.text(max_size=SEARCH_MAX).map(str.strip), st.integers(min_value=0, max_value=3))
def test_the_home_tab_carries_any_search_through_its_buttons_and_metadata(
    search: str, page: int
) -> None:
    view = messages.home_view(
        [],
        [],
        first_time=False,
        contact_page=ContactPage([], matching=45, total=50, page=page, search=search),
    )
    json.dumps(view)
    assert HomePosition.decode(view["private_metadata"]) == HomePosition(page, search)
    pages = next(b for b in view["blocks"] if b.get("block_id") == "contact_pages")
    for element in pages["elements"]:
        assert HomePosition.decode(element["value"]).search == search


@given(st.emails(), SPACES)
def test_an_email_hash_ignores_case_and_surrounding_spaces(email: str, spaces: str) -> None:
    fingerprint = email_fingerprint(KEY, email)
    assert fingerprint == email_fingerprint(KEY, f"{spaces}{email.upper()}{spaces}")
    assert len(fingerprint) == 64 and int(fingerprint, 16) >= 0
    assert email.lower() not in HASH_PREFIX + fingerprint
    assert fingerprint != email_fingerprint(b"another-long-secret-key", email)
