"""Cove's MCP server: the knowledge base as tools for MCP hosts (Claude Desktop, VS Code, …).

A client of the daemon's API like the CLI and the TUI: each tool is one call through
`CoveClient`, never a look into cove.db or Chroma, so files are served exactly as the daemon
serves them (indexed, under a watched folder). The client is synchronous, so every call runs
in a worker thread: a long answer never stalls the protocol loop. Logs go to stderr, because
on stdio stdout is the protocol.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import socket
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Annotated, TypeVar

import anyio
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from cove.daemon import __version__
from cove.daemon.client import ApiError, CoveClient, DaemonNotRunningError, daemon_info
from cove.daemon.config import Config
from cove.daemon.paths import ensure_token

HOST = "127.0.0.1"  # loopback only, like the daemon
HTTP_PATH = "/mcp"
MAX_READ_LINES = 400  # one read_document call; keeps a huge file out of the model's context
MAX_SEARCH_K = 50

log = logging.getLogger("cove.mcp")
T = TypeVar("T")

INSTRUCTIONS = """\
Cove is the user's offline assistant over their own documents: the files in the folders
they chose to watch on this machine. Use search_documents to find passages (each with its
file path and lines), read_document to read more of a file around a hit, ask for an answer
grounded in those documents with numbered sources, and list_folders to see what is indexed.
"""

# --- structured output ----------------------------------------------------------------


class SearchHit(BaseModel):
    rank: int
    path: str = Field(description="Absolute path of the file.")
    heading: list[str] = Field(description="Heading trail of the passage, outermost first.")
    page: int | None = Field(description="Page number (paged formats such as PDF), or null.")
    line_start: int | None = Field(description="First line of the passage (1-based), or null.")
    line_end: int | None = Field(description="Last line of the passage (inclusive), or null.")
    location: str = Field(description='"lines 3-8", "page 2" or "" when unknown.')
    text: str = Field(description="The passage.")
    scores: dict[str, float | None] = Field(description="dense, bm25, fused and rerank scores.")


class SearchResult(BaseModel):
    query: str
    results: list[SearchHit] = Field(description="Best first.")


class DocumentLines(BaseModel):
    path: str = Field(description="The file's real, absolute path.")
    start_line: int = Field(description="First line returned (1-based).")
    end_line: int = Field(description="Last line returned (inclusive).")
    total_lines: int
    truncated: bool = Field(
        description=f"True when more lines were asked for than the limit of {MAX_READ_LINES}."
    )
    text: str


class Folder(BaseModel):
    path: str
    files: int = Field(description="Indexed files.")
    chunks: int = Field(description="Indexed passages.")
    failed: int = Field(description="Files that could not be read (`cove index errors`).")
    ignore: list[str] = Field(description="Extra gitignore-style patterns for this folder.")


class FolderList(BaseModel):
    folders: list[Folder]


class Quote(BaseModel):
    text: str
    line_start: int | None
    line_end: int | None


class Claim(BaseModel):
    text: str = Field(description="A sentence of the answer.")
    supported: bool = Field(description="Whether a source sentence supports it.")
    n: int | None = Field(description="The source that supports it.")
    quote: str | None = Field(description="The supporting sentence.")


class AnswerSource(BaseModel):
    n: int = Field(description="The number the answer cites as [n].")
    path: str
    heading: list[str]
    page: int | None
    line_start: int | None
    line_end: int | None
    location: str
    snippet: str
    cited: bool = Field(description="Whether the answer cites this source.")
    quote: Quote | None = Field(
        None, description="The sentence(s) of this source that answer the question."
    )


class Answer(BaseModel):
    answer: str
    grounded: bool = Field(description="False when answered from general knowledge.")
    sources: list[AnswerSource] = Field(description="Cited sources first.")
    session_id: str
    message_id: str = Field(description="For `cove feedback MESSAGE_ID up|down`.")
    model: str | None
    claims: list[Claim] = Field(
        default_factory=list, description="The answer's sentences and their support."
    )


# --- reaching the daemon --------------------------------------------------------------


class DaemonConnector:
    """Clients of the daemon that owns one COVE_HOME, starting it first if asked to."""

    def __init__(self, config: Config, start: bool = True) -> None:
        self.config = config
        self.start = start
        self._lock = threading.Lock()  # two first calls at once must not start two daemons

    def client(self) -> CoveClient:
        """A client of the running daemon (blocking: call it from a worker thread)."""
        if self.start and daemon_info(self.config.paths.home) is None:
            self._start_daemon()
        return CoveClient.from_home(self.config.paths.home)

    def _start_daemon(self) -> None:
        from cove.daemon.process import StartFailedError, start_background

        with self._lock:
            home = self.config.paths.home
            if daemon_info(home) is not None:
                return
            log.info("starting the Cove daemon (COVE_HOME=%s)", home)
            try:
                start_background(self.config, self.config.daemon.start_timeout)
            except StartFailedError as exc:
                raise DaemonNotRunningError(f"could not start the Cove daemon: {exc}") from None


class DaemonTokenVerifier:
    """Accepts exactly the daemon's own bearer token (a `TokenVerifier` for the SDK)."""

    def __init__(self, token: str) -> None:
        self._token = token.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._token):  # constant time
            return AccessToken(token=token, client_id="cove", scopes=[])
        return None


