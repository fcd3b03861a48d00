"""PsycopgDialect against the machine's PostgreSQL (127.0.0.1:5432, user postgres)."""

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
from aws_wrapper.core.driver._psycopg import PsycopgDialect, canonical_isolation_level
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.methods import NETWORK_BOUND_METHODS, DbApiMethod

pytest.importorskip("psycopg")
import psycopg

PG_HOST, PG_PORT = "127.0.0.1", 5432
BASE_ARGS: dict[str, Any] = {
    "user": "postgres",
    "dbname": "postgres",
    "connect_timeout": 3,
    "application_name": "aws-wrapper-core-tests",
}
DIALECT = PsycopgDialect()

pytestmark = pytest.mark.integration


def _connect(port: int = PG_PORT, **extra: Any) -> Any:
    return DIALECT.connect(psycopg.Connection.connect, {**BASE_ARGS, "host": PG_HOST, "port": port, **extra})


@pytest.fixture(scope="module")
def admin() -> Iterator[Any]:
    try:
        conn = psycopg.connect(host=PG_HOST, port=PG_PORT, autocommit=True, **BASE_ARGS)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_HOST}:{PG_PORT}: {exc}")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def table(admin: Any) -> Iterator[str]:
    name = f"c1_scratch_{uuid.uuid4().hex[:10]}"
    admin.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, v text)")
    yield name
    admin.execute(f"DROP TABLE IF EXISTS {name}")


@pytest.fixture
def conn(admin: Any) -> Iterator[Any]:
    c = _connect()
    pid = c.info.backend_pid
    yield c
    c.close()
    admin.execute("SELECT pg_terminate_backend(%s) FROM pg_stat_activity WHERE pid = %s", (pid, pid))


def _status(conn: Any) -> int:
    return int(conn.info.transaction_status)


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
    p = BlackholeProxy(PG_PORT)
    yield p
    p.close()


# -- detection and connect arguments ---------------------------------------------------------------------------------


def test_identity() -> None:
    assert (DIALECT.code, DIALECT.engine, DIALECT.default_port) == ("psycopg", "pg", 5432)
    # creating a psycopg cursor never touches the network (a named cursor is declared by its first execute)
    assert DIALECT.network_bound_methods == NETWORK_BOUND_METHODS - {DbApiMethod.CONNECTION_CURSOR}


def test_fetches_locally_only_for_client_side_cursors(conn: Any) -> None:
    client = conn.cursor()
    named = conn.cursor(name="aws_wrapper_test_named")
    try:
        assert DIALECT.fetches_locally(client)
        assert not DIALECT.fetches_locally(named)
    finally:
        client.close()
        named.close()


def test_matches() -> None:
    class MyConnection(psycopg.Connection[Any]):
        pass

    assert DIALECT.matches(psycopg.connect)
    assert DIALECT.matches(psycopg.Connection.connect)
    assert DIALECT.matches(MyConnection.connect)
    assert DIALECT.matches(psycopg.Connection.connect.__func__)  # type: ignore[attr-defined]
    assert not DIALECT.matches(psycopg.AsyncConnection.connect)
    assert not DIALECT.matches(lambda **kw: None)
    assert not DIALECT.matches(psycopg.Connection.cursor)


