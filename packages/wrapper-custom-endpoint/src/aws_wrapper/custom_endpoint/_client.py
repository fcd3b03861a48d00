"""RDS clients: made with boto3 on the connecting thread (never on a monitor thread), one per region and process,
closed by ``release_resources()``. boto3 is imported by the first connect through a custom endpoint.

``set_client_factory(factory)`` replaces how clients are made (your own boto3 session, a test double):
``factory(region=...)`` returns an object with ``describe_db_cluster_endpoints(**kwargs)``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from aws_wrapper.core.lifecycle import on_release

__all__ = ["ClientFactory", "set_client_factory", "rds_client", "release"]

logger = logging.getLogger("aws_wrapper.custom_endpoint")

_CONNECT_TIMEOUT = 10
_READ_TIMEOUT = 10


class ClientFactory(Protocol):
    def __call__(self, *, region: str) -> Any: ...


_lock = threading.Lock()
_clients: dict[tuple[str, int], Any] = {}
_factory: ClientFactory | None = None
_generation = 0


def set_client_factory(factory: ClientFactory | None) -> None:
    """Make RDS clients with ``factory`` (None: boto3's default session). Clients made before are dropped."""
    global _factory, _generation
    with _lock:
        _factory = factory
        _generation += 1
        clients = list(_clients.values())
        _clients.clear()
    _close(clients)


def rds_client(region: str) -> Any:
    """The process's RDS client for ``region``, made now on the calling thread if there is none."""
    with _lock:
        key = (region, _generation)
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = (_factory or _boto3_client)(region=region)
        return client


def _boto3_client(*, region: str) -> Any:
    import boto3
    from botocore.config import Config

    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("creating an RDS client for region %s", region)
    return boto3.session.Session().client(
        "rds",
        region_name=region,
        config=Config(
            connect_timeout=_CONNECT_TIMEOUT,
            read_timeout=_READ_TIMEOUT,
            retries={"max_attempts": 3, "mode": "standard"},
        ),
    )


def release() -> None:
    with _lock:
        clients = list(_clients.values())
        _clients.clear()
    _close(clients)


on_release(release)


def _close(clients: list[Any]) -> None:
    for client in clients:
        close = getattr(client, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                logger.debug("closing an RDS client failed", exc_info=True)
