"""The generated repo makes its own secrets; braid records none of them.

Around `make dev` (harness/pyinfra_checks.py):

- before: `make api-key NAME=e2e` on a repo with no .env creates .env from
  .env.example (mode 0600, random *_PASSWORD values, a first key named dev
  printed once) and prints a new key as the last line of stdout; .env then
  holds `dev:<sha256>` and `e2e:<sha256>` in GATEWAY_API_KEYS, never a key.
  A second `make api-key NAME=e2e` is refused and changes nothing, and
  `make secrets` never overwrites .env.
- after: every file braid records (braid.toml, everything under .braid/, and
  every file .braid/state.json lists) contains no key, hash or password from
  .env, and `braid regen` leaves .env byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from .procs import must
from .report import CheckFailed, expect

if TYPE_CHECKING:
    from .combo import Combo

KEY = re.compile(r"^[A-Za-z0-9_-]{43,}$")  # 32+ random bytes, URL-safe base64


def _env_values(env_file: Path) -> dict[str, str]:
    out = {}
    for line in env_file.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip().strip("\"'")
    return out


def make_api_key(combo: Combo) -> str | None:
    """`make api-key NAME=e2e` on a fresh repo; returns the key (None when
    the combination's auth takes no API key or the check failed)."""
    if combo.auth != "api-key":
        return None
    env_file = combo.repo / ".env"
    box: dict[str, str] = {}

    def first() -> str:
        # The static phase made one (scripts/dev.sh env, for composecheck):
        # start over, so that make api-key has to make .env itself.
        env_file.unlink(missing_ok=True)
        # stdout apart from stderr: the key must be stdout's last line.
        res = subprocess.run(
            ["make", "--no-print-directory", "api-key", "NAME=e2e"],
            cwd=combo.repo,
            env=combo.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        expect(res.returncode == 0, f"make api-key exit {res.returncode}:\n{res.stderr[-1500:]}")
        lines = [ln for ln in res.stdout.splitlines() if KEY.match(ln.strip())]
        stdout_last = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else ""
        expect(KEY.match(stdout_last), f"stdout's last line is not a key: {stdout_last!r}")
        expect(len(lines) == 2, f"want the dev key and the e2e key printed, got {len(lines)}")
        key = stdout_last
        mode = stat.S_IMODE(env_file.stat().st_mode)
        expect(mode == 0o600, f".env has mode {mode:o}, want 600")
        values = _env_values(env_file)
        keys = values.get("GATEWAY_API_KEYS", "")
        names = [e.split(":", 1)[0] for e in keys.split(",") if e]
        expect(names == ["dev", "e2e"], f"GATEWAY_API_KEYS names {names}, want ['dev', 'e2e']")
        digest = hashlib.sha256(key.encode()).hexdigest()
        expect(f"e2e:{digest}" in keys.split(","), "e2e's entry is not the SHA-256 of the key")
        text = env_file.read_text()
        for printed in lines:
            expect(printed.strip() not in text, "a key itself is written in .env")
        for name, value in values.items():
            if name.endswith("_PASSWORD"):
                expect(len(value) >= 32, f"{name} in .env is {len(value)} characters, not random")
        box["key"] = key
        return f"key of {len(key)} characters; .env 0600 with dev and e2e"

    if not combo.check("make api-key NAME=e2e: .env made, key printed last, only hashes", first):
        return None

    def again() -> str:
        before = env_file.read_bytes()
        res = combo.run(["make", "api-key", "NAME=e2e"], combo.repo, timeout=60)
        expect(res.rc != 0, "a second key named e2e was accepted")
        expect("e2e" in res.output, f"the refusal does not name e2e:\n{res.output[-600:]}")
        res = combo.run(["make", "secrets"], combo.repo, timeout=60)
        must(res)
        expect(env_file.read_bytes() == before, ".env changed")
        return "refused; make secrets kept .env"

    combo.check("make api-key twice refused; make secrets never overwrites .env", again)
    return box["key"]


def recorded_files(repo: Path) -> list[Path]:
    """braid.toml, .braid/*, and every file .braid/state.json lists."""
    state = json.loads((repo / ".braid" / "state.json").read_text())
    files = [repo / "braid.toml", *sorted(p for p in (repo / ".braid").rglob("*") if p.is_file())]
    files += [repo / rel for rel in sorted(state.get("files", {}))]
    return [p for p in files if p.is_file()]


def scan(combo: Combo, keys: list[str]) -> None:
    """No secret of .env (nor a printed key) in any file braid records; braid
    regen leaves .env alone."""
    env_file = combo.repo / ".env"

    def no_secret() -> str:
        expect(env_file.exists(), "no .env after make dev")
        values = _env_values(env_file)
        needles = {f"key {k[:4]}…": k for k in keys}
        for entry in values.get("GATEWAY_API_KEYS", "").split(","):
            if ":" in entry:
                name, digest = entry.split(":", 1)
                needles[f"hash of {name}"] = digest
        for name, value in values.items():
            if name.endswith("_PASSWORD") and value:
                needles[name] = value
        if not needles:
            return ".env holds no secret (auth = none, no password)"
        found = []
        files = recorded_files(combo.repo)
        for path in files:
            data = path.read_bytes()
            found += [
                f"{path.relative_to(combo.repo)}: {what}"
                for what, needle in needles.items()
                if needle.encode() in data
            ]
        if found:
            raise CheckFailed("secrets in files braid records:\n" + "\n".join(found))
        return f"{len(needles)} secrets, {len(files)} recorded files"

    combo.check("no key, hash or password in any file braid records", no_secret)

    def regen_keeps_env() -> str:
        before = env_file.read_bytes()
        res = combo.run([combo.ctx.braid, "regen", combo.repo], combo.root, timeout=120)
        must(res)
        expect(env_file.read_bytes() == before, "braid regen changed .env")
        return "unchanged"

    combo.check("braid regen leaves .env as it was", regen_keeps_env)
