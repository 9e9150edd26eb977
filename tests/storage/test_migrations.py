"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from bot.intro.privacy import email_fingerprint
from bot.settings import SettingsError, load_settings
from bot.wiring.app import migrate
from storage.db import create_engine_for, sync_url
from storage.migrate import alembic_config
from storage.models import Base


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite pragmas only apply to SQLite")
    engine = create_engine_for(database_url)
    async with engine.connect() as connection:
        assert (await connection.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await connection.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
    await engine.dispose()


def test_0005_keys_the_targets_already_asked_for(tmp_path: Path) -> None:
    """Requests made before 0005 get their surname key, so duplicate checks still see them."""
    url = f"sqlite:///{tmp_path / 'before-0005.db'}"
    command.upgrade(alembic_config(url), "0004")
    engine = create_engine(sync_url(url))
    names = ["Ana Muñoz (Acme)", "jane.doe@acme.com", "Bob  SMITH", "", "Prince"]
    with engine.begin() as connection:
        for n, name in enumerate(names, start=1):
            connection.execute(
                text(
                    "INSERT INTO intro_requests (id, team_id, requester_id, requester_name,"
                    " connector_id, target_name, target_company, reason, blurb, closeness,"
                    " status, created_at, updated_at) VALUES (:id, 'T1', 'U1', '', 'U2', :name,"
                    " '', '', '', 'know_well', 'awaiting_connector', '2026-01-01', '2026-01-01')"
                ),
                {"id": n, "name": name},
            )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as connection:
        keys = connection.execute(
            text("SELECT target_surname_key FROM intro_requests ORDER BY id")
        ).scalars()
        assert list(keys) == ["munoz", "doe", "smith", "", "prince"]
    engine.dispose()


def test_0007_rekeys_names_written_without_spaces(tmp_path: Path) -> None:
    """Requests and contacts recorded before 0007 are found by the new keys."""
    url = f"sqlite:///{tmp_path / 'before-0007.db'}"
    command.upgrade(alembic_config(url), "0006")
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        for n, name in enumerate(["王小明", "Jane Doe"], start=1):
            connection.execute(
                text(
                    "INSERT INTO intro_requests (id, team_id, requester_id, requester_name,"
                    " connector_id, target_name, target_company, reason, blurb, closeness,"
                    " status, created_at, updated_at, target_surname_key) VALUES (:id, 'T1',"
                    " 'U1', '', 'U2', :name, '', '', '', 'know_well', 'awaiting_connector',"
                    " '2026-01-01', '2026-01-01', :old)"
                ),
                {"id": n, "name": name, "old": "王小明" if n == 1 else "doe"},
            )
        connection.execute(
            text(
                "INSERT INTO contacts (id, team_id, owner_id, identity_key, name, name_key,"
                " surname_key, company, company_key, title, email, closeness, source,"
                " created_at, updated_at) VALUES (1, 'T1', 'U2', '小明 王|', '小明 王',"
                " '小明 王', '王', '', '', '', '', 'know_well', 'linkedin', '2026-01-01',"
                " '2026-01-01')"
            )
        )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as connection:
        keys = connection.execute(
            text("SELECT target_surname_key FROM intro_requests ORDER BY id")
        ).scalars()
        assert list(keys) == ["小明王", "doe"]
        contact = connection.execute(text("SELECT name_key, surname_key FROM contacts")).one()
        assert tuple(contact) == ("小 明 王", "小明王")
    engine.dispose()


def test_the_company_keys_migration_rekeys_companies_written_with_their_legal_forms(
    tmp_path: Path,
) -> None:
    """Contacts, requests and account owners recorded before 0026 are found by the new
    company keys; a contact's name-and-company identity follows, unless it would become
    another contact's of the same owner; of two owners now of one key, the one keyed so
    already stays."""
    url = f"sqlite:///{tmp_path / 'before-0026.db'}"
    command.upgrade(alembic_config(url), "0022")
    engine = create_engine(sync_url(url))
    contacts = [
        (1, "jane doe|acme s a", "Jane Doe", "jane doe", "Acme S.A.", "acme s a"),
        (2, "bob roe|acme", "Bob Roe", "bob roe", "Acme", "acme"),
        (3, "bob roe|acme s a", "Bob Roe", "bob roe", "ACME S.A.", "acme s a"),
        (4, "email:0123", "Ann Lee", "ann lee", "The Globex Co.", "the globex"),
    ]
    with engine.begin() as connection:
        for row_id, identity, name, key, company, company_key in contacts:
            connection.execute(
                text(
                    "INSERT INTO contacts (id, team_id, owner_id, identity_key, name, name_key,"
                    " surname_key, company, company_key, title, email_hash, closeness,"
                    " source, created_at, updated_at) VALUES (:id, 'T1', 'U2', :identity,"
                    " :name, :key, '', :company, :company_key, '', '', 'know_well',"
                    " 'linkedin', '2026-01-01', '2026-01-01')"
                ),
                {
                    "id": row_id,
                    "identity": identity,
                    "name": name,
                    "key": key,
                    "company": company,
                    "company_key": company_key,
                },
            )
        connection.execute(
            text(
                "INSERT INTO intro_requests (id, team_id, requester_id, requester_name,"
                " connector_id, target_name, target_company, reason, blurb, closeness,"
                " status, created_at, updated_at) VALUES (1, 'T1', 'U1', '', 'U2', 'Jane Doe',"
                " 'ACME S.A.', '', '', 'know_well', 'awaiting_connector', '2026-01-01',"
                " '2026-01-01')"
            )
        )
        for team, company, company_key, owner in [
            ("T1", "Acme S.A.", "acme s a", "U1"),
            ("T1", "Acme", "acme", "U2"),
            ("T2", "Globex GmbH & Co. KG", "globex gmbh co kg", "U3"),
        ]:
            connection.execute(
                text(
                    "INSERT INTO account_owners (team_id, company_key, company, owner_id)"
                    " VALUES (:team, :key, :company, :owner)"
                ),
                {"team": team, "key": company_key, "company": company, "owner": owner},
            )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT identity_key, company_key FROM contacts ORDER BY id")
        ).all()
        assert [tuple(row) for row in rows] == [
            ("jane doe|acme", "acme"),
            ("bob roe|acme", "acme"),
            ("bob roe|acme s a", "acme"),  # the identity is the other contact's now
            ("email:0123", "globex"),
        ]
        request = connection.execute(text("SELECT target_company_key FROM intro_requests"))
        assert request.scalar() == "acme"
        owners = connection.execute(
            text("SELECT team_id, company_key, owner_id FROM account_owners ORDER BY team_id")
        ).all()
        assert [tuple(row) for row in owners] == [("T1", "acme", "U2"), ("T2", "globex", "U3")]
    engine.dispose()


