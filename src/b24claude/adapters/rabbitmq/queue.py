"""The scale-out task queue: RabbitMQ through taskiq's broker (``taskiq-aio-pika``).

We use taskiq at the broker level (``kick`` / ``listen`` / ``ack``), not its task decorators: a
message is only "inbox row N is ready", and what runs is decided by the row itself. The queue is a
classic queue with ``x-max-priority`` 9 (RabbitMQ 3.x quorum queues have no priorities), messages
are persistent, and a consumer acks only after the row's outcome is recorded — a worker killed
mid-row leaves its messages unacked, and RabbitMQ hands them to another consumer.
"""

from __future__ import annotations

import inspect
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from aio_pika import ExchangeType
from taskiq import BrokerMessage
from taskiq_aio_pika import AioPikaBroker, Exchange, Queue, QueueType

from b24claude.errors import QueueError
from b24claude.ports.queue import MAX_PRIORITY, ReadyRow

log = logging.getLogger("b24claude.queue")

TASK_NAME = "b24claude.inbox.ready"


@dataclass(frozen=True, slots=True)
class RabbitDelivery:
    row: ReadyRow
    _ack: Callable[[], Awaitable[None] | None]

    async def ack(self) -> None:
        done = self._ack()
        if inspect.isawaitable(done):
            await done


class RabbitQueue:
    def __init__(
        self, url: str, *, queue: str = "b24claude.inbox", prefetch: int = 8, consumer: bool
    ) -> None:
        """``consumer``: this process takes deliveries (a worker); ingress processes only publish."""
        self._broker = AioPikaBroker(
            url,
            qos=max(1, prefetch),
            exchange=Exchange(name=queue, type=ExchangeType.DIRECT),
            task_queues=[
                Queue(name=queue, type=QueueType.CLASSIC, max_priority=MAX_PRIORITY, routing_key=queue)
            ],
            dead_letter_queue=Queue(name=f"{queue}.dead", type=QueueType.CLASSIC),
        )
        self._broker.is_worker_process = consumer
        self._queue = queue
        self._started = False

    async def startup(self) -> None:
        try:
            await self._broker.startup()
        except Exception as exc:  # aio-pika/aiormq connection errors have no common base
            raise QueueError(f"RabbitMQ is not reachable: {type(exc).__name__}: {exc}") from exc
        self._started = True

    async def shutdown(self) -> None:
        if self._started:
            self._started = False
            await self._broker.shutdown()

    async def ping(self) -> None:
        """A passive declare of our queue: one round trip to RabbitMQ."""
        channel = self._broker.write_channel
        if not self._started or channel is None or channel.is_closed:
            raise QueueError("RabbitMQ: not connected")
        try:
            await channel.declare_queue(self._queue, passive=True)
        except Exception as exc:
            raise QueueError(f"RabbitMQ does not answer: {type(exc).__name__}: {exc}") from exc

    async def publish(self, rows: list[ReadyRow]) -> None:
        try:
            for row in rows:
                priority = min(MAX_PRIORITY, max(0, row.priority))
                await self._broker.kick(
                    BrokerMessage(
                        task_id=uuid.uuid4().hex,
                        task_name=TASK_NAME,
                        message=json.dumps({"inbox_id": row.inbox_id, "priority": priority}).encode(),
                        labels={"priority": priority},
                    )
                )
        except Exception as exc:
            raise QueueError(f"publish to RabbitMQ failed: {type(exc).__name__}: {exc}") from exc

    async def consume(self) -> AsyncIterator[RabbitDelivery]:
        async for message in self._broker.listen():
            try:
                body = json.loads(message.data)
                row = ReadyRow(int(body["inbox_id"]), int(body.get("priority", 0)))
            except (ValueError, KeyError, TypeError):
                log.warning("queue.message.malformed")
                await RabbitDelivery(ReadyRow(0), message.ack).ack()
                continue
            yield RabbitDelivery(row, message.ack)
