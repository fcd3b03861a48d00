"""MariaDbEngine on real MariaDB servers, driven directly through the Engine protocol (no cluster, no proxies).

Each cluster lives in its own 0755 temp dir under the cluster's default work base (/dev/shm when possible; the
``mysql`` OS user must reach it), on the server addresses of its own claimed loopback block, and is torn down
even when a test fails.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aws_wrapper.testing import LocalCluster
from aws_wrapper.testing import _mysql_build as build
from aws_wrapper.testing._block import claim_block
from aws_wrapper.testing._engine import Engine, Flavour, Layout, Node, missing_reason
from aws_wrapper.testing._errors import ClusterError
from aws_wrapper.testing._mysql import ROLE_KEY, MariaDbEngine
from aws_wrapper.testing._mysql_proc import AdminSession, NodePaths, check_reachable, pid_is_server, port_open
from aws_wrapper.testing._mysql_repl import Gtid, highest_seq, lacking, parse_gtids
from aws_wrapper.testing._mysql_sql import (
    AURORA_DETECTION_QUERY,
    AURORA_HOST_ID_QUERY,
    AURORA_TOPOLOGY_QUERY,
    AURORA_WRITER_ID_QUERY,
    IS_READER_QUERY,
    MULTI_AZ_TOPOLOGY_QUERY,
    RDS_HOST_ID_QUERY,
    sync_statements,
)
from aws_wrapper.testing._proc import gone
from aws_wrapper.testing._registry import default_work_base

ENGINE = MariaDbEngine()
_REASON = ENGINE.missing()
needs_mariadb = pytest.mark.skipif(_REASON is not None, reason=f"MariaDB engine unavailable: {_REASON}")

DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"


class LocalMariaDb:
    """N nodes on their own addresses and work dir; closes everything it started."""

    def __init__(self, flavour: Flavour, size: int = 3, *, synchronous: bool = False) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="t3-mysql-", dir=default_work_base()))
        os.chmod(self.work, 0o755)
        self.block = claim_block(ENGINE.default_port)  # the cluster's own 127.A.B.0/24, as LocalCluster does
        self.nodes = [
            Node(
                index=i,
                instance_id=f"instance-{i}",
                server_host=self.block.server_host(i),
                port=self.block.port,
                data_dir=self.work / f"node{i}" / "data",
                server_id=i,
                advertised_host=f"127.0.0.{200 + i}",
                advertised_port=15000 + i,
            )
            for i in range(1, size + 1)
        ]
        self.layout = Layout(work_dir=self.work, flavour=flavour, nodes=self.nodes, synchronous=synchronous)
        self.up_seconds = 0.0

    def up(self) -> LocalMariaDb:
        started = time.monotonic()
        ENGINE.init_writer(self.nodes[0], self.layout)
        for node in self.nodes[1:]:
            ENGINE.add_replica(node, self.nodes[0], self.layout)
        self.up_seconds = time.monotonic() - started
        return self

    def close(self) -> None:
        for node in self.nodes:
            try:
                ENGINE.crash(node)
            except ClusterError:
                pass
        shutil.rmtree(self.work, ignore_errors=True)
        self.block.release()

    def q(self, node: Node, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return ENGINE.query(node, sql, params)


def _servers_under(work: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if "mariadbd" in line and str(work) in line]


@pytest.fixture
def cluster_factory() -> Iterator[Any]:
    made: list[LocalMariaDb] = []

    def make(flavour: Flavour, size: int = 3, *, synchronous: bool = False) -> LocalMariaDb:
        cluster = LocalMariaDb(flavour, size, synchronous=synchronous)
        made.append(cluster)
        return cluster.up()

    yield make
    for cluster in made:
        cluster.close()


@pytest.fixture(scope="module")
def aurora() -> Iterator[LocalMariaDb]:
    if _REASON is not None:
        pytest.skip(_REASON)
    cluster = LocalMariaDb(Flavour.AURORA)
    try:
        yield cluster.up()
    finally:
        cluster.close()


def _client(node: Node, *, use_pure: bool = True) -> Any:
    """A client connection as a wrapper user would make it: root, no password, straight to the node."""
    import mysql.connector

    return mysql.connector.connect(
        host=node.server_host,
        port=node.port,
        user="root",
        password="",
        use_pure=use_pure,
        connection_timeout=5,
    )


# -- engine-level logic without servers ------------------------------------------------------------------------


def test_socket_path_falls_back_to_tmp_when_too_long() -> None:
    deep = Path("/tmp") / ("d" * 120) / "data"
    node = Node(1, "i-1", "127.0.0.1", 3306, deep, 1)
    paths = NodePaths.of(node)
    assert len(str(paths.socket)) <= 100
    assert paths.socket.parent == Path("/tmp")
    assert paths.config == deep.parent / "my.cnf"


def test_unreachable_work_dir_is_reported() -> None:
    top = Path(tempfile.mkdtemp(prefix="t3-reach-", dir="/tmp"))
    try:
        os.chmod(top, 0o755)
        closed = top / "closed"
        inner = closed / "inner"
        inner.mkdir(parents=True)
        os.chmod(closed, 0o700)
        with pytest.raises(ClusterError, match="cannot reach"):
            check_reachable(inner)
        os.chmod(closed, stat.S_IRWXU | stat.S_IXOTH)
        check_reachable(inner)
    finally:
        shutil.rmtree(top)


def test_sync_statements_hide_instances_and_override_writer() -> None:
    nodes = [
        Node(i, f"instance-{i}", "127.0.0.1", 3306, Path("/x"), 10 + i, advertised_port=20000 + i)
        for i in (1, 2)
    ]
    aurora = sync_statements(
        Layout(Path("/w"), Flavour.AURORA, nodes), frozenset({"instance-2"}), "instance-9"
    )
    assert aurora[0][1] == ("instance-1",)
    assert aurora[-1][1] == ("instance-9",)
    rds = sync_statements(Layout(Path("/w"), Flavour.RDS, nodes, domain="d.example"), frozenset(), None)
    inserts = [params for text, params in rds if text.startswith("INSERT")]
    assert inserts == [(11, "instance-1.d.example", 20001), (12, "instance-2.d.example", 20002)]
    assert sync_statements(Layout(Path("/w"), Flavour.PLAIN, nodes), frozenset(), None) == []


def test_engine_satisfies_the_protocol() -> None:
    engine: Engine = MariaDbEngine()  # checked by mypy: the cluster instantiates it with no arguments
    assert (engine.name, engine.default_port, engine.default_user) == ("mysql", 3306, "root")
    assert callable(engine.replication_position)
    engine.close()  # nothing to release; must not fail


class _FakeEngine:
    """Only what ``missing_reason`` and ``LocalCluster.up`` look at before starting anything."""

    name = "mysql"
    default_port = 3306
    default_user = "root"

    def __init__(self) -> None:
        self.asked: list[Flavour | None] = []

    def missing(self, flavour: Flavour | None = None) -> str | None:
        self.asked.append(flavour)
        return "no plugin for you" if flavour is Flavour.AURORA else None


class _OldFakeEngine(_FakeEngine):
    def missing(self) -> str | None:  # type: ignore[override]  # an engine without the flavour parameter
        self.asked.append(None)
        return "checked everything"


def test_missing_reason_passes_the_flavour_when_the_engine_takes_it() -> None:
    engine = _FakeEngine()
    assert missing_reason(engine, Flavour.PLAIN) is None  # type: ignore[arg-type]
    assert missing_reason(engine, Flavour.AURORA) == "no plugin for you"  # type: ignore[arg-type]
    assert missing_reason(engine) is None  # type: ignore[arg-type]
    assert engine.asked == [Flavour.PLAIN, Flavour.AURORA, None]
    old = _OldFakeEngine()
    assert missing_reason(old, Flavour.AURORA) == "checked everything"  # type: ignore[arg-type]
    assert old.asked == [None]


def test_cluster_reports_the_flavour_specific_reason_before_starting_anything() -> None:
    engine = _FakeEngine()
    cluster = LocalCluster(engine, flavour="aurora")  # type: ignore[arg-type]
    with pytest.raises(ClusterError, match=r"cannot start a 'mysql' cluster: no plugin for you"):
        cluster.up()
    assert engine.asked == [Flavour.AURORA]
    assert not cluster.running


def test_gtid_positions_are_compared_by_sequence_number_within_the_domain() -> None:
    assert parse_gtids("0-1-42,1-3-7") == [Gtid(0, 1, 42), Gtid(1, 3, 7)]
    assert parse_gtids("") == []
    assert parse_gtids(None) == []
    # after a failover the stream continues with the new writer's server id: seq still orders it
    assert highest_seq(["0-1-100", "0-2-101", "", None, "1-9-500"], 0) == 101
    assert highest_seq(["", None], 0) == 0
    with pytest.raises(ClusterError, match="cannot parse"):
        parse_gtids("0-x-1")


def test_lacking_finds_transactions_the_new_source_never_logged() -> None:
    source_state = "0-1-100,0-2-105"  # logged up to 0-1-100 from the old writer, then its own 101..105
    assert lacking("0-1-99", source_state) == []  # behind: can follow
    assert lacking("0-2-105", source_state) == []  # caught up
    assert lacking("0-1-101", source_state) == [Gtid(0, 1, 101)]  # received more of the old writer: diverged
    assert lacking("0-3-7", source_state) == [Gtid(0, 3, 7)]  # a server the source never heard of
    assert lacking("", source_state) == []


@needs_mariadb
def test_plugin_is_cached_by_hash_and_installed_once() -> None:
    server = build.server_info(build.find_program("mariadbd") or Path("mariadbd"))
    cache = Path(tempfile.mkdtemp(prefix="t3-cache-", dir="/tmp"))
    try:
        shared_headers = build.cache_dir() / "mariadb-server-headers"
        if not (build.SYSTEM_HEADERS / "mysql" / "plugin.h").is_file():
            shutil.copytree(shared_headers, cache / "mariadb-server-headers")  # no second download
        built = build.build_plugin(server, cache)
        assert built.parent == cache
        assert built.name.startswith("aurora_sim-")
        assert build.build_plugin(server, cache) == built  # a cache hit does not recompile
        installed = build.ensure_plugin(server, cache)
        assert installed == server.plugin_dir / build.PLUGIN_FILE
        assert installed.read_bytes() == built.read_bytes()
        before = installed.stat().st_ino
        build.install_plugin(built, server.plugin_dir)
        assert installed.stat().st_ino == before  # identical file: not replaced
    finally:
        shutil.rmtree(cache)


@pytest.mark.skipif(
    os.environ.get("AWS_WRAPPER_TESTING_APT") != "1",
    reason="downloads about 95 MB; set AWS_WRAPPER_TESTING_APT=1",
)
def test_headers_are_fetched_with_apt_on_a_fresh_machine() -> None:
    server = build.server_info(build.find_program("mariadbd") or Path("mariadbd"))
    cache = Path(tempfile.mkdtemp(prefix="t3-apt-", dir="/tmp"))
    try:
        target = cache / "headers"
        build._download_headers(server, target)
        assert (target / "mysql" / "plugin.h").is_file()
        assert not list(cache.rglob("*.deb"))
    finally:
        shutil.rmtree(cache)


# -- aurora ----------------------------------------------------------------------------------------------------


@needs_mariadb
def test_aurora_cluster_comes_up_quickly(aurora: LocalMariaDb) -> None:
    assert aurora.up_seconds < 15, f"3 nodes took {aurora.up_seconds:.2f} s"
    for node in aurora.nodes:
        assert node.process is not None
        assert node.process.poll() is None
        assert aurora.q(node, "SELECT @@server_id, @@bind_address") == [(node.server_id, node.server_host)]


@needs_mariadb
def test_aurora_facts_on_every_node(aurora: LocalMariaDb) -> None:
    writer = aurora.nodes[0]
    for node in aurora.nodes:
        assert aurora.q(node, AURORA_DETECTION_QUERY) == [("aurora_version", "3.08.0")]
        assert aurora.q(node, AURORA_HOST_ID_QUERY) == [(node.instance_id, node.instance_id)]
        rows = aurora.q(node, AURORA_TOPOLOGY_QUERY)
        assert sorted((row[0], row[1]) for row in rows) == [
            ("instance-1", 1),
            ("instance-2", 0),
            ("instance-3", 0),
        ]
        assert all(row[4] is not None for row in rows)
        expected_writer_row = [(node.instance_id,)] if node is writer else []
        assert aurora.q(node, AURORA_WRITER_ID_QUERY) == expected_writer_row
        assert aurora.q(node, IS_READER_QUERY) == [(0 if node is writer else 1,)]


@needs_mariadb
def test_aurora_server_id_is_read_only_like_aurora(aurora: LocalMariaDb) -> None:
    with pytest.raises(ClusterError, match="1238"):
        aurora.q(aurora.nodes[0], "SET GLOBAL aurora_server_id = 'other'")


@needs_mariadb
def test_clients_read_topology_and_cannot_write_on_replicas(aurora: LocalMariaDb) -> None:
    import mysql.connector

    writer, replica = aurora.nodes[0], aurora.nodes[1]
    with _client(replica) as cnx, cnx.cursor() as cur:
        cur.execute(AURORA_TOPOLOGY_QUERY)
        assert len(cur.fetchall()) == 3
        with pytest.raises(mysql.connector.Error) as failure:
            cur.execute("CREATE TABLE test.nope (id INT)")
        assert failure.value.errno == 1290  # --read-only, as for the RDS master user on a replica
    with _client(writer) as cnx, cnx.cursor() as cur:
        cur.execute("CREATE TABLE test.client_write (id INT PRIMARY KEY)")
        cur.execute("DROP TABLE test.client_write")


@needs_mariadb
def test_admin_path_is_pure_python_and_c_extension_clients_work(aurora: LocalMariaDb) -> None:
    import mysql.connector

    with AdminSession(aurora.nodes[0], ENGINE.admin_user, 5, 5) as session:
        assert type(session._cnx).__name__ == "MySQLConnection"  # pure Python, whatever the wheel ships
        assert session.rows("SELECT CURRENT_USER()") == [(f"{ENGINE.admin_user}@%",)]
    if not getattr(mysql.connector, "HAVE_CEXT", False):
        pytest.skip("mysql-connector C extension not loadable here")
    with _client(aurora.nodes[2], use_pure=False) as cnx, cnx.cursor() as cur:
        assert type(cnx).__name__ == "CMySQLConnection"
        cur.execute(AURORA_HOST_ID_QUERY)
        assert cur.fetchall() == [("instance-3", "instance-3")]


# -- rds / multi-az / plain ------------------------------------------------------------------------------------


@needs_mariadb
@pytest.mark.parametrize("flavour", [Flavour.RDS, Flavour.MULTI_AZ])
def test_rds_topology_facts(cluster_factory: Any, flavour: Flavour) -> None:
    cluster: LocalMariaDb = cluster_factory(flavour)
    writer = cluster.nodes[0]
    expected = sorted((n.server_id, f"{n.instance_id}.{DOMAIN}", n.advertised_port) for n in cluster.nodes)
    for node in cluster.nodes:
        assert cluster.q(node, RDS_HOST_ID_QUERY) == [(node.server_id, node.instance_id)]
        assert sorted(cluster.q(node, MULTI_AZ_TOPOLOGY_QUERY)) == expected
        assert cluster.q(node, "SHOW VARIABLES LIKE 'report_host'") == [
            ("report_host", f"{node.instance_id}.{DOMAIN}")
        ]
        assert cluster.q(node, IS_READER_QUERY) == [(0 if node is writer else 1,)]
        assert cluster.q(node, AURORA_DETECTION_QUERY) == []
    # Multi-AZ writer lookup: replicas name the writer's server id; the writer has no row.
    assert ENGINE.query(writer, "SHOW REPLICA STATUS") == []
    with _client(cluster.nodes[1]) as cnx, cnx.cursor() as cur:
        cur.execute("SHOW REPLICA STATUS")
        row = cur.fetchone()
        names = list(cur.column_names)
    assert row is not None
    assert "Source_Server_Id" not in names
    assert row[names.index("Master_Server_Id")] == writer.server_id
    assert (
        names.index("Master_Server_Id") == 39
    )  # upstream reads 0-based column 39 (MySQL 8: Source_Server_Id)
    assert row[39] == writer.server_id


@needs_mariadb
def test_plain_has_no_facts(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.PLAIN, 2)
    for node in cluster.nodes:
        assert cluster.q(node, AURORA_DETECTION_QUERY) == []
        assert cluster.q(node, "SHOW VARIABLES LIKE 'report_host'") == [("report_host", "")]
        schemas = {row[0] for row in cluster.q(node, "SHOW DATABASES")}
        assert "test" in schemas
        assert "aurora_sim" not in schemas
        tables = cluster.q(node, "SELECT 1 FROM information_schema.tables WHERE table_name = 'rds_topology'")
        assert tables == []
    with pytest.raises(ClusterError, match="plain"):
        ENGINE.set_facts(cluster.nodes[0], cluster.layout, None, frozenset({"instance-2"}))


# -- failover --------------------------------------------------------------------------------------------------


def _writer_per_node(cluster: LocalMariaDb, nodes: list[Node]) -> dict[str, list[object]]:
    return {
        n.instance_id: [row[0] for row in cluster.q(n, AURORA_TOPOLOGY_QUERY) if row[1] == 1] for n in nodes
    }


@needs_mariadb
def test_crash_promote_follow_and_reclone(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.AURORA)
    old, new, other = cluster.nodes
    cluster.q(old, "CREATE TABLE test.events (id INT PRIMARY KEY)")
    cluster.q(old, "INSERT INTO test.events VALUES (1)")
    for replica in (new, other):
        position = cluster.q(old, "SELECT @@gtid_binlog_pos")[0][0]
        assert cluster.q(replica, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]

    started = time.monotonic()
    ENGINE.crash(old)
    ENGINE.promote(new, cluster.layout)
    cluster.q(new, "INSERT INTO test.events VALUES (2)")
    crash_to_promoted = time.monotonic() - started
    assert crash_to_promoted < 5, f"crash to promoted took {crash_to_promoted:.3f} s"
    assert old.process is None

    ENGINE.follow(other, new, cluster.layout)
    assert cluster.q(other, "SELECT id FROM test.events ORDER BY id") == [(1,), (2,)]
    assert _writer_per_node(cluster, [new, other]) == {
        "instance-2": ["instance-2"],
        "instance-3": ["instance-2"],
    }
    assert cluster.q(new, AURORA_WRITER_ID_QUERY) == [("instance-2",)]
    assert cluster.q(other, AURORA_WRITER_ID_QUERY) == []

    used = {n.server_id for n in cluster.nodes}
    ENGINE.add_replica(old, new, cluster.layout)
    assert old.server_id not in used
    assert cluster.q(old, "SELECT @@server_id, @@read_only") == [(old.server_id, 1)]
    assert cluster.q(old, "SELECT id FROM test.events ORDER BY id") == [(1,), (2,)]
    assert cluster.q(old, AURORA_HOST_ID_QUERY) == [("instance-1", "instance-1")]
    assert _writer_per_node(cluster, cluster.nodes) == {n.instance_id: ["instance-2"] for n in cluster.nodes}
    cluster.q(new, "INSERT INTO test.events VALUES (3)")
    ENGINE.follow(old, new, cluster.layout)  # already caught up: returns at once, still a replica
    assert cluster.q(old, "SELECT count(*) FROM test.events") == [(3,)]


def _binlog_pos(cluster: LocalMariaDb, node: Node) -> str:
    return str(cluster.q(node, "SELECT @@gtid_binlog_pos")[0][0])


def _wait_received(cluster: LocalMariaDb, node: Node, position: str, timeout: float = 10.0) -> None:
    """Wait until ``node``'s IO thread has queued ``position`` (whether applied or not)."""
    wanted = highest_seq([position], 0)
    deadline = time.monotonic() + timeout
    while True:
        with AdminSession(node, ENGINE.admin_user, 5, 5) as session:
            status = session.dict_row("SHOW SLAVE STATUS") or {}
        if highest_seq([status.get("Gtid_IO_Pos")], 0) >= wanted:
            return
        assert time.monotonic() < deadline, f"node {node.index} never received {position!r}: {status}"
        time.sleep(0.01)


