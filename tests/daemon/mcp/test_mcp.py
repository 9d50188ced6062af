"""`cove mcp` against a real daemon, through the MCP SDK's own clients: the stdio transport
(as an MCP host launches it) and the streamable-HTTP transport with the daemon's token.

One daemon serves the module, and it is started by `cove mcp` itself on its first tool
call: that is the documented behaviour for MCP hosts."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import httpx2
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from cove.daemon.client import daemon_info
from tests.support.daemon import CLI, RunningDaemon, cove_env, free_port, run_cove
from tests.support.generation import sampling
from tests.support.kb import wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)

SKERRY = (
    "# Skerry Island lighthouse\n\n"
    "The lighthouse on Skerry Island was built by the engineer Ada Quill.\n"
    "Construction finished in 1872, after four years of work in bad weather.\n"
)
TOOLS = {"search_documents", "read_document", "list_folders", "ask", "remember", "recall"}
# Short answers, to keep it quick; greedy unless perturbed (tests.support.generation).
CONFIG = f"[model]\ntemperature = {sampling()['temperature']}\nmax_tokens = 48\n"


@dataclass
class McpSession:
    """A live MCP client session driven from synchronous tests through a portal."""

    portal: BlockingPortal
    session: ClientSession

    def call(self, tool: str, **arguments: object) -> CallToolResult:
        return self.portal.call(self.session.call_tool, tool, arguments)

    def list_tools(self) -> dict:
        return {tool.name: tool for tool in self.portal.call(self.session.list_tools).tools}


@asynccontextmanager
async def stdio_session(env: dict[str, str], errlog: Path, *args: str) -> AsyncIterator:
    """`python -m cove.daemon mcp` launched the way an MCP host launches it."""
    params = StdioServerParameters(command=CLI[0], args=[*CLI[1:], "mcp", *args], env=env)
    with errlog.open("w") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write_),
            ClientSession(read, write_) as session,
        ):
            await session.initialize()
            yield session


@contextmanager
def mcp_session(env: dict[str, str], errlog: Path, *args: str) -> Iterator[McpSession]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(stdio_session(env, errlog, *args)) as session,
    ):
        yield McpSession(portal, session)


@dataclass
class Setup:
    daemon: RunningDaemon
    docs: Path
    outside: Path
    mcp: McpSession
    errlog: Path
    started_by_mcp: bool


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("mcp")
    docs = root / "docs"
    write(docs / "skerry.md", SKERRY)
    write(docs / "garden.md", "# Garden notes\n\nTomatoes need six hours of sun.\n")
    write(docs / "long.txt", "".join(f"line {n}\n" for n in range(1, 1001)))
    outside = write(root / "outside.txt", "secret outside the folder\n")
    (docs / "escape.md").symlink_to(outside)  # a symlink that leaves the folder
    home = root / "home"
    write(home / "config.toml", CONFIG)
    port = free_port()
    daemon = RunningDaemon(home, port, cove_env(home, port))
    errlog = root / "mcp-stderr.log"
    try:
        with mcp_session(daemon.env, errlog) as mcp:
            assert daemon_info(home) is None
            first = mcp.call("list_folders")  # no daemon yet: this call starts it
            assert not first.is_error, first.content
            started = daemon_info(home) is not None
            added = daemon.cove("folders", "add", str(docs))
            assert added.returncode == 0, added.stderr
            wait_idle(daemon)
            yield Setup(daemon, docs, outside, mcp, errlog, started)
    finally:
        daemon.stop()


def text(result: CallToolResult) -> str:
    return "\n".join(block.text for block in result.content)


def test_the_tools_have_documented_schemas(setup):
    tools = setup.mcp.list_tools()
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and tool.title and tool.output_schema
    search = tools["search_documents"].input_schema
    assert search["required"] == ["query"]
    assert search["properties"]["k"] | {"description": ""} == {
        "default": 8,
        "description": "",
        "maximum": 50,
        "minimum": 1,
        "title": "K",
        "type": "integer",
    }
    read = tools["read_document"].input_schema
    assert read["required"] == ["path"]
    assert {p["default"] for name, p in read["properties"].items() if name != "path"} == {None}
    assert tools["ask"].input_schema["required"] == ["question"]
    assert tools["list_folders"].input_schema["properties"] == {}
    assert tools["search_documents"].annotations.read_only_hint is True
    assert tools["remember"].input_schema["required"] == ["question", "answer"]
    assert tools["recall"].annotations.read_only_hint is True


def test_the_first_tool_call_started_the_daemon(setup):
    assert setup.started_by_mcp
    assert "starting the Cove daemon" in setup.errlog.read_text()


def test_list_folders_lists_the_watched_folder(setup):
    result = setup.mcp.call("list_folders")
    assert not result.is_error
    (folder,) = result.structured_content["folders"]
    assert folder["path"] == str(setup.docs) and folder["files"] == 3 and folder["chunks"] >= 3
    assert text(result).startswith(f"{setup.docs}: 3 files")


def test_search_finds_a_file_of_the_watched_folder(setup):
    result = setup.mcp.call("search_documents", query="who built the lighthouse", k=3)
    assert not result.is_error
    hits = result.structured_content["results"]
    assert 1 <= len(hits) <= 3
    top = hits[0]
    assert top["path"] == str(setup.docs / "skerry.md")
    assert top["heading"] == ["Skerry Island lighthouse"] and "Ada Quill" in top["text"]
    assert top["location"].startswith("line") and set(top["scores"]) >= {"dense", "bm25"}
    assert f"[1] {setup.docs / 'skerry.md'}, {top['location']}" in text(result)


def test_read_document_returns_the_lines_asked_for(setup):
    path = str(setup.docs / "skerry.md")
    result = setup.mcp.call("read_document", path=path, start_line=3, end_line=3)
    assert not result.is_error
    assert result.structured_content == {
        "path": path,
        "start_line": 3,
        "end_line": 3,
        "total_lines": 4,
        "truncated": False,
        "text": "The lighthouse on Skerry Island was built by the engineer Ada Quill.",
    }
    whole = setup.mcp.call("read_document", path=path).structured_content
    assert whole["text"] == SKERRY.rstrip("\n") and whole["start_line"] == 1


def test_a_long_read_is_cut_and_says_where_to_go_on(setup):
    result = setup.mcp.call("read_document", path=str(setup.docs / "long.txt"), start_line=101)
    doc = result.structured_content
    assert (doc["start_line"], doc["end_line"], doc["total_lines"]) == (101, 500, 1000)
    assert doc["truncated"] and doc["text"].endswith("line 500")
    assert "start_line=501" in text(result)


def test_files_outside_the_watched_folders_are_refused(setup):
    home = setup.daemon.home
    for path in (home / "token", "/etc/passwd", setup.docs / "escape.md", setup.outside):
        result = setup.mcp.call("read_document", path=str(path))
        assert result.is_error, path
        assert "not an indexed file in a watched folder" in text(result)
        assert "Cove refused to read it" in text(result)
    assert "secret" not in text(setup.mcp.call("read_document", path=str(setup.outside)))


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("search_documents", {"query": "lighthouse", "k": 0}, "greater than or equal to 1"),
        ("search_documents", {"query": "lighthouse", "k": 500}, "less than or equal to 50"),
        ("search_documents", {"query": ""}, "at least 1 character"),
        ("read_document", {"path": "x", "start_line": 0}, "greater than or equal to 1"),
        ("ask", {}, "question"),
    ],
)
def test_bad_arguments_are_tool_errors(setup, tool, arguments, message):
    result = setup.mcp.call(tool, **arguments)
    assert result.is_error and message in text(result)


def test_a_range_outside_the_file_is_a_readable_error(setup):
    result = setup.mcp.call("read_document", path=str(setup.docs / "skerry.md"), start_line=50)
    assert result.is_error and "outside the file (1-4)" in text(result)


def test_ask_answers_from_the_document_with_sources(setup):
    result = setup.mcp.call("ask", question="Who built the lighthouse on Skerry Island?")
    assert not result.is_error, text(result)
    answer = result.structured_content
    assert answer["grounded"] is True and answer["answer"].strip()
    top = answer["sources"][0]
    assert top["n"] >= 1 and top["path"] == str(setup.docs / "skerry.md")
    assert "Ada Quill" in top["snippet"] and answer["session_id"] and answer["message_id"]
    shown = text(result)
    assert shown.startswith(answer["answer"])
    assert f"Sources:\n[{top['n']}] {top['path']}, {top['location']}" in shown


def test_a_remembered_fact_is_recalled_and_cited_when_asked(setup):
    remembered = setup.mcp.call(
        "remember", question="What is my cat called?", answer="Your cat is called Pixel Quark."
    )
    assert not remembered.is_error, text(remembered)
    memory = remembered.structured_content
    assert memory["id"].startswith("mem_") and memory["kind"] == "teach"
    recalled = setup.mcp.call("recall", query="the name of my cat").structured_content
    assert recalled["results"][0]["memory"]["id"] == memory["id"]
    result = setup.mcp.call("ask", question="What is my cat called?")
    sources = result.structured_content["sources"]
    assert sources[0]["memory"]["id"] == memory["id"]
    assert "you told me, " in text(result)


def test_a_slow_answer_does_not_hold_up_other_calls(setup):
    """Client calls run in worker threads: the protocol loop serves others meanwhile."""
    question = {"question": "When was the Skerry Island lighthouse finished?"}
    asking = setup.mcp.portal.start_task_soon(setup.mcp.session.call_tool, "ask", question)
    listed = setup.mcp.call("list_folders")
    assert not listed.is_error and not asking.done()
    assert not asking.result(timeout=300).is_error


def test_without_a_daemon_and_with_no_start_a_call_is_a_clear_error(tmp_path):
    home = tmp_path / "home"
    env = cove_env(home, free_port())
    with mcp_session(env, tmp_path / "stderr.log", "--no-start") as mcp:
        assert set(mcp.list_tools()) == TOOLS  # listing tools needs no daemon
        result = mcp.call("search_documents", query="lighthouse")
    assert result.is_error and "The Cove daemon is not running" in text(result)
    assert "cove start" in text(result)
    assert daemon_info(home) is None


def test_port_needs_http(setup):
    done = run_cove("mcp", "--port", "9999", env=setup.daemon.env, timeout=60)
    assert done.returncode == 2 and "--port needs --http" in done.stderr


def test_a_taken_port_is_an_error_not_exit_3(setup):
    """uvicorn alone would exit 3, which means "daemon not running" to Cove's scripts."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = run_cove("mcp", "--http", "--port", port, env=setup.daemon.env, timeout=60)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


