"""A local identity provider for the `auth = jwt` combinations: a key set
(JWKS) served over HTTP on 127.0.0.1, and tokens signed with its keys.

The harness is standard library only, and Python's cannot sign with RSA or
ECDSA: the `openssl` command line makes the keys and signs (RS256: PKCS#1
v1.5 over SHA-256, as `openssl dgst -sha256 -sign` writes it; ES256: the
ECDSA P-256 signature, whose DER `openssl` writes, turned into the r || s
that JWS wants). HS256 tokens (the algorithm-confusion attack) are signed
with hmac.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ISSUER = "https://idp.e2e.test/"
AUDIENCE = "https://gateway.e2e.test"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    res = subprocess.run(["openssl", *args], input=stdin, capture_output=True, timeout=60)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {res.stderr.decode(errors='replace')}")
    return res.stdout


def _der_ecdsa_to_raw(der: bytes, size: int = 32) -> bytes:
    """SEQUENCE { INTEGER r, INTEGER s } -> r || s, each `size` bytes."""
    if der[0] != 0x30:
        raise ValueError("not a DER sequence")
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        if der[i] != 0x02:
            raise ValueError("not a DER integer")
        n = der[i + 1]
        value = der[i + 2 : i + 2 + n].lstrip(b"\x00")
        out += value.rjust(size, b"\x00")
        i += 2 + n
    return out


@dataclass
class Key:
    """A signing key of the provider: a PEM file, its algorithm and kid."""

    kid: str
    alg: str  # RS256 | ES256
    pem: Path
    jwk: dict

    @classmethod
    def rsa(cls, folder: Path, kid: str) -> Key:
        pem = folder / f"{kid}.pem"
        _openssl(
            "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(pem)
        )
        modulus = _openssl("rsa", "-in", str(pem), "-noout", "-modulus").decode()
        n = bytes.fromhex(modulus.strip().split("=", 1)[1])
        jwk = {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig", "n": b64url(n), "e": "AQAB"}
        return cls(kid, "RS256", pem, jwk)

    @classmethod
    def ec(cls, folder: Path, kid: str) -> Key:
        pem = folder / f"{kid}.pem"
        _openssl(
            "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(pem)
        )
        spki = _openssl("pkey", "-in", str(pem), "-pubout", "-outform", "DER")
        point = spki[-65:]  # 04 || X || Y: the end of a P-256 SubjectPublicKeyInfo
        if point[0] != 0x04:
            raise RuntimeError("unexpected P-256 public key encoding")
        jwk = {
            "kty": "EC",
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
            "crv": "P-256",
            "x": b64url(point[1:33]),
            "y": b64url(point[33:]),
        }
        return cls(kid, "ES256", pem, jwk)

    def public_pem(self) -> bytes:
        return _openssl("pkey", "-in", str(self.pem), "-pubout")

    def sign(self, claims: dict, header: dict | None = None) -> str:
        """A compact JWS of claims: kid and alg of this key unless header
        says otherwise (an alg of none or HS256 is signed accordingly, with
        this key's public PEM as the HMAC secret: the confusion attack)."""
        head = {"alg": self.alg, "typ": "JWT", "kid": self.kid, **(header or {})}
        head = {k: v for k, v in head.items() if v is not None}
        signing_input = f"{b64url(_json(head))}.{b64url(_json(claims))}".encode()
        alg = head["alg"]
        if alg == "none":
            signature = b""
        elif alg == "HS256":
            signature = hmac.new(self.public_pem(), signing_input, hashlib.sha256).digest()
        else:
            signature = _openssl("dgst", "-sha256", "-sign", str(self.pem), stdin=signing_input)
            if self.alg == "ES256":
                signature = _der_ecdsa_to_raw(signature)
        return f"{signing_input.decode()}.{b64url(signature)}"


def claims(sub: str = "e2e-caller", ttl: int = 3600, **overrides) -> dict:
    """A valid token's claims, with overrides (None removes a claim)."""
    now = int(time.time())
    c = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + ttl}
    c.update(overrides)
    return {k: v for k, v in c.items() if v is not None}


class Provider:
    """The key set on 127.0.0.1:<free port>/jwks.json, as published keys
    change; it counts the fetches."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self._lock = threading.Lock()
        self._keys: list[Key] = []
        self._fetches: list[float] = []  # time.monotonic() of each
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with provider._lock:
                    provider._fetches.append(time.monotonic())
                    body = _json({"keys": [k.jwk for k in provider._keys]})
                if self.path != "/jwks.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/jwks.json"

    def env(self) -> dict[str, str]:
        """A gateway's settings to trust this provider."""
        return {
            "GATEWAY_JWKS_URL": self.url,
            "GATEWAY_JWT_ISSUER": ISSUER,
            "GATEWAY_JWT_AUDIENCE": AUDIENCE,
        }

    def new_key(self, kind: str, kid: str) -> Key:
        return (Key.rsa if kind == "rsa" else Key.ec)(self.folder, kid)

    def publish(self, *keys: Key) -> None:
        with self._lock:
            self._keys = list(keys)

    @property
    def fetches(self) -> int:
        with self._lock:
            return len(self._fetches)

    def since_last_fetch(self) -> float:
        with self._lock:
            return time.monotonic() - self._fetches[-1] if self._fetches else float("inf")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
