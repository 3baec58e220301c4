"""Idle pauses around the upstream's keep-alive timeout (HTTP transport).

A gateway pools its connections to the ML service. uvicorn closes a
connection that has been idle for `timeout_keep_alive` (5 s by default); a
gateway that keeps idle connections longer, or that writes a request on a
connection at the moment the server closes it, loses that request (the
socket is reset before any answer) and answers 502. The test sends bursts
of concurrent requests separated by idle gaps just under, at and just over
the upstream's keep-alive, and one well past it: every request must get a
2xx. Run for both gateways on the http transport.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from .httpc import HttpError, post_json
from .report import CheckFailed

UPSTREAM_KEEPALIVE_S = 5.0  # uvicorn's default timeout_keep_alive
# The pooled connections of one burst go idle over the burst's duration (tens
# of ms), and a request is lost only when it lands within a few ms of the
# server's close: the gaps just under the keep-alive are the ones that catch
# it, so they are sampled finely (a broken gateway loses 1-3 requests in
# some of them, not in all).
GAPS_S = tuple(
    round(UPSTREAM_KEEPALIVE_S + d, 2)
    for d in (-0.3, -0.2, -0.1, -0.09, -0.07, -0.05, -0.03, -0.01, 0.0, 0.05, 1.0)
)
BURST = 32
BODY = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


def _burst(pool: ThreadPoolExecutor, base: str) -> list[str]:
    """BURST concurrent predictions; a line for each one that is not a 2xx."""

    def one(i: int) -> str | None:
        try:
            r = post_json(base, "/v1/predict", BODY, timeout=15)
        except HttpError as e:
            return f"#{i}: no response ({e})"
        return None if 200 <= r.status < 300 else f"#{i}: {r.short(200)}"

    return [bad for bad in pool.map(one, range(BURST)) if bad]


def pauses(base: str, gaps: tuple[float, ...] = GAPS_S) -> str:
    """A warm-up burst fills the gateway's upstream pool; then, for each gap,
    wait that long after the previous burst's last answer and send a burst."""
    failures: list[str] = []
    with ThreadPoolExecutor(BURST) as pool:
        failures += [f"warm-up {bad}" for bad in _burst(pool, base)]
        for gap in gaps:
            time.sleep(gap)
            failures += [f"after {gap:.2f}s idle {bad}" for bad in _burst(pool, base)]
    total = BURST * (len(gaps) + 1)
    if failures:
        raise CheckFailed(f"{len(failures)}/{total} requests not 2xx:\n" + "\n".join(failures[:20]))
    return f"{total} requests in {len(gaps) + 1} bursts of {BURST}, 0 non-2xx"
