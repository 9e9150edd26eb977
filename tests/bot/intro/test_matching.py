"""Fuzzy matching: case, accents, nicknames, "Jane Doe (Acme)", emails."""

from __future__ import annotations

import pytest

from bot.intro.matching import company_key, name_key, name_score, parse_person


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
