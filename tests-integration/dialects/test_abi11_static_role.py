"""G9 on real servers: without a topology (a plain server, an RDS or Multi-AZ instance), the role of a connection
comes from the server -- the dialect's is-reader query (``pg_is_in_recovery()``, ``@@read_only``), or without
aws-wrapper-dialects what the driver reports (psycopg: ``in_hot_standby``) -- instead of always WRITER. Asked
through a plugin's ``context.topology.get_host_role`` (``test_monitor_reset`` of the abi11-monitors fixture keeps
its context)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dialects_support import connect_kwargs, target

from aws_wrapper.core import AwsWrapperConnection, _runtime, release_resources
from aws_wrapper.core.hostinfo import HostRole
from aws_wrapper.testing import LocalCluster

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pg_cluster(instances=2, flavour="plain"),
    pytest.mark.mysql_cluster(instances=2, flavour="plain"),
]


@pytest.fixture(autouse=True)
def _released() -> Iterator[None]:
    yield
    release_resources()


def _connect(cluster: LocalCluster, host: str, **settings: Any) -> AwsWrapperConnection:
    kwargs = connect_kwargs(cluster, host=host, plugins="test_monitor_reset", **settings)
    return AwsWrapperConnection.connect(target(cluster.engine.name), **kwargs)


def _role(conn: AwsWrapperConnection) -> HostRole:
    from aws_wrapper_test_abi11_monitors import MonitorResetPlugin

    plugin = conn.plugin(MonitorResetPlugin)
    assert plugin is not None
    context = plugin.context
    assert context.topology.provider.is_static
    current = context.connection.current_connection
    assert current is not None
    return context.topology.get_host_role(current)


def _roles(cluster: LocalCluster, **settings: Any) -> tuple[HostRole, HostRole]:
    """(role of a connection to the writer instance, role of one to a replica)."""
    roles = []
    for node in (cluster.writer, cluster.readers[0]):
        conn = _connect(cluster, cluster.endpoint(node).host, **settings)
        try:
            roles.append(_role(conn))
        finally:
            conn.close()
    return roles[0], roles[1]


@pytest.mark.parametrize("dialect", ["pg", "rds-pg"])
def test_a_pg_standby_is_a_reader(pg_cluster: LocalCluster, dialect: str) -> None:
    assert _roles(pg_cluster, wrapper_dialect=dialect) == (HostRole.WRITER, HostRole.READER)


def test_without_the_dialects_package_psycopg_reports_the_standby(
    pg_cluster: LocalCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        _runtime, "dialect_manager", lambda: None
    )  # core's generic dialect: no is-reader query
    assert _roles(pg_cluster) == (HostRole.WRITER, HostRole.READER)


@pytest.mark.parametrize("dialect", ["mysql", "rds-mysql"])
def test_a_mariadb_replica_is_a_reader(mysql_cluster: LocalCluster, dialect: str) -> None:
    assert _roles(mysql_cluster, wrapper_dialect=dialect) == (HostRole.WRITER, HostRole.READER)
