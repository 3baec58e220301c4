"""Rate limiting against the running stack (docs/ml-gateway-contract.md,
"Rate limiting"), from the contract phase of every combination generated
with `rate_limit` > 0.

The gateways here keep their budgets in a Redis of their own (started for
these checks, with a password), so that stopping it disturbs nothing else;
over Redis Streams that Redis carries their requests too, to a worker of
their own. They run with GATEWAY_RATE_LIMIT=60 and GATEWAY_RATE_BURST=5
(every other gateway of the combination has a limit too high to reach):

- a burst of limit + burst + 1 requests: the first `burst` are 200 with
  `RateLimit`, then 429 problems (quota-exceeded) with `Retry-After`,
  `RateLimit` and `RateLimit-Policy`; never more allowed than the burst
  plus what refilled meanwhile; after Retry-After the next one is a 200;
  the probes are never limited;
- two gateways on one Redis spend one budget;
- the limiter's Redis SIGSTOPped: GATEWAY_RATE_LIMIT_FAIL=open lets requests
  through (over HTTP a 200 without `RateLimit`; over Redis Streams, where the
  same Redis carries the request, the transport's own 502/504), `closed`
  answers 503 at once; both count the failures and log one warning; once
  Redis is back (SIGCONT) the next request is counted again.

What must be equal between the Go and the Node.js gateways is recorded for
`combo.parity` under names starting with "ratelimit ".
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

from . import contract, go_gateway
from .httpc import Resp, get
from .procs import free_port, wait_until
from .redisc import start_redis
from .report import expect

LIMIT = 60  # GATEWAY_RATE_LIMIT of the gateways started here: one a second
BURST = 5  # GATEWAY_RATE_BURST
POLICY = f'"default";q={LIMIT};w=60'
QUOTA_EXCEEDED = "https://iana.org/assignments/http-problem-types#quota-exceeded"
DETAIL_429 = (
    f"the rate limit of {LIMIT} requests per minute is used up; "
    "retry after the delay in Retry-After"
)
DETAIL_503 = "the rate limiter is unavailable; retry later"
WARNING = "the rate limiter cannot reach Redis; failing "
ALLOWED_RE = re.compile(r'^"default";r=(\d+);t=(\d+)$')
REFUSED_RE = re.compile(r'^"default";r=0;t=(\d+)$')
STREAM_TIMEOUT_MS = 1500  # over streams, a stopped Redis makes a request wait this long

PREDICT = contract.Case(
    "ratelimit",
    "POST",
    "/v1/predict",
    contract.body_of({"instances": [contract.SETOSA]}),
    rid=None,
)


def settings(**extra) -> dict[str, object]:
    return {"GATEWAY_RATE_LIMIT": LIMIT, "GATEWAY_RATE_BURST": BURST, **extra}


def predict(base: str) -> Resp:
    """One prediction, recorded for the root-docs check (every status the
    gateways gave is in contracts/openapi.yaml)."""
    return contract.send(PREDICT, base, timeout=15)


def normalize(resp: Resp) -> dict:
    """What must be equal between the Go and the Node.js gateway: the
    status, the header names and forms, the problem's bytes (its request id
    aside)."""
    out = {
        "status": resp.status,
        "content-type": resp.header("content-type"),
        "retry-after": "digits" if re.fullmatch(r"\d+", resp.header("retry-after") or "") else None,
        "ratelimit-policy": resp.header("ratelimit-policy"),
        "ratelimit": re.sub(r"\d+", "N", resp.header("ratelimit") or "") or None,
    }
    if resp.status != 200:
        try:
            body = resp.json()
        except ValueError:
            body = {"<not json>": resp.body[:200].decode(errors="replace")}
        if isinstance(body, dict) and "request_id" in body:
            same = body["request_id"] == resp.header("x-request-id")
            body["request_id"] = "same-as-header" if same else f"differs:{body['request_id']}"
        out["body"] = body
    return out


class Stack:
    """The Redis (and, over streams, the worker) the gateways here use."""

    def __init__(self, combo) -> None:
        self.combo = combo
        self.proc, self.redis = start_redis(combo.procs, free_port(), combo.root / "rl-redis")
        self.prefix = f"{combo.prefix}rl"
        if combo.worker_based:
            self.start_worker()

    def start_worker(self) -> None:
        c = self.combo
        env = c.ml_env(
            ML_WORKER_METRICS_PORT=free_port(),
            ML_WORKER_HEARTBEAT_FILE=c.logs / "rl-worker.heartbeat",
        )
        env.update(c.transport_env(self.prefix, self.redis.url if c.streams else None))
        proc = c.procs.start(
            "rl-worker", [str(c.venv / "bin" / "python"), "-m", f"{c.pkg}.worker"], c.ml, env
        )
        if c.bus_kind:  # the run's broker carries the requests, this Redis the budgets
            c.wait_worker_ready(proc, prefix=self.prefix)
            return

        def joined() -> bool:
            groups = self.redis("XINFO", "GROUPS", f"{self.prefix}:requests")
            return any(isinstance(g, dict) and g.get("consumers", 0) >= 1 for g in groups or [])

        wait_until(joined, timeout=60, interval=0.2, what="the rate-limit worker", proc=proc)

    def gateway(self, role: str, **extra) -> str:
        c = self.combo
        timeout = STREAM_TIMEOUT_MS if c.streams else c.timeout_ms
        return c.start_gateway(
            role,
            timeout_ms=timeout,
            ml_url=c.ml_url,
            redis_url=self.redis.url,
            prefix=self.prefix,
            extra={"REDIS_URL": self.redis.url, **settings(**extra)},
        )


def burst_remaining_problem(lefts: list[int], answered: list[float]) -> str | None:
    """What is wrong with the r= of a burst's allowed answers, or None.

    GCRA's remaining after the i-th request of a burst is BURST - 1 - i plus
    one per whole second (a refill at 60/min) since the first request, as
    Redis's clock counts it: at most `answered[i]` (the seconds from the first
    request's send to the i-th answer). On a slow machine a burst's requests
    may take more than a second.
    """
    spans = []
    for i, left in enumerate(lefts):
        lo = BURST - 1 - i
        hi = min(BURST - 1, lo + int(answered[i] * LIMIT / 60))
        spans.append(str(lo) if lo == hi else f"{lo}..{hi}")
        if not lo <= left <= hi:
            at = ", ".join(f"{a:.2f}" for a in answered[: len(lefts)])
            return f"r= of the burst: {lefts}, want {spans} (answered at {at} s)"
    return None


def burst(combo, stack: Stack, records: dict) -> str:
    """limit + burst + 1 requests at once, then one after Retry-After."""
    base = stack.gateway("rl-a")
    stack.redis("FLUSHALL")
    t0 = time.monotonic()
    answers, answered = [], []  # answered: seconds from the first request's send
    for _ in range(LIMIT + BURST + 1):
        answers.append(predict(base))
        answered.append(time.monotonic() - t0)
    elapsed = answered[-1]
    statuses = [r.status for r in answers]
    allowed = [r for r in answers if r.status == 200]
    refused = [r for r in answers if r.status == 429]
    expect(
        len(allowed) + len(refused) == len(answers),
        f"statuses other than 200 and 429: {sorted(set(statuses))}",
    )
    expect(
        statuses[:BURST] == [200] * BURST, f"the first {BURST} are not all 200: {statuses[:BURST]}"
    )
    most = BURST + int(elapsed * LIMIT / 60) + 1
    expect(refused, f"no 429 in {len(answers)} requests over {elapsed:.1f}s")
    expect(
        len(allowed) <= most,
        f"{len(allowed)} allowed in {elapsed:.1f}s: more than the burst and the refill ({most})",
    )
    for r in allowed:
        m = ALLOWED_RE.match(r.header("ratelimit") or "")
        expect(m is not None, f"200 with RateLimit {r.header('ratelimit')!r}")
        expect(
            r.header("ratelimit-policy") == POLICY,
            f"RateLimit-Policy {r.header('ratelimit-policy')!r}",
        )
    lefts = [int(ALLOWED_RE.match(r.header("ratelimit")).group(1)) for r in answers[:BURST]]
    problem = burst_remaining_problem(lefts, answered[:BURST])
    expect(problem is None, problem or "")
    first = refused[0]
    retry = first.header("retry-after") or ""
    expect(re.fullmatch(r"[1-9]\d*", retry) is not None, f"Retry-After {retry!r}")
    m = REFUSED_RE.match(first.header("ratelimit") or "")
    expect(
        m is not None and m.group(1) == retry,
        f"429 with RateLimit {first.header('ratelimit')!r}, Retry-After {retry!r}",
    )
    expect(
        first.header("ratelimit-policy") == POLICY,
        f"429 RateLimit-Policy {first.header('ratelimit-policy')!r}",
    )
    expect(first.header("content-type") == contract.PROBLEM, f"429 {first.short()}")
    want = {
        "type": QUOTA_EXCEEDED,
        "title": "Too Many Requests",
        "status": 429,
        "detail": DETAIL_429,
        "instance": "/v1/predict",
        "request_id": first.header("x-request-id"),
    }
    expect(
        first.body == json.dumps(want, separators=(",", ":")).encode(), f"429 body {first.body!r}"
    )
    records["ratelimit 200"] = normalize(allowed[0])
    records["ratelimit 429"] = normalize(first)

    for path in ("/healthz", "/readyz"):  # never limited, budget spent or not
        r = get(base, path)
        expect(r.status == 200 and r.header("ratelimit") is None, f"GET {path}: {r.short()}")

    time.sleep(int(retry) + 0.1)
    after = predict(base)
    expect(after.status == 200, f"after Retry-After ({retry} s): {after.short()}")

    metrics = get(combo.metrics_bases["rl-a"], "/metrics").body.decode()
    m = re.search(r"^gateway_rate_limited_total (\S+)$", metrics, re.M)
    expect(
        m is not None and float(m.group(1)) == len(refused),
        f"gateway_rate_limited_total: {m and m.group(0)}, {len(refused)} refused",
    )
    return f"{len(allowed)} allowed, {len(refused)} refused in {elapsed:.1f}s; Retry-After {retry}"


def shared(combo, stack: Stack, records: dict) -> str:
    """Two gateways on one Redis, requests alternating: one budget."""
    bases = [combo.gateways["rl-a"][1], stack.gateway("rl-b")]
    stack.redis("FLUSHALL")
    t0 = time.monotonic()
    allowed = [0, 0]
    for i in range(3 * (BURST + 1)):
        if predict(bases[i % 2]).status == 200:
            allowed[i % 2] += 1
    elapsed = time.monotonic() - t0
    most = BURST + int(elapsed * LIMIT / 60) + 1
    expect(all(allowed), f"each gateway should allow some: {allowed}")
    expect(
        BURST <= sum(allowed) <= most, f"{allowed} allowed in {elapsed:.1f}s, want {BURST}..{most}"
    )
    return f"{allowed[0]} + {allowed[1]} allowed in {elapsed:.1f}s (burst {BURST})"


def fail_modes(combo, stack: Stack, records: dict) -> str:
    """The limiter's Redis SIGSTOPped: open lets through, closed answers 503."""
    open_base = stack.gateway("rl-open")
    closed_base = stack.gateway("rl-closed", GATEWAY_RATE_LIMIT_FAIL="closed")
    stack.redis("FLUSHALL")
    for base in (open_base, closed_base):  # connected, and counting
        r = predict(base)
        expect(r.status == 200 and r.header("ratelimit"), f"before the stop: {r.short()}")
    os.kill(stack.proc.pid, signal.SIGSTOP)
    try:
        opened = [predict(open_base) for _ in range(3)]
        closed = [predict(closed_base) for _ in range(3)]
    finally:
        os.kill(stack.proc.pid, signal.SIGCONT)
    for r in opened:
        if combo.streams:  # the same Redis carries the request: the transport's answer
            expect(r.status in (502, 504), f"fail open over streams, Redis stopped: {r.short()}")
        else:
            expect(r.status == 200, f"fail open, Redis stopped: {r.short()}")
        expect(r.header("ratelimit") is None, f"fail open with a RateLimit header: {r.short()}")
    for r in closed:
        expect(r.status == 503 and r.header("retry-after") == "1", f"fail closed: {r.short()}")
        body = r.json()
        expect(
            body.get("detail") == DETAIL_503 and body.get("type") == "about:blank",
            f"fail closed: {r.short()}",
        )
        expect(r.secs < 1.0, f"fail closed took {r.secs:.2f}s")
    records["ratelimit fail closed"] = normalize(closed[0])
    records["ratelimit fail open"] = {
        "status": opened[0].status,
        "ratelimit": opened[0].header("ratelimit"),
    }
    for role, mode in (("rl-open", "open"), ("rl-closed", "closed")):
        proc = combo.gateways[role][0]
        text = proc.log.read_text(errors="replace")
        warnings = text.count(WARNING + mode)
        expect(
            warnings == 1,
            f"{role}: {warnings} warnings for 3 failures, want 1 (at most one per 10 s)",
        )
        metrics = get(combo.metrics_bases[role], "/metrics").body.decode()
        m = re.search(
            rf'^gateway_rate_limiter_failures_total\{{mode="{mode}"\}} (\S+)$', metrics, re.M
        )
        expect(
            m is not None and float(m.group(1)) >= 3, f"{role}: failures counter {m and m.group(0)}"
        )
    # Back: after the pause (1 s) the limiter asks Redis again.
    time.sleep(1.2)
    back = None

    def recovered() -> bool:
        nonlocal back
        back = predict(closed_base)
        return back.status == 200 and back.header("ratelimit") is not None

    wait_until(recovered, timeout=15, interval=0.5, what="the closed gateway to count again")
    return f"open: {[r.status for r in opened]}, closed: {[r.status for r in closed]}; recovered"


