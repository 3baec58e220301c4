"""The worker's ops beside predict: what a request entry's `op` field names.

An entry without `op` (or with `op` `predict`) is a prediction, which the worker
answers in batches itself. Other ops come from the modules that serve them (see
`worker.load_ops`): each gives an `Ops`, which answers an entry at once with an
ordinary reply, or takes it on (work that runs beside the worker's main loop, which
keeps heartbeating meanwhile) and then writes its replies and acknowledges it itself,
with the helpers below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter

GROUP = "ml-workers"
REPLY_MAXLEN = 10_000
# A reply stream whose gateway is gone would stay forever: give it the TTL a live
# gateway keeps refreshing (EXPIRE ... NX leaves a live gateway's TTL alone).
REPLY_TTL_S = 3600

REPLIES = Counter("ml_worker_replies", "Replies written, by HTTP status.", ["status"])

Reply = tuple[int, str]  # (HTTP status, JSON body)


@dataclass(frozen=True)
class OpRequest:
    """An entry that passed the worker's own checks (fields, deliveries, deadline)."""

    entry_id: str
    corr_id: str
    request_id: str
    reply_to: str
    payload: str
    deliveries: int


class OpBusy(Exception):
    """Raised by `Ops.answer` when it cannot take an entry now: the entry stays pending,
    and the worker reads it again on a later turn."""


class Ops(Protocol):
    """The ops one module serves."""

    @property
    def paths(self) -> Mapping[str, str]:
        """Each op -> the gateway route it answers (the `instance` of its problems)."""
        ...

    def answer(self, op: str, request: OpRequest) -> Reply | None:
        """An ordinary reply (the worker writes it, then acknowledges the entry), or None
        when the entry was taken on. May raise `OpBusy`."""
        ...

    def holds(self, entry_id: str) -> bool:
        """Whether the entry was taken on and is not finished: it is pending, and a read
        of this consumer's own pending entries must leave it alone."""
        ...

    def free_slots(self) -> int:
        """How many more entries could be taken on now."""
        ...

    def in_hand(self) -> int:
        """How many entries are taken on and not finished."""
        ...

    def wait(self, timeout_s: float) -> None:
        """Returns once some work in hand ended, or after the timeout."""
        ...

    def close(self) -> None:
        """Lets the work in hand finish, then frees what it holds."""
        ...


def add_reply(pipe: Any, reply_to: str, fields: Mapping[str, str]) -> None:
    """Queues one entry of a reply stream on a pipeline, and its stream's TTL (2 results)."""
    pipe.xadd(reply_to, dict(fields), maxlen=REPLY_MAXLEN, approximate=True)
    pipe.expire(reply_to, REPLY_TTL_S, nx=True)


def acknowledge(pipe: Any, stream: str, *entry_ids: str) -> None:
    """Queues XACK + XDEL of answered request entries on a pipeline."""
    pipe.xack(stream, GROUP, *entry_ids)
    pipe.xdel(stream, *entry_ids)
