"""Gateway checks that need real processes, added with the Go gateway's
hardening (docs/ml-gateway-contract.md). They hold for either gateway:

- `lint` (Go only): staticcheck and golangci-lint (the repo's .golangci.yml)
  on services/gateway, with the versions scripts/e2e-deps.sh installs.
- `runtime`: 503 + Retry-After at once beyond GATEWAY_MAX_INFLIGHT; ML_MAX_BATCH read
  by the gateway; over HTTP an unset ML_URL follows ML_PORT; a URL with a
  password in it is never echoed by a refused configuration; a closed
  stdout (the log relay of `make dev` killed by Ctrl-C) does not kill the
  gateway, which still drains and exits 0 on SIGTERM.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading

from . import contract
from .httpc import HttpError, Resp, post_json, request, status_is
from .procs import closed_port, free_port, must, wait_until
from .report import CheckFailed, expect

SECRET = "s3cr3t-e2e-pass"


def lint(combo) -> None:
    """staticcheck and golangci-lint, both clean, on the generated gateway."""
    combo.check(
        "gateway: staticcheck ./...",
        lambda: must(combo.run(["staticcheck", "./..."], combo.gw, timeout=600)),
    )
    combo.check(
        "gateway: golangci-lint run (.golangci.yml)",
        lambda: must(
            combo.run(
                ["golangci-lint", "run", "--allow-parallel-runners", "./..."], combo.gw, timeout=900
            )
        ),
    )


def runtime(combo, slow_url: str) -> None:
    """Every check below, against gateways of `combo` (a harness Combo);
    slow_url is an HTTP upstream that answers too late."""
    combo.check(
        "GATEWAY_MAX_INFLIGHT: 503 + Retry-After at once, ML_MAX_BATCH read",
        shedding,
        combo,
        slow_url,
    )
    if not combo.worker_based:
        combo.check("ML_URL unset follows ML_PORT", ml_url_from_ml_port, combo)
    combo.check("a refused URL is logged without its password", redacted_config, combo)
    if combo.auth == "api-key":
        combo.check(
            "a malformed GATEWAY_API_KEYS is refused, naming it, never its hash",
            bad_api_keys,
            combo,
        )
        combo.check("the access log names the caller (e2e), never the key", caller_logged, combo)
    combo.check(
        "a closed stdout does not kill the gateway; SIGTERM drains, exit 0", closed_stdout, combo
    )


def shedding(combo, slow_url: str) -> str:
    """Two requests held by a slow upstream fill GATEWAY_MAX_INFLIGHT=2; of
    three sent, one gets 503 at once (the third, unless it overtook one of the
    first two). Over streams the slow upstream is a prefix no worker reads."""
    extra = {"GATEWAY_MAX_INFLIGHT": 2, "ML_MAX_BATCH": 2}
    if combo.worker_based:
        if combo.bus_kind:  # routed (the queue or topics are there), never read
            combo.busclient("declare", prefix=f"{combo.prefix}shed")
        # No worker reads this prefix, so the gateway never turns ready:
        # wait for it to listen, not for /readyz.
        base = combo.start_gateway(
            "shed", timeout_ms=3000, prefix=f"{combo.prefix}shed", extra=extra, wait_ready=False
        )
        if combo.transport == "kafka":
            # Until its reply partition is assigned the gateway answers 502
            # ("the Kafka topics are not set up yet"): nothing would be held.
            # Go logs "reading replies", Node.js "Kafka connection up".
            log = combo.gateways["shed"][0].log
            ready = re.compile(r'"msg":\s*"(reading replies|Kafka connection up)"')
            wait_until(
                lambda: ready.search(log.read_text(errors="replace")) is not None,
                timeout=30,
                what="the shed gateway reads its reply partition",
            )
    else:
        base = combo.start_gateway("shed", timeout_ms=3000, ml_url=slow_url, extra=extra)
    case = contract.Case(
        "shed",
        "POST",
        "/v1/predict",
        contract.body_of({"instances": [contract.SETOSA]}),
        status=503,
        retry_after="1",
    )
    held: list[Resp] = []
    lost: list[str] = []

    def hold():
        # as contract.send sends it, unrecorded: either may be the one shed
        try:
            held.append(
                request(
                    case.method, base, case.path, case.body, case.request_headers(), 15, auth=True
                )
            )
        except HttpError as e:
            lost.append(str(e))

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    # Both are in flight before the third is sent (a fixed sleep was too
    # short on a loaded machine). The gauge counts a request from its first
    # byte, before the rate limiter's Redis round trip gives it a slot: the
    # third can still overtake one of them, and then that one is shed.
    combo.wait_in_flight("shed", 2)
    third = contract.send(case, base)
    for t in threads:
        t.join(timeout=20)
    expect(not lost, f"a held request got no answer: {lost}")
    answers = [third, *held]
    statuses = sorted(r.status for r in answers)
    expect(
        statuses == [503, 504, 504],
        f"three requests, two slots, a slow upstream: got {statuses}, want one 503 "
        "at once and two 504 (slow upstream)",
    )
    r = next(r for r in answers if r.status == 503)
    contract.check(case, r)
    expect(r.secs < 1.0, f"the 503 took {r.secs:.2f}s: it should not wait")
    order = "the third" if third.status == 503 else "a held one (overtaken by the third)"
    rows = contract.Case(
        "rows",
        "POST",
        "/v1/predict",
        contract.body_of({"instances": [contract.SETOSA] * 3}),
        status=422,
    )
    contract.check(rows, contract.send(rows, base))
    return f"503 to {order} in {r.secs * 1000:.0f}ms; 3 rows over ML_MAX_BATCH=2 -> 422"


def ml_url_from_ml_port(combo) -> str:
    port = combo.ml_url.rsplit(":", 1)[1]
    base = combo.start_gateway("mlport", ml_url="", extra={"ML_PORT": port})
    r = post_json(base, "/v1/predict", {"instances": [contract.SETOSA]})
    expect(r.status == 200, f"predict with ML_URL unset, ML_PORT={port}: {r.short(200)}")
    return f"ML_PORT={port} -> 200"


def _cmd(combo) -> list[str]:
    return [str(combo.gw_bin)] if combo.gateway == "go" else ["node", "src/server.ts"]


def _env(combo, port: int, extra: dict[str, str]) -> dict[str, str]:
    """The environment Combo.start_gateway gives a gateway, on port."""
    env = combo.env(
        GATEWAY_HOST="127.0.0.1",
        GATEWAY_PORT=port,
        GATEWAY_METRICS_PORT=free_port(),
        GATEWAY_SHUTDOWN_TIMEOUT_MS=3000,
        LOG_LEVEL="info",
    )
    if combo.worker_based:
        env.update(combo.transport_env(f"{combo.prefix}go"), GATEWAY_INSTANCE_ID="e2e-go")
    else:
        env["ML_URL"] = combo.ml_url
    env.update(combo.limit_env())
    env.update(combo.auth_env())
    env.update(extra)
    return env


def _refused(combo, var: str, value: str) -> str:
    env = _env(combo, free_port(), {var: value})
    res = combo.run(_cmd(combo), combo.gw, env, timeout=30)
    expect(res.rc not in (0, None), f"{var}={value!r}: started (rc {res.rc})")
    expect(var in res.output, f"{var} not named:\n{res.output[-800:]}")
    expect(SECRET not in res.output, f"the password is in the output:\n{res.output[-800:]}")
    return f"exit {res.rc}"


def bad_api_keys(combo) -> str:
    digest = "0123456789ABCDEF" * 4  # upper case: not the lowercase hex asked for
    env = _env(combo, free_port(), {"GATEWAY_API_KEYS": f"e2e:{digest}"})
    res = combo.run(_cmd(combo), combo.gw, env, timeout=30)
    expect(res.rc not in (0, None), f"started (rc {res.rc})")
    expect("GATEWAY_API_KEYS" in res.output, f"GATEWAY_API_KEYS not named:\n{res.output[-800:]}")
    expect(digest not in res.output, f"the hash is in the output:\n{res.output[-800:]}")
    return f"exit {res.rc}"


def caller_logged(combo) -> str:
    proc, _ = combo.gateways["main"]
    text = proc.log.read_text(errors="replace")
    expect(combo.api_key not in text, "the API key is in the gateway's log")
    lines = [ln for ln in text.splitlines() if re.search(r'"caller":\s*"e2e"', ln)]
    expect(lines, 'no log line with "caller":"e2e" (the key\'s name)')
    return f"{len(lines)} lines"


def redacted_config(combo) -> str:
    if combo.streams:
        return _refused(combo, "REDIS_URL", f"redis://:{SECRET}@127.0.0.1:{closed_port()}/x")
    if combo.transport == "rabbitmq":
        return _refused(combo, "RABBITMQ_URL", f"amqp://u:{SECRET}@127.0.0.1:x/")
    if combo.transport == "kafka":  # no password in it: a malformed list is refused
        return _refused(combo, "KAFKA_BOOTSTRAP_SERVERS", f"u:{SECRET}@127.0.0.1:x")
    return _refused(combo, "ML_URL", f"http://user:{SECRET}@127.0.0.1:{closed_port()}")


def closed_stdout(combo) -> str:
    """The gateway's stdout is a pipe; its reader goes away (as the log relay
    of `make dev` does on Ctrl-C), then the gateway logs a request and gets
    SIGTERM. It must answer, drain and exit 0 (it died of SIGPIPE)."""
    port = free_port()
    env = _env(combo, port, {})
    popen = subprocess.Popen(
        _cmd(combo),
        cwd=combo.gw,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: status_is(base, "/healthz", 200), timeout=30, what="gateway /healthz")
        popen.stdout.close()  # the reader is gone
        for _ in range(3):  # each answer is logged: each log line meets the closed pipe
            try:
                r = request("GET", base, "/no/such/path", None, {}, timeout=5)
            except HttpError as e:
                raise CheckFailed(
                    f"no answer once stdout was closed ({e}); exit {popen.poll()}"
                ) from e
            expect(r.status == 404, f"GET /no/such/path: {r.short(200)}")
        os.killpg(popen.pid, signal.SIGTERM)
        try:
            rc = popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise CheckFailed("no exit 15 s after SIGTERM") from None
        expect(rc == 0, f"exit {rc} after SIGTERM (-{signal.SIGPIPE} is death by SIGPIPE)")
        return "answered with stdout closed; exit 0 on SIGTERM"
    finally:
        try:
            os.killpg(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        popen.wait(timeout=5)
