#!/usr/bin/env python3
"""Load measurement (not a test): wrk against each combination's gateway.

For each gateway x transport: `braid new`, install, train, start the
services natively (as run.py does), then `wrk --latency` with a Lua POST
script, the same settings for all four, and print one table:

    python3 tests/e2e/load.py [--combo go-http ...] [--duration 20]
                              [--connections 32] [--threads 2] [--keep]
                              [--set rate_limit=0 ...]

Everything (wrk, gateway, ML service or worker, redis, the broker) shares this one
machine, so the numbers compare the combinations with each other; they are
not capacity figures. Needs wrk (scripts/e2e-deps.sh --load installs it).
`--set KEY=VALUE` passes an answer to `braid new` (`rate_limit=0`: no rate
limiter, to measure what it costs); with a limiter, the gateway's limit is
too high to reach (GATEWAY_RATE_LIMIT=1000000): every request still spends
its budget in Redis, none is refused. `--against KEY=VALUE` measures each
combination a second time with those answers added, in the same run, and
prints the ratio: `--against auth=none --against rate_limit=0` is what the
gateway's edge duties cost.

`--sse` measures chat streams instead (no wrk): `--streams` (default 32)
concurrent clients, asyncio over raw sockets, each asking for one streamed
completion after the other (`--max-tokens`, default 64) for the duration;
the table shows, per combination side by side, the time to first token
(median, p99) and the tokens per second (all streams together, and the
median stream's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from harness import procs  # noqa: E402
from harness.brokers import Brokers  # noqa: E402
from harness.combo import COMBOS, HOSTILE_DESCRIPTION, Combo, Context, combo_name  # noqa: E402
from harness.redisc import start_redis  # noqa: E402
from harness.report import Reporter  # noqa: E402
from run import ALIASES, cache_dir, find_braid, work_dir  # noqa: E402

LUA = """\
wrk.method = "POST"
wrk.body = '{"instances": [[5.1, 3.5, 1.4, 0.2]]}'
wrk.headers["Content-Type"] = "application/json"
"""


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        return float("nan")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def parse_wrk(out: str) -> dict:
    res = {
        "rps": float("nan"),
        "p50": float("nan"),
        "p99": float("nan"),
        "requests": 0,
        "non2xx": 0,
        "errors": "",
    }
    if m := re.search(r"Requests/sec:\s+([\d.]+)", out):
        res["rps"] = float(m.group(1))
    for pct in ("50", "99"):
        if m := re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M):
            res[f"p{pct}"] = to_ms(m.group(1))
    if m := re.search(r"(\d+) requests in", out):
        res["requests"] = int(m.group(1))
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        res["non2xx"] = int(m.group(1))
    if m := re.search(r"Socket errors:(.*)", out):
        res["errors"] = m.group(1).strip()
    return res


# Put before wrk's command line (tests/e2e/bench.py: taskset, its CPUs).
WRK_PREFIX: list[str] = []


def wrk(url: str, lua: Path, duration: int, conns: int, threads: int) -> tuple[dict, str]:
    cmd = [
        *WRK_PREFIX,
        "wrk",
        f"-t{threads}",
        f"-c{conns}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(lua),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    return parse_wrk(out), out


async def _one_stream(host: str, port: int, head: bytes, body: bytes) -> tuple[float, int, float]:
    """One streamed completion: (time to first event, events, seconds from
    the first event to the last)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        t0 = time.monotonic()
        writer.write(head + body)
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            raise RuntimeError(status.decode(errors="replace").strip())
        while (await reader.readline()) not in (b"\r\n", b""):
            pass  # headers; the body is chunked: sizes and data, split below
        first = last = 0.0
        events, pending = 0, b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                break
            pending += (await reader.readexactly(size + 2))[:-2]
            while b"\n\n" in pending:
                event, _, pending = pending.partition(b"\n\n")
                if event == b"data: [DONE]":
                    continue
                last = time.monotonic()
                first = first or last
                events += 1
        return first - t0, events, last - first
    finally:
        writer.close()


