"""Host list providers shipped with core, and the process-wide host availability registry."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from .errors import AwsWrapperError
from .hostinfo import HostAvailability, HostInfo, HostRole
from .plugin import RawConnection

if TYPE_CHECKING:
    from .driver import DriverDialect

__all__ = ["StaticHostListProvider", "AvailabilityRegistry", "AVAILABILITY", "reported_role", "truthy"]


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
    """The host list of a plain connection string (no topology: a plain server, an RDS instance, a Multi-AZ
    instance deployment): the one host given, listed as the writer.

    :meth:`get_host_role` asks the server: with ``driver`` and ``is_reader_query`` (the database dialect's, e.g.
    ``SELECT pg_catalog.pg_is_in_recovery()`` or ``SELECT @@read_only``), that query, bounded by ``timeout``;
    without them, what the driver already knows without a round trip (psycopg: the ``in_hot_standby`` parameter
    that PostgreSQL 14 and later report), else WRITER.
    """

    def __init__(
        self,
        host: HostInfo,
        *,
        driver: DriverDialect | None = None,
        is_reader_query: str = "",
        timeout: float = 5.0,
    ) -> None:
        self._hosts = (host.with_(role=HostRole.WRITER),)
        self._driver = driver
        self._is_reader_query = is_reader_query if driver is not None else ""
        self._timeout = timeout

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
        """READER or WRITER as the server says (see the class documentation). A failed query raises the driver's
        error (a lost connection is the caller's to handle, as with a topology)."""
        query = self._is_reader_query
        if query and self._driver is not None:
            rows = self._driver.query(conn, query, timeout=self._timeout)
            if not rows or not rows[0]:
                raise AwsWrapperError(f"the is-reader query {query!r} returned no row")
            return HostRole.READER if truthy(rows[0][0]) else HostRole.WRITER
        return reported_role(conn)

    def release_resources(self) -> None:
        pass


def reported_role(conn: RawConnection) -> HostRole:
    """The role a connection's server reported by itself, without a query: READER when psycopg says the server is
    in hot standby (``in_hot_standby``, reported by PostgreSQL 14 and later and updated on promotion), else
    WRITER (also for drivers and servers that report nothing)."""
    info = getattr(conn, "info", None)
    parameter_status = getattr(info, "parameter_status", None)
    if parameter_status is None:
        return HostRole.WRITER
    try:
        value = parameter_status("in_hot_standby")
    except Exception:  # e.g. a closed connection: no answer is no evidence
        return HostRole.WRITER
    return HostRole.READER if truthy(value) else HostRole.WRITER


def truthy(value: object) -> bool:
    """Booleans as servers return them: True / 1 / '1' / 't' / 'true' / 'on' / b'1' (shared with the dialects'
    probes and topology readers)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if value is None:
        return False
    if isinstance(value, (bytes, bytearray)):
        value = bytes(value).decode("utf-8", "replace")
    return str(value).strip().lower() in ("1", "t", "true", "on", "yes", "y")
