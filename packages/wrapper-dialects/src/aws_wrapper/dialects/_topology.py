"""Topology rows → hosts, and the server queries that read them over one connection."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aws_wrapper.core.driver import DriverDialect
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.records import field, record

from ._dialect import Dialect, TopologyKind
from ._hosts import HostPattern
from ._probe import truthy
from ._settings import TopologyConfig
from ._urls import RdsUrlType, is_ip_address, parse_endpoint

__all__ = [
    "Topology",
    "TopologyError",
    "NoWriterError",
    "TopologyUnavailableError",
    "TopologyReader",
    "STATS",
]


class TopologyError(Exception):
    """A topology query answered something unusable."""


class NoWriterError(TopologyError):
    """The topology names no writer: it is invalid (the last valid topology is kept)."""


class TopologyUnavailableError(TopologyError, TimeoutError):
    """No writer can be verified because the server refuses the dialect's topology queries (a missing table or
    function, a missing privilege): raised by ``force_refresh(verify_writer=True)`` at once instead of after its
    timeout. A ``TimeoutError``, as the host list provider contract promises."""


class Stats:
    """Process-wide counters of the wrapper's topology work (tests and diagnostics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.topology_queries = 0
        self.monitor_connections = 0

    def count_query(self) -> None:
        with self._lock:
            self.topology_queries += 1

    def count_connection(self) -> None:
        with self._lock:
            self.monitor_connections += 1


STATS = Stats()


@record(frozen=True)
class Topology:
    """A valid topology: exactly one writer (``hosts[0]``), then the readers ordered by instance id."""

    hosts: tuple[HostInfo, ...]
    read_at: float  # time.monotonic() when the query that produced it started
    ids: Mapping[str, HostInfo] = field(default_factory=dict, compare=False, repr=False)

    @property
    def writer(self) -> HostInfo:
        return self.hosts[0]

    @property
    def readers(self) -> tuple[HostInfo, ...]:
        return self.hosts[1:]

    def find(self, keys: Iterable[str]) -> HostInfo | None:
        """The host known under any of ``keys`` (instance id, resource id, endpoint, ``host:port``)."""
        for key in keys:
            host = self.ids.get(key) or self.ids.get(key.lower())
            if host is not None:
                return host
        return None

    def with_writer(self, writer: HostInfo) -> Topology:
        """The same hosts with ``writer`` (matched by url) as the only writer (a connection verified it)."""
        if self.writer.url == writer.url:
            return self
        hosts = [h for h in self.hosts if h.url != writer.url]
        known = [h for h in self.hosts if h.url == writer.url]
        new_writer = (known[0] if known else writer).with_(role=HostRole.WRITER)
        readers = sorted((h.with_(role=HostRole.READER) for h in hosts), key=_order)
        ordered = (new_writer, *readers)
        ids = {
            k: next(h for h in ordered if h.url == v.url) for k, v in self.ids.items() if v.url != writer.url
        }
        ids.update({k: new_writer for k, v in self.ids.items() if v.url == writer.url})
        ids[new_writer.url] = new_writer
        return Topology(ordered, self.read_at, ids)


def _order(host: HostInfo) -> tuple[str, str]:
    return (host.host_id or "", host.url)


def _epoch(value: object, now: float) -> float:
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return now


def _number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def load_weight(cpu_percent: float, lag_ms: float) -> int:
    """100 for an idle, current instance; minus its CPU % and its replica lag in tenths of a second; >= 1."""
    return max(1, min(100, round(100 - max(0.0, cpu_percent) - max(0.0, lag_ms) / 100)))