@needs_mariadb
def test_most_advanced_replica_is_found_and_applies_its_relay_log_on_promotion(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.PLAIN)
    old, ahead, behind = cluster.nodes
    cluster.q(old, "CREATE TABLE test.p (id INT PRIMARY KEY)")
    position = _binlog_pos(cluster, old)
    for replica in (ahead, behind):
        assert cluster.q(replica, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
    cluster.q(behind, "STOP SLAVE")  # receives nothing more
    cluster.q(ahead, "STOP SLAVE SQL_THREAD")  # receives everything, applies nothing
    for i in range(5):
        cluster.q(old, "INSERT INTO test.p VALUES (%s)", (i,))
    final = _binlog_pos(cluster, old)
    _wait_received(cluster, ahead, final)
    assert cluster.q(ahead, "SELECT count(*) FROM test.p") == [(0,)]  # all of it still in the relay log
    ENGINE.crash(old)

    positions = {n.index: ENGINE.replication_position(n) for n in (ahead, behind)}
    assert positions == {ahead.index: highest_seq([final], 0), behind.index: highest_seq([position], 0)}
    ENGINE.promote(ahead, cluster.layout)  # starts the stopped SQL thread and applies the relay log first
    assert cluster.q(ahead, "SELECT count(*) FROM test.p") == [(5,)]
    cluster.q(ahead, "INSERT INTO test.p VALUES (5)")
    assert ENGINE.replication_position(ahead) == positions[ahead.index] + 1  # a writer's own GTIDs count

    server_id = behind.server_id
    ENGINE.follow(behind, ahead, cluster.layout)  # behind, not diverged: re-pointed, not re-cloned
    assert behind.server_id == server_id
    assert cluster.q(behind, "SELECT count(*) FROM test.p") == [(6,)]


@needs_mariadb
def test_replica_ahead_of_the_promoted_one_is_recloned_instead_of_failing(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.AURORA)
    old, promoted, ahead = cluster.nodes
    cluster.q(old, "CREATE TABLE test.d (id INT PRIMARY KEY)")
    position = _binlog_pos(cluster, old)
    for replica in (promoted, ahead):
        assert cluster.q(replica, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
    cluster.q(promoted, "STOP SLAVE")
    cluster.q(old, "INSERT INTO test.d VALUES (1), (2)")
    cluster.q(old, "INSERT INTO test.d VALUES (3)")
    assert cluster.q(ahead, "SELECT MASTER_GTID_WAIT(%s, 10)", (_binlog_pos(cluster, old),)) == [(0,)]
    ENGINE.crash(old)
    assert ENGINE.replication_position(ahead) > ENGINE.replication_position(promoted)

    ENGINE.promote(promoted, cluster.layout)  # the wrong choice on purpose: ``ahead`` has 2 more GTIDs
    cluster.q(promoted, "INSERT INTO test.d VALUES (10)")
    used = {n.server_id for n in cluster.nodes}
    ENGINE.follow(ahead, promoted, cluster.layout)  # would fail with error 1236; re-cloned instead
    assert ahead.server_id not in used
    assert cluster.q(ahead, "SELECT id FROM test.d ORDER BY id") == [(10,)]
    assert cluster.q(ahead, AURORA_HOST_ID_QUERY) == [("instance-3", "instance-3")]
    cluster.q(promoted, "INSERT INTO test.d VALUES (11)")
    target = _binlog_pos(cluster, promoted)
    assert cluster.q(ahead, "SELECT MASTER_GTID_WAIT(%s, 10)", (target,)) == [(0,)]
    assert cluster.q(ahead, "SELECT id FROM test.d ORDER BY id") == [(10,), (11,)]
    assert _writer_per_node(cluster, [promoted, ahead]) == {
        "instance-2": ["instance-2"],
        "instance-3": ["instance-2"],
    }


@needs_mariadb
def test_sql_thread_gtid_conflict_during_follow_triggers_a_reclone(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.PLAIN, 2)
    writer, replica = cluster.nodes
    cluster.q(writer, "CREATE TABLE test.c (id INT PRIMARY KEY)")
    assert cluster.q(replica, "SELECT MASTER_GTID_WAIT(%s, 10)", (_binlog_pos(cluster, writer),)) == [(0,)]
    # the replica gets a row the writer never had, so the writer's next insert of the same key breaks its
    # SQL thread (error 1062) once it follows again
    cluster.q(replica, "STOP SLAVE")
    with AdminSession(replica, ENGINE.admin_user, 5, 5) as session:
        session.rows("SET sql_log_bin = 0")  # not in the replica's binlog nor in its gtid position
        session.rows("INSERT INTO test.c VALUES (1)")
    cluster.q(writer, "INSERT INTO test.c VALUES (1)")
    server_id = replica.server_id
    ENGINE.follow(replica, writer, cluster.layout)
    assert replica.server_id != server_id  # re-cloned
    assert cluster.q(replica, "SELECT id FROM test.c") == [(1,)]
    assert cluster.q(replica, "SELECT @@read_only") == [(1,)]


@needs_mariadb
def test_rds_reclone_keeps_topology_in_sync(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.MULTI_AZ)
    old, new, other = cluster.nodes
    ENGINE.crash(old)
    ENGINE.promote(new, cluster.layout)
    ENGINE.follow(other, new, cluster.layout)
    ENGINE.add_replica(old, new, cluster.layout)
    for node in cluster.nodes:
        assert cluster.q(node, RDS_HOST_ID_QUERY) == [(node.server_id, node.instance_id)]
        ids = sorted(row[0] for row in cluster.q(node, MULTI_AZ_TOPOLOGY_QUERY))  # type: ignore[type-var]
        assert ids == sorted(n.server_id for n in cluster.nodes)
    with _client(old) as cnx, cnx.cursor() as cur:
        cur.execute("SHOW REPLICA STATUS")
        row = cur.fetchone()
        assert row is not None
        assert row[list(cur.column_names).index("Master_Server_Id")] == new.server_id


@needs_mariadb
def test_clean_failover_and_demoted_writer_rejoins(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.AURORA)
    old, new, other = cluster.nodes
    cluster.q(old, "CREATE TABLE test.t (id INT PRIMARY KEY)")
    position = cluster.q(old, "SELECT @@gtid_binlog_pos")[0][0]
    assert cluster.q(new, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
    ENGINE.stop(old)
    assert old.process is None
    assert not port_open(old.server_host, old.port)
    ENGINE.promote(new, cluster.layout)
    ENGINE.follow(other, new, cluster.layout)
    assert old.extra[ROLE_KEY] == "replica"
    ENGINE.start(old, cluster.layout)  # a demoted writer comes back read-only
    assert cluster.q(old, IS_READER_QUERY) == [(1,)]
    ENGINE.follow(old, new, cluster.layout)
    cluster.q(new, "INSERT INTO test.t VALUES (7)")
    position = cluster.q(new, "SELECT @@gtid_binlog_pos")[0][0]
    assert cluster.q(old, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
    assert cluster.q(old, "SELECT id FROM test.t") == [(7,)]
    assert _writer_per_node(cluster, cluster.nodes) == {n.instance_id: ["instance-2"] for n in cluster.nodes}

    # and back again: the new writer is demoted, the original writer promoted
    ENGINE.promote(old, cluster.layout)
    ENGINE.follow(new, old, cluster.layout)
    ENGINE.follow(other, old, cluster.layout)
    cluster.q(old, "INSERT INTO test.t VALUES (8)")
    position = cluster.q(old, "SELECT @@gtid_binlog_pos")[0][0]
    for replica in (new, other):
        assert cluster.q(replica, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
        assert cluster.q(replica, "SELECT count(*) FROM test.t") == [(2,)]
    assert _writer_per_node(cluster, cluster.nodes) == {n.instance_id: ["instance-1"] for n in cluster.nodes}


@needs_mariadb
def test_restarted_replica_resumes_replication(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.PLAIN, 2)
    writer, replica = cluster.nodes
    assert (replica.data_dir / "master.info").exists()
    assert not (writer.data_dir / "master.info").exists()
    ENGINE.stop(replica)
    cluster.q(writer, "CREATE TABLE test.r (id INT PRIMARY KEY)")
    ENGINE.start(replica, cluster.layout)
    assert cluster.q(replica, IS_READER_QUERY) == [(1,)]
    position = cluster.q(writer, "SELECT @@gtid_binlog_pos")[0][0]
    assert cluster.q(replica, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
    ENGINE.stop(writer)
    ENGINE.start(writer, cluster.layout)
    assert cluster.q(writer, IS_READER_QUERY) == [(0,)]


# -- set_facts, synchronous, errors, teardown ------------------------------------------------------------------


@needs_mariadb
def test_set_facts_overrides_aurora_topology(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.AURORA)
    writer = cluster.nodes[0]
    ENGINE.set_facts(writer, cluster.layout, "instance-3", frozenset({"instance-2"}))
    position = cluster.q(writer, "SELECT @@gtid_binlog_pos")[0][0]
    for node in cluster.nodes:
        if node is not writer:
            assert cluster.q(node, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
        rows = cluster.q(node, AURORA_TOPOLOGY_QUERY)
        assert sorted((row[0], row[1]) for row in rows) == [("instance-1", 0), ("instance-3", 1)]
    ENGINE.set_facts(writer, cluster.layout, None, frozenset())
    position = cluster.q(writer, "SELECT @@gtid_binlog_pos")[0][0]
    for node in cluster.nodes:
        if node is not writer:
            assert cluster.q(node, "SELECT MASTER_GTID_WAIT(%s, 10)", (position,)) == [(0,)]
        assert _writer_per_node(cluster, [node]) == {node.instance_id: ["instance-1"]}
        assert len(cluster.q(node, AURORA_TOPOLOGY_QUERY)) == 3


@needs_mariadb
def test_set_facts_hides_rds_rows_and_refuses_writer_override(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.RDS, 2)
    writer = cluster.nodes[0]
    ENGINE.set_facts(writer, cluster.layout, None, frozenset({"instance-2"}))
    assert [row[0] for row in cluster.q(writer, MULTI_AZ_TOPOLOGY_QUERY)] == [writer.server_id]
    with pytest.raises(ClusterError, match="no writer fact"):
        ENGINE.set_facts(writer, cluster.layout, "instance-2", frozenset())


@needs_mariadb
def test_synchronous_layout_uses_semi_sync(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.AURORA, 2, synchronous=True)
    writer, replica = cluster.nodes
    assert cluster.q(writer, "SHOW STATUS LIKE 'Rpl_semi_sync_master_status'") == [
        ("Rpl_semi_sync_master_status", "ON")
    ]
    assert cluster.q(replica, "SHOW STATUS LIKE 'Rpl_semi_sync_slave_status'") == [
        ("Rpl_semi_sync_slave_status", "ON")
    ]
    before = int(str(cluster.q(writer, "SHOW STATUS LIKE 'Rpl_semi_sync_master_yes_tx'")[0][1]))
    cluster.q(writer, "CREATE TABLE test.s (id INT PRIMARY KEY)")
    cluster.q(writer, "INSERT INTO test.s VALUES (1)")
    after = int(str(cluster.q(writer, "SHOW STATUS LIKE 'Rpl_semi_sync_master_yes_tx'")[0][1]))
    assert after - before == 2  # both commits were acknowledged by the replica
    ENGINE.crash(writer)
    ENGINE.promote(replica, cluster.layout)
    assert cluster.q(replica, "SELECT id FROM test.s") == [(1,)]
    assert cluster.q(replica, "SELECT @@rpl_semi_sync_master_enabled, @@rpl_semi_sync_slave_enabled") == [
        (1, 0)
    ]


@needs_mariadb
def test_occupied_address_is_reported(cluster_factory: Any) -> None:
    cluster = LocalMariaDb(Flavour.PLAIN, 1)
    blocker = socket.socket()
    try:
        blocker.bind((cluster.nodes[0].server_host, cluster.nodes[0].port))
        blocker.listen()
        with pytest.raises(ClusterError, match="already in use"):
            ENGINE.init_writer(cluster.nodes[0], cluster.layout)
    finally:
        blocker.close()
        cluster.close()


@needs_mariadb
def test_failed_start_carries_the_log_tail(cluster_factory: Any) -> None:
    cluster: LocalMariaDb = cluster_factory(Flavour.PLAIN, 1)
    node = cluster.nodes[0]
    ENGINE.stop(node)
    shutil.rmtree(node.data_dir / "mysql")  # no grant tables: the server refuses to start
    with pytest.raises(ClusterError, match=r"exited with \d+ while starting:\n.*") as failure:
        ENGINE.start(node, cluster.layout)
    assert "mysql.user" in str(failure.value) or "ERROR" in str(failure.value)
    assert node.process is None


_HARNESS = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from aws_wrapper.testing._engine import Flavour, Layout, Node
    from aws_wrapper.testing._mysql import MariaDbEngine
    work, host, port = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    node = Node(1, "instance-1", host, port, work / "n1" / "data", 1)
    MariaDbEngine().init_writer(node, Layout(work, Flavour.PLAIN, [node]))
    print(node.process.pid, flush=True)
    time.sleep(120)
    """
)


@needs_mariadb
def test_servers_die_with_a_sigkilled_harness() -> None:
    work = Path(tempfile.mkdtemp(prefix="t3-orphan-", dir=default_work_base()))
    os.chmod(work, 0o755)
    block = claim_block(ENGINE.default_port)
    host = block.server_host(1)
    harness = subprocess.Popen(
        [sys.executable, "-c", _HARNESS, str(work), host, str(block.port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    pid = 0
    try:
        assert harness.stdout is not None
        line = harness.stdout.readline()
        assert line.strip().isdigit(), (
            f"harness failed: {line!r} {harness.stderr.read() if harness.stderr else ''}"
        )
        pid = int(line)
        assert pid_is_server(pid, work / "n1" / "my.cnf")
        uid = int(Path(f"/proc/{pid}/status").read_text().split("\nUid:")[1].split()[0])
        assert uid == pwd.getpwnam("mysql").pw_uid  # started as mysql: nothing clears its parent-death signal
        harness.kill()
        harness.wait(5)
        # generous: the machine may be loaded. The main thread may show as a zombie while the server's other
        # threads are still exiting (and holding the listening socket), so wait for both.
        deadline = time.monotonic() + 15
        while (not gone(pid) or port_open(host, block.port, 0.2)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gone(pid), "mariadbd outlived its SIGKILLed harness"
        assert not port_open(host, block.port, 0.2)
    finally:
        harness.kill()
        harness.wait(5)
        if pid and pid_is_server(pid, work / "n1" / "my.cnf"):
            os.kill(pid, 9)
        shutil.rmtree(work, ignore_errors=True)
        block.release()


@needs_mariadb
def test_teardown_leaves_nothing() -> None:
    cluster = LocalMariaDb(Flavour.AURORA, 2)
    try:
        cluster.up()
        assert len(_servers_under(cluster.work)) == 2
    finally:
        cluster.close()
    assert _servers_under(cluster.work) == []
    assert not cluster.work.exists()
    assert not any(port_open(n.server_host, n.port, 0.2) for n in cluster.nodes)
    assert all(n.process is None for n in cluster.nodes)
