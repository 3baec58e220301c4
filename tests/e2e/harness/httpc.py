"""One HTTP request with a client timeout, exactly as given.

http.client lets the harness send any method, Content-Type (or none) and raw
body; a server that answers before reading a large body (413) and closes the
connection is handled: the response is still read.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from dataclasses import dataclass, field


@dataclass
class Resp:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined by ", "
    body: bytes
    secs: float
    raw_headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body)

    def short(self, limit: int = 400) -> str:
        body = self.body.decode(errors="replace")
        if len(body) > limit:
            body = body[:limit] + f"... ({len(self.body)} bytes)"
        hdrs = ", ".join(
            f"{k}: {v}"
            for k, v in self.raw_headers
            if k.lower() in ("content-type", "x-request-id", "allow", "retry-after")
        )
        return f"{self.status} [{hdrs}] {body}"


class HttpError(Exception):
    """No HTTP response at all (refused, reset, timed out)."""


# The credential each gateway started by the harness wants, by "host:port":
# every request to it carries `Authorization: <value>` unless the caller sends
# its own or passes auth=False (the 401 cases). The ML service is never
# registered: it sits behind the gateway and has no auth of its own.
_CREDENTIALS: dict[tuple[str, int], str] = {}


def authorize(base: str, authorization: str) -> None:
    """Requests to base carry this Authorization header from now on."""
    _CREDENTIALS[_host_port(base)] = authorization


def credential(base: str) -> str | None:
    """The Authorization header registered for base, if any."""
    return _CREDENTIALS.get(_host_port(base))


def request(
    method: str,
    base: str,
    path: str,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    auth: bool = True,
) -> Resp:
    host, port = _host_port(base)
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        registered = _CREDENTIALS.get((host, port))
        if auth and registered and not any(k.lower() == "authorization" for k in hdrs):
            hdrs["Authorization"] = registered
        if body is not None and not any(k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        if body:
            try:
                conn.send(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered early (e.g. 413): read that answer
        resp = conn.getresponse()
        data = resp.read()
        raw = [(k, v) for k, v in resp.getheaders()]
    except (OSError, http.client.HTTPException) as e:
        raise HttpError(
            f"{method} {base}{path}: {type(e).__name__}: {e} after {time.monotonic() - start:.2f}s"
        ) from e
    finally:
        conn.close()
    merged: dict[str, str] = {}
    for k, v in raw:
        k = k.lower()
        merged[k] = f"{merged[k]}, {v}" if k in merged else v
    return Resp(resp.status, merged, data, time.monotonic() - start, raw)


def get(base: str, path: str, timeout: float = 5.0, headers=None, auth: bool = True) -> Resp:
    return request("GET", base, path, None, headers, timeout, auth)


def post_json(
    base: str, path: str, obj, timeout: float = 10.0, headers=None, auth: bool = True
) -> Resp:
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    return request("POST", base, path, json.dumps(obj), hdrs, timeout, auth)


def status_is(base: str, path: str, status: int, timeout: float = 2.0) -> bool:
    try:
        return get(base, path, timeout=timeout).status == status
    except HttpError:
        return False


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _host_port(base: str) -> tuple[str, int]:
    rest = base.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.rpartition(":")
    return host, int(port)
