"""A stand-in for Ollama's model-creation endpoints, recording what it was sent."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OllamaCreateStandIn:
    """Ollama's documented blob and create endpoints: HEAD/POST /api/blobs/:digest,
    POST /api/create (non-streamed)."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.creates: list[dict] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, body: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_HEAD(self) -> None:
                digest = self.path.removeprefix("/api/blobs/")
                self._reply(200 if digest in stand_in.blobs else 404)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/api/blobs/"):
                    digest = self.path.removeprefix("/api/blobs/")
                    if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
                        return self._reply(400, {"error": "digest mismatch"})
                    stand_in.blobs[digest] = body
                    return self._reply(201)
                if self.path == "/api/create":
                    stand_in.creates.append(json.loads(body))
                    return self._reply(200, {"status": "success"})
                self._reply(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.host = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
