"""Local PostgreSQL clusters of every flavour, synchronous replication, and complete teardown."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.testing import ClusterError, Layout, LocalCluster, Node
from aws_wrapper.testing._footprint import Footprint
from aws_wrapper.testing._pg import PgEngine

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster]

RDS_DETECT = (
    "SELECT (setting LIKE '%rds_tools%') AS rds_tools, (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils "
    "FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
)
AURORA_DETECT = (
    "SELECT (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils FROM pg_catalog.pg_settings "
    "WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
)
RDS_HOST_ID = (
    "SELECT id, SUBSTRING(endpoint FROM 0 FOR POSITION('.' IN endpoint)) FROM rds_tools.show_topology() "
    "WHERE id OPERATOR(pg_catalog.=) rds_tools.dbi_resource_id()"
)
MULTI_AZ_TOPOLOGY = "SELECT id, endpoint, port FROM rds_tools.show_topology('aws_python_driver-3.0.0')"
MULTI_AZ_WRITER = (
    "SELECT multi_az_db_cluster_source_dbi_resource_id "
    "FROM rds_tools.multi_az_db_cluster_source_dbi_resource_id()"
)
BG_STATUS = (
    "SELECT version, endpoint, port, role, status "
    "FROM rds_tools.show_topology('aws_advanced_python_wrapper-3.0.0')"
)
BG_PROBE = "SELECT 'rds_tools.show_topology'::regproc"
AURORA_PROBE = "SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1"


def resource_ids(cluster: LocalCluster, pg_connect: Any) -> dict[str, str]:
    """instance id -> the DbiResourceId that instance reports for itself."""
    out = {}
    for node in cluster.nodes:
        row = pg_connect(cluster.endpoint(node)).execute(RDS_HOST_ID).fetchone()
        assert row is not None
        assert row[1] == node.instance_id
        out[node.instance_id] = str(row[0])
    return out


def test_rds_flavour_facts(local_cluster: Any, pg_connect: Any) -> None:
    cluster = local_cluster("pg", instances=2, flavour="rds")
    assert [n.instance_id for n in cluster.nodes] == ["instance-1", "instance-2"]
    ids = resource_ids(cluster, pg_connect)
    assert len(set(ids.values())) == 2
    assert all(v.startswith("db-") and len(v) == 29 for v in ids.values())
    for node in cluster.nodes:
        conn = pg_connect(cluster.endpoint(node))
        assert conn.execute(RDS_DETECT).fetchall() == [(True, False)]  # rds-pg matches
        assert conn.execute(AURORA_DETECT).fetchall() == [(False,)]  # aurora-pg does not
        assert conn.execute(MULTI_AZ_WRITER).fetchone() == (None,)  # multi-az-pg does not
        assert conn.execute(BG_PROBE).fetchone() == ("rds_tools.show_topology",)
        rows = conn.execute(BG_STATUS).fetchall()
        assert {r[1] for r in rows} == {f"{n.instance_id}.{cluster.domain}" for n in cluster.nodes}
        assert all(r[0] == "1.0" and r[2] == cluster.port for r in rows)
        with pytest.raises(Exception, match="aurora_replica_status"):
            conn.execute(AURORA_PROBE)


def test_multi_az_flavour_facts_follow_a_failover(local_cluster: Any, pg_connect: Any) -> None:
    cluster = local_cluster("pg", instances=3, flavour="multi-az")
    ids = resource_ids(cluster, pg_connect)
    endpoints = {f"{n.instance_id}.{cluster.domain}" for n in cluster.nodes}
    for step in ("before", "after"):
        if step == "after":
            cluster.failover()
        expected_writer = cluster.writer
        for node in cluster.nodes:
            conn = pg_connect(cluster.endpoint(node))
            assert conn.execute(RDS_DETECT).fetchall() == [(True, False)]
            assert conn.execute(MULTI_AZ_WRITER).fetchone() == (ids[expected_writer.instance_id],)
            rows = conn.execute(MULTI_AZ_TOPOLOGY).fetchall()
            assert {r[0] for r in rows} == set(ids.values())
            assert {r[1] for r in rows} == endpoints
            assert {r[2] for r in rows} == {cluster.port}


def test_plain_flavour_has_no_facts(local_cluster: Any, pg_connect: Any) -> None:
    cluster = local_cluster("pg", instances=2, flavour="plain")
    for node in cluster.nodes:
        conn = pg_connect(cluster.endpoint(node))
        assert conn.execute("SELECT 1 FROM pg_catalog.pg_proc LIMIT 1").fetchone() == (1,)
        assert conn.execute(AURORA_DETECT).fetchall() == []
        with pytest.raises(Exception, match="aurora_replica_status"):
            conn.execute(AURORA_PROBE)
        with pytest.raises(Exception, match="rds_tools"):
            conn.execute(MULTI_AZ_WRITER)
    assert pg_connect(cluster.writer_endpoint).execute(
        "SELECT pg_catalog.pg_is_in_recovery()"
    ).fetchone() == (False,)


def test_synchronous_replication_promotes_a_replica_with_every_commit(
    local_cluster: Any, pg_connect: Any
) -> None:
    cluster = local_cluster("pg", instances=3, synchronous=True)
    writer = pg_connect(cluster.endpoint(cluster.writer))
    assert writer.execute("SHOW synchronous_standby_names").fetchone() == ("ANY 1 (*)",)
    states = writer.execute("SELECT sync_state FROM pg_catalog.pg_stat_replication").fetchall()
    assert sorted(s[0] for s in states) == ["quorum", "quorum"]
    writer.execute("CREATE TABLE sync_t(x int)")
    writer.execute("INSERT INTO sync_t SELECT generate_series(1, 500)")
    old = cluster.crash()
    new = cluster.promote()
    assert new is not old
    conn = pg_connect(cluster.endpoint(new))
    assert conn.execute("SELECT count(*) FROM sync_t").fetchone() == (500,)
    assert conn.execute("SHOW synchronous_standby_names").fetchone() == ("ANY 1 (*)",)
    conn.execute("INSERT INTO sync_t VALUES (501)")  # the other replica follows, so a sync commit returns
    states = conn.execute("SELECT sync_state FROM pg_catalog.pg_stat_replication").fetchall()
    assert states == [("quorum",)]


def _fail_inside(cluster: LocalCluster, seen: list[Footprint]) -> None:
    with cluster:
        seen.append(cluster.footprint())
        raise RuntimeError("boom")


def test_teardown_leaves_nothing_even_when_the_test_fails() -> None:
    cluster = LocalCluster("pg", instances=2)
    seen: list[Footprint] = []
    with pytest.raises(RuntimeError, match="boom"):
        _fail_inside(cluster, seen)
    footprint = seen[0]
    assert len(footprint.pids) > 2  # postmasters and their children
    assert footprint.leftovers() == []
    assert not cluster.running
    cluster.down()  # idempotent
    assert footprint.leftovers() == []


def test_a_crashed_instance_leaves_nothing_either() -> None:
    cluster = LocalCluster("pg", instances=2, flavour="plain")
    try:
        cluster.up()
        footprint = cluster.footprint()
        assert len(footprint.shm_ids) == 2  # each postmaster's System V segment
        cluster.crash()
        cluster.promote()
    finally:
        cluster.down()
    assert footprint.leftovers() == []


def test_a_failed_start_leaves_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = PgEngine()
    cluster = LocalCluster(engine, instances=2)
    seen: list[Footprint] = []

    def broken_clone(node: Node, source: Node, layout: Layout) -> None:
        footprint = cluster.footprint()  # the writer and all proxies are running by now
        assert footprint.pids
        assert footprint.leftovers() != []
        seen.append(footprint)
        raise ClusterError("clone failed")

    monkeypatch.setattr(engine, "add_replica", broken_clone)
    with pytest.raises(ClusterError, match="clone failed"):
        cluster.up()
    assert not cluster.running
    assert seen[0].leftovers() == []


def test_an_unreachable_work_dir_is_reported(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    cluster = LocalCluster("pg", instances=1, work_dir=private / "work")
    if os.geteuid() != 0:
        pytest.skip("only root runs the servers as another OS user")
    with pytest.raises(ClusterError, match="cannot reach"):
        cluster.up()
    assert not cluster.running
    assert not (private / "work" / "n1").exists()


@pytest.mark.needs_root
def test_rds_shaped_names_resolve_in_the_namespace(local_cluster: Any, dns_namespace: Any) -> None:
    cluster = local_cluster("pg", instances=2, instance_ids="name", cluster_name="orders")
    names = cluster.dns_names()
    assert names[f"orders.cluster-{cluster.domain}"] == cluster.writer_endpoint.host
    assert names[f"orders.cluster-ro-{cluster.domain}"] == cluster.reader_endpoint.host
    script = (
        "import sys, psycopg\n"
        "for host in sys.argv[1:]:\n"
        "    c = psycopg.connect(host=host, user='postgres', dbname='test', connect_timeout=5)\n"
        "    print(c.execute('select pg_catalog.aurora_db_instance_identifier()').fetchone()[0])\n"
    )
    hosts = [f"orders.cluster-{cluster.domain}", f"instance-2.{cluster.domain}"]
    done = cluster.run([sys.executable, "-c", script, *hosts], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["instance-1", "instance-2"]
    for name, address in names.items():  # the same names through the dns_namespace fixture
        dns_namespace.add(name, address)
    again = dns_namespace.run([sys.executable, "-c", script, hosts[1]], capture_output=True, timeout=60)
    assert again.stdout.split() == ["instance-2"]
    outside = subprocess.run(
        [sys.executable, "-c", script, hosts[0]], capture_output=True, text=True, check=False
    )
    assert outside.returncode != 0  # the names exist only inside the namespace


def _lagging_cluster(local_cluster: Any, pg_connect: Any) -> tuple[LocalCluster, Node, Node]:
    """A crashed writer, replica 2 with every commit, replica 3 without the last ones (it was stopped)."""
    cluster = local_cluster("pg", instances=3, flavour="plain")
    writer, ahead, behind = cluster.nodes
    cluster.stop(behind)
    conn = pg_connect(cluster.endpoint(writer))
    conn.execute("CREATE TABLE lag_t AS SELECT generate_series(1, 1000) AS x")
    lsn = conn.execute("SELECT pg_catalog.pg_current_wal_lsn()").fetchone()[0]
    replica = pg_connect(cluster.endpoint(ahead))
    for _ in range(500):
        if replica.execute("SELECT pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
            break
        time.sleep(0.01)
    cluster.crash(writer)
    cluster.engine.start(behind, cluster.layout)  # comes back while the writer is dead: it cannot catch up
    return cluster, ahead, behind


def test_promote_picks_the_replica_with_the_most_wal(local_cluster: Any, pg_connect: Any) -> None:
    cluster, ahead, behind = _lagging_cluster(local_cluster, pg_connect)
    assert cluster.promote() is ahead
    conn = pg_connect(cluster.endpoint(ahead))
    assert conn.execute("SELECT count(*) FROM lag_t").fetchone() == (1000,)
    follower = pg_connect(cluster.endpoint(behind))
    assert follower.execute("SELECT status FROM pg_catalog.pg_stat_wal_receiver").fetchone() == ("streaming",)


def test_a_replica_ahead_of_the_new_writer_is_recloned(local_cluster: Any, pg_connect: Any) -> None:
    cluster, ahead, behind = _lagging_cluster(local_cluster, pg_connect)
    assert cluster.promote(behind) is behind
    conn = pg_connect(cluster.endpoint(behind))
    conn.execute("CREATE TABLE after_t(x int)")
    conn.execute("INSERT INTO after_t VALUES (1)")
    replica = pg_connect(cluster.endpoint(ahead))  # it had WAL the new writer never got: it was re-cloned
    assert replica.execute("SELECT pg_catalog.pg_is_in_recovery()").fetchone() == (True,)
    lsn = conn.execute("SELECT pg_catalog.pg_current_wal_lsn()").fetchone()[0]
    for _ in range(500):
        if replica.execute("SELECT pg_catalog.pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]:
            break
        time.sleep(0.01)
    assert replica.execute("SELECT count(*) FROM after_t").fetchone() == (1,)
    assert replica.execute("SELECT to_regclass('lag_t')").fetchone() == (None,)  # the new writer's history
