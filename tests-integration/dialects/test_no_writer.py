"""A topology that names no writer is invalid: the last valid one is kept and "wait for a verified writer"
keeps waiting (without spinning) until the cluster has a writer again."""

from __future__ import annotations

import time

import pytest
from dialects_support import cluster_hosts, connect_by_address

from aws_wrapper.dialects import STATS
from aws_wrapper.testing.pytest_plugin import ClusterFactory

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("local_aurora_mysql")]


@pytest.mark.parametrize(
    "engine",
    [
        pytest.param("pg", marks=pytest.mark.pg_cluster),
        pytest.param("mysql", marks=pytest.mark.mysql_cluster),
    ],
)
def test_no_writer_topology_is_invalid(local_cluster: ClusterFactory, engine: str) -> None:
    cluster = local_cluster(engine, instances=3, flavour="aurora", instance_ids="address")
    conn = connect_by_address(cluster, engine)
    try:
        runtime = conn._rt
        good = runtime.force_refresh(verify_writer=True, timeout=10)
        assert (good[0].host, good[0].role.value) == cluster_hosts(cluster)[0]

        cluster.set_facts(writer="no-such-instance")  # every instance now reports a topology without writer
        queries = STATS.topology_queries
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="no verified writer"):
            runtime.force_refresh(verify_writer=True, timeout=2)
        assert time.monotonic() - started >= 1.9
        assert runtime.refresh() == good  # the last valid topology is kept
        assert runtime.force_refresh(verify_writer=False, timeout=0.5) == good
        # probing continues at the high refresh rate (100 ms), one reader reading the topology: no busy loop
        assert STATS.topology_queries - queries < 60

        cluster.set_facts(writer=None)  # the real writer is reported again
        hosts = runtime.force_refresh(verify_writer=True, timeout=10)
        assert (hosts[0].host, hosts[0].role.value) == cluster_hosts(cluster)[0]
    finally:
        conn.close()
