"""The Python service's toolchain and the repo's infrastructure, checked for real.

- install: `uv sync --frozen` into a venv cached by the hash of uv.lock (each
  combination's lock names its own project, so each has its own venv), linked
  as services/ml/.venv so that the Makefile and scripts/dev.sh find it. Unlike
  `make install-ml` it does not compile the venv's ~3,650 files ahead (40 s a
  combination under CI's load): the harness's processes run without
  PYTHONDONTWRITEBYTECODE (Context.base_env), so the first one to import a
  module writes its bytecode, and the others use it;
- static: `scripts/dev.sh env` creates .env as a user's first `make dev` does;
  zizmor audits .github (workflow and dependabot.yml) offline: zero findings;
  shellcheck passes every script;
- lint: mypy --strict with the config in pyproject.toml;
- test (redis-streams): `make test-ml` with no REDIS_URL in the environment
  runs the Redis tests against a redis-server of its own (scripts/with-redis.sh):
  none is skipped;
- make-dev: `make dev` on free ports waits for the stack, prints the URL only
  once a request gets its answer and the ML service's /readyz is 200, and
  Ctrl-C (SIGINT to its process group, as a terminal sends it) stops every
  service cleanly within seconds: the gateway drains and logs it, every exit
  status is 0 or 130, nothing keeps listening; scripts/smoke.sh, which CI runs
  against both stacks, passes against it; it runs one ML process (.env leaves
  ML_WORKERS to dev.sh).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from . import secrets_checks
from .httpc import authorize, get, post_json
from .procs import claim_port, free_port, must, wait_until
from .report import CheckFailed, expect

if TYPE_CHECKING:
    from .combo import Combo

# `make install-ml` without `--compile-bytecode` (see the module docstring).
# Bytecode still matters: an ML process that compiles scikit-learn, SciPy and
# FastAPI from source imports them in ~9 s, not ~3 s.
UV_SYNC = ("sync", "--frozen")

# How long Ctrl-C may take to stop the whole stack (no request in flight).
CTRL_C_BUDGET_S = 8.0


def uv_env(cache: Path) -> dict[str, str]:
    """uv's settings for every command the harness runs: the Python >= 3.12 that
    scripts/e2e-deps.sh found (uv never downloads one), quiet output."""
    env = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    python = cache / "bin" / "python-ml"
    if python.exists():
        env["UV_PYTHON"] = str(python.resolve())
    return env


def _lock_key(combo: Combo) -> str:
    h = hashlib.sha256((combo.ml / "uv.lock").read_bytes())
    h.update((combo.ml / "pyproject.toml").read_bytes())
    h.update(uv_env(combo.ctx.cache).get("UV_PYTHON", "").encode())
    h.update(" ".join(UV_SYNC).encode())
    return h.hexdigest()[:16]


def install_ml(combo: Combo) -> bool:
    key = _lock_key(combo)
    venv = combo.ctx.venvs.get(key) or (combo.ctx.venv_cache or combo.ctx.work / "venvs") / key
    stamp = venv / ".braid-e2e-complete"
    reused = stamp.exists()

    combo.check(
        "ml: uv.lock matches pyproject.toml (uv lock --check --offline)",
        lambda: must(combo.run(["uv", "lock", "--check", "--offline"], combo.ml, timeout=120)),
    )

    def sync() -> str:
        env = combo.env(UV_PROJECT_ENVIRONMENT=venv)
        res = combo.run(["uv", *UV_SYNC], combo.ml, env, timeout=1200)
        must(res)
        link = combo.ml / ".venv"
        if link.is_symlink() or link.exists():
            if link.resolve() != venv.resolve():
                raise CheckFailed(f"{link} exists and is not the harness's venv {venv}")
        else:
            link.symlink_to(venv)
        stamp.touch()
        combo.venv = venv
        combo.ctx.venvs[key] = venv
        how = "cached venv (same uv.lock)" if reused else "new venv"
        return f"{res.secs:.0f}s, {how}"

    what = f"ml: uv {' '.join(UV_SYNC)} (uv.lock, as make install-ml but not compiled)"
    if not combo.check(what, sync):
        return False

    def importable() -> None:
        must(combo.run(["python", "-c", f"import {combo.pkg}"], combo.ml, combo.ml_env(), 60))

    return combo.check(f"ml: python -c 'import {combo.pkg}'", importable)


def static(combo: Combo) -> None:
    env = combo.ctx.base_env()
    combo.check(
        "scripts/dev.sh env creates .env",
        lambda: must(combo.run(["scripts/dev.sh", "env"], combo.repo, env, timeout=30)),
    )

    def zizmor() -> str:
        if shutil.which("zizmor") is None:
            raise CheckFailed("zizmor is not on PATH (scripts/e2e-deps.sh installs it)")
        res = combo.run(
            ["zizmor", "--offline", "--no-progress", "--format", "plain", ".github"],
            combo.repo,
            env,
            timeout=120,
        )
        must(res)
        expect("No findings" in res.output, f"zizmor found something:\n{res.output}")
        return res.output.strip().splitlines()[-1]

    combo.check("zizmor .github (workflow, dependabot.yml): no findings", zizmor)

    def shellcheck() -> str:
        if shutil.which("shellcheck") is None:
            raise CheckFailed("shellcheck is not on PATH (scripts/e2e-deps.sh installs it)")
        scripts = sorted(str(p.relative_to(combo.repo)) for p in combo.repo.glob("scripts/*.sh"))
        must(combo.run(["shellcheck", *scripts], combo.repo, env, timeout=120))
        return ", ".join(scripts)

    combo.check("shellcheck scripts/*.sh", shellcheck)


def lint(combo: Combo) -> None:
    combo.ml_once(
        "ml: mypy --strict (pyproject.toml)",
        lambda: must(combo.run(["python", "-m", "mypy"], combo.ml, timeout=600)),
    )


def make_test_without_redis_url(combo: Combo) -> None:
    """The worker's tests (those that need Redis) through the repo's own Makefile,
    as a user runs them: REDIS_URL unset, nothing skipped."""
    if not combo.worker_based:
        return
    var = combo.test_var
    # tests that need the broker: the point is the script that starts one
    # (with-redis.sh, with-rabbitmq.sh, with-kafka.sh); the whole suite ran
    # against the harness's broker. The bus module's (tests/test_bus.py, whose
    # readiness tests need the broker): the worker's take minutes on a second
    # broker competing for the machine's two cores (over Redis Streams, 70 s)
    select = " -k test_bus"

    def go() -> str:
        env = combo.env(PYTEST_ADDOPTS=f"-p no:cacheprovider -rs{select}")
        env.pop(var, None)
        res = combo.run(["make", "test-ml"], combo.repo, env, timeout=900)
        must(res)
        summary = re.findall(r"^=+ (.*(?:passed|failed).*) =+$", res.output, re.M)
        expect(summary, f"no pytest summary:\n{res.output[-2000:]}")
        tail = res.output[-3000:]
        expect("skipped" not in summary[-1], f"tests were skipped: {summary[-1]}\n{tail}")
        expect(" passed" in summary[-1], summary[-1])
        return summary[-1]

    own = {"REDIS_URL": "redis-server", "RABBITMQ_URL": "rabbitmq-server"}.get(var, "Kafka")
    combo.ml_once(f"make test-ml without {var}: the broker's tests run (own {own})", go)


def _amqp_port() -> int:
    """A free port for a RabbitMQ node whose Erlang distribution port, which
    RabbitMQ puts at the AMQP port + 20000 unless told otherwise (dev.sh does
    not tell it), is free and valid too."""
    for _ in range(100):
        port = random.randint(20000, 45000)
        if claim_port(port + 20000) and claim_port(port):
            return port
    raise CheckFailed("no free port pair for RabbitMQ (AMQP, AMQP + 20000)")


def make_dev(combo: Combo) -> None:
    """`make dev` then Ctrl-C: see the module docstring."""
    ports = {
        "GATEWAY_PORT": free_port(),
        "GATEWAY_METRICS_PORT": free_port(),  # the gateway's metrics listener
        "ML_PORT": free_port(),
    }
    env = combo.env(
        **ports,
        GATEWAY_HOST="127.0.0.1",
        ML_HOST="127.0.0.1",
        LOG_LEVEL="info",
        GATEWAY_SHUTDOWN_TIMEOUT_MS=3000,
    )
    if combo.uses_redis:
        ports["REDIS"] = free_port()
        password = secrets.token_hex(8)
        env["REDIS_URL"] = f"redis://:{password}@127.0.0.1:{ports['REDIS']}/0"
    if combo.streams:
        env["STREAM_PREFIX"] = f"{combo.prefix}dev"
    if combo.bus_kind:
        # scripts/dev.sh starts a broker of its own where the URL points
        env["BUS_PREFIX"] = f"{combo.prefix}dev"
        if combo.bus_kind == "rabbitmq":
            ports["BROKER"] = _amqp_port()
            password = secrets.token_hex(8)
            env["RABBITMQ_URL"] = f"amqp://e2e:{password}@127.0.0.1:{ports['BROKER']}/"
        else:
            ports["BROKER"] = free_port()
            env["KAFKA_BOOTSTRAP_SERVERS"] = f"127.0.0.1:{ports['BROKER']}"
    base = f"http://127.0.0.1:{ports['GATEWAY_PORT']}"
    key = secrets_checks.make_api_key(combo)  # creates .env, as a user would first
    if key is not None:
        authorize(base, f"Bearer {key}")
        env["API_KEY"] = key  # scripts/smoke.sh sends it
    if combo.auth == "jwt":
        # .env names no identity provider: make dev runs the development one
        # (scripts/dev-idp.py), and `make token` signs with its key.
        ports["DEV_IDP_PORT"] = free_port()
        env["DEV_IDP_PORT"] = str(ports["DEV_IDP_PORT"])
        key = _dev_token(combo, env)
        if key is not None:
            authorize(base, f"Bearer {key}")
            env["TOKEN"] = key  # scripts/smoke.sh sends it
    proc = combo.procs.start("make-dev", ["make", "dev"], combo.repo, env)

    def log() -> str:
        return proc.log.read_text(errors="replace")

    def ready() -> str:
        t0 = time.monotonic()
        wait_until(
            lambda: f"dev.sh: ready: {base}" in log(),
            timeout=240,
            interval=0.2,
            what=f"make dev to print 'ready: {base}'",
            proc=proc,
        )
        secs = time.monotonic() - t0
        # Ready means every HTTP service is up: the ML service's /readyz too
        # (over a bus the gateway's does not ask it).
        r = get(f"http://127.0.0.1:{ports['ML_PORT']}", "/readyz", timeout=5, auth=False)
        expect(r.status == 200, f"the ML service's /readyz at 'ready': {r.short()}")
        return f"after {secs:.1f}s; the ML service's /readyz 200"

    if not combo.check(
        "make dev: prints the URL once the gateway's and the ML service's /readyz are 200", ready
    ):
        proc.stop(timeout=20)
        return

    def first_request() -> str:
        # Ready means answered: the very first request gets its 200.
        r = post_json(base, "/v1/predict", {"instances": [[5.1, 3.5, 1.4, 0.2]]}, timeout=10)
        expect(r.status == 200, f"first request after 'ready': {r.short()}")
        return f"200 in {r.secs * 1000:.0f}ms"

    combo.check("make dev: the first request after 'ready' is a 200", first_request)

    def smoke() -> str:
        for tool in ("curl", "jq"):
            if shutil.which(tool) is None:
                raise CheckFailed(f"{tool} is not on PATH (scripts/smoke.sh needs it)")
        return must(combo.run(["scripts/smoke.sh", base], combo.repo, env, timeout=60))

    combo.check("scripts/smoke.sh against make dev (what CI runs)", smoke)

    def ctrl_c() -> str:
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        try:
            rc = proc.popen.wait(timeout=CTRL_C_BUDGET_S + 30)
        except Exception:  # noqa: BLE001
            rc = None
        secs = time.monotonic() - t0
        text = log()
        proc.kill_group()
        errs = []
        if rc is None:
            errs.append(f"make dev still running {CTRL_C_BUDGET_S + 30:.0f}s after SIGINT")
        elif secs > CTRL_C_BUDGET_S:
            errs.append(f"stopping took {secs:.1f}s (budget {CTRL_C_BUDGET_S:.0f}s)")
        stopped = dict(re.findall(r"dev\.sh: (\S+) stopped \(exit status (\d+)\)", text))
        want = ["gateway", "ml"] + (["worker"] if combo.worker_based else [])
        want += ["redis"] if combo.uses_redis else []
        want += [combo.bus_kind] if combo.bus_kind else []
        want += ["idp"] if combo.auth == "jwt" else []
        for name in want:
            if name not in stopped:
                errs.append(f"no 'dev.sh: {name} stopped (exit status N)' line")
            elif stopped[name] not in ("0", "130"):
                own = [ln for ln in text.splitlines() if ln.startswith(f"{name} ")][-15:]
                errs.append(
                    f"{name} exited with status {stopped[name]} (want 0 or 130); its last lines:\n"
                    + "\n".join(own)
                )
        if re.search(r"did not stop in|killing it", text):
            errs.append("dev.sh had to SIGKILL a service")
        gw_lines = [ln for ln in text.splitlines() if ln.startswith("gateway ")]
        if not any(re.search(r"drain|shutting down|stopped", ln, re.I) for ln in gw_lines):
            errs.append("no drain/stop log line from the gateway (its last lines were lost?)")
        for name, port in ports.items():
            if _listening(port):
                errs.append(f"port {port} ({name}) still accepts connections")
        if errs:
            raise CheckFailed("\n".join(errs) + f"\n--- make dev log tail:\n{proc.log_tail(40)}")
        codes = ", ".join(f"{k} {v}" for k, v in stopped.items())
        return f"stopped in {secs:.1f}s; make exit {rc}; {codes}"

    combo.check("make dev: Ctrl-C stops every service cleanly (gateway drains first)", ctrl_c)

    def one_ml_process() -> str:
        # .env exists (as after a user's first `make dev`): what it sets wins
        # over dev.sh's defaults, so it must leave ML_WORKERS unset. Several
        # processes (each importing scikit-learn) took make dev over its
        # Ctrl-C budget on a loaded machine.
        ml = [ln for ln in log().splitlines() if ln.startswith("ml ")]
        expect(ml, "no line from the ML service in make dev's log")
        many = [ln for ln in ml if re.search(r"child process|parent process", ln)]
        expect(not many, "make dev ran several ML processes:\n" + "\n".join(many[:4]))
        return f"{len(ml)} ml lines, one process"

    combo.check(
        "make dev: one ML process with .env present (ML_WORKERS unset in it)", one_ml_process
    )
    secrets_checks.scan(combo, [key] if key else [])


def _dev_token(combo: Combo, env: dict[str, str]) -> str | None:
    """`make token SUB=e2e`: a token of the development identity provider
    (its keys made on the way), as stdout's last line."""
    box: dict[str, str] = {}

    def token() -> str:
        cmd = ["make", "--no-print-directory", "token", "SUB=e2e"]
        res = subprocess.run(
            cmd, cwd=combo.repo, env=env, capture_output=True, text=True, timeout=60
        )
        expect(res.returncode == 0, f"make token exit {res.returncode}:\n{res.stderr[-1500:]}")
        last = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
        expect(re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", last), f"not a JWT: {last[:60]!r}")
        box["token"] = last
        return f"{len(last)} characters"

    combo.check("make token SUB=e2e: a token of the development identity provider", token)
    return box.get("token")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0
