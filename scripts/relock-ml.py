#!/usr/bin/env python3
"""Regenerates the ML service's uv.lock of every transport with uv.

The generated ML service's uv.lock names its own project (python_dist) and the
packages of its transport's client (`redis` over Redis Streams): each transport
has its own, in `blueprints/components/ml-python-TRANSPORT/services/ml/uv.lock.j2`,
a template only for the project's name. For each transport of blueprint.toml
this renders the service with braid, runs `uv lock` (`--upgrade` moves every
package to its newest release) and writes the lock back with the project name
templated. A transport that has no lock yet starts from another transport's,
so that the packages they share keep the same versions.

    cargo build && python3 scripts/relock-ml.py [--upgrade]

Needs uv (scripts/e2e-deps.sh puts one in ~/.cache/braid-e2e/bin) and a
Python >= 3.12 for uv to resolve with (UV_PYTHON, or one on PATH).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BLUEPRINT = REPO / "blueprints/ml-gateway/blueprint.toml"
COMPONENTS = REPO / "blueprints/components"
# The project_name rendered; its python_dist is NAME-ml. uv sorts the lock's
# tables by name: this one sorts first, so the project's table opens the lock
# whatever the user's project is called (uv reads the tables in any order).
NAME = "aaa-relock-probe"
PROJECT = f'name = "{NAME}-ml"\n'


def transports() -> list[str]:
    questions = tomllib.loads(BLUEPRINT.read_text())["question"]
    [transport] = [q for q in questions if q["key"] == "transport"]
    return list(transport["choices"])


def template_of(transport: str) -> Path:
    component = COMPONENTS / f"ml-python-{transport}"
    if not component.is_dir():
        sys.exit(f"{component.relative_to(REPO)} is missing: each transport has one")
    return component / "services/ml/uv.lock.j2"


def render(work: Path, transport: str) -> Path:
    """The rendered repo's services/ml, with the lock braid wrote (if any)."""
    repo = work / transport
    braid = os.environ.get("BRAID_BIN") or str(REPO / "target/debug/braid")
    result = subprocess.run(
        [braid, "new", str(repo), "--name", NAME, "--transport", transport, "--yes"],
        check=False,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        # The blueprints on disk, not those embedded in a binary built before the last edit.
        env={**os.environ, "BRAID_BLUEPRINTS": str(REPO / "blueprints")},
    )
    if result.returncode != 0:
        sys.exit(f"braid new --transport {transport} failed:\n{result.stderr}")
    return repo / "services/ml"


def lock(ml: Path, upgrade: bool) -> str:
    subprocess.run(["uv", "lock", *(["--upgrade"] if upgrade else [])], cwd=ml, check=True)
    return (ml / "uv.lock").read_text()


def template(lock: str) -> str:
    """The lock with the project's name templated; nothing else may name the project,
    and nothing in it may read as template syntax."""
    for syntax in ("{{", "{%", "{#"):
        if syntax in lock:
            sys.exit(f"the lock holds {syntax!r}, which the template would read as syntax")
    if lock.count(PROJECT) != 1:
        sys.exit(f"the lock names the project {lock.count(PROJECT)} times, not once")
    text = lock.replace(PROJECT, 'name = "{{ python_dist }}"\n')
    for name in (NAME, NAME.replace("-", "_")):
        if name in text:
            sys.exit(f"the lock names {name!r} outside the project's table")
    return text


def versions(lock: str) -> dict[str, str]:
    """Package name -> version, from the lock's `[[package]]` tables."""
    found = {}
    for table in tomllib.loads(lock).get("package", []):
        if "version" in table:
            found[table["name"]] = table["version"]
    return found


def main() -> None:
    upgrade = "--upgrade" in sys.argv[1:]
    paths = {t: template_of(t) for t in transports()}
    locks: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        rendered = {t: render(Path(tmp), t) for t in paths}
        # Those with a lock first: a new transport starts from one of theirs.
        order = sorted(rendered, key=lambda t: not (rendered[t] / "uv.lock").is_file())
        for transport in order:
            ml = rendered[transport]
            if not (ml / "uv.lock").is_file() and locks:
                shutil.copy(rendered[next(iter(locks))] / "uv.lock", ml / "uv.lock")
            locks[transport] = lock(ml, upgrade)
    shared: dict[str, dict[str, str]] = {}
    for transport, text in locks.items():
        for package, version in versions(text).items():
            shared.setdefault(package, {})[transport] = version
    for package, by_transport in sorted(shared.items()):
        if len(set(by_transport.values())) > 1:
            print(f"warning: {package} differs between transports: {by_transport}", file=sys.stderr)
    for transport, text in locks.items():
        paths[transport].write_text(template(text))
        print(f"wrote {paths[transport].relative_to(REPO)}")
    print("check the rendering with cargo test")


if __name__ == "__main__":
    main()
