"""The repo's root files held to what the running stack does (issue 11).

- `static`: docker-compose.yml as compose loads it (composecheck, with the
  .env a first `make dev` writes). Inside the network every listener of our
  images binds 0.0.0.0 (the gateway's public and metrics listeners, the ML
  image's, whose worker serves its metrics there), so metrics can be
  scraped; each service's stop_grace_period covers its own shutdown: the
  gateway's GATEWAY_DRAIN_DELAY_MS + GATEWAY_SHUTDOWN_TIMEOUT_MS + 5 s to close
  its upstream + 5 s to spare, the ML image's (service and worker)
  GATEWAY_UPSTREAM_TIMEOUT_MS + 5 s.
- `runtime`, with the combination's gateways up (after the contract cases):
  - every `curl` command of README.md runs against the running services (a
    port of the README is the default of a `*_PORT` in .env.example; the
    process the harness started with that variable gives the real port) and
    gets what its comment promises: the status, the JSON body, the headers;
    a 2xx when it promises none. A doc that lies fails.
  - every status the gateways gave to requests sent with `contract.send`
    (the contract's hostile cases, the overload case, not ready, upstream
    down...), plus 431 for headers over 64 KiB and 408 for a body that never
    ends, is documented in contracts/openapi.yaml for its path and method,
    with its Retry-After header when it came with one; an undocumented path
    must get 404, a documented path with another method 405.
  - the gateway's compose healthcheck, run here as compose runs it (with the
    gateway's environment), passes against a ready gateway and fails against
    one that is alive but not ready: it probes readiness.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from . import contract
from .procs import must
from .report import CheckFailed, expect

if TYPE_CHECKING:
    from .combo import Combo

# The gateway's own bound on closing its upstream after the drain (the Go
# gateway's Redis client), and what a grace period keeps to spare.
UPSTREAM_CLOSE_S = 5.0
SPARE_S = 5.0
DOCKER_DEFAULT_GRACE_S = 10.0
# What each of our images listens on, by image (`<project>-<stem>:local`).
LISTENERS = {"gateway": ("GATEWAY_HOST", "GATEWAY_METRICS_HOST"), "ml": ("ML_HOST",)}
BIG_HEADER = 100_000  # bytes: over the gateways' 64 KiB (Go adds 4 KiB of slack)


def static(combo: Combo) -> None:
    combo.check(
        "docker-compose.yml: metrics reachable in the network, grace periods", compose, combo
    )


def start_slow_body(base: str) -> tuple[threading.Thread, dict]:
    """A predict whose body never ends, sent now to base: its 408 comes after
    the gateway's 30 s read timeout, so whatever runs meanwhile costs nothing.
    `runtime` collects it."""
    slow: dict[str, object] = {}
    thread = threading.Thread(target=_slow_body, args=(base, slow), daemon=True)
    thread.start()
    return thread, slow


def runtime(combo: Combo, slow_body: tuple[threading.Thread, dict] | None = None) -> None:
    """After the contract cases, with the `main` and `down` gateways up; the
    slow body's answer is collected here (sent now, if nobody sent it)."""
    thread, slow = slow_body or start_slow_body(combo.gateways["main"][1])
    combo.check("README.md: every curl command gets what it says", readme_curls, combo)
    combo.check(
        "docker-compose.yml: the gateway's healthcheck probes readiness", healthcheck, combo
    )
    thread.join(timeout=60)
    combo.check(
        "contracts/openapi.yaml documents every status the gateways gave",
        api_statuses,
        combo,
        slow,
    )


# ------------------------------------------------------------------ compose


def _compose_summary(combo: Combo) -> dict:
    res = combo.run(
        ["composecheck", "-f", "docker-compose.yml", "-env-file", ".env", combo.repo],
        combo.repo,
        combo.ctx.base_env(),
        timeout=60,
    )
    must(res)
    return json.loads(res.output[res.output.index("{") :])


def _env_example(combo: Combo) -> dict[str, str]:
    """NAME -> value of every `NAME=value` or `# NAME=value` line."""
    text = (combo.repo / ".env.example").read_text()
    return dict(re.findall(r"(?m)^(?:# ?)?([A-Z][A-Z0-9_]*)=(.*)$", text))


