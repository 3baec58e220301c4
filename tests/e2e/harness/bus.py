"""The `bus` phase of a rabbitmq or kafka combination: the crash-safe
request/reply contract of docs/ml-gateway-contract.md ("RabbitMQ and Kafka
protocol"), with the workers' DEFAULT settings:

- /readyz: 503 with no worker, 200 with one, 503 again after it is SIGKILLed
  (at once over RabbitMQ: its consumer goes with its connection; within the
  session timeout over Kafka);
- two workers, 300 requests with 32 in flight, one SIGKILLed while both hold
  messages: every request gets a 200 with the right label within its deadline
  (the broker hands the dead worker's messages to the other);
- a poison message (a model fault injected in a worker) is dead-lettered with
  the message as it came, and the client gets a 502 well inside the deadline;
- a message with a header that is not UTF-8, published straight onto the bus
  with the ML venv's own client, is dead-lettered, its 500 reply reaches the
  gateway (which drops it: nobody waits for that id), and the worker goes on;
- an expired message is answered 504 and not computed (worker metrics);
- the broker's password shows in no log.
"""

from __future__ import annotations

import os
import signal
import time
import zlib

from . import streams
from .chat import metric
from .contract import SETOSA, TITLES
from .httpc import get, post_json
from .procs import wait_until
from .report import CheckFailed, expect
from .streams_recovery import FAULTY, POISON_WORKER, stop_quietly

# The Kafka session the workers run with (ML_WORKER_SESSION_TIMEOUT_MS's default).
KAFKA_SESSION_S = 6.0


def run_all(c) -> None:
    """Every check, on Combo `c` (its main gateway and worker are running)."""
    c.check(f"bus: /readyz 503 with no worker, 200 with one, 503 after {c.bus_kind} "
            "loses it", ready, c)  # fmt: skip
    c.check("bus: 2 workers, 300 requests, 32 in flight, one SIGKILLed: all 200", crash, c)
    c.check("bus: poison message, default settings: 502 at once, dead-lettered", poison, c)
    c.check("bus: a non-UTF-8 header is dead-lettered, its 500 reply dropped", bad_header, c)
    c.check("bus: an expired message is answered 504 and not computed", expired, c)
    if "poison" in c.gateways:
        stop_quietly(c.gateways.pop("poison")[0])
    for p in c.procs.started:
        if p.name == "worker-p":
            stop_quietly(p)
    c.check(f"bus: no log shows the {c.bus_kind} password", no_password_in_logs, c)


def ready(c) -> str:
    prefix = f"{c.prefix}r"
    base = c.start_gateway("ready", prefix=prefix, wait_ready=False)
    statuses = []
    for _ in range(6):
        statuses.append(get(base, "/readyz").status)
        time.sleep(0.25)
    expect(set(statuses) == {503}, f"/readyz before any worker: {statuses}")
    proc = c.start_worker("worker-r", prefix=prefix)
    wait_until(lambda: get(base, "/readyz").status == 200, 60, 0.05, "/readyz 200", proc=proc)
    r = post_json(base, "/v1/predict", {"instances": [SETOSA]})
    expect(r.status == 200, f"the first request after /readyz turned 200: {r.short()}")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.popen.wait(timeout=10)
    t0 = time.monotonic()
    # RabbitMQ drops the consumer with its TCP connection; Kafka keeps the
    # member until its session is over, and the gateway asks once a second.
    budget = 3.0 if c.bus_kind == "rabbitmq" else KAFKA_SESSION_S + 4
    wait_until(lambda: get(base, "/readyz").status == 503, budget, 0.1, "/readyz 503 after")
    secs = time.monotonic() - t0
    stop_quietly(c.gateways.pop("ready")[0])
    return f"503 x {len(statuses)}, then 200; 503 {secs:.1f}s after the SIGKILL"


def crash(c) -> str:
    base = c.gateways["main"][1]
    other = c.start_worker("worker-b")
    c.wait_worker_ready(other, n=2)
    victim = c.worker

    def kill():
        # Deterministic whatever the timing of the load: both workers stop,
        # the requests in flight reach them (prefetched, or in their
        # partitions), the victim dies holding them, the other goes on.
        os.killpg(victim.pid, signal.SIGSTOP)
        os.killpg(other.pid, signal.SIGSTOP)
        try:
            time.sleep(0.3)
        finally:
            os.killpg(victim.pid, signal.SIGKILL)
            victim.popen.wait(timeout=10)
            os.killpg(other.pid, signal.SIGCONT)

    before = replies(c.worker_metrics["worker-b"])
    detail = streams.crash_under_load(
        base, kill, None, None, c.prefix, c.timeout_ms, kill_after=50, restart_after=None
    )
    after = replies(c.worker_metrics["worker-b"])
    # 300 less what the victim answered before the kill (about half of the
    # first 50, and a few more in flight): the live worker took over
    expect(after - before >= 200, f"the live worker answered {after - before:.0f}, not the rest")
    # The main worker is gone: the one left takes its role for shutdown.
    c.worker = other
    return detail


def replies(worker_metrics: str) -> float:
    """ml_worker_replies_total of a worker: 0 before its first reply (a
    counter with labels has no sample until one is counted)."""
    text = get(worker_metrics, "/metrics", auth=False).body.decode()
    if "ml_worker_replies_total{" not in text:
        return 0.0
    return metric(worker_metrics, "ml_worker_replies_total")


