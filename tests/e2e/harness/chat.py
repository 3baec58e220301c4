"""The chat phase: OpenAI-compatible chat completions through the real gateway
(docs/ml-gateway-contract.md, "Chat completions").

- the official `openai` Python SDK (a cached venv, run as a subprocess):
  a streamed completion, a whole one, models.list;
- a raw SSE client (a socket, HTTP/1.1 chunked decoding by hand) checks the
  headers, the framing byte for byte, the order of the chunks, `[DONE]`
  last, and that the events arrive as they are made (not all at the end);
- the edge checks on the chat routes: 422s, 401, 405s, and their problem bytes;
- a client that goes away: the generation stops (the ML service's, or the
  worker's, `ml_chat_streams_cancelled_total` + 1 and `ml_chat_tokens_total`
  still from ~100 ms after the close on);
- a client that does not read: the stream ends with the `slow_reader` event,
  no `[DONE]`, and the generation is cancelled.

What Go and Node.js must answer alike is recorded for `parity()` (the same
X-Request-ID and seed: the same events but `created`).

Standard library only, except the SDK, which runs in its own venv.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .httpc import credential, request
from .procs import free_port, must, run, wait_until
from .report import CheckFailed, expect

if TYPE_CHECKING:
    from .combo import Combo

# The SDK the harness drives the gateways with; one venv per version.
OPENAI_SDK = "openai==3.51.0"
# The events of one stream in the framing and incremental checks: 50 tokens
# 10 ms apart (ML_CHAT_TOKEN_DELAY_MS of the phase's ML processes).
TOKENS = 50
TOKEN_DELAY_MS = 10
# The slow-reader gateway's queue, and the generation that overflows it.
SLOW_BUFFER_EVENTS = 8
SLOW_MAX_TOKENS = 200_000
# A generation this long outgrows every buffer between the model and a
# client that does not read, and the queue behind them.
SLOW_PROBE_TOKENS = 5_000
# The slow reader's socket: a 4 KiB receive buffer and an MSS of 1400 (a
# real network's), set before connect. Over loopback (MSS 65483) the
# gateway's send buffer starts at megabytes (the kernel sizes it from ten
# segments): 2-3 MB, which a stream of ~500 events a second (~130 KB/s)
# took 20-40 s to fill, measured here. With these, ~100 KB fill both.
SLOW_RCVBUF = 4096
SLOW_MSS = 1400
# The most the slow reader waits, not reading, for the gateway to give up
# on it (the generation's cancel counted), and the slow-reader gateway's
# token gap timeout, which is the deadline of each write: far above that
# wait, so the write blocked meanwhile is still there when the client reads.
SLOW_WAIT_S = 60
SLOW_GAP_TIMEOUT_MS = 120_000

MESSAGES = [{"role": "user", "content": "What does a module hold?"}]
SLOW_READER_EVENT = (
    b'data: {"error":{"message":"the client read the stream too slowly",'
    b'"type":"server_error","code":"slow_reader"}}\n\n'
)


def chat_body(**extra) -> dict:
    return {"model": "ngram", "messages": MESSAGES, **extra}


# ------------------------------------------------------------ raw SSE client


@dataclass
class Stream:
    status: int
    headers: dict[str, str]  # lower-case names
    raw_headers: list[tuple[str, str]]
    body: bytes = b""  # the de-chunked body as received
    events: list[bytes] = field(default_factory=list)  # each "data: ...\n\n", as sent
    times: list[float] = field(default_factory=list)  # monotonic arrival of each event
    started: float = 0.0  # when the request was sent
    complete: bool = False  # the terminating chunk came

    def datas(self) -> list[bytes]:
        return [e[len(b"data: ") : -2] for e in self.events]


class SSEClient:
    """One POST over a raw socket; the answer is read chunk by chunk, so each
    event's arrival time is known and a caller can stop (or pause) at any point."""

    def __init__(
        self, base: str, timeout: float = 30.0, rcvbuf: int | None = None, mss: int | None = None
    ) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before connect, so the window and the segment size the peer sees
        # are these from the start.
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if mss is not None:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
        self.sock.settimeout(timeout)
        self.sock.connect((host, int(port)))
        self.base = base
        self.buf = b""

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise CheckFailed(f"connection closed mid-line: {self.buf[:200]!r}")
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def send(
        self, path: str, body: dict | bytes, headers: dict[str, str] | None = None, auth=True
    ) -> float:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = {"Host": "e2e", "Content-Type": "application/json", **(headers or {})}
        if auth and (cred := credential(self.base)) and "Authorization" not in hdrs:
            hdrs["Authorization"] = cred
        hdrs["Content-Length"] = str(len(data))
        head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        started = time.monotonic()
        self.sock.sendall(head.encode() + b"\r\n" + data)
        return started

    def head(self, started: float) -> Stream:
        status_line = self._line()
        parts = status_line.split(b" ", 2)
        expect(parts[0].startswith(b"HTTP/1."), f"status line {status_line!r}")
        raw = []
        while line := self._line():
            k, _, v = line.decode("latin-1").partition(":")
            raw.append((k.strip(), v.strip()))
        headers: dict[str, str] = {}
        for k, v in raw:
            headers[k.lower()] = f"{headers[k.lower()]}, {v}" if k.lower() in headers else v
        return Stream(int(parts[1]), headers, raw, started=started)

    def events(self, s: Stream, limit: int | None = None) -> Stream:
        """Reads the body, splitting events as they complete, until the end (or
        `limit` events). Chunked or not, whatever the server chose."""
        chunked = "chunked" in s.headers.get("transfer-encoding", "").lower()
        length = s.headers.get("content-length")
        pending = b""
        while limit is None or len(s.events) < limit:
            if chunked:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()  # the blank line after the last chunk
                    s.complete = True
                    break
                while len(self.buf) < size + 2:
                    if not self._fill():
                        raise CheckFailed("connection closed inside a chunk")
                data, self.buf = self.buf[:size], self.buf[size + 2 :]
            else:
                if not self.buf and not self._fill():
                    s.complete = length is None or len(s.body) == int(length)
                    break
                data, self.buf = self.buf, b""
            now = time.monotonic()
            s.body += data
            pending += data
            while b"\n\n" in pending:
                event, _, pending = pending.partition(b"\n\n")
                s.events.append(event + b"\n\n")
                s.times.append(now)
            if length is not None and len(s.body) >= int(length):
                s.complete = True
                break
        return s


