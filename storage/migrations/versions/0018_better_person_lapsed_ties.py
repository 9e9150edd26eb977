"""a better person to talk to, and ties that lapsed

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:40:00

A connector can point the requester to someone other than the person they asked for (not a
teammate): intro_requests keeps that person's name, role and company. A connector who is no
longer in touch with someone says so: contacts.lapsed_at keeps when, and suggestions rank the
tie below the others.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PERSON_COLUMNS = (
    ("suggested_name", 150),
    ("suggested_title", 200),
    ("suggested_company", 150),
)


def upgrade() -> None:
    # Added columns, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    for name, length in _PERSON_COLUMNS:
        op.add_column("intro_requests", sa.Column(name, sa.String(length), nullable=True))
    op.add_column(
        "contacts",
        sa.Column("lapsed_at", storage.models.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("lapsed_at")
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        for name, _ in reversed(_PERSON_COLUMNS):
            batch_op.drop_column(name)
