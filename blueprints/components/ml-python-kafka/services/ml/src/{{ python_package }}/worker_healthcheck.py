"""The worker's healthcheck, run as `python -m <package>.worker_healthcheck`.

While it is connected to Kafka and consuming, the worker rewrites the file named by
ML_WORKER_HEARTBEAT_FILE every ML_WORKER_HEARTBEAT_MS. This check exits 0 while that
file is younger than 4 heartbeats (2 s by default), and 1 otherwise: a worker that
hangs, or cannot reach Kafka, turns unhealthy. It needs neither Kafka nor the model,
so it stays cheap to run every few seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from .settings import SettingsError, load_settings


def write_heartbeat(path: Path, consumer: str, lease_ms: int) -> None:
    """Records a heartbeat; written whole (temporary file + rename), never half.
    `lease_ms` is how old it may grow before the worker counts as unhealthy."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    beat = {"consumer": consumer, "beat_ms": int(time.time() * 1000), "lease_ms": lease_ms}
    temporary.write_text(json.dumps(beat))
    temporary.replace(path)


def heartbeat_problem(path: Path) -> str | None:
    """Why the worker that writes `path` is not healthy, or None when it is."""
    try:
        beat = json.loads(path.read_text())
        age_ms = int(time.time() * 1000) - int(beat["beat_ms"])
        lease_ms = int(beat["lease_ms"])
    except FileNotFoundError:
        return f"no heartbeat yet ({path} does not exist)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable heartbeat file {path}: {exc}"
    if age_ms > lease_ms:
        return f"last heartbeat of {beat.get('consumer')} {age_ms} ms ago, limit {lease_ms} ms"
    return None


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(str(exc))
    problem = heartbeat_problem(settings.ml_worker_heartbeat_file)
    if problem:
        sys.exit(f"unhealthy: {problem}")


if __name__ == "__main__":
    main()