def stream(base: str, body: dict, headers: dict[str, str] | None = None, **kw) -> Stream:
    c = SSEClient(base, **kw)
    try:
        started = c.send("/v1/chat/completions", body, headers)
        return c.events(c.head(started))
    finally:
        c.close()


# ------------------------------------------------------------ checks of one stream


def _compact(obj) -> set[bytes]:
    """The compact encodings of obj (with and without escaped non-ASCII)."""
    return {
        json.dumps(obj, separators=(",", ":"), ensure_ascii=a).encode() for a in (True, False)
    }


def check_framing(s: Stream, rid: str, max_tokens: int) -> list[dict]:
    """The headers and every byte of a stream that ended well; the chunks."""
    expect(s.status == 200, f"status {s.status}: {s.body[:300]!r}")
    h = s.headers
    expect(h.get("content-type", "").startswith("text/event-stream"), f"Content-Type {h}")
    expect(h.get("cache-control") == "no-cache", f"Cache-Control {h.get('cache-control')!r}")
    expect(h.get("x-accel-buffering") == "no", f"X-Accel-Buffering {h.get('x-accel-buffering')!r}")
    expect(h.get("x-request-id") == rid, f"X-Request-ID {h.get('x-request-id')!r}, sent {rid}")
    expect("content-length" not in h, f"a stream with Content-Length {h.get('content-length')}")
    expect(s.complete, "the response did not end cleanly (no last chunk)")
    expect(s.body == b"".join(s.events), f"bytes outside events: {s.body[-200:]!r}")
    expect(s.events and s.events[-1] == b"data: [DONE]\n\n", f"last event {s.events[-1:]!r}")
    chunks = []
    for n, raw in enumerate(s.datas()[:-1]):
        expect(raw.count(b"\n") == 0, f"event {n} spans lines: {raw[:200]!r}")
        try:
            obj = json.loads(raw)
        except ValueError as e:
            raise CheckFailed(f"event {n} is not JSON ({e}): {raw[:200]!r}") from None
        expect(raw in _compact(obj), f"event {n} is not compact JSON: {raw[:200]!r}")
        chunks.append(obj)
    expect(len(chunks) >= 2, f"{len(chunks)} chunks")
    ids = {c.get("id") for c in chunks}
    expect(ids == {f"chatcmpl-{rid}"}, f"ids {sorted(map(str, ids))[:3]}")
    for n, c in enumerate(chunks):
        expect(c.get("object") == "chat.completion.chunk", f"chunk {n} object {c.get('object')!r}")
        expect(isinstance(c.get("created"), int), f"chunk {n} created {c.get('created')!r}")
        ch = c.get("choices")
        expect(isinstance(ch, list) and len(ch) == 1 and ch[0].get("index") == 0, f"chunk {n} {c}")
    first, last = chunks[0]["choices"][0], chunks[-1]["choices"][0]
    expect(first["delta"].get("role") == "assistant", f"first delta {first['delta']}")
    expect(isinstance(first["delta"].get("content"), str), f"first delta {first['delta']}")
    expect(first.get("finish_reason") is None, f"first finish_reason {first.get('finish_reason')}")
    for n, c in enumerate(chunks[1:-1], 1):
        d = c["choices"][0]
        expect(set(d["delta"]) == {"content"}, f"chunk {n} delta {d['delta']}")
        expect(d.get("finish_reason") is None, f"chunk {n} finish_reason {d.get('finish_reason')}")
    expect(last["delta"] == {}, f"last delta {last['delta']}")
    expect(last.get("finish_reason") in ("stop", "length"), f"last {last}")
    tokens = len(chunks) - 1
    expect(tokens <= max_tokens, f"{tokens} tokens, asked for at most {max_tokens}")
    if last["finish_reason"] == "length":
        expect(tokens == max_tokens, f"finish_reason length after {tokens} of {max_tokens}")
    return chunks


