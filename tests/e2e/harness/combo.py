"""One gateway x transport combination, phase by phase.

generate -> install -> lint -> test -> static -> start -> contract -> chat ->
streams (redis-streams) or bus (rabbitmq, kafka) -> shutdown -> make-dev.
Each phase is timed; a phase that the next ones need (generate, install,
start) stops the combination when it fails, the others only fail their own
checks.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import secrets
import signal
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import (
    batching,
    bus,
    chat,
    contract,
    go_gateway,
    idle,
    jwks,
    jwt_checks,
    k8s_checks,
    pyinfra_checks,
    ratelimit,
    rootdocs_checks,
    streams,
)
from .brokers import Broker, Brokers
from .httpc import HttpError, authorize, post_json, request, status_is
from .procs import Proc, Procs, closed_port, free_port, must, run, wait_until
from .redisc import Redis, start_redis
from .report import CheckFailed, Reporter, expect
from .slowserver import SlowServer
from .streams_recovery import run_all as stream_recovery_checks

# A description that breaks every naive template: quotes, backslashes, a
# newline, YAML/TOML/shell/Jinja/GitHub-expression syntax, comment openers
# and closers, non-ASCII. The `$(...)` and backticks would create SENTINEL
# files if a shell ever evaluated the text.
HOSTILE_DESCRIPTION = (
    "Hostile \"double\" 'single' back\\slash \\n \\u0041 tab\there\n"
    "second line # not a comment: key: value - [x] {a: b} "
    "{{ jinja }} {% raw %} {# c #} ${{ github.token }} ${HOME} "
    "$(touch SENTINEL) `touch SENTINEL` */ /* \"\"\" ''' <!-- --> </script> %s "
    "café ☃ 日本語 ü"
)

STREAM_TIMEOUT_MS = 5000
# Over Kafka a SIGKILLed worker's records wait for its session (6 s) and a
# rebalance: the generated default GATEWAY_UPSTREAM_TIMEOUT_MS is 15000 there.
KAFKA_TIMEOUT_MS = 15000
BUSES = ("rabbitmq", "kafka")

# Environment variables the generated services read: never inherited.
_SERVICE_VARS = re.compile(
    r"^(GATEWAY_|ML_|REDIS_|STREAM_|BUS_|RABBITMQ_|KAFKA_(?!CLASSPATH$|HOME$)|LOG_LEVEL$|VIRTUAL_ENV$|PYTHONPATH$"
    r"|NODE_ENV$|PORT$|HOST$)"
)


@dataclass
class Context:
    braid: Path
    work: Path
    cache: Path
    rep: Reporter
    description: str
    sentinel_dir: Path
    venv_cache: Path | None = None  # keep venvs here across runs (keyed by uv.lock's hash)
    venvs: dict[str, Path] = field(default_factory=dict)
    records: dict[str, dict[str, dict]] = field(default_factory=dict)
    prediction_bodies: dict[str, bytes] = field(default_factory=dict)
    # (check, services/ml's fingerprint) -> the combination it passed in: the
    # ML service is the same code in every combination of one transport (and
    # streaming answer) but the project's name, so its slow checks run once.
    ml_passed: dict[tuple[str, str], str] = field(default_factory=dict)
    # the run's RabbitMQ and Kafka, started when a combination first needs one
    brokers: Brokers | None = None

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not _SERVICE_VARS.match(k)}
        env["PYTHONUNBUFFERED"] = "1"
        # Python writes the bytecode of what it imports, once per venv: the
        # harness does not compile its venvs ahead (pyinfra_checks.UV_SYNC).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env.update(pyinfra_checks.uv_env(self.cache))
        env["NO_COLOR"] = "1"
        env["npm_config_update_notifier"] = "false"
        env["npm_config_fund"] = "false"
        env["npm_config_audit"] = "false"
        return env


# A Node.js gateway's framework rides on its name: "node" is Fastify (the
# default), "node-express" Express.
# Every gateway x transport, with the api-key auth (the full contract suite,
# and the Go-vs-Node parity per transport).
COMBOS = [
    (gateway, transport)
    for transport in ("http", "redis-streams", "rabbitmq", "kafka")
    for gateway in ("go", "node", "node-express")
]
# auth = jwt (a third element: the auth answer), against harness/jwks.py's
# key set; they skip what the api-key combinations above cover (JWT_PHASES).
COMBOS += [("go", "http", "jwt")]
COMBOS += [("node-express", "redis-streams", "jwt")]
# auth = none: the rate limit per client address (harness/ratelimit.py
# per_ip), on the gateway and transport pairs the jwt ones leave: the buses,
# whose components differ with `streaming` (ml-python-rabbitmq vs
# ml-python-rabbitmq-chat, ...), while auth lives in the HTTP layer.
COMBOS += [("node", "rabbitmq", "none")]
COMBOS += [("go", "kafka", "none")]
# The pairwise choice of `streaming`: the auth = none combinations are
# generated with `--streaming false` (chat routes 404, nothing of chat in the
# root files: the `chat-off` phase); every other one streams (the default)
# and runs the `chat` phase (harness/chat.py).
STREAMING_OFF = {"node-rabbitmq-none", "go-kafka-none"}

# The phases of a JWT combination: installed, linted and tested as any, then
# the auth checks through the real gateway (harness/jwt_checks.py) instead
# of the whole contract and the streams' failures, which the api-key
# combinations of the same gateway and transport run; and make dev with
# the development identity provider (what the generated CI runs).
JWT_PHASES = ("static", "lint", "test", "start", "jwt", "chat", "shutdown", "make-dev")
# The phases of an auth = none combination: installed, linted and tested,
# then the rate limit (per client address) through the real gateway.
NONE_PHASES = ("static", "lint", "test", "start", "ratelimit", "chat-off", "shutdown")
# The runtime phases of every other combination.
PHASES = ("contract", "chat", "streams", "bus", "shutdown", "make-dev")
# `make dev` (scripts/dev.sh: brokers, services, the first request, Ctrl-C)
# runs in these and the JWT ones (go-http-jwt, node-express-redis-streams-jwt),
# and in the regen combination after each transport switch (Go): every
# gateway and every transport at least twice, not all twelve pairs (it took
# 280 s of CI's serial runtime for all of them; dev.sh's gateway part does
# not depend on the transport's).
MAKE_DEV = {"go-kafka", "node-http", "node-rabbitmq", "node-express-rabbitmq"}


def _code_of(source: bytes) -> bytes:
    """A Python file's syntax tree without its comments and docstrings (the
    source itself if it does not parse): the regen combination's scaffold
    files (model.py, textgen.py: yours once written) keep the docstrings of
    the transport they were first written for, and run the same."""
    try:
        tree = ast.parse(source, type_comments=True)  # keeps `# type: ignore`s
    except (SyntaxError, ValueError):
        return source
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            body[0] = ast.Pass()
    return ast.dump(tree).encode()


# ml_once's locks, one per (check, services/ml fingerprint).
_ML_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_ML_LOCKS_GUARD = threading.Lock()


def combo_name(gateway: str, transport: str, auth: str = "api-key") -> str:
    return f"{gateway}-{transport}" + ("" if auth == "api-key" else f"-{auth}")


class Combo:
    def __init__(
        self,
        ctx: Context,
        gateway: str,
        transport: str,
        auth: str = "api-key",
        name: str | None = None,
        project: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.rep = ctx.rep
        self.gateway, _, self.framework = gateway.partition("-")
        self.transport = transport
        self.name = name or combo_name(gateway, transport, auth)
        self.streams = transport == "redis-streams"
        # rabbitmq | kafka: the request/reply contract of Redis Streams on a broker
        self.bus_kind = transport if transport in BUSES else None
        # a worker answers (streams or a bus), not the ML service over HTTP
        self.worker_based = transport != "http"
        self.broker: Broker | None = None
        self.timeout_ms = KAFKA_TIMEOUT_MS if transport == "kafka" else STREAM_TIMEOUT_MS
        short = {"redis-streams": "streams"}.get(transport, transport)
        self.project = project or f"e2e-{gateway}-{short}" + (
            "" if auth == "api-key" else f"-{auth}"
        )
        self.root = ctx.work / self.name
        self.repo = self.root / "repo"
        self.ml = self.repo / "services" / "ml"
        self.gw = self.repo / "services" / "gateway"
        self.logs = self.root / "logs"
        self.procs = Procs(self.logs)
        self.cmdlog = self.logs / "commands.log"
        self.venv: Path | None = None
        self.pkg: str | None = None
        self.gw_bin: Path | None = None
        self.redis: Redis | None = None
        self.prefix = f"e2e{secrets.token_hex(3)}"
        self.ml_proc: Proc | None = None
        self.worker: Proc | None = None
        self.gateways: dict[str, tuple[Proc, str]] = {}
        self.metrics_bases: dict[str, str] = {}  # role -> base URL of its /metrics listener
        self.auth_answer = auth  # what `braid new` is told (--auth)
        self.phases = {"jwt": JWT_PHASES, "none": NONE_PHASES}.get(auth, PHASES)
        if auth == "api-key" and self.name not in MAKE_DEV:
            self.phases = tuple(p for p in self.phases if p != "make-dev")
        self.auth = "api-key"  # braid.toml's answer, read after generation
        # auth = jwt: the identity provider every gateway trusts, and the key
        # that signs the harness's token (start()).
        self.idp: jwks.Provider | None = None
        self.idp_key: jwks.Key | None = None
        self.token = ""
        # The key every gateway the harness starts accepts (auth = api-key):
        # GATEWAY_API_KEYS holds its hash; httpc sends it (httpc.authorize).
        self.api_key = secrets.token_urlsafe(32)
        # braid.toml's rate_limit (read after generation): > 0, the gateways
        # keep budgets in Redis, and the stack has a Redis whatever the transport.
        self.rate_limit = 0
        self.answers: list[str] = []  # more `--set KEY=VALUE` for braid new (load.py)
        self.streaming = self.name not in STREAMING_OFF  # what `braid new` is told (--streaming)
        self.worker_metrics: dict[str, str] = {}  # worker name -> base URL of its /metrics
        self.chat_env = chat.chat_ml_env()  # the ML processes' chat settings (load.py: its own)
        self.ml_ok = False  # ML package found, then installed
        self.gw_ok = False  # gateway installed (and built)

    # ------------------------------------------------------------ helpers
    def get_broker(self) -> str:
        assert self.ctx.brokers is not None and self.bus_kind is not None
        self.broker = self.ctx.brokers.get(self.bus_kind)
        return f"{self.broker.var}={self.broker.url.split('@')[-1]}; BUS_PREFIX={self.prefix}"

    def transport_env(self, prefix: str | None = None, url: str | None = None) -> dict[str, str]:
        """What a worker or gateway needs to reach the transport: the
        broker's address (or `url`) and the names' prefix."""
        prefix = prefix or self.prefix
        if self.streams:
            return {"REDIS_URL": url or self.redis.url, "STREAM_PREFIX": prefix}
        if self.bus_kind:
            assert self.broker is not None
            return {self.broker.var: url or self.broker.url, "BUS_PREFIX": prefix}
        return {}

    def busclient(self, command: str, **args) -> object:
        """harness/busclient.py COMMAND with the ML venv's own bus client."""
        assert self.broker is not None and self.venv is not None
        script = Path(__file__).with_name("busclient.py")
        # the address (with its password) in the environment: commands.log
        # records the command line, and no log may show the password
        res = self.run(
            [self.venv / "bin" / "python", script, self.bus_kind, command, json.dumps(args)],
            self.root,
            self.env(BUSCLIENT_URL=self.broker.url),
            timeout=120,
        )
        must(res)
        return json.loads(res.output.strip().splitlines()[-1])

    def label(self, what: str) -> str:
        return f"{self.name} {what}"

    def check(self, what: str, fn, *a, **kw) -> bool:
        return self.rep.check(self.label(what), fn, *a, **kw)

    def run(self, cmd, cwd, env=None, timeout=600.0):
        return run([str(c) for c in cmd], cwd, env or self.env(), timeout, self.cmdlog)

    def env(self, **extra) -> dict[str, str]:
        env = self.ctx.base_env()
        if self.venv is not None:
            env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            env["VIRTUAL_ENV"] = str(self.venv)
        env.update({k: str(v) for k, v in extra.items()})
        return env

    @property
    def test_var(self) -> str:
        """The variable that points the services' own tests at the transport."""
        return {"rabbitmq": "RABBITMQ_URL", "kafka": "KAFKA_BOOTSTRAP_SERVERS"}.get(
            self.transport, "REDIS_URL"
        )

    @property
    def uses_redis(self) -> bool:
        """The stack has a Redis: the transport's, or the rate limiter's."""
        return self.streams or self.rate_limit > 0

    def limit_env(self, redis_url: str | None = None) -> dict[str, str]:
        """What a gateway needs for its rate limiter: the harness's Redis, and
        a limit no check of the contract reaches (harness/ratelimit.py starts
        the gateways that it tests with a small one)."""
        if not self.rate_limit:
            return {}
        return {"REDIS_URL": redis_url or self.redis.url, "GATEWAY_RATE_LIMIT": "1000000"}

    def auth_env(self) -> dict[str, str]:
        """What a gateway needs to accept the harness's credential."""
        if self.auth == "api-key":
            return {"GATEWAY_API_KEYS": f"e2e:{hashlib.sha256(self.api_key.encode()).hexdigest()}"}
        if self.auth == "jwt" and self.idp is not None:
            return self.idp.env()
        return {}

    def authorization(self) -> str | None:
        """The Authorization header the harness's requests carry."""
        if self.auth == "api-key":
            return f"Bearer {self.api_key}"
        if self.auth == "jwt" and self.idp_key is not None:
            return f"Bearer {self.token}"
        return None

    def credential_env(self) -> dict[str, str]:
        """The shell variable the README tells the reader to export."""
        if self.auth == "jwt":
            return {"TOKEN": self.token}
        return {"API_KEY": self.api_key}

    def wants(self, phase: str) -> bool:
        return phase in self.phases

    def ml_fingerprint(self) -> str:
        """services/ml's files (what the generator wrote, no venv, model or
        cache) with the project's names replaced: equal for two combinations
        whose ML service differs only in its name."""
        skip = {".venv", "models", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__"}
        words = self.project.split("-")
        # the name, the Python package, and the title (docstrings, FastAPI's)
        names = [self.project, "_".join(words), " ".join(w.capitalize() for w in words)]
        h = hashlib.sha256()
        for p in sorted(self.ml.rglob("*")):
            rel = p.relative_to(self.ml)
            if skip & set(rel.parts) or not p.is_file():
                continue
            try:
                data = p.read_bytes()
            except FileNotFoundError:  # a tool's temp file, gone meanwhile
                continue
            path = str(rel).encode()
            for n, name in enumerate(names):
                path = path.replace(name.encode(), b"@%d@" % n)
                data = data.replace(name.encode(), b"@%d@" % n)
            if p.suffix == ".py":
                data = _code_of(data)
            h.update(b"%d:%s\0%d:" % (len(path), path, len(data)) + data)
        return h.hexdigest()

    def ml_once(self, what: str, fn, *a) -> bool:
        """check(what, fn), unless it passed this run on the same services/ml
        (ml_fingerprint) in another combination: then a PASS that names it."""
        key = (what, self.ml_fingerprint())
        # With --jobs, two combinations may reach the same check at once: the
        # second waits for the first's result instead of running it again.
        with _ML_LOCKS_GUARD:
            lock = _ML_LOCKS.setdefault(key, threading.Lock())
        with lock:
            if (other := self.ctx.ml_passed.get(key)) is not None:
                self.rep.ok(
                    self.label(what), f"services/ml as in {other} but the name: passed there"
                )
                return True
            ok = self.check(what, fn, *a)
            if ok:
                self.ctx.ml_passed.setdefault(key, self.name)
            return ok

    # ------------------------------------------------------------ phases
    def run_all(self) -> None:
        """Every phase that can run does: a service that failed to install is
        skipped in lint/test, the runtime phases need both services."""
        try:
            if self.prepare():
                self.exercise()
        finally:
            self.close()

    def close(self) -> None:
        self.procs.stop_all()
        if self.idp is not None:
            self.idp.close()

    def prepare(self) -> bool:
        """generate, install, static, lint, test: nothing timing-sensitive of
        the harness's own, so run.py --jobs 2 overlaps two combinations' here.
        True when both services are installed (the runtime phases can run)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        with self.rep.phase(self.name, "generate"):
            ok = self.generate()
        if not ok:
            self.rep.skip(self.label("remaining phases"), "generation failed")
            return False
        redis_port = free_port()
        self.redis_proc, self.redis = start_redis(self.procs, redis_port, self.root / "redis")
        if self.bus_kind and not self.check(
            f"{self.bus_kind} broker of the run is up", self.get_broker
        ):
            self.rep.skip(self.label("remaining phases"), f"no {self.bus_kind} broker")
            return False
        with self.rep.phase(self.name, "install"):
            self.install()
        with self.rep.phase(self.name, "static"):
            self.static()
        if not (self.ml_ok or self.gw_ok):
            self.rep.skip(self.label("lint, test, runtime"), "nothing installed")
            return False
        with self.rep.phase(self.name, "lint"):
            self.lint()
        with self.rep.phase(self.name, "test"):
            self.test()
        if not (self.ml_ok and self.gw_ok):
            self.rep.skip(
                self.label("runtime phases"),
                f"{'ML service' if not self.ml_ok else 'gateway'} not installed",
            )
            return False
        return True

    def exercise(self) -> None:
        """The runtime phases, on the prepared repo: timing-sensitive, so
        run.py never runs two combinations' at once."""
        with self.rep.phase(self.name, "start"):
            started = self.start()
        if not started:
            self.rep.skip(self.label("contract, streams"), "services did not start")
            return
        if self.wants("contract"):
            with self.rep.phase(self.name, "contract"):
                self.contract()
        if self.wants("jwt"):
            with self.rep.phase(self.name, "jwt"):
                jwt_checks.run(self)
        if self.wants("ratelimit"):
            with self.rep.phase(self.name, "ratelimit"):
                ratelimit.run_all(self)
        if self.wants("chat") and self.streaming:
            with self.rep.phase(self.name, "chat"):
                # The JWT combinations: the SDK and the stream itself
                # with a token; the api-key ones of the same gateway and
                # transport run the rest.
                chat.run_all(self, full=self.auth != "jwt")
        if self.wants("chat-off") and not self.streaming:
            with self.rep.phase(self.name, "chat"):
                self.check("streaming = false: no chat routes, no chat docs", chat.off, self)
        if self.streams and self.wants("streams"):
            with self.rep.phase(self.name, "streams"):
                self.stream_failures()
        if self.bus_kind and self.wants("bus"):
            with self.rep.phase(self.name, "bus"):
                bus.run_all(self)
        with self.rep.phase(self.name, "shutdown"):
            self.shutdown()
        if self.wants("make-dev"):
            with self.rep.phase(self.name, "make-dev"):
                pyinfra_checks.make_dev(self)

    # generate -----------------------------------------------------------
    def generate(self) -> bool:
        return self.braid_new(self.transport) and self.inspect()

    @property
    def description(self) -> str:
        return self.ctx.description.replace("SENTINEL", str(self.ctx.sentinel_dir / "pwned"))

    def braid_new(self, transport: str) -> bool:
        cmd = [
            self.ctx.braid,
            "new",
            self.repo,
            "--name",
            self.project,
            "--gateway",
            self.gateway,
            "--transport",
            transport,
            *(["--node-framework", self.framework] if self.framework else []),
            *(["--auth", self.auth_answer] if self.auth_answer != "api-key" else []),
            *([] if self.streaming else ["--streaming", "false"]),
            "--set",
            f"description={self.description}",
            *[arg for answer in self.answers for arg in ("--set", answer)],
            "--yes",
        ]
        return self.check(
            f"generate (braid new --transport {transport}, hostile description)",
            lambda: must(self.run(cmd, self.root, timeout=120)),
        )

    def inspect(self) -> bool:
        """The generated repo: answers, layout, parsable manifests, no shell
        ran the description, and `braid check` clean."""

        def answers():
            data = tomllib.loads((self.repo / "braid.toml").read_text())
            a = data.get("answers", {})
            expect(data.get("blueprint") == "ml-gateway", f"blueprint {data.get('blueprint')!r}")
            expect(
                a.get("description") == self.description,
                f"braid.toml description {a.get('description')!r} != the one given",
            )
            self.auth = a.get("auth", "none")
            self.rate_limit = a.get("rate_limit", 0)
            for k, v in (
                ("project_name", self.project),
                ("gateway", self.gateway),
                ("transport", self.transport),
                ("auth", self.auth_answer),
                ("streaming", self.streaming),
            ):
                expect(a.get(k) == v, f"braid.toml {k} = {a.get(k)!r}, expected {v!r}")

        self.check("braid.toml records the answers", answers)

        def layout():
            need = [
                "README.md",
                "Makefile",
                "docker-compose.yml",
                ".env.example",
                ".gitignore",
                ".github/workflows/ci.yml",
                "contracts/openapi.yaml",
                "services/ml/Dockerfile",
                "services/ml/pyproject.toml",
                "services/ml/uv.lock",
                "services/gateway/Dockerfile",
            ]
            need += (
                [
                    "services/gateway/go.mod",
                    "services/gateway/go.sum",
                    "services/gateway/cmd/gateway",
                ]
                if self.gateway == "go"
                else [
                    "services/gateway/package.json",
                    "services/gateway/package-lock.json",
                    "services/gateway/src/server.ts",
                ]
            )
            missing = [p for p in need if not (self.repo / p).exists()]
            expect(not missing, f"missing: {missing}")
            wrong = "package.json" if self.gateway == "go" else "go.mod"
            expect(not (self.gw / wrong).exists(), f"services/gateway/{wrong} of the other gateway")

        self.check("generated layout", layout)

        def package():
            pkgs = [p.parent.name for p in self.ml.glob("src/*/__init__.py")]
            expect(len(pkgs) == 1, f"no single ML package services/ml/src/*/__init__.py: {pkgs}")
            self.pkg = pkgs[0]
            return self.pkg

        self.ml_ok = self.check("ML package found", package)

        def parses():
            if (self.ml / "pyproject.toml").exists():
                tomllib.loads((self.ml / "pyproject.toml").read_text())
            if (self.gw / "package.json").exists():
                json.loads((self.gw / "package.json").read_text())
                json.loads((self.gw / "package-lock.json").read_text())

        self.check("pyproject.toml / package.json parse", parses)
        self.check(
            "no shell evaluated the description",
            lambda: expect(
                not (self.ctx.sentinel_dir / "pwned").exists(),
                f"{self.ctx.sentinel_dir / 'pwned'} was created",
            ),
        )
        self.check(
            "braid check is clean",
            lambda: must(self.run([self.ctx.braid, "check", self.repo], self.root, timeout=60)),
        )
        return True

    # install --------------------------------------------------------------
    def install_ml(self) -> bool:
        """`uv sync --frozen` into a venv cached by uv.lock's hash (harness/pyinfra_checks.py)."""
        return pyinfra_checks.install_ml(self)

    def install_gateway(self) -> bool:
        if self.gateway == "go":
            ok = self.check(
                "gateway: go mod download",
                lambda: must(self.run(["go", "mod", "download"], self.gw, timeout=600)),
            )
            self.gw_bin = self.root / "bin" / "gateway"

            def build():
                must(
                    self.run(
                        ["go", "build", "-o", self.gw_bin, "./cmd/gateway"], self.gw, timeout=600
                    )
                )

            return ok and self.check("gateway: go build ./cmd/gateway", build)
        return self.check(
            "gateway: npm ci",
            lambda: must(self.run(["npm", "ci", "--no-audit", "--no-fund"], self.gw, timeout=600)),
        )

    def install(self) -> None:
        with ThreadPoolExecutor(2) as pool:
            ml = pool.submit(self.install_ml) if self.ml_ok else None
            gw = pool.submit(self.install_gateway)
            self.ml_ok = bool(ml and ml.result())
            self.gw_ok = gw.result()

    # static -----------------------------------------------------------------
    def static(self) -> None:
        env = self.ctx.base_env()

        pyinfra_checks.static(self)

        def compose():
            res = self.run(
                ["composecheck", "-f", "docker-compose.yml", "-env-file", ".env", self.repo],
                self.repo,
                env,
                timeout=60,
            )
            must(res)
            summary = json.loads(res.output[res.output.index("{") :])
            names = [s["name"] for s in summary["services"]]
            if self.uses_redis:
                expect(
                    any("redis" in (s.get("image") or "") for s in summary["services"]),
                    f"no redis service in {names}",
                )
            if self.bus_kind:
                images = [s.get("image") or "" for s in summary["services"]]
                expect(
                    any(self.bus_kind in i for i in images),
                    f"no {self.bus_kind} service (image) in {names}: {images}",
                )
            return f"services {names}"

        self.check("docker-compose.yml valid (compose-spec loader)", compose)
        rootdocs_checks.static(self)
        if self.auth == "jwt":
            jwt_checks.static(self)
        k8s_checks.static(self)
        dockerfiles = sorted(self.repo.glob("services/*/Dockerfile"))
        for df in dockerfiles:
            rel = df.relative_to(self.repo)
            self.check(
                f"hadolint {rel}",
                lambda rel=rel: must(self.run(["hadolint", rel], self.repo, env, timeout=60)),
            )
        workflows = sorted((self.repo / ".github" / "workflows").glob("*.y*ml"))
        self.check(
            "actionlint .github/workflows",
            lambda: must(
                self.run(
                    ["actionlint", "-no-color", *[w.relative_to(self.repo) for w in workflows]],
                    self.repo,
                    env,
                    timeout=120,
                )
            ),
        )
        self.check(
            "Makefile parses (make -n)",
            lambda: must(self.run(["make", "-n"], self.repo, env, timeout=30)),
        )

    # lint ---------------------------------------------------------------------
    def lint(self) -> None:
        def ml():
            self.check(
                "ml: ruff check",
                lambda: must(
                    self.run(["python", "-m", "ruff", "check", "."], self.ml, timeout=120)
                ),
            )
            self.check(
                "ml: ruff format --check",
                lambda: must(
                    self.run(
                        ["python", "-m", "ruff", "format", "--check", "."], self.ml, timeout=120
                    )
                ),
            )

        def gw():
            if self.gateway == "go":
                self.check(
                    "gateway: go vet ./...",
                    lambda: must(self.run(["go", "vet", "./..."], self.gw, timeout=600)),
                )

                def fmt():
                    res = self.run(["gofmt", "-l", "."], self.gw, timeout=60)
                    must(res)
                    expect(not res.output.strip(), f"not gofmt-ed:\n{res.output}")

                self.check("gateway: gofmt -l", fmt)
                go_gateway.lint(self)
            else:
                self.check(
                    "gateway: npm run lint",
                    lambda: must(self.run(["npm", "run", "lint"], self.gw, timeout=300)),
                )

        with ThreadPoolExecutor(2) as pool:
            jobs = ([pool.submit(ml)] if self.ml_ok else []) + (
                [pool.submit(gw)] if self.gw_ok else []
            )
            if self.ml_ok:
                jobs.append(pool.submit(pyinfra_checks.lint, self))
            for f in jobs:
                f.result()

    # test ---------------------------------------------------------------------
    @staticmethod
    def _redis_skips(output: str) -> list[str]:
        """Lines that report a skipped test that needed Redis or a broker."""
        lines = output.splitlines()
        hits = []
        for i, line in enumerate(lines):
            if re.search(r"skip", line, re.I):
                window = " ".join(lines[i : i + 3])
                if re.search(r"redis|rabbit|amqp|kafka|broker", window, re.I):
                    hits.append(line.strip())
        return hits

    def _tests(self, what, cmd, cwd, env, summary_re, once=False) -> None:
        def go():
            res = self.run(cmd, cwd, env, timeout=1200)
            must(res)
            skips = self._redis_skips(res.output)
            expect(
                not skips,
                f"tests were skipped although {self.test_var} is set:\n" + "\n".join(skips[:10]),
            )
            if summary_re == "go":
                counts = {
                    k: len(re.findall(rf"^\s*--- {k.upper()}:", res.output, re.M))
                    for k in ("pass", "skip", "fail")
                }
                found = [f"{v} {k}" for k, v in counts.items()]
            else:
                found = re.findall(summary_re, res.output, re.M)[-3:]
            return f"{res.secs:.0f}s; " + "; ".join(found)

        (self.ml_once if once else self.check)(what, go)

    def test(self) -> None:
        ml_env = self.env(
            REDIS_URL=self.redis.url_db(1), STREAM_PREFIX=f"{self.prefix}t", PYTHONPATH="src"
        )
        gw_env = self.env(REDIS_URL=self.redis.url_db(2), STREAM_PREFIX=f"{self.prefix}u")
        if self.bus_kind:
            # the services' own tests pick a random BUS_PREFIX each; the
            # variable set here must not matter
            ml_env.update(self.transport_env(f"{self.prefix}t"))
            gw_env.update(self.transport_env(f"{self.prefix}u"))
        with ThreadPoolExecutor(2) as pool:
            jobs = []
            if self.ml_ok:
                jobs.append(
                    pool.submit(
                        self._tests,
                        f"ml: pytest ({self.test_var} set)",
                        ["python", "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
                        self.ml,
                        ml_env,
                        r"^=*\s*(\d+ passed.*?)\s*=*$",
                        True,
                    )
                )
            if self.gw_ok and self.gateway == "go":
                jobs.append(
                    pool.submit(
                        self._tests,
                        f"gateway: go test -race ./... ({self.test_var} set)",
                        ["go", "test", "-race", "-count=1", "-v", "./..."],
                        self.gw,
                        gw_env,
                        "go",
                    )
                )
            elif self.gw_ok:
                jobs.append(
                    pool.submit(
                        self._tests,
                        f"gateway: npm test ({self.test_var} set)",
                        ["npm", "test"],
                        self.gw,
                        gw_env,
                        r"^[#ℹ] ((?:tests|pass|fail|skipped) \d+)$",
                    )
                )
            if self.ml_ok:
                jobs.append(pool.submit(pyinfra_checks.make_test_without_redis_url, self))
            for j in jobs:
                j.result()

    # start ----------------------------------------------------------------
    def ml_env(self, **extra) -> dict[str, str]:
        """Environment of the ML processes, run from services/ml with src/
        importable, as the generated Makefile and scripts/dev.sh do."""
        return self.env(
            ML_HOST="127.0.0.1",
            LOG_LEVEL="info",
            PYTHONPATH="src",
            **{
                "REDIS_URL": self.redis.url,
                "STREAM_PREFIX": self.prefix,
                **self.transport_env(),
                **self.chat_env,
                **extra,
            },
        )

    def start_worker(
        self, name: str = "worker", prefix: str | None = None, cmd=None, extra=None
    ) -> Proc:
        """A worker with the default settings (but `extra`), its own metrics
        port and heartbeat file."""
        metrics_port = free_port()
        env = self.ml_env(
            ML_WORKER_METRICS_PORT=metrics_port,
            ML_WORKER_HEARTBEAT_FILE=self.logs / f"{name}.heartbeat",
            **(extra or {}),
        )
        self.worker_metrics[name] = f"http://127.0.0.1:{metrics_port}"
        env.update(self.transport_env(prefix))
        cmd = cmd or [self.venv / "bin" / "python", "-m", f"{self.pkg}.worker"]
        proc = self.procs.start(name, [str(c) for c in cmd], self.ml, env)
        if name == "worker":
            self.worker = proc
        return proc

    def wait_worker_ready(self, proc: Proc, prefix: str | None = None, n: int = 1) -> None:
        if self.bus_kind:
            # RabbitMQ: n consumers on the requests queue; Kafka: a Stable
            # group of n members (a rebalance is over)
            got = self.busclient("consumers", prefix=prefix or self.prefix, n=n, timeout=60)
            expect(
                proc.alive() and got["consumers"] >= n,
                f"{n} worker(s) on {prefix or self.prefix}: {got}\n{proc.log_tail(15)}",
            )
            return

        # The worker joins the group as a consumer once it reads.
        def joined():
            groups = self.redis("XINFO", "GROUPS", f"{prefix or self.prefix}:requests")
            for g in groups or []:
                if isinstance(g, dict) and g.get("name") == streams.GROUP:
                    return g.get("consumers", 0) >= n
            return False

        wait_until(
            joined,
            timeout=60,
            interval=0.2,
            what=f"{n} worker(s) to join group ml-workers",
            proc=proc,
        )

    def start_gateway(
        self,
        role: str,
        timeout_ms: int | None = None,
        ml_url: str | None = None,
        redis_url: str | None = None,
        bus_url: str | None = None,
        prefix: str | None = None,
        wait_ready: bool = True,
        max_body: int = contract.MAX_BODY,
        extra: dict | None = None,
    ) -> str:
        port = free_port()
        env = self.env(
            GATEWAY_HOST="127.0.0.1",
            GATEWAY_PORT=port,
            GATEWAY_UPSTREAM_TIMEOUT_MS=timeout_ms or self.timeout_ms,
            GATEWAY_MAX_BODY_BYTES=max_body,
            GATEWAY_SHUTDOWN_TIMEOUT_MS=3000,
            GATEWAY_METRICS_PORT=(metrics_port := free_port()),
            LOG_LEVEL="info",
        )
        if self.worker_based:
            env.update(self.transport_env(prefix, redis_url if self.streams else bus_url))
            env["GATEWAY_INSTANCE_ID"] = f"e2e-{role}"
        else:
            env["ML_URL"] = ml_url or ""
        env.update(self.limit_env(redis_url))
        env.update(self.auth_env())
        env.update({k: str(v) for k, v in (extra or {}).items()})
        cmd = [str(self.gw_bin)] if self.gateway == "go" else ["node", "src/server.ts"]
        proc = self.procs.start(f"gateway-{role}", cmd, self.gw, env)
        base = f"http://127.0.0.1:{port}"
        if header := self.authorization():
            authorize(base, header)
        path = "/readyz" if wait_ready else "/healthz"
        wait_until(
            lambda: status_is(base, path, 200),
            timeout=30,
            what=f"gateway ({role}) {path} = 200",
            proc=proc,
        )
        self.gateways[role] = (proc, base)
        self.metrics_bases[role] = f"http://127.0.0.1:{metrics_port}"
        return base

    def in_flight(self, role: str) -> float:
        """How many HTTP requests the gateway started as `role` is answering
        (its metrics listener): a check waits for its requests to be in
        flight before acting, as a fixed sleep falls short on a loaded machine."""
        name = (
            "gateway_http_requests_in_flight"
            if self.gateway == "go"
            else "gateway_inflight_requests"
        )
        text = request("GET", self.metrics_bases[role], "/metrics", timeout=5).body.decode()
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def wait_in_flight(self, role: str, n: int) -> None:
        wait_until(
            lambda: self.in_flight(role) >= n,
            timeout=10,
            what=f"{n} request(s) in flight at gateway ({role})",
        )

    def start(self) -> bool:
        self.redis("FLUSHALL")
        if self.auth == "jwt":
            self.idp = jwks.Provider(self.root / "idp")
            self.idp_key = self.idp.new_key("rsa", "e2e-1")
            self.idp.publish(self.idp_key)
            self.token = self.idp_key.sign(jwks.claims(ttl=7200))

        def train():
            must(
                self.run(["python", "-m", f"{self.pkg}.train"], self.ml, self.ml_env(), timeout=300)
            )
            model = self.ml / "models" / "model.joblib"
            expect(model.exists(), f"{model} not written by {self.pkg}.train")

        if not self.check(f"ml: python -m {self.pkg}.train", train):
            return False

        ml_port = free_port()
        self.ml_url = f"http://127.0.0.1:{ml_port}"

        def ml():
            self.ml_proc = self.procs.start(
                "ml",
                [self.venv / "bin" / "python", "-m", self.pkg],
                self.ml,
                self.ml_env(ML_PORT=ml_port),
            )
            wait_until(
                lambda: status_is(self.ml_url, "/readyz", 200),
                timeout=60,
                what="ML /readyz = 200",
                proc=self.ml_proc,
            )

        if not self.check(f"ml: python -m {self.pkg} ready", ml):
            return False
        if self.worker_based:
            if not self.check(
                f"ml: python -m {self.pkg}.worker joins the group",
                lambda: self.wait_worker_ready(self.start_worker()),
            ):
                return False
        ok = self.check(
            "gateway (main) ready", lambda: self.start_gateway("main", ml_url=self.ml_url) and None
        )
        if not ok:
            return False

        def smoke():
            base = self.gateways["main"][1]
            r = post_json(base, "/v1/predict", {"instances": [contract.SETOSA]})
            expect(r.status == 200, f"setosa -> {r.short()}")
            label = r.json()["predictions"][0]["label"]
            expect(label == "setosa", f"[5.1, 3.5, 1.4, 0.2] -> {label!r}, not setosa")
            self.ctx.prediction_bodies[self.name] = r.body
            return f"setosa in {r.secs * 1000:.0f}ms"

        ok = self.check("smoke: [5.1, 3.5, 1.4, 0.2] through the gateway is setosa", smoke)

        def smoke_bad():
            r = request(
                "POST",
                self.gateways["main"][1],
                "/v1/predict",
                '{"instances": [[5.1,',
                {"Content-Type": "application/json"},
            )
            expect(400 <= r.status < 500, f"malformed body -> {r.short()}")
            return str(r.status)

        self.check("smoke: a malformed body gets a 4xx from the gateway", smoke_bad)
        return ok

    # contract -------------------------------------------------------------------
    def contract(self) -> None:
        bases = {"main": self.gateways["main"][1], "metrics": self.metrics_bases["main"]}
        with (
            SlowServer(delay=contract.SLOW_TIMEOUT_MS / 1000 + 3) as slow,
            SlowServer(delay=0, status=500, body=b'{"detail": "boom"}') as err500,
        ):

            def start_others():
                closed = closed_port()
                if self.worker_based:
                    down = {
                        "redis-streams": f"redis://127.0.0.1:{closed}/0",
                        "rabbitmq": f"amqp://guest:guest@127.0.0.1:{closed}/",
                        "kafka": f"127.0.0.1:{closed}",
                    }[self.transport]
                    bases["down"] = self.start_gateway(
                        "down",
                        redis_url=down if self.streams else None,
                        bus_url=None if self.streams else down,
                        wait_ready=False,
                    )
                    if self.bus_kind:
                        # the requests queue or topics are there (as the
                        # workers make them), only nobody reads them: the
                        # slow upstream
                        self.busclient("declare", prefix=f"{self.prefix}slow")
                    bases["slow"] = self.start_gateway(  # no worker there: never ready
                        "slow",
                        timeout_ms=contract.SLOW_TIMEOUT_MS,
                        prefix=f"{self.prefix}slow",
                        wait_ready=False,
                    )
                else:
                    bases["down"] = self.start_gateway(
                        "down", ml_url=f"http://127.0.0.1:{closed}", wait_ready=False
                    )
                    bases["slow"] = self.start_gateway(
                        "slow", timeout_ms=contract.SLOW_TIMEOUT_MS, ml_url=slow.url
                    )
                    bases["err500"] = self.start_gateway("err500", ml_url=err500.url)

            self.check("gateways for down / slow upstreams started", start_others)
            # The idle-pause check (HTTP) takes a minute of idle gaps around the
            # ML service's keep-alive: it runs beside the other checks, on a
            # gateway of its own (its own upstream pool, nobody else's traffic
            # in its gaps; no rate limit to share with the limiter's checks).
            idle_run = []

            def start_idle():
                base = self.start_gateway(
                    "idle", ml_url=self.ml_url, extra={"GATEWAY_RATE_LIMIT": "0"}
                )
                pool = ThreadPoolExecutor(1)
                idle_run.append(pool.submit(idle.pauses, base))
                pool.shutdown(wait=False)

            if not self.worker_based:
                self.check("gateway for the idle-pause check started", start_idle)
            # The 408 of a body that never ends takes the read timeout (30 s):
            # sent now, to the gateway whose upstream is down (no case here
            # counts its requests in flight), it costs nothing.
            slow_body = rootdocs_checks.start_slow_body(bases.get("down", bases["main"]))
            records = self.ctx.records.setdefault(self.name, {})
            contract.run_cases(self.rep, self.name, self.transport, bases, records, self.auth)
            go_gateway.runtime(self, slow.url)
            self.check(
                "batching: mixed-size concurrent requests through the gateway, each its own rows",
                batching.no_cross_talk,
                bases["main"],
            )
            self.check(
                "batching: the same at the ML service's POST /v1/predict",
                batching.no_cross_talk,
                self.ml_url,
            )
            ratelimit.run_all(self)
            rootdocs_checks.runtime(self, slow_body)
            for run in idle_run:
                self.check("idle pauses around the ML keep-alive", run.result)
            if "slow" in bases:
                self.check(
                    "forwards X-Request-ID, traceparent and (HTTP) its remaining budget upstream",
                    self.forwarding,
                    bases["slow"],
                    slow,
                )
            if "slow" in self.gateways:
                self.check("gateway drains an in-flight request on SIGTERM, exits 0", self.drain)

    def drain(self) -> None:
        """SIGTERM while a request is in flight: the request still gets its
        answer (the slow upstream makes it a 504), and the gateway exits 0."""
        sproc, sbase = self.gateways["slow"]
        box = {}

        def call():
            try:
                box["resp"] = post_json(
                    sbase, "/v1/predict", {"instances": [contract.SETOSA]}, timeout=15
                )
            except HttpError as e:
                box["err"] = e

        t = threading.Thread(target=call)
        t.start()
        self.wait_in_flight("slow", 1)
        rc = sproc.stop(timeout=8)
        t.join(timeout=20)
        expect("resp" in box, f"the in-flight request got no answer: {box.get('err')}")
        expect(box["resp"].status == 504, f"in-flight request: {box['resp'].short()}")
        expect(rc == 0, f"exit code {rc} after SIGTERM\n{sproc.log_tail(10)}")

    def forwarding(self, base: str, slow: SlowServer) -> str:
        tp = f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"
        sent = []
        for rid, tparent in (("fwd-1", tp), ("fwd-2", "not-a-traceparent")):
            r = request(
                "POST",
                base,
                "/v1/predict",
                json.dumps({"instances": [contract.SETOSA]}),
                {"Content-Type": "application/json", "X-Request-ID": rid, "traceparent": tparent},
                timeout=15,
            )
            sent.append((rid, tparent, r.status))
        # A new trace is unsampled (-00) unless GATEWAY_TRACE_SAMPLED is set.
        tp_re = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$")
        errs = []
        if self.bus_kind:
            errs += self.bus_forwarding(sent, tp, tp_re)
        elif self.streams:
            entries = self.redis.xrange(f"{self.prefix}slow:requests")
            seen = {f.get("request_id"): f for _, f in entries}
            for rid, tparent, _ in sent:
                f = seen.get(rid)
                if f is None:
                    errs.append(
                        f"no stream entry with request_id {rid}; entries: "
                        f"{[e for _, e in entries][:3]}"
                    )
                    continue
                if not re.fullmatch(r"[0-9a-f]{32}", f.get("id", "")) or f.get("id") == rid:
                    errs.append(f"{rid}: correlation id {f.get('id')!r} is not a fresh 32-hex id")
                want_reply = f"{self.prefix}slow:replies:e2e-slow"
                if f.get("reply_to") != want_reply:
                    errs.append(f"{rid}: reply_to {f.get('reply_to')!r}, expected {want_reply!r}")
                try:
                    if json.loads(f.get("payload", "")) != {"instances": [contract.SETOSA]}:
                        errs.append(f"{rid}: payload {f.get('payload')!r}")
                except ValueError:
                    errs.append(f"{rid}: payload not JSON: {f.get('payload')!r}")
                try:
                    deadline = int(f.get("deadline_ms", ""))
                    now = int(time.time() * 1000)
                    if not now - 60_000 < deadline < now + contract.SLOW_TIMEOUT_MS + 1000:
                        errs.append(f"{rid}: deadline_ms {deadline} is not ~now + timeout")
                except ValueError:
                    errs.append(f"{rid}: deadline_ms {f.get('deadline_ms')!r}")
                got_tp = f.get("traceparent")
                if tparent == tp and got_tp != tp:
                    errs.append(f"{rid}: valid traceparent not forwarded: {got_tp!r}")
                if tparent != tp and not (got_tp and tp_re.match(got_tp)):
                    errs.append(f"{rid}: invalid traceparent not replaced by a new one: {got_tp!r}")
        else:
            seen = {r["headers"].get("x-request-id"): r for r in slow.seen}
            for rid, tparent, _ in sent:
                got = seen.get(rid)
                if got is None:
                    errs.append(f"upstream never saw X-Request-ID {rid}; saw {list(seen)[:5]}")
                    continue
                got_tp = got["headers"].get("traceparent")
                if tparent == tp and got_tp != tp:
                    errs.append(f"{rid}: valid traceparent not forwarded: {got_tp!r}")
                if tparent != tp and not (got_tp and tp_re.match(got_tp)):
                    errs.append(f"{rid}: invalid traceparent not replaced by a new one: {got_tp!r}")
                if got["path"] != "/v1/predict":
                    errs.append(f"{rid}: upstream path {got['path']!r}")
                # the remaining budget, for the ML service's batcher to
                # answer 504 in time (never more than the gateway's own)
                budget = got["headers"].get("x-request-timeout-ms", "")
                if not (budget.isdigit() and 1 <= int(budget) <= contract.SLOW_TIMEOUT_MS):
                    errs.append(
                        f"{rid}: X-Request-Timeout-Ms {budget!r}, expected 1.."
                        f"{contract.SLOW_TIMEOUT_MS} (the gateway's remaining budget)"
                    )
        for rid, _, status in sent:
            if status != 504:
                errs.append(f"{rid}: status {status}, expected 504 from the slow upstream")
        if errs:
            raise CheckFailed("\n".join(errs))

    def bus_forwarding(self, sent, tp: str, tp_re) -> list[str]:
        """The request messages the slow gateway put on the bus, as
        docs/ml-gateway-contract.md ("RabbitMQ and Kafka protocol") has them."""
        msgs = self.busclient("read", prefix=f"{self.prefix}slow", queue="requests", timeout=5)
        seen = {m["headers"].get("request_id"): m for m in msgs}
        errs = []
        for rid, tparent, _ in sent:
            m = seen.get(rid)
            if m is None:
                errs.append(f"no request message with request_id {rid}; got {msgs[:3]}")
                continue
            h = m["headers"]
            corr = m.get("correlation_id") if self.bus_kind == "rabbitmq" else h.get("id")
            if not re.fullmatch(r"[0-9a-f]{32}", corr or "") or corr == rid:
                errs.append(f"{rid}: correlation id {corr!r} is not a fresh 32-hex id")
            if self.bus_kind == "rabbitmq":
                want = f"{self.prefix}slow.replies.e2e-slow"
                if m.get("reply_to") != want:
                    errs.append(f"{rid}: reply_to {m.get('reply_to')!r}, expected {want!r}")
                if m.get("delivery_mode") != 2:
                    errs.append(f"{rid}: delivery_mode {m.get('delivery_mode')}, not persistent")
            else:
                if m.get("key") != corr:
                    errs.append(f"{rid}: key {m.get('key')!r} is not the id {corr!r}")
                if not str(h.get("reply_partition", "")).isdigit():
                    errs.append(f"{rid}: reply_partition {h.get('reply_partition')!r}")
            if h.get("op", "predict") != "predict":
                errs.append(f"{rid}: op {h.get('op')!r}")
            try:
                if json.loads(m["body"]) != {"instances": [contract.SETOSA]}:
                    errs.append(f"{rid}: body {m['body']!r}")
            except (TypeError, ValueError):
                errs.append(f"{rid}: body not JSON: {m['body']!r}")
            try:
                deadline = int(h.get("deadline_ms", ""))
                now = int(time.time() * 1000)
                if not now - 60_000 < deadline < now + contract.SLOW_TIMEOUT_MS + 1000:
                    errs.append(f"{rid}: deadline_ms {deadline} is not ~now + timeout")
            except (TypeError, ValueError):
                errs.append(f"{rid}: deadline_ms {h.get('deadline_ms')!r}")
            got_tp = h.get("traceparent")
            if tparent == tp and got_tp != tp:
                errs.append(f"{rid}: valid traceparent not forwarded: {got_tp!r}")
            if tparent != tp and not (isinstance(got_tp, str) and tp_re.match(got_tp)):
                errs.append(f"{rid}: invalid traceparent not replaced by a new one: {got_tp!r}")
        return errs

    # streams ---------------------------------------------------------------------
    def stream_failures(self) -> None:
        stream_recovery_checks(self)

    # shutdown ----------------------------------------------------------------------
    def shutdown(self) -> None:
        proc, base = self.gateways["main"]

        def gw():
            t0 = time.monotonic()
            rc = proc.stop(timeout=8)
            secs = time.monotonic() - t0
            expect(
                rc == 0,
                f"gateway exit code {rc} after SIGTERM "
                f"({'killed after 8s' if rc is None else f'{secs:.1f}s'})\n{proc.log_tail(10)}",
            )
            if self.streams:
                key = f"{self.prefix}:replies:e2e-main"
                expect(self.redis("EXISTS", key) == 0, f"reply stream {key} left behind")
            return f"{secs:.1f}s"

        self.check(
            "gateway exits 0 on SIGTERM"
            + (" and deletes its reply stream" if self.streams else ""),
            gw,
        )
        # The worker must exit 0 (contract); uvicorn re-raises SIGTERM after its
        # graceful shutdown, so the ML server may also end by that signal.
        for name, p, codes in (
            ("worker", self.worker, (0,)),
            ("ml", self.ml_proc, (0, -signal.SIGTERM)),
        ):
            if p is None or not p.alive():
                continue

            def stop(p=p, name=name, codes=codes):
                t0 = time.monotonic()
                rc = p.stop(timeout=10)
                expect(rc in codes, f"{name} exit code {rc} after SIGTERM\n{p.log_tail(10)}")
                return f"exit {rc} after {time.monotonic() - t0:.1f}s"

            self.check(f"{name} exits cleanly on SIGTERM", stop)


def parity(rep: Reporter, ctx: Context) -> None:
    """The Go and the Node.js gateway (each framework) must answer every case alike."""
    for transport, other in [
        (t, g)
        for t in ("http", "redis-streams", "rabbitmq", "kafka")
        for g in ("node", "node-express")
    ]:
        go, node = ctx.records.get(f"go-{transport}"), ctx.records.get(f"{other}-{transport}")
        if not go or not node:
            continue
        for case in contract.cases():
            # these combinations are api-key's (jwt_checks.parity: the JWT ones)
            if transport not in case.transports or "api-key" not in case.auths:
                continue
            name = f"parity {transport} {case.name}: go == {other}"
            a, b = go.get(case.name), node.get(case.name)
            if a is None or b is None:
                rep.skip(name, "not run on both gateways")
                continue
            rep.check(
                name, lambda a=a, b=b: expect(contract.same(a, b), "\n".join(contract.diff(a, b)))
            )
        # harness/ratelimit.py's answers: the 429's and the fail modes' bytes
        for key in sorted(k for k in set(go) | set(node) if k.startswith("ratelimit ")):
            name = f"parity {transport} {key}: go == {other}"
            a, b = go.get(key), node.get(key)
            if a is None or b is None:
                rep.skip(name, "not run on both gateways")
                continue
            rep.check(name, lambda a=a, b=b: expect(a == b, "\n".join(contract.diff(a, b))))
        pa = ctx.prediction_bodies.get(f"go-{transport}")
        pb = ctx.prediction_bodies.get(f"{other}-{transport}")
        if pa and pb:
            rep.check(
                f"parity {transport} smoke prediction bytes: go == {other}",
                lambda pa=pa, pb=pb: expect(pa == pb, f"go:   {pa[:300]!r}\nnode: {pb[:300]!r}"),
            )
    jwt_checks.parity(rep, ctx)
    chat.parity(rep, ctx)
