"""Failover on local Aurora clusters, PostgreSQL and MariaDB: a writer crash (SIGKILL) and a clean failover, in
and out of a transaction, autocommit on and off; session state; reader modes; a cluster that does not answer."""

from __future__ import annotations

import time
from typing import Any

import pytest

from aws_wrapper.core import (
    FailoverFailedError,
    FailoverSuccessError,
    QueryTimeoutError,
    TransactionResolutionUnknownError,
)
from aws_wrapper.failover import TRACKER, FailoverPlugin

from .conftest import Db

pytestmark = [
    pytest.mark.integration,
    # synchronous replication: a row committed just before a crash must survive it (the tests compare rows)
    pytest.mark.pg_cluster(synchronous=True),
    pytest.mark.mysql_cluster(synchronous=True),
]


def lose_writer(db: Db, how: str) -> tuple[str, str]:
    """Take the writer away (``crash``: SIGKILL then promote a replica; ``failover``: a clean one). Returns the
    old and the new writer's instance ids."""
    old = db.cluster.writer.instance_id
    if how == "crash":
        db.cluster.crash()
        new = db.cluster.promote()
    else:
        new = db.cluster.failover()
    return old, new.instance_id


HOW = ["crash", "failover"]


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "manual-commit"])
def test_failure_outside_a_transaction_raises_failover_success(db: Db, how: str, autocommit: bool) -> None:
    db.create_table("t_out")
    conn = db.connect()
    conn.autocommit = autocommit
    cur = conn.cursor()
    cur.execute("INSERT INTO t_out (note) VALUES ('before')")
    if not autocommit:
        conn.commit()  # idle, outside any transaction, when the writer goes away
    old, new = lose_writer(db, how)

    with pytest.raises(FailoverSuccessError) as info:
        cur.execute("INSERT INTO t_out (note) VALUES ('after')")
    assert info.value.driver_error is not None
    assert info.value.__cause__ is info.value.driver_error
    assert type(info.value.driver_error).__module__.startswith(("psycopg", "mysql", "_mysql"))

    # The same connection and the same cursor keep working, on the new writer.
    cur.execute("INSERT INTO t_out (note) VALUES ('after')")
    if not autocommit:
        conn.commit()
    assert db.instance(conn) == new != old
    assert db.is_writer(conn)
    assert conn.autocommit is autocommit
    cur.execute("SELECT note FROM t_out ORDER BY id")
    assert [r[0] for r in cur.fetchall()] == ["before", "after"]
    plugin = conn.plugin(FailoverPlugin)
    assert plugin is not None
    assert plugin.failover_count == 1


@pytest.mark.parametrize("how", HOW)
@pytest.mark.parametrize("begin", ["manual-commit", "explicit-begin"])
def test_failure_inside_a_transaction_raises_resolution_unknown(db: Db, how: str, begin: str) -> None:
    db.create_table("t_in")
    conn = db.connect()
    cur = conn.cursor()
    if begin == "manual-commit":
        conn.autocommit = False
    else:
        conn.autocommit = True
        cur.execute(db.begin())
    cur.execute("INSERT INTO t_in (note) VALUES ('lost')")
    _, new = lose_writer(db, how)

    with pytest.raises(TransactionResolutionUnknownError) as info:
        conn.commit()
    assert info.value.driver_error is not None

    # The transaction did not survive (synchronous replication or not, it never committed); re-running it works.
    assert db.instance(conn) == new
    if begin == "explicit-begin":
        cur.execute(db.begin())
    cur.execute("INSERT INTO t_in (note) VALUES ('again')")
    conn.commit()
    cur.execute("SELECT note FROM t_in ORDER BY id")
    assert [r[0] for r in cur.fetchall()] == ["again"]
    assert conn.autocommit is (begin == "explicit-begin")


def test_failure_in_the_middle_of_a_transaction_statement(db: Db) -> None:
    db.create_table("t_mid")
    conn = db.connect()
    conn.autocommit = False
    cur = conn.cursor()
    cur.execute("INSERT INTO t_mid (note) VALUES ('one')")
    lose_writer(db, "crash")
    with pytest.raises(TransactionResolutionUnknownError):
        cur.execute("INSERT INTO t_mid (note) VALUES ('two')")
    cur.execute("SELECT count(*) FROM t_mid")
    assert cur.fetchone()[0] == 0
    conn.rollback()