def bad_setting(combo) -> str:
    """A bad GATEWAY_RATE_LIMIT_FAIL stops the gateway, naming it."""
    env = go_gateway._env(combo, free_port(), {"GATEWAY_RATE_LIMIT_FAIL": "sometimes"})
    res = combo.run(go_gateway._cmd(combo), combo.gw, env, timeout=30)
    expect(res.rc not in (0, None), f"GATEWAY_RATE_LIMIT_FAIL=sometimes: started (rc {res.rc})")
    expect("GATEWAY_RATE_LIMIT_FAIL" in res.output, f"not named:\n{res.output[-800:]}")
    return f"exit {res.rc}"


def per_ip(combo, stack: Stack, records: dict) -> str:
    """auth = none: the budget is the client address's. X-Forwarded-For
    names the client only when the peer is a trusted proxy (the harness
    connects from 127.0.0.1); otherwise it is ignored."""
    trusted = stack.gateway("rl-proxied", GATEWAY_TRUSTED_PROXIES="127.0.0.1/32")
    direct = stack.gateway("rl-direct")

    def spend(base: str, client: str) -> list[int]:
        hdrs = {"X-Forwarded-For": f"198.51.100.99, {client}"}
        return [
            contract.send(
                contract.Case(
                    "ratelimit-ip",
                    "POST",
                    "/v1/predict",
                    contract.body_of({"instances": [contract.SETOSA]}),
                    rid=None,
                    headers=hdrs,
                ),
                base,
            ).status
            for _ in range(BURST + 2)
        ]

    stack.redis("FLUSHALL")
    a = spend(trusted, "203.0.113.7")
    b = spend(trusted, "203.0.113.8")
    expect(a[:BURST] == [200] * BURST and 429 in a, f"client 203.0.113.7 via the proxy: {a}")
    expect(b[:BURST] == [200] * BURST, f"client 203.0.113.8 has a budget of its own: {b}")
    stack.redis("FLUSHALL")
    c = spend(direct, "203.0.113.7")
    d = spend(direct, "203.0.113.8")
    expect(c[:BURST] == [200] * BURST and 429 in c, f"direct, first header: {c}")
    expect(d[0] == 429, f"an untrusted peer's X-Forwarded-For changed its budget: {d}")
    return f"through a trusted proxy: {a.count(200)} + {b.count(200)}; direct: one budget"


