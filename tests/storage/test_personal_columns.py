"""Every column that holds a person's words or details is marked in the models, listed in
PRIVACY.md, and erased by `/intro forget me`."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import String, Text

from bot.intro.privacy import FORMER_TEAMMATE, erased
from storage.models import Base

PRIVACY = Path(__file__).resolve().parents[2] / "PRIVACY.md"
# The tables whose rows stay after forget me (for the funnel): each text column is either
# marked personal or named here as holding no one's words or details.
KEPT_TABLES = ("intro_requests", "intro_offers")
NOT_PERSONAL = {
    "intro_requests.team_id",
    "intro_requests.requester_id",
    "intro_requests.connector_id",
    "intro_requests.closeness",
    "intro_requests.source_channel_id",
    "intro_requests.source_message_ts",
    "intro_requests.status",
    "intro_requests.suggested_user_id",
    "intro_requests.outcome",
    "intro_requests.account_owner_id",
    "intro_requests.submission_key",
    "intro_requests.ask_size",
    "intro_requests.crm_object_type",  # a CRM record's type and id: no one's details
    "intro_requests.crm_object_id",
    "intro_offers.team_id",
    "intro_offers.connector_id",
    "intro_offers.rep_id",
    "intro_offers.status",
}


def _marked() -> dict[str, str]:
    return {
        f"{table.name}.{column.name}": column.info["personal"]
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if "personal" in column.info
    }


def _listed() -> dict[str, str]:
    section = PRIVACY.read_text().split("## Columns that hold personal data", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| ([a-z]+)", section, flags=re.MULTILINE)
    return dict(rows)


def test_privacy_md_lists_exactly_the_columns_the_models_mark_personal() -> None:
    assert _listed() == _marked()


def test_every_text_column_of_a_kept_row_is_marked_or_known_not_personal() -> None:
    unclassified = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        if table.name in KEPT_TABLES
        for column in table.columns
        if isinstance(column.type, String | Text)
        and "personal" not in column.info
        and f"{table.name}.{column.name}" not in NOT_PERSONAL
    ]
    assert unclassified == [], "mark it personal(...) in storage/models.py, or list it here"


def test_forget_me_erases_every_column_marked_as_the_persons() -> None:
    requests = Base.metadata.tables["intro_requests"]
    values = erased(requests, "requester")
    assert set(values) == {
        name.split(".")[1]
        for name, whose in _marked().items()
        if name.startswith("intro_requests.") and whose == "requester"
    }
    assert values["requester_name"] == FORMER_TEAMMATE
    assert values["source_permalink"] is None and values["blurb"] == ""
