"""Child processes that never outlive the harness, and commands with timeouts.

Every process is started in its own session (process group), so killing it
kills what it spawned too (npm -> node, go run -> binary). `Procs` tracks
what it started; `kill_all()` runs on normal exit, on failure, on Ctrl-C and
on SIGTERM (run.py installs the handlers).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .report import CheckFailed

_registry_lock = threading.Lock()
_registry: list[Proc] = []
# Set on Ctrl-C/SIGTERM: from then on nothing new is started.
STOPPING = threading.Event()
# A measuring run (tests/e2e/bench.py) gives processes CPUs by name: PIN(name)
# is a CPU list for taskset ("0", "1-3"), or None to leave one unpinned.
PIN: Callable[[str], str | None] | None = None


class Stopping(Exception):
    """The harness is shutting down (interrupted)."""


def interrupt() -> None:
    """Called from the signal handler: stop starting things, kill what runs."""
    STOPPING.set()
    kill_all()


def kill_all() -> None:
    """Kill every process any `Procs` started and that still runs."""
    with _registry_lock:
        procs = list(_registry)
    for p in procs:
        p.terminate_group()
    deadline = time.monotonic() + 3
    for p in procs:
        try:
            p.popen.wait(timeout=max(0.05, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for p in procs:
        p.kill_group()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    started: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate_group(self) -> None:
        if self.alive():
            _signal_group(self.popen.pid, signal.SIGTERM)

    def kill_group(self) -> None:
        # Also when the leader is gone: its children may still be there.
        _signal_group(self.popen.pid, signal.SIGKILL)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait up to timeout, then SIGKILL; returns the exit code
        of the SIGTERM (None when it had to be killed)."""
        if not self.alive():
            return self.popen.returncode
        _signal_group(self.popen.pid, signal.SIGTERM)
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
        self.kill_group()
        return rc

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"
        tail = text.splitlines()[-lines:]
        return "\n".join(tail) if tail else "(empty log)"


class Procs:
    """Starts long-running processes, logging each to its own file."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.started: list[Proc] = []
        self._counter = 0

    def start(self, name: str, cmd: list[str], cwd: Path, env: dict[str, str]) -> Proc:
        if STOPPING.is_set():
            raise Stopping(f"not starting {name}: interrupted")
        self._counter += 1
        log = self.logdir / f"{self._counter:02d}-{name}.log"
        if PIN is not None and (cpus := PIN(name)):
            cmd = ["taskset", "-c", cpus, *cmd]  # exec's the command: the same pid
        fh = open(log, "wb")
        try:
            popen = subprocess.Popen(
                cmd,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            fh.close()
        proc = Proc(name, popen, log, time.monotonic())
        self.started.append(proc)
        with _registry_lock:
            _registry.append(proc)
        return proc

    def stop_all(self) -> None:
        for p in reversed(self.started):
            if p.alive():
                p.stop(timeout=3)
            else:
                p.kill_group()


@dataclass
class CmdResult:
    cmd: list[str]
    rc: int | None  # None: timed out
    output: str
    secs: float

    def ok(self) -> bool:
        return self.rc == 0

    def describe(self, head: int = 15, tail: int = 35) -> str:
        status = "timed out" if self.rc is None else f"exit {self.rc}"
        lines = self.output.rstrip().splitlines()
        if len(lines) > head + tail:
            cut = len(lines) - head - tail
            lines = lines[:head] + [f"[... {cut} lines cut ...]"] + lines[-tail:]
        shown = "\n".join(lines)
        return f"$ {' '.join(self.cmd)}\n{status} after {self.secs:.1f}s\n{shown}"


def run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    log: Path | None = None,
    stdin: str | None = None,
) -> CmdResult:
    """Run a command to completion; on timeout kill its whole process group."""
    start = time.monotonic()
    if STOPPING.is_set():
        return CmdResult(cmd, None, "not run: interrupted", 0.0)
    popen = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proc = Proc(cmd[0], popen, log or Path(os.devnull), start)
    with _registry_lock:
        _registry.append(proc)
    try:
        out, _ = popen.communicate(stdin.encode() if stdin is not None else None, timeout=timeout)
        rc: int | None = popen.returncode
    except subprocess.TimeoutExpired:
        proc.kill_group()
        try:
            out, _ = popen.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # a daemon kept the pipe open
            out = b"(output lost: pipe held open after kill)"
        rc = None
    finally:
        # Whatever the command left behind in its group goes too.
        _signal_group(popen.pid, signal.SIGKILL)
        with _registry_lock:
            if proc in _registry:
                _registry.remove(proc)
    text = out.decode(errors="replace")
    if log is not None:
        with open(log, "a") as fh:
            fh.write(f"$ {' '.join(cmd)}  (cwd {cwd})\n{text}\n[rc={rc}]\n")
    return CmdResult(cmd, rc, text, time.monotonic() - start)


def must(res: CmdResult) -> str:
    """Turn a failed command into a failed check; returns a timing note."""
    if not res.ok():
        raise CheckFailed(res.describe())
    return f"{res.secs:.1f}s"


_ports_lock = threading.Lock()
_ports_given: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    """The ports the kernel gives outgoing connections (and bind to port 0)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def claim_port(port: int) -> bool:
    """Hands out `port` if it is free now and was not handed out before."""
    with _ports_lock:
        if port in _ports_given or not _bindable(port):
            return False
        _ports_given.add(port)
        return True


def free_port() -> int:
    """A loopback TCP port that is free now and not handed out before.

    It is drawn below the kernel's ephemeral range: a port from there (what
    binding port 0 gives) can be taken as the local port of any outgoing
    connection on this host before the service meant to listen on it starts,
    and that service then fails to bind."""
    low, _ = _ephemeral_range()
    if low > 12000:
        for _ in range(200):
            port = random.randint(10000, low - 1)
            if claim_port(port):
                return port
    with _ports_lock:
        for _ in range(200):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _ports_given:
                _ports_given.add(port)
                return port
    raise RuntimeError("no free port")


def closed_port() -> int:
    """A port where nothing listens (connections are refused)."""
    return free_port()


def wait_until(
    pred, timeout: float, interval: float = 0.1, what: str = "condition", proc: Proc | None = None
):
    """Poll pred() until it returns a truthy value; fail on timeout or when
    proc exits first (with the tail of its log)."""
    deadline = time.monotonic() + timeout
    last_err = None
    while True:
        try:
            value = pred()
            if value:
                return value
        except Exception as e:  # noqa: BLE001
            last_err = e
        if proc is not None and not proc.alive():
            raise CheckFailed(
                f"{proc.name} exited with {proc.popen.returncode} while waiting for {what}\n"
                f"log {proc.log}:\n{proc.log_tail()}"
            )
        if time.monotonic() >= deadline:
            msg = f"timed out after {timeout:.0f}s waiting for {what}"
            if last_err is not None:
                msg += f" (last error: {last_err!r})"
            if proc is not None:
                msg += f"\nlog {proc.log}:\n{proc.log_tail()}"
            raise CheckFailed(msg)
        time.sleep(interval)
