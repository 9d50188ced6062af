"""/api/folders: the watched folders (what `cove folders` uses)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.state import CoveState
from cove.index import manifest

router = APIRouter(prefix="/api/folders", tags=["folders"])


class AddFolder(BaseModel):
    path: str = Field(min_length=1, description="a folder on this machine")
    ignore: list[str] = Field(default_factory=list, description="extra gitignore-style globs")


@router.get("", summary="Watched folders with their file and chunk counts")
def list_folders(state: CoveState) -> dict:
    return {"folders": manifest.list_folders(state.indexer.reader())}


@router.post(
    "",
    summary="Watch a folder; returns at once, indexing goes on in the daemon",
    responses=responses(400, notes={400: "Invalid request, or not a folder Cove can watch"}),
)
def add_folder(state: CoveState, body: AddFolder) -> dict:
    try:
        folder = state.indexer.add_folder(Path(body.path), body.ignore)
    except ValueError as exc:
        raise ApiError(400, str(exc), "invalid_folder") from None
    return {"folder": folder}


@router.delete(
    "",
    summary="Stop watching a folder and delete its chunks",
    responses=responses(400, 404, notes={404: "Not a watched folder"}),
)
def remove_folder(state: CoveState, path: str = Query(min_length=1)) -> dict:
    try:
        folder = state.indexer.remove_folder(Path(path))
    except LookupError as exc:
        raise ApiError(404, str(exc), "folder_not_found") from None
    return {"removed": folder}
