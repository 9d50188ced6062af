"""The file manifest and chunk rows in SQLite: the record of truth for what is indexed.

Tables are created by the daemon's migrations (m003_create_index); these functions take the
`sqlite_utils.Database` explicitly. Chunk writes follow one protocol: write the new
generation's rows, then flip `files.generation` in one statement, then delete the
superseded rows. Readers join on the live generation, so they see a file's old chunks or
its new ones, never a mix and never none.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from cove.index.keywords import fts_columns
from cove.index.transactions import transaction

INDEXED = "indexed"
SKIPPED = "skipped"
FAILED = "failed"


# --- folders ------------------------------------------------------------------------


def add_folder(db: sqlite_utils.Database, path: str, ignore: Sequence[str] = ()) -> dict:
    """Record a watched folder (idempotent; new ignore globs replace the old ones)."""
    existing = get_folder(db, path)
    if existing:
        db.execute(
            "UPDATE folders SET ignore = ? WHERE id = ?", [json.dumps(list(ignore)), existing["id"]]
        )
    else:
        db.execute(
            "INSERT INTO folders (path, ignore, added_at) VALUES (?, ?, ?)",
            [path, json.dumps(list(ignore)), time.time()],
        )
    folder = get_folder(db, path)
    assert folder is not None
    return folder


def get_folder(db: sqlite_utils.Database, path: str) -> dict | None:
    rows = list(db.query("SELECT * FROM folders WHERE path = ?", [path]))
    return _folder(rows[0]) if rows else None


def list_folders(db: sqlite_utils.Database) -> list[dict]:
    """Folders with their file and chunk counts."""
    rows = db.query(
        """SELECT folders.*,
               (SELECT COUNT(*) FROM files WHERE folder_id = folders.id AND status = 'indexed')
                   AS files,
               (SELECT COALESCE(SUM(chunk_count), 0) FROM files
                   WHERE folder_id = folders.id AND status = 'indexed') AS chunks,
               (SELECT COUNT(*) FROM files WHERE folder_id = folders.id AND status = 'failed')
                   AS failed
           FROM folders ORDER BY path"""
    )
    return [_folder(r) for r in rows]


def remove_folder(db: sqlite_utils.Database, folder_id: int) -> list[int]:
    """Delete a folder, its files and chunks; return the chunk ids (to drop their vectors)."""
    with transaction(db):
        ids = _ids(
            db,
            "SELECT chunks.id FROM chunks JOIN files ON files.id = chunks.file_id "
            "WHERE files.folder_id = ?",
            [folder_id],
        )
        db.execute(
            "DELETE FROM chunks WHERE file_id IN (SELECT id FROM files WHERE folder_id = ?)",
            [folder_id],
        )
        db.execute("DELETE FROM files WHERE folder_id = ?", [folder_id])
        db.execute("DELETE FROM folders WHERE id = ?", [folder_id])
    return ids


def _folder(row: dict) -> dict:
    return {**row, "ignore": json.loads(row["ignore"])}


# --- files --------------------------------------------------------------------------


def get_file(db: sqlite_utils.Database, path: str) -> dict | None:
    rows = list(db.query("SELECT * FROM files WHERE path = ?", [path]))
    return rows[0] if rows else None


def files_in_folder(db: sqlite_utils.Database, folder_id: int) -> dict[str, dict]:
    """path -> manifest row, for a reconcile scan."""
    rows = db.query(
        "SELECT id, path, size, mtime, hash, status FROM files WHERE folder_id = ?", [folder_id]
    )
    return {r["path"]: r for r in rows}


def files_with_hash(db: sqlite_utils.Database, content_hash: str) -> list[dict]:
    return list(
        db.query("SELECT * FROM files WHERE hash = ? AND status = 'indexed'", [content_hash])
    )


def record_file(
    db: sqlite_utils.Database,
    folder_id: int,
    path: str,
    *,
    status: str,
    size: int,
    mtime: float,
    content_hash: str | None = None,
    error: str | None = None,
    file_format: str | None = None,
) -> int:
    """Insert or update a manifest row (chunks untouched); return the file id."""
    now = time.time()
    existing = get_file(db, path)
    if existing is None:
        cursor = db.execute(
            "INSERT INTO files (folder_id, path, size, mtime, hash, status, error, format, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [folder_id, path, size, mtime, content_hash, status, error, file_format, now],
        )
        return int(cursor.lastrowid)
    db.execute(
        "UPDATE files SET folder_id = ?, size = ?, mtime = ?, hash = ?, status = ?, error = ?, "
        "format = COALESCE(?, format), updated_at = ? WHERE id = ?",
        [folder_id, size, mtime, content_hash, status, error, file_format, now, existing["id"]],
    )
    return int(existing["id"])


def touch_file(db: sqlite_utils.Database, file_id: int, size: int, mtime: float) -> None:
    """Same content, new stat (e.g. `touch`): remember it so the next scan skips the file."""
    db.execute("UPDATE files SET size = ?, mtime = ? WHERE id = ?", [size, mtime, file_id])


def rename_file(db: sqlite_utils.Database, file_id: int, new_path: str, folder_id: int) -> None:
    """A move: only the path changes; chunks and vectors stay as they are."""
    db.execute("DELETE FROM files WHERE path = ? AND id != ?", [new_path, file_id])
    db.execute(
        "UPDATE files SET path = ?, folder_id = ?, updated_at = ? WHERE id = ?",
        [new_path, folder_id, time.time(), file_id],
    )


def delete_files(db: sqlite_utils.Database, paths: Iterable[str]) -> list[int]:
    """Forget files (deleted from disk, or newly ignored); return their chunk ids."""
    paths = list(paths)
    ids: list[int] = []
    with transaction(db):
        for start in range(0, len(paths), 500):
            batch = paths[start : start + 500]
            marks = ",".join("?" * len(batch))
            ids += _ids(
                db,
                f"SELECT chunks.id FROM chunks JOIN files ON files.id = "
                f"chunks.file_id WHERE files.path IN ({marks})",
                batch,
            )
            db.execute(
                f"DELETE FROM chunks WHERE file_id IN "
                f"(SELECT id FROM files WHERE path IN ({marks}))",
                batch,
            )
            db.execute(f"DELETE FROM files WHERE path IN ({marks})", batch)
    return ids


def paths_under(db: sqlite_utils.Database, directory: str) -> list[str]:
    """Manifest paths inside `directory` (for a deleted or moved folder)."""
    prefix = directory.rstrip("/") + "/"
    return [
        r["path"]
        for r in db.query(
            "SELECT path FROM files WHERE substr(path, 1, ?) = ?", [len(prefix), prefix]
        )
    ]


def unfinished_paths(db: sqlite_utils.Database) -> list[str]:
    """Files whose first ingest never finished (a crash, a full disk): still `indexing`."""
    return [r[0] for r in db.execute("SELECT path FROM files WHERE status = 'indexing'")]


# --- chunks -------------------------------------------------------------------------


def write_generation(
    db: sqlite_utils.Database, file_id: int, chunks: Sequence[dict[str, Any]]
) -> tuple[int, list[int]]:
    """Insert chunk rows under the file's next generation (not yet visible).

    Each chunk dict has text, heading (list), page, line_start, line_end, embed_hash.
    Returns (generation, chunk ids in order).
    """
    with transaction(db):
        row = db.execute(
            "SELECT MAX(generation) FROM (SELECT generation FROM files WHERE id = ? "
            "UNION ALL SELECT generation FROM chunks WHERE file_id = ?)",
            [file_id, file_id],
        ).fetchone()
        generation = (row[0] or 0) + 1
        ids = []
        for ordinal, chunk in enumerate(chunks):
            fts_text, fts_heading = fts_columns(chunk["text"], chunk["heading"])
            cursor = db.execute(
                "INSERT INTO chunks (file_id, generation, ordinal, text, heading, page, "
                "line_start, line_end, embed_hash, fts_text, fts_heading) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    file_id,
                    generation,
                    ordinal,
                    chunk["text"],
                    json.dumps(list(chunk["heading"])),
                    chunk.get("page"),
                    chunk.get("line_start"),
                    chunk.get("line_end"),
                    chunk["embed_hash"],
                    fts_text,
                    fts_heading,
                ],
            )
            ids.append(int(cursor.lastrowid))
    return generation, ids


def make_live(
    db: sqlite_utils.Database,
    file_id: int,
    generation: int,
    *,
    size: int,
    mtime: float,
    content_hash: str,
    file_format: str,
    chunk_count: int,
) -> None:
    """Flip the file to `generation` in one statement: readers switch all at once."""
    db.execute(
        "UPDATE files SET generation = ?, size = ?, mtime = ?, hash = ?, status = 'indexed', "
        "error = NULL, format = ?, chunk_count = ?, indexed_at = ?, updated_at = ? WHERE id = ?",
        [
            generation,
            size,
            mtime,
            content_hash,
            file_format,
            chunk_count,
            time.time(),
            time.time(),
            file_id,
        ],
    )


def superseded_chunk_ids(db: sqlite_utils.Database, file_id: int | None = None) -> list[int]:
    """Chunks not of their file's live generation (replaced, or left by a crash)."""
    where = "AND chunks.file_id = ?" if file_id is not None else ""
    params = [file_id] if file_id is not None else []
    return _ids(
        db,
        "SELECT chunks.id FROM chunks JOIN files ON files.id = chunks.file_id "
        f"WHERE chunks.generation != files.generation {where}",
        params,
    )


