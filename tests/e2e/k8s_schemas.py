"""Builds the local schemas of harness/k8s_checks.py (run by scripts/e2e-deps.sh
with the Python of a venv holding kubernetes-validate and its PyYAML).

    k8s_schemas.py K8S_VERSION KEDA_MODULE_DIR OUT

OUT gets, in kubeconform's `{{.ResourceKind}}{{.KindSuffix}}.json` layout:
- every built-in kind's strict schema (additionalProperties false wherever
  properties are listed) of kubernetes-validate for K8S_VERSION, made
  standalone: the definitions it reaches in its own `$defs`, no `$id`, every
  `$ref` local, so kubeconform never resolves one over HTTP;
- each served version of KEDA's CRDs (KEDA_MODULE_DIR/config/crd/bases,
  keda.sh_*.yaml) as JSON schema, made strict the same way (except where the
  CRD preserves unknown fields), metadata as the built-ins' ObjectMeta;
- keda-params.json: per trigger type the harness checks, the metadata keys
  and authentication parameters the scaler reads, from its Go struct tags
  (`keda:"name=a;b, order=triggerMetadata;authParams;resolvedEnv"`):
  a trigger's metadata is a free-form string map in the CRD, so a typo there
  (`pendingEntriesCnt`) is only caught this way.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sys
from pathlib import Path

import kubernetes_validate  # noqa: F401 - the venv's
import yaml

META = "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
# trigger type -> (scaler source, [struct names], None = every struct of the file)
SCALERS = {
    "redis-streams": [
        ("redis_streams_scaler.go", None),
        ("redis_scaler.go", ["redisConnectionInfo"]),
    ],
    "rabbitmq": [("rabbitmq_scaler.go", None)],
    "kafka": [("kafka_scaler.go", None)],
    "cpu": [("cpu_memory_scaler.go", None)],
    "memory": [("cpu_memory_scaler.go", None)],
}
TAG = re.compile(r'keda:"name=([^,"]+),\s*order=([^,"]+)')


def strict(node) -> None:
    if isinstance(node, dict):
        if node.pop("nullable", False) and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)


REF = re.compile(r'"\$ref": "(?:/api/_definitions\.json)?#/\$defs/([^"]+)"')


def standalone(schema: dict, defs: dict) -> dict:
    """schema with the definitions it reaches (transitively) in its own
    $defs and every $ref local: compiling one kind then reads only what it
    uses, not all of Kubernetes' definitions (1.4 s per run down to a
    fraction), and nothing is ever fetched."""
    text = json.dumps(schema)
    todo, seen = REF.findall(text), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in defs:
            sys.exit(f"$ref to an unknown definition {name}")
        seen.add(name)
        todo += REF.findall(json.dumps(defs[name]))
    out = json.loads(REF.sub(r'"$ref": "#/$defs/\1"', text))
    out.pop("$id", None)
    out["$defs"] = json.loads(
        REF.sub(r'"$ref": "#/$defs/\1"', json.dumps({n: defs[n] for n in sorted(seen)}))
    )
    left = re.findall(r'"\$ref": "(?!#/\$defs/)[^"]*"', json.dumps(out))
    if left:
        sys.exit(f"a $ref that is not local is left: {left[:3]}")
    return out


def builtins(k8s: str, out: Path) -> tuple[int, dict]:
    src = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    src = src / f"v{k8s}-local-strict"
    defs = json.loads((src / "_definitions.json").read_text())["$defs"]
    n = 0
    for path in sorted(src.glob("*.json")):
        if path.name == "_definitions.json":
            continue
        (out / path.name).write_text(json.dumps(standalone(json.loads(path.read_text()), defs)))
        n += 1
    if n < 100:
        sys.exit(f"only {n} schemas for Kubernetes {k8s} in {src}")
    return n, defs


def crds(keda: Path, out: Path, defs: dict) -> list[str]:
    names = []
    for path in sorted(glob.glob(str(keda / "config/crd/bases/keda.sh_*.yaml"))):
        crd = yaml.safe_load(open(path))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            if not v.get("served"):
                continue
            s = v["schema"]["openAPIV3Schema"]
            strict(s)
            props = s.setdefault("properties", {})
            props["apiVersion"] = {"type": "string", "enum": [f"{group}/{v['name']}"]}
            props["kind"] = {"type": "string", "enum": [kind]}
            props["metadata"] = {"$ref": META}
            s["required"] = sorted(set(s.get("required", [])) | {"apiVersion", "kind"})
            s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
            name = f"{kind.lower()}-{group.split('.')[0]}-{v['name']}.json"
            (out / name).write_text(json.dumps(standalone(s, defs)))
            names.append(name)
    if not any(n.startswith("scaledobject-") for n in names):
        sys.exit(f"no ScaledObject CRD under {keda}/config/crd/bases")
    return names


def structs(source: str, wanted: list[str] | None) -> str:
    if wanted is None:
        return source
    parts = []
    for name in wanted:
        m = re.search(rf"type {name} struct \{{(.*?)\n\}}", source, re.S)
        if not m:
            sys.exit(f"struct {name} not found")
        parts.append(m.group(1))
    return "\n".join(parts)


def params(keda: Path) -> dict[str, dict[str, list[str]]]:
    out = {}
    for kind, sources in SCALERS.items():
        meta, auth = set(), set()
        for file, wanted in sources:
            text = structs((keda / "pkg/scalers" / file).read_text(), wanted)
            for names, order in TAG.findall(text):
                orders = {o.strip() for o in order.split(";")}
                for n in (x.strip() for x in names.split(";")):
                    if "triggerMetadata" in orders:
                        meta.add(n)
                    if "resolvedEnv" in orders:
                        meta.add(n + "FromEnv")
                    if "authParams" in orders:
                        auth.add(n)
        if not meta:
            sys.exit(f"no trigger metadata found for {kind}")
        out[kind] = {"metadata": sorted(meta), "auth": sorted(auth)}
    return out


def main() -> None:
    k8s, keda, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    tmp = Path(str(out) + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n, defs = builtins(k8s, tmp)
    names = crds(keda, tmp, defs)
    (tmp / "keda-params.json").write_text(json.dumps(params(keda), indent=1))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    print(f"{n} built-in schemas (Kubernetes {k8s}), KEDA's {', '.join(names)}")


if __name__ == "__main__":
    main()
