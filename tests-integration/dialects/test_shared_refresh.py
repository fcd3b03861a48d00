"""Topology reads are shared per cluster: the number of topology queries the servers execute does not grow with
the number of wrapper connections. Counted on the servers with pg_stat_statements (and by the wrapper)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from dialects_support import connect_kwargs

from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.dialects import STATS
from aws_wrapper.testing import LocalCluster
from aws_wrapper.testing.pytest_plugin import ClusterFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.pg_cluster]

WINDOW_S = 10.0
REFRESH_MS = 1000
TOPOLOGY_TEXT = "%FROM pg_catalog.aurora_replica_status() WHERE%"


@pytest.fixture(autouse=True)
def _release() -> Iterator[None]:
    release_resources()
    yield
    release_resources()


def _enable_pg_stat_statements(cluster: LocalCluster) -> None:
    for node in cluster.nodes:
        cluster.query(node, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    for node in cluster.readers:  # readers first: a standby must never lag the primary's settings
        cluster.restart(node)
    cluster.restart(cluster.writer)
    cluster.query(cluster.writer, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def _server_count(cluster: LocalCluster) -> int:
    total = 0
    for node in cluster.nodes:
        rows = cluster.query(
            node,
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query LIKE %s",
            (TOPOLOGY_TEXT,),
        )
        total += int(rows[0][0])  # type: ignore[call-overload]
    return total


def _measure(cluster: LocalCluster, connections: int) -> tuple[int, int]:
    """Open ``connections`` wrapper connections spread over the instances, use them for WINDOW_S seconds (a query
    and a topology read each round) and return (server-side, wrapper-side) topology queries in the window."""
    endpoints = [cluster.endpoint(node).host for node in cluster.nodes]
    conns = [
        AwsWrapperConnection.connect(
            psycopg.Connection.connect,
            **connect_kwargs(
                cluster,
                host=endpoints[i % len(endpoints)],
                cluster_instance_host_pattern="?",
                cluster_id="shared-refresh",
                topology_refresh_ms=REFRESH_MS,
                plugins="",
            ),
        )
        for i in range(connections)
    ]
    try:
        time.sleep(0.5)  # let the monitor verify the writer
        server_before, wrapper_before = _server_count(cluster), STATS.topology_queries
        deadline = time.monotonic() + WINDOW_S
        while time.monotonic() < deadline:
            for conn in conns:
                conn.execute("SELECT 1").fetchall()
                hosts = conn._rt.refresh()
                assert hosts[0].role.value == "writer"
            time.sleep(0.05)
        time.sleep(0.2)  # statistics are reported when a backend goes idle
        return _server_count(cluster) - server_before, STATS.topology_queries - wrapper_before
    finally:
        for conn in conns:
            conn.close()
        release_resources()


def test_topology_queries_do_not_depend_on_the_connection_count(local_cluster: ClusterFactory) -> None:
    cluster = local_cluster("pg", instances=3, flavour="aurora", instance_ids="address")
    _enable_pg_stat_statements(cluster)
    few_server, few_wrapper = _measure(cluster, 10)
    many_server, many_wrapper = _measure(cluster, 200)
    print(
        f"\ntopology queries in {WINDOW_S:g} s (topology_refresh_ms={REFRESH_MS}): "
        f"10 connections -> server {few_server} (wrapper {few_wrapper}); "
        f"200 connections -> server {many_server} (wrapper {many_wrapper})"
    )
    expected = WINDOW_S * 1000 / REFRESH_MS
    for server, wrapper in ((few_server, few_wrapper), (many_server, many_wrapper)):
        assert expected - 2 <= server <= expected + 2
        assert server == wrapper
    assert abs(many_server - few_server) <= 2