def test_every_index_the_models_declare_survives_the_migrations(database_url: str) -> None:
    """Alembic cannot compare expression indexes on SQLite, and a batch migration that rebuilds
    a table there drops them silently: check each index by name."""
    engine = create_engine(sync_url(database_url))
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'index'"
        else:
            query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
        present = set(connection.execute(text(query)).scalars())
    engine.dispose()
    declared = {index.name for table in Base.metadata.tables.values() for index in table.indexes}
    assert declared - present == set()


def test_migrated_tables_are_what_slack_sdks_stores_define(database_url: str) -> None:
    """Migration 0006 creates slack_sdk's installation and OAuth state tables exactly as the
    stores themselves define them, compared with the stores' own metadata."""
    from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
    from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore

    async_engine = create_engine_for(database_url)
    stores = [
        AsyncSQLAlchemyInstallationStore(client_id="1.2", engine=async_engine).metadata,
        AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=async_engine).metadata,
    ]
    engine = create_engine(sync_url(database_url))
    for metadata in stores:
        names = set(metadata.tables)

        def only_the_stores_tables(
            name: str | None, type_: str, parent: dict[str, str | None], names: set[str] = names
        ) -> bool:
            return type_ != "table" or name in names

        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_name": only_the_stores_tables},
            )
            assert compare_metadata(context, metadata) == []
        assert names <= set(Base.metadata.tables)

    engine.dispose()


def _contacts_before_0009(url: str) -> None:
    command.upgrade(alembic_config(url), "0008")
    engine = create_engine(sync_url(url))
    rows = [
        (1, "jane.doe@acme.com", "jane.doe@acme.com", "Jane Doe"),
        (2, "", "bob smith|initech", "Bob Smith"),
        (3, "ann@example.nl", "ann lee|philips", "Ann Lee"),  # emailed, keyed by name (by hand)
    ]
    with engine.begin() as connection:
        for row_id, email, identity, name in rows:
            connection.execute(
                text(
                    "INSERT INTO contacts (id, team_id, owner_id, identity_key, name, name_key,"
                    " surname_key, company, company_key, title, email, closeness, source,"
                    " created_at, updated_at) VALUES (:id, 'T1', 'U1', :identity, :name, '', '',"
                    " '', '', '', :email, 'know_well', 'linkedin', '2026-01-01', '2026-01-01')"
                ),
                {"id": row_id, "identity": identity, "name": name, "email": email},
            )
    engine.dispose()


