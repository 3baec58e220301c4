"""The gateway contract (docs/ml-gateway-contract.md) as data.

Each `Case` is one request and what the contract says must come back. The
expectations are written from the contract, not from either gateway, so that
the Go and the Node.js gateways are each checked against the contract; the
normalized answers (`normalize`) are then compared between the gateways, and
any difference is a failure of its own.

A case runs against one of the gateway instances a combination starts:
`main` (the real upstream, GATEWAY_MAX_BODY_BYTES=MAX_BODY), `metrics` (the
/metrics listener of `main`, on GATEWAY_METRICS_PORT), `down` (the
upstream is a closed port), `slow` (the upstream never answers in time) and,
over HTTP, `err500` (the upstream answers 500 at once).

Every gateway the harness starts has its credential registered in httpc (an
API key whose hash is in its GATEWAY_API_KEYS, when auth = api-key): a case
sends it unless its `credential` says otherwise. The 401 cases apply to the
auth modes in their `auths`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from .httpc import HttpError, Resp, request
from .report import CheckFailed

SETOSA = [5.1, 3.5, 1.4, 0.2]
VIRGINICA = [6.7, 3.0, 5.2, 2.3]
CLASSES = ["setosa", "versicolor", "virginica"]

MAX_BODY = 16384  # GATEWAY_MAX_BODY_BYTES of the `main` gateway
SLOW_TIMEOUT_MS = 800  # GATEWAY_UPSTREAM_TIMEOUT_MS of the `slow` gateway

HEX32 = re.compile(r"^[0-9a-f]{32}$")
RID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MODEL_VERSION = re.compile(r"^iris-logreg-[0-9a-f]{12}$")
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}
JSON = "application/json"
PROBLEM = "application/problem+json"

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def body_of(obj) -> bytes:
    return obj.encode() if isinstance(obj, str) else json.dumps(obj).encode()


@dataclass
class Case:
    name: str
    method: str
    path: str
    body: bytes | None = None
    ctype: str | None = JSON  # request Content-Type; None: no header
    rid: str | None = "default"  # X-Request-ID sent; "default": e2e-<name>; None: none
    status: int = 200
    kind: str = "problem"  # prediction | problem | relayed-problem | health | metrics
    labels: list[str] | None = None  # prediction: expected labels
    health: dict | None = None  # health: expected exact body
    allow: str | None = None
    retry_after: str | None = None
    target: str = "main"
    transports: tuple[str, ...] = ("http", "redis-streams", "rabbitmq", "kafka")
    min_secs: float | None = None
    max_secs: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # "registered": the gateway's credential (httpc.authorize); "none": no
    # Authorization header; anything else: sent as the Authorization header.
    credential: str = "registered"
    auths: tuple[str, ...] = ("api-key", "jwt", "none")
    www_authenticate: str | None = None

    def sent_rid(self) -> str | None:
        return f"e2e-{self.name}" if self.rid == "default" else self.rid

    def request_headers(self) -> dict[str, str]:
        h = dict(self.headers)
        if self.ctype is not None:
            h["Content-Type"] = self.ctype
        if self.sent_rid() is not None:
            h["X-Request-ID"] = self.sent_rid()
        if self.credential not in ("registered", "none"):
            h["Authorization"] = self.credential
        return h

    def rid_expectation(self) -> str:
        sent = self.sent_rid()
        return "echo" if sent is not None and RID_OK.match(sent) else "generated"


def _predict(name, rows, labels, **kw) -> Case:
    return Case(
        name,
        "POST",
        "/v1/predict",
        body_of({"instances": rows}),
        kind="prediction",
        labels=labels,
        **kw,
    )


def _bad(name, body, status, **kw) -> Case:
    return Case(
        name,
        "POST",
        "/v1/predict",
        body_of(body) if not isinstance(body, bytes) else body,
        status=status,
        **kw,
    )


def _unauthorized(auth: str) -> list[Case]:
    """The 401s of an auth mode: no credential, another scheme, a wrong one."""
    body = {"instances": [SETOSA]}
    missing, invalid = "Bearer", 'Bearer error="invalid_token"'
    wrong = "Bearer " + "A" * 43  # the shape of a key, not one of the gateway's
    cases = [
        ("no-credential", "none", missing, JSON),
        ("no-credential-before-415", "none", missing, "text/plain"),
        ("basic-scheme", "Basic ZTJlOmUyZQ==", missing, JSON),
        ("bearer-empty", "Bearer ", missing, JSON),
        ("wrong-credential", wrong, invalid, JSON),
        ("wrong-credential-lowercase-scheme", "bearer " + "A" * 43, invalid, JSON),
    ]
    return [
        _bad(
            f"{auth}-{name}",
            body,
            401,
            ctype=ctype,
            credential=credential,
            auths=(auth,),
            www_authenticate=challenge,
        )
        for name, credential, challenge, ctype in cases
    ]


def cases() -> list[Case]:
    oversized = b'{"instances": [[5.1, 3.5, 1.4, 0.2]]' + b" " * (MAX_BODY + 4096) + b"}"
    rows256 = [SETOSA if i % 2 == 0 else VIRGINICA for i in range(256)]
    return [
        # Predictions.
        _predict("predict", [SETOSA], ["setosa"]),
        _predict("predict-batch", [SETOSA, VIRGINICA], ["setosa", "virginica"]),
        _predict("predict-integers", [[5, 3, 1, 0]], ["setosa"]),
        _predict("predict-256-rows", rows256, ["setosa", "virginica"] * 128),
        _predict(
            "content-type-with-charset",
            [SETOSA],
            ["setosa"],
            ctype="application/json; charset=utf-8",
        ),
        # Request ids.
        _predict("request-id-generated", [SETOSA], ["setosa"], rid=None),
        _predict("request-id-invalid-chars", [SETOSA], ["setosa"], rid="has space/slash"),
        _predict("request-id-too-long", [SETOSA], ["setosa"], rid="a" * 129),
        _predict("request-id-128-chars", [SETOSA], ["setosa"], rid="b" * 128),
        _predict("request-id-all-allowed-chars", [SETOSA], ["setosa"], rid="aZ0._:-"),
        # Not JSON: 400.
        _bad("malformed-json", '{"instances": [[5.1,', 400),
        _bad("malformed-json-no-request-id", '{"instances": [[5.1,', 400, rid=None),
        _bad("malformed-trailing-garbage", '{"instances": [[5.1, 3.5, 1.4, 0.2]]} x', 400),
        _bad("malformed-empty-body", b"", 400),
        # Content type: 415.
        _bad("content-type-text-plain", {"instances": [SETOSA]}, 415, ctype="text/plain"),
        _bad("content-type-missing", {"instances": [SETOSA]}, 415, ctype=None),
        _bad(
            "content-type-form",
            {"instances": [SETOSA]},
            415,
            ctype="application/x-www-form-urlencoded",
        ),
        # Wrong shape: 422 from the gateway.
        _bad("shape-top-level-array", [SETOSA], 422),
        _bad("shape-json-null", "null", 422),
        _bad("shape-missing-instances", {"rows": [SETOSA]}, 422),
        _bad("shape-extra-key", {"instances": [SETOSA], "extra": 1}, 422),
        _bad("shape-instances-not-array", {"instances": "5.1,3.5,1.4,0.2"}, 422),
        _bad("shape-empty-batch", {"instances": []}, 422),
        _bad("shape-empty-row", {"instances": [[]]}, 422),
        _bad("shape-row-not-array", {"instances": [5.1, 3.5]}, 422),
        _bad("shape-string-value", {"instances": [["5.1", 3.5, 1.4, 0.2]]}, 422),
        _bad("shape-bool-value", {"instances": [[True, 3.5, 1.4, 0.2]]}, 422),
        _bad("shape-null-value", {"instances": [[None, 3.5, 1.4, 0.2]]}, 422),
        _bad("shape-nested-array", {"instances": [[[5.1], 3.5, 1.4, 0.2]]}, 422),
        _bad("shape-257-rows", {"instances": [SETOSA] * 257}, 422),
        # Wrong feature count: the ML service's 422, relayed.
        _bad("feature-count-3", {"instances": [[5.1, 3.5, 1.4]]}, 422, kind="relayed-problem"),
        _bad(
            "feature-count-5",
            {"instances": [[5.1, 3.5, 1.4, 0.2, 9.9]]},
            422,
            kind="relayed-problem",
        ),
        # Size: 413.
        _bad("oversized-body", oversized, 413),
        # Routing: 404 / 405.
        Case("unknown-route", "GET", "/v2/predict", ctype=None, status=404),
        Case("unknown-route-root", "GET", "/", ctype=None, status=404),
        Case(
            "unknown-route-post",
            "POST",
            "/v1/predictions",
            body_of({"instances": [SETOSA]}),
            status=404,
        ),
        Case("wrong-method-get", "GET", "/v1/predict", ctype=None, status=405, allow="POST"),
        Case("wrong-method-delete", "DELETE", "/v1/predict", ctype=None, status=405, allow="POST"),
        Case(
            "wrong-method-put",
            "PUT",
            "/v1/predict",
            body_of({"instances": [SETOSA]}),
            status=405,
            allow="POST",
        ),
        # Authentication (401 before 415; health stays open).
        *_unauthorized("api-key"),
        *_unauthorized("jwt"),
        # Health and metrics: open to callers without a credential.
        Case(
            "healthz",
            "GET",
            "/healthz",
            ctype=None,
            kind="health",
            health={"status": "ok"},
            credential="none",
        ),
        Case(
            "readyz",
            "GET",
            "/readyz",
            ctype=None,
            kind="health",
            health={"status": "ready"},
            credential="none",
        ),
        Case("metrics", "GET", "/metrics", ctype=None, kind="metrics", target="metrics"),
        Case("metrics-not-public", "GET", "/metrics", ctype=None, status=404),
        # Upstream down: 502; not ready: 503 + Retry-After.
        _bad("upstream-down", {"instances": [SETOSA]}, 502, target="down"),
        Case(
            "upstream-down-healthz",
            "GET",
            "/healthz",
            ctype=None,
            kind="health",
            health={"status": "ok"},
            target="down",
        ),
        Case(
            "upstream-down-readyz",
            "GET",
            "/readyz",
            ctype=None,
            status=503,
            retry_after="1",
            target="down",
        ),
        # Upstream answers 5xx (HTTP only; a worker's 5xx replies are relayed as is).
        _bad("upstream-500", {"instances": [SETOSA]}, 502, target="err500", transports=("http",)),
        # Upstream too slow: 504 after GATEWAY_UPSTREAM_TIMEOUT_MS, not long after.
        _bad(
            "upstream-slow",
            {"instances": [SETOSA]},
            504,
            target="slow",
            min_secs=SLOW_TIMEOUT_MS / 1000 - 0.1,
            max_secs=SLOW_TIMEOUT_MS / 1000 + 2.0,
        ),
    ]


# Every answer `send` got, as (base, case, response): rootdocs_checks holds
# each status against contracts/openapi.yaml.
SENT: list[tuple[str, Case, Resp]] = []


def send(case: Case, base: str, timeout: float = 15.0) -> Resp:
    resp = request(
        case.method,
        base,
        case.path,
        case.body,
        case.request_headers(),
        timeout,
        auth=case.credential == "registered",
    )
    SENT.append((base, case, resp))
    return resp


# ---------------------------------------------------------------- the contract


def check(case: Case, resp: Resp) -> str:
    """Raise CheckFailed listing every way resp breaks the contract."""
    errs: list[str] = []

    def want(cond, msg):
        if not cond:
            errs.append(msg)

    want(resp.status == case.status, f"status {resp.status}, contract says {case.status}")
    rid = resp.header("x-request-id")
    sent = case.sent_rid()
    if case.kind == "metrics":
        pass  # the metrics listener is for scrapers, not part of the public API
    elif case.rid_expectation() == "echo":
        want(rid == sent, f"X-Request-ID {rid!r}, should echo the client's {sent!r}")
    else:
        want(
            rid is not None and HEX32.match(rid) is not None,
            f"X-Request-ID {rid!r}, should be a new 32 lowercase hex id"
            + (f" (client sent invalid {sent[:40]!r})" if sent else ""),
        )
    ctype = resp.header("content-type")
    body = None
    if case.kind != "metrics":
        try:
            body = resp.json()
        except ValueError:
            errs.append(f"body is not JSON: {resp.body[:200]!r}")

    if case.kind in ("problem", "relayed-problem"):
        want(ctype == PROBLEM, f"Content-Type {ctype!r}, contract says {PROBLEM!r}")
        if isinstance(body, dict):
            missing = PROBLEM_KEYS - body.keys()
            want(not missing, f"problem body lacks {sorted(missing)}")
            if case.kind == "problem":
                extra = body.keys() - PROBLEM_KEYS
                want(not extra, f"problem body has extra keys {sorted(extra)}")
            want(body.get("type") == "about:blank", f"type {body.get('type')!r}")
            want(
                body.get("title") == TITLES.get(case.status),
                f"title {body.get('title')!r}, contract says {TITLES.get(case.status)!r}",
            )
            want(body.get("status") == case.status, f"body status {body.get('status')!r}")
            want(isinstance(body.get("detail"), str), f"detail {body.get('detail')!r} not a string")
            want(
                body.get("instance") == case.path,
                f"instance {body.get('instance')!r}, should be the request path {case.path!r}",
            )
            want(
                body.get("request_id") == rid,
                f"request_id {body.get('request_id')!r} differs from X-Request-ID {rid!r}",
            )
        elif body is not None:
            errs.append(f"problem body is not an object: {body!r}")
    elif case.kind == "prediction":
        want(ctype == JSON, f"Content-Type {ctype!r}, contract says {JSON!r}")
        if resp.status == 200:
            errs.extend(prediction_errors(body, case.labels or []))
    elif case.kind == "health":
        want(ctype == JSON, f"Content-Type {ctype!r}, contract says {JSON!r}")
        want(body == case.health, f"body {body!r}, contract says {case.health!r}")
    elif case.kind == "metrics":
        want(
            ctype is not None and ctype.startswith("text/plain"),
            f"Content-Type {ctype!r}, Prometheus text format is text/plain",
        )
        want(b"# TYPE" in resp.body, "no '# TYPE' line: not Prometheus text format")

    if case.allow is not None:
        want(
            resp.header("allow") == case.allow,
            f"Allow {resp.header('allow')!r}, contract says {case.allow!r}",
        )
    if case.www_authenticate is not None:
        want(
            resp.header("www-authenticate") == case.www_authenticate,
            f"WWW-Authenticate {resp.header('www-authenticate')!r}, "
            f"contract says {case.www_authenticate!r}",
        )
    if case.retry_after is not None:
        want(
            resp.header("retry-after") == case.retry_after,
            f"Retry-After {resp.header('retry-after')!r}, contract says {case.retry_after!r}",
        )
        if case.status == 503 and isinstance(body, dict):
            want(ctype == PROBLEM, f"Content-Type {ctype!r}, contract says {PROBLEM!r}")
    if case.min_secs is not None:
        want(
            resp.secs >= case.min_secs,
            f"answered after {resp.secs:.2f}s, before the upstream timeout ({case.min_secs:.2f}s)",
        )
    if case.max_secs is not None:
        want(
            resp.secs <= case.max_secs,
            f"answered after {resp.secs:.2f}s, more than {case.max_secs:.2f}s",
        )
    if errs:
        raise CheckFailed("\n".join(errs) + f"\nresponse: {resp.short()}")
    return f"{resp.status} in {resp.secs * 1000:.0f}ms"


def prediction_errors(body, labels: list[str]) -> list[str]:
    errs = []
    if not isinstance(body, dict):
        return [f"prediction body is not an object: {body!r}"]
    if set(body) != {"model_version", "predictions"}:
        errs.append(
            f"prediction body keys {sorted(body)}, contract says ['model_version', 'predictions']"
        )
    mv = body.get("model_version")
    if not (isinstance(mv, str) and MODEL_VERSION.match(mv)):
        errs.append(f"model_version {mv!r} is not iris-logreg-<12 hex>")
    preds = body.get("predictions")
    if not isinstance(preds, list) or len(preds) != len(labels):
        return errs + [
            f"{len(preds) if isinstance(preds, list) else preds!r} predictions "
            f"for {len(labels)} rows"
        ]
    for i, (p, label) in enumerate(zip(preds, labels, strict=True)):
        if not isinstance(p, dict):
            errs.append(f"prediction {i} not an object: {p!r}")
            continue
        if p.get("label") != label:
            errs.append(f"prediction {i}: label {p.get('label')!r}, expected {label!r}")
        if p.get("class_id") != CLASSES.index(label):
            errs.append(
                f"prediction {i}: class_id {p.get('class_id')!r}, expected {CLASSES.index(label)}"
            )
        probs = p.get("probabilities")
        if not isinstance(probs, dict) or set(probs) != set(CLASSES):
            errs.append(f"prediction {i}: probabilities {probs!r} should map the 3 classes")
            continue
        vals = list(probs.values())
        if not all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in vals):
            errs.append(f"prediction {i}: probabilities out of [0, 1]: {probs}")
        elif not math.isclose(sum(vals), 1.0, abs_tol=0.02):
            errs.append(f"prediction {i}: probabilities sum to {sum(vals)}")
        elif max(probs, key=probs.get) != p.get("label"):
            errs.append(f"prediction {i}: label {p.get('label')!r} is not the most probable")
    return errs


# ------------------------------------------------------ comparing two gateways


def normalize(case: Case, resp: Resp | None) -> dict:
    """What must be equal between the Go and the Node.js gateway."""
    if resp is None:
        return {"error": "no response"}
    rid = resp.header("x-request-id")
    sent = case.sent_rid()
    if sent is not None and rid == sent:
        rid_kind = "echo"
    elif rid is not None and HEX32.match(rid):
        rid_kind = "generated-32-hex"
    else:
        rid_kind = f"other:{rid}"
    out = {
        "status": resp.status,
        "content-type": resp.header("content-type"),
        "allow": resp.header("allow"),
        "retry-after": resp.header("retry-after"),
        "www-authenticate": resp.header("www-authenticate"),
        "x-request-id": rid_kind,
    }
    if case.kind == "metrics":
        out["content-type"] = (out["content-type"] or "").split(";")[0]
        return out
    try:
        body = resp.json()
    except ValueError:
        body = {"<not json>": resp.body[:200].decode(errors="replace")}
    if isinstance(body, dict):
        # detail is free text, but the 401s' are fixed bytes (the contract).
        body = {k: v for k, v in body.items() if k != "detail" or resp.status == 401}
        if "request_id" in body:
            body["request_id"] = (
                "same-as-header" if body["request_id"] == rid else f"differs:{body['request_id']}"
            )
    out["body"] = body
    return out


# How far apart two gateways' probabilities may be: the ML service batches
# the requests in flight together (the idle-pause check's, beside the
# contract cases), and a batched matrix product may differ from a single
# row's in the last bits (harness/batching.py allows the same).
FLOAT_TOLERANCE = 1e-9


def same(a, b) -> bool:
    """a == b, but floats within FLOAT_TOLERANCE (an int is no float here)."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= FLOAT_TOLERANCE
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def diff(a: dict, b: dict, names=("go", "node")) -> list[str]:
    lines = []
    for key in sorted(set(a) | set(b)):
        if not same(a.get(key), b.get(key)):
            va = json.dumps(a.get(key), sort_keys=True)[:300]
            vb = json.dumps(b.get(key), sort_keys=True)[:300]
            lines.append(f"{key}: {names[0]}={va} {names[1]}={vb}")
    return lines


def run_cases(
    rep,
    label: str,
    transport: str,
    bases: dict[str, str],
    records: dict[str, dict],
    auth: str = "api-key",
) -> None:
    """Send every case that applies to this transport and auth mode, check it
    against the contract, and store its normalized answer in records (for
    parity)."""
    for case in cases():
        if transport not in case.transports or auth not in case.auths:
            continue
        if case.target not in bases:
            rep.skip(f"{label} contract {case.name}", f"no '{case.target}' gateway")
            continue

        def one(case=case):
            try:
                resp = send(case, bases[case.target])
            except HttpError as e:
                records[case.name] = normalize(case, None)
                raise CheckFailed(f"no HTTP response: {e}") from e
            records[case.name] = normalize(case, resp)
            return check(case, resp)

        rep.check(f"{label} contract {case.name}", one)
