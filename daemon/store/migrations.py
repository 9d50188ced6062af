"""Forward-only schema migrations, each a named function applied once in a transaction.

The schema version is the number of applied migrations; it is also kept in
`PRAGMA user_version` so outside tools can read it. A database newer than this code
is refused rather than silently used.

A migration runs inside one explicit transaction, so it uses DDL and raw SQL only:
sqlite-utils' insert helpers commit on their own and would split it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import sqlite_utils

from cove.index.keywords import fts_columns
from cove.index.transactions import transaction

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[Migration] = []


class SchemaTooNewError(RuntimeError):
    """cove.db was written by a newer Cove."""


def migration(fn: Migration) -> Migration:
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_create_settings(db: sqlite_utils.Database) -> None:
    """Key/value state changed by commands (current model, active adapter, ...)."""
    db["settings"].create({"key": str, "value": str, "updated_at": float}, pk="key")


@migration
def m002_create_sessions(db: sqlite_utils.Database) -> None:
    """Chat sessions and their messages, with the model and timings of each answer."""
    db["sessions"].create(
        {
            "id": str,
            "title": str,
            "general": int,
            "created_at": float,
            "updated_at": float,
        },
        pk="id",
    )
    db["messages"].create(
        {
            "id": str,
            "session_id": str,
            "role": str,
            "content": str,
            "grounded": int,
            "model": str,
            "adapter": str,
            "timings": str,
            "created_at": float,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db.execute("CREATE INDEX idx_messages_session ON messages(session_id, created_at)")


@migration
def m003_create_index(db: sqlite_utils.Database) -> None:
    """Watched folders, the file manifest, chunks with FTS5, and the embedding cache.

    A file's chunks are written under a new `generation` and made live by one update of
    `files.generation`; readers only see the live generation, so a file's chunks change
    all at once. Chroma holds the vectors under the chunk ids and is rebuildable from
    `embeddings`.
    """
    db.execute(
        """CREATE TABLE folders (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL UNIQUE,
            ignore TEXT NOT NULL DEFAULT '[]',
            added_at REAL NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE files (
            id INTEGER PRIMARY KEY,
            folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
            path TEXT NOT NULL UNIQUE,
            size INTEGER NOT NULL DEFAULT 0,
            mtime REAL NOT NULL DEFAULT 0,
            hash TEXT,
            status TEXT NOT NULL,
            error TEXT,
            format TEXT,
            chunk_count INTEGER NOT NULL DEFAULT 0,
            generation INTEGER NOT NULL DEFAULT 0,
            indexed_at REAL,
            updated_at REAL NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_files_folder ON files(folder_id)")
    db.execute("CREATE INDEX idx_files_hash ON files(hash)")
    db.execute("CREATE INDEX idx_files_status ON files(status)")
    db.execute(
        """CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
            generation INTEGER NOT NULL,
            ordinal INTEGER NOT NULL,
            text TEXT NOT NULL,
            heading TEXT NOT NULL DEFAULT '[]',
            page INTEGER,
            line_start INTEGER,
            line_end INTEGER,
            embed_hash TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX idx_chunks_file ON chunks(file_id, generation)")
    db.execute(
        "CREATE VIRTUAL TABLE chunks_fts USING fts5("
        "text, heading, content='chunks', content_rowid='id', tokenize='porter unicode61')"
    )
    db.execute(
        """CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text, heading) VALUES (new.id, new.text, new.heading);
        END"""
    )
    db.execute(
        """CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text, heading)
            VALUES ('delete', old.id, old.text, old.heading);
        END"""
    )
    db.execute(
        """CREATE TABLE embeddings (
            hash TEXT NOT NULL,
            model TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (hash, model)
        ) WITHOUT ROWID"""
    )


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    if "_migrations" not in db.table_names():
        return []
    return [row["name"] for row in db.query("SELECT name FROM _migrations ORDER BY id")]


def schema_version(db: sqlite_utils.Database) -> int:
    return db.execute("PRAGMA user_version").fetchone()[0]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply pending migrations in order; return the names applied now."""
    if "_migrations" not in db.table_names():
        db["_migrations"].create({"id": int, "name": str, "applied_at": float}, pk="id")
    done = applied_migrations(db)
    if len(done) > len(MIGRATIONS) or schema_version(db) > len(MIGRATIONS):
        raise SchemaTooNewError(
            f"cove.db has schema version {max(len(done), schema_version(db))}, but this Cove "
            f"knows only {len(MIGRATIONS)}: upgrade Cove or use another COVE_HOME"
        )
    applied = []
    for number, fn in enumerate(MIGRATIONS, start=1):
        if fn.__name__ in done:
            continue
        with transaction(db):
            fn(db)
            db.execute(
                "INSERT INTO _migrations (id, name, applied_at) VALUES (?, ?, ?)",
                [number, fn.__name__, time.time()],
            )
            db.execute(f"PRAGMA user_version = {number}")
        applied.append(fn.__name__)
    return applied


@migration
def m004_add_sources_and_feedback(db: sqlite_utils.Database) -> None:
    """Grounded answers keep their numbered sources; each message can get feedback."""
    db.execute("ALTER TABLE messages ADD COLUMN sources TEXT NOT NULL DEFAULT '[]'")
    db.execute(
        """CREATE TABLE feedback (
            message_id TEXT PRIMARY KEY REFERENCES messages(id),
            rating TEXT CHECK (rating IN ('up', 'down')),
            correction TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL
        )"""
    )


@migration
def m005_create_training(db: sqlite_utils.Database) -> None:
    """Training runs and the adapters they produced (the files live in COVE_HOME/adapters)."""
    db.execute(
        """CREATE TABLE training_runs (
            id TEXT PRIMARY KEY,
            trigger TEXT NOT NULL,            -- 'now' | 'schedule'
            status TEXT NOT NULL,             -- running | promoted | rejected | failed | skipped
            started_at REAL NOT NULL,
            ended_at REAL,
            hardware TEXT,
            steps INTEGER,
            progress TEXT NOT NULL DEFAULT '{}',
            losses TEXT NOT NULL DEFAULT '[]',
            data_stats TEXT NOT NULL DEFAULT '{}',
            metrics TEXT NOT NULL DEFAULT '{}',
            decision TEXT NOT NULL DEFAULT '{}',
            adapter_id TEXT,
            error TEXT
        )"""
    )
    db.execute(
        """CREATE TABLE adapters (
            id TEXT PRIMARY KEY,
            run_id TEXT REFERENCES training_runs(id),
            created_at REAL NOT NULL,
            path TEXT NOT NULL,
            base_model TEXT NOT NULL,
            status TEXT NOT NULL,             -- promoted | rejected
            metrics TEXT NOT NULL DEFAULT '{}',
            data_stats TEXT NOT NULL DEFAULT '{}',
            provenance TEXT NOT NULL DEFAULT '[]'
        )"""
    )


@migration
def m006_add_training_stages(db: sqlite_utils.Database) -> None:
    """Where a run is (its stage) and how long each stage took, for status and tuning."""
    db.execute("ALTER TABLE training_runs ADD COLUMN stage TEXT")
    db.execute("ALTER TABLE training_runs ADD COLUMN stage_seconds TEXT NOT NULL DEFAULT '{}'")


@migration
def m007_add_message_claims(db: sqlite_utils.Database) -> None:
    """A grounded answer keeps its claims (each sentence, supported or not, and by what),
    so a session shown later says what the sources backed."""
    db.execute("ALTER TABLE messages ADD COLUMN claims TEXT NOT NULL DEFAULT '[]'")


@migration
def m008_segment_keyword_index(db: sqlite_utils.Database) -> None:
    """Keyword search for scripts without spaces between words (issue 16): `chunks_fts`
    indexes `fts_text`/`fts_heading` where set (Korean, Chinese, Japanese, Thai... cut
    into overlapping character pairs, `cove.index.keywords.segment`), else the raw
    columns, through a view, so an FTS5 'rebuild' reproduces it. Existing chunks are
    re-segmented and re-indexed here; their vectors (Chroma, `embeddings`) are untouched.
    """
    db.execute("ALTER TABLE chunks ADD COLUMN fts_text TEXT")
    db.execute("ALTER TABLE chunks ADD COLUMN fts_heading TEXT")
    last = 0
    while rows := db.execute(
        "SELECT id, text, heading FROM chunks WHERE id > ? ORDER BY id LIMIT 1000", [last]
    ).fetchall():
        for chunk_id, text, heading in rows:
            fts_text, fts_heading = fts_columns(text, json.loads(heading))
            if fts_text is not None or fts_heading is not None:
                db.execute(
                    "UPDATE chunks SET fts_text = ?, fts_heading = ? WHERE id = ?",
                    [fts_text, fts_heading, chunk_id],
                )
        last = rows[-1][0]
    db.execute("DROP TRIGGER chunks_ai")
    db.execute("DROP TRIGGER chunks_ad")
    db.execute("DROP TABLE chunks_fts")
    db.execute(
        "CREATE VIEW chunks_fts_source AS SELECT id, coalesce(fts_text, text) AS text, "
        "coalesce(fts_heading, heading) AS heading FROM chunks"
    )
    db.execute(
        "CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading, content='chunks_fts_source', "
        "content_rowid='id', tokenize='porter unicode61')"
    )
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')")
    db.execute(
        """CREATE TRIGGER chunks_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text, heading) VALUES
            (new.id, coalesce(new.fts_text, new.text), coalesce(new.fts_heading, new.heading));
        END"""
    )
    db.execute(
        """CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text, heading) VALUES
            ('delete', old.id, coalesce(old.fts_text, old.text),
             coalesce(old.fts_heading, old.heading));
        END"""
    )
