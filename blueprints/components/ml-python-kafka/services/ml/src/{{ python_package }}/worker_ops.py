"""The worker's ops beside predict: what a request record's `op` header names.

A record without `op` (or with `op` `predict`) is a prediction, which the worker
answers in batches itself. Other ops come from the modules that serve them (see
`worker.load_ops`): each gives an `Ops`, which answers a record with an ordinary
reply that the worker produces with the batch's, or with a `Generation`: work the
worker starts on the op's pool once the batch's offsets are committed (so it is
never run twice), which produces its own replies with `produce_reply`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter

REPLIES = Counter("ml_worker_replies", "Replies produced, by HTTP status.", ["status"])

Reply = tuple[int, str]  # (HTTP status, JSON body)
Generation = Callable[[], None]
# A delivery report: (error or None, message); see confluent_kafka.Producer.produce.
OnDelivery = Callable[[Any, Any], None]


@dataclass(frozen=True)
class OpRequest:
    """A record that passed the worker's own checks (headers, deliveries, deadline)."""

    corr_id: str
    request_id: str
    reply_partition: int
    payload: bytes
    deliveries: int


class OpBusy(Exception):
    """Raised by `Ops.answer` when it has no room for one more generation; the worker
    never reads more records than `free_slots`, so this is a bug guard."""


class Ops(Protocol):
    """The ops one module serves."""

    @property
    def paths(self) -> Mapping[str, str]:
        """Each op -> the gateway route it answers (the `instance` of its problems)."""
        ...

    def answer(self, op: str, request: OpRequest) -> Reply | Generation:
        """An ordinary reply, or a generation that holds one of the op's slots until it
        ends; the worker starts it after the commit. May raise `OpBusy`."""
        ...

    def free_slots(self) -> int:
        """How many more generations could be taken on now."""
        ...

    def in_hand(self) -> int:
        """How many generations are taken on and not finished."""
        ...

    def start(self, generation: Generation) -> None:
        """Runs a generation `answer` gave on the op's pool."""
        ...

    def wait(self, timeout_s: float) -> None:
        """Returns once some generation ended, or after the timeout."""
        ...

    def close(self) -> None:
        """Lets the generations in hand finish, then frees what it holds."""
        ...


def produce_reply(
    producer: Any,
    topic: str,
    partition: int,
    corr_id: str,
    headers: Mapping[str, str],
    value: str,
    on_delivery: OnDelivery | None = None,
) -> None:
    """Produces one reply record to the gateway's reply partition: key and header `id`
    = the correlation id, then `headers` (`status`, or `seq` and `kind`)."""
    producer.produce(
        topic,
        value=value.encode(),
        key=corr_id.encode(),
        partition=partition,
        headers=[("id", corr_id.encode()), *((k, v.encode()) for k, v in headers.items())],
        on_delivery=on_delivery,
    )
