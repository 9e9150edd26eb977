"""a second voice: whether it may name the connector who made the first intro

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 18:00:00

After a target agreed to an intro and went quiet, the requester may ask another teammate to
add a second voice. They choose whether that teammate may name the first connector
(name_first_connector); the second connector's card honours it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An added column, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    op.add_column(
        "intro_requests",
        sa.Column("name_first_connector", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    with op.batch_alter_table("intro_requests") as batch_op:
        batch_op.drop_column("name_first_connector")