async def _sse_clients(url: str, auth: str | None, duration: float, n: int, max_tokens: int):
    host, _, port = url.removeprefix("http://").partition(":")
    body = json.dumps(
        {
            "model": "ngram",
            "stream": True,
            "max_completion_tokens": max_tokens,
            "messages": [{"role": "user", "content": "What does a module hold?"}],
        }
    ).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\n"
        + (f"Authorization: {auth}\r\n" if auth else "")
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    ttfts: list[float] = []
    rates: list[float] = []
    tokens = errors = 0
    end = time.monotonic() + duration

    async def client() -> None:
        nonlocal tokens, errors
        while time.monotonic() < end:
            try:
                ttft, events, spread = await _one_stream(host, int(port), head, body)
            except (OSError, RuntimeError, ValueError, asyncio.IncompleteReadError):
                errors += 1
                continue
            ttfts.append(ttft)
            tokens += events
            if events > 1 and spread > 0:
                rates.append((events - 1) / spread)

    t0 = time.monotonic()
    await asyncio.gather(*(client() for _ in range(n)))
    wall = time.monotonic() - t0
    ttfts.sort()

    def pct(q: float) -> float:
        return ttfts[min(len(ttfts) - 1, int(q * len(ttfts)))] * 1000 if ttfts else float("nan")

    return {
        "streams": len(ttfts),
        "ttft_p50": pct(0.5),
        "ttft_p99": pct(0.99),
        "tok_s": tokens / wall,
        "stream_tok_s": statistics.median(rates) if rates else float("nan"),
        "errors": errors,
    }


def sse_load(url: str, auth: str | None, duration: float, n: int, max_tokens: int) -> dict:
    return asyncio.run(_sse_clients(url, auth, duration, n, max_tokens))