def run_all(combo) -> None:
    if not combo.rate_limit:
        return
    records = combo.ctx.records.setdefault(combo.name, {})
    box: dict[str, Stack] = {}

    def stack() -> str:
        box["stack"] = Stack(combo)
        return f"redis on port {box['stack'].redis.port}" + (
            ", a worker" if combo.worker_based else ""
        )

    if not combo.check("rate limit: a Redis of its own for the limited gateways", stack):
        return
    s = box["stack"]
    if combo.check(
        f"rate limit {LIMIT}/min, burst {BURST}: 429 + Retry-After + RateLimit past the burst, "
        "then 200 after Retry-After",
        burst,
        combo,
        s,
        records,
    ):
        combo.check(
            "rate limit: two gateways on one Redis share one budget", shared, combo, s, records
        )
    if combo.auth == "none":
        combo.check(
            "rate limit per client address; X-Forwarded-For only from GATEWAY_TRUSTED_PROXIES",
            per_ip,
            combo,
            s,
            records,
        )
    combo.check("rate limit: a bad GATEWAY_RATE_LIMIT_FAIL stops the gateway", bad_setting, combo)
    combo.check(
        "rate limit: the limiter's Redis stopped: fail open lets through, fail closed answers 503",
        fail_modes,
        combo,
        s,
        records,
    )
