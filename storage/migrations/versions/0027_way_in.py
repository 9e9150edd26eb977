"""asks for a way in: a company and a role, the person picked by the connector

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 21:00:00

way_in marks a request made for a company rather than a person ("someone at Acme, ideally who
runs logistics"): target_name stays empty until the connector accepts and picks the person.
target_role is the role the requester hoped to reach, in their words.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added columns, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    op.add_column(
        "intro_requests",
        sa.Column("way_in", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "intro_requests",
        sa.Column("target_role", sa.String(length=200), nullable=False, server_default=""),
    )


def downgrade() -> None:
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        for name in ("target_role", "way_in"):
            batch_op.drop_column(name)
