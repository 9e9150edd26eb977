"""LinkedIn's Connections.csv, with the awkward parts real exports have."""

from __future__ import annotations

import contextlib
import csv
import io
import tracemalloc
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.intro.linkedin import (
    HEADER,
    HEADER_SEARCH_LINES,
    MAX_BYTES,
    MAX_ROWS,
    ExportError,
    ExportTooLarge,
    NotAConnectionsExport,
    TooManyRows,
    UnreadableExport,
    parse_connections,
    read_export,
)

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


# --- bounds ---------------------------------------------------------------------------------

HEADER_LINE = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"


def _zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_the_archive_linkedin_sends_is_read_for_its_connections_csv() -> None:
    archive = _zipped(
        {
            "Profile.csv": b"First Name,Last Name\nNot,Me\n",
            "Connections.csv": FIXTURE.read_bytes(),
            "messages.csv": b"x" * 1000,
        }
    )
    parsed = parse_connections(archive)
    assert [c.name for c in parsed.connections][:2] == ["Jane Doe", "Seán O’Brien"]


def test_an_archive_without_connections_is_not_an_export() -> None:
    with pytest.raises(NotAConnectionsExport):
        parse_connections(_zipped({"Profile.csv": b"First Name,Last Name\nA,B\n"}))


def test_an_archive_that_unpacks_past_the_bound_is_refused_without_unpacking_it() -> None:
    # 21 MB of one repeated byte compresses to some 20 KB: a small upload, a large unpacking.
    bomb = _zipped({"Connections.csv": HEADER_LINE.encode() + b"a" * (MAX_BYTES + 1)})
    assert len(bomb) < 100_000
    with pytest.raises(ExportTooLarge):
        parse_connections(bomb)


def test_an_archive_whose_header_understates_its_size_is_still_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = _zipped({"Connections.csv": HEADER_LINE.encode() + b"A,B,,,,,\n" * 1000})
    monkeypatch.setattr("bot.intro.linkedin.MAX_BYTES", 2000)
    with pytest.raises(ExportTooLarge):
        parse_connections(archive)


def test_a_damaged_archive_is_unreadable_not_a_crash() -> None:
    archive = bytearray(_zipped({"Connections.csv": FIXTURE.read_bytes() * 20}))
    archive[200:400] = b"\x00" * 200
    with pytest.raises(ExportError):
        parse_connections(bytes(archive))


def test_more_rows_than_linkedin_exports_are_refused() -> None:
    rows = "".join(f"P{i},Q{i},,,,,\n" for i in range(MAX_ROWS))
    assert len(parse_connections(HEADER_LINE + rows).connections) == MAX_ROWS
    with pytest.raises(TooManyRows) as raised:
        parse_connections(HEADER_LINE + rows + "One,Toomany,,,,,\n")
    assert raised.value.limit == MAX_ROWS


def test_a_field_over_the_csv_modules_limit_names_its_line() -> None:
    huge = '"' + "x" * (csv.field_size_limit() + 10) + '"'
    text = HEADER_LINE + "Ana,Lima,,,,,\n" + f"Bob,{huge},,,,,\n"
    with pytest.raises(UnreadableExport) as raised:
        parse_connections(text)
    assert raised.value.line == 3


def test_a_row_with_an_over_long_field_is_skipped_with_its_reason() -> None:
    text = HEADER_LINE + "Ana,Lima,,,,,\n" + f"Bob,{'S' * 300},,,,,\n" + f"Cy,D,,,{'C' * 201},,\n"
    parsed = parse_connections(text)
    assert [c.name for c in parsed.connections] == ["Ana Lima"]
    assert parsed.skipped == [
        (3, "Name longer than 200 characters"),
        (4, "Company longer than 200 characters"),
    ]


def test_notes_without_a_header_are_not_searched_forever() -> None:
    notes = "Notes:\n" * (HEADER_SEARCH_LINES + 1)
    with pytest.raises(NotAConnectionsExport):
        parse_connections(notes + HEADER_LINE + "Ana,Lima,,,,,\n")


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_nothing_but_the_parsers_own_error(data: bytes) -> None:
    with contextlib.suppress(ExportError):
        parse_connections(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_arbitrary_text_after_a_header_raises_nothing_but_the_parsers_own_error(
    text: str,
) -> None:
    try:
        parsed = parse_connections(HEADER_LINE + text)
    except ExportError:
        return
    assert len(parsed.connections) + len(parsed.skipped) <= MAX_ROWS


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=3000), st.sampled_from(["Connections.csv", "x/CONNECTIONS.CSV"]))
def test_arbitrary_archive_members_raise_nothing_but_the_parsers_own_error(
    data: bytes, member: str
) -> None:
    archive = _zipped({member: data})
    for damaged in (archive, archive[: len(archive) // 2], archive[:30] + data):
        with contextlib.suppress(ExportError):
            parse_connections(damaged)


_field = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=40).map(
    str.strip
)
_row = st.fixed_dictionaries(
    {
        "first": _field.filter(bool),
        "last": _field,
        "url": _field,
        "email": _field,
        "company": _field,
        "position": _field,
        "connected_on": st.none() | st.dates(date(1990, 1, 1), date(2100, 12, 31)),
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_row, max_size=30), st.booleans(), st.booleans())
def test_generated_rows_round_trip(rows: list[dict[str, Any]], zipped: bool, crlf: bool) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    out.write('\ufeffNotes:\n"Some addresses are missing, as LinkedIn explains."\n\n')
    writer.writerow(HEADER)
    for row in rows:
        when = row["connected_on"].strftime("%d %b %Y") if row["connected_on"] else ""
        writer.writerow(
            [row[k] for k in ("first", "last", "url", "email", "company", "position")] + [when]
        )
    data = out.getvalue().encode()
    parsed = parse_connections(_zipped({"Connections.csv": data}) if zipped else data)
    assert parsed.skipped == []
    assert [
        (c.name, c.company, c.title, c.email, c.url, c.connected_on) for c in parsed.connections
    ] == [
        (
            " ".join(p for p in (r["first"], r["last"]) if p),
            r["company"],
            r["position"],
            r["email"].lower(),
            r["url"],
            r["connected_on"],
        )
        for r in rows
    ]


def test_an_archive_listing_too_many_files_is_refused_before_they_are_read() -> None:
    members = {f"f{i:06}.txt": b"" for i in range(5000)} | {"Connections.csv": b""}
    archive = _zipped(members, compression=zipfile.ZIP_STORED)
    with pytest.raises(NotAConnectionsExport, match="far more files"):
        parse_connections(archive)


@pytest.mark.parametrize("filler", [b",", b'"",', b"a,"])
def test_a_line_of_millions_of_fields_is_refused_before_it_is_split(filler: bytes) -> None:
    header = b"First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    export = io.BytesIO(header + filler * ((MAX_BYTES - len(header)) // len(filler)))
    tracemalloc.start()
    try:
        with pytest.raises(UnreadableExport) as refused:
            read_export(export)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (str(refused.value), refused.value.line) == ("line_too_long", 2)
    assert peak < 4 * 1024 * 1024  # one bounded line, not a list of millions of fields


def test_a_long_line_within_the_bound_is_read() -> None:
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    row = "Jane,Doe,,,Acme," + "x" * 150 + ",04 Mar 2021\n"
    parsed = read_export(io.BytesIO((header + row * 3).encode()))
    assert [c.name for c in parsed.connections] == ["Jane Doe"] * 3
