"""A tiny upstream, run inside the harness, that answers too late.

Health paths answer at once (so a gateway's /readyz passes); any other
request is recorded (method, path, headers, body) and answered after
`delay` seconds, which the harness sets above GATEWAY_UPSTREAM_TIMEOUT_MS.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlowServer:
    def __init__(self, delay: float, status: int = 200, body: bytes | None = None) -> None:
        self.delay = delay
        self.status = status
        self.body = body or json.dumps({"model_version": "slow", "predictions": []}).encode()
        self.seen: list[dict] = []
        self._stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _answer(self, status: int, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.path in ("/healthz", "/readyz"):
                    status = {"/healthz": "ok", "/readyz": "ready"}[self.path]
                    return self._answer(200, json.dumps({"status": status}).encode())
                outer.seen.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body,
                        "at": time.monotonic(),
                    }
                )
                outer._stop.wait(outer.delay)
                self._answer(outer.status, outer.body)

            do_GET = do_POST = do_PUT = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
