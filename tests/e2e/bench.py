#!/usr/bin/env python3
"""The one benchmark: every ratio issue 17 asks for, measured in one run on
this machine, printed side by side (not a test: it fails only when something
did not run). `scripts/bench` builds braid (release) and calls it.

    scripts/bench [--combo go-http ...] [--duration 10] [--connections 32]
                  [--sse-duration 5] [--rounds 5] [--no-new] [--keep]
                  [--ml-env ML_BATCH_MAX_WAIT_MS=1 ...]

For each gateway x transport (default: all twelve, api-key auth, the default
answers): `braid new`, install, train, start every service natively on
loopback (as run.py does, one combination at a time), then
- on the HTTP transport, first the gateway framework's hello world and the
  gateway's GET /healthz (what the framework costs, what the gateway adds
  before any work); then the ML service alone (`wrk` POST /v1/predict at its
  own port, no gateway: the "bare" row) and through the gateway, in turns,
  --rounds times (default 5; each row sums its rounds). The machine's speed
  swings by up to half from one stretch of seconds to the next (no steal
  time shows in the VM: the same work just takes longer, on both CPUs at
  once, as when the host's other work shares its cores), so the ratio
  gateway / ML alone is taken round by round, each gateway stretch over the
  ML-alone stretch just before it, and the median of those ratios is the
  one judged (all of them print beside it): a slow stretch that falls on
  one side of one round moves one ratio, not the result;
- the gateway's POST /v1/predict with one iris row and the API key, wrk
  `-c32` (32 concurrent clients): predictions/s (2xx/s), p50, p99, the mean
  requests per model call of the ML service's HTTP path ("batch",
  ml_batch_size), and where the cores went (gateway, ML service or workers,
  Redis, broker, wrk);
- with streaming, 32 concurrent chat streams (`--sse-duration` s): the time
  to first token, p50 and p99;
and at the end `braid new` against cookiecutter on an equivalent template
(tests/e2e/bench_new.py). Then the ratios: per gateway, HTTP over Redis
Streams and HTTP over the bare ML service, and cookiecutter over braid, each
beside its target. Each measured row (or round) takes --duration seconds (at
most 20) after --warmup seconds; a row compares with the rows of the same run, not
with other machines.

CPUs (`--cpus split`, the default): the ML service (HTTP, or its bus
worker) runs on the first half of the CPUs, everything else (gateway,
Redis, broker, wrk) on the other half, as each would in its own pod with its
own CPU limit. The bare row and the gateway rows then give the ML service the
same CPUs, so "through the gateway / ML alone" is what the gateway costs the
ML service's throughput, not the CPU it takes from it on a shared machine.
The ML service finds its CPUs as it finds a container's quota
(ML_WORKERS=0: one process per CPU it may run on), and Go sets GOMAXPROCS
from them. `--cpus shared` runs every process on every CPU.

`--ml-env ML_NAME=VALUE` gives every ML process a setting (the header line
says which): how to measure a setting, such as the batcher's wait, before
changing its default.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402
from harness import procs  # noqa: E402
from harness.combo import COMBOS, Combo, Context, combo_name  # noqa: E402
from harness.httpc import status_is  # noqa: E402
from load import (  # noqa: E402
    LUA,
    CpuMeter,
    bring_up,
    end_measuring,
    measuring_context,
    predictions_per_s,
    sse_load,
    wrk,
)
from run import ALIASES, cache_dir, find_braid  # noqa: E402

GATEWAYS = ("go", "node", "node-express")
TRANSPORTS = ("http", "redis-streams", "rabbitmq", "kafka")
HTTP_OVER_STREAMS = 0.50  # the targets of issue 17
GATEWAY_OVER_BARE = {"go": 0.80}
NEW_OVER_COOKIECUTTER = 50.0
GET_LUA = 'wrk.method = "GET"\n'


def hello_world(c: Combo, port: int) -> list[str] | None:
    """The command that serves the gateway framework's hello world on port
    (tests/e2e/bench/hello-*), or None when there is none for it."""
    if c.gateway == "go":
        src = HERE / "bench" / "hello-go"
        if not (src / "main.go").is_file():
            return None
        exe = c.root / "hello-go"
        subprocess.run(
            ["go", "build", "-o", str(exe), "."], cwd=src, check=True, env={**os.environ}
        )
        return [str(exe)]
    name = "express.mjs" if c.framework == "express" else "fastify.mjs"
    src = HERE / "bench" / "hello-node" / name
    if not src.is_file():
        return None
    # its imports resolve from the gateway's own node_modules
    dst = c.gw / f"bench-hello-{name}"
    shutil.copyfile(src, dst)
    return ["node", str(dst)]


class Bench:
    def __init__(self, args, ctx: Context, plain_lua: Path, get_lua: Path) -> None:
        self.args, self.ctx = args, ctx
        self.plain_lua, self.get_lua = plain_lua, get_lua
        # (gateway, row name) -> result; rows print in the order measured
        self.rows: list[tuple[str, str, dict | None]] = []
        self.sse: list[tuple[str, dict | None]] = []
        # gateway -> through the gateway / ML alone, round by round (HTTP)
        self.paired: dict[str, list[float]] = {}
        # --cpus split: (the ML service's CPUs, everything else's)
        self.ml_cpus, self.edge = split_cpus() if args.cpus == "split" else (None, None)

    def wrk_row(self, label: str, url: str, lua: Path, c: Combo) -> dict | None:
        a = self.args
        if a.warmup:
            wrk(url, lua, a.warmup, a.connections, a.threads)
        services = [*c.procs.started, *([c.broker.proc] if c.broker else [])]
        meter = CpuMeter({p.name: p.pid for p in services if p.alive()})
        before = batches(c)
        meter.start()
        res, out = wrk(url, lua, a.duration, a.connections, a.threads)
        res["cores"] = meter.stop()
        after = batches(c)
        if before and after and after[0] > before[0]:
            res["batch"] = (after[1] - before[1]) / (after[0] - before[0])
        (c.root / f"wrk-{re.sub(r'[^A-Za-z0-9.-]+', '_', label)}.txt").write_text(out)
        if not res["requests"]:
            print(out, flush=True)
            return None
        print(
            f"{label}: {res['rps']:.0f} req/s, {predictions_per_s(res):.0f} 2xx/s, "
            f"p50 {res['p50']:.2f} ms, p99 {res['p99']:.2f} ms, non-2xx {res['non2xx']}",
            flush=True,
        )
        return res

    def combo(self, gateway: str, transport: str) -> None:
        a, ctx = self.args, self.ctx
        name = combo_name(gateway, transport)
        c = Combo(ctx, gateway, transport, name=name)
        c.chat_env["ML_CHAT_TOKEN_DELAY_MS"] = str(a.token_delay_ms)
        c.chat_env.update(a.ml_env)  # --ml-env: the ML processes' settings to try
        c.root.mkdir(parents=True, exist_ok=True)
        predict = None
        try:
            if not bring_up(c):
                return
            base = c.gateways["main"][1]
            lua = self.plain_lua
            if header := c.authorization():
                lua = c.root / "post.lua"  # the same request, with the credential
                lua.write_text(f'{LUA}wrk.headers["Authorization"] = "{header}"\n')
            if transport == "http":
                port = procs.free_port()
                cmd = hello_world(c, port)
                if cmd is not None:
                    hello = c.procs.start(
                        "gateway-hello", cmd, c.gw, {**os.environ, "PORT": str(port)}
                    )
                    procs.wait_until(
                        lambda: status_is(f"http://127.0.0.1:{port}", "/", 200),
                        timeout=30,
                        what="hello world answers",
                        proc=hello,
                    )
                    self.rows.append(
                        (
                            gateway,
                            f"{gateway}: hello world",
                            self.wrk_row(
                                f"{gateway} hello world",
                                f"http://127.0.0.1:{port}/",
                                self.get_lua,
                                c,
                            ),
                        )
                    )
                    hello.stop()
                self.rows.append(
                    (
                        gateway,
                        f"{gateway}: GET /healthz",
                        self.wrk_row(f"{gateway} GET /healthz", base + "/healthz", self.get_lua, c),
                    )
                )
                # The ML service alone and through the gateway, in turns: a slow
                # phase of the machine (or of the service) falls on both.
                bare, through = [], []
                for i in range(1, a.rounds + 1):
                    bare.append(
                        self.wrk_row(
                            f"{name} ML alone, round {i}",
                            c.ml_url + "/v1/predict",
                            self.plain_lua,
                            c,
                        )
                    )
                    through.append(self.wrk_row(f"{name}, round {i}", base + "/v1/predict", lua, c))
                self.rows.append((gateway, f"{name}: ML alone", combine(bare)))
                predict = combine(through)
                if (ratios := round_ratios(bare, through)) is not None:
                    self.paired[gateway] = ratios
            else:
                predict = self.wrk_row(name, base + "/v1/predict", lua, c)
            if c.streaming and a.sse_duration:
                everywhere = os.sched_getaffinity(0)
                if self.edge is not None:  # the clients, beside the gateway
                    os.sched_setaffinity(0, self.edge)
                try:
                    sse_load(base, c.authorization(), 1, a.connections, a.max_tokens)
                    res = sse_load(
                        base, c.authorization(), a.sse_duration, a.connections, a.max_tokens
                    )
                finally:
                    os.sched_setaffinity(0, everywhere)
                print(f"{name} SSE: {res}", flush=True)
                self.sse.append((name, res))
        finally:
            self.rows.append((gateway, name, predict))
            c.procs.stop_all()
            shutil.rmtree(c.gw / "node_modules" / ".cache", ignore_errors=True)

    # -- the report ---------------------------------------------------------
    def report(self, new_line: str | None) -> bool:
        a = self.args
        if self.edge is None:
            cpus = f"{os.cpu_count()} CPUs shared by wrk and every service"
        else:
            cpus = (
                f"CPU {cpu_list(self.ml_cpus)}: the ML service or its worker; CPU "
                f"{cpu_list(self.edge)}: the gateway, Redis, the broker, wrk (--cpus split)"
            )
        print(
            f"\nbench: wrk -t{a.threads} -c{a.connections} -d{a.duration}s --latency after "
            f"{a.warmup}s warm-up per row; POST /v1/predict one iris row (the gateways with "
            f"their API key; the rate limiter on, its limit out of reach); {cpus}; "
            f"load average {os.getloadavg()[0]:.2f}"
            + "".join(f"; {k}={v}" for k, v in a.ml_env.items())
            + "\n"
        )
        head = (
            f"{'row':<34} {'pred/s':>8} {'p50 ms':>7} {'p99 ms':>8} {'non-2xx':>7} "
            f"{'batch':>5} | cores: {'gateway':>7} {'ml':>5} {'workers':>7} {'redis':>5} "
            f"{'broker':>6} {'wrk':>5}"
        )
        print(head)
        print("-" * len(head))
        got: dict[str, dict] = {}
        for _, name, r in self.rows:
            if r is None:
                print(f"{name:<34} (did not run: see above)")
                continue
            got[name] = r
            co = r.get("cores", {})
            print(
                f"{name:<34} {predictions_per_s(r):>8.0f} {r['p50']:>7.2f} {r['p99']:>8.2f} "
                f"{r['non2xx']:>7} {r.get('batch', float('nan')):>5.1f} |        "
                + " ".join(
                    f"{co.get(g, float('nan')):>{w}.2f}"
                    for g, w in (
                        ("gateway", 7),
                        ("ml", 5),
                        ("workers", 7),
                        ("redis", 5),
                        ("broker", 6),
                        ("wrk", 5),
                    )
                )
            )
        met, judged = True, 0
        print("\nratios (predictions/s; target beside each)")
        for gw in GATEWAYS:
            http, streams = got.get(f"{gw}-http"), got.get(f"{gw}-redis-streams")
            bare = got.get(f"{gw}-http: ML alone")
            if http and streams:
                ratio = predictions_per_s(http) / predictions_per_s(streams)
                ok = ratio >= HTTP_OVER_STREAMS
                met &= ok
                judged += 1
                print(
                    f"  {gw + ': HTTP / Redis Streams':<40} {ratio:>6.2f}   "
                    f"(>= {HTTP_OVER_STREAMS:.2f}: {'met' if ok else 'NOT met'})"
                )
            if http and bare and (rounds := self.paired.get(gw)):
                ratio = statistics.median(rounds)
                target = GATEWAY_OVER_BARE.get(gw)
                verdict = ""
                if target is not None:
                    ok = ratio >= target
                    met &= ok
                    judged += 1
                    verdict = f"(>= {target:.2f}: {'met' if ok else 'NOT met'})"
                print(f"  {gw + ': through the gateway / ML alone':<40} {ratio:>6.2f}   {verdict}")
                sums = predictions_per_s(http) / predictions_per_s(bare)
                print(
                    "    round by round: "
                    + " ".join(f"{r:.2f}" for r in rounds)
                    + f"  (the median above; the rows' sums: {sums:.2f})"
                )
        if self.sse:
            print(
                f"\nchat streams: {a.connections} concurrent for {a.sse_duration}s, "
                f"max_completion_tokens {a.max_tokens}, ML_CHAT_TOKEN_DELAY_MS {a.token_delay_ms}"
            )
            head = (
                f"{'combination':<26} {'streams':>8} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} "
                f"{'errors':>7}"
            )
            print(head)
            print("-" * len(head))
            for name, r in self.sse:
                print(
                    f"{name:<26} {r['streams']:>8} {r['ttft_p50']:>12.1f} "
                    f"{r['ttft_p99']:>12.1f} {r['errors']:>7}"
                )
        if new_line is not None:
            m = re.search(r"ratio ([\d.]+)x", new_line)
            ratio = float(m.group(1)) if m else float("nan")
            ok = ratio >= NEW_OVER_COOKIECUTTER
            met &= ok
            judged += 1
            print(
                f"\n{'braid new vs cookiecutter':<42} {ratio:>6.1f}x  "
                f"(>= {NEW_OVER_COOKIECUTTER:.0f}x: {'met' if ok else 'NOT met'})\n  {new_line}"
            )
        verdict = "no target measured" if not judged else "all met" if met else "NOT all met"
        print(f"\ntargets ({judged}): {verdict}")
        return met


def combine(rounds: list[dict | None]) -> dict | None:
    """The rounds of one row as one: every request over the whole time, the
    median p50 and p99, the mean cores and requests per model call."""
    if not rounds or any(r is None or not r["requests"] for r in rounds):
        return None
    got = [r for r in rounds if r is not None]
    requests = sum(r["requests"] for r in got)
    seconds = sum(r["requests"] / r["rps"] for r in got)
    cores = {k: statistics.fmean(r["cores"].get(k, 0.0) for r in got) for k in got[0]["cores"]}
    batch = [r["batch"] for r in got if "batch" in r]
    out = {
        "rps": requests / seconds,
        "p50": statistics.median(r["p50"] for r in got),
        "p99": statistics.median(r["p99"] for r in got),
        "requests": requests,
        "non2xx": sum(r["non2xx"] for r in got),
        "cores": cores,
    }
    if batch:
        out["batch"] = statistics.fmean(batch)
    return out


def round_ratios(bare: list[dict | None], through: list[dict | None]) -> list[float] | None:
    """Through the gateway / ML alone, round by round: each gateway stretch over
    the ML-alone stretch just before it; None when a stretch did not run."""
    if not all(r is not None and r["requests"] for r in [*bare, *through]):
        return None
    return [predictions_per_s(t) / predictions_per_s(b) for b, t in zip(bare, through, strict=True)]


def batches(c: Combo) -> tuple[float, float] | None:
    """(model calls, requests predicted in them) so far by the ML service's HTTP
    path (ml_batch_size), or None when it has none (a bus worker answers)."""
    url = getattr(c, "ml_url", None)
    if not url:
        return None
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    got = dict(re.findall(r"^ml_batch_size_(count|sum) ([0-9.e+]+)$", text, re.M))
    if len(got) != 2:
        return None
    return float(got["count"]), float(got["sum"])


def braid_vs_cookiecutter(braid: Path) -> str | None:
    out = subprocess.run(
        [sys.executable, str(HERE / "bench_new.py"), "--braid", str(braid)],
        capture_output=True,
        text=True,
    )
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr)
    if out.returncode != 0:
        return None
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("braid new")]
    return lines[-1] if lines else None


def split_cpus() -> tuple[set[int], set[int]]:
    """(the ML service's CPUs, everything else's): the first half of the CPUs
    this process may run on, and the rest."""
    cpus = sorted(os.sched_getaffinity(0))
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


def cpu_list(cpus: set[int] | None) -> str:
    return ",".join(str(c) for c in sorted(cpus or ()))


def is_ml(name: str) -> bool:
    """A process of the ML service (procs names): the HTTP service, a worker."""
    return name == "ml" or name.startswith("worker")


def main() -> int:
    names = [combo_name(g, t) for g in GATEWAYS for t in TRANSPORTS]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--combo", action="append", help=f"one of {', '.join(names)} (repeatable)")
    p.add_argument("--duration", type=int, default=10, help="seconds per row, 1-20 (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per row")
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="HTTP transport: the ML service alone and the gateway in turns, this many "
        "rounds of --duration each (default 5); gateway / ML alone is the median of the "
        "rounds' ratios",
    )
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sse-duration", type=int, default=5, help="seconds of chat streams (0: none)")
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--token-delay-ms", type=int, default=10)
    p.add_argument("--no-new", action="store_true", help="skip braid new vs cookiecutter")
    p.add_argument(
        "--ml-env",
        action="append",
        default=[],
        metavar="ML_NAME=VALUE",
        help="a setting for every ML process (repeatable), e.g. ML_BATCH_MAX_WAIT_MS=1: "
        "to measure a setting before changing its default",
    )
    p.add_argument("--keep", action="store_true")
    p.add_argument("--skip-deps", action="store_true")
    p.add_argument(
        "--cpus",
        choices=("split", "shared"),
        default="split",
        help="split (default): the ML service (or its worker) on half the CPUs, the gateway, "
        "Redis, the broker and wrk on the other half, as in their own pods; shared: every "
        "process on every CPU",
    )
    args = p.parse_args()
    if not 1 <= args.duration <= 20 or not 0 <= args.sse_duration <= 20:
        p.error("--duration and --sse-duration: at most 20 s a row")
    if not 1 <= args.rounds <= 9:
        p.error("--rounds: 1 to 9")
    ml_env = {}
    for item in args.ml_env:
        key, eq, value = item.partition("=")
        if not eq or not re.fullmatch(r"ML_[A-Z0-9_]+", key):
            p.error(f"--ml-env {item!r}: give ML_NAME=VALUE, e.g. ML_BATCH_MAX_WAIT_MS=1")
        ml_env[key] = value
    args.ml_env = ml_env
    chosen = [ALIASES.get(c, c) for c in (args.combo or names)]
    for c in chosen:
        if c not in names:
            p.error(f"unknown combination {c!r}; choose from {', '.join(names)}")

    cache = cache_dir()
    os.environ["PATH"] = f"{cache / 'bin'}{os.pathsep}{os.environ['PATH']}"
    os.environ.setdefault("KAFKA_CLASSPATH", str(cache / "kafka-4.1.1"))
    if not args.skip_deps:
        subprocess.run(["bash", str(REPO / "scripts" / "e2e-deps.sh"), "--load"], check=True)
    braid = find_braid()
    if braid is None or shutil.which("wrk") is None:
        print("need the braid binary (BRAID_BIN) and wrk (scripts/e2e-deps.sh --load)")
        return 2
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))
    if args.cpus == "split":
        if len(os.sched_getaffinity(0)) < 2:
            p.error("--cpus split needs 2 CPUs or more; use --cpus shared")
        if shutil.which("taskset") is None:
            p.error("--cpus split needs taskset (util-linux); or use --cpus shared")
        ml_cpus, edge = split_cpus()
        procs.PIN = lambda name: cpu_list(ml_cpus if is_ml(name) else edge)
        load.WRK_PREFIX = ["taskset", "-c", cpu_list(edge)]

    ctx, lock = measuring_context(braid, cache)
    work, brokers = ctx.work, ctx.brokers
    plain_lua, get_lua = work / "post.lua", work / "get.lua"
    plain_lua.write_text(LUA)
    get_lua.write_text(GET_LUA)
    bench = Bench(args, ctx, plain_lua, get_lua)
    t0 = time.monotonic()
    new_line = None
    try:
        for transport in TRANSPORTS:
            for gateway in GATEWAYS:
                if combo_name(gateway, transport) in chosen and (gateway, transport) in COMBOS:
                    try:
                        bench.combo(gateway, transport)
                    except Exception:  # noqa: BLE001 - the row says it did not run; go on
                        traceback.print_exc()
            # each bus is measured once: its broker would only take CPU from the next
            for kind in list(brokers.started):
                brokers.started.pop(kind).proc.stop(timeout=30)
        if not args.no_new:
            new_line = braid_vs_cookiecutter(braid)
    except KeyboardInterrupt:
        print("interrupted")
    finally:
        end_measuring(ctx, lock, args.keep)
    bench.report(new_line)
    print(f"({time.monotonic() - t0:.0f} s)")
    # a missed target is a finding to read, not a failure: 1 only when a row did not run
    ran = all(r is not None for _, _, r in bench.rows) and (args.no_new or new_line is not None)
    return 0 if ran else 1


if __name__ == "__main__":
    sys.exit(main())
