"""the words of an ask: its size, the requester's words for themselves, the connector's line

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 18:00:00

ask_size is what the requester asks the target for (a 15-minute call by default), said in the
opt-in ask; anonymous_as is how the requester lets the connector describe them before the
target agrees (empty: "a colleague of mine"); intro_line is the connector's own line in the
intro email on why the two should meet (NULL until they edit the one made from the reason);
how_known is how a connector who chose "Mention my name" knows the target.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Added columns, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    op.add_column(
        "intro_requests",
        sa.Column("ask_size", sa.String(length=16), nullable=False, server_default="call_15"),
    )
    op.add_column(
        "intro_requests",
        sa.Column("anonymous_as", sa.String(length=200), nullable=False, server_default=""),
    )
    op.add_column("intro_requests", sa.Column("intro_line", sa.Text()))
    op.add_column("intro_requests", sa.Column("how_known", sa.String(length=150)))


def downgrade() -> None:
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        for name in ("how_known", "intro_line", "anonymous_as", "ask_size"):
            batch_op.drop_column(name)
