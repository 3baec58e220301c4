"""A fake ML service and a fake gateway that follow the contract.

They exist to test the harness (tests/e2e/selftest.py): the contract suite
must pass against the faithful fake, and must fail (and the parity check
must see the difference) against a fake with one deliberate deviation.
"""

from __future__ import annotations

import http.client
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness.contract import TITLES
from harness.httpc import authorize

RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PROBS = {
    "setosa": {"setosa": 0.97, "versicolor": 0.03, "virginica": 0.0},
    "virginica": {"setosa": 0.0, "versicolor": 0.1, "virginica": 0.9},
}


FAKE_KEY = "fake-key-" + "k" * 40  # the one API key the fake gateway accepts


def problem(status, path, rid, detail="x"):
    return json.dumps(
        {
            "type": "about:blank",
            "title": TITLES[status],
            "status": status,
            "detail": detail,
            "instance": path,
            "request_id": rid,
        }
    ).encode()


class _Server:
    def __init__(self, handler_cls):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class _Base(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Request-ID", self.rid)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


def fake_ml():
    """paused (a threading.Event on the returned server): while set, predictions
    wait, like requests queued while no worker runs."""
    paused = threading.Event()

    class H(_Base):
        def do_GET(self):
            self.rid = self.headers.get("X-Request-ID") or secrets.token_hex(16)
            if self.path in ("/healthz", "/readyz"):
                return self.send(200, b'{"status":"ok"}')
            self.send(404, problem(404, self.path, self.rid), "application/problem+json")

        def do_POST(self):
            self.rid = self.headers.get("X-Request-ID") or secrets.token_hex(16)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            for _ in range(100):  # at most 5s
                if not paused.is_set():
                    break
                time.sleep(0.05)
            rows = body["instances"]
            if any(len(r) != 4 for r in rows):
                return self.send(
                    422,
                    problem(422, self.path, self.rid, "need 4 features"),
                    "application/problem+json",
                )
            preds = []
            for r in rows:
                label = "setosa" if r[2] < 2.5 else "virginica"
                preds.append(
                    {
                        "label": label,
                        "class_id": 0 if label == "setosa" else 2,
                        "probabilities": PROBS[label],
                    }
                )
            self.send(
                200,
                json.dumps(
                    {"model_version": "iris-logreg-0123456789ab", "predictions": preds}
                ).encode(),
            )

    server = _Server(H)
    server.paused = paused
    return server


def fake_gateway(
    ml_url: str,
    timeout_ms: int = 5000,
    max_body: int = 1 << 20,
    deviation: str | None = None,
    metrics_listener: bool = False,
):
    """deviation: None (faithful), 'charset' (adds ; charset=utf-8 on
    success), 'allow' (Allow: GET, POST on 405). metrics_listener: the
    gateway's /metrics listener (GATEWAY_METRICS_PORT) instead."""

    class H(_Base):
        def _rid(self):
            rid = self.headers.get("X-Request-ID")
            self.rid = rid if rid and RID_OK.match(rid) else secrets.token_hex(16)

        def fail(self, status, extra=None, detail="x"):
            self.send(
                status,
                problem(status, self.path, self.rid, detail),
                "application/problem+json",
                extra,
            )

        def unauthorized(self) -> bool:
            """The API-key check (docs/ml-gateway-contract.md); True when
            it answered 401."""
            scheme, _, key = (self.headers.get("Authorization") or "").strip().partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                detail = "send an API key: Authorization: Bearer <key>"
                self.fail(401, {"WWW-Authenticate": "Bearer"}, detail)
                return True
            if key.strip() != FAKE_KEY:
                challenge = 'Bearer error="invalid_token"'
                self.fail(401, {"WWW-Authenticate": challenge}, "the API key is not valid")
                return True
            return False

        def do_GET(self):
            self._rid()
            if metrics_listener:
                if self.path == "/metrics":
                    return self.send(200, b"# TYPE x counter\nx 1\n", "text/plain; version=0.0.4")
                return self.fail(404)
            if self.path == "/healthz":
                return self.send(200, b'{"status":"ok"}')
            if self.path == "/readyz":
                try:
                    host, port = ml_url.split("//")[1].split(":")
                    c = http.client.HTTPConnection(host, int(port), timeout=2)
                    c.request("GET", "/readyz")
                    ok = c.getresponse().status == 200
                    c.close()
                except OSError:
                    ok = False
                if ok:
                    return self.send(200, b'{"status":"ready"}')
                return self.fail(503, {"Retry-After": "1"})
            if self.path == "/v1/predict":
                allow = "GET, POST" if deviation == "allow" else "POST"
                return self.fail(405, {"Allow": allow})
            self.fail(404)

        def do_DELETE(self):
            self._rid()
            if self.path == "/v1/predict":
                return self.fail(405, {"Allow": "POST"})
            self.fail(404)

        def do_PUT(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_DELETE()

        def do_POST(self):
            self._rid()
            n = int(self.headers.get("Content-Length") or 0)
            if self.path != "/v1/predict":
                self.rfile.read(n)
                return self.fail(404)
            if n > max_body:
                self.close_connection = True
                return self.fail(413, {"Connection": "close"})
            raw = self.rfile.read(n)
            if self.unauthorized():
                return
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if ctype != "application/json":
                return self.fail(415)
            try:
                body = json.loads(raw, parse_constant=lambda c: (_ for _ in ()).throw(ValueError))
            except ValueError:
                return self.fail(400)
            if not valid(body):
                return self.fail(422)
            host, port = ml_url.split("//")[1].split(":")
            try:
                c = http.client.HTTPConnection(host, int(port), timeout=timeout_ms / 1000)
                c.request(
                    "POST",
                    "/v1/predict",
                    raw,
                    {
                        "Content-Type": "application/json",
                        "X-Request-ID": self.rid,
                        "traceparent": self._tp(),
                    },
                )
                r = c.getresponse()
                data = r.read()
                c.close()
            except TimeoutError:
                return self.fail(504)
            except OSError:
                return self.fail(502)
            if r.status >= 500:
                return self.fail(502)
            ctype = r.getheader("Content-Type")
            if deviation == "charset" and r.status == 200:
                ctype += "; charset=utf-8"
            self.send(r.status, data, ctype)

        def _tp(self):
            tp = self.headers.get("traceparent") or ""
            if re.match(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", tp):
                return tp
            return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"

    server = _Server(H)
    authorize(server.url, f"Bearer {FAKE_KEY}")  # the harness's requests carry the key
    return server


def valid(body) -> bool:
    if not isinstance(body, dict) or set(body) != {"instances"}:
        return False
    rows = body["instances"]
    if not isinstance(rows, list) or not 1 <= len(rows) <= 256:
        return False
    for r in rows:
        if not isinstance(r, list) or not r:
            return False
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in r):
            return False
    return True