def compose(combo: Combo) -> str:
    summary = _compose_summary(combo)
    defaults = _env_example(combo)
    errs, seen = [], []
    for svc in summary["services"]:
        image = svc.get("image") or ""
        if not image.startswith(f"{summary['name']}-"):
            continue  # not one of ours (redis)
        name, env = svc["name"], svc["environment"]
        stem = image[len(summary["name"]) + 1 :].split(":")[0]
        if stem not in LISTENERS:
            errs.append(f"{name}: image {image}: no listener rule for {stem!r} in this check")
            continue
        for var in LISTENERS[stem]:
            if env.get(var) != "0.0.0.0":
                errs.append(
                    f"{name}: {var}={env.get(var)!r}: not reachable inside the compose "
                    "network (want 0.0.0.0)"
                )

        def ms(var: str, env=env) -> float:
            value = env.get(var) or defaults.get(var) or "0"
            return int(value) / 1000

        if stem == "gateway":
            need = (
                ms("GATEWAY_DRAIN_DELAY_MS")
                + ms("GATEWAY_SHUTDOWN_TIMEOUT_MS")
                + UPSTREAM_CLOSE_S
                + SPARE_S
            )
            how = "GATEWAY_DRAIN_DELAY_MS + GATEWAY_SHUTDOWN_TIMEOUT_MS + 5 s close + 5 s"
        else:
            need = ms("GATEWAY_UPSTREAM_TIMEOUT_MS") + SPARE_S
            how = "GATEWAY_UPSTREAM_TIMEOUT_MS (requests in hand) + 5 s"
        grace = svc.get("stop_grace_period")
        got = DOCKER_DEFAULT_GRACE_S if grace is None else grace
        if got < need:
            errs.append(
                f"{name}: stop_grace_period {got:g}s"
                f"{' (unset: Docker default)' if grace is None else ''} < {need:g}s ({how})"
            )
        seen.append(f"{name} {got:g}s")
    expect(seen, f"none of our images in {[s['name'] for s in summary['services']]}")
    if errs:
        raise CheckFailed("\n".join(errs))
    return "; ".join(seen)


# --------------------------------------------------------------- processes


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {k: v for k, _, v in pairs}


def _processes(combo: Combo) -> list:
    procs = [combo.gateways["main"][0], combo.ml_proc, combo.worker]
    return [p for p in procs if p is not None and p.alive()]


# ---------------------------------------------------------------- README


