"""Fuzzy matching: case, accents, nicknames, "Jane Doe (Acme)", emails."""

from __future__ import annotations

import pytest

from bot.intro.matching import (
    company_key,
    name_key,
    name_score,
    parse_person,
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
