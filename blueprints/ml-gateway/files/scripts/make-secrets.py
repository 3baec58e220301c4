#!/usr/bin/env python3
"""Creates this repo's secrets in .env; braid never writes one anywhere.

Usage: scripts/make-secrets.py env
           create .env from .env.example, unless it exists: each empty
           *_PASSWORD= gets a random value and, when .env.example has
           GATEWAY_API_KEYS=, a first API key named dev is made (printed once)
       scripts/make-secrets.py api-key NAME
           make an API key named NAME: its name:sha256 goes into
           GATEWAY_API_KEYS in .env, and the key itself is printed, once, as
           the last line of stdout

A key is 32 random bytes, URL-safe base64 (43 characters). Only its SHA-256
(hex) is kept: a lost key cannot be shown again; make a new one and remove
the old name from GATEWAY_API_KEYS to rotate it. .env is written with mode
0600; `env` never overwrites it, `api-key` rewrites only its
GATEWAY_API_KEYS line.
Python standard library only: it runs before `make install`.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = ROOT / ".env"
EXAMPLE = ROOT / ".env.example"
KEYS = "GATEWAY_API_KEYS"
NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
PASSWORD = re.compile(r"[A-Z_]*_PASSWORD=")


def note(message: str) -> None:
    print(f"secrets: {message}", file=sys.stderr)


def die(message: str) -> None:
    note(message)
    sys.exit(1)


def new_key() -> str:
    return secrets.token_urlsafe(32)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def write(path: Path, lines: list[str]) -> None:
    """Writes path whole, mode 0600, through a temporary file in its folder."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def key_names(value: str) -> list[str]:
    return [entry.split(":", 1)[0] for entry in value.split(",") if entry]


def add_key(lines: list[str], name: str) -> str:
    """Adds a new key named name to the GATEWAY_API_KEYS line; returns the key."""
    if not NAME.fullmatch(name):
        die(f"NAME={name!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
    key = new_key()
    entry = f"{name}:{key_hash(key)}"
    for i, line in enumerate(lines):
        if line.startswith(f"{KEYS}="):
            value = line[len(KEYS) + 1 :].strip().strip("\"'")
            if name in key_names(value):
                die(f"{name!r} already has a key in {KEYS}: remove it from .env first to replace it")
            lines[i] = f"{KEYS}={value + ',' if value else ''}{entry}"
            return key
    lines.append(f"{KEYS}={entry}")
    return key


def make_env() -> None:
    if ENV.exists():
        return
    if not EXAMPLE.exists():
        die(f"{EXAMPLE} is missing")
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        if PASSWORD.fullmatch(line):
            lines[i] = line + secrets.token_hex(16)
    dev_key = None
    if f"{KEYS}=" in lines:
        dev_key = add_key(lines, "dev")
    write(ENV, lines)
    note("created .env from .env.example")
    if dev_key:
        note("the API key named dev (shown once; send it as `Authorization: Bearer <key>`):")
        print(dev_key)


def api_key(name: str) -> None:
    make_env()
    lines = ENV.read_text(encoding="utf-8").splitlines()
    key = add_key(lines, name)
    write(ENV, lines)
    note(f"added {name} to {KEYS} in .env (restart the gateway to use it); the key, shown once:")
    print(key)


def main(argv: list[str]) -> None:
    match argv:
        case ["env"]:
            make_env()
        case ["api-key", name]:
            api_key(name)
        case _:
            die("usage: scripts/make-secrets.py env | api-key NAME")


if __name__ == "__main__":
    main(sys.argv[1:])
