"""Talks to the run's RabbitMQ or Kafka broker as a peer of the generated
services, with the generated ML service's own client library: run by the
combination's ML venv (`python busclient.py KIND COMMAND ARGS-JSON`), never
imported by the harness (which is standard library only). Prints one JSON
document.

The broker's address comes in BUSCLIENT_URL (never on the command line).
Commands (ARGS-JSON: {"prefix": ..., ...}):
  declare    RabbitMQ: declare {prefix}.requests as the workers do
             (docs/ml-gateway-contract.md), so that a gateway's publish is
             routed although no worker reads it; Kafka: create the topics a
             gateway needs, so that it is set up as soon as it starts
  read       the messages of {prefix}.<queue> ("requests" or "dead"): every
             one there within `timeout` s, up to `max` (RabbitMQ: taken off
             the queue; Kafka: read from the start, nothing committed)
  publish    one raw message onto {prefix}.requests: `headers` (a value
             {"hex": ...} is sent as those bytes), `body`, and the reply
             address (`reply_to` or `reply_partition`), `id`
  consumers  wait up to `timeout` s until {prefix}'s workers number `n`
             (RabbitMQ: consumers of the requests queue; Kafka: members of
             the Stable group {prefix}.ml-workers); prints the count
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

QUORUM_ARGS = {
    "x-queue-type": "quorum",
    "x-delivery-limit": 20,
    "x-dead-letter-exchange": "",
}


def _text(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        try:
            return bytes(v).decode()
        except UnicodeDecodeError:
            return {"hex": bytes(v).hex()}
    return v


def _raw(v: Any) -> Any:
    # bytearray: AMQP's byte array field (pamqp), bytes as they are for Kafka
    return bytearray.fromhex(v["hex"]) if isinstance(v, dict) else v


# -- RabbitMQ (aio-pika) --------------------------------------------------------
async def rabbit(cmd: str, a: dict) -> Any:
    import aio_pika

    conn = await aio_pika.connect(a["url"])
    try:
        ch = await conn.channel()
        requests = f"{a['prefix']}.requests"
        if cmd == "declare":
            args = {**QUORUM_ARGS, "x-dead-letter-routing-key": f"{a['prefix']}.dead"}
            await ch.declare_queue(requests, durable=True, arguments=args)
            return {"declared": requests}
        if cmd == "read":
            name = f"{a['prefix']}.{a['queue']}"
            out: list[dict] = []
            deadline = time.monotonic() + a.get("timeout", 5)
            while len(out) < a.get("max", 1000) and time.monotonic() < deadline:
                try:
                    q = await ch.declare_queue(name, passive=True)
                except aio_pika.exceptions.ChannelClosed:
                    ch = await conn.channel()
                    await asyncio.sleep(0.2)
                    continue
                m = await q.get(no_ack=True, fail=False)
                if m is None:
                    await asyncio.sleep(0.1)
                    continue
                out.append(
                    {
                        "headers": {k: _text(v) for k, v in (m.headers or {}).items()},
                        "body": _text(m.body),
                        "correlation_id": m.correlation_id,
                        "reply_to": m.reply_to,
                        "delivery_mode": int(m.delivery_mode or 0),
                    }
                )
            return out
        if cmd == "publish":
            body = a["body"]
            msg = aio_pika.Message(
                body.encode() if isinstance(body, str) else bytes(_raw(body)),
                headers={k: _raw(v) for k, v in a["headers"].items()},
                correlation_id=a.get("id"),
                reply_to=a.get("reply_to"),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            )
            await ch.default_exchange.publish(msg, routing_key=requests)
            return {"published": requests}
        if cmd == "consumers":
            deadline = time.monotonic() + a.get("timeout", 30)
            count = -1
            while time.monotonic() < deadline:
                try:
                    q = await ch.declare_queue(requests, passive=True)
                    count = q.declaration_result.consumer_count
                    if count >= a["n"]:
                        break
                except aio_pika.exceptions.ChannelClosed:
                    ch = await conn.channel()
                await asyncio.sleep(0.2)
            return {"consumers": count}
        raise SystemExit(f"unknown command {cmd}")
    finally:
        await conn.close()


# -- Kafka (confluent-kafka) ----------------------------------------------------
def kafka(cmd: str, a: dict) -> Any:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient

    boot = {"bootstrap.servers": a["url"]}
    topic = f"{a['prefix']}.requests"
    if cmd == "read":
        name = f"{a['prefix']}.{a['queue']}"
        c = Consumer(
            {**boot, "group.id": f"e2e-peek-{uuid.uuid4().hex}", "enable.auto.commit": False}
        )
        out: list[dict] = []
        try:
            deadline = time.monotonic() + a.get("timeout", 5)
            parts: list[int] = []
            while not parts and time.monotonic() < deadline:
                meta = c.list_topics(name, timeout=5).topics.get(name)
                parts = sorted(meta.partitions) if meta and not meta.error else []
                if not parts:
                    time.sleep(0.2)
            c.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in parts])
            while len(out) < a.get("max", 1000) and time.monotonic() < deadline:
                m = c.poll(0.2)
                if m is None or m.error():
                    continue
                out.append(
                    {
                        "headers": {k: _text(v) for k, v in (m.headers() or [])},
                        "body": _text(m.value() or b""),
                        "key": _text(m.key()),
                        "partition": m.partition(),
                    }
                )
        finally:
            c.close()
        return out
    if cmd == "publish":
        p = Producer(boot)
        fields = {**a["headers"], "reply_partition": a["reply_partition"]}
        headers = [(k, bytes(_raw(v)) if isinstance(v, dict) else v) for k, v in fields.items()]
        body = a["body"].encode() if isinstance(a["body"], str) else bytes(_raw(a["body"]))
        p.produce(topic, value=body, key=a.get("id"), headers=headers)
        left = p.flush(10)
        if left:
            raise SystemExit(f"{left} records not delivered")
        return {"published": topic}
    if cmd == "consumers":
        admin = AdminClient(boot)
        group = f"{a['prefix']}.ml-workers"
        deadline = time.monotonic() + a.get("timeout", 30)
        count, state = -1, ""
        while time.monotonic() < deadline:
            try:
                desc = admin.describe_consumer_groups([group])[group].result(timeout=5)
                count, state = len(desc.members), desc.state.name
                if state == "STABLE" and count >= a["n"]:
                    break
            except Exception as e:  # the group does not exist yet
                state = str(e)
            time.sleep(0.3)
        return {"consumers": count, "state": state}
    if cmd == "declare":
        # the topics a gateway creates, as it creates them: a gateway that
        # finds them set up answers at once (one that creates them answers
        # 502 until they are)
        from confluent_kafka.admin import NewTopic

        hour = {"retention.ms": "3600000"}
        topics = [
            NewTopic(topic, 6, config=hour),
            NewTopic(f"{a['prefix']}.replies", 6, config=hour),
            NewTopic(f"{a['prefix']}.cancel", 1, config={"retention.ms": "300000"}),
        ]
        admin = AdminClient(boot)  # kept: its futures die with it
        for fut in admin.create_topics(topics).values():
            try:
                fut.result(timeout=30)
            except Exception as e:  # an existing topic is fine
                if "TOPIC_ALREADY_EXISTS" not in str(e):
                    raise
        return {"declared": [t.topic for t in topics]}
    raise SystemExit(f"unknown command {cmd}")


def main() -> None:
    kind, cmd, args = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    args["url"] = os.environ["BUSCLIENT_URL"]
    out = asyncio.run(rabbit(cmd, args)) if kind == "rabbitmq" else kafka(cmd, args)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
