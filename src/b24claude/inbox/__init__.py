"""The durable inbox: accept (verify, store, acknowledge), then process with a worker."""
