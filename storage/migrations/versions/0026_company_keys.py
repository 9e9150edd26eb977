"""Companies matched forgivingly, and merged by admins

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 20:10:00

bot.intro.matching.company_key now leaves out legal forms wherever they are written ("S.A.",
"L.L.C.", "GmbH & Co. KG", "株式会社"), a leading "The", and reads a domain as its name
("Booking.com"). The stored keys of contacts, account owners and target accounts are
recomputed with it; so is a contact's identity where it was made of its name and company key
(one made from an email's hash stays). Where two rows of one owner (or two account owners)
now share a key, the one already keyed that way is kept.

intro_requests.target_company_key keys each request's company, indexed in place of
lower(target_company); contacts.company_domain_key holds the short form an email's domain
gives a company (empty for existing rows: their emails are kept only as hashes);
company_aliases holds the spellings an admin merged into one company.
"""

import hashlib
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import storage.models
from bot.intro.matching import company_key

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK = 5000
IDENTITY_LENGTH = 400


def _chunks(query: sa.Select[Any]) -> Any:
    """The rows of `query` (ordered by its first column, an id), a chunk at a time."""
    connection = op.get_bind()
    first = query.selected_columns[0]
    last: Any = None
    while True:
        page = query if last is None else query.where(first > last)
        rows = connection.execute(page.order_by(first).limit(CHUNK)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _identity(name_key: str, key: str) -> str:
    identity = f"{name_key}|{key}"
    if len(identity) <= IDENTITY_LENGTH:
        return identity
    return "sha256:" + hashlib.sha256(identity.encode()).hexdigest()


def _rekey_contacts() -> None:
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("team_id", sa.String),
        sa.column("owner_id", sa.String),
        sa.column("identity_key", sa.String),
        sa.column("name_key", sa.String),
        sa.column("company", sa.String),
        sa.column("company_key", sa.String),
    )
    connection = op.get_bind()
    query = sa.select(
        contacts.c.id,
        contacts.c.team_id,
        contacts.c.owner_id,
        contacts.c.identity_key,
        contacts.c.name_key,
        contacts.c.company,
        contacts.c.company_key,
    )
    for rows in _chunks(query):
        for row in rows:
            key = company_key(row.company)[:200]
            if key == row.company_key:
                continue
            values: dict[str, str] = {"company_key": key}
            if row.identity_key == f"{row.name_key}|{row.company_key}":
                identity = _identity(row.name_key, key)
                taken = connection.execute(
                    sa.select(contacts.c.id).where(
                        contacts.c.team_id == row.team_id,
                        contacts.c.owner_id == row.owner_id,
                        contacts.c.identity_key == identity,
                    )
                ).first()
                if taken is None:
                    values["identity_key"] = identity
            connection.execute(sa.update(contacts).where(contacts.c.id == row.id).values(**values))


def _rekey_requests() -> None:
    requests = sa.table(
        "intro_requests",
        sa.column("id", sa.Integer),
        sa.column("target_company", sa.String),
        sa.column("target_company_key", sa.String),
    )
    statement = (
        sa.update(requests)
        .where(requests.c.id == sa.bindparam("row_id"))
        .values(target_company_key=sa.bindparam("key"))
    )
    query = sa.select(requests.c.id, requests.c.target_company).where(
        requests.c.target_company != ""
    )
    for rows in _chunks(query):
        keyed = [{"row_id": row.id, "key": company_key(row.target_company)[:150]} for row in rows]
        op.get_bind().execute(statement, keyed)


def _rekey_owners() -> None:
    """Account owners are keyed by company: a row whose new key another row already has goes
    (the one keyed that way already is the company's owner)."""
    owners = sa.table(
        "account_owners",
        sa.column("team_id", sa.String),
        sa.column("company_key", sa.String),
        sa.column("company", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(owners.c.team_id, owners.c.company_key, owners.c.company)
    ).all()
    taken = {(row.team_id, row.company_key) for row in rows}
    for row in rows:
        key = company_key(row.company)[:200]
        if key == row.company_key:
            continue
        this = (owners.c.team_id == row.team_id) & (owners.c.company_key == row.company_key)
        if (row.team_id, key) in taken:
            connection.execute(sa.delete(owners).where(this))
        else:
            connection.execute(sa.update(owners).where(this).values(company_key=key))
            taken.add((row.team_id, key))
        taken.discard((row.team_id, row.company_key))


def _rekey_accounts() -> None:
    accounts = sa.table(
        "target_accounts",
        sa.column("id", sa.Integer),
        sa.column("team_id", sa.String),
        sa.column("list_owner_id", sa.String),
        sa.column("company", sa.String),
        sa.column("company_key", sa.String),
    )
    connection = op.get_bind()
    query = sa.select(
        accounts.c.id,
        accounts.c.team_id,
        accounts.c.list_owner_id,
        accounts.c.company,
        accounts.c.company_key,
    )
    for rows in _chunks(query):
        for row in rows:
            key = company_key(row.company)[:200]
            if key == row.company_key:
                continue
            same_list = (accounts.c.team_id == row.team_id) & (
                accounts.c.list_owner_id == row.list_owner_id
            )
            taken = connection.execute(
                sa.select(accounts.c.id).where(same_list, accounts.c.company_key == key)
            ).first()
            this = accounts.c.id == row.id
            if taken is None:
                connection.execute(sa.update(accounts).where(this).values(company_key=key))
            else:
                connection.execute(sa.delete(accounts).where(this))


def upgrade() -> None:
    op.create_table(
        "company_aliases",
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("alias_key", sa.String(200), nullable=False),
        sa.Column("canonical_key", sa.String(200), nullable=False),
        sa.Column("alias", sa.String(200), nullable=False),
        sa.Column("canonical", sa.String(200), nullable=False),
        sa.Column("merged_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", "alias_key"),
    )
    op.create_index(
        "ix_company_aliases_team_canonical", "company_aliases", ["team_id", "canonical_key"]
    )
    op.add_column(
        "contacts",
        sa.Column("company_domain_key", sa.String(200), nullable=False, server_default=""),
    )
    op.create_index(
        "ix_contacts_team_company_domain", "contacts", ["team_id", "company_domain_key"]
    )
    op.add_column(
        "intro_requests",
        sa.Column("target_company_key", sa.String(150), nullable=False, server_default=""),
    )
    _rekey_contacts()
    _rekey_requests()
    _rekey_owners()
    _rekey_accounts()
    op.drop_index("ix_intro_requests_team_company", table_name="intro_requests")
    op.create_index(
        "ix_intro_requests_team_company_key",
        "intro_requests",
        ["team_id", "target_company_key"],
    )


def downgrade() -> None:
    op.drop_index("ix_intro_requests_team_company_key", table_name="intro_requests")
    with op.batch_alter_table("intro_requests", schema=None) as batch_op:
        batch_op.drop_column("target_company_key")
    op.create_index(
        "ix_intro_requests_team_company",
        "intro_requests",
        ["team_id", sa.text("lower(target_company)")],
    )
    op.drop_index("ix_contacts_team_company_domain", table_name="contacts")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("company_domain_key")
    op.drop_index("ix_company_aliases_team_canonical", table_name="company_aliases")
    op.drop_table("company_aliases")
