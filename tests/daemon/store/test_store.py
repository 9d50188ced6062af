"""cove.db: schema version and forward migrations, one test per migration."""

from __future__ import annotations

import pytest

from cove.daemon.store import (
    MIGRATIONS,
    applied_migrations,
    get_setting,
    migrate,
    open_db,
    schema_version,
    set_setting,
)
from cove.daemon.store.db import connect
from cove.daemon.store.migrations import SchemaTooNewError


def test_a_new_database_gets_every_migration_in_order(tmp_path):
    db = open_db(tmp_path / "cove.db")
    assert applied_migrations(db) == [fn.__name__ for fn in MIGRATIONS]
    assert schema_version(db) == len(MIGRATIONS)


def test_migrating_twice_changes_nothing(tmp_path):
    db = open_db(tmp_path / "cove.db")
    assert migrate(db) == []


def test_connection_settings(tmp_path):
    db = open_db(tmp_path / "cove.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_a_database_newer_than_the_code_is_refused(tmp_path):
    db = open_db(tmp_path / "cove.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(SchemaTooNewError, match="upgrade Cove"):
        migrate(db)


def test_a_failing_migration_leaves_no_trace(tmp_path, monkeypatch):
    def m999_broken(db):
        db.execute("CREATE TABLE half_done (id INTEGER)")
        raise RuntimeError("boom")

    monkeypatch.setattr("cove.daemon.store.migrations.MIGRATIONS", [*MIGRATIONS, m999_broken])
    db = connect(tmp_path / "cove.db")
    with pytest.raises(RuntimeError, match="boom"):
        migrate(db)
    assert "half_done" not in db.table_names()
    assert applied_migrations(db) == [fn.__name__ for fn in MIGRATIONS]
    assert schema_version(db) == len(MIGRATIONS)


def test_m001_settings_round_trip(tmp_path):
    db = open_db(tmp_path / "cove.db")
    assert get_setting(db, "model") is None
    set_setting(db, "model", "ollama:llama3.2")
    set_setting(db, "model", "default")
    assert get_setting(db, "model") == "default"


def test_m002_sessions_and_messages(tmp_path):
    from cove.daemon.records import sessions

    db = open_db(tmp_path / "cove.db")
    session_id = sessions.create_session(db, "first question")
    sessions.add_message(db, session_id, "user", "hi")
    sessions.add_message(db, session_id, "assistant", "hello", timings={"total_ms": 1})
    assert sessions.history(db, session_id) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
    ]
    with pytest.raises(Exception, match="FOREIGN KEY"):
        sessions.add_message(db, "s_missing", "user", "orphan")
