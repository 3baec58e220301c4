"""Redis Streams recovery checks, on a running redis-streams combination.

What docs/ml-gateway-contract.md ("Redis Streams protocol") promises, checked
with the workers' DEFAULT settings (no shortened claim times):

- two workers, 300 requests with 32 in flight, one SIGKILLed mid-run: every
  request gets a 200 with the right label (a live worker takes over the dead
  one's entries once its 2 s lease runs out, inside the 5 s deadline); the
  dead consumer leaves the group, and a replacement takes its name back;
- an entry with bytes that are not UTF-8 is dead-lettered (with a 500 reply)
  and no worker stops;
- answered requests and read replies do not stay in Redis;
- Redis SIGSTOPped during requests: 504 within the deadline + 1 s, and 200
  again after SIGCONT;
- /readyz is 503 until a worker holds a lease, and the first request after it
  turns 200 is answered 200; a hung worker (SIGSTOP) turns /readyz 503 and its
  healthcheck unhealthy;
- a poison entry (a model fault injected in a worker, default settings) is
  dead-lettered at once, and the client gets a 502 well within the deadline;
- the Redis password shows in no log.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from . import streams
from .contract import SETOSA, TITLES
from .httpc import HttpError, get, post_json
from .procs import run, wait_until
from .report import CheckFailed, expect

GROUP = "ml-workers"
DEADLINE_S = 5.0  # GATEWAY_UPSTREAM_TIMEOUT_MS of the gateways started here
LEASE_S = 2.0  # 4 heartbeats of the default ML_WORKER_HEARTBEAT_MS
FAULTY = [6.66, 6.66, 6.66, 6.66]

# A worker whose model raises on FAULTY rows (a stand-in for a model fault no
# validation foresees), with the default settings otherwise.
POISON_WORKER = """\
import runpy

from {pkg} import model


def predict(self, rows, _predict=model.Model.predict):
    if {faulty!r} in [list(row) for row in rows]:
        raise RuntimeError("fault injected by the e2e harness")
    return _predict(self, rows)


