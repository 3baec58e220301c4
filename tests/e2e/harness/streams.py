"""The Redis Streams failure tests: a worker killed mid-load, a poison entry.

Contract (docs/ml-gateway-contract.md, "Redis Streams protocol"): a worker
killed with SIGKILL loses no request (its pending entries are reclaimed with
XAUTOCLAIM by the next worker), and an entry that fails more than
ML_WORKER_MAX_DELIVERIES times is copied to `{prefix}:dead` and answered
with a 500 problem.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from .contract import SETOSA, TITLES, VIRGINICA
from .httpc import HttpError, request
from .procs import wait_until
from .report import CheckFailed, expect

GROUP = "ml-workers"


def crash_under_load(
    gw_base: str,
    kill_worker,
    start_worker,
    redis,
    prefix: str,
    timeout_ms: int,
    total: int = 300,
    inflight: int = 32,
    kill_after: int = 100,
) -> str:
    """Send `total` requests, `inflight` at a time; SIGKILL the worker after
    `kill_after` answers, start a new one; every request must be answered
    (a right prediction, or an explicit 5xx within its deadline)."""
    results: dict[int, tuple] = {}
    lock = threading.Lock()
    done = threading.Event()
    kill_at = {"t": None, "done": None, "restart": None}
    slack = 1.5
    client_timeout = timeout_ms / 1000 + 10

    def one(i: int):
        row, label = (SETOSA, "setosa") if i % 2 == 0 else (VIRGINICA, "virginica")
        body = json.dumps({"instances": [row]})
        start = time.monotonic()
        try:
            r = request(
                "POST",
                gw_base,
                "/v1/predict",
                body,
                {"Content-Type": "application/json", "X-Request-ID": f"chaos-{i}"},
                timeout=client_timeout,
            )
            out = (r.status, r.body, label, start, time.monotonic(), r.header("x-request-id"))
        except HttpError as e:
            out = (None, str(e).encode(), label, start, time.monotonic(), None)
        with lock:
            results[i] = out
            if len(results) >= kill_after and kill_at["t"] is None:
                kill_at["t"] = time.monotonic()
                kill_at["done"] = len(results)
                done.set()

    def chaos():
        if not done.wait(timeout=60):
            return
        kill_worker()
        time.sleep(0.5)
        kill_at["restart"] = time.monotonic()
        start_worker()

    killer = threading.Thread(target=chaos, daemon=True)
    killer.start()
    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=inflight) as pool:
        list(pool.map(one, range(total)))
    wall = time.monotonic() - t0
    done.set()
    killer.join(timeout=30)

    errs = []
    statuses = Counter()
    for i in range(total):
        if i not in results:
            errs.append(f"request {i}: never finished")
            continue
        status, body, label, start, end, rid = results[i]
        statuses[status] += 1
        secs = end - start
        if status is None:
            errs.append(f"request {i}: no HTTP answer after {secs:.1f}s: {body.decode()[:200]}")
        elif status == 200:
            try:
                got = json.loads(body)["predictions"][0]["label"]
            except (ValueError, KeyError, IndexError, TypeError):
                got = f"<unreadable {body[:100]!r}>"
            if got != label:
                errs.append(
                    f"request {i}: label {got!r}, expected {label!r} (reply routed "
                    "to the wrong request?)"
                )
            if rid != f"chaos-{i}":
                errs.append(f"request {i}: X-Request-ID {rid!r}, sent chaos-{i}")
        elif 500 <= status <= 599:
            if secs > timeout_ms / 1000 + slack:
                errs.append(
                    f"request {i}: {status} after {secs:.1f}s, past its deadline "
                    f"({timeout_ms}ms + {slack}s)"
                )
        else:
            errs.append(f"request {i}: status {status}: {body[:200]!r}")
        if status == 200 and secs > timeout_ms / 1000 + slack:
            errs.append(f"request {i}: 200 after {secs:.1f}s, past its deadline")

    expect(
        kill_at["t"] is not None and kill_at["restart"] is not None,
        "the worker was never killed/restarted (fewer answers than kill_after?)",
    )
    expect(kill_at["done"] < total, "all requests finished before the kill: test too weak")
    after_restart = [
        r
        for r in results.values()
        if r[0] == 200 and kill_at["restart"] and r[4] > kill_at["restart"] + 0.05
    ]
    if not after_restart:
        errs.append("no request was answered by the new worker after the restart")
    # None lost: every entry read by a worker was acked (or dead-lettered).
    try:
        wait_until(
            lambda: redis.pending_count(f"{prefix}:requests", GROUP) == 0,
            timeout=20,
            what="XPENDING of the request stream to drop to 0",
        )
    except CheckFailed as e:
        pend = redis("XPENDING", f"{prefix}:requests", GROUP, "-", "+", "10")
        errs.append(f"entries stay pending (unacked) after the load: {e}\n{pend}")
    dist = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    if errs:
        raise CheckFailed(f"{len(errs)} problem(s) (statuses {dist}):\n" + "\n".join(errs[:30]))
    return (
        f"{total} answered in {wall:.1f}s; killed after {kill_at['done']} answers; "
        f"statuses {dist}; {len(after_restart)} served by the new worker"
    )


def poison(redis, prefix: str, max_deliveries: int, timeout: float = 45.0) -> str:
    """XADD an entry whose payload makes the model raise (1e308 overflows in scaling)."""
    corr = secrets.token_hex(16)
    reply_to = f"{prefix}:replies:e2e-poison-{corr[:6]}"
    payload = '{"instances": [[1e308, 1e308, 1e308, 1e308]]}'
    traceparent = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
    deadline_ms = int(time.time() * 1000) + 120_000
    t0 = time.monotonic()
    redis(
        "XADD",
        f"{prefix}:requests",
        "*",
        "id",
        corr,
        "request_id",
        "e2e-poison",
        "reply_to",
        reply_to,
        "deadline_ms",
        deadline_ms,
        "payload",
        payload,
        "traceparent",
        traceparent,
    )

    def reply():
        for _, f in redis.xrange(reply_to):
            if f.get("id") == corr:
                return f
        return None

    def dead():
        for _, f in redis.xrange(f"{prefix}:dead"):
            if f.get("id") == corr:
                return f
        return None

    got = wait_until(
        reply, timeout=timeout, interval=0.25, what=f"a reply to the poison entry on {reply_to}"
    )
    secs = time.monotonic() - t0
    errs = []
    if got.get("status") != "500":
        errs.append(f"reply status {got.get('status')!r}, expected '500'; reply {got}")
    try:
        body = json.loads(got.get("body", ""))
        if body.get("status") != 500 or body.get("title") != TITLES[500]:
            errs.append(f"reply body is not a 500 problem: {body}")
        if body.get("type") != "about:blank":
            errs.append(f"reply body type {body.get('type')!r}")
    except (ValueError, AttributeError):
        errs.append(f"reply body is not JSON: {got.get('body')!r}")
    d = None
    try:
        d = wait_until(dead, timeout=5, what=f"the poison entry in {prefix}:dead")
    except CheckFailed as e:
        errs.append(str(e) + f"\n{prefix}:dead holds: {redis.xrange(f'{prefix}:dead')[:5]}")
    if d is not None:
        for k, v in (
            ("payload", payload),
            ("reply_to", reply_to),
            ("request_id", "e2e-poison"),
            ("deadline_ms", str(deadline_ms)),
        ):
            if d.get(k) != v:
                errs.append(f"dead entry field {k}={d.get(k)!r}, original was {v!r}")
        if not d.get("error"):
            errs.append(f"dead entry has no 'error' field: {d}")
        try:
            n = int(d.get("deliveries", ""))
            if n <= max_deliveries:
                errs.append(
                    f"dead entry deliveries={n}, should exceed "
                    f"ML_WORKER_MAX_DELIVERIES={max_deliveries}"
                )
        except ValueError:
            errs.append(f"dead entry deliveries {d.get('deliveries')!r} is not a number")
    try:
        wait_until(
            lambda: redis.pending_count(f"{prefix}:requests", GROUP) == 0,
            timeout=10,
            what="the poison entry to be acked",
        )
    except CheckFailed as e:
        errs.append(str(e))
    if errs:
        raise CheckFailed("\n".join(errs))
    return f"dead-lettered with a 500 reply after {secs:.1f}s (deliveries={d.get('deliveries')})"
