#!/usr/bin/env python3
"""Regenerates the Go gateway's go.mod and go.sum, one pair per transport.

Which modules the gateway needs depends on the transport (go-redis over
Redis Streams, nothing more over HTTP), so each pair lives in its
per-transport component, blueprints/components/gateway-go-TRANSPORT:
services/gateway/go.mod.j2, whose module path is the project's
(`{{ go_module }}`), and services/gateway/go.sum, which names no project and
is copied as it is. For each transport of the ml-gateway blueprint this
renders a Go repo with braid (from the blueprints on disk), runs
`go mod tidy` in services/gateway, and writes the pair back. `--upgrade`
first moves every module to its newest release (`go get -u -t ./...`).

    cargo build && python3 scripts/relock-go.py [--upgrade]

A new transport's component (gateway-go-rabbitmq) may start without them:
the script starts from a sibling's pair, and `go mod tidy` trims it and adds
what the new code imports. Needs go on PATH and the module proxy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BLUEPRINTS = REPO / "blueprints"
NAME = "relock-probe"  # the project_name rendered
MODULE = f"{NAME}/gateway"  # its go_module
GATEWAY = "services/gateway"


def transports() -> list[str]:
    manifest = tomllib.loads((BLUEPRINTS / "ml-gateway/blueprint.toml").read_text())
    for q in manifest["question"]:
        if q["key"] == "transport":
            return q["choices"]
    sys.exit("ml-gateway asks no `transport` question")


def component(transport: str) -> Path:
    return BLUEPRINTS / "components" / f"gateway-go-{transport}" / GATEWAY


def render(work: Path, transport: str) -> Path:
    repo = work / transport
    braid = os.environ.get("BRAID_BIN") or str(REPO / "target/debug/braid")
    answers = [f"project_name={NAME}", "gateway=go", f"transport={transport}"]
    subprocess.run(
        [braid, "new", str(repo), "--blueprints", str(BLUEPRINTS), "--yes", "--quiet"]
        + [arg for a in answers for arg in ("--set", a)],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )
    return repo / GATEWAY


def seed(gateway: Path) -> None:
    """A sibling's go.mod and go.sum, for `go mod tidy` to trim and fill in:
    the modules both need stay at the sibling's versions."""
    siblings = sorted((BLUEPRINTS / "components").glob(f"gateway-go-*/{GATEWAY}/go.mod.j2"))
    if not siblings:
        sys.exit("no gateway-go-*/services/gateway/go.mod.j2 to start from")
    go_mod = siblings[0].read_text().replace("{{ go_module }}", MODULE, 1)
    (gateway / "go.mod").write_text(go_mod)
    (gateway / "go.sum").write_text((siblings[0].parent / "go.sum").read_text())


def tidy(gateway: Path, upgrade: bool) -> tuple[str, str]:
    # -mod=mod: go may update go.mod and go.sum (a GOFLAGS=-mod=readonly
    # from the environment would refuse).
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    if upgrade:
        subprocess.run(["go", "get", "-u", "-t", "./..."], cwd=gateway, env=env, check=True)
    subprocess.run(["go", "mod", "tidy"], cwd=gateway, env=env, check=True)
    return (gateway / "go.mod").read_text(), (gateway / "go.sum").read_text()


def template(go_mod: str, go_sum: str, transport: str) -> str:
    """go.mod with its module path templated; neither file may name the
    project anywhere else (the template would then miss it)."""
    head = f"module {MODULE}\n"
    if not go_mod.startswith(head):
        sys.exit(f"{transport}: go.mod does not start with {head!r}")
    body = go_mod[len(head) :]
    for text, what in ((body, "go.mod"), (go_sum, "go.sum")):
        if NAME in text:
            sys.exit(f"{transport}: {what} names the project beyond its module line")
        if "{{" in text or "{%" in text or "{#" in text:
            sys.exit(f"{transport}: {what} holds template syntax")
    return "module {{ go_module }}\n" + body


def main() -> None:
    upgrade = "--upgrade" in sys.argv[1:]
    wanted = transports()
    missing = [t for t in wanted if not component(t).parent.parent.is_dir()]
    if missing:
        sys.exit(f"no component for {missing}: create blueprints/components/gateway-go-TRANSPORT first")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for transport in wanted:
            gateway = render(Path(tmp), transport)
            if not (gateway / "go.mod").exists():
                seed(gateway)
            go_mod, go_sum = tidy(gateway, upgrade)
            results[transport] = (template(go_mod, go_sum, transport), go_sum)
    for transport, (go_mod, go_sum) in results.items():
        target = component(transport)
        (target / "go.mod.j2").write_text(go_mod)
        (target / "go.sum").write_text(go_sum)
        print(f"wrote {target.relative_to(REPO)}/go.mod.j2 and go.sum")
    print("then: cargo build, and the e2e combos go-* (their builds prove the pairs)")


if __name__ == "__main__":
    main()
