"""OpenAI-compatible chat completions around the text model (`textgen.py`).

The request's rules, the `chat.completion` and `chat.completion.chunk` bodies, the
models list and the `ml_chat_*` metrics, shared by the HTTP API and the worker so
that both transports answer byte for byte alike (see the repository's contract,
"Chat completions"). Pacing the tokens and noticing a client that went away are
the callers' part: this module never sleeps and never does I/O.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .settings import SettingsError
from .textgen import TextModel, save_text_model, train_text_model

log = logging.getLogger(__name__)

MODEL_ERROR_EVENT = (
    '{"error":{"message":"the model failed while generating",'
    '"type":"server_error","code":"model_error"}}'
)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class ChatSettings:
    """The chat settings of the service and the worker (ML_CHAT_* variables)."""

    model_path: Path
    max_tokens: int
    token_delay_ms: int


def load_chat_settings(env: Mapping[str, str]) -> ChatSettings:
    """Reads ML_CHAT_* from `env`; raises `SettingsError` with one line per bad variable."""
    errors: list[str] = []

    def integer(variable: str, default: int, low: int, high: int) -> int:
        got = env.get(variable)
        if got is None:
            return default
        try:
            number = int(got.strip(), 10)
        except ValueError:
            errors.append(f"{variable}: should be an integer (got {got!r})")
            return default
        if not low <= number <= high:
            errors.append(f"{variable}: should be between {low} and {high} (got {got!r})")
        return number

    settings = ChatSettings(
        model_path=Path(env.get("ML_CHAT_MODEL_PATH") or "models/textgen.joblib"),
        max_tokens=integer("ML_CHAT_MAX_TOKENS", 256, 1, 1_000_000),
        token_delay_ms=integer("ML_CHAT_TOKEN_DELAY_MS", 10, 0, 60_000),
    )
    if errors:
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(errors))
    return settings


def train(env: Mapping[str, str]) -> TextModel:
    """Trains the text model and writes it to ML_CHAT_MODEL_PATH (`make train`)."""
    settings = load_chat_settings(env)
    model = train_text_model()
    save_text_model(model, settings.model_path)
    log.info(
        "text model trained",
        extra={"path": str(settings.model_path), "model_version": model.version},
    )
    return model


# The request, as the contract's table has it. Strict types: `"5"`, `5.0`, `1e3` and
# `true` are no token counts, `"1"` no temperature (any JSON number is one).
StrictCount = Annotated[int | None, Field(strict=True, ge=1)]


def _false_if_null(value: object) -> object:
    return False if value is None else value


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["text"]
    text: Annotated[str, Field(strict=True)]


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[str, Field(strict=True)] | Annotated[list[TextPart], Field(min_length=1)]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatRequest(BaseModel):
    """A `POST /v1/chat/completions` body; fields it does not know are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: Annotated[str, Field(strict=True, min_length=1)]
    messages: Annotated[list[Message], Field(min_length=1)]
    max_completion_tokens: StrictCount = None
    max_tokens: StrictCount = None
    temperature: Annotated[float | None, Field(strict=True, ge=0, le=2, allow_inf_nan=False)] = None
    seed: Annotated[int | None, Field(strict=True, ge=INT64_MIN, le=INT64_MAX)] = None
    stream: Annotated[bool, BeforeValidator(_false_if_null), Field(strict=True)] = False

    def token_budget(self, settings: ChatSettings) -> int:
        """`max_completion_tokens`, else `max_tokens`, else ML_CHAT_MAX_TOKENS."""
        return self.max_completion_tokens or self.max_tokens or settings.max_tokens

    def prompt(self) -> str:
        """The text the model continues: every message's text, one per line."""
        return "\n".join(message.text() for message in self.messages)


class TooManyTokensError(ValueError):
    """The request asks for more tokens than ML_CHAT_MAX_TOKENS: a 422."""


def parse_chat_request(payload: str | bytes, settings: ChatSettings) -> ChatRequest:
    """Validates a JSON body; raises `pydantic.ValidationError` (invalid JSON or shape)
    or `TooManyTokensError`."""
    request = ChatRequest.model_validate_json(payload)
    if request.token_budget(settings) > settings.max_tokens:
        field = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
        raise TooManyTokensError(
            f"{field}: at most {settings.max_tokens} tokens may be asked for "
            f"(ML_CHAT_MAX_TOKENS), got {request.token_budget(settings)}"
        )
    return request


def completion_id(request_id: str) -> str:
    return f"chatcmpl-{request_id}"


