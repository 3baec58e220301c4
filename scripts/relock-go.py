#!/usr/bin/env python3
"""Regenerates the Go gateway's go.mod and go.sum, one pair per dependency set.

Which modules the gateway needs depends on several answers (go-redis over
Redis Streams, or for the rate limiter over HTTP), named together by
blueprint.toml's `[derive] gateway_deps`; each set's pair lives in a
lock-only component, blueprints/components/gateway-go-lock-SET:
services/gateway/go.mod.j2, whose module path is the project's
(`{{ go_module }}`), and services/gateway/go.sum, which names no project and
is copied as it is. The sets, and the answers that give each, come from the
blueprint (scripts/lockvariants.py); a set without its component stops the
script, naming it. For each set this renders a Go repo with braid (from the
blueprints on disk), runs `go mod tidy` in services/gateway, and writes the
pair back. `--upgrade` first moves every module to its newest release
(`go get -u -t ./...`).

    cargo build && python3 scripts/relock-go.py [--upgrade]

Every combination of a set is locked, and they must agree (the set's name
must otherwise tell them apart): a test-only module one of them imports is
enough to differ. A new set's component (gateway-go-lock-http-jwt) may start without them: the
script starts from the sibling pair with the most modules, and `go mod tidy`
trims it and adds what the new code imports. Needs go on PATH and the module
proxy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from lockvariants import BLUEPRINTS, REPO, render, same_lock, variants

NAME = "relock-probe"  # the project_name rendered
MODULE = f"{NAME}/gateway"  # its go_module
GATEWAY = "services/gateway"


def component_name(answers: dict[str, object], deps: str) -> str:
    return f"gateway-go-lock-{deps}"


def component(name: str) -> Path:
    return BLUEPRINTS / "components" / name / GATEWAY


def seed(gateway: Path) -> None:
    """The sibling go.mod and go.sum with the most modules, for `go mod
    tidy` to trim and fill in: the modules both need stay at the sibling's
    versions."""
    siblings = sorted((BLUEPRINTS / "components").glob(f"gateway-go-lock-*/{GATEWAY}/go.mod.j2"))
    if not siblings:
        sys.exit("no gateway-go-lock-*/services/gateway/go.mod.j2 to start from")
    richest = max(siblings, key=lambda p: len((p.parent / "go.sum").read_text().splitlines()))
    go_mod = richest.read_text().replace("{{ go_module }}", MODULE, 1)
    (gateway / "go.mod").write_text(go_mod)
    (gateway / "go.sum").write_text((richest.parent / "go.sum").read_text())


def tidy(gateway: Path, upgrade: bool) -> tuple[str, str]:
    # -mod=mod: go may update go.mod and go.sum (a GOFLAGS=-mod=readonly
    # from the environment would refuse).
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    if upgrade:
        subprocess.run(["go", "get", "-u", "-t", "./..."], cwd=gateway, env=env, check=True)
    subprocess.run(["go", "mod", "tidy"], cwd=gateway, env=env, check=True)
    return (gateway / "go.mod").read_text(), (gateway / "go.sum").read_text()


def template(go_mod: str, go_sum: str, variant: str) -> str:
    """go.mod with its module path templated; neither file may name the
    project anywhere else (the template would then miss it)."""
    head = f"module {MODULE}\n"
    if not go_mod.startswith(head):
        sys.exit(f"{variant}: go.mod does not start with {head!r}")
    body = go_mod[len(head) :]
    for text, what in ((body, "go.mod"), (go_sum, "go.sum")):
        if NAME in text:
            sys.exit(f"{variant}: {what} names the project beyond its module line")
        if "{{" in text or "{%" in text or "{#" in text:
            sys.exit(f"{variant}: {what} holds template syntax")
    return "module {{ go_module }}\n" + body


def main() -> None:
    args = sys.argv[1:]
    if any(a != "--upgrade" for a in args):
        sys.exit(__doc__)
    upgrade = "--upgrade" in args
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        found = variants({"gateway": "go"}, [], component_name, r"gateway-go-lock-.+", work)
        for name, members in found.items():
            locks = []
            for i, answers in enumerate(members):
                gateway = render(work / f"{name}-{i}", {**answers, "project_name": NAME}) / GATEWAY
                if locks:  # from the first member's pair: they must agree
                    (gateway / "go.mod").write_text(locks[0][1][0].replace("{{ go_module }}", MODULE, 1))
                    (gateway / "go.sum").write_text(locks[0][1][1])
                elif not (gateway / "go.mod").exists():
                    seed(gateway)
                go_mod, go_sum = tidy(gateway, upgrade and not locks)
                locks.append((answers, (template(go_mod, go_sum, name), go_sum)))
            same_lock(name, locks)
            results[name] = locks[0][1]
    for name, (go_mod, go_sum) in results.items():
        target = component(name)
        target.mkdir(parents=True, exist_ok=True)
        (target / "go.mod.j2").write_text(go_mod)
        (target / "go.sum").write_text(go_sum)
        print(f"wrote {target.relative_to(REPO)}/go.mod.j2 and go.sum")
    print("then: cargo build, and the e2e combos go-* (their builds prove the pairs)")


if __name__ == "__main__":
    main()
