#!/usr/bin/env python3
"""Regenerates blueprints/components/ml-python/services/ml/uv.lock.j2 with uv.

The generated ML service's uv.lock names its own project (python_dist) and,
over Redis Streams, the `redis` package: so the lock is a template. This
renders the service for each transport with braid, runs `uv lock` in each
(`--upgrade` moves every package to its newest release), checks that the two
locks differ only by the redis-streams lines, and writes the template: the
redis-streams lock with those lines guarded by `{% if %}` and the project name
templated.

    cargo build && python3 scripts/relock-ml.py [--upgrade]

Needs uv (scripts/e2e-deps.sh puts one in ~/.cache/braid-e2e/bin) and a
Python >= 3.12 for uv to resolve with (UV_PYTHON, or one on PATH).
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "blueprints/components/ml-python/services/ml/uv.lock.j2"
NAME = "relock-probe"  # the project_name rendered; its python_dist is NAME-ml
IF = '{% if transport == "redis-streams" %}'
END = "{% endif %}"


def lock(work: Path, transport: str, upgrade: bool) -> str:
    repo = work / transport
    braid = os.environ.get("BRAID_BIN") or str(REPO / "target/debug/braid")
    subprocess.run(
        [braid, "new", str(repo), "--name", NAME, "--transport", transport, "--yes"],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    ml = repo / "services/ml"
    subprocess.run(["uv", "lock", *(["--upgrade"] if upgrade else [])], cwd=ml, check=True)
    return (ml / "uv.lock").read_text()


def tables(lock: str) -> list[str]:
    """The lock cut before each `[[package]]`: the header, then one table each."""
    parts = lock.split("\n[[package]]\n")
    return [parts[0] + "\n"] + ["[[package]]\n" + p + "\n" for p in parts[1:-1]] + (
        ["[[package]]\n" + parts[-1]] if len(parts) > 1 else []
    )


def name_of(table: str) -> str:
    for line in table.splitlines():
        if line.startswith("name = "):
            return line
    return ""


def template(http: str, streams: str) -> str:
    """The streams lock: its packages that the http lock lacks guarded whole,
    and the project's own lines that the http lock lacks guarded one by one."""
    theirs = {name_of(t): t for t in tables(http)}
    out = []
    for table in tables(streams):
        other = theirs.get(name_of(table))
        if other is None:
            out.append(IF + table + END)
        elif other == table:
            out.append(table)
        elif name_of(table) == f'name = "{NAME}-ml"':
            a, b = other.splitlines(keepends=True), table.splitlines(keepends=True)
            for op, _, _, j1, j2 in difflib.SequenceMatcher(a=a, b=b).get_opcodes():
                if op == "equal":
                    out += b[j1:j2]
                elif op == "insert":
                    out += [IF, *b[j1:j2], END]
                else:
                    sys.exit(f"the project table differs by more than additions: {b[j1:j2]}")
        else:
            sys.exit(f"{name_of(table)} differs between the transports")
    text = "".join(out)
    if "".join(out).replace(IF, "").replace(END, "") != streams:
        sys.exit("internal error: the template does not render back to the lock")
    return text.replace(f'name = "{NAME}-ml"\n', 'name = "{{ python_dist }}"\n', 1)


def main() -> None:
    upgrade = "--upgrade" in sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        http = lock(work, "http", upgrade)
        streams = lock(work, "redis-streams", upgrade)
    TEMPLATE.write_text(template(http, streams))
    print(f"wrote {TEMPLATE.relative_to(REPO)}; check the rendering with cargo test")


if __name__ == "__main__":
    main()
