"""Request ids, access logs and HTTP metrics, for every request (errors included)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import HTTP_DURATION, HTTP_REQUESTS
from .problems import PROBLEM_JSON, problem

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_PROBES = frozenset({"/healthz", "/readyz", "/metrics"})

log = logging.getLogger(f"{__package__}.access")
error_log = logging.getLogger(f"{__package__}.errors")


def request_id_from(header: str | None) -> str:
    """The client's id when it is well-formed, else a new one (32 lowercase hex)."""
    if header is not None and _VALID_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestContextMiddleware:
    """Gives each request an id (in `request.state.request_id` and the response's
    X-Request-ID), then counts, times and logs it.

    An exception no handler took is logged here, once, with the request id, and
    answered with a 500 problem that says nothing of it. It is not raised further:
    Starlette would re-raise it to the server, which logs it a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get(REQUEST_ID_HEADER))
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets if the app raises before answering
        started = False
        start = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            error_log.exception("unhandled error", extra={"request_id": request_id})
            if started:  # too late for a 500: the server closes the connection
                raise
            status = 500
            await _send_problem(send, 500, "an unexpected error occurred", scope, request_id)
        finally:
            elapsed = time.perf_counter() - start
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            requests, duration = _series(method, route, status)
            requests.inc()
            duration.observe(elapsed)
            # At debug when answered (the gateway's access log has each request, by
            # the same id) and for the probes; at info when it failed. A JSON log
            # line per prediction cost as much as the prediction's share of the batch.
            level = logging.DEBUG if status < 400 or scope["path"] in _PROBES else logging.INFO
            if log.isEnabledFor(level):
                log.log(
                    level,
                    "request",
                    extra={
                        "method": method,
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                        "request_id": request_id,
                    },
                )


def problem_response(
    request: Request, status: int, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """A problem answer to `request`, with its request id (the body's and the header's)."""
    request_id = getattr(request.state, "request_id", None) or request_id_from(None)
    return JSONResponse(
        problem(status, detail, instance=request.url.path, request_id=request_id),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers={**(headers or {}), REQUEST_ID_HEADER: request_id},
    )


# The metric series of each (method, route, status) answered so far. `labels()` per
# request cost ~3% of the service's CPU under load; the keys are few (llhttp knows a
# fixed set of methods, routes are templates or "unmatched").
_SERIES: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def _series(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    key = (method, route, status)
    series = _SERIES.get(key)
    if series is None:
        series = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_DURATION.labels(method, route),
        )
        _SERIES[key] = series
    return series


async def _send_problem(
    send: Send, status: int, detail: str, scope: Scope, request_id: str
) -> None:
    body = json.dumps(problem(status, detail, instance=scope["path"], request_id=request_id))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body.encode())).encode()),
                (REQUEST_ID_HEADER.lower().encode(), request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body.encode()})
