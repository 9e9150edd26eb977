"""LinkedIn's `Connections.csv` (from "Get a copy of your data"), read tolerantly and within bounds.

The file opens with a few lines of notes, then the header
`First Name,Last Name,URL,Email Address,Company,Position,Connected On`. Rows may have quoted
commas, missing emails, non-ASCII names and dates like `04 Mar 2021`; the file may start with a
byte-order mark and hold blank lines. LinkedIn sends it inside a `.zip` archive with the rest of
the member's data; either form is accepted.

The file is read as a stream, never whole, and every bound is checked as it is read: the bytes
(of the archive's member too), the rows (LinkedIn exports at most 30,000 connections) and each
field, so a file of any shape costs at most about `MAX_ROWS` short objects. It is blocking work:
callers on an event loop run it in a thread.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO

HEADER = ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"]
_DATE_FORMATS = ("%d %b %Y", "%d %B %Y", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y")

MAX_ROWS = 30_000  # LinkedIn exports at most 30,000 connections
MAX_BYTES = 20 * 1024 * 1024  # of the CSV, sent as is or unpacked from the archive
MEMBER_NAME = "connections.csv"  # the archive's member, compared case-insensitively
# The notes before the header are a handful of lines; a "header" further down is not one.
HEADER_SEARCH_LINES = 50
NOTE_LINE_CHARS = 64 * 1024
# A row of LinkedIn's is a few hundred characters. The csv module makes an object per field of
# a line before anything can look at it: a 20 MB line of commas would be 20 million fields, so
# a physical line is refused past this length, before the csv module reads it.
MAX_LINE_CHARS = 64 * 1024
# A row with a longer field is skipped: the stored columns are this long (storage/models.py).
FIELD_LIMITS = {
    "name": 200,
    "Company": 200,
    "Position": 200,
    "Email Address": 254,
    "URL": 500,
    "Connected On": 40,
}
_ZIP_MAGIC = b"PK\x03\x04"
# zipfile reads the whole central directory (an object per member) before anything else;
# LinkedIn's archive lists a few dozen files in a few kilobytes.
MAX_ZIP_DIRECTORY_BYTES = 256 * 1024
_ZIP_END = b"PK\x05\x06"
_ZIP_END_SIZE = 22


@dataclass(frozen=True)
class Connection:
    name: str
    company: str
    title: str
    email: str
    connected_on: date | None
    url: str


@dataclass
class ParsedExport:
    connections: list[Connection] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


class ExportError(ValueError):
    """The file can't be imported at all. `kind` names the message the sender gets
    (templates/import.json.j2), with `line` and `limit` where they apply."""

    kind = "unreadable"

    def __init__(self, detail: str, *, line: int = 0, limit: int = 0) -> None:
        super().__init__(detail)
        self.line = line
        self.limit = limit


class NotAConnectionsExport(ExportError):
    kind = "not_linkedin"


class TooManyRows(ExportError):
    kind = "too_many_rows"


class ExportTooLarge(ExportError):
    kind = "too_big"


class UnreadableExport(ExportError):
    """Its detail is one of `field_too_long`, `line_too_long`, `not_csv`, `damaged_archive`."""

    kind = "unreadable"


def _parse_date(text: str) -> date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


class _Bounded(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes: the archive's header may
    understate what its member unpacks to."""

    def __init__(self, source: IO[bytes], limit: int) -> None:
        self._source = source
        self._left = limit
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        # One byte over the limit tells "exactly at the limit" from "over it".
        data = self._source.read(min(len(buffer), self._left + 1))
        if len(data) > self._left:
            raise ExportTooLarge("over the size limit", limit=self._limit)
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)


def parse_connections(data: bytes | str) -> ParsedExport:
    """Parse an export held in memory (a CSV, or the archive LinkedIn sends)."""
    return read_export(io.BytesIO(data.encode() if isinstance(data, str) else data))


def read_export(source: IO[bytes]) -> ParsedExport:
    """Parse an export from a seekable binary file: the CSV itself or LinkedIn's `.zip`.

    Raises only `ExportError` (and its kinds) for anything wrong with the file.
    """
    magic = source.read(len(_ZIP_MAGIC))
    source.seek(0)
    if magic != _ZIP_MAGIC:
        return _read_csv(source)
    _check_zip_directory(source)
    try:
        with zipfile.ZipFile(source) as archive:
            members = [
                info
                for info in archive.infolist()
                if info.filename.replace("\\", "/").rsplit("/", 1)[-1].lower() == MEMBER_NAME
            ]
            if not members:
                raise NotAConnectionsExport("no Connections.csv in the archive")
            member = min(members, key=lambda info: len(info.filename))
            if member.file_size > MAX_BYTES:
                raise ExportTooLarge("member over the size limit", limit=MAX_BYTES)
            with archive.open(member) as unpacked:
                return _read_csv(unpacked)
    except ExportError:
        raise
    # What a damaged, encrypted or exotic archive raises while it is opened or unpacked.
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
        ValueError,
    ):
        raise UnreadableExport("damaged_archive") from None


