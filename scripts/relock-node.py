#!/usr/bin/env python3
"""Regenerates the Node.js gateway's package-lock.json, one per variant.

package.json is gateway-node's, but its dependencies depend on the framework
and the transport (gateway-node-FRAMEWORK and gateway-node-TRANSPORT each
provide `node_dependencies`), and npm resolves them together: so each pair
has a component that holds only the lock of its variant,
blueprints/components/gateway-node-FRAMEWORK-TRANSPORT/services/gateway/package-lock.json.j2.
This renders the gateway for every framework and transport the blueprint
offers with braid (from the blueprints on disk), runs
`npm install --package-lock-only --ignore-scripts` in it (`--upgrade` drops
the lock first, so that every package not pinned by
package.json moves to its newest allowed release) and writes the lock back as
the component's template, with the package name templated.

    cargo build && python3 scripts/relock-node.py [--upgrade]

Needs node and npm (the Node.js version the gateway targets, see
package.json's engines) and the public npm registry: the lock records its
`resolved` URLs, whatever the user's npmrc says.
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
BLUEPRINTS = REPO / "blueprints"
COMPONENT = "gateway-node-"  # gateway-node-FRAMEWORK-TRANSPORT
LOCK = "services/gateway/package-lock.json"
NAME = "relock-probe"  # the project_name rendered
PACKAGE = f"{NAME}-gateway"  # its npm_package
REGISTRY = "https://registry.npmjs.org/"
TEMPLATED_NAME = '"name": {{ npm_package | json }}'


def variants() -> list[tuple[str, str]]:
    """(framework, transport) for every choice of the blueprint's
    `node_framework` and `transport` questions; each pair has its
    gateway-node-FRAMEWORK-TRANSPORT component."""
    manifest = tomllib.loads((BLUEPRINTS / "ml-gateway/blueprint.toml").read_text())

    def choices(key: str) -> list[str]:
        (question,) = (q for q in manifest["question"] if q["key"] == key)
        return question["choices"]

    pairs = [(f, t) for f in choices("node_framework") for t in choices("transport")]
    for framework, transport in pairs:
        component = f"{COMPONENT}{framework}-{transport}"
        if not (BLUEPRINTS / "components" / component).is_dir():
            sys.exit(f"{framework} over {transport} has no component {component}")
    return pairs


def lock(work: Path, framework: str, transport: str, upgrade: bool) -> str:
    variant = f"{framework}-{transport}"
    repo = work / variant
    braid = os.environ.get("BRAID_BIN") or str(REPO / "target/debug/braid")
    subprocess.run(
        [
            braid, "new", str(repo), "--blueprints", str(BLUEPRINTS), "--name", NAME,
            "--gateway", "node", "--node-framework", framework, "--transport", transport,
            "--yes", "--quiet",
        ],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    gateway = repo / "services/gateway"
    if upgrade:
        (repo / LOCK).unlink(missing_ok=True)
    subprocess.run(
        [
            "npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund",
            # The lock as npm writes it by default, against the public
            # registry, whatever the user's npmrc says.
            "--omit-lockfile-registry-resolved=false", f"--registry={REGISTRY}",
        ],
        cwd=gateway,
        check=True,
    )
    return (repo / LOCK).read_text()


def template(lock: str, variant: str) -> str:
    """The lock with its two `"name"` lines (the lock's and the root
    package's) templated; nothing else in it names the project."""
    name = f'"name": {json.dumps(PACKAGE)}'
    if lock.count(name) != 2:
        found = lock.count(name)
        sys.exit(f"{variant}: expected the package name twice in the lock, found {found}")
    text = lock.replace(name, TEMPLATED_NAME)
    if NAME in text:
        sys.exit(f"{variant}: the lock names the project outside its name lines")
    for marker in ("{{", "{%", "{#"):
        if marker in text.replace(TEMPLATED_NAME, ""):
            sys.exit(f"{variant}: the lock holds {marker!r}, which minijinja would read")
    return text


def main() -> None:
    args = sys.argv[1:]
    if any(a != "--upgrade" for a in args):
        sys.exit(__doc__)
    upgrade = "--upgrade" in args
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for framework, transport in variants():
            variant = f"{framework}-{transport}"
            text = template(lock(Path(tmp), framework, transport, upgrade), variant)
            out = BLUEPRINTS / "components" / f"{COMPONENT}{variant}" / f"{LOCK}.j2"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
            written.append(str(out.relative_to(REPO)))
    print("wrote " + ", ".join(written) + "; check the rendering with cargo test")


if __name__ == "__main__":
    main()
