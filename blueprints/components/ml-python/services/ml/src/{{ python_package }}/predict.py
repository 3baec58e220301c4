"""`POST /v1/predict`: what answers a valid batch, and the fast path that answers it.

A prediction is cheap (its share of one batched model call), so FastAPI's work per
request (routing, the exception and exit-stack middleware, the dependency solver,
body validation through its field machinery) used to cost more of the ML service's
CPU than the prediction itself. `PredictFastPath` takes the requests whose body
FastAPI would pass to the endpoint as it is (declared JSON, parsed by `json.loads`
as FastAPI parses it, a valid `PredictRequest`) and calls the route's own endpoint
with it; what the endpoint raises goes to the app's own exception handlers. Every
other request goes to FastAPI unchanged, its body replayed. So a request gets the
same answer either way (tests/test_predict.py compares the two, request by request),
and the fast path steps aside for good when the route is no longer the one it
knows: another dependency, another parameter, a dependency override.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections import deque
from collections.abc import Iterable
from typing import cast, get_type_hints

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import inference
from . import model as ml_model
from .batcher import Batcher, DeadlineExceededError, Pending, QueueFullError, ShuttingDownError
from .problems import ProblemError, is_json, require_json
from .schemas import PredictRequest, Row, response_json
from .settings import Settings

log = logging.getLogger(__name__)

PREDICT_PATH = "/v1/predict"
# The caller's remaining budget, in integer milliseconds (the gateway sends it).
TIMEOUT_HEADER = "x-request-timeout-ms"
# The status logged and counted for a request whose client went away before its
# answer (nginx's "client closed request"); the client never sees it.
CLIENT_CLOSED = 499


def budget_ms(header: str | None, setting_ms: int) -> int:
    """A request's budget: X-Request-Timeout-Ms when it is an integer >= 1, capped at
    ML_REQUEST_TIMEOUT_MS; a malformed header is ignored."""
    if header is not None and header.isascii() and header.strip().isdigit():
        value = int(header)
        if value >= 1:
            return min(value, setting_ms)
    return setting_ms


async def _drop_when_gone(receive: Receive, pending: Pending) -> None:
    """Drops the queued request once its client disconnects. The body is read, so the
    server's next message is `http.disconnect`: a task per request that waits for it."""
    message = await receive()
    if message["type"] == "http.disconnect":
        pending.drop()


async def answer(
    app: FastAPI, instances: list[Row], timeout_header: str | None, receive: Receive
) -> Response:
    """The predictions of a batch already validated (`batch_error` found nothing).

    Raises `ProblemError`: 503 when the queue is full or the service is stopping,
    504 past the request's deadline, 422 when the model rejects the rows. A request
    whose client went away is answered 499, which nobody reads but the logs."""
    state = app.state
    model = cast(ml_model.Model, state.model)
    settings = cast(Settings, state.settings)
    budget = budget_ms(timeout_header, settings.ml_request_timeout_ms)
    batcher = cast(Batcher | None, state.batcher)
    try:
        if batcher is None:
            raise ShuttingDownError
        pending = batcher.submit(instances, budget / 1000)
    except QueueFullError:
        raise ProblemError(503, "too many predictions queued", {"Retry-After": "1"}) from None
    except ShuttingDownError:
        raise ProblemError(503, "the service is stopping", {"Retry-After": "1"}) from None
    watcher = asyncio.ensure_future(_drop_when_gone(receive, pending))
    try:
        predictions = await pending.future  # cancelling this task cancels it too
    except DeadlineExceededError:
        raise ProblemError(504, f"no prediction within the deadline of {budget} ms") from None
    except inference.RowsRejectedError as exc:
        raise ProblemError(422, str(exc)) from exc
    except ShuttingDownError:
        raise ProblemError(503, "the service is stopping", {"Retry-After": "1"}) from None
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this task is cancelled, not the request dropped
        return Response(status_code=CLIENT_CLOSED)
    finally:
        watcher.cancel()
    return Response(response_json(model, predictions), media_type="application/json")


