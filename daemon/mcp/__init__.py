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
import sys
import threading
from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from cove.daemon import __version__
from cove.daemon.client import ApiError, CoveClient, DaemonNotRunningError, daemon_info
from cove.daemon.client.sources import location
from cove.daemon.config import Config
from cove.daemon.mcp.models import (
    MAX_READ_LINES,
    Answer,
    AnswerSource,
    DocumentLines,
    Folder,
    FolderList,
    Memory,
    Recall,
    SearchHit,
    SearchResult,
)
from cove.daemon.mcp.text import (
    render_answer,
    render_folders,
    render_lines,
    render_memory,
    render_recall,
    render_search,
)
from cove.daemon.ops.hostcheck import LOOPBACK_NAMES, LoopbackHostOnly
from cove.daemon.ops.ports import HOST, port_taken
from cove.daemon.paths import ensure_token, private_umask

HTTP_PATH = "/mcp"
MAX_SEARCH_K = 50

log = logging.getLogger("cove.mcp")
T = TypeVar("T")

INSTRUCTIONS = """\
Cove is the user's offline assistant over their own documents: the files in the folders
they chose to watch on this machine. Use search_documents to find passages (each with its
file path and lines), read_document to read more of a file around a hit, ask for an answer
grounded in those documents with numbered sources, and list_folders to see what is indexed.
When the user tells you a fact about themselves, remember it; recall finds what they taught.
"""

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
        from cove.daemon.ops.launch import StartFailedError, start_background

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
FactQuestion = Annotated[
    str,
    Field(min_length=1, max_length=20_000, description="The question the fact answers."),
]
FactAnswer = Annotated[
    str, Field(min_length=1, max_length=20_000, description="The answer, as the user gave it.")
]
Limit = Annotated[int, Field(ge=1, le=MAX_SEARCH_K, description="How many memories to return.")]
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

    async def remember(
        self, question: FactQuestion, answer: FactAnswer
    ) -> Annotated[CallToolResult, Memory]:
        """Remember a fact the user tells you, as a question and its answer.

        It is written to the user's teach folder; Cove's answers use it at once (cited as
        "you told me") and the next training run learns it.
        """
        doc = await self._call(lambda client: client.remember(question, answer))
        return tool_result(Memory(**doc["memory"]), render_memory)

    async def recall(self, query: Query, limit: Limit = 5) -> Annotated[CallToolResult, Recall]:
        """Find what the user taught Cove (their memories) closest to a query, best first,
        each with when it was taught and how similar it is."""
        doc = await self._call(lambda client: client.search_memories(query, limit))
        return tool_result(Recall.model_validate(doc), render_recall)

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
        (tools.remember, "Remember a fact", RECORDS),
        (tools.recall, "Recall what the user taught", READ_ONLY),
    ):
        # getdoc: the docstring without its indentation is the description hosts show
        server.add_tool(tool, title=title, description=inspect.getdoc(tool), annotations=hints)
    return server


def serve_stdio(config: Config, start_daemon: bool = True) -> None:
    """Speak MCP on stdin/stdout until the host closes them."""
    private_umask()  # it may create COVE_HOME (and start the daemon)
    configure_logging()
    build_server(DaemonConnector(config, start_daemon)).run("stdio")


def serve_http(config: Config, port: int, start_daemon: bool = True) -> None:
    """Streamable HTTP on 127.0.0.1:`port`; every request needs the daemon's token and a
    loopback Host header."""
    private_umask()  # it may create COVE_HOME and the token
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
    # The SDK checks Host (any port) and Origin on /mcp only, after auth; Cove's check is
    # outermost, so a foreign Host is refused on every path before the token is looked at.
    hosts = [host for name in LOOPBACK_NAMES for host in (name, f"{name}:{port}")]
    origins = [
        origin for name in LOOPBACK_NAMES for origin in (f"http://{name}", f"http://{name}:*")
    ]
    security = TransportSecuritySettings(allowed_hosts=hosts, allowed_origins=origins)
    app = server.streamable_http_app(
        streamable_http_path=HTTP_PATH, host=HOST, transport_security=security
    )
    anyio.run(run_uvicorn, LoopbackHostOnly(app, port), port)


async def run_uvicorn(app, port: int) -> None:
    """Serve `app` on 127.0.0.1:`port` until interrupted, as the SDK's own runner does."""
    import uvicorn

    await uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning")).serve()


def check_port_free(port: int) -> None:
    """Raise OSError now when the port is taken: uvicorn would exit 3, Cove's "not running"."""
    if reason := port_taken(port):
        raise OSError(f"cannot listen on {HOST}:{port}: {reason}")


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
