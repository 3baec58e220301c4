#!/usr/bin/env python3
"""Load measurement (not a test): wrk against each combination's gateway.

For each gateway x transport: `braid new`, install, train, start the
services natively (as run.py does), then `wrk --latency` with a Lua POST
script, the same settings for all four, and print one table:

    python3 tests/e2e/load.py [--combo go-http ...] [--duration 20]
                              [--connections 32] [--threads 2] [--keep]
                              [--set rate_limit=0 ...]

Everything (wrk, gateway, ML service or worker, redis) shares this one
machine, so the numbers compare the combinations with each other; they are
not capacity figures. Needs wrk (scripts/e2e-deps.sh --load installs it).
`--set KEY=VALUE` passes an answer to `braid new` (`rate_limit=0`: no rate
limiter, to measure what it costs); with a limiter, the gateway's limit is
too high to reach (GATEWAY_RATE_LIMIT=1000000): every request still spends
its budget in Redis, none is refused. `--against KEY=VALUE` measures each
combination a second time with those answers added, in the same run, and
prints the ratio: `--against auth=none --against rate_limit=0` is what the
gateway's edge duties cost.
"""

from __future__ import annotations

import argparse
import os
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
    args = p.parse_args()
    chosen = [ALIASES.get(c, c) for c in (args.combo or names)]
    for c in chosen:
        if c not in names:
            p.error(f"unknown combination {c!r}")

    cache = cache_dir()
    os.environ["PATH"] = f"{cache / 'bin'}{os.pathsep}{os.environ['PATH']}"
    if not args.skip_deps:
        subprocess.run(["bash", str(REPO / "scripts" / "e2e-deps.sh"), "--load"], check=True)
    braid = find_braid()
    if braid is None or shutil.which("wrk") is None:
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
    )
    rows = []
    variants = [("", args.answers)]
    if args.against:
        variants.append(("-against", [*args.answers, *args.against]))

    def measure(gateway: str, transport: str, name: str, answers: list[str]) -> dict | None:
        c = Combo(ctx, gateway, transport, name=name)
        c.answers = answers
        lua = plain_lua
        c.root.mkdir(parents=True, exist_ok=True)
        try:
            ok = c.generate()
            if ok:
                _, c.redis = start_redis(c.procs, procs.free_port(), c.root / "redis")
                c.install()
                ok = c.ml_ok and c.gw_ok and c.start()
            if not ok:
                return None
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
        procs.kill_all()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if lock is not None:
            lock.close()

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
