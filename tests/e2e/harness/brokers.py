"""The run's message brokers: one rabbitmq-server and one Kafka, each started
the first time a chosen combination needs it and stopped at the end of the run.

They are started by the very scripts the generated repos use for their tests
(blueprints/components/transport-*/scripts/with-*.sh): a broker on random
loopback ports, its data in a temp dir, its address exported to a command,
which here writes the address to a file and sleeps until the harness stops
it. Every combination then works under its own BUS_PREFIX on the shared broker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .procs import Proc, Procs, wait_until

REPO = Path(__file__).resolve().parents[3]
SCRIPTS = {
    "rabbitmq": (
        REPO / "blueprints/components/transport-rabbitmq/scripts/with-rabbitmq.sh",
        "RABBITMQ_URL",
    ),
    "kafka": (
        REPO / "blueprints/components/transport-kafka/scripts/with-kafka.sh",
        "KAFKA_BOOTSTRAP_SERVERS",
    ),
}
# Writes the broker's address ($VAR) to the file $0 names, then holds the
# broker up: the script stops it when this command ends (SIGTERM to its group).
_HOLD = 'printf %s "${VAR}" >"$0.tmp" && mv "$0.tmp" "$0" && exec sleep 2147483647'


@dataclass
class Broker:
    kind: str  # rabbitmq | kafka
    var: str  # RABBITMQ_URL | KAFKA_BOOTSTRAP_SERVERS
    url: str
    proc: Proc

    def env(self) -> dict[str, str]:
        return {self.var: self.url}


class Brokers:
    """Lazily started, shared brokers; `stop()` ends them all."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.dir = work / "brokers"
        self.procs = Procs(self.dir / "logs")
        self.env = env
        self.lock = threading.Lock()
        self.started: dict[str, Broker] = {}
        self.secs: dict[str, float] = {}

    def get(self, kind: str) -> Broker:
        with self.lock:
            if kind not in self.started:
                self.started[kind] = self._start(kind)
            return self.started[kind]

    def _start(self, kind: str) -> Broker:
        script, var = SCRIPTS[kind]
        self.dir.mkdir(parents=True, exist_ok=True)
        addr = self.dir / f"{kind}.address"
        addr.unlink(missing_ok=True)
        env = {k: v for k, v in self.env.items() if k != var}
        env["TMPDIR"] = str(self.dir)
        t0 = time.monotonic()
        cmd = ["bash", str(script), "sh", "-c", _HOLD.replace("VAR", var), str(addr)]
        proc = self.procs.start(kind, cmd, self.dir, env)
        wait_until(addr.exists, timeout=120, interval=0.1, what=f"{kind} to start", proc=proc)
        self.secs[kind] = time.monotonic() - t0
        return Broker(kind, var, addr.read_text().strip(), proc)

    def stop(self) -> None:
        for b in self.started.values():
            b.proc.stop(timeout=30)
        self.procs.stop_all()
