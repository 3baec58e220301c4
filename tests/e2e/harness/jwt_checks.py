"""`auth = jwt` through the real gateway, against harness/jwks.py's key set.

The `jwt` phase of a JWT combination (combo.py runs it instead of the whole
contract, which the api-key combinations of the same gateway cover): the
contract's 401 cases for jwt and the open probes; tokens that must not pass
(expired, not yet valid, another audience or issuer, no subject, alg none,
HS256 keyed with the RSA public key, an unknown kid), each a 401 with the
contract's exact bytes; a valid token's prediction; what the gateway logs
(the refusal's reason, never a token); the README's curl lines; a gateway
whose key set is out of reach (503, not ready); and last, a key rotation
and floods of unknown kids (one fetch of the key set per cooldown).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from . import contract, jwks, rootdocs_checks
from .contract import Case
from .httpc import authorize, post_json, request
from .procs import closed_port, must
from .report import expect

if TYPE_CHECKING:
    from .combo import Combo

# The gateways' key set cooldown: at most one fetch per this many seconds.
COOLDOWN_S = 10
INVALID = 'Bearer error="invalid_token"'
MISSING = "send a bearer token: Authorization: Bearer <token>"
INVALID_DETAIL = "the bearer token is not valid"
NO_KEYS = "the gateway cannot check tokens now: its identity provider's keys are unavailable"


def problem_bytes(status: int, title: str, detail: str, instance: str, rid: str) -> bytes:
    return json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": instance,
            "request_id": rid,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _token_case(name: str, token: str) -> Case:
    return Case(
        f"jwt-token-{name}",
        "POST",
        "/v1/predict",
        contract.body_of({"instances": [contract.SETOSA]}),
        status=401,
        credential=f"Bearer {token}",
        auths=("jwt",),
        www_authenticate=INVALID,
    )


def run(combo: Combo) -> None:
    idp: jwks.Provider = combo.idp
    main = combo.gateways["main"][1]
    records = combo.ctx.records.setdefault(combo.name, {})
    sent_tokens: list[str] = []

    def record(case: Case) -> None:
        def one() -> str:
            resp = contract.send(case, main)
            records[case.name] = contract.normalize(case, resp)
            result = contract.check(case, resp)
            if case.status == 401:
                detail = MISSING if case.www_authenticate == "Bearer" else INVALID_DETAIL
                want = problem_bytes(401, "Unauthorized", detail, "/v1/predict", case.sent_rid())
                expect(resp.body == want, f"body {resp.body!r}\n  want {want!r}")
            return result

        combo.check(f"jwt {case.name}", one)

    # The contract's own cases for jwt: no token, another scheme, not a JWT;
    # the probes open without a token.
    for case in contract.cases():
        if case.name.startswith("jwt-") or case.name in ("healthz", "readyz"):
            record(case)

    rs = combo.idp_key
    now = int(time.time())
    stranger = idp.new_key("rsa", "not-published")
    bad = {
        "expired": rs.sign(jwks.claims(exp=now - 3600)),
        "not-yet-valid": rs.sign(jwks.claims(nbf=now + 3600)),
        "issued-in-the-future": rs.sign(jwks.claims(iat=now + 3600)),
        "another-audience": rs.sign(jwks.claims(aud="https://other.e2e.test")),
        "another-issuer": rs.sign(jwks.claims(iss="https://evil.e2e.test/")),
        "no-subject": rs.sign(jwks.claims(sub=None)),
        "no-expiry": rs.sign(jwks.claims(exp=None)),
        "alg-none": rs.sign(jwks.claims(), {"alg": "none"}),
        "hs256-keyed-with-the-public-key": rs.sign(jwks.claims(), {"alg": "HS256"}),
        "unknown-kid": stranger.sign(jwks.claims()),
    }
    for name, token in bad.items():
        sent_tokens.append(token)
        record(_token_case(name, token))

    def valid() -> str:
        token = rs.sign(jwks.claims(sub="e2e-valid"))
        sent_tokens.append(token)
        r = post_json(
            main,
            "/v1/predict",
            {"instances": [contract.SETOSA]},
            auth=False,
            headers={"Authorization": f"Bearer {token}"},
        )
        expect(r.status == 200, f"a valid RS256 token: {r.short()}")
        expect(r.json()["predictions"][0]["label"] == "setosa", f"{r.short()}")
        return f"200 in {r.secs * 1000:.0f}ms"

    combo.check("jwt a valid token: 200, the prediction", valid)
    combo.check(
        "README.md: every curl command gets what it says ($TOKEN)",
        rootdocs_checks.readme_curls,
        combo,
    )

    def logs() -> str:
        text = combo.gateways["main"][0].log.read_text(errors="replace")
        # a token, or its signature (none for alg none)
        leaked = [
            t[:20] + "..." for t in sent_tokens if t in text or (t.rsplit(".", 1)[1] or t) in text
        ]
        expect(not leaked, f"the gateway's log shows tokens: {leaked}")
        reasons = {
            json.loads(line).get("reason")
            for line in text.splitlines()
            if line.startswith("{") and "bearer token refused" in line
        }
        expect("expired" in reasons, f"no refusal logged with reason expired: {reasons}")
        callers = {
            json.loads(line).get("caller") for line in text.splitlines() if '"caller"' in line
        }
        expect("e2e-valid" in callers, f"the access log never names the subject: {callers}")
        return f"reasons {sorted(r for r in reasons if r)}"

    combo.check("jwt the gateway logs why a token was refused, never a token", logs)

    def no_keys() -> str:
        closed = closed_port()
        base = combo.start_gateway(
            "nokeys",
            wait_ready=False,
            ml_url=combo.ml_url,
            extra={"GATEWAY_JWKS_URL": f"http://127.0.0.1:{closed}/jwks.json"},
        )
        ready = request("GET", base, "/readyz", headers={"X-Request-ID": "nokeys-1"})
        want = problem_bytes(503, "Service Unavailable", NO_KEYS, "/readyz", "nokeys-1")
        expect(
            ready.status == 503 and ready.header("retry-after") == "1", f"/readyz {ready.short()}"
        )
        expect(ready.body == want, f"/readyz body {ready.body!r}\n  want {want!r}")
        r = post_json(
            base,
            "/v1/predict",
            {"instances": [contract.SETOSA]},
            headers={"X-Request-ID": "nokeys-2"},
        )
        want = problem_bytes(503, "Service Unavailable", NO_KEYS, "/v1/predict", "nokeys-2")
        expect(r.status == 503 and r.header("retry-after") == "1", f"predict {r.short()}")
        expect(r.body == want, f"predict body {r.body!r}\n  want {want!r}")
        records["jwt-no-key-set-readyz"] = {"status": ready.status, "body": ready.body.decode()}
        records["jwt-no-key-set-predict"] = {"status": r.status, "body": r.body.decode()}
        health = request("GET", base, "/healthz")
        expect(health.status == 200, f"/healthz {health.short()}")
        combo.gateways.pop("nokeys")[0].stop(timeout=8)
        return "503, not ready; alive"

    combo.check("jwt no key set (the JWKS out of reach): 503 with Retry-After, not ready", no_keys)
    combo.check("jwt key rotation: one fetch of the key set per cooldown", rotation, combo)


def static(combo: Combo) -> None:
    """compose.dev-idp.yml, merged over docker-compose.yml as CI does
    (COMPOSE_FILE), loads: a dev-idp service, and the gateway pointed at it
    on loopback (the only plain http it takes)."""

    def merged() -> str:
        files = ["-f", "docker-compose.yml", "-f", "compose.dev-idp.yml"]
        res = combo.run(
            ["composecheck", *files, "-env-file", ".env", combo.repo],
            combo.repo,
            combo.ctx.base_env(),
            timeout=60,
        )
        must(res)
        summary = json.loads(res.output[res.output.index("{") :])
        services = {s["name"]: s for s in summary["services"]}
        expect("dev-idp" in services, f"no dev-idp service: {sorted(services)}")
        url = services["gateway"]["environment"].get("GATEWAY_JWKS_URL", "")
        expect(url.startswith("http://127.0.0.1:"), f"the gateway's GATEWAY_JWKS_URL is {url!r}")
        return f"services {sorted(services)}; {url}"

    combo.check("compose.dev-idp.yml merges over docker-compose.yml (compose-spec loader)", merged)


def _wait_cooldown(idp: jwks.Provider) -> None:
    time.sleep(max(0.0, COOLDOWN_S + 0.5 - idp.since_last_fetch()))


def rotation(combo: Combo) -> str:
    """The provider rotates (a new EC key, the RSA one withdrawn): once the
    cooldown since the last fetch is over, the new key's token passes after
    one fetch; the withdrawn key's no longer does; a flood of unknown kids
    fetches nothing within the cooldown, and once after it."""
    idp: jwks.Provider = combo.idp
    main = combo.gateways["main"][1]
    old, new = combo.idp_key, idp.new_key("ec", "e2e-2")
    idp.publish(new)

    def predict(token: str):
        return post_json(
            main,
            "/v1/predict",
            {"instances": [contract.SETOSA]},
            auth=False,
            headers={"Authorization": f"Bearer {token}"},
        )

    def flood(n: int = 20) -> list[int]:
        tokens = [new.sign(jwks.claims(), {"kid": f"flood-{i}"}) for i in range(n)]
        with ThreadPoolExecutor(8) as pool:
            return [r.status for r in pool.map(predict, tokens)]

    _wait_cooldown(idp)
    before = idp.fetches
    r = predict(new.sign(jwks.claims(sub="e2e-rotated")))
    expect(r.status == 200, f"the new key's token after the cooldown: {r.short()}")
    expect(idp.fetches == before + 1, f"{idp.fetches - before} fetches for the new kid, want 1")
    r = predict(old.sign(jwks.claims()))
    expect(r.status == 401, f"the withdrawn key's token: {r.short()}")
    statuses = flood()
    expect(set(statuses) == {401}, f"unknown kids: {statuses}")
    expect(
        idp.fetches == before + 1,
        f"a flood within the cooldown fetched {idp.fetches - before - 1} times",
    )
    _wait_cooldown(idp)
    statuses = flood()
    expect(set(statuses) == {401}, f"unknown kids: {statuses}")
    expect(
        idp.fetches == before + 2,
        f"a flood after the cooldown fetched {idp.fetches - before - 1} times, want 1",
    )
    # From now on the harness's requests carry a token of the new key.
    authorize(main, f"Bearer {new.sign(jwks.claims(ttl=7200))}")
    return f"{idp.fetches - before} fetches in all"


def parity(rep, ctx) -> None:
    """The JWT combinations' answers to the same cases (tokens, probes,
    no key set) are the same, whatever the gateway and the transport."""
    names = sorted(n for n in ctx.records if n.endswith("-jwt"))
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            ra, rb = ctx.records[a], ctx.records[b]
            for key in sorted(k for k in set(ra) | set(rb) if k.startswith("jwt-")):
                name = f"parity jwt {key}: {a} == {b}"
                if key not in ra or key not in rb:
                    rep.skip(name, "not run on both")
                    continue
                rep.check(
                    name,
                    lambda x=ra[key], y=rb[key], a=a, b=b: expect(
                        x == y, "\n".join(contract.diff(x, y, (a, b)))
                    ),
                )
