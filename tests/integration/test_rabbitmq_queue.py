"""The RabbitMQ queue adapter against a real RabbitMQ: priorities, acks after success, redelivery."""

from __future__ import annotations

import asyncio

from b24claude.adapters.rabbitmq import RabbitQueue
from b24claude.ports.queue import ReadyRow


async def take(queue: RabbitQueue, n: int, *, ack: bool = True) -> list[ReadyRow]:
    got: list[ReadyRow] = []

    async def run() -> None:
        async for delivery in queue.consume():
            got.append(delivery.row)
            if ack:
                await delivery.ack()
            if len(got) == n:
                return

    await asyncio.wait_for(run(), timeout=15)
    return got


async def test_higher_priority_is_delivered_first_then_fifo(amqp_url: str, queue_name: str) -> None:
    producer = RabbitQueue(amqp_url, queue=queue_name, consumer=False)
    await producer.startup()
    try:
        # Published before any consumer listens, so the broker orders them by priority.
        await producer.publish(
            [ReadyRow(1, 0), ReadyRow(2, 0), ReadyRow(3, 6), ReadyRow(4, 4), ReadyRow(5, 9)]
        )
    finally:
        await producer.shutdown()
    consumer = RabbitQueue(amqp_url, queue=queue_name, prefetch=1, consumer=True)
    await consumer.startup()
    try:
        assert [r.inbox_id for r in await take(consumer, 5)] == [5, 3, 4, 1, 2]
    finally:
        await consumer.shutdown()


async def test_an_unacked_message_goes_to_another_consumer_when_its_worker_dies(
    amqp_url: str, queue_name: str
) -> None:
    first = RabbitQueue(amqp_url, queue=queue_name, prefetch=1, consumer=True)
    await first.startup()
    await first.publish([ReadyRow(42, 3)])
    [held] = await take(first, 1, ack=False)  # taken, never acked: the worker "dies" here
    await first.shutdown()

    second = RabbitQueue(amqp_url, queue=queue_name, prefetch=1, consumer=True)
    await second.startup()
    try:
        assert await take(second, 1) == [held] == [ReadyRow(42, 3)]
    finally:
        await second.shutdown()
    # Acked: nothing is left for a third consumer.
    third = RabbitQueue(amqp_url, queue=queue_name, prefetch=1, consumer=True)
    await third.startup()
    try:
        await third.publish([ReadyRow(7, 0)])
        assert await take(third, 1) == [ReadyRow(7, 0)]
    finally:
        await third.shutdown()
