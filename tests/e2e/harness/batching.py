"""Batching across requests, seen from real clients: concurrent requests of
mixed sizes, each with rows of its own, must each get back the predictions of
exactly its own rows, in its own order (no cross-talk between the requests a
batch joins), whatever the transport batches: the ML service's HTTP batcher
or a bus worker's reads.

Each distinct row's expected prediction is asked for first, one row per
request, one request at a time (no batch to share); then 48 requests of 1 to
24 rows (every 16th of 24) go at once, twice over, and every answer is compared
with those row by row: label, class id, and each probability to 1e-9 (a
batched matrix product may differ from a single row's in the last bits).
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor

from .httpc import request
from .report import CheckFailed

CONCURRENT = 48
MAX_ROWS = 24
ROUNDS = 2


def _rows(rng: random.Random, n: int) -> list[list[float]]:
    """n distinct rows spread over the three iris classes' ranges."""
    out: set[tuple[float, ...]] = set()
    while len(out) < n:
        out.add(
            (
                round(rng.uniform(4.3, 7.9), 2),
                round(rng.uniform(2.0, 4.4), 2),
                round(rng.uniform(1.0, 6.9), 2),
                round(rng.uniform(0.1, 2.5), 2),
            )
        )
    return [list(r) for r in sorted(out)]


def _post(base: str, rows: list[list[float]]):
    return request(
        "POST",
        base,
        "/v1/predict",
        json.dumps({"instances": rows}),
        {"Content-Type": "application/json"},
        timeout=30,
    )


def no_cross_talk(base: str, seed: int = 17) -> str:
    rng = random.Random(seed)
    pool = _rows(rng, 96)
    expected: dict[tuple[float, ...], dict] = {}
    for row in pool:
        r = _post(base, [row])
        if r.status != 200:
            raise CheckFailed(f"one row {row} -> {r.short()}")
        expected[tuple(row)] = r.json()["predictions"][0]

    errs: list[str] = []
    sizes_seen: set[int] = set()
    for round_ in range(ROUNDS):
        asks = []
        for i in range(CONCURRENT):
            n = MAX_ROWS if i % 16 == 0 else rng.randint(1, MAX_ROWS)
            asks.append(rng.sample(pool, n))
        with ThreadPoolExecutor(CONCURRENT) as ex:
            answers = list(ex.map(lambda rows: _post(base, rows), asks))
        for i, (rows, r) in enumerate(zip(asks, answers, strict=True)):
            sizes_seen.add(len(rows))
            what = f"round {round_} request {i} ({len(rows)} rows)"
            if r.status != 200:
                errs.append(f"{what}: {r.short()}")
                continue
            preds = r.json().get("predictions")
            if not isinstance(preds, list) or len(preds) != len(rows):
                got = len(preds) if isinstance(preds, list) else preds
                errs.append(f"{what}: {got} predictions back")
                continue
            for j, (row, p) in enumerate(zip(rows, preds, strict=True)):
                want = expected[tuple(row)]
                if p.get("label") != want["label"] or p.get("class_id") != want["class_id"]:
                    errs.append(f"{what}, row {j} {row}: {p}, alone it was {want}")
                    break
                probs, wprobs = p.get("probabilities") or {}, want["probabilities"]
                if set(probs) != set(wprobs) or any(
                    abs(probs[k] - wprobs[k]) > 1e-9 for k in wprobs
                ):
                    errs.append(f"{what}, row {j} {row}: {probs}, alone it was {wprobs}")
                    break
    if errs:
        raise CheckFailed(f"{len(errs)} answer(s) not their own rows':\n" + "\n".join(errs[:8]))
    return (
        f"{ROUNDS} x {CONCURRENT} concurrent requests of {min(sizes_seen)}-{max(sizes_seen)} "
        f"rows, each its own rows back"
    )
