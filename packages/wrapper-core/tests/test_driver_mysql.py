"""MySqlConnectorDialect against the machine's MariaDB (127.0.0.1:3306, root), pure Python and C extension."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aws_wrapper.core._config import CoreConfig
from aws_wrapper.core.driver._mysql import MySqlConnectorDialect, _native_fd
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.methods import NETWORK_BOUND_METHODS, DbApiMethod

pytest.importorskip("mysql.connector")
import mysql.connector
from mysql.connector.connection import MySQLConnection

MY_HOST, MY_PORT = "127.0.0.1", 3306
DIALECT = MySqlConnectorDialect()

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def admin() -> Iterator[Any]:
    try:
        conn = mysql.connector.connect(
            host=MY_HOST, port=MY_PORT, user="root", autocommit=True, connection_timeout=3
        )
    except mysql.connector.Error as exc:
        pytest.skip(f"MariaDB not reachable at {MY_HOST}:{MY_PORT}: {exc}")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def database(admin: Any) -> Iterator[str]:
    name = f"c1_scratch_{uuid.uuid4().hex[:10]}"
    cur = admin.cursor()
    cur.execute(f"CREATE DATABASE {name}")
    cur.execute(f"CREATE TABLE {name}.t (id int PRIMARY KEY, v varchar(20)) ENGINE=InnoDB")
    yield name
    cur.execute(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(params=["pure", "cext"])
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "cext" and not mysql.connector.HAVE_CEXT:
        pytest.skip("mysql-connector C extension not available")
    return str(request.param)


def _connect(mode: str, port: int = MY_PORT, **extra: Any) -> Any:
    args = {
        "host": MY_HOST,
        "port": port,
        "user": "root",
        "connection_timeout": 3,
        "use_pure": mode == "pure",
    }
    return DIALECT.connect(mysql.connector.connect, {**args, **extra})


def _kill(admin: Any, conn: Any) -> None:
    thread_id = getattr(conn, "_c1_thread_id", None)
    if thread_id is not None:
        try:
            admin.cursor().execute(f"KILL {int(thread_id)}")
        except mysql.connector.Error:
            pass  # already gone


@pytest.fixture
def conn(admin: Any, database: str, mode: str) -> Iterator[Any]:
    c = _connect(mode, database=database)
    c._c1_thread_id = c.connection_id
    assert type(c).__name__ == ("MySQLConnection" if mode == "pure" else "CMySQLConnection")
    yield c
    _kill(admin, c)
    DIALECT.close(c)


# -- a fault proxy (pass / blackhole) ----------------------------------------------------------------------------


class BlackholeProxy:
    """Forwards 127.0.0.1:<port> to a server; once ``blackhole`` is set, bytes are swallowed with sockets open."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.blackhole = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept_loop)

    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            self._start(self._pump, client, upstream)
            self._start(self._pump, upstream, client)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
                if not data:
                    break
                if not self.blackhole.is_set():
                    dst.sendall(data)
            except OSError:
                break
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not on Linux)
        except OSError:
            pass
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for thread in self._threads:
            thread.join(2.0)


@pytest.fixture
def proxy(admin: Any) -> Iterator[BlackholeProxy]:
    p = BlackholeProxy(MY_PORT)
    yield p
    p.close()


# -- detection and connect arguments ---------------------------------------------------------------------------------


def test_identity() -> None:
    assert (DIALECT.code, DIALECT.engine, DIALECT.default_port) == ("mysql-connector-python", "mysql", 3306)
    assert DIALECT.network_bound_methods == NETWORK_BOUND_METHODS - {
        DbApiMethod.CONNECTION_CLOSE,
        DbApiMethod.CURSOR_CALLPROC,
    }


def test_matches() -> None:
    class MyConnection(MySQLConnection):
        pass

    assert DIALECT.matches(mysql.connector.connect)
    assert DIALECT.matches(mysql.connector.Connect)
    assert DIALECT.matches(MySQLConnection)
    assert DIALECT.matches(MyConnection)
    if mysql.connector.HAVE_CEXT:
        from mysql.connector.connection_cext import CMySQLConnection

        assert DIALECT.matches(CMySQLConnection)
    assert not DIALECT.matches(lambda **kw: None)
    assert not DIALECT.matches(dict)
    assert not DIALECT.matches(MySQLConnection.cursor)


