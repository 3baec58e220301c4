"""Every combination of every option, generated and statically validated.

The 16 combinations of run.py install and run a chosen few answers; this
covers the rest cheaply: `braid new` for each of gateway (go, node with
Fastify, node with Express) x transport (4) x auth (3) x rate_limit (on, 0) x
streaming (true, false) = 144 repos, then per repo `braid check` and
`make -n` and `scripts/dev.sh env`, and the validators the full combinations run, each once per
distinct input (most files are the same in many combinations):
docker-compose.yml with its .env (composecheck), the workflow (actionlint,
zizmor), every Dockerfile (hadolint) and every script (shellcheck).
tests/blueprints.rs already renders every combination and parses its YAML,
TOML, JSON, Python, Go and JavaScript; what it leaves is here.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import k8s_checks
from .procs import run
from .report import CheckFailed, Reporter

NAME = "static-all"
GATEWAYS = (("go", None), ("node", "fastify"), ("node", "express"))
TRANSPORTS = ("http", "redis-streams", "rabbitmq", "kafka")
AUTHS = ("api-key", "jwt", "none")
RATE_LIMITS = ("600", "0")
STREAMING = ("true", "false")
KUBERNETES = ("true", "false")


def answers() -> list[tuple[str, list[str]]]:
    """(short name, braid new arguments) of every combination."""
    out = []
    for (gw, fw), tr, auth, rl, st, k8s in itertools.product(
        GATEWAYS, TRANSPORTS, AUTHS, RATE_LIMITS, STREAMING, KUBERNETES
    ):
        chat = "chat" if st == "true" else "nochat"
        name = f"{gw}{'-' + fw if fw else ''}-{tr}-{auth}-rl{rl}-{chat}"
        name += "" if k8s == "true" else "-nok8s"
        args = ["--gateway", gw, "--transport", tr, "--auth", auth, "--streaming", st]
        args += ["--kubernetes", k8s]
        args += ["--set", f"rate_limit={rl}"] + (["--node-framework", fw] if fw else [])
        out.append((name, args))
    return out


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(f for f in root.rglob("*") if f.is_file()):
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


def _digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


class StaticMatrix:
    def __init__(self, braid: Path, work: Path, rep: Reporter, env: dict[str, str]) -> None:
        self.braid = braid
        self.root = work / NAME
        self.rep = rep
        self.env = env
        self.log = self.root / "commands.log"
        self.repos: dict[str, Path] = {}

    def run_all(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.rep.phase(NAME, "generate"):
            if not self.rep.check(
                f"{NAME}: braid new, braid check, make -n, dev.sh env x{len(answers())}",
                self.generate,
            ):
                return
        with self.rep.phase(NAME, "static"):
            self.validate()

    def _new(self, item: tuple[str, list[str]]) -> str | None:
        name, args = item
        repo = self.root / name
        cmd = [str(self.braid), "new", str(repo), "--name", "e2e-all", *args, "--yes"]
        for what, c in (
            ("braid new", cmd),
            ("braid check", [str(self.braid), "check", str(repo)]),
            ("make -n", ["make", "-C", str(repo), "-n"]),
            # .env (random passwords), which composecheck reads, as a user's first make dev
            ("scripts/dev.sh env", ["bash", str(repo / "scripts/dev.sh"), "env"]),
        ):
            res = run(c, repo if what.startswith("scripts") else self.root, self.env, 120, self.log)
            if not res.ok():
                return f"{name}: {what}\n{res.describe(5, 10)}"
        self.repos[name] = repo
        return None

    def generate(self) -> str:
        with ThreadPoolExecutor(2) as pool:
            errs = [e for e in pool.map(self._new, answers()) if e]
        if errs:
            raise CheckFailed(f"{len(errs)} combination(s) failed:\n" + "\n".join(errs[:5]))
        return f"{len(self.repos)} repos"

    def _each_distinct(self, what: str, inputs, cmd) -> None:
        """Run cmd(repo, files) once per distinct content of inputs(repo)."""

        def go() -> str:
            seen: dict[str, str] = {}
            errs = []
            for name, repo in sorted(self.repos.items()):
                for files in inputs(repo):
                    key = _digest(*files)
                    if key in seen:
                        continue
                    seen[key] = name
                    res = run(cmd(repo, files), repo, self.env, 120, self.log)
                    if not res.ok():
                        errs.append(f"{name}: {res.describe(5, 15)}")
            if errs:
                raise CheckFailed(f"{len(errs)} failure(s):\n" + "\n".join(errs[:5]))
            return f"{len(seen)} distinct inputs"

        self.rep.check(f"{NAME}: {what}", go)

    def validate(self) -> None:
        rel = lambda repo, files: [str(f.relative_to(repo)) for f in files]  # noqa: E731
        self._each_distinct(
            "docker-compose.yml valid (composecheck)",
            lambda r: [[r / "docker-compose.yml", r / ".env.example"]],
            lambda r, f: ["composecheck", "-f", "docker-compose.yml", "-env-file", ".env", str(r)],
        )
        self._each_distinct(
            "actionlint .github/workflows",
            lambda r: [sorted((r / ".github" / "workflows").glob("*.y*ml"))],
            lambda r, f: ["actionlint", "-no-color", *rel(r, f)],
        )
        self._each_distinct(
            "zizmor .github: no findings",
            lambda r: [sorted(p for p in (r / ".github").rglob("*") if p.is_file())],
            lambda r, f: ["zizmor", "--offline", "--no-progress", "--format", "plain", ".github"],
        )
        self._each_distinct(
            "hadolint services/*/Dockerfile",
            lambda r: [[d] for d in sorted(r.glob("services/*/Dockerfile"))],
            lambda r, f: ["hadolint", *rel(r, f)],
        )
        self._each_distinct(
            "shellcheck scripts/*.sh",
            lambda r: [[s] for s in sorted(r.glob("scripts/*.sh"))],
            lambda r, f: ["shellcheck", *rel(r, f)],
        )
        self.rep.check(
            f"{NAME}: deploy/k8s: kustomize, kubeconform -strict, kube-score (offline)", self.k8s
        )
        self.rep.check(f"{NAME}: kubernetes = false: no deploy/, README silent", self.no_k8s)

    def k8s(self) -> str:
        """Every distinct deploy/k8s tree (all its files, by path and content)
        through harness/k8s_checks.py, once."""
        seen: dict[str, str] = {}
        errs, secs = [], []
        for name, repo in sorted(self.repos.items()):
            tree = repo / "deploy" / "k8s"
            if name.endswith("-nok8s"):
                continue
            if not tree.is_dir():
                errs.append(f"{name}: no deploy/k8s")
                continue
            key = _tree_digest(tree)
            if key in seen:
                continue
            seen[key] = name
            t0 = time.monotonic()
            try:
                k8s_checks.validate(tree, self.env, log=self.log)
            except CheckFailed as e:
                errs.append(f"{name}: {e}")
            secs.append(time.monotonic() - t0)
        if errs:
            raise CheckFailed(f"{len(errs)} failure(s):\n" + "\n".join(errs[:5]))
        per = sum(secs) / len(secs) if secs else 0.0
        return f"{len(seen)} distinct trees, {per:.2f}s each"

    def no_k8s(self) -> str:
        errs = []
        n = 0
        for name, repo in sorted(self.repos.items()):
            if not name.endswith("-nok8s"):
                continue
            n += 1
            try:
                k8s_checks.absent(repo)
            except CheckFailed as e:
                errs.append(f"{name}: {e}")
        if errs:
            raise CheckFailed(f"{len(errs)} failure(s):\n" + "\n".join(errs[:5]))
        return f"{n} repos"
