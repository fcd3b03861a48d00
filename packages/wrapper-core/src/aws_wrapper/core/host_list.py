"""Host list providers shipped with core, and the process-wide host availability registry."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from .hostinfo import HostAvailability, HostInfo, HostRole
from .plugin import RawConnection

__all__ = ["StaticHostListProvider", "AvailabilityRegistry", "AVAILABILITY"]


class AvailabilityRegistry:
    """Which hosts are known to be down, by alias (``host:port`` or any alias). Shared by the whole process so
    that a host marked down by failure monitoring is skipped by failover and host selection everywhere."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: set[str] = set()

    def set(self, aliases: Iterable[str], availability: HostAvailability) -> None:
        with self._lock:
            if availability is HostAvailability.UNAVAILABLE:
                self._down.update(aliases)
            else:
                self._down.difference_update(aliases)

    def apply(self, host: HostInfo) -> HostInfo:
        down = self._down
        if not down:
            return host
        unavailable = not down.isdisjoint(host.all_aliases)
        wanted = HostAvailability.UNAVAILABLE if unavailable else HostAvailability.AVAILABLE
        return host if host.availability is wanted else host.with_(availability=wanted)

    def is_down(self, host: HostInfo) -> bool:
        return not self._down.isdisjoint(host.all_aliases)

    def clear(self) -> None:
        with self._lock:
            self._down.clear()


AVAILABILITY = AvailabilityRegistry()


class StaticHostListProvider:
    """The host list of a plain connection string: the one host given, assumed to be the writer."""

    def __init__(self, host: HostInfo) -> None:
        self._hosts = (host.with_(role=HostRole.WRITER),)

    @property
    def cluster_id(self) -> str:
        return f"static:{self._hosts[0].url}"

    @property
    def is_static(self) -> bool:
        return True

    def refresh(self, conn: RawConnection | None) -> Sequence[HostInfo]:
        return self._hosts

    def force_refresh(
        self,
        conn: RawConnection | None,
        *,
        verify_writer: bool,
        timeout: float,
        cancelled: Callable[[], bool] | None = None,
    ) -> Sequence[HostInfo]:
        return self._hosts

    def identify_connection(self, conn: RawConnection) -> HostInfo | None:
        return self._hosts[0]

    def get_host_role(self, conn: RawConnection) -> HostRole:
        return HostRole.WRITER

    def release_resources(self) -> None:
        pass
