"""Apply Alembic migrations programmatically (at start, or with `introbot migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(database_url: str, contact_hash_key: bytes | None = None) -> None:
    """`contact_hash_key`: the key the running app hashes contacts' emails with, for the
    migrations that rewrite them (0007); without it they read it from the environment."""
    config = alembic_config(database_url)
    if contact_hash_key is not None:
        config.attributes["contact_hash_key"] = contact_hash_key
    command.upgrade(config, "head")