def print_sse(rows, args) -> None:
    print(
        f"\n{args.streams} concurrent streams for {args.duration}s (after {args.warmup}s warm-up), "
        f"POST /v1/chat/completions stream true, max_completion_tokens {args.max_tokens}, "
        f"ML_CHAT_TOKEN_DELAY_MS {args.token_delay_ms}, "
        f"{os.cpu_count()} cores shared by the clients and all services\n"
    )
    head = (
        f"{'combination':<26} {'streams':>8} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} "
        f"{'tokens/s':>9} {'per stream':>11} {'errors':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, r in rows:
        if r is None:
            print(f"{name:<26} {'(did not start: see the checks above)':>45}")
            continue
        print(
            f"{name:<26} {r['streams']:>8} {r['ttft_p50']:>12.1f} {r['ttft_p99']:>12.1f} "
            f"{r['tok_s']:>9.0f} {r['stream_tok_s']:>11.1f} {r['errors']:>7}"
        )


# -- scale-out (--workers) ----------------------------------------------------
SCALE_COMBOS = ("go-redis-streams", "go-rabbitmq", "go-kafka")
CPU_GROUPS = ("gateway", "workers", "broker", "redis", "ml", "wrk", "other")


def parse_counts(text: str) -> list[int]:
    """`--workers 1,2,3` -> [1, 2, 3] (sorted, unique, each >= 1)."""
    counts = sorted({int(x) for x in text.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        raise ValueError(f"worker counts must be >= 1: {text!r}")
    return counts


def stat_ticks(stat: str) -> tuple[int, int]:
    """(session id, utime + stime in clock ticks) of one /proc/PID/stat line;
    the command name (field 2) may hold spaces and parentheses."""
    f = stat.rpartition(")")[2].split()
    # f[0] is field 3 (state): session is field 6, utime 14, stime 15
    return int(f[3]), int(f[11]) + int(f[12])


def ticks_by_session() -> dict[int, int]:
    """CPU ticks of every live process, summed per session (the harness
    starts each service in its own session, so a session is a service with
    its children: the broker's JVM or BEAM under its script)."""
    out: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            sid, ticks = stat_ticks(Path("/proc", d, "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue
        out[sid] = out.get(sid, 0) + ticks
    return out


def machine_busy(text: str) -> tuple[int, int]:
    """(busy, total) ticks of all cores from /proc/stat's first line."""
    v = [int(x) for x in text.splitlines()[0].split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)  # idle + iowait
    total = sum(v[:8])  # guest time is already in user
    return total - idle, total


def cpu_group(name: str) -> str:
    """The CPU_GROUPS entry of a harness process name."""
    if name.startswith("gateway"):
        return "gateway"
    if name.startswith("worker"):
        return "workers"
    if name.startswith("redis"):
        return "redis"
    if name in ("rabbitmq", "kafka"):
        return "broker"
    return "ml" if name == "ml" else "other"


class CpuMeter:
    """Cores used per group of processes between start() and stop()."""

    def __init__(self, procs_by_name: dict[str, int]) -> None:
        self.sessions = {pid: cpu_group(name) for name, pid in procs_by_name.items()}
        self.hz = os.sysconf("SC_CLK_TCK")

    def start(self) -> None:
        self.t0 = time.monotonic()
        self.s0 = ticks_by_session()
        self.m0 = machine_busy(Path("/proc/stat").read_text())
        self.c0 = resource.getrusage(resource.RUSAGE_CHILDREN)

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self.t0
        s1 = ticks_by_session()
        m1 = machine_busy(Path("/proc/stat").read_text())
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cores = dict.fromkeys(CPU_GROUPS, 0.0)
        for sid, group in self.sessions.items():
            if sid in s1:
                cores[group] += (s1[sid] - self.s0.get(sid, 0)) / self.hz / wall
        # wrk is the only child that ran and was waited for meanwhile
        cores["wrk"] = (c1.ru_utime + c1.ru_stime - self.c0.ru_utime - self.c0.ru_stime) / wall
        busy = (m1[0] - self.m0[0]) / self.hz / wall
        known = sum(v for k, v in cores.items() if k != "other")
        cores["other"] = max(0.0, busy - known)
        cores["total"] = busy
        return cores


def predictions_per_s(r: dict) -> float:
    """Requests/s that got an answer (2xx): one iris row each."""
    if not r["requests"]:
        return float("nan")
    return r["rps"] * (r["requests"] - r["non2xx"]) / r["requests"]


def scale_tables(rows: list[tuple[str, int, dict | None]], counts: list[int]) -> str:
    """rows: (combination, workers, wrk result + "cores" or None). The
    side-by-side table (predictions/s, speed-up over the fewest workers)
    and the detail one: latency, where the cores went, and /wkr-core, the
    predictions per second of CPU the workers spent (what one worker with
    a core of its own would reach, so N such cores: about N times that)."""
    names = list(dict.fromkeys(name for name, _, _ in rows))
    got = {(name, n): r for name, n, r in rows}
    cols = [f"{n} worker{'s' if n > 1 else ''}" for n in counts]
    lines = [f"{'predictions/s':<20}" + "".join(f"{c:>20}" for c in cols)]
    lines.append("-" * len(lines[0]))
    for name in names:
        base = got.get((name, counts[0]))
        cells = []
        for n in counts:
            r = got.get((name, n))
            if r is None:
                cells.append(f"{'-':>20}")
                continue
            pps = predictions_per_s(r)
            if n == counts[0] or base is None:
                cells.append(f"{pps:>20.0f}")
            else:
                up = pps / predictions_per_s(base)
                cells.append(f"{f'{pps:.0f} (x{up:.2f})':>20}")
        lines.append(f"{name:<20}" + "".join(cells))
    head = (
        f"{'combination':<20} {'workers':>7} {'pred/s':>8} {'/wkr-core':>9} {'p50 ms':>7} "
        f"{'p99 ms':>8} {'non-2xx':>7} | cores: {'total':>5} "
        + " ".join(f"{g:>7}" for g in CPU_GROUPS)
    )
    lines += ["", head, "-" * len(head)]
    for name, n, r in rows:
        if r is None:
            lines.append(f"{name:<20} {n:>7}  (did not run: see the checks above)")
            continue
        c = r.get("cores") or {}
        pps = predictions_per_s(r)
        per_core = pps / c["workers"] if c.get("workers") else float("nan")
        lines.append(
            f"{name:<20} {n:>7} {pps:>8.0f} {per_core:>9.0f} {r['p50']:>7.2f} {r['p99']:>8.2f} "
            f"{r['non2xx']:>7} |        {c.get('total', float('nan')):>5.2f} "
            + " ".join(f"{c.get(g, float('nan')):>7.2f}" for g in CPU_GROUPS)
        )
    return "\n".join(lines)


def bring_up(c: Combo) -> bool:
    """Generates, installs and starts combination c natively (its Redis, and
    the run's broker of its bus, started once): True when it answers."""
    if not c.generate():
        return False
    if c.bus_kind:
        c.get_broker()  # the run's RabbitMQ or Kafka, started once
    _, c.redis = start_redis(c.procs, procs.free_port(), c.root / "redis")
    c.install()
    return c.ml_ok and c.gw_ok and c.start()


def measuring_context(braid: Path, cache: Path):
    """(the harness's Context for a measuring run, the work dir's lock): the
    fixed work dir, the cached venvs, one RabbitMQ and Kafka broker each for the
    run (started as run.py starts them)."""
    work, lock = work_dir(None)
    ctx = Context(
        braid=braid,
        work=work,
        cache=cache,
        rep=Reporter(),
        description=HOSTILE_DESCRIPTION,
        sentinel_dir=work,
        venv_cache=cache / "venvs",
        brokers=Brokers(work, dict(os.environ)),
    )
    return ctx, lock


def end_measuring(ctx, lock, keep: bool) -> None:
    """Undoes measuring_context: stops the brokers and every process started,
    removes the work dir (unless keep) and releases its lock."""
    ctx.brokers.stop()
    procs.kill_all()
    if not keep:
        shutil.rmtree(ctx.work, ignore_errors=True)
    if lock is not None:
        lock.close()


def main() -> int:
    # The api-key combinations (a third element names another auth mode).
    names = [combo_name(*c) for c in COMBOS if len(c) == 2]
    p = argparse.ArgumentParser(description="wrk load measurement of each combination")
    p.add_argument("--combo", action="append", help=f"one of {', '.join(names)} (repeatable)")
    p.add_argument("--duration", type=int, default=20, help="seconds measured (default 20)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up, not measured")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="answers")
    p.add_argument(
        "--against",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="measure each combination a second time with these answers too, in the same run, "
        "and print the ratio (e.g. --against auth=none --against rate_limit=0)",
    )
    p.add_argument("--skip-deps", action="store_true")
    p.add_argument("--sse", action="store_true", help="measure chat streams instead (no wrk)")
    p.add_argument("--streams", type=int, default=32, help="--sse: concurrent streams (default 32)")
    p.add_argument("--max-tokens", type=int, default=64, help="--sse: tokens per completion")
    p.add_argument(
        "--token-delay-ms",
        type=int,
        default=10,
        help="--sse: the ML's ML_CHAT_TOKEN_DELAY_MS (default 10, an LLM's pace; 0: the relay's own)",
    )
    p.add_argument(
        "--workers",
        metavar="N,N,...",
        help="scale-out: measure each bus combination (default go-redis-streams, go-rabbitmq, "
        "go-kafka) with N worker processes each, e.g. --workers 1,2,3",
    )
    args = p.parse_args()
    counts: list[int] = []
    if args.workers:
        if args.sse or args.against:
            p.error("--workers measures predictions: not with --sse or --against")
        try:
            counts = parse_counts(args.workers)
        except ValueError as e:
            p.error(str(e))
    chosen = [ALIASES.get(c, c) for c in (args.combo or (SCALE_COMBOS if counts else names))]
    for c in chosen:
        if c not in names:
            p.error(f"unknown combination {c!r}")
        if counts and c.endswith("-http"):
            p.error(f"--workers: {c} has no workers (the ML service answers over HTTP)")

    cache = cache_dir()
    os.environ["PATH"] = f"{cache / 'bin'}{os.pathsep}{os.environ['PATH']}"
    # the Kafka broker's jars, where scripts/e2e-deps.sh caches them (as run.py)
    os.environ.setdefault("KAFKA_CLASSPATH", str(cache / "kafka-4.1.1"))
    if not args.skip_deps:
        load = [] if args.sse else ["--load"]
        subprocess.run(["bash", str(REPO / "scripts" / "e2e-deps.sh"), *load], check=True)
    braid = find_braid()
    if braid is None or (shutil.which("wrk") is None and not args.sse):
        print("need the braid binary (BRAID_BIN) and wrk (scripts/e2e-deps.sh --load)")
        return 2
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))

    ctx, lock = measuring_context(braid, cache)
    work, brokers = ctx.work, ctx.brokers
    plain_lua = work / "post.lua"
    plain_lua.write_text(LUA)
    rows = []
    variants = [("", args.answers)]
    if args.against:
        variants.append(("-against", [*args.answers, *args.against]))

    def measure(gateway: str, transport: str, name: str, answers: list[str]) -> dict | None:
        c = Combo(ctx, gateway, transport, name=name)
        c.answers = answers
        c.chat_env["ML_CHAT_TOKEN_DELAY_MS"] = str(args.token_delay_ms)
        lua = plain_lua
        c.root.mkdir(parents=True, exist_ok=True)
        try:
            if not bring_up(c):
                return None
            if args.sse:
                base = c.gateways["main"][1]
                if args.warmup:
                    sse_load(base, c.authorization(), args.warmup, args.streams, args.max_tokens)
                res = sse_load(
                    base, c.authorization(), args.duration, args.streams, args.max_tokens
                )
                print(f"{name}: {res}", flush=True)
                return res
            url = c.gateways["main"][1] + "/v1/predict"
            if header := c.authorization():
                lua = c.root / "post.lua"  # the same request, with the credential
                lua.write_text(f'{LUA}wrk.headers["Authorization"] = "{header}"\n')
            if args.warmup:
                wrk(url, lua, args.warmup, args.connections, args.threads)
            res, out = wrk(url, lua, args.duration, args.connections, args.threads)
            (c.root / "wrk.txt").write_text(out)
            print(out, flush=True)
            return res
        finally:
            c.procs.stop_all()

    scale_rows: list[tuple[str, int, dict | None]] = []

    def scale(gateway: str, transport: str, name: str) -> None:
        """One stack, measured with each worker count in turn (more worker
        processes join between the runs)."""
        c = Combo(ctx, gateway, transport, name=name)
        c.answers = args.answers
        c.root.mkdir(parents=True, exist_ok=True)
        done = 0
        try:
            if not bring_up(c):
                return
            url = c.gateways["main"][1] + "/v1/predict"
            lua = plain_lua
            if header := c.authorization():
                lua = c.root / "post.lua"
                lua.write_text(f'{LUA}wrk.headers["Authorization"] = "{header}"\n')
            assert c.worker is not None
            workers = [c.worker]
            for n in counts:
                while len(workers) < n:
                    workers.append(c.start_worker(f"worker-{len(workers) + 1}"))
                if not c.check(
                    f"scale: {n} worker(s) joined",
                    lambda n=n: c.wait_worker_ready(workers[-1], n=n),
                ):
                    return
                if args.warmup:
                    wrk(url, lua, args.warmup, args.connections, args.threads)
                # this bus's broker only (another one would count as "other")
                services = [*c.procs.started, *([c.broker.proc] if c.broker else [])]
                meter = CpuMeter({p.name: p.pid for p in services if p.alive()})
                meter.start()
                res, out = wrk(url, lua, args.duration, args.connections, args.threads)
                res["cores"] = meter.stop()
                (c.root / f"wrk-{n}.txt").write_text(out)
                dead = [w.name for w in workers if not w.alive()]
                if dead:
                    print(f"{name}: {', '.join(dead)} exited during the run", flush=True)
                    return
                print(
                    f"{name} x{n} workers: {predictions_per_s(res):.0f} predictions/s, "
                    f"p50 {res['p50']:.2f} ms, p99 {res['p99']:.2f} ms, non-2xx {res['non2xx']}, "
                    + ", ".join(f"{k} {v:.2f}" for k, v in res["cores"].items())
                    + " cores",
                    flush=True,
                )
                scale_rows.append((name, n, res))
                done += 1
        finally:
            scale_rows.extend((name, n, None) for n in counts[done:])
            c.procs.stop_all()
            # each bus is measured once: its broker would only take CPU from the next
            if c.bus_kind and (b := brokers.started.pop(c.bus_kind, None)):
                b.proc.stop(timeout=30)

    try:
        for gateway, transport, *auth in COMBOS:
            if auth:
                continue
            name = combo_name(gateway, transport)
            if name not in chosen:
                continue
            if counts:
                scale(gateway, transport, name)
                continue
            for tag, answers in variants:
                rows.append((name + tag, measure(gateway, transport, name + tag, answers)))
    except KeyboardInterrupt:
        print("interrupted")
    finally:
        end_measuring(ctx, lock, args.keep)

    if counts:
        print(
            f"\nscale-out: wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
            f"(after {args.warmup}s warm-up) per row, POST /v1/predict one iris row, the workers' "
            f"default settings, {os.cpu_count()} cores shared by wrk and all services"
            + "".join(f", --set {a}" for a in args.answers)
            + f"; load average {os.getloadavg()[0]:.2f} at the end\n"
        )
        print(scale_tables(scale_rows, counts))
        return 0 if scale_rows and all(r is not None for _, _, r in scale_rows) else 1
    if args.sse:
        print_sse(rows, args)
        return 0 if all(r is not None for _, r in rows) else 1
    print(
        f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
        f"(after {args.warmup}s warm-up), POST /v1/predict one iris row, "
        f"{os.cpu_count()} cores shared by wrk and all services"
        + "".join(f", --set {a}" for a in args.answers)
        + (f"; NAME-against: also {', '.join(args.against)}" if args.against else "")
        + "\n"
    )
    head = (
        f"{'combination':<26} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} "
        f"{'non-2xx':>8}  socket errors"
    )
    print(head)
    print("-" * len(head))
    for name, r in rows:
        if r is None:
            print(f"{name:<26} {'(did not start: see the checks above)':>45}")
            continue
        print(
            f"{name:<26} {r['rps']:>9.1f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['requests']:>9} "
            f"{r['non2xx']:>8}  {r['errors'] or '-'}"
        )
    if args.against:
        got = dict(rows)
        print(f"\n{'combination':<26} {'req/s':>9} {'-against':>9} {'ratio':>7}")
        for name, r in rows:
            base = got.get(f"{name}-against")
            if name.endswith("-against") or r is None or base is None:
                continue
            print(f"{name:<26} {r['rps']:>9.1f} {base['rps']:>9.1f} {r['rps'] / base['rps']:>7.2f}")
    return 0 if all(r is not None for _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
