"""RFC 9457 problem details, the body of every error this service answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import Request
from pydantic import BaseModel

PROBLEM_JSON = "application/problem+json"

# The titles the contract fixes; other statuses use the standard reason phrase.
_TITLES = {
    413: "Content Too Large",
    422: "Unprocessable Content",
}


def title_of(status: int) -> str:
    return _TITLES.get(status) or HTTPStatus(status).phrase


class Problem(BaseModel):
    """An RFC 9457 problem, served as application/problem+json."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str
    request_id: str


def problem(status: int, detail: str, *, instance: str, request_id: str) -> dict[str, Any]:
    """`{"type", "title", "status", "detail", "instance", "request_id"}`, in that order."""
    return Problem(
        title=title_of(status),
        status=status,
        detail=detail,
        instance=instance,
        request_id=request_id,
    ).model_dump()


def documented(responses: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error responses: `{status: description}` -> problem+json."""
    schema = Problem.model_json_schema()
    return {
        status: {"description": description, "content": {PROBLEM_JSON: {"schema": schema}}}
        for status, description in responses.items()
    }


class ProblemError(Exception):
    """Raised by a route to answer with a problem body."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def describe_errors(errors: Iterable[Mapping[str, Any]], limit: int = 5) -> str:
    """Pydantic validation errors as one line: `instances[0][1]: Input should be ...`."""

    def where(loc: Iterable[Any]) -> str:
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        return path.removeprefix(".body").removeprefix(".") or "body"

    errors = list(errors)
    shown = "; ".join(f"{where(e['loc'])}: {e['msg']}" for e in errors[:limit])
    return shown + (f" (and {len(errors) - limit} more)" if len(errors) > limit else "")


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header declares JSON: application/json, any parameters."""
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


async def require_json(request: Request) -> None:
    """A route's dependency: 415 unless the body is declared as JSON (checked before
    the body is validated). `async def`: a sync one would cost a thread hop."""
    if not is_json(request.headers.get("content-type", "")):
        raise ProblemError(415, "the body must be JSON, sent with Content-Type: application/json")
