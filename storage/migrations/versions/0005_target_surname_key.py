"""the target's surname key, so the open-asks check is an index lookup

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 23:40:00

The open-asks check used to filter every open ask of a workspace by
`lower(target_name) LIKE '%surname%'`: 156 ms at 1,000,000 requests on PostgreSQL
(docs/performance.md), and blind to accents ("Muñoz" never matched "munoz"). The key is the
same folded, nickname-mapped surname the contacts directory matches on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.intro.matching import person_surname_key

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows keyed per round trip while filling the column for existing requests.
BACKFILL_CHUNK = 5000


def upgrade() -> None:
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "target_surname_key", sa.String(length=150), server_default="", nullable=False
            )
        )
    _backfill()
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_intro_requests_team_target_surname",
            ["team_id", "target_surname_key", "status"],
            unique=False,
        )


def _backfill() -> None:
    # The key is computed in Python (Unicode folding, nicknames), in id order, a chunk at a
    # time, so a large history neither sits in memory nor in one statement.
    connection = op.get_bind()
    requests = sa.table(
        "intro_requests",
        sa.column("id", sa.Integer),
        sa.column("target_name", sa.String),
        sa.column("target_surname_key", sa.String),
    )
    fill = (
        sa.update(requests)
        .where(requests.c.id == sa.bindparam("row_id"))
        .values(target_surname_key=sa.bindparam("key"))
    )
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(requests.c.id, requests.c.target_name)
            .where(requests.c.id > last_id)
            .order_by(requests.c.id)
            .limit(BACKFILL_CHUNK)
        ).all()
        if not rows:
            return
        keyed = [{"row_id": row_id, "key": person_surname_key(name)[:150]} for row_id, name in rows]
        keyed = [row for row in keyed if row["key"]]
        if keyed:
            connection.execute(fill, keyed)
        last_id = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_intro_requests_team_target_surname")
        batch_op.drop_column("target_surname_key")
