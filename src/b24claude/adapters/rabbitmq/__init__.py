"""RabbitMQ as the task broker of the scale-out deployment (through taskiq-aio-pika)."""

from b24claude.adapters.rabbitmq.queue import RabbitQueue

__all__ = ["RabbitQueue"]