# --- the tools --------------------------------------------------------------------------

Query = Annotated[str, Field(min_length=1, description="What to look for, in the user's words.")]
K = Annotated[int, Field(ge=1, le=MAX_SEARCH_K, description="How many passages to return.")]
DocPath = Annotated[
    str,
    Field(
        min_length=1, description="Absolute path of an indexed file, as search_documents gives it."
    ),
]
Line = Annotated[int | None, Field(ge=1, description="1-based; inclusive.")]
Question = Annotated[str, Field(min_length=1, description="A question about the user's documents.")]

READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
# ask records the question and answer as a session in cove.db: not read-only, not destructive.
RECORDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)


class CoveTools:
    """The tools, each forwarded to the daemon through a `DaemonConnector`."""

    def __init__(self, connector: DaemonConnector) -> None:
        self.connector = connector

    async def search_documents(
        self, query: Query, k: K = 8
    ) -> Annotated[CallToolResult, SearchResult]:
        """Search the user's watched folders (hybrid: semantic + keyword) for passages.

        Returns the best passages first, each with its file path, heading trail, location
        (lines or page), text and scores. Use read_document to read around a passage.
        """
        doc = await self._call(lambda client: client.search(query, k=k))
        hits = [SearchHit(**hit, location=location(hit)) for hit in doc["results"]]
        return tool_result(SearchResult(query=doc["query"], results=hits), render_search)

    async def read_document(
        self, path: DocPath, start_line: Line = None, end_line: Line = None
    ) -> Annotated[CallToolResult, DocumentLines]:
        """Read lines of a file from the user's watched folders.

        Lines are 1-based and inclusive; both ends are optional (the whole file, or from
        start_line to its end). At most 400 lines come back per call: `truncated` says
        when more were asked for; read on from end_line + 1. Only files that Cove indexed
        in a watched folder can be read; any other path is refused.
        """
        first = start_line or 1
        last = min(end_line or sys.maxsize, first + MAX_READ_LINES - 1)
        doc = await self._call(lambda client: client.read_file(path, start_line, last))
        wanted_end = min(end_line or doc["total_lines"], doc["total_lines"])
        lines = DocumentLines(**doc, truncated=doc["end_line"] < wanted_end)
        return tool_result(lines, render_lines)

    async def list_folders(self) -> Annotated[CallToolResult, FolderList]:
        """List the folders Cove watches, with their indexed file and passage counts."""
        doc = await self._call(lambda client: client.folders())
        folders = [Folder.model_validate(folder) for folder in doc["folders"]]
        return tool_result(FolderList(folders=folders), render_folders)

    async def ask(self, question: Question) -> Annotated[CallToolResult, Answer]:
        """Ask Cove a question and get an answer grounded in the user's documents.

        Cove searches the watched folders, answers from the passages it finds and lists
        them as numbered sources ([n] in the answer). When nothing relevant is found it
        says so instead of guessing. Slower than search_documents: a local model writes
        the answer.
        """
        doc = await self._call(lambda client: client.ask(question))
        sources = [AnswerSource(**s, location=location(s)) for s in doc["sources"]]
        answer = Answer(**{**doc, "sources": sources})
        return tool_result(answer, render_answer)

    async def _call(self, request: Callable[[CoveClient], T]) -> T:
        """Run one blocking client call in a worker thread; failures become tool errors."""

        def run() -> T:
            with self.connector.client() as client:
                return request(client)

        try:
            return await anyio.to_thread.run_sync(run)
        except DaemonNotRunningError as exc:
            raise ToolError(not_running_message(exc, self.connector.start)) from None
        except ApiError as exc:
            raise ToolError(api_error_message(exc)) from None


def build_server(
    connector: DaemonConnector, http_token: str | None = None, port: int = 0
) -> MCPServer:
    """The MCP server; with `http_token`, HTTP requests must carry it as a bearer token."""
    auth = {}
    if http_token is not None:
        # A fixed token, no OAuth: the issuer is required by the SDK's settings, never served.
        auth = {
            "token_verifier": DaemonTokenVerifier(http_token),
            "auth": AuthSettings(issuer_url=f"http://{HOST}:{port}", resource_server_url=None),
        }
    server = MCPServer(
        "cove",
        title="Cove",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        **auth,
    )
    tools = CoveTools(connector)
    for tool, title, hints in (
        (tools.search_documents, "Search documents", READ_ONLY),
        (tools.read_document, "Read a document", READ_ONLY),
        (tools.list_folders, "List watched folders", READ_ONLY),
        (tools.ask, "Ask Cove", RECORDS),
    ):
        # getdoc: the docstring without its indentation is the description hosts show
        server.add_tool(tool, title=title, description=inspect.getdoc(tool), annotations=hints)
    return server


