"""Fuzzy matching: case, accents, nicknames, "Jane Doe (Acme)", emails."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intro.matching import (
    company_key,
    domain_company_key,
    email_company,
    fold,
    is_legal_form,
    name_key,
    name_score,
    parse_person,
    split_person,
    surname_key,
    surname_keys,
)


@pytest.mark.parametrize(
    ("query", "recorded"),
    [
        ("jane doe", "Jane Doe"),
        ("JANE DOE", "Jane Doe"),
        ("Jose Alvarez", "José Álvarez"),
        ("Bob Smith", "Robert Smith"),
        ("Liz Taylor", "Elizabeth Taylor"),
        ("Doe, Jane", "Jane Doe"),
        ("Jane Doe (Acme)", "Jane Doe"),
        ("jane.doe@acme.com", "Jane Doe"),
        ("Jane Doe at Acme", "Jane Doe"),
    ],
)
def test_the_same_person_matches(query: str, recorded: str) -> None:
    assert name_score(parse_person(query).name_key, name_key(recorded)) >= 85


@pytest.mark.parametrize(
    ("query", "recorded"), [("Jane Doe", "John Doe"), ("Jane Doe", "Jane Roe")]
)
def test_different_people_do_not(query: str, recorded: str) -> None:
    assert name_score(name_key(query), name_key(recorded)) < 85


def test_company_from_the_query() -> None:
    assert parse_person("Jane Doe (Acme Inc.)").company_key == "acme"
    assert parse_person("jane.doe@acme.com").company_key == "acme"
    assert parse_person("Jane Doe at Globex Corporation").company_key == "globex"
    assert company_key("ACME, Inc.") == company_key("Acme") == "acme"


@pytest.mark.parametrize(
    ("query", "recorded"),
    [
        ("王小明", "王 小明"),
        ("王小明", "小明 王"),  # LinkedIn's First Name, then Last Name
        ("山田太郎", "太郎 山田"),
        ("김민준", "민준 김"),
        ("Wang Xiaoming", "Xiaoming Wang"),
    ],
)
def test_names_without_spaces_or_family_name_first_match(query: str, recorded: str) -> None:
    query_key, recorded_key = parse_person(query).name_key, name_key(recorded)
    assert name_score(query_key, recorded_key) >= 85
    # ...and are found by the index: the recorded key is one of those the query looks up.
    assert surname_key(recorded_key) in surname_keys(query_key)


@pytest.mark.parametrize(("query", "recorded"), [("王小明", "王小红"), ("김민준", "김민수")])
def test_different_cjk_names_do_not(query: str, recorded: str) -> None:
    assert name_score(name_key(query), name_key(recorded)) < 85


names = st.text(max_size=60)


@given(names)
def test_a_name_key_is_stable(text: str) -> None:
    key = name_key(text)
    assert name_key(key) == key
    assert surname_key(key) in surname_keys(key) or not key


@given(names, st.text(max_size=30))
def test_any_target_text_splits_without_losing_a_given_company(text: str, company: str) -> None:
    name, found = split_person(text, company)
    if company.strip():
        assert found == company.strip()
    assert len(name) <= len(text)


@given(names, names)
def test_name_scores_are_symmetric_and_bounded(first: str, second: str) -> None:
    a, b = name_key(first), name_key(second)
    assert 0 <= name_score(a, b) == name_score(b, a) <= 100


# One word each, as folding sees it (a letter like Ŀ folds to two).
one_word = st.text(alphabet=st.characters(categories=("Lu", "Ll")), min_size=1, max_size=10).filter(
    lambda word: len(name_key(word).split()) == 1
)


@given(one_word, one_word)
def test_either_order_of_two_names_is_found_by_the_index(given_name: str, family: str) -> None:
    forward, backward = name_key(f"{given_name} {family}"), name_key(f"{family} {given_name}")
    assert surname_key(forward) in surname_keys(backward)
    assert surname_key(backward) in surname_keys(forward)


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("ACME, Inc.", "acme"),
        ("Acme S.A.", "acme"),  # dotted: its letters joined before the form is dropped
        ("Acme SA", "acme"),
        ("Acme, L.L.C.", "acme"),
        ("Acme Co., Ltd.", "acme"),
        ("Acme Pty. Ltd.", "acme"),
        ("Acme S.p.A.", "acme"),
        ("Acme S.à r.l.", "acme"),
        ("Acme A/S", "acme"),
        ("Acme Corp", "acme"),
        ("Acme plc", "acme"),
        ("Müller GmbH & Co. KG", "muller"),
        ("Nestlé S.A.", "nestle"),
        ("Société Générale", "societe generale"),
        ("The Home Depot", "home depot"),
        ("J.P. Morgan Chase & Co.", "jp morgan chase"),
        ("JP Morgan Chase", "jp morgan chase"),
        ("Procter & Gamble Co.", "procter and gamble"),
        ("Procter and Gamble", "procter and gamble"),
        ("Booking.com B.V.", "booking"),
        ("acme.co.uk", "acme"),
        ("PT Bank Central Asia Tbk", "bank central asia"),
        ("トヨタ自動車株式会社", "トヨタ自動車"),
        ("阿里巴巴集团控股有限公司", "阿里巴巴集团控股"),
        ("Acme Logistics Inc.", "acme logistics"),  # a different name: kept apart
        ("The Limited", "limited"),  # never the whole name
        ("GmbH", "gmbh"),
        ("Co-op", "co op"),  # a legal form's word only at the end
        ("", ""),
    ],
)
def test_a_company_key_leaves_out_case_accents_punctuation_and_legal_forms(
    written: str, key: str
) -> None:
    assert company_key(written) == key


@pytest.mark.parametrize(
    ("company", "email", "short"),
    [
        ("Acme Logistics Inc.", "jane@acme.com", "acme"),  # the domain is its first word
        ("International Business Machines", "jane@ibm.com", "ibm"),  # its initials
        ("Acme Logistics", "jane@eu.acme.co.uk", "acme"),
        ("", "jane@acme.com", "acme"),  # no company given: the domain names it
        ("Acme Inc.", "jane@acme.com", ""),  # nothing new: it is the key already
        ("Acme Logistics", "jane@gmail.com", ""),  # anyone can have an address there
        ("", "jane@outlook.com", ""),
        ("Acme", "jane@globex.com", ""),  # another company (an old address, a parent)
        ("Acme", "jane@acmelogistics.com", ""),  # longer than the name: not a short form
        ("Acme Logistics", "", ""),
        ("Acme Logistics", "not an email", ""),
    ],
)
def test_an_email_domain_gives_a_short_form_only_when_it_agrees_with_the_company(
    company: str, email: str, short: str
) -> None:
    assert domain_company_key(company, email) == short


def test_an_address_anyone_can_have_names_no_company() -> None:
    assert split_person("jane.doe@gmail.com") == ("jane doe", "")
    assert split_person("jane.doe@acme.co.uk") == ("jane doe", "acme")
    assert email_company("jane@mail.acme.com") == "acme"


@given(st.text(max_size=60))
def test_a_company_key_is_its_own_key(text: str) -> None:
    key = company_key(text)
    assert company_key(key) == key


@pytest.mark.parametrize(
    ("text", "legal"),
    [
        ("Inc.", True),
        (" S.A. ", True),
        ("GmbH & Co. KG", True),
        ("Acme", False),
        ("Acme Inc.", False),
        ("", False),
        ("&", False),
    ],
)
def test_a_legal_form_alone_is_told_from_a_name(text: str, legal: bool) -> None:
    assert is_legal_form(text) is legal


def _folded_through_unicode(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^\w]+", " ", unicodedata.normalize("NFC", stripped).casefold()).strip()


@given(st.text(alphabet=st.characters(max_codepoint=127)) | st.text())
def test_folding_ascii_text_skips_normalising_to_the_same_words(text: str) -> None:
    assert fold(text) == _folded_through_unicode(text)