# --- streamable HTTP -------------------------------------------------------------------


@contextmanager
def http_server(daemon: RunningDaemon, port: int, log: Path) -> Iterator[str]:
    """`cove mcp --http --port PORT` as a subprocess; yields its URL once it listens."""
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*CLI, "mcp", "--http", "--port", str(port)],
            env=daemon.env,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        while not _listening("127.0.0.1", port):
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "cove mcp --http did not start listening"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(5)
        return sock.connect_ex((host, port)) == 0


def _outside_address() -> str | None:
    """This machine's address on its network, or None where it only has loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # UDP: picks a route and sends nothing
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") else address


async def http_tools_and_folders(url: str, token: str) -> tuple[set[str], CallToolResult]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write_),
        ClientSession(read, write_) as session,
    ):
        await session.initialize()
        names = {tool.name for tool in (await session.list_tools()).tools}
        return names, await session.call_tool("list_folders", {})


def test_http_transport_needs_the_daemons_token(setup, tmp_path):
    daemon = setup.daemon
    port = free_port()
    with http_server(daemon, port, tmp_path / "http.log") as url:
        names, folders = anyio.run(http_tools_and_folders, url, daemon.token)
        assert names == TOOLS
        assert folders.structured_content["folders"][0]["path"] == str(setup.docs)
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
        accept = {"Accept": "application/json, text/event-stream"}
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            refused = httpx.post(url, json=initialize, headers=accept | headers, trust_env=False)
            assert refused.status_code == 401, refused.text
        outside = _outside_address()
        if outside:  # bound to 127.0.0.1 only: not reachable on the machine's own address
            assert not _listening(outside, port)
    assert "Authorization: Bearer" in (tmp_path / "http.log").read_text()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}


def test_http_transport_answers_only_loopback_host_names(tmp_path):
    # No daemon and no COVE_HOME yet: initialize needs neither, and the server creates the
    # home (private) and the token.
    home = tmp_path / "home"
    server = RunningDaemon(home, free_port(), cove_env(home, free_port()))
    port = free_port()
    with http_server(server, port, tmp_path / "http.log") as url:
        accept = {"Accept": "application/json, text/event-stream"}

        def post(host: str, token: bool = True) -> httpx.Response:
            auth = {"Authorization": f"Bearer {server.token}"} if token else {}
            headers = accept | auth | {"Host": host}
            return httpx.post(url, json=INITIALIZE, headers=headers, trust_env=False)

        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1:{port + 1}"):
            refused = post(host)
            assert refused.status_code == 421, (host, refused.text)
            assert refused.json()["error"]["code"] == "misdirected_request"
        assert post("evil.example", token=False).status_code == 421  # before the token
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
            assert post(host).status_code == 200, host
    assert home.stat().st_mode & 0o777 == 0o700
    assert (home / "token").stat().st_mode & 0o777 == 0o600