def _replaying(messages: Iterable[Message], receive: Receive) -> Receive:
    """`receive`, giving `messages` (those already read) first."""
    queued = deque(messages)

    async def replay() -> Message:
        return queued.popleft() if queued else await receive()

    return replay


def fits(route: APIRoute) -> bool:
    """Whether the fast path can stand in for FastAPI on `route`: its endpoint takes
    the body (a `PredictRequest`) and the request, returns a Response, and depends on
    `require_json` alone. Anything else (a dependency you add, a header parameter)
    needs FastAPI's solver."""
    dependant = route.dependant
    others = (
        dependant.path_params,
        dependant.query_params,
        dependant.header_params,
        dependant.cookie_params,
        dependant.response_param_name,
        dependant.background_tasks_param_name,
        dependant.security_scopes_param_name,
        dependant.http_connection_param_name,
        dependant.websocket_param_name,
    )
    try:
        returns = get_type_hints(route.endpoint).get("return")
    except (NameError, TypeError):
        return False
    return (
        not any(others)
        and [d.call for d in dependant.dependencies] == [require_json]
        and [f.field_info.annotation for f in dependant.body_params] == [PredictRequest]
        and dependant.request_param_name is not None
        and isinstance(returns, type)
        and issubclass(returns, Response)
    )


class PredictFastPath:
    """ASGI middleware: `POST /v1/predict` with a body FastAPI would validate as it
    is, handed to the route's endpoint without FastAPI's per-request machinery;
    every other request to FastAPI (see the module docstring).

    It sits inside `RequestContextMiddleware`, which gives the request its id and
    counts, times and logs it as it does any other."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._route: APIRoute | None = None
        self._looked_up = False

    def route(self) -> APIRoute | None:
        """The route of `POST /v1/predict` when the fast path fits it, else None."""
        if not self._looked_up:
            self._looked_up = True
            self._route = next(
                (r for r in self.api.routes if isinstance(r, APIRoute) and r.path == PREDICT_PATH),
                None,
            )
            if self._route is None or not fits(self._route):
                self._route = None
                log.warning("POST %s is not the route the fast path knows: it is off", PREDICT_PATH)
        return self._route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PREDICT_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        route = self.route()
        content_type = next((v for n, v in scope["headers"] if n == b"content-type"), None)
        if (
            route is None
            or self.api.dependency_overrides
            or content_type is None
            or not is_json(content_type.decode("latin-1"))
        ):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        body = _valid_body(messages)
        if body is None:
            await self.app(scope, _replaying(messages, receive), send)
            return
        scope["route"] = route
        request = Request(scope, receive)
        dependant = route.dependant
        arguments = {
            dependant.body_params[0].name: body,
            cast(str, dependant.request_param_name): request,  # fits() checked it is set
        }
        try:
            response = await route.endpoint(**arguments)
        except Exception as exc:
            response = await self._handled(request, exc)
        await response(scope, receive, send)

    async def _handled(self, request: Request, exc: Exception) -> Response:
        """What the app's exception handler for `exc` answers, as FastAPI would call
        it; an exception it has no handler for is raised on (a 500, one level up)."""
        for cls in type(exc).__mro__:
            handler = self.api.exception_handlers.get(cls)
            if handler is not None:
                result = handler(request, exc)
                return await result if inspect.isawaitable(result) else result
        raise exc


def _valid_body(messages: list[Message]) -> PredictRequest | None:
    """The body as the endpoint would get it, or None when FastAPI is to answer."""
    if messages[-1]["type"] != "http.request":
        return None  # the client went away mid-body
    raw = b"".join(m.get("body", b"") for m in messages)
    if not raw:
        return None
    try:
        return PredictRequest.model_validate(json.loads(raw))
    except Exception:  # any failure is FastAPI's to find and to answer, as it would
        return None
