"""Check lines, pass/fail counts and phase timings.

Every check prints one line, `PASS name` or `FAIL name` followed by the
indented reason, as it happens (so a CI log shows progress). `summary()`
prints the timing table and the closing `N passed, N failed` line.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from contextlib import contextmanager


class CheckFailed(Exception):
    """A check's expectation did not hold; the message says what and why."""


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.rstrip("\n").splitlines())


class Reporter:
    def __init__(self, out=None) -> None:
        self.out = out or sys.stdout
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures: list[tuple[str, str]] = []
        # combo -> list of (phase, seconds, ok)
        self.timings: dict[str, list[tuple[str, float, bool]]] = {}
        # (seconds, name) of every check, for the slowest ones in the summary
        self.check_secs: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def _print(self, text: str) -> None:
        with self._lock:
            print(text, file=self.out, flush=True)

    def info(self, text: str) -> None:
        self._print(text)

    def ok(self, name: str, detail: str = "") -> None:
        with self._lock:
            self.passed += 1
        self._print(f"PASS {name}" + (f"  ({detail})" if detail else ""))

    def fail(self, name: str, reason: str) -> None:
        with self._lock:
            self.failed += 1
            self.failures.append((name, reason))
        self._print(f"FAIL {name}\n{indent(reason)}")

    def skip(self, name: str, reason: str) -> None:
        with self._lock:
            self.skipped += 1
        self._print(f"SKIP {name}  ({reason})")

    def check(self, name: str, fn, *args, **kwargs) -> bool:
        """Run fn; a CheckFailed or any other exception is a failed check.

        fn may return a short string shown on the PASS line.
        """
        start = time.monotonic()
        try:
            detail = fn(*args, **kwargs)
        except CheckFailed as e:
            self.fail(name, str(e))
            return False
        except KeyboardInterrupt:
            raise
        except Exception:  # noqa: BLE001 - the harness reports, never crashes
            self.fail(name, "harness error:\n" + traceback.format_exc())
            return False
        finally:
            with self._lock:
                self.check_secs.append((time.monotonic() - start, name))
        self.ok(name, detail if isinstance(detail, str) else "")
        return True

    @contextmanager
    def phase(self, combo: str, phase: str):
        """Time a phase of a combination; the time lands in the table."""
        self._print(f"--- {combo}: {phase}")
        start = time.monotonic()
        failed_before = self.failed
        try:
            yield
        finally:
            secs = time.monotonic() - start
            ok = self.failed == failed_before
            self.timings.setdefault(combo, []).append((phase, secs, ok))
            self._print(f"--- {combo}: {phase} took {secs:.1f}s")

    ORDER = [
        "generate",
        "install",
        "static",
        "lint",
        "test",
        "start",
        "contract",
        "jwt",
        "ratelimit",
        "chat",
        "streams",
        "shutdown",
        "make-dev",
    ]

    SLOWEST = 30  # checks listed by time in the summary: where CI's minutes go

    def timing_table(self) -> str:
        phases: list[str] = [
            p
            for p in self.ORDER
            if any(p == q for rows in self.timings.values() for q, _, _ in rows)
        ]
        for rows in self.timings.values():
            for phase, _, _ in rows:
                if phase not in phases:
                    phases.append(phase)
        combos = list(self.timings)
        width = max([len("phase"), *(len(p) for p in phases), len("total")])
        cols = [max(len(c), 7) for c in combos]
        head = "phase".ljust(width) + "".join(
            f"  {c:>{w}}" for c, w in zip(combos, cols, strict=True)
        )
        lines = [head, "-" * len(head)]
        totals = [0.0] * len(combos)
        for phase in phases:
            cells = []
            for i, combo in enumerate(combos):
                secs = [s for p, s, _ in self.timings[combo] if p == phase]
                if secs:
                    totals[i] += sum(secs)
                    mark = "" if all(ok for p, _, ok in self.timings[combo] if p == phase) else "!"
                    cells.append(f"{sum(secs):.1f}s{mark}")
                else:
                    cells.append("-")
            lines.append(
                phase.ljust(width)
                + "".join(f"  {c:>{w}}" for c, w in zip(cells, cols, strict=True))
            )
        lines.append("-" * len(head))
        lines.append(
            "total".ljust(width)
            + "".join(f"  {f'{t:.1f}s':>{w}}" for t, w in zip(totals, cols, strict=True))
        )
        return "\n".join(lines)

    def summary(self, wall: float | None = None) -> None:
        if self.timings:
            self._print("\nTimings per combination ('!' = a check failed in that phase):")
            self._print(self.timing_table())
        if wall is not None:
            self._print(f"wall time: {wall:.1f}s")
        if self.check_secs:
            slowest = sorted(self.check_secs, reverse=True)[: self.SLOWEST]
            self._print(f"\nThe {len(slowest)} slowest checks (of {len(self.check_secs)}):")
            for secs, name in slowest:
                self._print(f"  {secs:7.1f}s  {name}")
        if self.failures:
            self._print("\nFailed checks:")
            for name, reason in self.failures:
                lines = [x for x in reason.strip().splitlines() if x.strip()] or [""]
                # A failed command's reason starts with "$ cmd"; its last line says most.
                first = lines[-1] if lines[0].startswith("$ ") else lines[0]
                self._print(f"  {name}: {first.strip()[:200]}")
        if self.skipped:
            self._print(f"{self.skipped} skipped")
        self._print(f"\n{self.passed} passed, {self.failed} failed")