def framing(combo: Combo, base: str) -> str:
    rid = f"chat-framing-{combo.name}"
    s = stream(
        base, chat_body(stream=True, max_completion_tokens=TOKENS, seed=7), {"X-Request-ID": rid}
    )
    chunks = check_framing(s, rid, TOKENS)
    return f"{len(chunks) - 1} tokens, {len(s.body)} bytes, [DONE] last"


def incremental(combo: Combo, base: str) -> str:
    """The events arrive as the model makes them: with 10 ms between tokens,
    the first comes well before the last (a gateway that buffered the whole
    answer would deliver them together)."""
    sampling = long_run(base, TOKENS)  # all 50 tokens: a text the model ends early tells less
    s = stream(base, chat_body(stream=True, max_completion_tokens=TOKENS, **sampling))
    chunks = check_framing(s, s.headers.get("x-request-id", ""), TOKENS)
    tokens = len(chunks) - 1
    expect(tokens == TOKENS, f"{tokens} tokens, {TOKENS} asked for with {sampling}")
    ttft = s.times[0] - s.started
    spread = s.times[-1] - s.times[0]
    floor = (tokens - 1) * TOKEN_DELAY_MS / 1000 * 0.6
    expect(
        spread >= floor,
        f"{tokens} tokens {TOKEN_DELAY_MS} ms apart arrived within {spread * 1000:.0f} ms "
        f"of each other (expected >= {floor * 1000:.0f}): buffered",
    )
    distinct = len({round(t, 3) for t in s.times})
    expect(distinct >= tokens // 2, f"events arrived in {distinct} bursts for {tokens} tokens")
    return f"first token {ttft * 1000:.0f} ms, last {(s.times[-1] - s.started) * 1000:.0f} ms"


def whole(combo: Combo, base: str) -> str:
    """stream false: one chat.completion, application/json."""
    rid = f"chat-whole-{combo.name}"
    r = request(
        "POST",
        base,
        "/v1/chat/completions",
        json.dumps(chat_body(max_completion_tokens=10, seed=3)),
        {"Content-Type": "application/json", "X-Request-ID": rid},
        timeout=30,
    )
    expect(r.status == 200, f"{r.short()}")
    expect((r.header("content-type") or "").startswith("application/json"), r.short())
    body = r.json()
    expect(body.get("object") == "chat.completion", r.short())
    expect(body.get("id") == f"chatcmpl-{rid}", f"id {body.get('id')!r}")
    choice = body["choices"][0]
    expect(choice["message"]["role"] == "assistant", r.short())
    expect(choice["finish_reason"] in ("stop", "length"), r.short())
    usage = body.get("usage", {})
    expect(
        usage.get("total_tokens") == usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        and 0 < usage.get("completion_tokens", 0) <= 10,
        f"usage {usage}",
    )
    return f"{usage['completion_tokens']} tokens"


def models(combo: Combo, base: str) -> str:
    r = request("GET", base, "/v1/models", timeout=10)
    expect(r.status == 200 and (r.header("content-type") or "").startswith("application/json"), r.short())
    body = r.json()
    expect(body.get("object") == "list", r.short())
    ids = [m.get("id") for m in body.get("data", [])]
    expect(ids == ["ngram"], f"models {ids}")
    m = body["data"][0]
    expect(m.get("object") == "model" and isinstance(m.get("created"), int), r.short())
    expect(m.get("owned_by") == combo.project, f"owned_by {m.get('owned_by')!r}")
    return "ngram"


# ------------------------------------------------------------ the edge checks

# (name, method, path, body or None, headers, expected status). The problem
# bytes are recorded (detail aside) and compared between the gateways.
def edge_cases() -> list[tuple[str, str, str, str | None, dict, int]]:
    ct = {"Content-Type": "application/json"}

    def b(**kw) -> str:
        return json.dumps({**chat_body(), **kw})

    bad = {
        "no-model": json.dumps({"messages": MESSAGES}),
        "empty-model": b(model=""),
        "model-not-string": b(model=7),
        "no-messages": json.dumps({"model": "ngram"}),
        "empty-messages": b(messages=[]),
        "message-not-object": b(messages=["hi"]),
        "bad-role": b(messages=[{"role": "robot", "content": "hi"}]),
        "content-number": b(messages=[{"role": "user", "content": 5}]),
        "content-empty-parts": b(messages=[{"role": "user", "content": []}]),
        "content-image-part": b(messages=[{"role": "user", "content": [{"type": "image_url"}]}]),
        "max-tokens-zero": b(max_completion_tokens=0),
        "max-tokens-fraction": b(max_tokens=1.5),
        "max-tokens-over-limit": b(max_completion_tokens=10**7),
        "temperature-above-2": b(temperature=2.5),
        "temperature-string": b(temperature="hot"),
        "seed-too-big": b(seed=2**63),
        "stream-string": b(stream="yes"),
        "top-level-array": json.dumps([chat_body()]),
    }
    cases = [(f"chat-422-{k}", "POST", "/v1/chat/completions", v, ct, 422) for k, v in bad.items()]
    cases += [
        ("chat-400-malformed", "POST", "/v1/chat/completions", '{"model":', ct, 400),
        ("chat-415-text", "POST", "/v1/chat/completions", b(), {"Content-Type": "text/plain"}, 415),
        ("chat-405-get", "GET", "/v1/chat/completions", None, {}, 405),
        ("models-405-post", "POST", "/v1/models", "{}", ct, 405),
        ("chat-404-slash", "POST", "/v1/chat/completions/", b(), ct, 404),
    ]
    return cases


def _problem_record(r) -> dict:
    rec = {"status": r.status, "content-type": r.header("content-type"), "allow": r.header("allow")}
    try:
        body = json.loads(r.body)
    except ValueError:
        return {**rec, "body": r.body.decode(errors="replace")}
    if isinstance(body, dict):
        rec["keys"] = list(body)
        rec["body"] = {k: v for k, v in body.items() if k != "detail"}
    return rec


def edges(combo: Combo, base: str, records: dict) -> str:
    errs = []
    cases = edge_cases()
    if combo.auth == "api-key":
        cases.append(
            ("chat-401-no-key", "POST", "/v1/chat/completions", json.dumps(chat_body()),
             {"Content-Type": "application/json"}, 401)  # fmt: skip
        )
    for name, method, path, body, headers, want in cases:
        rid = f"e2e-{name}"
        r = request(
            method, base, path, body, {**headers, "X-Request-ID": rid}, timeout=15,
            auth=not name.startswith("chat-401"),
        )  # fmt: skip
        rec = _problem_record(r)
        records[f"chat {name}"] = rec
        problem = rec.get("body") if isinstance(rec.get("body"), dict) else {}
        want_body = {"type": "about:blank", "status": want, "instance": path, "request_id": rid}
        got = {k: problem.get(k) for k in want_body}
        if r.status != want:
            errs.append(f"{name}: {r.short()}, expected {want}")
        elif rec["content-type"] != "application/problem+json":
            errs.append(f"{name}: Content-Type {rec['content-type']!r}")
        elif not isinstance(rec.get("body"), dict) or r.body not in _compact(json.loads(r.body)):
            errs.append(f"{name}: not compact JSON (JSON.stringify's bytes): {r.body[:300]!r}")
        elif got != want_body or rec.get("keys") != [
            "type", "title", "status", "detail", "instance", "request_id",
        ]:  # fmt: skip
            errs.append(f"{name}: problem {r.body[:300]!r}")
        elif want == 405 and rec["allow"] != ("POST" if path.endswith("completions") else "GET, HEAD"):
            errs.append(f"{name}: Allow {rec['allow']!r}")
        elif want == 401 and not (r.header("www-authenticate") or "").startswith("Bearer"):
            errs.append(f"{name}: WWW-Authenticate {r.header('www-authenticate')!r}")
    if errs:
        raise CheckFailed("\n".join(errs))
    return f"{len(cases)} cases"


# ------------------------------------------------------------ parity records


def record_stream(combo: Combo, base: str, records: dict) -> str:
    """One stream with a fixed request id and seed: Go and Node.js must send
    the same events, `created` and `system_fingerprint` aside (parity)."""
    rid = "e2e-chat-parity"
    body = chat_body(stream=True, max_completion_tokens=20, seed=42, temperature=0.8)
    s = stream(base, body, {"X-Request-ID": rid})
    check_framing(s, rid, 20)
    events = []
    for raw in s.datas():
        if raw == b"[DONE]":
            events.append("[DONE]")
            continue
        obj = json.loads(raw)
        # Each combination trains its own model: when it was trained, and a
        # hash that may cover that, are the ML service's, not the gateway's.
        obj.pop("created", None)
        obj.pop("system_fingerprint", None)
        events.append(obj)
    keep = ("content-type", "cache-control", "x-accel-buffering", "x-request-id")
    records["chat stream"] = {"headers": {k: s.headers.get(k) for k in keep}, "events": events}
    return f"{len(events)} events"


# ------------------------------------------------------------ metrics


def metric(base: str, name: str) -> float:
    """The sum of a metric's samples (every label set) on a /metrics page."""
    r = request("GET", base, "/metrics", timeout=5, auth=False)
    expect(r.status == 200, f"{base}/metrics: {r.short()}")
    total, seen = 0.0, False
    for m in re.finditer(rf"^{re.escape(name)}(?:\{{[^}}]*\}})? (\S+)$", r.body.decode(), re.M):
        total += float(m[1])
        seen = True
    expect(seen, f"no {name} on {base}/metrics")
    return total


def _stops(ml_metrics: str, closed_at: float, before: float) -> str:
    """After a stream was given up at closed_at: the cancel is counted, and no
    token is made from ~100 ms after it on."""
    wait_until(
        lambda: metric(ml_metrics, "ml_chat_streams_cancelled_total") >= before + 1,
        timeout=5,
        interval=0.02,
        what="ml_chat_streams_cancelled_total + 1",
    )
    counted = time.monotonic() - closed_at
    return f"cancel counted {counted * 1000:.0f} ms after the close, " + _still(ml_metrics, closed_at)


def _still(ml_metrics: str, since: float) -> str:
    """No token is made from ~100 ms after `since` on."""
    time.sleep(max(0.0, since + 0.1 - time.monotonic()))
    tokens = metric(ml_metrics, "ml_chat_tokens_total")
    time.sleep(0.5)
    later = metric(ml_metrics, "ml_chat_tokens_total")
    expect(later == tokens, f"ml_chat_tokens_total went on: {tokens} -> {later} after the cancel")
    return "tokens still from +100 ms"


def long_run(base: str, tokens: int) -> dict:
    """A seed and temperature whose completion runs to `tokens` (the model may
    end a text at any point: a stream that ends by itself proves no cancel).
    The same seed, messages and temperature give the same tokens (contract)."""
    for temperature in (1, 0):
        for seed in range(1, 9):
            sampling = {"seed": seed, "temperature": temperature}
            r = request(
                "POST",
                base,
                "/v1/chat/completions",
                json.dumps(chat_body(max_completion_tokens=tokens, **sampling)),
                {"Content-Type": "application/json"},
                timeout=60,
            )
            expect(r.status == 200, f"a completion of {tokens} tokens: {r.short()}")
            if r.json()["choices"][0]["finish_reason"] == "length":
                return sampling
    raise CheckFailed(f"no seed 1..8 (temperature 1 or 0) makes the model write {tokens} tokens")


def disconnect(combo: Combo, base: str, ml_metrics: str) -> str:
    """A client that reads a few events and hangs up cancels the generation."""
    sampling = long_run(base, 300)  # 3 s at 10 ms a token: it outlives the client
    before = metric(ml_metrics, "ml_chat_streams_cancelled_total")
    c = SSEClient(base)
    try:
        body = chat_body(stream=True, max_completion_tokens=300, **sampling)
        started = c.send("/v1/chat/completions", body)
        s = c.events(c.head(started), limit=3)
        expect(s.status == 200 and len(s.events) == 3, f"{s.status}: {s.events!r}")
    finally:
        c.close()
    return _stops(ml_metrics, time.monotonic(), before)


def slow_reader(combo: Combo, base: str, ml_metrics: str) -> str:
    """A client that stops reading after the head: the kernel's buffers fill,
    then the gateway's queue overflows and the generation is cancelled; once
    that is counted the client reads again, and the stream ends with exactly
    the slow_reader event (no [DONE]).

    The client reads nothing until the cancel is counted (no fixed pause that
    a loaded host may outlast: a client that reads meanwhile may keep up),
    and its socket keeps the kernel's buffers small (SLOW_MSS)."""
    sampling = long_run(base, SLOW_PROBE_TOKENS)
    before = metric(ml_metrics, "ml_chat_streams_cancelled_total")
    c = SSEClient(base, rcvbuf=SLOW_RCVBUF, mss=SLOW_MSS, timeout=SLOW_WAIT_S)
    try:
        body = chat_body(stream=True, max_completion_tokens=SLOW_MAX_TOKENS, **sampling)
        started = c.send("/v1/chat/completions", body)
        s = c.head(started)
        expect(s.status == 200, f"status {s.status}")
        wait_until(
            lambda: metric(ml_metrics, "ml_chat_streams_cancelled_total") >= before + 1,
            timeout=SLOW_WAIT_S,
            interval=0.05,
            what="the generation cancelled while the client does not read",
        )
        cancelled_at = time.monotonic()
        c.events(s)
    finally:
        c.close()
    expect(s.complete, "the stream did not end")
    expect(s.events and s.events[-1] == SLOW_READER_EVENT, f"last events {s.events[-2:]!r}")
    expect(b"data: [DONE]\n\n" not in s.events, "[DONE] after slow_reader")
    tokens = len(s.events) - 1
    expect(tokens < SLOW_MAX_TOKENS, f"{tokens} tokens: the whole generation came through")
    waited = cancelled_at - started
    return (
        f"{tokens} events then slow_reader; cancel counted {waited:.1f} s after the request, "
        "the client not reading; " + _still(ml_metrics, cancelled_at)
    )


# ------------------------------------------------------------ the SDK


_SDK_SCRIPT = r"""
import json, sys
from openai import OpenAI

base, key = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=30)
out = {}
stream = client.chat.completions.create(
    model="ngram", messages=[{"role": "user", "content": "What does a module hold?"}],
    max_completion_tokens=30, seed=5, stream=True,
)
text, finish, ids = "", None, set()
for chunk in stream:
    ids.add(chunk.id)
    if chunk.choices:
        text += chunk.choices[0].delta.content or ""
        finish = chunk.choices[0].finish_reason or finish
out["stream"] = {"text": text, "finish_reason": finish, "ids": sorted(ids)}
done = client.chat.completions.create(
    model="ngram", messages=[{"role": "user", "content": "What is a class?"}], max_tokens=10,
)
out["whole"] = {
    "text": done.choices[0].message.content, "finish_reason": done.choices[0].finish_reason,
    "completion_tokens": done.usage.completion_tokens,
}
out["models"] = [m.id for m in client.models.list()]
print(json.dumps(out))
"""


def sdk_python(cache: Path, env: dict[str, str], log: Path) -> Path:
    """The cached venv with the openai SDK (a stamp marks a complete one;
    run.py's pruning leaves `openai-*` alone)."""
    venv = cache / "venvs" / f"openai-{OPENAI_SDK.split('==')[1]}-bytecode"
    stamp = venv / ".braid-e2e-complete"
    if not stamp.exists():
        must(run(["uv", "venv", "-q", "--clear", str(venv)], cache, env, 300, log))
        must(run(["uv", "pip", "install", "-q", "--compile-bytecode", "--python",
                  str(venv / "bin" / "python"), OPENAI_SDK], cache, env, 600, log))  # fmt: skip
        stamp.touch()
    stamp.touch()
    return venv / "bin" / "python"


def sdk(combo: Combo, base: str) -> str:
    python = sdk_python(combo.ctx.cache, combo.ctx.base_env(), combo.cmdlog)
    key = (credential(base) or "Bearer unused").removeprefix("Bearer ")
    res = subprocess.run(
        [str(python), "-c", _SDK_SCRIPT, base, key],
        capture_output=True,
        text=True,
        timeout=120,
        env=combo.ctx.base_env(),
    )
    expect(res.returncode == 0, f"the openai SDK failed:\n{res.stderr[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    st, wh = out["stream"], out["whole"]
    expect(st["text"].strip() != "", f"streamed text empty: {st}")
    expect(st["finish_reason"] in ("stop", "length"), f"stream finish_reason {st}")
    expect(len(st["ids"]) == 1 and st["ids"][0].startswith("chatcmpl-"), f"ids {st['ids']}")
    expect(wh["text"].strip() != "" and wh["finish_reason"] in ("stop", "length"), f"whole {wh}")
    expect(0 < wh["completion_tokens"] <= 10, f"whole {wh}")
    expect(out["models"] == ["ngram"], f"models.list {out['models']}")
    return f"streamed {len(st['text'])} chars ({st['finish_reason']}), whole, models.list"


# ------------------------------------------------------------ the phase


def chat_ml_env() -> dict[str, str]:
    """What every ML process of the harness gets, so the checks' timing holds."""
    return {"ML_CHAT_TOKEN_DELAY_MS": str(TOKEN_DELAY_MS), "ML_CHAT_MAX_TOKENS": "4096"}


def _slow_stack(combo: Combo) -> tuple[str, str]:
    """A gateway with a small stream queue in front of an ML process (or
    worker) that generates a token each 2 ms: (gateway base, ML metrics base)."""
    # 2 ms apart: the events of a model with no pause come in bursts (a read
    # of the ML service's socket, a Kafka fetch) that would overflow the
    # 8-event queue before the relay took the first: 200 and the slow_reader
    # event alone, right for the gateway, but no case of a client that
    # stopped reading. Spaced, the relay takes them as they come.
    fast = {"ML_CHAT_TOKEN_DELAY_MS": "2", "ML_CHAT_MAX_TOKENS": str(SLOW_MAX_TOKENS)}
    extra = {
        "GATEWAY_STREAM_BUFFER_EVENTS": SLOW_BUFFER_EVENTS,
        "GATEWAY_TOKEN_GAP_TIMEOUT_MS": SLOW_GAP_TIMEOUT_MS,
    }
    if combo.worker_based:
        prefix = f"{combo.prefix}fast"
        proc = combo.start_worker("worker-fast", prefix=prefix, extra=fast)
        combo.wait_worker_ready(proc, prefix=prefix)
        gw = combo.start_gateway("slow-reader", prefix=prefix, extra=extra)
        return gw, combo.worker_metrics["worker-fast"]
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = combo.procs.start(
        "ml-fast",
        [str(combo.venv / "bin" / "python"), "-m", combo.pkg],
        combo.ml,
        combo.ml_env(ML_PORT=port, **fast),
    )
    wait_until(lambda: _ready(url), timeout=60, what="ML (fast) /readyz = 200", proc=proc)
    return combo.start_gateway("slow-reader", ml_url=url, extra=extra), url


def _ready(url: str) -> bool:
    try:
        return request("GET", url, "/readyz", timeout=2, auth=False).status == 200
    except Exception:
        return False


def run_all(combo: Combo, full: bool = True) -> None:
    """Every check; `full` False: the SDK and one stream's bytes only."""
    base = combo.gateways["main"][1]
    combo.check("chat: the openai SDK streams, completes and lists models", sdk, combo, base)
    combo.check("chat: SSE headers and framing byte for byte, [DONE] last", framing, combo, base)
    if not full:
        return
    ml_metrics = combo.worker_metrics["worker"] if combo.worker_based else combo.ml_url
    records = combo.ctx.records.setdefault(combo.name, {})
    combo.check("chat: events arrive as the tokens are made", incremental, combo, base)
    combo.check("chat: stream false is one chat.completion", whole, combo, base)
    combo.check("chat: GET /v1/models", models, combo, base)
    combo.check("chat: 4xx problems (422, 400, 415, 401, 405, 404)", edges, combo, base, records)
    combo.check("chat: a stream recorded for parity", record_stream, combo, base, records)
    combo.check(
        "chat: a client that hangs up cancels the generation", disconnect, combo, base, ml_metrics
    )
    box: dict[str, tuple[str, str]] = {}

    def slow_stack() -> None:
        box["stack"] = _slow_stack(combo)

    if combo.check("chat: a gateway with a small stream queue, a fast model", slow_stack):
        gw, metrics = box["stack"]
        combo.check("chat: a client that does not read gets slow_reader", slow_reader, combo, gw,
                    metrics)  # fmt: skip


def off(combo: Combo) -> str:
    """streaming = false: no chat routes (404 problems)."""
    base = combo.gateways["main"][1]
    for method, path, body in (
        ("POST", "/v1/chat/completions", json.dumps(chat_body())),
        ("GET", "/v1/models", None),
    ):
        r = request(method, base, path, body, {"Content-Type": "application/json"}, timeout=10)
        expect(r.status == 404, f"{method} {path}: {r.short()}")
        expect(r.header("content-type") == "application/problem+json", r.short())
    for name in ("README.md", ".env.example", "contracts/openapi.yaml"):
        text = (combo.repo / name).read_text()
        expect("chat/completions" not in text and "ML_CHAT_" not in text,
               f"{name} speaks of chat completions")  # fmt: skip
    return "404 on both routes; no chat in the root files"


def parity(rep, ctx) -> None:
    """Go and Node.js: the chat problems and the recorded stream, alike."""
    from .contract import diff

    for transport in ("http", "redis-streams", "rabbitmq", "kafka"):
        go = ctx.records.get(f"go-{transport}")
        if not go:
            continue
        for other in ("node", "node-express"):
            node = ctx.records.get(f"{other}-{transport}")
            if not node:
                continue
            for key in sorted(k for k in set(go) | set(node) if k.startswith("chat ")):
                name = f"parity {transport} {key}: go == {other}"
                a, b = go.get(key), node.get(key)
                if a is None or b is None:
                    rep.skip(name, "not run on both gateways")
                    continue
                rep.check(name, lambda a=a, b=b: expect(a == b, "\n".join(diff(a, b))))