def drop_live_chunks(db: sqlite_utils.Database, file_id: int) -> list[int]:
    """Retire a file's live chunks (it became skipped or failed); return their ids."""
    with transaction(db):
        ids = _ids(db, "SELECT id FROM chunks WHERE file_id = ?", [file_id])
        db.execute("DELETE FROM chunks WHERE file_id = ?", [file_id])
        db.execute("UPDATE files SET chunk_count = 0 WHERE id = ?", [file_id])
    return ids


def delete_chunks(db: sqlite_utils.Database, ids: Sequence[int]) -> None:
    with transaction(db):
        for start in range(0, len(ids), 500):
            batch = list(ids[start : start + 500])
            db.execute(f"DELETE FROM chunks WHERE id IN ({','.join('?' * len(batch))})", batch)


def live_chunk_ids(db: sqlite_utils.Database) -> set[int]:
    return set(
        _ids(
            db,
            "SELECT chunks.id FROM chunks JOIN files ON files.id = chunks.file_id "
            "AND files.generation = chunks.generation",
            [],
        )
    )


def live_chunks(db: sqlite_utils.Database, ids: Sequence[int]) -> dict[int, dict]:
    """id -> chunk with its file's path, for those of `ids` that are live now."""
    found: dict[int, dict] = {}
    for start in range(0, len(ids), 500):
        batch = list(ids[start : start + 500])
        rows = db.query(
            "SELECT chunks.id, chunks.text, chunks.heading, chunks.page, chunks.line_start, "
            "chunks.line_end, chunks.embed_hash, files.path FROM chunks JOIN files ON "
            "files.id = chunks.file_id AND files.generation = chunks.generation "
            f"WHERE chunks.id IN ({','.join('?' * len(batch))})",
            batch,
        )
        for row in rows:
            found[row["id"]] = {**row, "heading": json.loads(row["heading"])}
    return found


