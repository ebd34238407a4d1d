"""A loopback dataset mirror: plain HTTP/1.1 GETs of `/<dataset>/<file name>`, as
`TUNECLUSTER_DATASETS_MIRROR` expects, served from files or bytes. Faults per path:
`truncate` (a Content-Length longer than the body, then the connection closes),
`alter` (the right length, one byte changed), `missing` (404). Counts the requests."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class DatasetsMirror:
    def __init__(self, files: dict[str, Path | bytes]) -> None:
        self.files = dict(files)
        self.faults: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> DatasetsMirror:
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                path = self.path.lstrip("/")
                mirror.requests[path] += 1
                source = mirror.files.get(path)
                fault = mirror.faults.get(path)
                if source is None or fault == "missing":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = source.read_bytes() if isinstance(source, Path) else source
                if fault == "alter":
                    body = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
                self.send_response(200)
                self.send_header("Content-Type", "text/csv")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if fault == "truncate":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
