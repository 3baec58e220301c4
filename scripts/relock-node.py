#!/usr/bin/env python3
"""Regenerates the Node.js gateway's package-lock.json, one per variant.

npm resolves the gateway's dependencies (gateway-node's, its framework's and
its transport's: package.json gathers them from the components' provides)
into one lock, so each (framework, transport) pair has a component holding
only its lock: blueprints/components/gateway-node-FRAMEWORK-TRANSPORT/
services/gateway/package-lock.json.j2. For each pair this renders the
gateway with braid, runs `npm install --package-lock-only` in it (from the
lock it has, so only what package.json changed moves; `--upgrade` starts
from no lock and takes the newest of everything package.json allows), and
writes the lock back as the template, with the project's npm name templated.

    cargo build && python3 scripts/relock-node.py [--upgrade]

Needs npm on PATH, run by Node.js 24 (scripts/e2e-deps.sh puts one in
~/.cache/braid-e2e/bin).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMPONENTS = REPO / "blueprints/components"
BLUEPRINT = REPO / "blueprints/ml-gateway/blueprint.toml"
NAME = "relock-probe"  # the project_name rendered; its npm_package is NAME-gateway
PACKAGE = f"{NAME}-gateway"
TEMPLATED = '"name": {{ npm_package | json }},'


def choices(key: str) -> list[str]:
    for q in tomllib.loads(BLUEPRINT.read_text())["question"]:
        if q["key"] == key:
            return q["choices"]
    sys.exit(f"{BLUEPRINT}: no question {key!r}")


def relock(work: Path, framework: str, transport: str, upgrade: bool) -> str:
    repo = work / f"{framework}-{transport}"
    braid = os.environ.get("BRAID_BIN") or str(REPO / "target/debug/braid")
    subprocess.run(
        [braid, "new", str(repo), "--name", NAME, "--yes"]
        + ["--gateway", "node", "--node-framework", framework, "--transport", transport],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    gateway = repo / "services/gateway"
    lock = gateway / "package-lock.json"
    if upgrade:
        lock.unlink(missing_ok=True)
    subprocess.run(
        ["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=gateway,
        check=True,
    )
    return lock.read_text()


def template(lock: str) -> str:
    """The lock with the project's npm name templated (the root and its
    entry under "packages"), and nothing else."""
    data = json.loads(lock)
    if data.get("name") != PACKAGE or data["packages"][""].get("name") != PACKAGE:
        sys.exit(f"the lock does not name {PACKAGE}: {data.get('name')!r}")
    named = f'"name": "{PACKAGE}",'
    if lock.count(named) != 2:
        sys.exit(f"expected the name line twice in the lock, found {lock.count(named)}")
    return lock.replace(named, TEMPLATED)


def main() -> None:
    upgrade = "--upgrade" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        for framework in choices("node_framework"):
            for transport in choices("transport"):
                text = template(relock(Path(tmp), framework, transport, upgrade))
                component = COMPONENTS / f"gateway-node-{framework}-{transport}"
                target = component / "services/gateway/package-lock.json.j2"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
                print(f"wrote {target.relative_to(REPO)}")
    print("check the rendering with cargo test")


if __name__ == "__main__":
    main()
