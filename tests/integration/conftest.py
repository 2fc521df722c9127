from tests.integration.services import amqp_url, pg_url, queue_name, redis_prefix, redis_url

__all__ = ["amqp_url", "pg_url", "queue_name", "redis_prefix", "redis_url"]