def _check_zip_directory(source: IO[bytes]) -> None:
    """Refuse an archive whose central directory is too large to read, before zipfile does."""
    end = source.seek(0, io.SEEK_END)
    # The end record is the last 22 bytes, followed by a comment of up to 64 KiB.
    tail_start = max(0, end - _ZIP_END_SIZE - 0xFFFF)
    source.seek(tail_start)
    tail = source.read()
    source.seek(0)
    at = tail.rfind(_ZIP_END)
    if at < 0 or len(tail) - at < _ZIP_END_SIZE:
        raise UnreadableExport("damaged_archive")
    directory_size = int.from_bytes(tail[at + 12 : at + 16], "little")
    if directory_size > MAX_ZIP_DIRECTORY_BYTES:  # ZIP64's 0xFFFFFFFF included
        raise NotAConnectionsExport("the archive lists far more files than LinkedIn's")


def _header_line(text: IO[str]) -> tuple[int, str]:
    """Skip LinkedIn's notes to the header; return its line number and text."""
    for number in range(1, HEADER_SEARCH_LINES + 1):
        line = text.readline(NOTE_LINE_CHARS)
        if not line:
            break
        if line.lstrip("\ufeff").replace('"', "").startswith("First Name,Last Name"):
            return number, line
    raise NotAConnectionsExport(
        "no `First Name,Last Name,…` header: is this LinkedIn's Connections.csv?"
    )


def _read_csv(binary: IO[bytes]) -> ParsedExport:
    bounded = io.BufferedReader(_Bounded(binary, MAX_BYTES))
    # newline="" hands line endings (and newlines inside quotes) to the csv module.
    text = io.TextIOWrapper(bounded, encoding="utf-8-sig", errors="replace", newline="")
    header_number, header_line = _header_line(text)
    header = [column.strip().lstrip("\ufeff") for column in next(csv.reader([header_line]))]
    position = {name: header.index(name) for name in HEADER if name in header}
    if "First Name" not in position or "Last Name" not in position:
        raise NotAConnectionsExport("the header lacks First Name and Last Name")
    parsed = ParsedExport()
    reader = csv.reader(_bounded_lines(text, header_number))
    rows = 0
    for row in _rows(reader, header_number):
        line = header_number + reader.line_num
        if not any(column.strip() for column in row):
            continue  # blank line
        rows += 1
        if rows > MAX_ROWS:
            raise TooManyRows("too many rows", line=line, limit=MAX_ROWS)
        connection, problem = _connection(row, position)
        if connection is None:
            parsed.skipped.append((line, problem))
        else:
            parsed.connections.append(connection)
    return parsed


def _bounded_lines(text: IO[str], header_number: int) -> Iterator[str]:
    """The file's lines for the csv module, each at most MAX_LINE_CHARS long."""
    number = header_number
    while line := text.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise UnreadableExport("line_too_long", line=number, limit=MAX_LINE_CHARS)
        yield line


def _rows(reader: Iterator[list[str]], header_number: int) -> Iterator[list[str]]:
    """The csv module's own error (a field over its limit, say) stops the file, named by line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = header_number + int(getattr(reader, "line_num", 0))
            if "field limit" in str(exc):
                raise UnreadableExport(
                    "field_too_long", line=line, limit=csv.field_size_limit()
                ) from None
            raise UnreadableExport("not_csv", line=line) from None
        yield row


def _connection(row: list[str], position: dict[str, int]) -> tuple[Connection | None, str]:
    def cell(name: str) -> str:
        index = position.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    first, last = cell("First Name"), cell("Last Name")
    name = " ".join(part for part in (first, last) if part)
    if not name:
        return None, "no name"
    values = {
        "name": name,
        "Company": cell("Company"),
        "Position": cell("Position"),
        "Email Address": cell("Email Address"),
        "URL": cell("URL"),
        "Connected On": cell("Connected On"),
    }
    for column, limit in FIELD_LIMITS.items():
        if len(values[column]) > limit:
            label = "Name" if column == "name" else column
            return None, f"{label} longer than {limit} characters"
    connected = values["Connected On"]
    connected_on = _parse_date(connected) if connected else None
    if connected and connected_on is None:
        return None, f"unreadable date {connected!r}"
    return (
        Connection(
            name=name,
            company=values["Company"],
            title=values["Position"],
            email=values["Email Address"].lower(),
            connected_on=connected_on,
            url=values["URL"],
        ),
        "",
    )