def test_session_state_is_carried_over(db: Db) -> None:
    db.create_table("t_state")
    conn = db.connect()
    conn.autocommit = False
    conn.isolation_level = "SERIALIZABLE"
    conn.read_only = True
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    conn.commit()
    _, new = lose_writer(db, "crash")

    with pytest.raises(FailoverSuccessError):
        cur.execute("SELECT 1")
    cur.execute("SELECT 1")
    cur.fetchall()
    assert db.instance(conn) == new
    assert conn.autocommit is False
    assert conn.read_only is True
    assert conn.isolation_level == "SERIALIZABLE"
    if db.is_pg:
        assert db.one(conn, "SHOW transaction_isolation") == "serializable"
        assert db.one(conn, "SHOW transaction_read_only") == "on"
    else:
        assert db.one(conn, "SELECT @@session.tx_isolation") == "SERIALIZABLE"
        assert int(db.one(conn, "SELECT @@session.tx_read_only")) == 1
    conn.rollback()

    # A write refused because the application asked for read-only is its own error, not a failover.
    with pytest.raises(Exception) as info:
        cur.execute("INSERT INTO t_state (note) VALUES ('x')")
    assert not isinstance(info.value, FailoverSuccessError)
    assert type(info.value).__module__.startswith(("psycopg", "mysql", "_mysql"))
    conn.rollback()
    plugin = conn.plugin(FailoverPlugin)
    assert plugin is not None
    assert plugin.failover_count == 1


def test_sql_errors_keep_their_own_type(db: Db) -> None:
    conn = db.connect()
    cur = conn.cursor()
    with pytest.raises(Exception) as info:
        cur.execute("SELEC 1")
    assert type(info.value).__module__.startswith(("psycopg", "mysql", "_mysql"))
    assert not isinstance(info.value, FailoverSuccessError)
    if not db.is_pg:
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]


def test_strict_reader_lands_on_a_reader(db: Db) -> None:
    reader = db.cluster.readers[0]
    conn = db.connect(target=reader, failover_mode="strict-reader")
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    db.cluster.crash(reader)

    with pytest.raises(FailoverSuccessError):
        cur.execute("SELECT 1")
    assert not db.is_writer(conn)
    assert db.instance(conn) == db.cluster.readers[1].instance_id


def test_reader_or_writer_settles_for_the_writer(db: Db) -> None:
    conn = db.connect(target=db.cluster.readers[0], failover_mode="reader_or_writer")
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    for node in db.cluster.readers:  # no reader left: the writer is acceptable in reader_or_writer mode
        db.cluster.crash(node)
    with pytest.raises(FailoverSuccessError):
        cur.execute("SELECT 1")
    assert db.is_writer(conn)


def test_every_instance_silent_fails_within_the_timeout(db: Db) -> None:
    timeout = 3.0
    socket_timeout = 1.0
    conn = db.connect(failover_timeout_sec=timeout, socket_timeout=socket_timeout)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    db.cluster.blackhole()
    started = time.monotonic()
    with pytest.raises(FailoverFailedError) as info:
        cur.execute("SELECT 1")
    elapsed = time.monotonic() - started
    # socket_timeout detects the silence, then failover has failover_timeout_sec (+1 s allowed)
    assert elapsed <= socket_timeout + timeout + 1.0, elapsed
    assert elapsed >= timeout
    assert isinstance(info.value.driver_error, QueryTimeoutError)
    print(
        f"\n{db.engine}: FailoverFailedError after {elapsed:.2f} s (socket_timeout {socket_timeout} s + {timeout} s)"
    )


def test_explicit_dialect_recovers_too(pg: Db) -> None:
    """Upstream never recovered with ``wrapper_dialect`` given: its topology was never read before the crash."""
    conn = pg.connect(wrapper_dialect="aurora-pg")
    lose_writer(pg, "crash")
    with pytest.raises(FailoverSuccessError):
        conn.execute("SELECT 1")
    assert pg.is_writer(conn)


