"""The lock variants of the ml-gateway blueprint, for relock-go.py and
relock-node.py.

A gateway's lock files (go.mod and go.sum, package-lock.json) depend on
every answer that changes its dependencies: the transport, whether the rate
limiter needs a Redis client, and so on. blueprint.toml names that set in
one derived value, `[derive] gateway_deps` (`http`, `http-redis`,
`redis-streams`), and holds each lock in a lock-only component picked by it
(`gateway-go-lock-SET`, `gateway-node-FRAMEWORK-lock-SET`).

`variants()` finds the sets by asking braid itself: it varies the questions
the `gateway_deps` template reads (every choice, both bools, an int's
minimum and default: `rate_limit` 0 and 600), renders `{{ gateway_deps }}`
for each combination through a probe blueprint (blueprint.toml without its
components and file rules, plus one file that prints the value), and
returns, per lock component, every combination that selects it: the
scripts lock each, and fail when two of one set need different locks (the
set's name must then tell them apart). It fails, naming what to add, when
a set has no component or blueprint.toml lists a lock component no answers
pick.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BLUEPRINTS = REPO / "blueprints"
MANIFEST = BLUEPRINTS / "ml-gateway/blueprint.toml"
DERIVED = "gateway_deps"

Answers = dict[str, object]


def braid() -> str:
    return os.environ.get("BRAID_BIN") or str(REPO / "target/debug/braid")


def set_args(answers: Answers) -> list[str]:
    """`--set key=value` for each answer (bools and ints as braid reads them)."""
    out = []
    for key, value in answers.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out += ["--set", f"{key}={text}"]
    return out


def render(target: Path, answers: Answers, blueprints: Path = BLUEPRINTS) -> Path:
    """`braid new TARGET` with these answers and the defaults for the rest."""
    subprocess.run(
        [braid(), "new", str(target), "--blueprints", str(blueprints), "--blueprint", "ml-gateway"]
        + ["--yes", "--quiet"]
        + set_args(answers),
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    return target


def probe_blueprint(work: Path) -> Path:
    """blueprint.toml's questions, constraints and derived names, with one
    file, `gateway_deps.txt`, that holds the dependency set: `[[component]]`
    and `[[file]]` tables are cut from the text (a table runs to the next
    header at the start of a line)."""
    text = MANIFEST.read_text()
    header = re.compile(r"^\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$")
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        m = header.match(line)
        if m:
            skipping = m.group(1) in ("component", "file")
        if not skipping:
            kept.append(line)
    probe = "".join(kept) + '\n[[component]]\nsource = "files"\n'
    original, cut = tomllib.loads(text), tomllib.loads(probe)
    for key in ("question", "derive", "constraint"):
        if original.get(key) != cut.get(key):
            sys.exit(f"lockvariants: cutting the components out of {MANIFEST} changed its `{key}`")
    root = work / "probe"
    (root / "ml-gateway/files").mkdir(parents=True)
    (root / "ml-gateway/blueprint.toml").write_text(probe)
    (root / "ml-gateway/files/gateway_deps.txt.j2").write_text("{{ %s }}" % DERIVED)
    return root


def dimensions(manifest: dict, extra: list[str]) -> dict[str, list[object]]:
    """The questions the `gateway_deps` template reads, and `extra`, with the
    values each takes: every choice, both bools, an int's minimum and
    default."""
    template = manifest["derive"][DERIVED]
    out: dict[str, list[object]] = {}
    for q in manifest["question"]:
        key = q["key"]
        if key not in extra and not re.search(rf"\b{re.escape(key)}\b", template):
            continue
        match q["type"]:
            case "choice":
                values = list(q["choices"])
            case "bool":
                values = [True, False]
            case "int":
                values = sorted({q.get("min", q["default"]), q["default"]})
            case other:
                sys.exit(f"lockvariants: `{DERIVED}` reads `{key}`, a {other} question: give it a choice")
        out[key] = values
    return out


def variants(
    fixed: Answers, extra: list[str], component: Callable[[Answers, str], str], family: str, work: Path
) -> dict[str, list[Answers]]:
    """Lock component name -> the combinations (with `fixed`) that select it.
    `component` names the lock component of some answers and their
    dependency set; `family` is a regex every such name matches."""
    manifest = tomllib.loads(MANIFEST.read_text())
    if DERIVED not in manifest.get("derive", {}):
        sys.exit(f"{MANIFEST} has no [derive] {DERIVED}")
    probe = probe_blueprint(work)
    dims = dimensions(manifest, extra)
    found: dict[str, list[Answers]] = {}
    for i, values in enumerate(itertools.product(*dims.values())):
        answers = {"project_name": "relock-probe", **fixed, **dict(zip(dims, values))}
        out = render(work / f"probe-{i}", answers, probe)
        deps = (out / "gateway_deps.txt").read_text()
        found.setdefault(component(answers, deps), []).append(answers)
    listed = {c["use"] for c in manifest["component"] if "use" in c}
    missing = sorted(name for name in found if name not in listed or not (BLUEPRINTS / "components" / name).is_dir())
    if missing:
        lines = [f"lockvariants: no lock component for {len(missing)} dependency set(s):"]
        for name in missing:
            lines.append(f"  {name} (answers {found[name][0]}): blueprints/components/{name}/ and its [[component]]")
        lines.append("create the folder and its [[component]] entry (see docs/blueprints.md), then rerun")
        sys.exit("\n".join(lines))
    stale = sorted(name for name in listed if re.fullmatch(family, name) and name not in found)
    if stale:
        sys.exit(f"lockvariants: blueprint.toml lists lock components no answers pick: {stale}")
    return found


def same_lock(name: str, locks: list[tuple[Answers, object]]) -> None:
    """Every combination of one set must need the same lock: fail, naming
    two that differ, when they do not."""
    first_answers, first = locks[0]
    for answers, lock in locks[1:]:
        if lock != first:
            sys.exit(
                f"{name}: {first_answers} and {answers} need different locks; the dependency set "
                f"(`{DERIVED}`) must tell them apart, or the code must need the same modules"
            )
