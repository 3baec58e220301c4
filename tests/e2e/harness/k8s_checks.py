"""deploy/k8s (issue 16) validated offline, overlay by overlay.

For each overlay (dev, prod) of a rendered repo's deploy/k8s:

1. `kubectl kustomize` builds it (kubectl's built-in kustomize);
2. kubeconform `-strict` against local schemas only (scripts/e2e-deps.sh
   builds them: the built-in kinds of Kubernetes 1.32 and KEDA's CRDs, both
   with additionalProperties false): an unknown field fails, and so does a
   kind with no schema (no -ignore-missing-schemas: never skipped);
3. kube-score, with the optional seccomp and container-ports tests on: zero
   findings. A test ignored with a `kube-score/ignore` annotation must be
   justified by a comment in the source: on or just above that annotation,
   or one naming the test;
4. what neither tool knows: every KEDA trigger's metadata keys, and the
   TriggerAuthentication parameters it uses, are ones its scaler reads (its
   struct tags in the KEDA module, keda-params.json); every workload's
   containers have a liveness probe (and a readiness probe when a Service
   selects the pod), resources, a non-root
   numeric user, a read-only root filesystem, no privilege escalation, all
   capabilities dropped and seccomp RuntimeDefault (pod or container): a
   workload's justified kube-score/ignore of the kube-score test of the same
   matter waives one (WAIVERS); a
   Deployment runs as a ServiceAccount of its own from the overlay; every
   pod and ServiceAccount has automountServiceAccountToken false; a
   default-deny NetworkPolicy selects every pod, both ways; no Secret
   carries a value (only references); prod's images are pinned by digest.

No network: the tools run in an empty network namespace (`unshare -rn`)
where the machine allows it, and always with HTTP(S)_PROXY at a closed
port; kubeconform is given local schema locations only (its default is
GitHub).
Each overlay is three tool runs of well under a second.

`absent` checks a repo rendered with kubernetes = false: no deploy/, no
Kubernetes in its README.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from .procs import CmdResult, run
from .report import CheckFailed, expect

if TYPE_CHECKING:
    from .combo import Combo

OVERLAYS = ("dev", "prod")
K8S_VERSION = "1.32.0"
KUBE_SCORE_OPTIONAL = ("container-seccomp-profile", "container-ports-check")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
IGNORE = "kube-score/ignore"
# a comment this many lines above an ignore annotation justifies it
JUSTIFY_LINES = 3
DEAD_PROXY = "http://127.0.0.1:9"
README_MARKS = ("deploy/k8s", "kubectl", "Deploy to Kubernetes")


def cache_dir() -> Path:
    """run.py's cache (scripts/e2e-deps.sh's BRAID_E2E_CACHE)."""
    base = os.environ.get("BRAID_E2E_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "braid-e2e"
    )
    return Path(base)


def schema_dir(cache: Path | None = None) -> Path:
    return (cache or cache_dir()) / "k8s-schemas"


_nonet: list[list[str]] = []


def _no_network() -> list[str]:
    """`unshare -rn` (a network namespace with nothing in it) when this
    machine allows it, else nothing: the dead proxy still stands."""
    if not _nonet:
        try:
            ok = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10)
            _nonet.append(["unshare", "-rn"] if ok.returncode == 0 else [])
        except (OSError, subprocess.TimeoutExpired):
            _nonet.append([])
    return _nonet[0]


def _tool(name: str, env: dict[str, str]) -> list[str]:
    """The command prefix that runs `name` without network."""
    path = shutil.which(name, path=env.get("PATH"))
    expect(path is not None, f"{name} is not on PATH (scripts/e2e-deps.sh installs or checks it)")
    return [*_no_network(), str(path)]


def _offline(env: dict[str, str]) -> dict[str, str]:
    env = dict(env)
    for k in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env[k] = DEAD_PROXY
    for k in ("NO_PROXY", "no_proxy"):
        env.pop(k, None)
    return env


def _must(res: CmdResult) -> str:
    if not res.ok():
        raise CheckFailed(res.describe(10, 40))
    return res.output


def build(k8s: Path, overlay: str, env: dict[str, str], log: Path | None = None) -> str:
    d = k8s / "overlays" / overlay
    expect(d.is_dir(), f"no overlay {d}")
    res = run([*_tool("kubectl", env), "kustomize", str(d)], k8s, _offline(env), 60, log)
    return _must(res)


def _objects(manifest: str, cache: Path, env: dict[str, str]) -> list[dict]:
    """The rendered YAML as objects, read by the PyYAML of the schemas' venv
    (the harness itself is standard library only)."""
    py = cache / "k8s-venv" / "bin" / "python"
    code = (
        "import json, sys, yaml\n"
        "json.dump([d for d in yaml.safe_load_all(sys.stdin) if d], sys.stdout)"
    )
    res = run([str(py), "-c", code], cache, env, 60, stdin=manifest)
    return json.loads(_must(res))


def kubeconform(manifest: str, schemas: Path, env: dict[str, str], log=None) -> str:
    expect(
        (schemas / "deployment-apps-v1.json").is_file(),
        f"no schemas in {schemas} (run scripts/e2e-deps.sh)",
    )
    cmd = [
        *_tool("kubeconform", env),
        "-strict",
        "-summary",
        "-kubernetes-version",
        K8S_VERSION,
        "-schema-location",
        str(schemas) + "/{{.ResourceKind}}{{.KindSuffix}}.json",
        "-",
    ]
    out = _must(run(cmd, schemas, _offline(env), 60, log, stdin=manifest))
    m = re.search(
        r"Summary: (\d+) resources? found.*Valid: (\d+), Invalid: (\d+), "
        r"Errors: (\d+), Skipped: (\d+)",
        out,
    )
    expect(m is not None, f"no kubeconform summary in:\n{out}")
    found, valid, *bad = (int(x) for x in m.groups())
    expect(found > 0 and valid == found and not any(bad), out)
    return f"{valid} valid"


def kube_score(manifest: str, env: dict[str, str], log=None) -> tuple[str, set[tuple[str, str]]]:
    """Zero findings; returns the (object, test) pairs skipped by an ignore
    annotation."""
    cmd = [
        *_tool("kube-score", env),
        "score",
        "-o",
        "json",
        "--kubernetes-version",
        "v" + K8S_VERSION[:4],
    ]
    for t in KUBE_SCORE_OPTIONAL:
        cmd += ["--enable-optional-test", t]
    res = run([*cmd, "-"], Path("/"), _offline(env), 60, log, stdin=manifest)
    try:
        scored = json.loads(res.output[res.output.index("[") :])
    except ValueError as e:
        raise CheckFailed(f"kube-score gave no JSON ({e}):\n{res.describe()}") from None
    findings, ignored = [], set()
    for obj in scored:
        name = obj["object_name"]
        wanted = {
            t.strip()
            for t in ((obj.get("object_meta") or {}).get("annotations") or {})
            .get(IGNORE, "")
            .split(",")
            if t.strip()
        }
        for c in obj["checks"]:
            cid = c["check"]["id"]
            if c["skipped"]:
                if cid in wanted:
                    ignored.add((name, cid))
                continue
            if c["grade"] < 10:
                why = "; ".join(x.get("summary", "") for x in c.get("comments") or [])
                findings.append(f"{name}: {cid} (grade {c['grade']}): {why}")
    expect(not findings, f"{len(findings)} kube-score finding(s):\n" + "\n".join(findings))
    expect(res.ok(), f"kube-score failed with no finding listed:\n{res.describe()}")
    return f"{len(scored)} scored, 0 findings, {len(ignored)} ignored", ignored


def ignores_justified(k8s: Path) -> list[str]:
    """Every test a kube-score/ignore annotation of the source YAML names is
    justified: a comment on its line or within JUSTIFY_LINES lines above, or
    a comment anywhere in the same file that names the test."""
    bad = []
    for path in sorted(k8s.rglob("*.y*ml")):
        lines = path.read_text().splitlines()
        comments = [ln.split("#", 1)[1] for ln in lines if "#" in ln]
        for i, line in enumerate(lines):
            if IGNORE not in line or line.lstrip().startswith("#"):
                continue
            value = line.split(IGNORE, 1)[1].lstrip(":\"' ").split("#", 1)[0]
            tests = [t.strip(" \"'") for t in value.split(",") if t.strip(" \"'")]
            around = [line.split(IGNORE, 1)[1]] + lines[max(0, i - JUSTIFY_LINES) : i]
            if any("#" in a and a.split("#", 1)[1].strip() for a in around):
                continue
            for t in tests or ["?"]:
                if not any(t in c for c in comments):
                    bad.append(
                        f"{path.relative_to(k8s)}:{i + 1}: {line.strip()}: no comment says "
                        f"why {t} is ignored (on the line, the {JUSTIFY_LINES} above, or naming it)"
                    )
    return bad


# A hardening item that the kube-score test of the same matter covers: the
# workload's justified kube-score/ignore of that test waives it too.
WAIVERS = {
    "readOnlyRootFilesystem": "container-security-context-readonlyrootfilesystem",
    "runAsUser": "container-security-context-user-group-id",
    "runAsNonRoot": "container-security-context-user-group-id",
    "resources": "container-resources",
    "seccompProfile": "container-seccomp-profile",
    "probes": "pod-probes",
}


def _ignored(o: dict) -> set[str]:
    value = ((o.get("metadata") or {}).get("annotations") or {}).get(IGNORE, "")
    return {t.strip() for t in value.split(",") if t.strip()}


def _pods(objs: list[dict]):
    for o in objs:
        kind = o.get("kind")
        if kind not in WORKLOADS:
            continue
        spec = o.get("spec") or {}
        if kind == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        tpl = spec.get("template") or {}
        yield (
            f"{kind}/{o['metadata']['name']}",
            _ignored(o),
            (tpl.get("metadata") or {}).get("labels") or {},
            tpl.get("spec") or {},
        )


def hardening(objs: list[dict]) -> list[str]:
    bad = []
    accounts = {o["metadata"]["name"] for o in objs if o.get("kind") == "ServiceAccount"}
    selectors = [
        (o["metadata"]["name"], o["spec"].get("selector") or {})
        for o in objs
        if o.get("kind") == "Service" and (o.get("spec") or {}).get("selector")
    ]
    for name, ignored, labels, pod in _pods(objs):
        psc = pod.get("securityContext") or {}
        sa = pod.get("serviceAccountName")
        # our services (Deployments); the dev overlay's bus (a StatefulSet)
        # needs only the token off
        if name.startswith("Deployment/") and (sa in (None, "default") or sa not in accounts):
            bad.append(
                f"{name}: runs as ServiceAccount {sa or 'default'}, not one of its own "
                "in the overlay"
            )
        served = [svc for svc, sel in selectors if all(labels.get(k) == v for k, v in sel.items())]
        if pod.get("automountServiceAccountToken") is not False:
            bad.append(f"{name}: the pod does not set automountServiceAccountToken false")
        for c in pod.get("containers") or []:
            where = f"{name} container {c.get('name')}"
            n = len(bad)
            sc = c.get("securityContext") or {}

            def get(key, sc=sc, psc=psc):
                return sc.get(key, psc.get(key))

            if not c.get("livenessProbe"):
                bad.append(f"{where}: no livenessProbe")
            if served and not c.get("readinessProbe"):
                bad.append(f"{where}: no readinessProbe, behind Service {served[0]}")
            res = c.get("resources") or {}
            for part in ("requests", "limits"):
                for r in ("cpu", "memory"):
                    if r not in (res.get(part) or {}):
                        if not (part == "limits" and r == "cpu"):
                            bad.append(f"{where}: no resources.{part}.{r}")
            if get("runAsNonRoot") is not True:
                bad.append(f"{where}: runAsNonRoot is not true")
            if not isinstance(get("runAsUser"), int) or get("runAsUser") == 0:
                bad.append(f"{where}: no numeric non-root runAsUser")
            if sc.get("readOnlyRootFilesystem") is not True:
                bad.append(f"{where}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                bad.append(f"{where}: allowPrivilegeEscalation is not false")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                bad.append(f"{where}: capabilities do not drop ALL")
            if (get("seccompProfile") or {}).get("type") != "RuntimeDefault":
                bad.append(f"{where}: seccompProfile is not RuntimeDefault")
            waived = [k for k, test in WAIVERS.items() if test in ignored]
            bad[n:] = [
                b
                for b in bad[n:]
                if not any(k in b or (k == "probes" and "Probe" in b) for k in waived)
            ]
    for o in objs:
        if o.get("kind") == "ServiceAccount" and o.get("automountServiceAccountToken") is not False:
            bad.append(
                f"ServiceAccount/{o['metadata']['name']}: automountServiceAccountToken is not false"
            )
        if o.get("kind") == "Secret" and (o.get("data") or o.get("stringData")):
            bad.append(
                f"Secret/{o['metadata']['name']}: carries values "
                "(only references belong in the repo)"
            )
    deny = [
        o
        for o in objs
        if o.get("kind") == "NetworkPolicy"
        and not (o["spec"].get("podSelector") or {})
        and set(o["spec"].get("policyTypes") or []) >= {"Ingress", "Egress"}
        and not o["spec"].get("ingress")
        and not o["spec"].get("egress")
    ]
    if not deny:
        bad.append(
            "no default-deny NetworkPolicy "
            "(podSelector {}, policyTypes Ingress and Egress, no rules)"
        )
    return bad


def keda_triggers(objs: list[dict], params: dict) -> list[str]:
    bad = []
    auths = {o["metadata"]["name"]: o for o in objs if o.get("kind") == "TriggerAuthentication"}
    for o in objs:
        if o.get("kind") != "ScaledObject":
            continue
        for t in o["spec"].get("triggers") or []:
            kind = t.get("type")
            where = f"ScaledObject/{o['metadata']['name']} trigger {kind}"
            if kind not in params:
                bad.append(
                    f"{where}: a trigger type the harness does not know ({', '.join(params)})"
                )
                continue
            unknown = sorted(set(t.get("metadata") or {}) - set(params[kind]["metadata"]))
            if unknown:
                bad.append(f"{where}: metadata {unknown} is not read by KEDA's {kind} scaler")
            ref = (t.get("authenticationRef") or {}).get("name")
            if ref is None:
                continue
            auth = auths.get(ref)
            if auth is None:
                if (t.get("authenticationRef") or {}).get("kind") != "ClusterTriggerAuthentication":
                    bad.append(f"{where}: TriggerAuthentication {ref} is not in the overlay")
                continue
            spec = auth.get("spec") or {}
            used = [p.get("parameter") for p in spec.get("secretTargetRef") or []]
            used += [p.get("parameter") for p in spec.get("env") or []]
            unknown = sorted(set(used) - set(params[kind]["auth"]))
            if unknown:
                bad.append(
                    f"{where}: TriggerAuthentication/{ref} parameters {unknown} "
                    "are not read by its scaler"
                )
    return bad


def digests(objs: list[dict]) -> list[str]:
    return [
        f"{name} container {c.get('name')}: image {c.get('image')} is not pinned by digest"
        for name, _, _, pod in _pods(objs)
        for c in (pod.get("containers") or []) + (pod.get("initContainers") or [])
        if "@sha256:" not in (c.get("image") or "")
    ]


def kinds(objs: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for o in objs:
        out[o.get("kind", "?")] = out.get(o.get("kind", "?"), 0) + 1
    return out


def _step(failed: list[str], fn, *args):
    """fn(*args), or None with its failure added to failed."""
    try:
        return fn(*args)
    except CheckFailed as e:
        failed.append(str(e))
        return None


def validate(
    k8s: Path, env: dict[str, str], cache: Path | None = None, log: Path | None = None
) -> dict[str, dict]:
    """Every check on every overlay of the tree k8s; raises CheckFailed with
    every problem found. Returns, per overlay, its kinds and the notes."""
    cache = cache or cache_dir()
    schemas = schema_dir(cache)
    params = json.loads((schemas / "keda-params.json").read_text())
    problems, out = [], {}
    for bad in ignores_justified(k8s):
        problems.append(bad)
    for overlay in OVERLAYS:
        try:
            manifest = build(k8s, overlay, env, log)
        except CheckFailed as e:
            problems.append(f"{overlay}: {e}")
            continue
        failed: list[str] = []
        notes = [
            _step(failed, kubeconform, manifest, schemas, env, log) or "kubeconform failed",
            (_step(failed, kube_score, manifest, env, log) or ("kube-score failed",))[0],
        ]
        objs = _step(failed, _objects, manifest, cache, env) or []
        bad = failed + (hardening(objs) + keda_triggers(objs, params) if objs else [])
        if overlay == "prod":
            bad += digests(objs)
        problems.extend(f"{overlay}: {b}" for b in bad)
        out[overlay] = {"kinds": kinds(objs), "notes": notes}
    if problems:
        raise CheckFailed("\n".join(problems))
    return out


def absent(repo: Path) -> str:
    """kubernetes = false: no deploy/ and no word of it in the README."""
    expect(not (repo / "deploy").exists(), f"{repo / 'deploy'} exists with kubernetes = false")
    readme = (repo / "README.md").read_text()
    found = [m for m in README_MARKS if m in readme]
    expect(not found, f"README.md mentions {found} with kubernetes = false")
    return "no deploy/, README silent"


def readme_section(repo: Path) -> str:
    readme = (repo / "README.md").read_text()
    expect(
        re.search(r"^#+ .*Deploy to Kubernetes", readme, re.M) is not None,
        "README.md has no 'Deploy to Kubernetes' section",
    )
    expect(
        "kubectl apply -k deploy/k8s/overlays/prod" in readme,
        "README.md: no `kubectl apply -k deploy/k8s/overlays/prod`",
    )
    return "section present"


def static(combo: Combo) -> None:
    """The static phase's hook: the combination's deploy/k8s, or its absence."""
    k8s = combo.repo / "deploy" / "k8s"
    env = combo.ctx.base_env()
    answers = tomllib.loads((combo.repo / "braid.toml").read_text()).get("answers", {})
    if not answers.get("kubernetes", False):
        combo.check("kubernetes = false: no deploy/, README silent", absent, combo.repo)
        return

    def go() -> str:
        expect(k8s.is_dir(), "kubernetes = true in braid.toml, and no deploy/k8s")
        result = validate(k8s, env, combo.ctx.cache)
        prod = result["prod"]["kinds"]
        want_keda = combo.transport != "http"
        state = "missing" if want_keda else "unexpected"
        expect(
            ("ScaledObject" in prod) == want_keda,
            f"transport {combo.transport}: ScaledObject {state} in prod {prod}",
        )
        expect("HorizontalPodAutoscaler" in prod, f"no HorizontalPodAutoscaler in prod {prod}")
        return "; ".join(f"{o}: {', '.join(r['notes'])}" for o, r in result.items())

    combo.check("deploy/k8s: kustomize, kubeconform -strict, kube-score, hardening (offline)", go)
    combo.check("README.md: Deploy to Kubernetes", readme_section, combo.repo)
