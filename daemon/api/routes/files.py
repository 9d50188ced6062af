"""/api/files: the text of an indexed file under a watched folder, and nothing else."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.state import CoveState
from cove.daemon.records.files import FileNotServedError, FileReadError, read_lines

router = APIRouter(prefix="/api/files", tags=["files"])


@router.get(
    "",
    summary="Lines of an indexed file (1-based, inclusive; both ends optional)",
    description="Only files that are indexed and whose real path lies under a watched "
    "folder are served (403 otherwise). Text formats are served as they are on disk; PDF, "
    "DOCX, PPTX, EPUB and HTML as the text Cove extracted from them.",
    responses=responses(
        400,
        403,
        409,
        notes={
            400: "Invalid request, or lines outside the file",
            403: "Not an indexed file under a watched folder",
            409: "The file can no longer be read",
        },
    ),
)
async def read_file(
    state: CoveState,
    request: Request,
    path: str = Query(min_length=1, description="absolute path of the file"),
    start_line: int | None = Query(None, ge=1),
    end_line: int | None = Query(None, ge=1),
) -> dict:
    max_bytes = int(state.config.index.max_file_mb * 1_000_000)

    def read() -> dict:
        return read_lines(state.indexer.reader(), path, start_line, end_line, max_bytes).as_dict()

    try:
        return await run_in_threadpool(read)
    except FileNotServedError as exc:
        raise ApiError(403, str(exc), "file_not_served") from None
    except FileReadError as exc:
        raise ApiError(409, str(exc), "file_unreadable") from None
    except ValueError as exc:
        raise ApiError(400, str(exc), "invalid_range") from None
