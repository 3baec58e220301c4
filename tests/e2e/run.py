#!/usr/bin/env python3
"""braid's end-to-end harness: generate, install, lint, test, validate, run.

For each gateway (go, node with Fastify, node with Express: `node-express`)
x transport (http, redis-streams, rabbitmq, kafka): `braid new`
into a temp dir with a hostile description, install the generated services,
lint them, run their own tests against a real redis-server / rabbitmq-server /
Kafka (one broker of each kind per run, started when a combination first
needs it, each combination under its own BUS_PREFIX), validate the
compose file, Dockerfiles and workflow with their ecosystems' validators,
start everything natively on free ports and check the gateway contract
(docs/ml-gateway-contract.md), then the crash, poison and expiry tests of
Redis Streams or the bus. Afterwards the Go and Node.js gateways' answers
are compared, transport by transport.

The regeneration scenario (`--combo regen`) generates go/http, edits the
gateway and the README by hand, switches braid.toml's transport through
redis-streams, kafka, http and rabbitmq with a `braid regen` each time, and
puts the result through every go/rabbitmq phase with the hand edits present
(harness/regen.py).

    python3 tests/e2e/run.py [--combo go-http ...] [--quick] [--keep] [--skip-deps] [--fresh-venvs]

`--combo static-all` generates all 144 combinations of every option and runs
the static validators once per distinct file (harness/static_matrix.py).

Standard library only. Prints one line per check, a timing table, and ends
with `N passed, N failed`; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from harness import procs  # noqa: E402
from harness.brokers import Brokers  # noqa: E402
from harness.combo import COMBOS, HOSTILE_DESCRIPTION, Combo, Context, combo_name, parity  # noqa: E402
from harness.regen import RegenCombo  # noqa: E402
from harness.report import Reporter  # noqa: E402
from harness.static_matrix import NAME as STATIC_ALL  # noqa: E402
from harness.static_matrix import StaticMatrix  # noqa: E402

ALIASES = {
    "go-streams": "go-redis-streams",
    "node-streams": "node-redis-streams",
    "node-express-streams": "node-express-redis-streams",
    "regen-go-http-to-streams": RegenCombo.NAME,
    "regen": RegenCombo.NAME,
}
# --quick: one combination per transport, every gateway at least once.
QUICK = ["go-http", "node-redis-streams", "node-express-rabbitmq", "go-kafka"]


def parse_args(argv):
    names = [combo_name(*c) for c in COMBOS] + [RegenCombo.NAME, STATIC_ALL]
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--combo",
        action="append",
        metavar="NAME",
        help=f"run only these combinations (repeatable): {', '.join(names)}",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"only {', '.join(QUICK)} (unless --combo names others)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=int(os.environ.get("BRAID_E2E_JOBS", "1")),
        metavar="N",
        help="run N tasks at once: a combination's preparing (generate, install, static, "
        "lint, test), static-all, or a combination's runtime phases, which time things "
        "and never run beside another's (default 1, or $BRAID_E2E_JOBS)",
    )
    p.add_argument(
        "--serial-runtime",
        action="store_true",
        help="with --jobs: run the runtime phases only once every combination is "
        "prepared, with nothing else of the harness's running beside them",
    )
    p.add_argument("--keep", action="store_true", help="keep the temp dirs (repos, logs)")
    p.add_argument(
        "--skip-deps",
        action="store_true",
        help="do not run scripts/e2e-deps.sh (tools must be on PATH)",
    )
    p.add_argument(
        "--fresh-venvs",
        action="store_true",
        help="build the ML venvs in the temp dir instead of reusing the cached ones "
        "(cached by a hash of uv.lock)",
    )
    p.add_argument(
        "--workdir",
        help="make a fresh temp dir under this one (default: the fixed "
        "$TMPDIR/braid-e2e-work, wiped at the start of each run)",
    )
    args = p.parse_args(argv)
    chosen = []
    for c in args.combo or (QUICK if args.quick else names):
        c = ALIASES.get(c, c)
        if c not in names:
            p.error(f"unknown combination {c!r}; choose from {', '.join(names)}")
        chosen.append(c)
    args.combos = [gt for gt in COMBOS if combo_name(*gt) in chosen]
    args.regen = RegenCombo.NAME in chosen
    args.static_all = STATIC_ALL in chosen
    return args


def chosen_names(args) -> list[str]:
    extra = [RegenCombo.NAME] * args.regen + [STATIC_ALL] * args.static_all
    return [combo_name(*c) for c in args.combos] + extra


def cache_dir() -> Path:
    base = os.environ.get("BRAID_E2E_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "braid-e2e"
    )
    return Path(base)


def setup_tools(rep: Reporter, cache: Path, skip: bool) -> bool:
    """Install/check the harness's tools; put the cached ones on PATH."""
    os.environ["PATH"] = f"{cache / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    # the Kafka broker's jars (e2e-deps.sh), for the harness's broker and the
    # generated repos' scripts/with-kafka.sh alike
    os.environ.setdefault("KAFKA_CLASSPATH", str(cache / "kafka-4.1.1"))
    if not skip:
        t0 = time.monotonic()
        res = subprocess.run(
            ["bash", str(REPO / "scripts" / "e2e-deps.sh")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=1800,
            env={**os.environ, "BRAID_E2E_CACHE": str(cache)},
        )
        out = res.stdout.decode(errors="replace").rstrip()
        if res.returncode != 0:
            rep.fail("setup: scripts/e2e-deps.sh", out)
            return False
        rep.ok("setup: scripts/e2e-deps.sh", f"{time.monotonic() - t0:.1f}s")
        rep.info("\n".join("    " + line for line in out.splitlines()[-8:]))
    missing = [
        t
        for t in (
            "redis-server",
            "redis-cli",
            "java",
            "hadolint",
            "actionlint",
            "composecheck",
            "uv",
            "zizmor",
            "go",
            "node",
            "npm",
            "make",
            "kubectl",
            "kubeconform",
            "kube-score",
        )
        if shutil.which(t) is None
    ]
    if missing:
        rep.fail("setup: tools on PATH", f"missing: {', '.join(missing)} (run scripts/e2e-deps.sh)")
        return False
    # The generated gateways target Node.js 24 LTS; e2e-deps.sh puts it first on PATH.
    node = subprocess.run(["node", "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    if not node.startswith("v24."):
        rep.fail(
            "setup: node 24 on PATH", f"`node --version` is {node!r} (run scripts/e2e-deps.sh)"
        )
        return False
    return True


def work_dir(parent: str | None):
    """The run's scratch dir. By default a fixed path, so that the generated
    repos land at the same place every run and Go's build cache (whose keys
    include source paths) stays warm; a second concurrent run, which cannot
    take the lock, gets a fresh temp dir instead."""
    if parent is not None:
        return Path(tempfile.mkdtemp(prefix="braid-e2e-", dir=parent)), None
    fixed = Path(tempfile.gettempdir()) / "braid-e2e-work"
    lock = open(Path(tempfile.gettempdir()) / "braid-e2e-work.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return Path(tempfile.mkdtemp(prefix="braid-e2e-")), None
    shutil.rmtree(fixed, ignore_errors=True)
    fixed.mkdir()
    return fixed, lock


def prune_venvs(venvs: Path, keep: int = 6) -> None:
    """Keep the cached ML venvs used most recently (each run touches the ones
    it uses); each combination's uv.lock names its own project, and a lock
    change makes a new one, so old ones pile up."""
    if not venvs.is_dir():
        return
    stamps = sorted(
        venvs.glob("*/.braid-e2e-complete"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    complete = {p.parent for p in stamps[:keep]}
    for d in venvs.iterdir():
        # openai-VERSION: the SDK of the chat phase (harness/chat.py), one for all
        if d.is_dir() and d not in complete and not d.name.startswith("openai-"):
            shutil.rmtree(d, ignore_errors=True)


def prep_order(combos: list[Combo]) -> list[Combo]:
    """The combinations round-robin across (transport, streaming), in their
    order within each, the slowest transports first. Those that share both
    share their services/ml, whose checks run once (Combo.ml_once): prepared
    side by side, the second would wait for the first's pytest with its slot
    idle; this way the first is done by the time the second gets there. The
    first two are of different gateways: two Go gateways prepared side by
    side on a fresh machine compile the same modules into a cold build cache
    twice (go build 60 s and go test -race 185 s each, ~50 s warm). The regen
    scenario comes last."""
    groups: dict[tuple[str, bool], list[Combo]] = {}
    # The slowest to prepare first (Kafka's suites, then RabbitMQ's...), so
    # that the last ones to finish are short.
    slowest = ("kafka", "rabbitmq", "redis-streams", "http")
    for c in sorted(combos, key=lambda c: slowest.index(getattr(c, "transport", "http"))):
        if not isinstance(c, RegenCombo):
            groups.setdefault((c.transport, c.streaming), []).append(c)
    ordered: list[Combo] = []
    while any(groups.values()):
        ordered += [g.pop(0) for g in groups.values() if g]
    other = next((c for c in ordered[1:] if c.gateway != ordered[0].gateway), None)
    if other is not None and ordered[1].gateway == ordered[0].gateway:
        ordered.remove(other)
        ordered.insert(1, other)
    return ordered + [c for c in combos if isinstance(c, RegenCombo)]


def run_combos(
    combos: list[Combo], static_all: StaticMatrix | None, jobs: int, overlap: bool = True
) -> None:
    """Every combination's phases. With jobs > 1, `jobs` tasks run at once,
    a task being one combination's preparing phases (generate, install,
    static, lint, test), static-all, or one combination's runtime phases.
    The runtime phases, whose checks measure time (deadlines, drains,
    keep-alive gaps, SIGKILL recovery), never run beside another
    combination's, and go first when a slot frees: with `overlap` they run
    beside at most jobs - 1 preparing tasks, as soon as their combination is
    prepared; without, once every combination is prepared, alone."""
    if jobs <= 1:
        for combo in combos:
            combo.run_all()
        if static_all is not None:
            static_all.run_all()
        return
    combos = prep_order(combos)
    try:
        if overlap:
            Schedule(combos, static_all, jobs).run()
        else:
            with ThreadPoolExecutor(jobs) as pool:
                side = pool.submit(static_all.run_all) if static_all is not None else None
                prepared = list(pool.map(lambda c: c.prepare(), combos))
                if side is not None:
                    side.result()
            for combo, ok in zip(combos, prepared, strict=True):
                if ok:
                    combo.exercise()
                combo.close()
    finally:
        for combo in combos:
            combo.close()


class Schedule:
    """`jobs` threads taking tasks: a prepared combination's runtime phases
    first (one combination's at a time), else the next to prepare (the
    combinations in order, then static-all).

    static-all comes last because it has no runtime phases: once every
    combination is prepared, the last ones' runtime phases run one at a time
    and mostly wait (idle gaps, deadlines, SIGKILL recovery), and static-all's
    few minutes of CPU fill that slot. Scheduled first, it held a slot while
    the runtime phases waited for a combination to prepare (CPU 30 % busy over
    the harness's last 400 s; a simulation of the measured phases: 1934 s ->
    1840 s)."""

    def __init__(self, combos: list[Combo], static_all: StaticMatrix | None, jobs: int) -> None:
        self.to_prepare: list = list(combos) + ([static_all] if static_all is not None else [])
        self.prepared: list[tuple[Combo, bool]] = []
        self.preparing = 0
        self.running = False  # a combination's runtime phases
        self.jobs = jobs
        self.cv = threading.Condition()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(self.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(0.2)  # a signal handler (Ctrl-C, SIGTERM) still runs meanwhile
        if self.errors:
            raise self.errors[0]

    def next_task(self):
        with self.cv:
            while True:
                if self.errors:
                    return None
                if self.prepared and not self.running:
                    self.running = True
                    return ("exercise", *self.prepared.pop(0))
                if self.to_prepare:
                    self.preparing += 1
                    return ("prepare", self.to_prepare.pop(0), None)
                if not self.prepared and not self.preparing:
                    return None  # nothing left that this thread could take
                self.cv.wait()

    def worker(self) -> None:
        while (task := self.next_task()) is not None:
            kind, item, ok = task
            try:
                if kind == "exercise":
                    if ok:
                        item.exercise()
                    item.close()
                elif isinstance(item, StaticMatrix):
                    item.run_all()
                else:
                    ok = item.prepare()
            except BaseException as e:  # noqa: BLE001 - handed to run()
                with self.cv:
                    self.errors.append(e)
                    self.cv.notify_all()
                return
            with self.cv:
                if kind == "exercise":
                    self.running = False
                else:
                    self.preparing -= 1
                    if not isinstance(item, StaticMatrix):
                        self.prepared.append((item, ok))
                self.cv.notify_all()


def find_braid() -> Path | None:
    p = Path(os.environ.get("BRAID_BIN") or REPO / "target" / "debug" / "braid")
    return p.resolve() if p.is_file() and os.access(p, os.X_OK) else None


def main(argv=None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    rep = Reporter()
    wall0 = time.monotonic()

    def on_signal(signum, frame):
        # Kill the children first: threads waiting on them return at once.
        procs.interrupt()
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)

    work, lock = work_dir(args.workdir)
    rep.info(f"braid e2e: combinations {', '.join(chosen_names(args))}; work dir {work}")
    interrupted = False
    brokers = None
    try:
        cache = cache_dir()
        t0 = time.monotonic()
        tools_ok = setup_tools(rep, cache, args.skip_deps)
        rep.timings.setdefault("setup", []).append(("setup", time.monotonic() - t0, tools_ok))
        braid = find_braid()
        if braid is None:
            rep.fail(
                "setup: braid binary",
                f"not found: set BRAID_BIN or build {REPO / 'target/debug/braid'}",
            )
        # Only the run that holds the fixed work dir prunes: a second run
        # at the same time (its own temp dir, or --workdir) shares the venv
        # cache, and pruning it would pull the venvs from under the first.
        if not args.fresh_venvs and lock is not None:
            prune_venvs(cache / "venvs")
        if tools_ok and braid is not None:
            sentinel = work / "sentinel"
            sentinel.mkdir()
            brokers = Brokers(work, dict(os.environ))
            ctx = Context(
                braid=braid,
                work=work,
                cache=cache,
                rep=rep,
                description=HOSTILE_DESCRIPTION,
                sentinel_dir=sentinel,
                venv_cache=None if args.fresh_venvs else cache / "venvs",
                brokers=brokers,
            )
            combos = [Combo(ctx, *c) for c in args.combos]
            combos += [RegenCombo(ctx)] if args.regen else []
            static_all = StaticMatrix(braid, work, rep, ctx.base_env()) if args.static_all else None
            run_combos(combos, static_all, args.jobs, overlap=not args.serial_runtime)
            parity(rep, ctx)
    except KeyboardInterrupt as e:
        interrupted = True
        rep.fail("harness", f"interrupted ({e or 'Ctrl-C'}); stopping every process")
    finally:
        if brokers is not None:
            for kind, secs in brokers.secs.items():
                rep.info(f"{kind} broker of the run started in {secs:.1f}s")
            brokers.stop()
        procs.kill_all()
        if args.keep:
            rep.info(f"\nkept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        if lock is not None:
            lock.close()
    timings = {k: v for k, v in rep.timings.items() if k != "setup"}
    setup = rep.timings.get("setup")
    rep.timings = timings
    if setup:
        rep.info(f"\nsetup (tools) took {setup[0][1]:.1f}s")
    rep.summary(time.monotonic() - wall0)
    return 1 if rep.failed or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
