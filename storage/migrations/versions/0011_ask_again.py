"""the target said not now: the day the connector will ask again

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 16:10:00

"Not now" no longer ends a request: the connector picks a day to ask the target again
(ask_again_on), and the request waits for it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An added column, not a table rebuild: on SQLite a rebuild loses the expression indexes.
    op.add_column("intro_requests", sa.Column("ask_again_on", sa.Date()))


def downgrade() -> None:
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.drop_column("ask_again_on")