def _compact(body: Mapping[str, Any]) -> str:
    """The wire form: no spaces, non-ASCII text as is (JSON is UTF-8)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class Completion:
    """One generation, read either as chunks (`stream` true) or as one response.

    Either method runs the model; call one of them, once."""

    def __init__(
        self,
        model: TextModel,
        request: ChatRequest,
        *,
        completion_id: str,
        created: int,
        settings: ChatSettings,
    ) -> None:
        self._model = model
        self._request = request
        self.completion_tokens = 0  # so far: the stream's meter reads it when the stream ends
        self._max_tokens = request.token_budget(settings)
        self._head = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model.name,
            "system_fingerprint": model.version,
        }

    def _tokens(self) -> Iterator[str]:
        temperature = self._request.temperature
        return self._model.generate(
            self._request.prompt(),
            max_tokens=self._max_tokens,
            temperature=1.0 if temperature is None else temperature,
            seed=self._request.seed,
        )

    def _finish_reason(self, n_tokens: int) -> str:
        return "length" if n_tokens >= self._max_tokens else "stop"

    def _chunk(self, delta: Mapping[str, str], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return _compact({**self._head, "choices": [choice]})

    def chunks(self) -> Iterator[str]:
        """The chunks' JSON texts: the role with the first token, one token each, then
        an empty delta with the finish reason. Nothing comes before the first token."""
        for token in self._tokens():
            first = not self.completion_tokens
            self.completion_tokens += 1
            yield self._chunk(
                {"role": "assistant", "content": token} if first else {"content": token}
            )
        if not self.completion_tokens:  # the model ended the text at once: the role first
            yield self._chunk({"role": "assistant", "content": ""})
        yield self._chunk({}, self._finish_reason(self.completion_tokens))

    def response(self) -> str:
        """The whole `chat.completion` JSON, `usage` included."""
        tokens = list(self._tokens())
        self.completion_tokens = len(tokens)
        prompt_tokens = self._model.count_tokens(self._request.prompt())
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": "".join(tokens)},
            "logprobs": None,
            "finish_reason": self._finish_reason(len(tokens)),
        }
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_tokens + len(tokens),
        }
        head = {**self._head, "object": "chat.completion"}
        return _compact({**head, "choices": [choice], "usage": usage})


def models_body(model: TextModel, owned_by: str) -> str:
    """The `GET /v1/models` body: the one model served."""
    entry = {"id": model.name, "object": "model", "created": model.created, "owned_by": owned_by}
    return _compact({"object": "list", "data": [entry]})


class ChatMetrics:
    """The `ml_chat_*` metrics, on the registry of the process that serves them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.streams_in_flight = Gauge(
            "ml_chat_streams_in_flight",
            "Streaming generations running.",
            registry=registry,
            multiprocess_mode="livesum",  # the sum over the live workers (ML_WORKERS)
        )
        self.time_to_first_token = Histogram(
            "ml_chat_time_to_first_token_seconds",
            "Time from a streaming request to its first token.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )
        self.tokens_per_second = Histogram(
            "ml_chat_tokens_per_second",
            "Tokens per second of each stream of two tokens or more, pacing included.",
            buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000),
            registry=registry,
        )
        self.tokens = Counter(
            "ml_chat_tokens", "Completion tokens generated, streamed or not.", registry=registry
        )
        self.streams_cancelled = Counter(
            "ml_chat_streams_cancelled",
            "Streams stopped before their end because the client went away.",
            registry=registry,
        )

    def stream(self, completion: Completion, started: float | None = None) -> StreamMeter:
        """A meter for one stream begun at `started` (`time.monotonic()`, default now)."""
        return StreamMeter(self, completion, time.monotonic() if started is None else started)


class StreamMeter:
    """Counts one stream: `with metrics.stream(completion) as meter:`, then
    `meter.sent()` after each chunk sent and `meter.cancel()` when the client went
    away; its tokens are counted when the block ends."""

    def __init__(self, metrics: ChatMetrics, completion: Completion, started: float) -> None:
        self._metrics = metrics
        self._completion = completion
        self._started = started
        self._first: float | None = None
        self._last = started
        self._sent = 0

    def __enter__(self) -> StreamMeter:
        self._metrics.streams_in_flight.inc()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._metrics.streams_in_flight.dec()
        self._metrics.tokens.inc(self._completion.completion_tokens)
        # As the gateways measure it: (events - 1) / (last event - first event).
        if self._first is not None and self._sent >= 2 and self._last > self._first:
            self._metrics.tokens_per_second.observe((self._sent - 1) / (self._last - self._first))

    def sent(self) -> None:
        now = time.monotonic()
        if self._first is None:
            self._first = now
            self._metrics.time_to_first_token.observe(now - self._started)
        self._last = now
        self._sent += 1

    def cancel(self) -> None:
        self._metrics.streams_cancelled.inc()