def _comment_at(line: str) -> int:
    """Where the shell comment of a command line starts (-1: none)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return i
    return -1


def readme_commands(text: str) -> list[tuple[str, list[str]]]:
    """(command, comments) for each curl command in the README's sh blocks:
    continuation lines joined, comments = its own and the comment lines
    right below it."""
    out: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    block = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("```"):
            block = None if block is not None else (line[3:].strip() or "text")
            continue
        if block not in ("sh", "bash", "shell") or not line.lstrip().startswith("curl "):
            continue
        cmd = line.strip()
        while cmd.endswith("\\") and i < len(lines):
            cmd = cmd[:-1].rstrip() + " " + lines[i].strip()
            i += 1
        comments = []
        at = _comment_at(cmd)
        if at >= 0:
            comments.append(cmd[at + 1 :].strip())
            cmd = cmd[:at].rstrip()
        while i < len(lines) and lines[i].lstrip().startswith("#"):
            comments.append(lines[i].lstrip()[1:].strip())
            i += 1
        out.append((cmd, comments))
    return out


def _expectations(comments: list[str]) -> tuple[int | None, object, list[tuple[str, str]]]:
    """The status, JSON body and headers the comments promise."""
    status, body, headers = None, None, []
    for c in comments[:2]:
        if status is None and (m := re.match(r"(\d{3})\b", c)):
            status = int(m[1])
        if body is None and (m := re.match(r"(\{[^{}]*\})", c)):
            try:
                body = json.loads(m[1])
            except ValueError:
                pass
        headers += re.findall(r"\b([A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)+): ([^\s,]+)", c)
    return status, body, headers


_URL = re.compile(r"^(https?://(?:localhost|127\.0\.0\.1|\[::1\]))(?::(\d+))?(/.*)?$")


def readme_curls(combo: Combo) -> str:
    port_vars: dict[int, list[str]] = {}
    for var, value in _env_example(combo).items():
        if var.endswith("_PORT") and value.isdigit():
            port_vars.setdefault(int(value), []).append(var)
    envs = [_environ(p.pid) for p in _processes(combo)]

    def real_port(port: int) -> int:
        names = port_vars.get(port)
        if not names:
            raise CheckFailed(f"port {port}: no *_PORT in .env.example defaults to it")
        for var in names:
            for env in envs:
                if env.get(var, "").isdigit():
                    return int(env[var])
        raise CheckFailed(f"port {port} ({', '.join(names)}): no running service has it")

    # What the README tells the reader to export (API_KEY or TOKEN: see
    # Authentication).
    env = {**combo.ctx.base_env(), **combo.credential_env()}
    commands = readme_commands((combo.repo / "README.md").read_text())
    expect(commands, "README.md has no curl command")
    errs = []
    for cmd, comments in commands:
        try:
            argv = [_expand(tok, env) for tok in shlex.split(cmd)]
            for n, tok in enumerate(argv):
                if m := _URL.match(tok):
                    expect(m[2] is not None, f"{tok}: no port")
                    argv[n] = f"{m[1]}:{real_port(int(m[2]))}{m[3] or ''}"
            errs += _run_curl(combo, cmd, argv, comments, env)
        except (CheckFailed, ValueError) as e:
            errs.append(f"{cmd}\n    {e}")
    if errs:
        raise CheckFailed("\n".join(errs))
    return f"{len(commands)} commands"


def _expand(token: str, env: dict[str, str]) -> str:
    """$NAME and ${NAME} as a shell would expand them in double quotes (the
    README single-quotes nothing with a $ in it)."""
    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", lambda m: env.get(m[1] or m[2], ""), token)


def _run_curl(
    combo: Combo, cmd: str, argv: list[str], comments: list[str], env: dict[str, str]
) -> list[str]:
    status, body, headers = _expectations(comments)
    include = any(
        t == "--include" or (t.startswith("-") and not t.startswith("--") and "i" in t)
        for t in argv
    )
    with tempfile.NamedTemporaryFile(suffix=".headers") as hdr:
        extra = ["--max-time", "10", "--dump-header", hdr.name, "--write-out", "\n%{http_code}"]
        res = subprocess.run(
            [*argv, *extra],
            cwd=combo.repo,
            capture_output=True,
            timeout=30,
            env=env,
        )
        head = Path(hdr.name).read_text(errors="replace")
    out = res.stdout.decode(errors="replace")
    text, _, code = out.rpartition("\n")
    if include:
        text = text.split("\r\n\r\n", 1)[-1]
    got = int(code) if code.isdigit() else 0
    errs = []
    if res.returncode != 0:
        errs.append(f"curl exit {res.returncode}: {res.stderr.decode(errors='replace').strip()}")
    elif status is not None and got != status:
        errs.append(f"status {got}, the README says {status}")
    elif status is None and not 200 <= got < 300:
        errs.append(f"status {got}, the README promises an answer")
    if body is not None and not errs:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        if parsed != body:
            errs.append(f"body {text[:200]!r}, the README says {json.dumps(body)}")
    for name, value in headers:
        found = re.search(rf"(?im)^{re.escape(name)}:\s*(.*?)\s*$", head)
        if not found or not found[1].lower().startswith(value.lower()):
            errs.append(f"{name}: {found[1] if found else None!r}, the README says {value!r}")
    return [f"{cmd}  ({' '.join(shlex.quote(a) for a in argv[1:])})\n    " + e for e in errs]


# ------------------------------------------------------------- healthcheck


def healthcheck(combo: Combo) -> str:
    gateway = {s["name"]: s for s in _compose_summary(combo)["services"]}["gateway"]
    test = gateway.get("healthcheck_test") or []
    expect(test and test[0] in ("CMD", "CMD-SHELL"), f"gateway healthcheck test: {test}")
    argv = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]
    if argv[0] == "/gateway":  # the Go image's one binary: the one the harness built
        argv[0] = str(combo.gw_bin)
    errs, seen = [], []
    for role, want_ok in (("main", True), ("down", False)):
        proc, base = combo.gateways[role]
        res = subprocess.run(
            argv, cwd=combo.gw, env=_environ(proc.pid), capture_output=True, timeout=30
        )
        seen.append(f"{role}: exit {res.returncode}")
        if (res.returncode == 0) != want_ok:
            why = "ready" if want_ok else "alive (/healthz 200) but not ready (/readyz 503)"
            errs.append(
                f"exit {res.returncode} against the {role} gateway, {why}: "
                f"{'it should pass' if want_ok else 'it should fail'}\n"
                f"    {argv}: {(res.stdout + res.stderr).decode(errors='replace').strip()[:300]}"
            )
    if errs:
        raise CheckFailed("\n".join(errs))
    return "; ".join(seen)


# ------------------------------------------------------------ the OpenAPI file


def yaml_tree(text: str) -> dict:
    """The block mappings of a YAML file as nested dicts, enough to read
    contracts/openapi.yaml with the standard library: a key with a value on
    its line is a string (quotes removed; what is indented below it, a block
    scalar's text, is skipped), sequences are skipped."""
    root: dict = {}
    stack: list[tuple[int, dict]] = [(-1, root)]
    skip_below: int | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip(" "))
        if skip_below is not None:
            if indent > skip_below:
                continue
            skip_below = None
        m = re.match(r" *(\"[^\"]*\"|'[^']*'|[^\s\"'#-][^:]*?):(?: +(.*))?$", line)
        if stripped.startswith("- ") or not m:
            skip_below = indent
            continue
        while stack[-1][0] >= indent:
            stack.pop()
        key, value = m[1].strip("\"'"), m[2]
        if value is None or value.startswith("#"):
            child: dict = {}
            stack[-1][1][key] = child
            stack.append((indent, child))
        else:
            stack[-1][1][key] = value.strip().strip("\"'")
            skip_below = indent
    return root


