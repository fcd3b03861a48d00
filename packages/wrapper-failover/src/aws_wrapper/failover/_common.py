"""Small helpers shared by the failover plugins."""

from __future__ import annotations

import enum
import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.services import PluginContext
from aws_wrapper.dialects import RdsUrlType, parse_endpoint

__all__ = [
    "EndpointKind",
    "endpoint_kind",
    "writer_of",
    "readers_of",
    "attempt_props",
    "pause",
    "RoleCache",
]

#: Pause between two rounds of attempts at the same candidates: bounds the retry rate on a dead host.
RETRY_PAUSE = 0.1


class EndpointKind(enum.Enum):
    WRITER_CLUSTER = "writer-cluster"  # cluster- (and the global writer endpoint)
    READER_CLUSTER = "reader-cluster"  # cluster-ro-
    PROXY = "proxy"  # RDS Proxy: the proxy handles failover itself
    OTHER = "other"  # an instance, a custom endpoint, an IP address, any other name


_KINDS = {
    RdsUrlType.RDS_WRITER_CLUSTER: EndpointKind.WRITER_CLUSTER,
    RdsUrlType.RDS_GLOBAL_WRITER_CLUSTER: EndpointKind.WRITER_CLUSTER,
    RdsUrlType.RDS_READER_CLUSTER: EndpointKind.READER_CLUSTER,
    RdsUrlType.RDS_PROXY: EndpointKind.PROXY,
}


def endpoint_kind(host: str) -> EndpointKind:
    return _KINDS.get(parse_endpoint(host).type, EndpointKind.OTHER)


def writer_of(hosts: Iterable[HostInfo]) -> HostInfo | None:
    for host in hosts:
        if host.role is HostRole.WRITER:
            return host
    return None


def readers_of(hosts: Iterable[HostInfo]) -> list[HostInfo]:
    return [h for h in hosts if h.role is HostRole.READER]


def is_topology_instance(host: HostInfo, hosts: Iterable[HostInfo]) -> bool:
    """Whether ``host`` names one of the instances of ``hosts`` (not an endpoint in front of them)."""
    url = host.url
    return any(url == h.url or url in h.aliases for h in hosts)


def attempt_props(props: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    """``props`` with ``connect_timeout`` lowered to ``seconds`` (whole seconds, at least 1: drivers take
    integers), unless the user's own timeout is smaller."""
    limit = max(1, math.ceil(seconds))
    result = dict(props)
    current = result.get("connect_timeout")
    try:
        user = float(current) if current not in (None, "") else None
    except (TypeError, ValueError):
        user = None  # the core reports the malformed value when it parses the settings
    if user is None or user <= 0 or user > limit:
        result["connect_timeout"] = limit
    return result


def pause(
    seconds: float, deadline: float, stop: threading.Event | Callable[[float], object] | None = None
) -> None:
    """Sleep ``seconds`` (never past ``deadline``); ``stop`` (an ``Event``, or an interruptible wait such as
    ``ConnectionService.wait_closed``) ends it at once."""
    delay = min(seconds, deadline - time.monotonic())
    if delay <= 0:
        return
    if stop is None:
        threading.Event().wait(delay)
    elif isinstance(stop, threading.Event):
        stop.wait(delay)
    else:
        stop(delay)


class RoleCache:
    """Roles verified for freshly opened connections, so that nested plugins (initial connection, stale DNS)
    do not ask the server twice within one connect. Entries are weak and expire after ``ttl`` seconds."""

    def __init__(self, ttl: float = 1.0) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._roles: weakref.WeakKeyDictionary[Any, tuple[float, HostRole]] = weakref.WeakKeyDictionary()

    def role(self, context: PluginContext, conn: RawConnection) -> HostRole:
        now = time.monotonic()
        try:
            with self._lock:
                entry = self._roles.get(conn)
        except TypeError:  # not weak-referenceable or unhashable: ask every time
            return context.topology.get_host_role(conn)
        if entry is not None and now - entry[0] < self._ttl:
            return entry[1]
        role = context.topology.get_host_role(conn)
        if role is not HostRole.UNKNOWN:
            try:
                with self._lock:
                    self._roles[conn] = (now, role)
            except TypeError:
                pass
        return role


ROLES = RoleCache()