model.Model.predict = predict
runpy.run_module("{pkg}.worker", run_name="__main__")
"""


def run_all(c) -> None:
    """Every check, on Combo `c` (its main gateway and worker are running)."""
    base = c.gateways["main"][1]
    prefix = c.prefix

    def second_worker():
        c.start_worker("worker-b")
        wait_until(lambda: len(live_leases(c.redis, prefix)) >= 2, 60, 0.2, "2 live leases")
        return f"leases {sorted(live_leases(c.redis, prefix))}"

    if not c.check("streams: a second worker joins (2 live leases)", second_worker):
        return
    killed = {}

    def kill_test():
        victim = c.worker
        killed["name"] = consumer_of(c, victim)

        other = next(p for p in reversed(c.procs.started) if p.name == "worker-b")

        def kill():
            # Deterministic, whatever the timing of the load: both workers are
            # stopped, the requests in flight queue up, the victim's consumer
            # reads some of them (as its last XREADGROUP would have), and the
            # victim is SIGKILLed holding them; then the other worker goes on.
            os.killpg(victim.pid, signal.SIGSTOP)
            os.killpg(other.pid, signal.SIGSTOP)
            try:
                time.sleep(0.3)
                c.redis(
                    "XREADGROUP", "GROUP", GROUP, killed["name"], "COUNT", "16",
                    "STREAMS", f"{prefix}:requests", ">",
                )  # fmt: skip
                killed["held"] = pending_of(c.redis, prefix, killed["name"])
            finally:
                os.killpg(victim.pid, signal.SIGKILL)
                victim.popen.wait(timeout=10)
                os.killpg(other.pid, signal.SIGCONT)
            expect(killed["held"] > 0, "the killed worker held no entry: test too weak")

        detail = streams.crash_under_load(
            base, kill, None, c.redis, prefix, int(DEADLINE_S * 1000), restart_after=None
        )
        return f"{killed.get('held')} entries held by the killed worker; {detail}"

    c.check("streams: 2 workers, 300 requests, 32 in flight, one SIGKILLed: all 200", kill_test)
    c.check(
        "streams: the killed worker leaves the group; a replacement takes its name back",
        replacement,
        c,
        killed.get("name"),
    )
    c.check("streams: a non-UTF-8 entry is dead-lettered, no worker stops, next is 200", utf8, c)
    c.check("streams: request and reply streams stay small (XDEL)", memory, c)
    c.check("streams: Redis SIGSTOPped: 504 within the deadline + 1 s, 200 after SIGCONT", stall, c)
    c.check("streams: /readyz 503 until a worker beats; first request after ready is 200", ready, c)
    c.check("streams: a hung worker (SIGSTOP): unhealthy, /readyz 503; back on SIGCONT", hung, c)
    c.check("streams: poison entry, default settings: 502 at once, dead-lettered", poison, c)
    c.check("streams: no log shows the Redis password", no_password_in_logs, c)


# -- helpers ---------------------------------------------------------------------


def redis_ms(redis) -> int:
    seconds, micros = redis("TIME")
    return int(seconds) * 1000 + int(micros) // 1000


def live_leases(redis, prefix: str) -> dict[str, float]:
    # redis-cli --json gives [[member, score], ...]
    pairs = redis("ZRANGE", f"{prefix}:workers", "0", "-1", "WITHSCORES") or []
    now = redis_ms(redis)
    return {name: float(score) for name, score in pairs if float(score) > now}


def pending_of(redis, prefix: str, consumer: str) -> int:
    """Entries `consumer` read and did not acknowledge (XPENDING summary)."""
    summary = redis("XPENDING", f"{prefix}:requests", GROUP) or []
    per_consumer = summary[3] if len(summary) > 3 and summary[3] else []
    return sum(int(n) for name, n in per_consumer if name == consumer)


def consumers(redis, prefix: str) -> set[str]:
    rows = redis("XINFO", "CONSUMERS", f"{prefix}:requests", GROUP) or []
    return {row["name"] for row in rows}


def consumer_of(c, proc) -> str:
    """The consumer name a worker logged when it joined."""

    def joined():
        for line in proc.log.read_text(errors="replace").splitlines():
            if '"joined the group"' in line:
                return json.loads(line)["consumer"]
        return None

    return wait_until(joined, 60, 0.2, f"{proc.name} to join", proc=proc)


def stop_quietly(proc) -> None:
    if proc is not None and proc.alive():
        proc.stop(timeout=10)


# -- checks ------------------------------------------------------------------------


def replacement(c, dead: str | None) -> str:
    expect(dead is not None, "the killed worker's consumer name is unknown")
    prefix = c.prefix
    wait_until(
        lambda: (
            dead not in consumers(c.redis, prefix)
            and dead not in (c.redis("ZRANGE", f"{prefix}:workers", "0", "-1") or [])
        ),
        10,
        0.2,
        f"the dead consumer {dead} to leave the group and {prefix}:workers",
    )
    proc = c.start_worker("worker-c")
    name = consumer_of(c, proc)
    expect(name == dead, f"the replacement joined as {name}, not as the dead worker's {dead}")
    r = post_json(c.gateways["main"][1], "/v1/predict", {"instances": [SETOSA]})
    expect(r.status == 200, f"after the replacement: {r.short()}")
    group = consumers(c.redis, prefix)
    stale = group - set(live_leases(c.redis, prefix))
    expect(not stale, f"consumers without a live lease stay in the group: {stale}")
    return f"{dead} removed, then taken back by the replacement; group {sorted(group)}"


def utf8(c) -> str:
    prefix = c.prefix
    corr = secrets.token_hex(16)
    reply_to = f"{prefix}:replies:e2e-utf8"
    payload = b'{"instances": [[5.1, 3.5, 1.4, \xff\xfe]]}'
    deadline = str(int(time.time() * 1000) + 60_000)
    c.redis(
        "XADD", f"{prefix}:requests", "*", "id", corr, "request_id", "e2e-utf8",
        "reply_to", reply_to, "deadline_ms", deadline, "payload", payload,
    )  # fmt: skip

    def dead():
        return next((f for _, f in c.redis.xrange(f"{prefix}:dead") if f.get("id") == corr), None)

    record = wait_until(dead, 10, 0.1, f"the non-UTF-8 entry in {prefix}:dead")
    expect("payload" in record.get("error", ""), f"dead letter error: {record.get('error')!r}")
    replies = [f for _, f in c.redis.xrange(reply_to) if f.get("id") == corr]
    expect(
        len(replies) == 1 and replies[0].get("status") == "500", f"replies on {reply_to}: {replies}"
    )
    workers = [p for p in c.procs.started if p.name.startswith("worker") and p.alive()]
    expect(len(workers) >= 2, f"workers alive: {[p.name for p in workers]}")
    r = post_json(c.gateways["main"][1], "/v1/predict", {"instances": [SETOSA]})
    expect(r.status == 200, f"the next request: {r.short()}")
    return f"dead-lettered with a 500 reply; {len(workers)} workers alive; next request 200"


def memory(c) -> str:
    prefix = c.prefix
    requests = int(c.redis("XLEN", f"{prefix}:requests"))
    replies = int(c.redis("XLEN", f"{prefix}:replies:e2e-main"))
    expect(requests <= 5, f"{prefix}:requests holds {requests} entries after the load")
    expect(replies <= 5, f"the main gateway's reply stream holds {replies} entries")
    return f"XLEN requests {requests}, replies {replies} after 300+ requests"


def stall(c) -> str:
    base = c.gateways["main"][1]
    pid = c.redis_proc.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        time.sleep(0.2)

        def one(i: int):
            t0 = time.monotonic()
            try:
                r = post_json(base, "/v1/predict", {"instances": [SETOSA]}, timeout=20)
                return r.status, time.monotonic() - t0
            except HttpError as e:
                return str(e), time.monotonic() - t0

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(one, range(4)))
    finally:
        os.kill(pid, signal.SIGCONT)
    bad = [a for a in answers if a[0] != 504 or a[1] > DEADLINE_S + 1]
    expect(not bad, f"(status, seconds) while Redis was stopped: {answers}")
    t0 = time.monotonic()

    def answered():
        r = post_json(base, "/v1/predict", {"instances": [SETOSA]}, timeout=10)
        return r.status == 200

    wait_until(answered, 20, 0.2, "a 200 after SIGCONT")
    slowest = max(a[1] for a in answers)
    return f"4 x 504 in <= {slowest:.1f}s; 200 again {time.monotonic() - t0:.1f}s after SIGCONT"


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
    return f"503 x {len(statuses)} before any worker; first request after ready: 200"


def hung(c) -> str:
    base = c.gateways["ready"][1]
    proc = next(p for p in reversed(c.procs.started) if p.name == "worker-r")
    health = [c.venv / "bin" / "python", "-m", f"{c.pkg}.worker_healthcheck"]
    env = c.ml_env(ML_WORKER_HEARTBEAT_FILE=c.logs / "worker-r.heartbeat")
    rc = run([str(x) for x in health], c.ml, env, 60).rc
    expect(rc == 0, f"healthcheck of the running worker: exit {rc}")
    os.killpg(proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        wait_until(lambda: get(base, "/readyz").status == 503, LEASE_S + 3, 0.1, "/readyz 503")
        secs = time.monotonic() - t0
        rc = run([str(x) for x in health], c.ml, env, 60).rc
        expect(rc == 1, f"healthcheck of the hung worker: exit {rc}, expected 1")
    finally:
        os.killpg(proc.pid, signal.SIGCONT)
    wait_until(lambda: get(base, "/readyz").status == 200, 10, 0.1, "/readyz 200 after SIGCONT")
    rc = run([str(x) for x in health], c.ml, env, 60).rc
    expect(rc == 0, f"healthcheck after SIGCONT: exit {rc}")
    stop_quietly(proc)
    stop_quietly(c.gateways.pop("ready")[0])
    return f"/readyz 503 {secs:.1f}s after SIGSTOP, healthcheck exit 1; both back after SIGCONT"


def poison(c) -> str:
    prefix = f"{c.prefix}p"
    script = c.root / "poison_worker.py"
    script.write_text(POISON_WORKER.format(pkg=c.pkg, faulty=FAULTY))
    proc = c.start_worker("worker-p", prefix=prefix, cmd=[c.venv / "bin" / "python", script])
    try:
        # up to 60 s to import the model on a busy machine; then the gateway's
        # 30 s for /readyz is about the gateway alone
        c.wait_worker_ready(proc, prefix=prefix)
        base = c.start_gateway("poison", prefix=prefix)
        t0 = time.monotonic()
        r = post_json(
            base, "/v1/predict", {"instances": [FAULTY]}, headers={"X-Request-ID": "e2e-poison"}
        )
        secs = time.monotonic() - t0
        expect(r.status == 502, f"poison entry: {r.short()}, expected a 502")
        body = r.json()
        expect(body.get("title") == TITLES[502], f"poison problem: {body}")
        expect(secs < DEADLINE_S, f"the 502 came after {secs:.1f}s, past the deadline")
        dead = [f for _, f in c.redis.xrange(f"{prefix}:dead")]
        expect(len(dead) == 1, f"{prefix}:dead holds {dead}")
        record = dead[0]
        errs = []
        if record.get("request_id") != "e2e-poison":
            errs.append(f"request_id {record.get('request_id')!r}")
        if json.loads(record.get("payload", "null")) != {"instances": [FAULTY]}:
            errs.append(f"payload {record.get('payload')!r}")
        if "fault injected" not in record.get("error", ""):
            errs.append(f"error {record.get('error')!r}")
        if record.get("deliveries") != "4":
            errs.append(f"deliveries {record.get('deliveries')!r}, expected 4 (default max 3)")
        if c.redis.pending_count(f"{prefix}:requests", GROUP) != 0:
            errs.append("the poison entry is still pending")
        if errs:
            raise CheckFailed("dead letter: " + "; ".join(errs) + f"\n{record}")
        r = post_json(base, "/v1/predict", {"instances": [SETOSA]})
        expect(r.status == 200, f"after the poison entry: {r.short()}")
    finally:
        stop_quietly(proc)
        if "poison" in c.gateways:
            stop_quietly(c.gateways.pop("poison")[0])
    return f"502 after {secs * 1000:.0f}ms; dead letter with deliveries=4 and the model error"


def no_password_in_logs(c) -> str:
    password = c.redis.password
    expect(bool(password), "the harness Redis has no password")
    leaks = []
    for log in sorted(c.logs.iterdir()):
        if log.is_file() and password in log.read_text(errors="replace"):
            leaks.append(log.name)
    expect(not leaks, f"the Redis password appears in {leaks}")
    return f"{len(list(c.logs.iterdir()))} logs clean"
