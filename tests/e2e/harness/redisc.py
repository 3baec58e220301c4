"""Redis through `redis-cli --json` (from the redis-server package).

The harness needs no Python client: each call runs redis-cli with the
command as arguments (binary-safe as argv, no shell; bytes arguments go as
they are) and parses its JSON.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

from .procs import Procs, wait_until


class RedisError(Exception):
    pass


class Redis:
    """A Redis server on 127.0.0.1 that requires `password` (as compose's and
    scripts/dev.sh's do): every URL handed to a service carries it."""

    def __init__(self, port: int, db: int = 0, password: str = "") -> None:
        self.port = port
        self.db = db
        self.password = password

    @property
    def url(self) -> str:
        return self.url_db(self.db)

    def url_db(self, db: int) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}"

    def __call__(self, *args, timeout: float = 10.0):
        cmd = [
            "redis-cli",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-n",
            str(self.db),
            "--json",
            *[a if isinstance(a, bytes) else str(a) for a in args],
        ]
        res = subprocess.run(
            cmd,
            capture_output=True,
            timeout=timeout,
            env={
                **os.environ,
                "REDISCLI_HISTFILE": "/dev/null",
                **({"REDISCLI_AUTH": self.password} if self.password else {}),
            },
        )
        out = res.stdout.decode(errors="replace").strip()
        if (
            res.returncode != 0
            or out.startswith(("error:", "(error)"))
            or "Could not connect" in out
        ):
            raise RedisError(
                f"redis-cli {' '.join(map(str, args))}: {out} "
                f"{res.stderr.decode(errors='replace').strip()}"
            )
        if not out:
            return None
        try:
            return json.loads(out)
        except json.JSONDecodeError:
            return out

    def ping(self) -> bool:
        try:
            return self("PING") == "PONG"
        except (RedisError, subprocess.TimeoutExpired):
            return False

    # Streams helpers: entries as (id, {field: value}).
    def xrange(self, key: str, start: str = "-", end: str = "+", count: int | None = None):
        args = ["XRANGE", key, start, end] + (["COUNT", count] if count else [])
        return [(eid, _fields(kv)) for eid, kv in (self(*args) or [])]

    def pending_count(self, key: str, group: str) -> int:
        res = self("XPENDING", key, group)
        return int(res[0]) if res else 0


def _fields(kv: list[str]) -> dict[str, str]:
    return {kv[i]: kv[i + 1] for i in range(0, len(kv) - 1, 2)}


def start_redis(procs: Procs, port: int, workdir: Path):
    workdir.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(12)
    proc = procs.start(
        f"redis-{port}",
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--protected-mode",
            "no",
            "--requirepass",
            password,
        ],
        cwd=workdir,
        env=dict(os.environ),
    )
    r = Redis(port, password=password)
    wait_until(r.ping, timeout=15, what=f"redis-server on port {port}", proc=proc)
    return proc, r