def test_matches_does_not_import_mysql() -> None:
    code = (
        "import sys; from aws_wrapper.core.driver._mysql import MySqlConnectorDialect; "
        "print(MySqlConnectorDialect().matches(print), 'mysql.connector' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_prepare_connect_args() -> None:
    config = CoreConfig.parse(
        {
            "database": "appdb",
            "connect_timeout": "2.2",
            "tcp_keepalive": "true",
            "tcp_keepalive_time": "30",
            "tcp_keepalive_interval": "5",
            "tcp_keepalive_probes": "3",
        }
    )
    props = {"user": "u", "password": "p", "use_pure": True, "charset": "utf8mb4"}
    args = DIALECT.prepare_connect_args(HostInfo("db1", 3307), props, config)
    # keepalive settings have no mysql-connector option: not passed
    assert args == {
        "user": "u",
        "password": "p",
        "use_pure": True,
        "charset": "utf8mb4",
        "host": "db1",
        "port": 3307,
        "database": "appdb",
        "connection_timeout": 3,
    }
    minimal = DIALECT.prepare_connect_args(
        HostInfo("db1", -1), {}, CoreConfig.parse({"connect_timeout": "0.1"})
    )
    assert minimal == {"host": "db1", "connection_timeout": 1}


def test_prepared_arguments_are_accepted(mode: str, database: str) -> None:
    config = CoreConfig.parse({"database": database, "connect_timeout": "2", "tcp_keepalive": "true"})
    args = DIALECT.prepare_connect_args(
        HostInfo(MY_HOST, MY_PORT), {"user": "root", "use_pure": mode == "pure"}, config
    )
    c = DIALECT.connect(mysql.connector.connect, args)
    try:
        assert DIALECT.query(c, "SELECT DATABASE()") == [(database,)]
    finally:
        DIALECT.close(c)


# -- state -------------------------------------------------------------------------------------------------------------


def test_connection_of(conn: Any) -> None:
    for kwargs in ({}, {"buffered": True}, {"dictionary": True}):
        assert DIALECT.connection_of(conn.cursor(**kwargs)) is conn


def test_is_closed_uses_no_round_trip(conn: Any, admin: Any) -> None:
    assert not DIALECT.is_closed(conn)
    admin.cursor().execute(f"KILL {int(conn.connection_id)}")  # the server closes the socket
    deadline = time.monotonic() + 2
    while not DIALECT.is_closed(conn) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert DIALECT.is_closed(conn)


def test_is_closed_after_close(mode: str) -> None:
    c = _connect(mode)
    assert not DIALECT.is_closed(c)
    c.close()
    assert DIALECT.is_closed(c)


def test_is_closed_does_not_block_on_a_blackholed_connection(mode: str, proxy: BlackholeProxy) -> None:
    c = _connect(mode, port=proxy.port)
    try:
        proxy.blackhole.set()
        t0 = time.monotonic()
        assert not DIALECT.is_closed(c)  # cannot be known without the network; must not wait for it
        assert time.monotonic() - t0 < 0.5
    finally:
        DIALECT.abort(c)
        DIALECT.close(c)


def test_transaction_and_autocommit(conn: Any, database: str) -> None:
    assert DIALECT.get_autocommit(conn) is False
    assert not DIALECT.is_in_transaction(conn)
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM t")
    cur.fetchall()
    assert DIALECT.is_in_transaction(conn)
    DIALECT.rollback(conn)
    assert not DIALECT.is_in_transaction(conn)
    DIALECT.set_autocommit(conn, True)
    assert DIALECT.get_autocommit(conn) is True
    cur.execute("SELECT count(*) FROM t")
    cur.fetchall()
    assert not DIALECT.is_in_transaction(conn)
    cur.execute("SET autocommit = 0")  # changed behind the dialect's back: still reported correctly
    assert DIALECT.get_autocommit(conn) is False


@pytest.mark.parametrize("autocommit", [False, True])
def test_read_only_really_changes_the_session(conn: Any, admin: Any, database: str, autocommit: bool) -> None:
    DIALECT.set_autocommit(conn, autocommit)
    assert DIALECT.get_read_only(conn) is False
    DIALECT.set_read_only(conn, True)
    assert DIALECT.get_read_only(conn) is True
    assert not DIALECT.is_in_transaction(conn)
    cur = conn.cursor()
    with pytest.raises(mysql.connector.Error) as refused:
        cur.execute("INSERT INTO t VALUES (1, 'ro')")
    assert refused.value.errno == 1792  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    assert DIALECT.errors.is_read_only_error(refused.value)
    assert not DIALECT.errors.is_network_error(refused.value)
    DIALECT.rollback(conn)
    other = admin.cursor()
    other.execute(f"SELECT @@session.tx_read_only, (SELECT count(*) FROM {database}.t)")
    assert other.fetchall() == [(0, 0)]  # only that session changed
    DIALECT.set_read_only(conn, False)
    assert DIALECT.get_read_only(conn) is False
    cur.execute("INSERT INTO t VALUES (2, 'rw')")
    cur.execute("DELETE FROM t WHERE id = 2")
    conn.commit()


@pytest.mark.parametrize("level", ["READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_isolation_level(conn: Any, level: str) -> None:
    default = DIALECT.get_isolation_level(conn)
    assert default == "REPEATABLE READ"
    DIALECT.set_isolation_level(conn, level.lower())
    assert DIALECT.get_isolation_level(conn) == level
    assert DIALECT.query(conn, "SELECT @@session.tx_isolation") == [(level.replace(" ", "-"),)]
    DIALECT.set_isolation_level(conn, None)
    assert DIALECT.get_isolation_level(conn) == default
    with pytest.raises(ValueError, match="unknown isolation level"):
        DIALECT.set_isolation_level(conn, "chaos")


def test_variable_names_by_server_kind() -> None:
    class Fake:
        server_info = "8.0.36"

    class FakeMaria:
        server_info = "5.5.5-10.11.19-MariaDB-0+deb12u1"

    assert DIALECT._variable_names(Fake()) == ("transaction_read_only", "transaction_isolation")
    assert DIALECT._variable_names(FakeMaria()) == ("tx_read_only", "tx_isolation")


# -- auxiliary queries ---------------------------------------------------------------------------------------------


def test_query_preserves_transaction_status(conn: Any) -> None:
    assert not DIALECT.get_autocommit(conn)
    assert DIALECT.query(conn, "SELECT count(*) FROM t WHERE id > %s", (0,)) == [(0,)]
    assert not DIALECT.is_in_transaction(conn)  # the transaction the SELECT opened was committed
    with pytest.raises(mysql.connector.Error):
        DIALECT.query(conn, "SELECT * FROM t WHERE no_such_column = 1")
    assert not DIALECT.is_in_transaction(conn)
    cur = conn.cursor()
    cur.execute("INSERT INTO t VALUES (7, 'uncommitted')")
    assert DIALECT.is_in_transaction(conn)
    assert DIALECT.query(conn, "SELECT v FROM t WHERE id = 7") == [("uncommitted",)]
    assert DIALECT.is_in_transaction(conn)  # still the caller's transaction
    conn.rollback()
    assert DIALECT.query(conn, "SELECT count(*) FROM t WHERE id = 7") == [(0,)]
    assert DIALECT.query(conn, "DO 1") == []


def test_query_timeout_aborts(conn: Any) -> None:
    t0 = time.monotonic()
    with pytest.raises(mysql.connector.Error) as info:
        DIALECT.query(conn, "SELECT SLEEP(10)", timeout=0.3)
    assert 0.3 <= time.monotonic() - t0 < 1.0
    assert DIALECT.errors.is_network_error(info.value)
    assert DIALECT.is_closed(conn)


def test_ping(conn: Any) -> None:
    assert DIALECT.ping(conn, 2.0)
    DIALECT.abort(conn)
    assert not DIALECT.ping(conn, 2.0)


# -- abort -------------------------------------------------------------------------------------------------------------


def _blocked_call_latency(call: Any, abort: Any) -> tuple[BaseException, float]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            outcome["error"], outcome["at"] = exc, time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), "the call did not block"
    t0 = time.monotonic()
    abort()
    thread.join(5.0)
    assert not thread.is_alive()
    return outcome["error"], outcome["at"] - t0


def _execute(conn: Any, sql: str) -> None:
    cur = conn.cursor()
    cur.execute(sql)
    cur.fetchall()


def test_supports_abort(conn: Any, mode: str) -> None:
    assert DIALECT.supports_abort(conn)
    if mode == "cext":
        fd = _native_fd(conn._cmysql)
        with socket.socket(fileno=os.dup(fd)) as sock:
            assert sock.getpeername()[1] == MY_PORT


def test_abort_unblocks_a_running_query(conn: Any, mode: str) -> None:
    error, latency = _blocked_call_latency(
        lambda: _execute(conn, "SELECT SLEEP(30)"), lambda: DIALECT.abort(conn)
    )
    print(f"\nmysql {mode} abort-to-error latency: {latency * 1000:.2f} ms ({type(error).__name__}: {error})")
    assert latency < 0.1
    assert DIALECT.errors.is_network_error(error)
    assert DIALECT.is_closed(conn)
    with pytest.raises(mysql.connector.Error) as after:
        _execute(conn, "SELECT 1")
    assert DIALECT.errors.is_network_error(after.value)


def test_abort_unblocks_a_blackholed_query(mode: str, proxy: BlackholeProxy) -> None:
    c = _connect(mode, port=proxy.port)
    try:
        assert DIALECT.query(c, "SELECT 1") == [(1,)]
        proxy.blackhole.set()
        error, latency = _blocked_call_latency(lambda: _execute(c, "SELECT 1"), lambda: DIALECT.abort(c))
        assert latency < 0.1
        assert DIALECT.errors.is_network_error(error)
    finally:
        DIALECT.close(c)


def test_query_timeout_on_a_blackholed_connection(mode: str, proxy: BlackholeProxy) -> None:
    c = _connect(mode, port=proxy.port)
    try:
        proxy.blackhole.set()
        t0 = time.monotonic()
        with pytest.raises(mysql.connector.Error) as info:
            DIALECT.query(c, "SELECT 1", timeout=0.2)
        assert time.monotonic() - t0 < 1.0
        assert DIALECT.errors.is_network_error(info.value)
    finally:
        DIALECT.close(c)


def test_abort_is_safe_when_idle_closed_and_concurrent(mode: str) -> None:
    c = _connect(mode)
    DIALECT.abort(c)
    assert DIALECT.is_closed(c)
    with pytest.raises(mysql.connector.Error) as info:
        _execute(c, "SELECT 1")
    assert DIALECT.errors.is_network_error(info.value)
    threads = [threading.Thread(target=DIALECT.abort, args=(c,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    DIALECT.close(c)
    DIALECT.abort(c)  # closed: no-op, no exception


def test_abort_after_close_never_touches_a_reused_descriptor(mode: str) -> None:
    c = _connect(mode)
    fd = _native_fd(c._cmysql) if mode == "cext" else c._socket.sock.fileno()
    c.close()
    a, b = socket.socketpair()  # likely reuses the number the connection had
    try:
        DIALECT.abort(c)
        a.sendall(b"ping")
        assert b.recv(4) == b"ping"
        b.sendall(b"pong")
        assert a.recv(4) == b"pong"
        if fd not in (a.fileno(), b.fileno()):
            pytest.skip(f"descriptor {fd} was not reused; the check above still ran")
    finally:
        a.close()
        b.close()


def test_close_is_quiet(mode: str) -> None:
    c = _connect(mode)
    DIALECT.abort(c)
    DIALECT.close(c)
    DIALECT.close(c)
    assert DIALECT.is_closed(c)


def test_no_descriptor_leak(mode: str) -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        c = _connect(mode)
        DIALECT.supports_abort(c)
        DIALECT.is_closed(c)
        DIALECT.abort(c)
        DIALECT.close(c)
    assert len(os.listdir("/proc/self/fd")) == before