def test_default_plugins_fail_over(db: Db) -> None:
    conn = db.connect(plugins=None)
    cur = conn.cursor()
    cur.execute("SELECT 1")
    cur.fetchall()
    _, new = lose_writer(db, "crash")
    with pytest.raises(FailoverSuccessError):
        cur.execute("SELECT 1")
    assert db.instance(conn) == new


def test_tracker_never_closes_a_fresh_endpoint_connection(db: Db) -> None:
    """Upstream #1276: the first statement of every cluster-endpoint connection failed over."""
    plugins = "aurora_connection_tracker,failover"
    conns = [db.connect(plugins=plugins) for _ in range(3)]
    for conn in conns:
        for _ in range(3):
            assert db.is_writer(conn)
    lose_writer(db, "crash")
    fresh = [db.connect(plugins=plugins) for _ in range(3)]
    for conn in fresh:
        for _ in range(3):
            assert db.is_writer(conn)
        plugin = conn.plugin(FailoverPlugin)
        assert plugin is not None
        assert plugin.failover_count == 0


def test_tracker_aborts_idle_connections_to_the_old_writer(db: Db, monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = "aurora_connection_tracker,failover"
    first = db.connect(plugins=plugins)
    idle = db.connect(plugins=plugins)
    assert db.is_writer(first)
    assert db.is_writer(idle)
    old_writer = db.cluster.endpoint(db.cluster.writer)
    assert TRACKER.tracked(f"{old_writer.host}:{old_writer.port}") >= 2
    idle_raw = idle.target_connection
    driver = first._rt.driver
    aborted: list[Any] = []
    real_abort = driver.abort

    def spy(conn: Any) -> None:
        aborted.append(conn)
        real_abort(conn)

    monkeypatch.setattr(driver, "abort", spy)
    old, new = lose_writer(db, "crash")
    with pytest.raises(FailoverSuccessError):
        first.cursor().execute("SELECT 1")
    # the failover of ``first`` showed a new writer: the idle connection to the old one was aborted at once
    assert any(conn is idle_raw for conn in aborted)
    assert all(conn is not first.target_connection for conn in aborted)
    with pytest.raises(FailoverSuccessError):
        idle.cursor().execute("SELECT 1")
    assert db.instance(idle) == new != old


def test_connect_failover_reaches_the_new_writer(db: Db) -> None:
    cluster_id = f"connect-failover-{db.engine}"  # one topology cache for both connections
    first = db.connect(cluster_id=cluster_id)  # the topology is known in this process from now on
    assert db.is_writer(first)
    old = db.cluster.writer
    _, new = lose_writer(db, "crash")
    with pytest.raises(Exception) as info:  # without connect failover: the driver's own error
        db.connect(target=old, cluster_id=cluster_id)
    assert not isinstance(info.value, FailoverSuccessError)
    # Before its first connection, the wrapper knows the host is an Aurora instance only from an RDS host name
    # or wrapper_dialect; a plain address needs the latter for connect failover.
    dialect = {"wrapper_dialect": "aurora-pg"} if db.is_pg else {}
    conn = db.connect(
        target=old, cluster_id=cluster_id, enable_connect_failover=True, failover_timeout_sec=20, **dialect
    )
    assert db.instance(conn) == new
    assert db.is_writer(conn)


def test_mysql_connector_pure_python(mysql_cluster: Any) -> None:
    """The tests above use mysql-connector's C extension (its default); the pure-Python connection too."""
    db = Db("mysql", mysql_cluster)
    try:
        db.create_table("t_pure")
        conn = db.connect(use_pure=True, autocommit=False)
        assert type(conn.target_connection).__name__ == "MySQLConnection"
        cur = conn.cursor()
        cur.execute("INSERT INTO t_pure (note) VALUES ('in')")
        _, new = lose_writer(db, "crash")
        with pytest.raises(TransactionResolutionUnknownError):
            conn.commit()
        assert db.instance(conn) == new
        cur.execute("INSERT INTO t_pure (note) VALUES ('again')")
        conn.commit()
        lose_writer(db, "failover")
        with pytest.raises(FailoverSuccessError):
            cur.execute("SELECT count(*) FROM t_pure")
        cur.execute("SELECT count(*) FROM t_pure")
        assert cur.fetchall() == [(1,)]
        assert db.is_writer(conn)
        conn.rollback()
    finally:
        db.close_all()
