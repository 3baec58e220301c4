#!/usr/bin/env python3
"""Regenerates the Node.js gateway's package-lock.json, one per variant.

package.json is gateway-node's, but its dependencies depend on the framework
(gateway-node-FRAMEWORK provides `node_dependencies`) and on the other
answers that add packages (the transport's client, the rate limiter's Redis
client...), named together by blueprint.toml's `[derive] gateway_deps`; npm
resolves them all together, so each framework and dependency set has a
component that holds only the lock of its variant,
blueprints/components/gateway-node-FRAMEWORK-lock-SET/services/gateway/package-lock.json.j2.
The variants, and the answers that give each, come from the blueprint
(scripts/lockvariants.py); a variant without its component stops the
script, naming it. This renders the gateway for each with braid (from the
blueprints on disk), runs `npm install --package-lock-only --ignore-scripts`
in it (`--upgrade` drops the lock first, so that every package not pinned by
package.json moves to its newest allowed release) and writes the lock back
as the component's template, with the package name templated. Every
combination of a variant is locked, and they must agree (the set's name
must otherwise tell them apart). A new variant starts from the same
framework's lock with the most packages, so the packages they share keep
their versions.

    cargo build && python3 scripts/relock-node.py [--upgrade]

Needs node and npm (the Node.js version the gateway targets, see
package.json's engines) and the public npm registry: the lock records its
`resolved` URLs, whatever the user's npmrc says.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from lockvariants import BLUEPRINTS, REPO, render, same_lock, variants

LOCK = "services/gateway/package-lock.json"
NAME = "relock-probe"  # the project_name rendered
PACKAGE = f"{NAME}-gateway"  # its npm_package
REGISTRY = "https://registry.npmjs.org/"
TEMPLATED_NAME = '"name": {{ npm_package | json }}'


def component_name(answers: dict[str, object], deps: str) -> str:
    return f"gateway-node-{answers['node_framework']}-lock-{deps}"


def seed(repo: Path, name: str, framework: str) -> None:
    """The same framework's lock with the most packages, for npm to trim
    and fill in."""
    siblings = sorted((BLUEPRINTS / "components").glob(f"gateway-node-{framework}-lock-*/{LOCK}.j2"))
    siblings = [s for s in siblings if name not in s.parts]
    if not siblings:
        return
    richest = max(siblings, key=lambda p: len(json.loads(p.read_text().replace(TEMPLATED_NAME, '"name": ""'))["packages"]))
    (repo / LOCK).write_text(richest.read_text().replace(TEMPLATED_NAME, f'"name": {json.dumps(PACKAGE)}'))


def lock(repo: Path, name: str, framework: str, upgrade: bool) -> str:
    gateway = repo / "services/gateway"
    if upgrade:
        (repo / LOCK).unlink(missing_ok=True)
    elif not (repo / LOCK).exists():
        seed(repo, name, framework)
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
        work = Path(tmp)
        found = variants({"gateway": "node"}, ["node_framework"], component_name, r"gateway-node-.+-lock-.+", work)
        for name, members in found.items():
            locks: list[tuple[dict[str, object], object]] = []
            for i, answers in enumerate(members):
                repo = render(work / f"{name}-{i}", {**answers, "project_name": NAME})
                if locks:  # from the first member's lock: they must agree
                    (repo / LOCK).write_text(str(locks[0][1]).replace(TEMPLATED_NAME, f'"name": {json.dumps(PACKAGE)}'))
                framework = str(answers["node_framework"])
                text = template(lock(repo, name, framework, upgrade and not locks), name)
                locks.append((answers, text))
            same_lock(name, locks)
            text = str(locks[0][1])
            out = BLUEPRINTS / "components" / name / f"{LOCK}.j2"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text)
            written.append(str(out.relative_to(REPO)))
    print("wrote " + ", ".join(written) + "; check the rendering with cargo test")


if __name__ == "__main__":
    main()
