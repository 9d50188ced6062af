"""The structured results of Cove's MCP tools (pydantic models hosts receive as JSON)."""

from __future__ import annotations

from pydantic import BaseModel, Field

MAX_READ_LINES = 400  # one read_document call; keeps a huge file out of the model's context


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


class SourceMemory(BaseModel):
    id: str
    kind: str = Field(description='"teach" or "correction" (an answer corrected in chat).')
    question: str = Field(description="The question the user taught the answer to.")
    taught_at: float = Field(description="When, in seconds since the epoch.")


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
    memory: SourceMemory | None = Field(
        None, description="Set when the source is something the user taught (not a file)."
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


class Memory(BaseModel):
    id: str
    question: str
    answer: str
    kind: str = Field(description='"teach" (the teach folder) or "correction" (chat).')
    path: str = Field(description="The teach file holding it (empty for a correction).")
    line: int
    taught_at: float


class RecalledMemory(BaseModel):
    memory: Memory
    dense: float = Field(description="Similarity of meaning to the query (cosine).")
    keyword: float = Field(description="Share of the query's words the memory holds.")


class Recall(BaseModel):
    query: str
    results: list[RecalledMemory] = Field(description="Closest first.")