class TopologyReader:
    """Reads and parses the topology of one dialect over any connection of the cluster."""

    def __init__(
        self, dialect: Dialect, config: TopologyConfig, initial: HostInfo, driver: DriverDialect
    ) -> None:
        self.dialect = dialect
        self.config = config
        self.initial = initial
        self.driver = driver
        endpoint = parse_endpoint(initial.host)
        # Multi-AZ rows carry full endpoints: use them as they are unless a pattern says otherwise
        self._endpoint_as_host = not config.pattern_given and not endpoint.type.is_rds

    # -- queries ---------------------------------------------------------------------------------------------
    def read(self, conn: RawConnection, timeout: float) -> Topology:
        """Run the topology query (and the writer query for Multi-AZ) on ``conn``; raises on an invalid result."""
        started = time.monotonic()
        STATS.count_query()
        rows = self.driver.query(conn, self.dialect.topology_query, timeout=timeout)
        writer_id = None
        if self.dialect.topology is TopologyKind.MULTI_AZ:
            writer_id = self._multi_az_writer_id(conn, timeout)
        return self.parse(rows, writer_id, started)

    def _multi_az_writer_id(self, conn: RawConnection, timeout: float) -> str | None:
        column = self.dialect.writer_id_column
        rows = self.driver.query(conn, self.dialect.writer_id_query, timeout=timeout)
        if rows:
            value = rows[0][column] if len(rows[0]) > column else None
            return _key(value) if value not in (None, "") else None  # NULL: no writer known
        # no replica status: this is the writer (MySQL), whose id is column 0 of the host-id query
        own = self.driver.query(conn, self.dialect.host_id_query, timeout=timeout)
        return _key(own[0][0]) if own and own[0] and own[0][0] is not None else None

    def is_writer(self, conn: RawConnection, timeout: float) -> bool:
        """Whether ``conn`` is connected to the writer (writer-id query where it means that, then the role)."""
        aurora = self.dialect.topology in (TopologyKind.AURORA, TopologyKind.GLOBAL)
        if (
            aurora
            and self.dialect.writer_id_query
            and not self.driver.query(conn, self.dialect.writer_id_query, timeout=timeout)
        ):
            return False
        return self.role(conn, timeout) is HostRole.WRITER

    def role(self, conn: RawConnection, timeout: float) -> HostRole:
        rows = self.driver.query(conn, self.dialect.is_reader_query, timeout=timeout)
        if not rows or not rows[0]:
            raise TopologyError(f"{self.dialect.is_reader_query!r} returned no row")
        return HostRole.READER if truthy(rows[0][0]) else HostRole.WRITER

    def instance_keys(self, conn: RawConnection, timeout: float) -> list[str]:
        """What the host-id query says about ``conn``: the instance id (column 1) first, then column 0."""
        rows = self.driver.query(conn, self.dialect.host_id_query, timeout=timeout)
        if not rows:
            return []
        row = rows[0]
        return [_key(v) for v in (row[1:2] + row[0:1]) if v is not None and _key(v)]

    # -- parsing ---------------------------------------------------------------------------------------------
    def parse(
        self, rows: Sequence[Sequence[Any]], writer_id: str | None = None, read_at: float | None = None
    ) -> Topology:
        """Topology rows → a valid :class:`Topology` (raises :class:`NoWriterError` when no row is the writer)."""
        started = time.monotonic() if read_at is None else read_at
        now = time.time()
        kind = self.dialect.topology
        entries: list[tuple[HostInfo, tuple[str, ...]]] = []
        for row in rows:
            parsed = self._row(kind, row, writer_id, now)
            if parsed is not None:
                entries.append(parsed)
        writers = [e for e in entries if e[0].role is HostRole.WRITER]
        if not writers:
            raise NoWriterError(
                f"the topology of {self.config.cluster_id!r} names no writer ({len(rows)} rows)"
            )
        writer = max(writers, key=lambda e: e[0].last_update or 0.0)  # the newest report wins, as on Aurora
        seen = {writer[0].url}
        readers: list[tuple[HostInfo, tuple[str, ...]]] = []
        for entry in entries:
            if entry[0].role is HostRole.READER and entry[0].url not in seen:
                seen.add(entry[0].url)
                readers.append(entry)
        readers.sort(key=lambda e: _order(e[0]))
        ids: dict[str, HostInfo] = {}
        for host, keys in (writer, *readers):
            for key in (*keys, host.url):
                ids.setdefault(key, host)
                ids.setdefault(key.lower(), host)
        return Topology((writer[0], *(r[0] for r in readers)), started, ids)

    def _row(
        self, kind: TopologyKind, row: Sequence[Any], writer_id: str | None, now: float
    ) -> tuple[HostInfo, tuple[str, ...]] | None:
        if not row or row[0] is None:
            return None
        instance = _key(row[0])
        if kind is TopologyKind.MULTI_AZ:
            return self._multi_az_row(row, instance, writer_id, now)
        is_writer = len(row) > 1 and truthy(row[1])
        role = HostRole.WRITER if is_writer else HostRole.READER
        if kind is TopologyKind.GLOBAL:
            region = _key(row[3]).lower() if len(row) > 3 and row[3] is not None else ""
            pattern = self.config.region_patterns.get(region, self.config.pattern)
            lag = _number(row[2]) if len(row) > 2 else 0.0
            host = self._host(pattern, instance).with_(
                role=role, host_id=instance, weight=load_weight(0.0, lag), last_update=now
            )
            return host, (instance,)
        cpu = _number(row[2]) if len(row) > 2 else 0.0
        lag = _number(row[3]) if len(row) > 3 else 0.0
        updated = _epoch(row[4], now) if len(row) > 4 else now
        host = self._host(self.config.pattern, instance).with_(
            role=role,
            host_id=instance,
            weight=load_weight(cpu, 0.0 if is_writer else lag),
            last_update=updated,
        )
        return host, (instance,)

    def _multi_az_row(
        self, row: Sequence[Any], row_id: str, writer_id: str | None, now: float
    ) -> tuple[HostInfo, tuple[str, ...]] | None:
        endpoint = _key(row[1]) if len(row) > 1 and row[1] is not None else ""
        if not endpoint:
            return None
        port = self.initial.port
        if len(row) > 2 and isinstance(row[2], int) and 0 < row[2] < 65536:
            port = row[2]
        name = instance_name(endpoint)
        if self._endpoint_as_host:
            host = HostInfo(endpoint, port)
        else:
            pattern = self.config.pattern
            host = pattern.host_for(name, port if pattern.port is None else pattern.port)
        role = HostRole.WRITER if writer_id is not None and row_id == writer_id else HostRole.READER
        host = host.with_(role=role, host_id=name, last_update=now)
        return host, (name, row_id, endpoint)

    def _host(self, pattern: HostPattern, instance: str) -> HostInfo:
        return pattern.host_for(instance, self.initial.port)


def instance_name(endpoint: str) -> str:
    """The instance name of a Multi-AZ ``endpoint`` column: the name part of an RDS instance endpoint, the
    address itself for an IP, else the first DNS label."""
    parsed = parse_endpoint(endpoint)
    if parsed.type is RdsUrlType.RDS_INSTANCE:
        return parsed.name
    if is_ip_address(endpoint):
        return endpoint
    return endpoint.split(".", 1)[0]


def _key(value: object) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace").strip()
    return str(value).strip()
