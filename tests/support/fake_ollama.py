"""A local HTTP server that speaks Ollama's documented API (/api/tags, /api/show, /api/chat).

The real Ollama server cannot be installed here. This one follows the examples in Ollama's
API documentation: streamed chat is newline-delimited JSON objects with `done: false`, then
one with `done: true`, `done_reason` and the token counts.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOllama:
    """Serves one model on 127.0.0.1; records every request it receives."""

    def __init__(
        self,
        model: str = "llama3.2:latest",
        context_length: int = 8192,
        token_delay: float = 0.0,
        answer_words: int = 6,
    ) -> None:
        self.model = model
        self.context_length = context_length
        self.token_delay = token_delay
        self.answer_words = answer_words
        self.requests: list[tuple[str, dict]] = []
        self.disconnects = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeOllama:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def chat_requests(self) -> list[dict]:
        return [body for path, body in self.requests if path == "/api/chat"]

    def knows(self, name: str) -> bool:
        return name in (self.model, self.model.removesuffix(":latest"))

    def answer_for(self, messages: list[dict]) -> list[str]:
        words = ("echo: " + messages[-1]["content"]).split()
        words += ["more"] * max(0, self.answer_words - len(words))
        return [w + " " for w in words[: self.answer_words]]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> dict:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"{}")

            def do_GET(self) -> None:
                fake.requests.append((self.path, {}))
                if self.path == "/api/tags":
                    self._json(
                        200,
                        {
                            "models": [
                                {
                                    "name": fake.model,
                                    "model": fake.model,
                                    "modified_at": "2024-09-25T14:56:29.171476-07:00",
                                    "size": 2019393189,
                                    "digest": "a80c4f17acd55265feec403c7aef86be"
                                    "0c25983ab279d83f3bcd3abbcb5b8b72",
                                    "details": {
                                        "format": "gguf",
                                        "family": "llama",
                                        "parameter_size": "3.2B",
                                        "quantization_level": "Q4_K_M",
                                    },
                                }
                            ]
                        },
                    )
                elif self.path == "/api/version":
                    self._json(200, {"version": "0.6.3"})
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                body = self._body()
                fake.requests.append((self.path, body))
                name = body.get("model") or body.get("name") or ""
                if self.path in ("/api/show", "/api/chat") and not fake.knows(name):
                    self._json(404, {"error": f"model '{name}' not found"})
                elif self.path == "/api/show":
                    self._json(
                        200,
                        {
                            "modelfile": f"FROM {fake.model}",
                            "parameters": "",
                            "template": "",
                            "details": {"format": "gguf", "family": "llama"},
                            "model_info": {
                                "general.architecture": "llama",
                                "llama.context_length": fake.context_length,
                            },
                        },
                    )
                elif self.path == "/api/chat":
                    self._chat(body)
                else:
                    self._json(404, {"error": "not found"})

            def _chat(self, body: dict) -> None:
                words = fake.answer_for(body["messages"])
                limit = body.get("options", {}).get("num_predict") or len(words)
                words, reason = (
                    (words, "stop") if limit >= len(words) else (words[:limit], "length")
                )
                created = "2023-08-04T19:22:45.499127Z"
                final = {
                    "model": name_of(body),
                    "created_at": created,
                    "message": {"role": "assistant", "content": ""},
                    "done": True,
                    "done_reason": reason,
                    "total_duration": 4883583458,
                    "load_duration": 1334875,
                    "prompt_eval_count": 26,
                    "prompt_eval_duration": 342546000,
                    "eval_count": len(words),
                    "eval_duration": 4535599000,
                }
                if body.get("stream") is False:
                    final["message"]["content"] = "".join(words)
                    self._json(200, final)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for word in words:
                        self._chunk(
                            {
                                "model": name_of(body),
                                "created_at": created,
                                "message": {"role": "assistant", "content": word},
                                "done": False,
                            }
                        )
                        time.sleep(fake.token_delay)
                    self._chunk(final)
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    fake.disconnects += 1
                    self.close_connection = True

            def _chunk(self, obj: dict) -> None:
                line = json.dumps(obj).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()

        return Handler


def name_of(body: dict) -> str:
    return body.get("model", "")
