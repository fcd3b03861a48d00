"""End-to-end tests of the local cluster on real PostgreSQL servers (aurora flavour, shared by the module)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from aws_wrapper.testing import ClusterError, LocalCluster

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster(retarget_delay=0.5)]

DELAY = 0.5

# exact query strings of catalogue 5.3 / 5.4 (Aurora PG dialect)
AURORA_DETECT = (
    "SELECT (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils FROM pg_catalog.pg_settings "
    "WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
)
AURORA_PROBE = "SELECT 1 FROM pg_catalog.aurora_replica_status() LIMIT 1"
RDS_DETECT = (
    "SELECT (setting LIKE '%rds_tools%') AS rds_tools, (setting LIKE '%aurora_stat_utils%') AS aurora_stat_utils "
    "FROM pg_catalog.pg_settings WHERE name OPERATOR(pg_catalog.=) 'rds.extensions'"
)
PG_PROBE = "SELECT 1 FROM pg_catalog.pg_proc LIMIT 1"
TOPOLOGY = (
    "SELECT SERVER_ID, CASE WHEN SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, "
    "CPU, COALESCE(REPLICA_LAG_IN_MSEC, 0), LAST_UPDATE_TIMESTAMP FROM pg_catalog.aurora_replica_status() "
    "WHERE EXTRACT(EPOCH FROM(pg_catalog.NOW() OPERATOR(pg_catalog.-) LAST_UPDATE_TIMESTAMP)) "
    "OPERATOR(pg_catalog.<=) 300 OR SESSION_ID OPERATOR(pg_catalog.=) 'MASTER_SESSION_ID' "
    "OR LAST_UPDATE_TIMESTAMP IS NULL"
)
HOST_ID = "SELECT pg_catalog.aurora_db_instance_identifier(), pg_catalog.aurora_db_instance_identifier()"
IS_READER = "SELECT pg_catalog.pg_is_in_recovery()"
WRITER_ID = (
    "SELECT SERVER_ID FROM pg_catalog.aurora_replica_status() WHERE SESSION_ID OPERATOR(pg_catalog.=) "
    "'MASTER_SESSION_ID' AND SERVER_ID OPERATOR(pg_catalog.=) pg_catalog.aurora_db_instance_identifier()"
)


def topology(conn: Any) -> dict[str, bool]:
    return {str(row[0]): bool(row[1]) for row in conn.execute(TOPOLOGY).fetchall()}


def live_topologies(cluster: LocalCluster, pg_connect: Any) -> dict[str, dict[str, bool]]:
    """The topology as each live instance reports it, through the instance proxies."""
    return {
        n.instance_id: topology(pg_connect(cluster.endpoint(n)))
        for n in cluster.nodes
        if cluster.status().instances[cluster.nodes.index(n)].alive
    }


def expect_topology(cluster: LocalCluster, pg_connect: Any, writer: str, ids: set[str]) -> None:
    for instance, rows in live_topologies(cluster, pg_connect).items():
        assert set(rows) == ids, instance
        assert [i for i, is_writer in rows.items() if is_writer] == [writer], instance


def test_cluster_comes_up(pg_cluster: LocalCluster, pg_connect: Any) -> None:
    status = pg_cluster.status()
    assert len(status.instances) == 3
    assert all(i.alive for i in status.instances)
    assert [i.role for i in status.instances].count("writer") == 1
    assert status.writer == pg_cluster.writer.instance_id
    for node in pg_cluster.nodes:
        conn = pg_connect(pg_cluster.endpoint(node))
        assert conn.execute("SELECT pg_catalog.aurora_db_instance_identifier()").fetchone() == (
            node.instance_id,
        )
    writer = pg_connect(pg_cluster.writer_endpoint)
    assert writer.execute(IS_READER).fetchone() == (False,)
    assert writer.execute(HOST_ID).fetchone() == (pg_cluster.writer.instance_id,) * 2
    reader = pg_connect(pg_cluster.reader_endpoint)
    assert reader.execute(IS_READER).fetchone() == (True,)


def test_aurora_facts_on_every_instance(pg_cluster: LocalCluster, pg_connect: Any) -> None:
    ids = {n.instance_id for n in pg_cluster.nodes}
    writer_id = pg_cluster.writer.instance_id
    seen: list[dict[str, bool]] = []
    for node in pg_cluster.nodes:
        for dbname in ("test", "postgres"):
            conn = pg_connect(pg_cluster.endpoint(node), dbname=dbname)
            assert conn.execute(PG_PROBE).fetchone() == (1,)
            assert conn.execute(AURORA_DETECT).fetchall() == [(True,)]
            assert conn.execute(AURORA_PROBE).fetchall() == [(1,)]
            assert conn.execute(RDS_DETECT).fetchall() == [(False, True)]  # so rds-pg does not match
            rows = conn.execute(TOPOLOGY).fetchall()
            assert {r[0] for r in rows} == ids
            assert all(r[4] is not None and r[2] == 1.5 for r in rows)
            seen.append(topology(conn))
            assert conn.execute(HOST_ID).fetchone() == (node.instance_id, node.instance_id)
            is_writer = node.instance_id == writer_id
            assert conn.execute(IS_READER).fetchone() == (not is_writer,)
            assert conn.execute(WRITER_ID).fetchall() == ([(writer_id,)] if is_writer else [])
    assert all(t == {i: i == writer_id for i in ids} for t in seen)  # writer and readers agree


def test_failover_makes_a_new_writer_that_accepts_writes(pg_cluster: LocalCluster, pg_connect: Any) -> None:
    old = pg_cluster.writer
    pg_connect(pg_cluster.endpoint(old)).execute("CREATE TABLE IF NOT EXISTS failover_t(x int)")
    new = pg_cluster.failover()
    assert new is not old
    assert pg_cluster.writer is new
    conn = pg_connect(pg_cluster.endpoint(new))
    conn.execute("INSERT INTO failover_t VALUES (1)")
    assert conn.execute(IS_READER).fetchone() == (False,)
    assert pg_connect(pg_cluster.endpoint(old)).execute(IS_READER).fetchone() == (True,)
    expect_topology(pg_cluster, pg_connect, new.instance_id, {n.instance_id for n in pg_cluster.nodes})
    names = [e.name for e in pg_cluster.events]
    assert names.index("writer_down", names.index("failover_started")) < names.index("writer_promoted")
    assert pg_cluster.last_event("rejoined", old.instance_id) is not None


def test_crash_then_promote(pg_cluster: LocalCluster, pg_connect: Any, wait_until: Any) -> None:
    psycopg = pytest.importorskip("psycopg")
    old = pg_cluster.writer
    victim = pg_connect(pg_cluster.endpoint(old))
    victim.execute("CREATE TABLE crash_t AS SELECT 1 AS x")  # one transaction: the table has its row
    check = "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'crash_t'"
    for node in pg_cluster.readers:  # asynchronous replication: let the replicas have it before the crash
        reader = pg_connect(pg_cluster.endpoint(node))
        wait_until(lambda r=reader: r.execute(check).fetchone() == (1,), what="replication")
    pg_cluster.crash()
    assert not pg_cluster.status().instances[pg_cluster.nodes.index(old)].alive
    with pytest.raises(psycopg.OperationalError):
        victim.execute("SELECT 1")
    with pytest.raises(ClusterError, match="is down"):
        pg_cluster.add_instance()
    new = pg_cluster.promote()
    assert new is not old
    conn = pg_connect(pg_cluster.endpoint(new))
    conn.execute("INSERT INTO crash_t VALUES (2)")
    assert conn.execute("SELECT count(*) FROM crash_t").fetchone() == (2,)
    expect_topology(pg_cluster, pg_connect, new.instance_id, {n.instance_id for n in pg_cluster.nodes})
    down = pg_cluster.last_event("writer_down", old.instance_id)
    promoted = pg_cluster.last_event("writer_promoted", new.instance_id)
    assert down is not None
    assert promoted is not None
    assert down.t < promoted.t


def test_blackholed_instance_hangs_until_aborted_while_another_answers(
    pg_cluster: LocalCluster, pg_connect: Any
) -> None:
    psycopg = pytest.importorskip("psycopg")
    victim_node, other = pg_cluster.readers[0], pg_cluster.writer
    victim = pg_connect(pg_cluster.endpoint(victim_node))
    pg_cluster.blackhole(victim_node)
    assert pg_cluster.proxy(victim_node).mode.value == "blackhole"
    outcome: dict[str, Any] = {}

    def query() -> None:
        try:
            victim.execute("SELECT 1")
            outcome["result"] = "answered"
        except psycopg.Error as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=query, daemon=True)
    worker.start()
    worker.join(1.0)
    assert worker.is_alive(), "a query through a blackholed proxy must hang"
    assert pg_connect(pg_cluster.endpoint(other)).execute("SELECT 1").fetchone() == (1,)
    victim.close()  # the watchdog's abort
    worker.join(5)
    assert isinstance(outcome.get("error"), psycopg.OperationalError)
    with pytest.raises(psycopg.OperationalError):
        pg_connect(pg_cluster.endpoint(victim_node), connect_timeout=1)
    pg_cluster.heal(victim_node)
    assert pg_connect(pg_cluster.endpoint(victim_node)).execute("SELECT 1").fetchone() == (1,)


def test_writer_endpoint_follows_after_its_delay(pg_cluster: LocalCluster, pg_connect: Any) -> None:
    psycopg = pytest.importorskip("psycopg")
    old = pg_cluster.writer
    assert pg_connect(pg_cluster.writer_endpoint).execute(HOST_ID).fetchone() == (old.instance_id,) * 2
    pg_cluster.crash()
    new = pg_cluster.promote()
    promoted = pg_cluster.last_event("writer_promoted", new.instance_id)
    retargeted = pg_cluster.last_event("writer_endpoint_retargeted", new.instance_id)
    assert promoted is not None
    assert retargeted is not None
    assert retargeted.t - promoted.t == pytest.approx(DELAY, abs=0.2)
    if time.monotonic() < retargeted.t - 0.1:  # still stale: the endpoint leads to the dead writer
        with pytest.raises(psycopg.OperationalError):
            pg_connect(pg_cluster.writer_endpoint, connect_timeout=1)
    while time.monotonic() < retargeted.t:
        time.sleep(0.01)
    conn = pg_connect(pg_cluster.writer_endpoint)
    assert conn.execute(HOST_ID).fetchone() == (new.instance_id,) * 2
    assert conn.execute(IS_READER).fetchone() == (False,)
    # the reader endpoint may have pointed at the promoted instance: it moves to a reader after the same delay
    moved = pg_cluster.last_event("reader_endpoint_retargeted")
    while moved is not None and moved.t >= promoted.t and time.monotonic() < moved.t:
        time.sleep(0.01)
    reader = pg_connect(pg_cluster.reader_endpoint)
    assert reader.execute(IS_READER).fetchone() == (True,)


def test_add_and_remove_instance(pg_cluster: LocalCluster, pg_connect: Any) -> None:
    psycopg = pytest.importorskip("psycopg")
    before = {n.instance_id for n in pg_cluster.nodes}
    added = pg_cluster.add_instance()
    assert added.instance_id not in before
    expect_topology(pg_cluster, pg_connect, pg_cluster.writer.instance_id, before | {added.instance_id})
    assert pg_connect(pg_cluster.endpoint(added)).execute(IS_READER).fetchone() == (True,)
    endpoint = pg_cluster.endpoint(added)
    pg_cluster.remove_instance(added)
    expect_topology(pg_cluster, pg_connect, pg_cluster.writer.instance_id, before)
    with pytest.raises(psycopg.OperationalError):
        pg_connect(endpoint, connect_timeout=1)
    with pytest.raises(ClusterError, match="cannot remove the writer"):
        pg_cluster.remove_instance(pg_cluster.writer)


def test_facts_can_lie_about_the_writer(pg_cluster: LocalCluster, pg_connect: Any) -> None:
    ids = {n.instance_id for n in pg_cluster.nodes}
    writer, liar, hidden = pg_cluster.writer, pg_cluster.readers[0], pg_cluster.readers[1]
    pg_cluster.set_facts(writer=liar.instance_id, hidden={hidden.instance_id})
    expect_topology(pg_cluster, pg_connect, liar.instance_id, ids - {hidden.instance_id})
    assert pg_connect(pg_cluster.endpoint(writer)).execute(IS_READER).fetchone() == (False,)  # reality
    assert pg_connect(pg_cluster.endpoint(liar)).execute(WRITER_ID).fetchall() == [(liar.instance_id,)]
    pg_cluster.set_facts()
    expect_topology(pg_cluster, pg_connect, writer.instance_id, ids)


def test_reset_restores_a_usable_cluster(pg_cluster: LocalCluster, pg_connect: Any) -> None:
    pg_cluster.blackhole()
    pg_cluster.crash(pg_cluster.readers[0])
    pg_cluster.remove_instance(pg_cluster.readers[-1])
    pg_cluster.reset()
    status = pg_cluster.status()
    assert len(status.instances) == 3
    assert all(i.alive and i.proxy_mode == "pass" for i in status.instances)
    for node in pg_cluster.nodes:
        assert pg_connect(pg_cluster.endpoint(node)).execute("SELECT 1").fetchone() == (1,)