def serve_stdio(config: Config, start_daemon: bool = True) -> None:
    """Speak MCP on stdin/stdout until the host closes them."""
    configure_logging()
    build_server(DaemonConnector(config, start_daemon)).run("stdio")


def serve_http(config: Config, port: int, start_daemon: bool = True) -> None:
    """Streamable HTTP on 127.0.0.1:`port`; every request needs the daemon's token."""
    configure_logging()
    check_port_free(port)
    config.paths.ensure()
    # The daemon's token: created here if the daemon never ran, and the daemon will use it.
    token = ensure_token(config.paths.token)
    server = build_server(DaemonConnector(config, start_daemon), http_token=token, port=port)
    print(
        f"Cove MCP server on http://{HOST}:{port}{HTTP_PATH} "
        f"(Authorization: Bearer $(cat {config.paths.token}))",
        file=sys.stderr,
        flush=True,
    )
    anyio.run(
        partial(
            server.run_streamable_http_async, host=HOST, port=port, streamable_http_path=HTTP_PATH
        )
    )


def check_port_free(port: int) -> None:
    """Raise OSError now when the port is taken: uvicorn would exit 3, Cove's "not running"."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            raise OSError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None


def configure_logging() -> None:
    """Warnings on stderr; Cove's own info too (e.g. that it starts the daemon)."""
    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="cove mcp: %(levelname)s: %(message)s"
    )
    logging.getLogger("cove").setLevel(logging.INFO)


# --- messages and text ------------------------------------------------------------------


def not_running_message(exc: DaemonNotRunningError, starts: bool) -> str:
    message = str(exc)
    if not starts:
        message += "; start it with `cove start` (or run `cove mcp` without --no-start)"
    return message[:1].upper() + message[1:]


def api_error_message(exc: ApiError) -> str:
    if exc.code == "file_not_served":
        return (
            f"Cove refused to read it: {exc}. Only files indexed in a watched folder are served "
            "(see search_documents and list_folders)."
        )
    if exc.status == 400:
        return f"Invalid request: {exc}"
    return f"The Cove daemon answered {exc.status}: {exc}"


def tool_result(model: BaseModel, render: Callable[..., str]) -> CallToolResult:
    """The model as structured content, and as text for hosts that only show text."""
    return CallToolResult(
        content=[TextContent(type="text", text=render(model))],
        structured_content=model.model_dump(mode="json"),
    )


def location(item: dict) -> str:
    if item.get("page"):
        return f"page {item['page']}"
    start, end = item.get("line_start"), item.get("line_end")
    if start and end and end != start:
        return f"lines {start}-{end}"
    return f"line {start}" if start else ""


def describe(path: str, where: str, heading: list[str]) -> str:
    """'/notes/skerry.md, lines 3-4 — Skerry Island lighthouse'"""
    text = f"{path}, {where}" if where else path
    return f"{text} — {' > '.join(heading)}" if heading else text


def render_search(result: SearchResult) -> str:
    if not result.results:
        return f'Nothing in the watched folders matches "{result.query}".'
    count = len(result.results)
    parts = [f'{count} passage{"s" if count > 1 else ""} for "{result.query}", best first:']
    for hit in result.results:
        parts.append(f"[{hit.rank}] {describe(hit.path, hit.location, hit.heading)}\n{hit.text}")
    return "\n\n".join(parts)


def render_lines(doc: DocumentLines) -> str:
    if doc.total_lines == 0:
        return f"{doc.path} is empty."
    text = f"{doc.path}, lines {doc.start_line}-{doc.end_line} of {doc.total_lines}:\n\n{doc.text}"
    if doc.truncated:
        text += f"\n\n[cut at {MAX_READ_LINES} lines: read on with start_line={doc.end_line + 1}]"
    return text


def render_folders(result: FolderList) -> str:
    if not result.folders:
        return "Cove watches no folders yet (add one with `cove folders add PATH`)."
    return "\n".join(
        f"{f.path}: {f.files} files, {f.chunks} passages"
        + (f", {f.failed} failed" if f.failed else "")
        for f in result.folders
    )


def render_answer(answer: Answer) -> str:
    text = answer.answer
    if not answer.grounded:
        text += "\n\n(general knowledge, not from the user's documents)"
    if answer.sources:
        lines = [
            f"[{s.n}] {describe(s.path, s.location, s.heading)}\n    "
            + (f'"{s.quote.text}"' if s.quote else " ".join(s.snippet.split()))
            for s in answer.sources
        ]
        text += "\n\nSources:\n" + "\n".join(lines)
    return text
