"""Issue 9, items 6 and 7: every topology setting is validated before a server is contacted, on every host kind;
a topology query the server refuses (missing table, missing privilege) is reported once and never waited on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from dialects_fakes import FakeCluster, FakeConn, FakeDriver, context

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.core.storage import STORAGE
from aws_wrapper.dialects import (
    AURORA_PG,
    DialectManager,
    TopologyHostListProvider,
    TopologyUnavailableError,
    _monitor,
)
from aws_wrapper.dialects._errors import is_query_refused

DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"
HOSTS = {
    "plain": HostInfo("10.0.0.1", 5432),
    "instance": HostInfo(f"instance-1.{DOMAIN}", 5432),
    "cluster": HostInfo(f"mydb.cluster-{DOMAIN}", 5432),
}


# -- item 6: validation before connecting --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", sorted(HOSTS))
@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("topology_refresh_ms", -1, "must be at least 1"),
        ("topology_refresh_ms", "soon", "expected an integer"),
        ("cluster_topology_high_refresh_rate_ms", "x", "expected an integer"),
        ("cluster_topology_high_refresh_rate_ms", 5, "must be at least 10"),
        ("cluster_instance_host_pattern", "nohole", "must contain '?'"),
        ("cluster_instance_host_pattern", "?.example.com:99999", "out of range"),
        ("cluster_id", 42, "expected a string"),
        ("global_cluster_instance_host_patterns", "us-east-1", "not 'region:pattern'"),
        ("global_cluster_instance_host_patterns", "us-east-1:east.example", "must contain '?'"),
        ("topology-monitoring-connect_timeout", -1, "must be at least"),
        ("topology-monitoring-socket_timeout", "soon", "expected a number"),
        ("topology-monitoring-tcp_keepalive", "maybe", "expected a boolean"),
        ("topology-monitoring-tcp_keepalive_time", 0, "must be at least 1"),
        ("topology-monitoring-auxiliary_query_timeout_sec", 0, "must be at least"),
    ],
)
def test_initial_rejects_malformed_settings_on_every_host_kind(
    kind: str, key: str, value: object, expected: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        DialectManager().initial(HOSTS[kind], FakeDriver(), {key: value})  # type: ignore[arg-type]
    message = str(caught.value)
    assert f"invalid value {value!r} for setting {key!r}" in message
    assert expected in message


def test_initial_rejects_malformed_settings_with_a_forced_dialect_too() -> None:
    with pytest.raises(ConfigurationError, match="'cluster_instance_host_pattern'"):
        DialectManager().initial(
            HOSTS["plain"],
            FakeDriver(),  # type: ignore[arg-type]
            {"wrapper_dialect": "pg", "cluster_instance_host_pattern": "nohole"},
        )


def test_initial_accepts_valid_settings_and_leaves_driver_parameters_alone() -> None:
    props = {
        "topology_refresh_ms": "1500",
        "cluster_topology_high_refresh_rate_ms": 50,
        "cluster_id": "orders",
        "cluster_instance_host_pattern": "?.corp.example:6432",
        "global_cluster_instance_host_patterns": "us-east-1:?.east.example",
        "topology-monitoring-connect_timeout": "2",
        "topology-monitoring-socket_timeout": 3,
        "topology-monitoring-user": "monitor",  # a driver parameter: not the wrapper's to judge
        "topology-monitoring-sslmode": "anything",
    }
    dialect = DialectManager().initial(HOSTS["plain"], FakeDriver(), props)  # type: ignore[arg-type]
    assert dialect.code == "pg"


# -- item 7: refused topology queries -------------------------------------------------------------------------------
class FakeRefusedError(Exception):
    """What psycopg raises for a missing function (SQLSTATE 42883)."""

    sqlstate = "42883"


class FakeMySqlError(Exception):
    def __init__(self, errno: int, sqlstate: str | None, msg: str) -> None:
        super().__init__(f"{errno} ({sqlstate}): {msg}")
        self.errno = errno
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "refused"),
    [
        (FakeRefusedError("function pg_catalog.aurora_replica_status() does not exist"), True),
        (FakeMySqlError(1109, "42S02", "Unknown table 'replica_host_status' in information_schema"), True),
        (FakeMySqlError(1146, "42S02", "Table 'mysql.rds_topology' doesn't exist"), True),
        (FakeMySqlError(1142, "42000", "SELECT command denied to user"), True),
        (FakeMySqlError(1193, "HY000", "Unknown system variable 'aurora_server_id'"), True),
        (
            FakeMySqlError(
                1356, "HY000", "View 'aurora_sim.replica_host_status' references invalid table(s)"
            ),
            True,
        ),
        (FakeMySqlError(2013, "HY000", "Lost connection to MySQL server during query"), False),
        (FakeMySqlError(1213, "40001", "Deadlock found when trying to get lock"), False),
        (FakeMySqlError(1045, "28000", "Access denied for user"), False),
        (ConnectionRefusedError(111, "refused"), False),
        (OSError(1146, "an OS error number that happens to match"), False),
        (RuntimeError("anything else"), False),
    ],
)
def test_refused_queries_are_told_from_transient_errors(error: Exception, refused: bool) -> None:
    assert is_query_refused(error) is refused
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = error
    assert is_query_refused(wrapped) is refused  # the whole chain is looked at


@pytest.fixture
def monitors() -> Iterator[MonitorService]:
    STORAGE.clear()
    _monitor._warned.clear()
    service = MonitorService()
    yield service
    service.stop_all(timeout=3)
    STORAGE.clear()
    _monitor._warned.clear()


Make = Callable[..., TopologyHostListProvider]


@pytest.fixture
def make(monitors: MonitorService) -> Iterator[Make]:
    created: list[TopologyHostListProvider] = []

    def make(cluster: FakeCluster, host: str = "a", **props: Any) -> TopologyHostListProvider:
        provider = AURORA_PG.create_host_list_provider(
            context(cluster, FakeDriver(), monitors, host, **props)
        )
        assert isinstance(provider, TopologyHostListProvider)
        created.append(provider)
        return provider

    yield make
    for provider in created:
        provider.release_resources()


def _refuse_every_topology_query(cluster: FakeCluster) -> None:
    error = FakeRefusedError("function pg_catalog.aurora_replica_status() does not exist")
    with cluster.lock:
        cluster.extra[AURORA_PG.topology_query] = error
        cluster.extra[AURORA_PG.writer_id_query] = error


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("aws_wrapper")]


def test_identify_connection_does_not_wait_for_a_refused_topology(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="aws_wrapper")
    cluster = FakeCluster()
    _refuse_every_topology_query(cluster)
    durations = []
    for _ in range(5):
        provider = make(cluster)
        started = time.monotonic()
        host = provider.identify_connection(FakeConn(cluster, "b"))
        durations.append(time.monotonic() - started)
        assert host is not None
        assert (host.host, host.role) == ("b", HostRole.READER)  # from the pattern and the role query
    assert max(durations) < 0.2, durations  # the aux query timeout is 1 s: it is never waited for
    warnings = _warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "fake-cluster" in message
    assert "aurora-pg" in message
    assert "aurora_replica_status() does not exist" in message


def test_waiting_for_a_writer_fails_at_once_with_the_cause(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="aws_wrapper")
    cluster = FakeCluster()
    _refuse_every_topology_query(cluster)
    provider = make(cluster)
    started = time.monotonic()
    with pytest.raises(TopologyUnavailableError, match="aurora_replica_status") as caught:
        provider.force_refresh(None, verify_writer=True, timeout=10)
    assert time.monotonic() - started < 1.0
    assert isinstance(caught.value, TimeoutError)  # what callers of force_refresh(verify_writer=True) expect
    assert "check wrapper_dialect" in str(caught.value)
    # a refresh does not wait either; and the next waiter fails at once without a new probe round
    started = time.monotonic()
    assert provider.force_refresh(None, verify_writer=False, timeout=10) == (HostInfo("a", 5432),)
    with pytest.raises(TopologyUnavailableError):
        provider.force_refresh(None, verify_writer=True, timeout=10)
    assert time.monotonic() - started < 0.1
    assert len(_warnings(caplog)) == 1


def test_refused_probes_keep_their_connection_and_back_off(make: Make) -> None:
    cluster = FakeCluster(ids=("a",))
    _refuse_every_topology_query(cluster)
    provider = make(cluster)
    provider.monitor()  # starts the monitor: it panics (no topology) and probes "a"
    time.sleep(2.0)
    with cluster.lock:
        connects = cluster.connects["a"]
        checks = cluster.queries[AURORA_PG.writer_id_query]
    assert connects == 1, connects  # the connection is kept: no connect + refused query every 100 ms
    assert 2 <= checks <= 8, checks  # exponential backoff (before: about 15 in 2 s)


def test_a_fixed_server_is_noticed_and_warned_about_again_after_a_new_refusal(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="aws_wrapper")
    cluster = FakeCluster()
    _refuse_every_topology_query(cluster)
    provider = make(cluster)
    with pytest.raises(TopologyUnavailableError):
        provider.force_refresh(None, verify_writer=True, timeout=5)
    with cluster.lock:
        cluster.extra.clear()  # e.g. the missing privilege was granted
    deadline = time.monotonic() + 15
    while provider.monitor().refused is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert provider.monitor().refused is None
    hosts = provider.force_refresh(None, verify_writer=True, timeout=5)
    assert (hosts[0].host, hosts[0].role) == ("a", HostRole.WRITER)
    assert any("verified again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    assert len(_warnings(caplog)) == 1
    _refuse_every_topology_query(cluster)  # refused again (e.g. the privilege was revoked): a new warning
    started = time.monotonic()
    with pytest.raises(TopologyUnavailableError):
        provider.force_refresh(None, verify_writer=True, timeout=5)
    assert time.monotonic() - started < 1.0
    assert len(_warnings(caplog)) == 2