def test_0009_keeps_emails_only_as_a_keyed_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'before-0009.db'}"
    _contacts_before_0009(url)
    monkeypatch.setenv("INTROBOT_HASH_KEY", "a-long-random-secret-value")
    command.upgrade(alembic_config(url), "head")
    key = b"a-long-random-secret-value"
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, identity_key, email_hash FROM contacts ORDER BY id")
        ).all()
        columns = {c["name"] for c in inspect(connection).get_columns("contacts")}
    engine.dispose()
    assert "email" not in columns
    jane, ann = (
        email_fingerprint(key, "jane.doe@acme.com"),
        email_fingerprint(key, "ann@example.nl"),
    )
    assert [tuple(r) for r in rows] == [
        (1, "email:" + jane, jane),
        (2, "bob smith|initech", ""),
        (3, "ann lee|philips", ann),
    ]


def test_0009_without_a_key_stops_with_one_line_when_emails_are_on_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before-0009.db'}"
    _contacts_before_0009(url)
    with pytest.raises(SettingsError, match="^INTROBOT_HASH_KEY is not set"):
        command.upgrade(alembic_config(url), "head")


def test_0009_uses_the_key_the_app_runs_with(tmp_path: Path) -> None:
    """introbot's own migrate passes its key, even one given only as an override."""
    url = f"sqlite:///{tmp_path / 'before-0009.db'}"
    _contacts_before_0009(url)
    settings = load_settings(DATABASE_URL=url, SLACK_SIGNING_SECRET="only-an-override")
    migrate(settings)
    key = settings.contact_hash_key
    assert key is not None
    engine = create_engine(sync_url(url))
    with engine.connect() as connection:
        hashes = connection.execute(text("SELECT email_hash FROM contacts ORDER BY id")).scalars()
        assert list(hashes) == [
            email_fingerprint(key, "jane.doe@acme.com"),
            "",
            email_fingerprint(key, "ann@example.nl"),
        ]
    engine.dispose()


def test_0013_dates_the_stages_reported_and_reopens_those_with_more_to_come(
    tmp_path: Path,
) -> None:
    """A meeting, an opportunity or no response reported before 0013 can still move on; a win
    keeps its date in its own column."""
    url = f"sqlite:///{tmp_path / 'before-0013.db'}"
    command.upgrade(alembic_config(url), "0010")
    engine = create_engine(sync_url(url))
    reported = [
        ("closed", "meeting_held"),
        ("closed", "opportunity"),
        ("closed", "closed_won"),
        ("closed", "no_response"),
        ("closed", "not_a_fit"),
        ("intro_made", None),
    ]
    with engine.begin() as connection:
        for n, (status, outcome) in enumerate(reported, start=1):
            connection.execute(
                text(
                    "INSERT INTO intro_requests (id, team_id, requester_id, requester_name,"
                    " connector_id, target_name, target_company, reason, blurb, closeness,"
                    " status, outcome, outcome_at, created_at, updated_at) VALUES (:id, 'T1',"
                    " 'U1', '', 'U2', 'Jane Doe', '', '', '', 'know_well', :status, :outcome,"
                    " :at, '2026-01-01', '2026-01-01')"
                ),
                {
                    "id": n,
                    "status": status,
                    "outcome": outcome,
                    "at": f"2026-01-0{n + 1} 10:00:00.000000" if outcome else None,
                },
            )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT status, meeting_at IS NOT NULL, opportunity_at IS NOT NULL,"
                " won_at, lost_at FROM intro_requests ORDER BY id"
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        ("meeting_held", 1, 0, None, None),
        ("opportunity", 0, 1, None, None),
        ("closed", 0, 0, "2026-01-04 10:00:00.000000", None),
        ("no_response", 0, 0, None, None),
        ("closed", 0, 0, None, None),
        ("intro_made", 0, 0, None, None),
    ]
    engine.dispose()