def _documented(combo: Combo) -> tuple[dict, dict]:
    tree = yaml_tree((combo.repo / "contracts" / "openapi.yaml").read_text())
    components = tree.get("components", {}).get("responses", {})

    def resolve(resp):
        ref = resp.get("$ref", "") if isinstance(resp, dict) else ""
        return components.get(ref.rsplit("/", 1)[-1], {}) if ref else resp

    ops = {
        (path, method.upper()): {
            int(code): resolve(r) for code, r in op.get("responses", {}).items() if code.isdigit()
        }
        for path, item in tree.get("paths", {}).items()
        for method, op in item.items()
        if isinstance(op, dict)
    }
    return ops, components


def _component_statuses(components: dict) -> set[int]:
    """The statuses of the examples of components/responses."""
    found = set()
    for resp in components.values():
        for media in resp.get("content", {}).values():
            if not isinstance(media, dict):
                continue
            named = media.get("examples", {})
            for example in [media.get("example"), *[e.get("value") for e in named.values()]]:
                status = example.get("status", "") if isinstance(example, dict) else ""
                if status.isdigit():
                    found.add(int(status))
    return found


def _raw(base: str, data: bytes, timeout: float) -> int | None:
    """Sends data as is; the status of the answer, None when there is none."""
    host, _, port = base.split("://", 1)[-1].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass  # refused mid-way: read the answer
        got = b""
        try:
            while b"\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except OSError:
            pass
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", got)
    return int(m[1]) if m else None


def _slow_body(base: str, box: dict) -> None:
    """A predict whose body never ends: the gateway's read timeout (30 s) -> 408."""
    head = (
        b"POST /v1/predict HTTP/1.1\r\nHost: e2e\r\nContent-Type: application/json\r\n"
        b'Content-Length: 100\r\nX-Request-ID: e2e-slow-body\r\n\r\n{"instances"'
    )
    try:
        box["status"] = _raw(base, head, timeout=45)
    except OSError as e:
        box["error"] = str(e)


def api_statuses(combo: Combo, slow: dict) -> str:
    ops, components = _documented(combo)
    expect(("/v1/predict", "POST") in ops, f"no POST /v1/predict in the paths: {sorted(ops)}")
    bases = {base for _, base in combo.gateways.values()}
    observed = [
        (case.method, case.path, resp.status, resp.header("retry-after"), case.name)
        for base, case, resp in contract.SENT
        if base in bases
    ]
    main = combo.gateways["main"][1]
    big = f"X-Big: {'a' * BIG_HEADER}\r\n".encode()
    for method, path in (("GET", "/healthz"), ("POST", "/v1/predict")):
        req = f"{method} {path} HTTP/1.1\r\nHost: e2e\r\nContent-Length: 0\r\n".encode()
        status = _raw(main, req + big + b"\r\n", timeout=10)
        observed.append((method, path, status, None, "headers over 64 KiB"))
    if "error" in slow or "status" not in slow:
        observed.append(("POST", "/v1/predict", None, None, f"body never ends: {slow}"))
    else:
        observed.append(("POST", "/v1/predict", slow["status"], None, "body never ends"))
    known_paths = {path for path, _ in ops}
    fallback = _component_statuses(components)
    errs, statuses = [], set()
    for method, path, status, retry_after, what in observed:
        statuses.add(status)
        where = f"{method} {path} -> {status} ({what})"
        if status is None:
            errs.append(f"{where}: no answer")
        elif (path, method) in ops:
            resp = ops[(path, method)].get(status)
            if resp is None:
                errs.append(f"{where}: documented are {sorted(ops[(path, method)])}")
            elif retry_after is not None and "Retry-After" not in resp.get("headers", {}):
                errs.append(f"{where}: came with Retry-After, the documented {status} has none")
        else:
            want = 405 if path in known_paths else 404
            if status != want or want not in fallback:
                kind = (
                    "an undocumented path" if want == 404 else "a documented path, another method"
                )
                errs.append(f"{where}: {kind} must get {want}, a response of components/responses")
    contract.SENT.clear()
    if errs:
        raise CheckFailed("\n".join(dict.fromkeys(errs)))
    return f"{len(observed)} answers, statuses {sorted(s for s in statuses if s)}"
