"""LinkedIn's `Connections.csv` (from "Get a copy of your data"), read tolerantly.

The file opens with a few lines of notes, then the header
`First Name,Last Name,URL,Email Address,Company,Position,Connected On`. Rows may have quoted
commas, missing emails, non-ASCII names and dates like `04 Mar 2021`; the file may start with a
byte-order mark and hold blank lines.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

HEADER = ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"]
_DATE_FORMATS = ("%d %b %Y", "%d %B %Y", "%Y-%m-%d", "%m/%d/%Y", "%d/%m/%Y")


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


class NotAConnectionsExport(ValueError):
    pass


def _parse_date(text: str) -> date | None:
    text = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def parse_connections(data: bytes | str) -> ParsedExport:
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    text = text.lstrip("\ufeff")
    lines = text.splitlines()
    start = next(
        (
            index
            for index, line in enumerate(lines)
            if line.lstrip("\ufeff").replace('"', "").startswith("First Name,Last Name")
        ),
        None,
    )
    if start is None:
        raise NotAConnectionsExport(
            "no `First Name,Last Name,…` header: is this LinkedIn's Connections.csv?"
        )
    parsed = ParsedExport()
    reader = csv.reader(io.StringIO("\n".join(lines[start:])))
    header = [column.strip() for column in next(reader)]
    position = {name: header.index(name) for name in HEADER if name in header}
    if "First Name" not in position or "Last Name" not in position:
        raise NotAConnectionsExport("the header lacks First Name and Last Name")

    def cell(row: list[str], name: str) -> str:
        index = position.get(name)
        return row[index].strip() if index is not None and index < len(row) else ""

    for offset, row in enumerate(reader, start=start + 2):
        if not any(column.strip() for column in row):
            continue  # blank line
        first, last = cell(row, "First Name"), cell(row, "Last Name")
        name = " ".join(part for part in (first, last) if part)
        if not name:
            parsed.skipped.append((offset, "no name"))
            continue
        connected = cell(row, "Connected On")
        connected_on = _parse_date(connected) if connected else None
        if connected and connected_on is None:
            parsed.skipped.append((offset, f"unreadable date {connected!r}"))
            continue
        parsed.connections.append(
            Connection(
                name=name,
                company=cell(row, "Company"),
                title=cell(row, "Position"),
                email=cell(row, "Email Address").lower(),
                connected_on=connected_on,
                url=cell(row, "URL"),
            )
        )
    return parsed
