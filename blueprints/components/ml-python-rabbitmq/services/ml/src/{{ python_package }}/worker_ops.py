"""The worker's ops beside predict: what a request message's `op` header names.

A message without `op` (or with `op` `predict`) is a prediction, which the worker
answers in batches itself. Other ops come from the modules that serve them (see
`worker.load_ops`): each gives an `Ops`, which answers a message at once with an
ordinary reply, or takes it on (work that runs on threads of its own beside the
worker's event loop) and then publishes its replies and acknowledges it itself,
through the worker's `Outbox`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import DeliveryError, PublishError
from prometheus_client import Counter

# How long a publish may wait for the broker's confirm before it counts as failed.
CONFIRM_TIMEOUT_S = 10.0
# A cancel may come before the generation it names starts: it is kept this long.
CANCEL_TTL_S = 300.0

REPLIES = Counter("ml_worker_replies", "Replies written, by HTTP status.", ["status"])

Reply = tuple[int, str]  # (HTTP status, JSON body)


@dataclass(frozen=True)
class OpRequest:
    """A message that passed the worker's own checks (headers, deliveries, deadline)."""

    corr_id: str
    request_id: str
    reply_to: str
    payload: bytes
    deliveries: int
    message: AbstractIncomingMessage  # the delivery, which the op acknowledges when done


class OpBusy(Exception):
    """Raised by `Ops.answer` when it cannot take a message now: the worker holds the
    message and offers it again once some work in hand ended."""


class GatewayGone(Exception):
    """The broker returned a reply: its gateway's reply queue no longer exists."""


class BusError(Exception):
    """A publish or an acknowledgement the broker did not confirm (connection lost,
    publish refused, no confirm in time)."""


class Ops(Protocol):
    """The ops one module serves."""

    @property
    def paths(self) -> Mapping[str, str]:
        """Each op -> the gateway route it answers (the `instance` of its problems)."""
        ...

    def answer(self, op: str, request: OpRequest) -> Reply | None:
        """An ordinary reply (the worker publishes it, then acknowledges the message), or
        None when the message was taken on. May raise `OpBusy`."""
        ...

    def free_slots(self) -> int:
        """How many more messages could be taken on now."""
        ...

    def in_hand(self) -> int:
        """How many messages are taken on and not finished."""
        ...

    def close(self) -> None:
        """Lets the work in hand finish, then frees what it holds."""
        ...


class CancelBook:
    """The ids the gateways cancelled (the `{prefix}.cancel` exchange), kept 5 minutes.

    `event(id)` is set as soon as that id is cancelled, so a generation that waits on it
    between two tokens stops at once, not at the end of its wait."""

    def __init__(self, ttl_s: float = CANCEL_TTL_S) -> None:
        self._ttl_s = ttl_s
        self._events: OrderedDict[str, tuple[threading.Event, float]] = OrderedDict()
        self._lock = threading.Lock()

    def cancel(self, corr_id: str) -> None:
        self.event(corr_id).set()

    def event(self, corr_id: str) -> threading.Event:
        now = time.monotonic()
        with self._lock:
            while self._events:  # oldest first: drop what has outlived its TTL
                _, (_, created) = next(iter(self._events.items()))
                if now - created < self._ttl_s:
                    break
                self._events.popitem(last=False)
            if corr_id not in self._events:
                self._events[corr_id] = (threading.Event(), now)
            return self._events[corr_id][0]


class Outbox:
    """Publishes on the worker's current channel (publisher confirms, mandatory), from
    the event loop or from any other thread; each call waits for the broker's confirm.

    The worker attaches its channel once connected and detaches it when the connection
    goes: work that publishes meanwhile gets `BusError`, and the broker delivers its
    request again (the connection that held it closed)."""

    def __init__(self) -> None:
        self.cancels = CancelBook()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._channel: AbstractChannel | None = None

    def attach(self, channel: AbstractChannel) -> None:
        self._loop = asyncio.get_running_loop()
        self._channel = channel

    def detach(self) -> None:
        self._channel = None

    async def publish(
        self, routing_key: str, message: aio_pika.Message, *, mandatory: bool = True
    ) -> None:
        """On the event loop. Raises `GatewayGone` on a return, `BusError` otherwise."""
        channel = self._channel
        if channel is None or channel.is_closed:
            raise BusError("not connected to the broker")
        try:
            await channel.default_exchange.publish(
                message, routing_key, mandatory=mandatory, timeout=CONFIRM_TIMEOUT_S
            )
        except PublishError as exc:  # returned: no queue of that name
            raise GatewayGone(routing_key) from exc
        except (DeliveryError, TimeoutError, ConnectionError) as exc:
            raise BusError(f"publish to {routing_key!r} failed: {exc!r}") from exc
        except Exception as exc:  # a closed channel or connection: aiormq's own errors
            raise BusError(f"publish to {routing_key!r} failed: {exc!r}") from exc

    def reply(self, request: OpRequest, headers: Mapping[str, str], body: str) -> None:
        """From a thread: publishes one reply (an ordinary one, or a stream entry)."""
        message = reply_message(request.corr_id, headers, body)
        self._wait(self.publish(request.reply_to, message))

    def acknowledge(self, request: OpRequest) -> None:
        """From a thread: acknowledges a request whose answer was published."""
        self._wait(acknowledge(request.message))

    def _wait(self, work: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            work.close()
            raise BusError("the worker's event loop is not running")
        future: Future[None] = asyncio.run_coroutine_threadsafe(work, loop)
        try:
            future.result(timeout=CONFIRM_TIMEOUT_S + 1)
        except TimeoutError as exc:
            future.cancel()
            raise BusError("no confirm from the broker in time") from exc


def reply_message(corr_id: str, headers: Mapping[str, str], body: str) -> aio_pika.Message:
    """A reply: transient (a gateway that restarts has a new queue), to one request."""
    return aio_pika.Message(
        body.encode(),
        headers=dict(headers),
        correlation_id=corr_id,
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.NOT_PERSISTENT,
    )


async def acknowledge(message: AbstractIncomingMessage) -> None:
    """`basic.ack`; raises `BusError` when the channel that delivered it is gone (the
    broker has put the message back already)."""
    try:
        await message.ack()
    except Exception as exc:  # aiormq's errors of a closed channel
        raise BusError(f"cannot acknowledge: {exc!r}") from exc
