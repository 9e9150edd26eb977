"""the target's side of the double opt-in: what may be shared, and the requester's profile

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 15:00:00

The requester chooses whether the connector may name them before the target agrees
(share_name); the connector chooses the named or anonymous opt-in ask (named_ask). The intro
email carries the requester's title and email, read from their Slack profile when they asked,
and the "suggested I get in touch" message the connector's name. The connector's own answer to
"would they take your call?" (connector_closeness) is kept beside the requester's guess.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "share_name",
    "named_ask",
    "requester_title",
    "requester_email",
    "connector_name",
    "connector_closeness",
)


def upgrade() -> None:
    # Added columns, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    false = sa.false()
    op.add_column(
        "intro_requests",
        sa.Column("share_name", sa.Boolean(), nullable=False, server_default=false),
    )
    op.add_column(
        "intro_requests",
        sa.Column("named_ask", sa.Boolean(), nullable=False, server_default=false),
    )
    for name, length in (("requester_title", 200), ("requester_email", 254)):
        op.add_column(
            "intro_requests",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )
    op.add_column(
        "intro_requests",
        sa.Column("connector_name", sa.String(length=200), nullable=False, server_default=""),
    )
    op.add_column("intro_requests", sa.Column("connector_closeness", sa.String(length=32)))


def downgrade() -> None:
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        for name in reversed(_COLUMNS):
            batch_op.drop_column(name)
