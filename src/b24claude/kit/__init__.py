"""Domain-free helpers: clock, ids, backoff, the PHP form codec."""
