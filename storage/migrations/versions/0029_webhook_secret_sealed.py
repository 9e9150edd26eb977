"""Webhook secrets sealed

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 23:00:00

webhooks.secret: room for a secret sealed under INTROBOT_SECRET_KEY (a Fernet token is longer
than the 128 characters a plain one needed). Existing secrets stay plain and keep signing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("secret", type_=sa.Text(), existing_type=sa.String(128))


def downgrade() -> None:
    # A sealed secret does not fit back: those webhooks are set again by their admins.
    op.execute("DELETE FROM webhooks WHERE secret LIKE 'sealed:%'")
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("secret", type_=sa.String(128), existing_type=sa.Text())