def reply_address(c, prefix: str, role: str) -> dict[str, str]:
    """Where gateway `role` on `prefix` reads its replies."""
    if c.bus_kind == "rabbitmq":
        return {"reply_to": f"{prefix}.replies.e2e-{role}"}
    partitions = 6  # KAFKA_REPLY_PARTITIONS' default
    return {"reply_partition": str(zlib.crc32(f"e2e-{role}".encode()) % partitions)}


def poison(c) -> str:
    prefix = f"{c.prefix}p"
    script = c.root / "poison_worker.py"
    script.write_text(POISON_WORKER.format(pkg=c.pkg, faulty=FAULTY))
    proc = c.start_worker("worker-p", prefix=prefix, cmd=[c.venv / "bin" / "python", script])
    c.wait_worker_ready(proc, prefix=prefix)
    base = c.start_gateway("poison", prefix=prefix)
    t0 = time.monotonic()
    r = post_json(
        base, "/v1/predict", {"instances": [FAULTY]}, headers={"X-Request-ID": "e2e-poison"}
    )
    secs = time.monotonic() - t0
    expect(r.status == 502, f"poison message: {r.short()}, expected a 502")
    expect(r.json().get("title") == TITLES[502], f"poison problem: {r.json()}")
    expect(secs < c.timeout_ms / 1000, f"the 502 came after {secs:.1f}s, past the deadline")
    dead = c.busclient("read", prefix=prefix, queue="dead", timeout=5, max=1)
    expect(len(dead) == 1, f"{prefix}.dead holds {dead}")
    h = dead[0]["headers"]
    errs = []
    if h.get("request_id") != "e2e-poison":
        errs.append(f"request_id {h.get('request_id')!r}")
    if "fault injected" not in str(h.get("error", "")):
        errs.append(f"error {h.get('error')!r}")
    if str(h.get("deliveries")) != "4":
        errs.append(f"deliveries {h.get('deliveries')!r}, expected 4 (default max 3)")
    if errs:
        raise CheckFailed("dead letter: " + "; ".join(errs) + f"\n{dead[0]}")
    r = post_json(base, "/v1/predict", {"instances": [SETOSA]})
    expect(r.status == 200, f"after the poison message: {r.short()}")
    return f"502 after {secs * 1000:.0f}ms; dead letter with deliveries=4 and the model error"


def bad_header(c) -> str:
    prefix = f"{c.prefix}p"
    base = c.gateways["poison"][1]
    metrics = c.metrics_bases["poison"]
    dropped = metric(metrics, "gateway_stream_replies_dropped_total")
    corr = os.urandom(16).hex()
    c.busclient(
        "publish",
        prefix=prefix,
        id=corr,
        body='{"instances": [[5.1, 3.5, 1.4, 0.2]]}',
        headers={
            "id": corr,
            "op": "predict",
            "request_id": {"hex": "ff fe e2 80"},  # not UTF-8
            "deadline_ms": str(int(time.time() * 1000) + 60_000),
        },
        **reply_address(c, prefix, "poison"),
    )
    wait_until(
        lambda: metric(metrics, "gateway_stream_replies_dropped_total") >= dropped + 1,
        15,
        0.2,
        "the gateway to drop the dead letter's 500 reply (an id nobody waits for)",
    )
    # RabbitMQ: the poison check took its dead letter off the queue; Kafka
    # keeps the topic, read from its start
    dead = c.busclient("read", prefix=prefix, queue="dead", timeout=5, max=2)
    ours = [m for m in dead if corr in (m.get("correlation_id"), m["headers"].get("id"))]
    expect(len(ours) == 1, f"no dead letter with id {corr} in {prefix}.dead: {dead}")
    error = ours[0]["headers"].get("error")
    expect(bool(error), f"the dead letter has no error header: {ours[0]}")
    r = post_json(base, "/v1/predict", {"instances": [SETOSA]})
    expect(r.status == 200, f"after the bad header: {r.short()}")
    return f"dead-lettered ({str(error)[:60]}); the 500 reply dropped; worker answers on"


def expired(c) -> str:
    prefix = f"{c.prefix}p"
    worker = next(p for p in reversed(c.procs.started) if p.name == "worker-p")
    wm = c.worker_metrics["worker-p"]
    base = c.start_gateway("expire", prefix=prefix, timeout_ms=1000)
    predicted = metric(wm, "ml_worker_predict_duration_seconds_count")
    replies = metric(wm, "ml_worker_replies_total")
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        r = post_json(base, "/v1/predict", {"instances": [SETOSA]}, timeout=10)
        expect(r.status == 504, f"a worker stopped past the deadline: {r.short()}")
        time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    wait_until(
        lambda: metric(wm, "ml_worker_replies_total") >= replies + 1, 15, 0.2, "the 504 reply"
    )
    expect(
        metric(wm, "ml_worker_predict_duration_seconds_count") == predicted,
        "the expired message was computed (ml_worker_predict_duration_seconds_count rose)",
    )
    text = get(wm, "/metrics", auth=False).body.decode()
    expect('status="504"' in text, 'no ml_worker_replies_total{status="504"}')
    stop_quietly(c.gateways.pop("expire")[0])
    return "504 to the client at its deadline; the worker answered 504 without predicting"


def no_password_in_logs(c) -> str:
    url = c.broker.url
    password = url.split("@")[0].rsplit(":", 1)[-1] if "@" in url else ""
    if not password:
        return "no password in KAFKA_BOOTSTRAP_SERVERS (PLAINTEXT): nothing to leak"
    leaks = [
        log.name
        for log in sorted(c.logs.iterdir())
        if log.is_file() and password in log.read_text(errors="replace")
    ]
    expect(not leaks, f"the broker password appears in {leaks}")
    return f"{len(list(c.logs.iterdir()))} logs clean"
