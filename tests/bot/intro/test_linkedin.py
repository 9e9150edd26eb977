"""LinkedIn's Connections.csv, with the awkward parts real exports have."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.intro.linkedin import NotAConnectionsExport, parse_connections

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "Connections.csv"


def test_the_fixture_parses_with_its_awkward_rows() -> None:
    parsed = parse_connections(FIXTURE.read_bytes())
    names = [c.name for c in parsed.connections]
    assert names == ["Jane Doe", "Seán O’Brien", "张 伟", "Anne-Marie de Vries"]
    jane = parsed.connections[0]
    assert jane.email == "jane.doe@acme.com"
    assert jane.title == "VP, Operations"  # a quoted comma
    assert jane.connected_on == date(2021, 3, 4)
    sean = parsed.connections[1]
    assert sean.email == "" and sean.company == "Globex, Inc."
    assert parsed.connections[2].company == "华为"
    reasons = dict(parsed.skipped)
    assert any("no name" in r for r in reasons.values())
    assert any("sometime last year" in r for r in reasons.values())


def test_crlf_and_no_notes_and_no_bom() -> None:
    text = (
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\n"
        "Ana,Lima,u,,Acme,CEO,5 January 2020\r\n"
    )
    (ana,) = parse_connections(text.encode()).connections
    assert (ana.name, ana.connected_on) == ("Ana Lima", date(2020, 1, 5))


def test_something_else_is_refused_with_a_reason() -> None:
    with pytest.raises(NotAConnectionsExport):
        parse_connections(b"name,email\nJane,jane@x.com\n")


def test_ten_thousand_rows() -> None:
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    rows = "".join(f"P{i},Q{i},u,,Co {i % 50},Role,04 Mar 2021\n" for i in range(10_000))
    assert len(parse_connections(header + rows).connections) == 10_000
