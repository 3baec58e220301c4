"""The Redis Streams load test with a worker killed mid-run.

Contract (docs/ml-gateway-contract.md, "Redis Streams protocol"): a worker
killed with SIGKILL loses no request and fails none: once its lease runs out
(2 s), a live worker claims its pending entries and answers them within the
request deadline. The other streams checks are in streams_recovery.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from .contract import SETOSA, VIRGINICA
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
    restart_after: float | None = 0.5,
) -> str:
    """Send `total` requests, `inflight` at a time; SIGKILL a worker after
    `kill_after` answers (and start a new one `restart_after` seconds later,
    unless None: then the other workers must take over). Every request must
    get a 200 with the right prediction within its deadline: no 5xx counts as
    an answer."""
    results: dict[int, tuple] = {}
    lock = threading.Lock()
    done = threading.Event()
    kill_at = {"t": None, "done": None, "restart": None, "kill": None}
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
            trigger = len(results) == kill_after
        if trigger:  # killed right here, while the other requests are in flight
            kill_at["t"] = kill_at["kill"] = time.monotonic()
            kill_at["done"] = kill_after
            kill_worker()
            done.set()

    def chaos():
        if not done.wait(timeout=60):
            return
        if restart_after is None:
            return
        time.sleep(restart_after)
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
        else:
            errs.append(f"request {i}: status {status} after {secs:.1f}s: {body[:200]!r}")
        if status == 200 and secs > timeout_ms / 1000 + slack:
            errs.append(f"request {i}: 200 after {secs:.1f}s, past its deadline")

    expect(
        kill_at["t"] is not None and (restart_after is None or kill_at["restart"] is not None),
        "the worker was never killed/restarted (fewer answers than kill_after?)",
    )
    expect(kill_at["done"] < total, "all requests finished before the kill: test too weak")
    after_restart = [
        r
        for r in results.values()
        if r[0] == 200 and kill_at["restart"] and r[4] > kill_at["restart"] + 0.05
    ]
    if restart_after is not None and not after_restart:
        errs.append("no request was answered by the new worker after the restart")
    # How long the requests in flight at the kill waited: the time to recover.
    killed = kill_at["kill"] or 0.0
    in_flight = [r[4] - r[3] for r in results.values() if r[3] <= killed <= r[4]]
    if not in_flight:
        errs.append("no request was in flight when the worker was killed: test too weak")
    slowest = max(in_flight, default=0)
    # None lost: every entry read by a worker was acked (or dead-lettered).
    # (Over a bus, redis is None: the broker redelivers what was not acked.)
    try:
        if redis is None:
            raise StopIteration
        wait_until(
            lambda: redis.pending_count(f"{prefix}:requests", GROUP) == 0,
            timeout=20,
            what="XPENDING of the request stream to drop to 0",
        )
    except StopIteration:
        pass
    except CheckFailed as e:
        pend = redis("XPENDING", f"{prefix}:requests", GROUP, "-", "+", "10")
        errs.append(f"entries stay pending (unacked) after the load: {e}\n{pend}")
    dist = ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items(), key=lambda kv: str(kv[0])))
    if errs:
        raise CheckFailed(f"{len(errs)} problem(s) (statuses {dist}):\n" + "\n".join(errs[:30]))
    restarted = f"; {len(after_restart)} served by the new worker" if restart_after else ""
    return (
        f"{total} answered in {wall:.1f}s; killed after {kill_at['done']} answers; "
        f"statuses {dist}; {len(in_flight)} in flight at the kill, the slowest answered "
        f"after {slowest:.1f}s{restarted}"
    )