def chunk_hashes(db: sqlite_utils.Database, ids: Sequence[int]) -> list[dict]:
    """id, file_id, embed_hash, text and heading (JSON) of the given chunks."""
    rows: list[dict] = []
    for start in range(0, len(ids), 500):
        batch = list(ids[start : start + 500])
        rows += db.query(
            "SELECT id, file_id, embed_hash, text, heading FROM chunks "
            f"WHERE id IN ({','.join('?' * len(batch))}) ORDER BY id",
            batch,
        )
    return rows


# --- reports ------------------------------------------------------------------------


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    row = db.execute(
        "SELECT COALESCE(SUM(status = 'indexed'), 0), COALESCE(SUM(status = 'failed'), 0), "
        "COALESCE(SUM(status = 'skipped'), 0), "
        "COALESCE(SUM(CASE WHEN status = 'indexed' THEN chunk_count END), 0) FROM files"
    ).fetchone()
    return {"files": row[0], "failed": row[1], "skipped": row[2], "chunks": row[3]}


def failures(db: sqlite_utils.Database) -> list[dict]:
    return list(
        db.query("SELECT path, error, updated_at FROM files WHERE status = 'failed' ORDER BY path")
    )


def _ids(db: sqlite_utils.Database, sql: str, params: Sequence[Any]) -> list[int]:
    return [row[0] for row in db.execute(sql, list(params)).fetchall()]
