"""names in Chinese, Japanese and Korean keyed by their characters

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 14:20:00

Names written without spaces ("王小明") used to be one word, keyed whole, so the same person
written "王 小明" or, as LinkedIn exports it, "小明 王" was never found by suggestions or the
duplicate-ask check; Hangul was keyed by its letters. bot.intro.matching now keys such names by
their characters in a fixed order. Only rows with those scripts change; the contacts' identity
keys are left as they are, so no two rows can collide.
"""

import re
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

from bot.intro.matching import name_key, person_surname_key, surname_key

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000
# The scripts bot.intro.matching splits into characters (Hangul, kana, Han).
_CJK_PATTERN = (
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"
)


def _rows(table: sa.TableClause, name: sa.ColumnClause[str], last_id: int) -> sa.Select:
    query = sa.select(table.c.id, name).where(table.c.id > last_id)
    if op.get_bind().dialect.name == "postgresql":
        query = query.where(name.op("~")(_CJK_PATTERN))  # the rest never changes
    return query.order_by(table.c.id).limit(CHUNK)


def _rekey(
    table: sa.TableClause, name: sa.ColumnClause[str], keys: dict[str, Callable[[str], str]]
) -> None:
    connection = op.get_bind()
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam(f"new_{column}") for column in keys})
    )
    last_id = 0
    while rows := connection.execute(_rows(table, name, last_id)).all():
        changed = []
        for row_id, value in rows:
            if value and re.search(_CJK_PATTERN, value):
                changed.append(
                    {"row_id": row_id} | {f"new_{c}": key(value) for c, key in keys.items()}
                )
        if changed:
            connection.execute(statement, changed)
        last_id = rows[-1][0]


def upgrade() -> None:
    requests = sa.table(
        "intro_requests",
        sa.column("id", sa.Integer),
        sa.column("target_name", sa.String),
        sa.column("target_surname_key", sa.String),
    )
    _rekey(
        requests,
        requests.c.target_name,
        {"target_surname_key": lambda name: person_surname_key(name)[:150]},
    )
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("name_key", sa.String),
        sa.column("surname_key", sa.String),
    )
    _rekey(
        contacts,
        contacts.c.name,
        {
            "name_key": lambda name: name_key(name)[:200],
            "surname_key": lambda name: surname_key(name_key(name))[:100],
        },
    )


def downgrade() -> None:
    # The old keys are a lossy function of the name; the new ones serve the old code as well.
    pass
