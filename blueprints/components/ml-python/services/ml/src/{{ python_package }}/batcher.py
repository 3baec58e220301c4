"""Adaptive batching of `POST /v1/predict`: concurrent requests, one model call.

Each request's rows are queued with a future and a deadline; one task per process
takes what is queued (up to ML_BATCH_MAX_ROWS rows, a request never split), makes
one model call in a worker thread for the whole batch and hands each request its
own slice of the results. One scikit-learn call costs about the same for 1 row as
for 32, so under load the model's fixed cost is shared by the whole batch.

- The batch is what queued while the previous one ran, and what arrives as it
  forms: the batcher first lets the event loop turn until a few turns in a row
  bring no new request (`_gather`), so requests already read from their sockets
  join this batch instead of waiting a whole model call for the next. Under load
  that doubles the batches behind a gateway (about 9 requests to 15) for 6-14%
  more predictions/s; idle, it costs three loop turns (microseconds).
  ML_BATCH_MAX_WAIT_MS > 0 also waits that long for more before a batch that is
  not full.
- A request whose deadline passes is failed at the deadline (`DeadlineExceededError`),
  whether it is queued or in a running batch; a queued one is then never computed.
- A request dropped by its caller (`Pending.drop`: the client went away) is never
  computed either.
- The queue holds at most ML_BATCH_QUEUE_SIZE requests: past it, `QueueFullError`
  at once (load shedding, 503).
- When the model rejects the batch's rows (`RowsRejectedError`), each request is
  predicted alone, so only the request with the bad rows gets its 422.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from . import inference
from .metrics import BATCH_QUEUE_WAIT, BATCH_ROWS, BATCH_SIZE, PREDICTION_ROWS
from .model import Model, Prediction

log = logging.getLogger(__name__)

Rows = Sequence[Sequence[float]]
# `_gather`: the loop turns in a row without a new request that end it, and the most
# turns it takes. A request needs a turn or two from its bytes to `submit`.
GATHER_QUIET_TURNS = 3
GATHER_MAX_TURNS = 16
Outcome = list[Prediction] | BaseException


class QueueFullError(Exception):
    """The queue holds ML_BATCH_QUEUE_SIZE requests already: shed this one (503)."""


class DeadlineExceededError(Exception):
    """The request's deadline passed before its predictions were ready (504)."""


class ShuttingDownError(Exception):
    """The service stopped before the request was computed (503)."""


@dataclass(eq=False)
class Pending:
    """One queued request: its rows, the future its endpoint awaits, its deadline."""

    rows: Rows
    future: asyncio.Future[list[Prediction]]
    enqueued: float
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def drop(self) -> None:
        """The caller no longer wants the result (its client went away)."""
        self._settle(asyncio.CancelledError())

    def _expire(self) -> None:
        self._settle(DeadlineExceededError())

    def _settle(self, outcome: Outcome) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.future.done():
            return
        if isinstance(outcome, asyncio.CancelledError):
            self.future.cancel()
        elif isinstance(outcome, BaseException):
            self.future.set_exception(outcome)
        else:
            self.future.set_result(outcome)


class Batcher:
    """Queues requests and predicts them in batches; `start()` it, then `submit()`."""

    def __init__(
        self,
        model: Model,
        *,
        max_rows: int,
        max_wait_s: float,
        queue_size: int,
        predict: Callable[[Model, Rows], list[Prediction]] = inference.predict,
    ) -> None:
        self.model = model
        self.max_rows = max_rows
        self.max_wait_s = max_wait_s
        self.queue_size = queue_size
        self._predict = predict
        self._queue: deque[Pending] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: list[Pending] = []  # the batch in the model call
        self._closed = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    def submit(self, rows: Rows, timeout_s: float) -> Pending:
        """Queues `rows`; await `.future` for their predictions, in order.

        Raises `QueueFullError` at once when the queue is full, `ShuttingDownError`
        once closed. The future fails with `DeadlineExceededError` after `timeout_s`."""
        if self._closed:
            raise ShuttingDownError
        if len(self._queue) >= self.queue_size:
            raise QueueFullError
        loop = asyncio.get_running_loop()
        now = loop.time()
        pending = Pending(rows, loop.create_future(), now)
        pending.timer = loop.call_at(now + timeout_s, pending._expire)
        self._queue.append(pending)
        self._wakeup.set()
        return pending

    async def close(self) -> None:
        """Stops the batcher: what is still queued or computing gets `ShuttingDownError` (503)."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for pending in [*self._running, *self._queue]:
            pending._settle(ShuttingDownError())
        self._queue.clear()

    def _take(self) -> list[Pending]:
        """The next batch: queued requests still wanted, up to max_rows rows (at least one)."""
        batch: list[Pending] = []
        rows = 0
        queue = self._queue
        while queue:
            pending = queue[0]
            if pending.future.done():  # past its deadline, or dropped: never computed
                queue.popleft()
                continue
            if batch and rows + len(pending.rows) > self.max_rows:
                break
            queue.popleft()
            batch.append(pending)
            rows += len(pending.rows)
        return batch

    async def _gather(self) -> None:
        """Lets the event loop turn (parse what has arrived, run the endpoints it
        wakes) until GATHER_QUIET_TURNS turns in a row queue nothing new, or the queue
        holds a full batch."""
        quiet = 0
        for _ in range(GATHER_MAX_TURNS):
            queued = len(self._queue)
            await asyncio.sleep(0)
            quiet = quiet + 1 if len(self._queue) == queued else 0
            if quiet >= GATHER_QUIET_TURNS or self._queued_rows() >= self.max_rows:
                return

    def _queued_rows(self) -> int:
        return sum(len(p.rows) for p in self._queue)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._gather()
            if self.max_wait_s > 0 and self._queued_rows() < self.max_rows:
                await asyncio.sleep(self.max_wait_s)
            batch = self._take()
            if not batch:
                continue
            now = loop.time()
            for pending in batch:
                BATCH_QUEUE_WAIT.observe(now - pending.enqueued)
            BATCH_SIZE.observe(len(batch))
            BATCH_ROWS.observe(sum(len(p.rows) for p in batch))
            self._running = batch
            try:
                outcomes = await asyncio.to_thread(self._predict_batch, [p.rows for p in batch])
            except Exception as exc:  # each request raises it: a 500, logged with its id
                outcomes = [exc] * len(batch)
            self._running = []
            for pending, outcome in zip(batch, outcomes, strict=True):
                pending._settle(outcome)

    def _predict_batch(self, requests: list[Rows]) -> list[Outcome]:
        """In a worker thread: one model call for all the rows; when the model rejects
        them, one call per request so that only the bad request fails."""
        rows = [row for request in requests for row in request]
        try:
            predictions = self._predict(self.model, rows)
        except inference.RowsRejectedError:
            if len(requests) == 1:
                return [inference.RowsRejectedError()]
            return [self._predict_alone(request) for request in requests]
        PREDICTION_ROWS.inc(len(predictions))
        outcomes: list[Outcome] = []
        start = 0
        for request in requests:
            outcomes.append(predictions[start : start + len(request)])
            start += len(request)
        return outcomes

    def _predict_alone(self, rows: Rows) -> Outcome:
        try:
            predictions = self._predict(self.model, rows)
        except inference.RowsRejectedError as exc:
            return exc
        PREDICTION_ROWS.inc(len(predictions))
        return predictions
