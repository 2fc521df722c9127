"""Bitrix24 adapter: our async REST client (OAuth and webhook modes) and the CRM/chat gateways.

Private modules behind this small surface: ``client`` (request loop, retries, stats), ``throttle``
(per-portal leaky bucket), ``oauth`` (single-flight refresh), ``batch`` (encoding, chunking),
``errors`` (error bodies → :mod:`b24claude.errors`), ``gateway`` (the ports).
"""

from .batch import BatchResult
from .client import Bitrix24Client, CallResult, ClientStats, OperatingState
from .gateway import Bitrix24Gateway

__all__ = ["BatchResult", "Bitrix24Client", "Bitrix24Gateway", "CallResult", "ClientStats", "OperatingState"]