def test_matches_does_not_import_psycopg() -> None:
    code = (
        "import sys; from aws_wrapper.core.driver._psycopg import PsycopgDialect; "
        "print(PsycopgDialect().matches(print), 'psycopg' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_prepare_connect_args() -> None:
    config = CoreConfig.parse(
        {
            "database": "appdb",
            "connect_timeout": "2.5",
            "tcp_keepalive": "true",
            "tcp_keepalive_time": "30",
            "tcp_keepalive_interval": "4.2",
            "tcp_keepalive_probes": "3",
        }
    )
    props = {"user": "u", "password": "p", "sslmode": "disable", "application_name": "x", "port": "9999"}
    args = DIALECT.prepare_connect_args(HostInfo("db1", 6432), props, config)
    assert args == {
        "user": "u",
        "password": "p",
        "sslmode": "disable",
        "application_name": "x",
        "host": "db1",
        "port": 6432,
        "dbname": "appdb",
        "connect_timeout": 3,
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    assert all(type(args[k]) is int for k in ("port", "connect_timeout", "keepalives", "keepalives_idle"))
    assert props["port"] == "9999"  # the caller's mapping is not modified


def test_prepare_connect_args_minimal() -> None:
    args = DIALECT.prepare_connect_args(
        HostInfo("db1"), {"dbname": "x"}, CoreConfig.parse({"connect_timeout": "0.2"})
    )
    assert args == {
        "dbname": "x",
        "host": "db1",
        "connect_timeout": 1,
    }  # no port, at least 1 s, no keepalives
    off = DIALECT.prepare_connect_args(
        HostInfo("db1", 5432), {}, CoreConfig.parse({"tcp_keepalive": "false"})
    )
    assert off == {"host": "db1", "port": 5432, "keepalives": 0}


def test_prepared_arguments_are_accepted_by_psycopg(admin: Any) -> None:
    """Upstream passed keepalives='True', which libpq rejects; ints work."""
    config = CoreConfig.parse(
        {
            "database": "postgres",
            "connect_timeout": "2",
            "tcp_keepalive": "true",
            "tcp_keepalive_time": "10",
            "tcp_keepalive_interval": "2",
            "tcp_keepalive_probes": "3",
        }
    )
    args = DIALECT.prepare_connect_args(HostInfo(PG_HOST, PG_PORT), {"user": "postgres"}, config)
    c = DIALECT.connect(psycopg.Connection.connect, args)
    try:
        params = c.info.get_parameters()
        assert (params["keepalives"], params["keepalives_idle"], params["keepalives_count"]) == (
            "1",
            "10",
            "3",
        )
        assert params["dbname"] == "postgres"
        assert DIALECT.query(c, "SELECT current_database()") == [("postgres",)]
    finally:
        c.close()


def test_connect_passes_keywords_only() -> None:
    seen: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def fake(*args: Any, **kwargs: Any) -> str:
        seen.append((args, kwargs))
        return "conn"

    assert DIALECT.connect(fake, {"host": "h", "port": 1}) == "conn"
    assert seen == [((), {"host": "h", "port": 1})]


# -- state -----------------------------------------------------------------------------------------------------------


def test_connection_of_and_closed(conn: Any) -> None:
    cur = conn.cursor()
    assert DIALECT.connection_of(cur) is conn
    assert not DIALECT.is_closed(conn)
    conn.close()
    assert DIALECT.is_closed(conn)


def test_transaction_and_autocommit(conn: Any) -> None:
    assert DIALECT.get_autocommit(conn) is False
    assert not DIALECT.is_in_transaction(conn)
    conn.execute("SELECT 1")
    assert DIALECT.is_in_transaction(conn)
    conn.rollback()
    DIALECT.set_autocommit(conn, True)
    assert DIALECT.get_autocommit(conn) is True
    conn.execute("SELECT 1")
    assert not DIALECT.is_in_transaction(conn)


@pytest.mark.parametrize("autocommit", [False, True])
def test_read_only_is_enforced_by_the_server(conn: Any, table: str, autocommit: bool) -> None:
    conn.autocommit = autocommit
    assert DIALECT.get_read_only(conn) is False
    DIALECT.set_read_only(conn, True)
    assert DIALECT.get_read_only(conn) is True
    assert _status(conn) == 0  # setting it left no transaction open
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        conn.execute(f"INSERT INTO {table} VALUES (-1, 'ro')")
    assert DIALECT.errors.is_read_only_error(_last_error(conn, f"INSERT INTO {table} VALUES (-1, 'ro')"))
    DIALECT.set_read_only(conn, False)
    assert DIALECT.get_read_only(conn) is False
    key = 1000 + int(autocommit)
    conn.execute(f"INSERT INTO {table} VALUES ({key}, 'rw')")
    conn.execute(f"DELETE FROM {table} WHERE id = {key}")
    if not autocommit:
        conn.commit()


def _last_error(conn: Any, sql: str) -> BaseException:
    if not conn.autocommit:
        conn.rollback()
    try:
        conn.execute(sql)
    except psycopg.Error as exc:
        if not conn.autocommit:
            conn.rollback()
        return exc
    raise AssertionError(f"{sql!r} did not fail")


def test_read_only_cannot_change_inside_a_transaction(conn: Any) -> None:
    conn.execute("SELECT 1")
    with pytest.raises(psycopg.ProgrammingError):
        DIALECT.set_read_only(conn, True)
    conn.rollback()


@pytest.mark.parametrize("autocommit", [False, True])
@pytest.mark.parametrize("level", ["READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_isolation_level(conn: Any, level: str, autocommit: bool) -> None:
    conn.autocommit = autocommit
    assert DIALECT.get_isolation_level(conn) is None
    DIALECT.set_isolation_level(conn, level.lower().replace(" ", "_"))
    assert DIALECT.get_isolation_level(conn) == level
    with conn.cursor() as cur:
        cur.execute("SHOW transaction_isolation")
        row = cur.fetchone()
        assert row is not None
        assert row[0] == level.lower()  # in effect for the next transaction / statement
    if not autocommit:
        conn.rollback()
    DIALECT.set_isolation_level(conn, None)
    assert DIALECT.get_isolation_level(conn) is None
    assert DIALECT.query(conn, "SHOW default_transaction_isolation") == [("read committed",)]


def test_canonical_isolation_level() -> None:
    assert canonical_isolation_level("repeatable-read") == "REPEATABLE READ"
    assert canonical_isolation_level(" Read  Committed ") == "READ COMMITTED"
    with pytest.raises(ValueError, match="unknown isolation level 'snapshot'"):
        canonical_isolation_level("snapshot")


# -- auxiliary queries -------------------------------------------------------------------------------------------------


def test_query_preserves_idle_status(conn: Any, table: str) -> None:
    assert not conn.autocommit
    assert DIALECT.query(conn, f"SELECT count(*) FROM {table} WHERE id = %s", (1,)) == [(0,)]
    assert _status(conn) == 0  # no transaction left open
    assert conn.autocommit is False
    assert DIALECT.query(conn, "SET application_name = 'c1'") == []  # no rows for a command
    with pytest.raises(psycopg.errors.UndefinedTable):
        DIALECT.query(conn, "SELECT * FROM c1_no_such_table")
    assert _status(conn) == 0
    assert conn.autocommit is False


def test_query_inside_a_transaction_stays_in_it(conn: Any, table: str) -> None:
    conn.execute(f"INSERT INTO {table} VALUES (7, 'uncommitted')")
    assert _status(conn) == 2
    assert DIALECT.query(conn, f"SELECT v FROM {table} WHERE id = 7") == [("uncommitted",)]
    assert _status(conn) == 2
    conn.rollback()
    assert DIALECT.query(conn, f"SELECT count(*) FROM {table} WHERE id = 7") == [(0,)]


def test_query_uses_tuples_whatever_the_row_factory(conn: Any) -> None:
    from psycopg.rows import dict_row

    conn.row_factory = dict_row
    assert DIALECT.query(conn, "SELECT 1 AS a, 'x' AS b") == [(1, "x")]


def test_query_timeout_aborts(conn: Any) -> None:
    t0 = time.monotonic()
    with pytest.raises(psycopg.OperationalError) as info:
        DIALECT.query(conn, "SELECT pg_sleep(10)", timeout=0.3)
    elapsed = time.monotonic() - t0
    assert 0.3 <= elapsed < 1.0
    assert DIALECT.errors.is_network_error(info.value)
    assert DIALECT.is_closed(conn)


def test_ping(conn: Any) -> None:
    assert DIALECT.ping(conn, 2.0)
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT 1/0")
    assert DIALECT.ping(conn, 2.0)  # an error answer (failed transaction) still proves the server is there
    conn.rollback()
    DIALECT.abort(conn)
    assert not DIALECT.ping(conn, 2.0)


# -- abort -------------------------------------------------------------------------------------------------------------


def _blocked_call_latency(call: Any, abort: Any) -> tuple[BaseException, float]:
    """Run ``call`` in a thread, abort from this one; (error, seconds from abort to the error)."""
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


def test_abort_unblocks_a_running_query(conn: Any, admin: Any) -> None:
    error, latency = _blocked_call_latency(
        lambda: conn.execute("SELECT pg_sleep(30)"), lambda: DIALECT.abort(conn)
    )
    print(f"\npsycopg abort-to-error latency: {latency * 1000:.2f} ms ({type(error).__name__}: {error})")
    assert latency < 0.1
    assert DIALECT.errors.is_network_error(error)
    assert DIALECT.is_closed(conn)


def test_abort_unblocks_a_blackholed_query(proxy: BlackholeProxy) -> None:
    c = _connect(port=proxy.port)
    try:
        assert DIALECT.query(c, "SELECT 1") == [(1,)]
        proxy.blackhole.set()
        error, latency = _blocked_call_latency(lambda: c.execute("SELECT 1"), lambda: DIALECT.abort(c))
        assert latency < 0.1
        assert DIALECT.errors.is_network_error(error)
    finally:
        c.close()


def test_query_timeout_on_a_blackholed_connection(proxy: BlackholeProxy) -> None:
    c = _connect(port=proxy.port)
    try:
        proxy.blackhole.set()
        t0 = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as info:
            DIALECT.query(c, "SELECT 1", timeout=0.2)
        assert time.monotonic() - t0 < 1.0
        assert DIALECT.errors.is_network_error(info.value)
        assert not DIALECT.ping(c, 0.2)
    finally:
        c.close()


def test_abort_is_safe_on_idle_closed_and_concurrent(conn: Any) -> None:
    DIALECT.abort(conn)  # idle: the next call fails as a network error
    with pytest.raises(psycopg.OperationalError) as info:
        conn.execute("SELECT 1")
    assert DIALECT.errors.is_network_error(info.value)
    threads = [threading.Thread(target=DIALECT.abort, args=(conn,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn.close()
    DIALECT.abort(conn)  # closed: no-op, no exception


def test_abort_after_close_never_touches_a_reused_descriptor() -> None:
    c = _connect()
    fd = c.fileno()
    c.close()
    a, b = socket.socketpair()  # likely reuses the number the connection had
    try:
        reused = a if a.fileno() == fd else b if b.fileno() == fd else None
        DIALECT.abort(c)
        a.sendall(b"ping")
        assert b.recv(4) == b"ping"  # both ends still work
        b.sendall(b"pong")
        assert a.recv(4) == b"pong"
        if reused is None:
            pytest.skip(f"descriptor {fd} was not reused; the check above still ran")
    finally:
        a.close()
        b.close()


def test_close_and_rollback(conn: Any, table: str) -> None:
    conn.execute(f"INSERT INTO {table} VALUES (8, 'x')")
    DIALECT.rollback(conn)
    assert _status(conn) == 0
    DIALECT.abort(conn)
    DIALECT.close(conn)  # quiet on an aborted connection
    DIALECT.close(conn)
    assert DIALECT.is_closed(conn)


def test_no_descriptor_leak() -> None:
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        c = _connect()
        DIALECT.abort(c)
        c.close()
    assert len(os.listdir("/proc/self/fd")) == before
