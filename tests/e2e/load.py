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
import statistics
import time
import re
import shutil
import signal
import subprocess
import sys
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


def wrk(url: str, lua: Path, duration: int, conns: int, threads: int) -> tuple[dict, str]:
    cmd = [
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
    args = p.parse_args()
    chosen = [ALIASES.get(c, c) for c in (args.combo or names)]
    for c in chosen:
        if c not in names:
            p.error(f"unknown combination {c!r}")

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

    rep = Reporter()
    work, lock = work_dir(None)
    plain_lua = work / "post.lua"
    plain_lua.write_text(LUA)
    ctx = Context(
        braid=braid,
        work=work,
        cache=cache,
        rep=rep,
        description=HOSTILE_DESCRIPTION,
        sentinel_dir=work,
        venv_cache=cache / "venvs",
        # RabbitMQ and Kafka: one broker each for the run, as run.py starts them
        brokers=(brokers := Brokers(work, dict(os.environ))),
    )
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
            ok = c.generate()
            if ok and c.bus_kind:
                c.get_broker()  # the run's RabbitMQ or Kafka, started once
            if ok:
                _, c.redis = start_redis(c.procs, procs.free_port(), c.root / "redis")
                c.install()
                ok = c.ml_ok and c.gw_ok and c.start()
            if not ok:
                return None
            if args.sse:
                base = c.gateways["main"][1]
                if args.warmup:
                    sse_load(base, c.authorization(), args.warmup, args.streams, args.max_tokens)
                res = sse_load(base, c.authorization(), args.duration, args.streams, args.max_tokens)
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

    try:
        for gateway, transport, *auth in COMBOS:
            if auth:
                continue
            name = combo_name(gateway, transport)
            if name not in chosen:
                continue
            for tag, answers in variants:
                rows.append((name + tag, measure(gateway, transport, name + tag, answers)))
    except KeyboardInterrupt:
        print("interrupted")
    finally:
        brokers.stop()
        procs.kill_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if lock is not None:
            lock.close()

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
