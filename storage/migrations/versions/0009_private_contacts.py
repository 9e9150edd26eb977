"""contacts that stay private: hashed emails, a sharing choice, teammates who left

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:40:00

- contacts.email (a third party's address in plain text) becomes contacts.email_hash, an HMAC
  with the key from settings (bot.intro.privacy); identity keys that were the email become
  "email:<hash>". Rewriting rows needs the key: INTROBOT_HASH_KEY, or SLACK_SIGNING_SECRET /
  SLACK_CLIENT_SECRET it is derived from. With no key and emails on file, the migration stops
  with one line rather than guess; with none on file it needs no key.
- connector_prefs.share_tie_details: a teammate's choice to show how well they know people.
- departed_users: teammates Slack reports deactivated, until their contacts are deleted.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from bot.intro.privacy import HASH_PREFIX, email_fingerprint

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000


def _hash_key() -> bytes:
    from bot.settings import SettingsError, load_settings

    # The app passes its own key (bot.wiring.app.migrate); `alembic upgrade` alone reads it
    # from the environment as the app would.
    given: bytes | None = context.config.attributes.get("contact_hash_key")
    key = given if given is not None else load_settings().contact_hash_key
    if key is None:
        raise SettingsError(
            "INTROBOT_HASH_KEY is not set: contacts' emails must be hashed by migration 0009;"
            " set it (or SLACK_SIGNING_SECRET) and migrate again"
        )
    return key


def _hash_emails() -> None:
    connection = op.get_bind()
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("email", sa.String),
        sa.column("identity_key", sa.String),
        sa.column("email_hash", sa.String),
    )
    has_email = sa.func.coalesce(contacts.c.email, "") != ""
    if not connection.scalar(sa.select(sa.func.count()).where(has_email)):
        return
    key = _hash_key()
    statement = (
        sa.update(contacts)
        .where(contacts.c.id == sa.bindparam("row_id"))
        .values(email_hash=sa.bindparam("new_hash"), identity_key=sa.bindparam("new_identity"))
    )
    last_id = 0
    while rows := connection.execute(
        sa.select(contacts.c.id, contacts.c.email, contacts.c.identity_key)
        .where(has_email, contacts.c.id > last_id)
        .order_by(contacts.c.id)
        .limit(CHUNK)
    ).all():
        changed = []
        for row_id, email, identity in rows:
            fingerprint = email_fingerprint(key, email)
            is_email_identity = identity.strip().lower() == email.strip().lower()
            changed.append(
                {
                    "row_id": row_id,
                    "new_hash": fingerprint,
                    "new_identity": HASH_PREFIX + fingerprint if is_email_identity else identity,
                }
            )
        connection.execute(statement, changed)
        last_id = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("email_hash", sa.String(64), nullable=False, server_default=""))
    _hash_emails()
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("email")
    with op.batch_alter_table("connector_prefs") as batch:
        batch.add_column(
            sa.Column("share_tie_details", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "departed_users",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("departed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_departed_users")),
    )


def downgrade() -> None:
    # The plain emails are gone by design: the column comes back empty.
    op.drop_table("departed_users")
    with op.batch_alter_table("connector_prefs") as batch:
        batch.drop_column("share_tie_details")
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("email", sa.String(254), nullable=False, server_default=""))
        batch.drop_column("email_hash")
