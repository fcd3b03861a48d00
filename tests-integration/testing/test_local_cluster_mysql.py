"""End-to-end tests of the local cluster on real MariaDB servers (aurora flavour, shared by the module).

The MariaDB engine emulates ``information_schema.replica_host_status`` as ``aurora_sim.replica_host_status``
(MariaDB refuses objects in ``information_schema``): that schema name is the one string that differs from the
Aurora MySQL dialect's queries.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any

import pytest

from aws_wrapper.testing import LocalCluster

pytestmark = [pytest.mark.integration, pytest.mark.mysql_cluster(retarget_delay=0.5)]

DELAY = 0.5
TOPOLOGY = (
    "SELECT SERVER_ID, CASE WHEN SESSION_ID = 'MASTER_SESSION_ID' THEN TRUE ELSE FALSE END, CPU, "
    "REPLICA_LAG_IN_MILLISECONDS, LAST_UPDATE_TIMESTAMP FROM aurora_sim.replica_host_status "
    "WHERE time_to_sec(timediff(now(), LAST_UPDATE_TIMESTAMP)) <= 300 OR SESSION_ID = 'MASTER_SESSION_ID' "
)
HOST_ID = "SELECT @@aurora_server_id, @@aurora_server_id"
IS_READER = "SELECT @@read_only"
WRITER_ID = (
    "SELECT SERVER_ID FROM aurora_sim.replica_host_status "
    "WHERE SESSION_ID = 'MASTER_SESSION_ID' AND SERVER_ID = @@aurora_server_id"
)
DETECT = "SHOW VARIABLES LIKE 'aurora_version'"


def rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def expect_topology(cluster: LocalCluster, mysql_connect: Any, writer: str, ids: set[str]) -> None:
    for node, inst in zip(cluster.nodes, cluster.status().instances):
        if not inst.alive:
            continue
        found = {str(r[0]): bool(r[1]) for r in rows(mysql_connect(cluster.endpoint(node)), TOPOLOGY)}
        assert set(found) == ids, node.instance_id
        assert [i for i, w in found.items() if w] == [writer], node.instance_id


def test_cluster_comes_up_with_aurora_facts_on_every_instance(
    mysql_cluster: LocalCluster, mysql_connect: Any
) -> None:
    status = mysql_cluster.status()
    assert len(status.instances) == 3
    assert all(i.alive for i in status.instances)
    writer_id = mysql_cluster.writer.instance_id
    for node in mysql_cluster.nodes:
        conn = mysql_connect(mysql_cluster.endpoint(node))
        assert len(rows(conn, DETECT)) == 1
        assert rows(conn, HOST_ID) == [(node.instance_id, node.instance_id)]
        is_writer = node.instance_id == writer_id
        assert rows(conn, IS_READER) == [(0 if is_writer else 1,)]
        assert rows(conn, WRITER_ID) == ([(writer_id,)] if is_writer else [])
    expect_topology(mysql_cluster, mysql_connect, writer_id, {n.instance_id for n in mysql_cluster.nodes})
    assert rows(mysql_connect(mysql_cluster.writer_endpoint), IS_READER) == [(0,)]
    assert rows(mysql_connect(mysql_cluster.reader_endpoint), IS_READER) == [(1,)]


def test_failover_makes_a_new_writer_that_accepts_writes(
    mysql_cluster: LocalCluster, mysql_connect: Any
) -> None:
    old = mysql_cluster.writer
    rows(mysql_connect(mysql_cluster.endpoint(old)), "CREATE TABLE IF NOT EXISTS failover_t(x INT)")
    new = mysql_cluster.failover()
    assert new is not old
    conn = mysql_connect(mysql_cluster.endpoint(new))
    rows(conn, "INSERT INTO failover_t VALUES (1)")
    assert rows(conn, IS_READER) == [(0,)]
    assert rows(mysql_connect(mysql_cluster.endpoint(old)), IS_READER) == [(1,)]
    expect_topology(
        mysql_cluster, mysql_connect, new.instance_id, {n.instance_id for n in mysql_cluster.nodes}
    )


def test_crash_then_promote(mysql_cluster: LocalCluster, mysql_connect: Any, wait_until: Any) -> None:
    connector = pytest.importorskip("mysql.connector")
    old = mysql_cluster.writer
    victim = mysql_connect(mysql_cluster.endpoint(old))
    rows(victim, "CREATE TABLE IF NOT EXISTS crash_t(x INT)")
    check = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'test' AND table_name = 'crash_t'"
    for node in mysql_cluster.readers:  # asynchronous replication: let the replicas have it before the crash
        wait_until(lambda node=node: mysql_cluster.query(node, check) == [(1,)], what="replication")
    mysql_cluster.crash()
    with pytest.raises(connector.Error):
        rows(victim, "SELECT 1")
    new = mysql_cluster.promote()
    assert new is not old
    conn = mysql_connect(mysql_cluster.endpoint(new))
    rows(conn, "INSERT INTO crash_t VALUES (2)")
    assert rows(conn, IS_READER) == [(0,)]
    expect_topology(
        mysql_cluster, mysql_connect, new.instance_id, {n.instance_id for n in mysql_cluster.nodes}
    )


def test_blackholed_instance_hangs_until_aborted_while_another_answers(
    mysql_cluster: LocalCluster, mysql_connect: Any
) -> None:
    connector = pytest.importorskip("mysql.connector")
    victim_node, other = mysql_cluster.readers[0], mysql_cluster.writer
    victim = mysql_connect(mysql_cluster.endpoint(victim_node))
    mysql_cluster.blackhole(victim_node)
    outcome: dict[str, Any] = {}

    def query() -> None:
        try:
            rows(victim, "SELECT 1")
            outcome["result"] = "answered"
        except connector.Error as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=query, daemon=True)
    worker.start()
    worker.join(1.0)
    assert worker.is_alive(), "a query through a blackholed proxy must hang"
    assert rows(mysql_connect(mysql_cluster.endpoint(other)), "SELECT 1") == [(1,)]
    victim.shutdown()  # the watchdog's abort
    worker.join(5)
    assert isinstance(outcome.get("error"), connector.Error)
    mysql_cluster.heal(victim_node)
    assert rows(mysql_connect(mysql_cluster.endpoint(victim_node)), "SELECT 1") == [(1,)]


def test_writer_endpoint_follows_after_its_delay(mysql_cluster: LocalCluster, mysql_connect: Any) -> None:
    mysql_cluster.crash()
    new = mysql_cluster.promote()
    promoted = mysql_cluster.last_event("writer_promoted", new.instance_id)
    retargeted = mysql_cluster.last_event("writer_endpoint_retargeted", new.instance_id)
    assert promoted is not None
    assert retargeted is not None
    assert retargeted.t - promoted.t == pytest.approx(DELAY, abs=0.2)
    while time.monotonic() < retargeted.t:
        time.sleep(0.01)
    conn = mysql_connect(mysql_cluster.writer_endpoint)
    assert rows(conn, HOST_ID) == [(new.instance_id, new.instance_id)]
    assert rows(conn, IS_READER) == [(0,)]


def test_add_instance_appears_in_the_topology(mysql_cluster: LocalCluster, mysql_connect: Any) -> None:
    before = {n.instance_id for n in mysql_cluster.nodes}
    added = mysql_cluster.add_instance()
    expect_topology(
        mysql_cluster, mysql_connect, mysql_cluster.writer.instance_id, before | {added.instance_id}
    )
    assert rows(mysql_connect(mysql_cluster.endpoint(added)), IS_READER) == [(1,)]
    mysql_cluster.remove_instance(added)
    expect_topology(mysql_cluster, mysql_connect, mysql_cluster.writer.instance_id, before)


def test_teardown_leaves_nothing(local_cluster: Any) -> None:
    cluster = local_cluster("mysql", instances=2)
    footprint = cluster.footprint()
    assert footprint.leftovers() != []
    cluster.down()
    assert footprint.leftovers() == []


class _Writer(threading.Thread):
    """Inserts numbered rows into ``test.stress`` on the current writer's server; remembers what was
    acknowledged. Any error (the writer crashed, a read-only node) means: reconnect to the current writer."""

    def __init__(self, cluster: LocalCluster, number: int, stop: threading.Event) -> None:
        super().__init__(name=f"stress-writer-{number}", daemon=True)
        self.cluster, self.number, self.stop = cluster, number, stop
        self.acknowledged: list[int] = []
        self.errors = 0

    def run(self) -> None:
        import mysql.connector

        conn: Any = None
        seq = 0
        while not self.stop.is_set():
            try:
                if conn is None:
                    writer = self.cluster.writer
                    conn = mysql.connector.connect(
                        host=writer.server_host,
                        port=writer.port,
                        user="root",
                        password="",
                        database="test",
                        use_pure=True,
                        autocommit=True,
                        connection_timeout=20,  # longer than a semi-sync wait
                    )
                seq += 1
                cur = conn.cursor()
                cur.execute("INSERT INTO stress (worker, seq) VALUES (%s, %s)", (self.number, seq))
                cur.close()
                self.acknowledged.append(seq)
            except mysql.connector.Error:
                self.errors += 1
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
                time.sleep(0.01)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


def test_writer_crashes_under_semi_sync_write_load_lose_no_acknowledged_insert(local_cluster: Any) -> None:
    """5 x (crash the writer under load from 4 threads, promote, bring the old writer back as a replica).

    Semi-synchronous replication needs one replica's acknowledgement, so the replicas differ in how much they
    received: the cluster must promote the most advanced one (and that one must apply its whole relay log), or
    acknowledged inserts are lost and the other replica cannot follow (error 1236). Before each crash one
    replica is held back (IO thread stopped), so the lowest-index replica is the wrong choice every time.
    """
    cluster: LocalCluster = local_cluster("mysql", instances=3, synchronous=True)
    cluster.query(cluster.writer, "CREATE TABLE test.stress (worker INT, seq INT, PRIMARY KEY (worker, seq))")
    stop = threading.Event()
    writers = [_Writer(cluster, i, stop) for i in range(4)]
    for thread in writers:
        thread.start()
    promoted: list[tuple[str, dict[str, int]]] = []
    try:
        for _ in range(5):
            time.sleep(0.4)
            laggard = min(cluster.readers, key=lambda n: n.index)
            cluster.query(laggard, "STOP SLAVE IO_THREAD")
            time.sleep(0.3)  # the others keep receiving (and acknowledging) meanwhile
            old = cluster.crash()
            positions = {n.instance_id: cluster.engine.replication_position(n) for n in cluster.readers}
            new = cluster.promote()  # must not fail
            assert new is not old
            assert new is not laggard
            assert positions[new.instance_id] == max(positions.values())
            promoted.append((new.instance_id, positions))
            time.sleep(0.2)
            cluster.restart(old)  # re-cloned as a replica: the next round has two replicas again
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in writers:
            thread.join(30)
    assert not any(t.is_alive() for t in writers)
    writer = cluster.writer
    present = {
        (int(str(w)), int(str(s))) for w, s in cluster.query(writer, "SELECT worker, seq FROM test.stress")
    }
    acknowledged = {(t.number, s) for t in writers for s in t.acknowledged}
    print(
        f"\nmysql semi-sync stress: {len(acknowledged)} inserts acknowledged, "
        f"{sum(t.errors for t in writers)} failed around crashes, {len(present)} rows; promotions: {promoted}"
    )
    assert len(acknowledged) > 100
    lost = sorted(acknowledged - present)
    assert lost == [], f"{len(lost)} acknowledged inserts missing on the new writer, e.g. {lost[:10]}"
    target = cluster.query(writer, "SELECT @@gtid_binlog_pos")[0][0]
    for node in cluster.readers:
        assert cluster.query(node, "SELECT MASTER_GTID_WAIT(%s, 20)", (target,)) == [(0,)]
        assert cluster.query(node, "SELECT count(*) FROM test.stress") == [(len(present),)]
