"""The async MySQL driver dialects (mysql.connector.aio, aiomysql), the PyMySQL dialect and the MySQL network
operations written once (driver/_mysql_ops_async.py, driver/_pymysql_ops_async.py): matching, connect arguments,
error classification, and the operations' logic on fake connections. No server is needed."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from aws_wrapper.core import InterfaceError
from aws_wrapper.core._config import CoreConfig
from aws_wrapper.core.aio import _bridge
from aws_wrapper.core.aio._drivers import AsyncPsycopgDialect, async_driver_dialect_for
from aws_wrapper.core.aio._mysql_drivers import AsyncAioMySqlDialect, AsyncMySqlConnectorDialect
from aws_wrapper.core.driver import driver_dialect_for
from aws_wrapper.core.driver._classify import MYSQL_ERRORS, mysql_errno
from aws_wrapper.core.driver._mysql import MySqlConnectorDialect, abort_stream, stream_closed, was_aborted
from aws_wrapper.core.driver._mysql_ops_async import MySqlOpsAsync
from aws_wrapper.core.driver._mysql_ops_sync import MySqlOps
from aws_wrapper.core.driver._pymysql import PyMySqlDialect
from aws_wrapper.core.driver._pymysql_ops_async import PyMySqlOpsAsync
from aws_wrapper.core.driver._pymysql_ops_sync import PyMySqlOps
from aws_wrapper.core.errors import ConfigurationError, QueryTimeoutError
from aws_wrapper.core.hostinfo import HostInfo

mysql_aio: Any = pytest.importorskip("mysql.connector.aio")
aiomysql: Any = pytest.importorskip("aiomysql")
pymysql: Any = pytest.importorskip("pymysql")
import mysql.connector  # noqa: E402  (after the skips above)

ERR = pymysql.err


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _aiomysql_conn() -> Any:
    """An aiomysql connection object that never connected (``_writer`` set: its ``__del__`` reads it)."""
    conn = object.__new__(aiomysql.Connection)
    conn._writer = None
    return conn


# -- matching ----------------------------------------------------------------------------------------------------


def test_each_async_dialect_matches_only_its_drivers_async_connect(loop: asyncio.AbstractEventLoop) -> None:
    mc, aio = AsyncMySqlConnectorDialect(loop), AsyncAioMySqlDialect(loop)
    assert mc.matches(mysql_aio.connect)
    assert aio.matches(aiomysql.connect)
    for func in (mysql.connector.connect, pymysql.connect, print):
        assert not mc.matches(func)
        assert not aio.matches(func)
    assert not mc.matches(aiomysql.connect)
    assert not aio.matches(mysql_aio.connect)
    assert (mc.code, aio.code) == ("mysql-connector-python", "aiomysql")
    assert mc.is_async
    assert aio.is_async
    assert mc.engine == aio.engine == "mysql"


def test_async_driver_dialect_for_picks_the_mysql_dialects(loop: asyncio.AbstractEventLoop) -> None:
    assert isinstance(async_driver_dialect_for(mysql_aio.connect, loop), AsyncMySqlConnectorDialect)
    assert isinstance(async_driver_dialect_for(aiomysql.connect, loop), AsyncAioMySqlDialect)
    assert isinstance(async_driver_dialect_for(print, loop, "aiomysql"), AsyncAioMySqlDialect)
    forced = async_driver_dialect_for(print, loop, "mysql-connector-python")
    assert isinstance(forced, AsyncMySqlConnectorDialect)
    with pytest.raises(ConfigurationError, match=r"'nope'.*psycopg, mysql-connector-python, aiomysql"):
        async_driver_dialect_for(print, loop, "nope")
    with pytest.raises(
        ConfigurationError, match=r"no async driver dialect for Connection.*aiomysql\.connect"
    ):
        async_driver_dialect_for(pymysql.connect, loop)  # the sync API
    assert isinstance(async_driver_dialect_for(print, loop, "psycopg"), AsyncPsycopgDialect)


def test_pymysql_is_a_sync_driver_dialect() -> None:
    class MyConnection(pymysql.connections.Connection):  # type: ignore[misc]
        pass

    dialect = PyMySqlDialect()
    assert (dialect.code, dialect.engine, dialect.default_port) == ("pymysql", "mysql", 3306)
    assert dialect.matches(pymysql.connect)
    assert dialect.matches(pymysql.Connect)
    assert dialect.matches(MyConnection)
    assert not dialect.matches(aiomysql.connect)
    assert not dialect.matches(mysql.connector.connect)
    assert not dialect.serializes_calls
    assert isinstance(driver_dialect_for(pymysql.connect), PyMySqlDialect)
    assert isinstance(driver_dialect_for(print, "pymysql"), PyMySqlDialect)
    assert isinstance(driver_dialect_for(mysql.connector.connect), MySqlConnectorDialect)


def test_sync_twins(loop: asyncio.AbstractEventLoop) -> None:
    dialect, connect = AsyncMySqlConnectorDialect(loop).sync_twin()
    assert type(dialect) is MySqlConnectorDialect
    assert connect is mysql.connector.connect
    dialect, connect = AsyncAioMySqlDialect(loop).sync_twin()
    assert type(dialect) is PyMySqlDialect
    assert connect is pymysql.connect


def test_nothing_imports_a_mysql_driver_before_it_is_used() -> None:
    code = (
        "import sys\n"
        "import aws_wrapper.core, aws_wrapper.core.aio\n"
        "assert 'aws_wrapper.core.aio._mysql_drivers' not in sys.modules\n"
        "from aws_wrapper.core.aio._mysql_drivers import AsyncAioMySqlDialect, AsyncMySqlConnectorDialect\n"
        "from aws_wrapper.core.driver._pymysql import PyMySqlDialect\n"
        "import asyncio\n"
        "loop = asyncio.new_event_loop()\n"
        "for d in (AsyncAioMySqlDialect(loop), AsyncMySqlConnectorDialect(loop), PyMySqlDialect()):\n"
        "    assert not d.matches(print)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mysql', 'aiomysql', 'pymysql')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# -- connect arguments ---------------------------------------------------------------------------------------------


_CONFIG = CoreConfig.parse(
    {"database": "appdb", "connect_timeout": "2.5", "tcp_keepalive": "true", "tcp_keepalive_time": "30"}
)


def test_aiomysql_arguments(loop: asyncio.AbstractEventLoop) -> None:
    dialect = AsyncAioMySqlDialect(loop)
    props = {"user": "u", "passwd": "p", "charset": "utf8mb4", "echo": True}
    args = dialect.prepare_connect_args(HostInfo("db1", 3307), props, _CONFIG)
    # keepalive: no aiomysql option (it turns SO_KEEPALIVE on itself); "db" is aiomysql's name for the database
    assert args == {
        "user": "u",
        "password": "p",
        "charset": "utf8mb4",
        "echo": True,
        "host": "db1",
        "port": 3307,
        "db": "appdb",
        "connect_timeout": 2.5,
    }
    minimal = dialect.prepare_connect_args(HostInfo("db1", -1), {}, CoreConfig.parse({}).for_connect())
    assert minimal == {"host": "db1", "connect_timeout": 30.0}

    async def build() -> Any:  # aiomysql takes the arguments (the constructor does not connect)
        conn = aiomysql.connection.Connection(**args)
        return conn.db, conn.port, conn.connect_timeout

    assert asyncio.run(build()) == ("appdb", 3307, 2.5)


def test_pymysql_arguments_also_take_an_aiomysql_connections_settings() -> None:
    dialect = PyMySqlDialect()
    props = {"user": "u", "passwd": "p", "db": "other", "echo": True, "loop": None, "charset": "utf8mb4"}
    args = dialect.prepare_connect_args(HostInfo("db1", 3307), props, _CONFIG)
    assert args == {
        "user": "u",
        "password": "p",
        "charset": "utf8mb4",
        "host": "db1",
        "port": 3307,
        "database": "appdb",  # the wrapper's database setting wins over the driver alias
        "connect_timeout": 2.5,
    }
    conn = pymysql.connections.Connection(defer_connect=True, **args)  # accepted, no warning, no network
    assert (conn.host, conn.port, conn.db, conn.connect_timeout) == ("db1", 3307, "appdb", 2.5)
    aliased = dialect.prepare_connect_args(
        HostInfo("h", -1), {"db": "x", "passwd": "y"}, CoreConfig.parse({})
    )
    assert aliased == {"host": "h", "database": "x", "password": "y"}


def test_mysql_connector_aio_arguments(loop: asyncio.AbstractEventLoop) -> None:
    args = AsyncMySqlConnectorDialect(loop).prepare_connect_args(
        HostInfo("db1", 3307), {"user": "u"}, _CONFIG
    )
    assert args == {"user": "u", "host": "db1", "port": 3307, "database": "appdb", "connection_timeout": 3}


# -- error classification -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", [2003, 2006, 2013, 2055, 1053, 1927])
def test_pymysql_network_errors(number: int) -> None:
    error = ERR.OperationalError(number, "Lost connection to MySQL server during query")
    assert mysql_errno(error) == number
    assert MYSQL_ERRORS.is_network_error(error)
    assert not MYSQL_ERRORS.is_login_error(error)
    assert not MYSQL_ERRORS.is_read_only_error(error)


def test_pymysql_network_error_recognised_by_its_message_and_through_a_wrapper_error() -> None:
    lost = ERR.InterfaceError(0, "Lost connection to MySQL server during query (timed out)")
    assert MYSQL_ERRORS.is_network_error(lost)
    wrapped = QueryTimeoutError("socket_timeout exceeded", driver_error=ERR.OperationalError(2013, "lost"))
    assert MYSQL_ERRORS.is_network_error(wrapped)
    chained = InterfaceError("the wrapper gave up")
    chained.__cause__ = ERR.OperationalError(2003, "Can't connect to MySQL server on 'db1'")
    assert MYSQL_ERRORS.is_network_error(chained)


def test_pymysql_login_errors_are_never_network_errors() -> None:
    denied = ERR.OperationalError(1045, "Access denied for user 'app'@'10.0.0.1' (using password: YES)")
    assert MYSQL_ERRORS.is_login_error(denied)
    assert not MYSQL_ERRORS.is_network_error(denied)


@pytest.mark.parametrize(
    ("number", "message", "read_only"),
    [
        (
            1290,
            "The MariaDB server is running with the --read-only option so it cannot execute this statement",
            True,
        ),
        (1290, "The MySQL server is running with the --secure-file-priv option", False),
        (1792, "Cannot execute statement in a READ ONLY transaction.", True),
        (1836, "Running in read-only mode", True),
        (1064, "You have an error in your SQL syntax", False),
    ],
)
def test_pymysql_read_only_errors(number: int, message: str, read_only: bool) -> None:
    error = ERR.InternalError(number, message) if number == 1792 else ERR.OperationalError(number, message)
    assert MYSQL_ERRORS.is_read_only_error(error) is read_only
    assert not MYSQL_ERRORS.is_network_error(error)


def test_programming_errors_and_foreign_errors_are_not_classified() -> None:
    syntax = ERR.ProgrammingError(1064, "You have an error in your SQL syntax")
    assert not MYSQL_ERRORS.is_network_error(syntax)
    assert not MYSQL_ERRORS.is_login_error(syntax)
    foreign = ValueError(2013, "Lost connection to MySQL server during query")  # not a MySQL driver's error
    assert mysql_errno(ValueError("x")) is None
    assert not MYSQL_ERRORS.is_network_error(foreign)


def test_mysql_errno_of_both_error_styles() -> None:
    from mysql.connector import errors

    assert mysql_errno(errors.ProgrammingError(msg="Unknown system variable", errno=1193)) == 1193
    assert mysql_errno(ERR.OperationalError(1193, "Unknown system variable 'tx_read_only'")) == 1193
    assert mysql_errno(ERR.InterfaceError()) is None


# -- the network operations, on fake connections ---------------------------------------------------------------------


class FakeCursor:
    def __init__(self, conn: FakeConn) -> None:
        self.conn = conn
        self.description: Any = None
        self.rows: list[Any] = []
        self.closed = False

    def execute(self, sql: str, params: Any = None) -> None:
        self.conn.log.append((sql, params))
        answer = self.conn.answers.get(sql)
        if isinstance(answer, Exception):
            if not self.conn.autocommit:
                self.conn.in_transaction = True  # the failed statement began a transaction
            raise answer
        if not self.conn.autocommit:
            self.conn.in_transaction = True
        if answer is not None:
            self.description = [("v",)]
            self.rows = list(answer)

    def fetchall(self) -> list[Any]:
        return self.rows

    def close(self) -> None:
        self.closed = True


class FakeConn:
    """The sync mysql-connector surface the ops use."""

    server_info = "10.11.6-MariaDB"

    def __init__(self, answers: dict[str, Any] | None = None, autocommit: bool = False) -> None:
        self.answers = answers or {}
        self.autocommit = autocommit
        self.in_transaction = False
        self.log: list[Any] = []
        self.cursors: list[tuple[FakeCursor, dict[str, Any]]] = []

    def cursor(self, **kwargs: Any) -> FakeCursor:
        cursor = FakeCursor(self)
        self.cursors.append((cursor, kwargs))
        return cursor

    def commit(self) -> None:
        self.log.append("COMMIT")
        self.in_transaction = False

    def rollback(self) -> None:
        self.log.append("ROLLBACK")
        self.in_transaction = False


def test_run_leaves_the_transaction_status_as_it_found_it() -> None:
    ops = MySqlOps()
    conn = FakeConn({"SELECT 1": [(1,)]})
    assert ops.run(conn, "SELECT 1", ()) == [(1,)]
    assert conn.log == [("SELECT 1", None), "COMMIT"]  # the query opened a transaction: committed
    cursor, kwargs = conn.cursors[0]
    assert kwargs == {"buffered": True, "raw": False}
    assert cursor.closed
    conn.in_transaction, conn.log = True, []
    ops.run(conn, "SELECT 1", [7])
    assert conn.log == [("SELECT 1", (7,))]  # inside the application's transaction: left open
    assert conn.in_transaction


def test_run_rolls_back_a_transaction_it_opened_when_the_statement_fails() -> None:
    conn = FakeConn({"BAD": ValueError("boom")})
    with pytest.raises(ValueError, match="boom"):
        MySqlOps().run(conn, "BAD", ())
    assert conn.log == [("BAD", None), "ROLLBACK"]
    assert not conn.in_transaction
    assert conn.cursors[0][0].closed


def test_session_variables_fall_back_to_the_other_servers_names() -> None:
    unknown = ERR.OperationalError(1193, "Unknown system variable 'tx_read_only'")
    conn = FakeConn(
        {"SELECT @@session.tx_read_only": unknown, "SELECT @@session.transaction_read_only": [(1,)]}
    )
    conn.autocommit = True
    assert MySqlOps().read_only(conn) is True
    conn.answers["SELECT @@session.tx_isolation"] = [("READ-COMMITTED",)]
    assert MySqlOps().isolation_level(conn) == "READ COMMITTED"
    conn.answers["SET SESSION tx_isolation = DEFAULT"] = unknown
    conn.log = []
    MySqlOps().set_isolation_level(conn, None)
    assert [entry[0] for entry in conn.log] == [
        "SET SESSION tx_isolation = DEFAULT",
        "SET SESSION transaction_isolation = DEFAULT",
    ]
    with pytest.raises(ERR.OperationalError):
        MySqlOps().set_isolation_level(
            FakeConn({"SET SESSION tx_isolation = DEFAULT": ERR.OperationalError(1064)}), None
        )


def test_autocommit_is_assigned_on_the_sync_api_and_awaited_on_the_aio_one() -> None:
    conn = FakeConn()
    MySqlOps().set_autocommit(conn, True)
    assert conn.autocommit is True

    class AioConn:
        value: bool | None = None

        async def set_autocommit(self, value: bool) -> None:
            self.value = value

    aio = AioConn()
    asyncio.run(MySqlOpsAsync().set_autocommit(aio, True))
    assert aio.value is True


class FakeAioCursor:
    def __init__(self) -> None:
        self.description = [("v",)]
        self.closed = False

    async def execute(self, sql: str, params: Any = None) -> None:
        self.sql = sql

    async def fetchall(self) -> list[Any]:
        return [(1,)]

    async def close(self) -> None:
        self.closed = True


class FakeAioMySqlConn:
    """aiomysql's surface: ``cursor()`` returns an awaitable, state in ``server_status``, QUIT is
    ``ensure_closed``."""

    def __init__(self, fail_quit: bool = False) -> None:
        self.server_status = 0x0002
        self.made: list[Any] = []
        self.fail_quit = fail_quit
        self.closed_by: list[str] = []

    def cursor(self, cls: Any) -> Any:
        self.made.append(cls)
        cursor = FakeAioCursor()

        async def make() -> FakeAioCursor:
            return cursor

        return make()

    def get_server_info(self) -> str:
        return "8.0.36"

    async def ensure_closed(self) -> None:
        if self.fail_quit:
            raise ConnectionResetError("peer gone")
        self.closed_by.append("ensure_closed")

    def close(self) -> None:
        self.closed_by.append("close")


def test_pymysql_family_ops_on_aiomysql_style_connections() -> None:
    ops = PyMySqlOpsAsync()
    conn = FakeAioMySqlConn()
    assert asyncio.run(ops.run(conn, "SELECT 1", ())) == [(1,)]
    assert conn.made == [aiomysql.cursors.Cursor]  # a plain tuple cursor, whatever the connection's default
    assert not ops.in_transaction(conn)
    conn.server_status |= 0x0001
    assert ops.in_transaction(conn)
    assert ops.variable_names(conn) == ("transaction_read_only", "transaction_isolation")
    asyncio.run(ops.close(conn))
    assert conn.closed_by == ["ensure_closed"]
    broken = FakeAioMySqlConn(fail_quit=True)
    asyncio.run(ops.close(broken))  # quiet, and the transport is dropped all the same
    assert broken.closed_by == ["close"]


def test_pymysql_ops_on_a_pymysql_connection_without_network() -> None:
    conn = pymysql.connections.Connection(defer_connect=True, host="h")
    conn.server_status = 0x0001
    ops = PyMySqlOps()
    assert ops.in_transaction(conn)
    ops.close(conn)  # never connected: quiet
    ops.close(conn)  # "Already closed": quiet


# -- the async dialects' own logic -------------------------------------------------------------------------------


def test_fetches_locally_only_for_buffered_cursors(loop: asyncio.AbstractEventLoop) -> None:
    from mysql.connector.aio import cursor as aio_cursor

    mc = AsyncMySqlConnectorDialect(loop)
    assert mc.fetches_locally(object.__new__(aio_cursor.MySQLCursorBuffered))
    assert mc.fetches_locally(object.__new__(aio_cursor.MySQLCursorBufferedDict))
    assert not mc.fetches_locally(object.__new__(aio_cursor.MySQLCursor))
    aio = AsyncAioMySqlDialect(loop)
    assert aio.fetches_locally(object.__new__(aiomysql.cursors.Cursor))
    assert aio.fetches_locally(object.__new__(aiomysql.cursors.DictCursor))
    assert not aio.fetches_locally(object.__new__(aiomysql.cursors.SSCursor))
    assert not aio.fetches_locally(object.__new__(aiomysql.cursors.SSDictCursor))


def test_closed_and_unconnected_async_connections(loop: asyncio.AbstractEventLoop) -> None:
    mc, aio = AsyncMySqlConnectorDialect(loop), AsyncAioMySqlDialect(loop)
    mc_conn, aio_conn = object.__new__(mysql_aio.MySQLConnection), _aiomysql_conn()
    mc_conn._socket = None
    for dialect, conn in ((mc, mc_conn), (aio, aio_conn)):
        assert dialect.is_closed(conn)
        assert not dialect.supports_abort(conn)
        dialect.abort(conn)  # nothing to shut down: quiet
        assert dialect.connection_lock(conn) is None
        assert dialect.awaits_cursor
    mc_conn._autocommit = True
    assert mc.get_autocommit(mc_conn) is True  # the driver's own record: no round trip


class FakeSessionOps(MySqlOpsAsync):
    """Session settings kept in memory: what the async dialect remembers for reads on the event loop."""

    def __init__(self) -> None:
        self.read_only_value = False
        self.isolation = "REPEATABLE READ"

    async def read_only(self, conn: Any) -> bool:
        return self.read_only_value

    async def set_read_only(self, conn: Any, value: bool) -> None:
        self.read_only_value = value

    async def isolation_level(self, conn: Any) -> str | None:
        return self.isolation

    async def set_isolation_level(self, conn: Any, level: str | None) -> None:
        self.isolation = level or "REPEATABLE READ"


def test_session_values_on_the_event_loop_are_the_last_ones_set_or_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(AsyncMySqlConnectorDialect, "_aops", FakeSessionOps())

    async def main() -> None:
        dialect = AsyncMySqlConnectorDialect(asyncio.get_running_loop())
        conn = object.__new__(mysql_aio.MySQLConnection)
        with pytest.raises(
            InterfaceError, match=r"read_only of this mysql-connector-python connection is not known"
        ):
            dialect.get_read_only(conn)  # on the loop: cannot wait for a query
        with pytest.raises(InterfaceError, match=r"set_isolation_level"):
            dialect.get_isolation_level(conn)
        await _bridge.run_sync(dialect.set_read_only, conn, True)  # the wrapper's sync code, on a worker
        assert dialect.get_read_only(conn) is True
        assert (
            await _bridge.run_sync(dialect.get_isolation_level, conn) == "REPEATABLE READ"
        )  # read: remembered
        assert dialect.get_isolation_level(conn) == "REPEATABLE READ"
        await _bridge.run_sync(dialect.set_isolation_level, conn, "read-committed")
        assert dialect.get_isolation_level(conn) == "READ COMMITTED"
        await _bridge.run_sync(dialect.set_isolation_level, conn, None)  # the server's default: unknown again
        with pytest.raises(InterfaceError):
            dialect.get_isolation_level(conn)
        with pytest.raises(ValueError, match="'sometimes'"):
            await _bridge.run_sync(dialect.set_isolation_level, conn, "sometimes")

    asyncio.run(main())


def test_sync_twin_connections_are_left_to_the_sync_dialect(loop: asyncio.AbstractEventLoop) -> None:
    conn = FakeConn({"SELECT @@session.tx_read_only": [(0,)]}, autocommit=True)
    dialect = AsyncMySqlConnectorDialect(loop)  # its loop never runs: nothing may be handed to it
    assert dialect.get_read_only(conn) is False
    dialect.set_autocommit(conn, False)
    assert conn.autocommit is False
    assert dialect.query(conn, "SELECT @@session.tx_read_only") == [(0,)]


def test_abort_stream_ends_a_pending_read_from_another_thread() -> None:
    async def main() -> tuple[bytes, float, bool, bool]:
        mine, peer = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=mine)
        key = FakeConn()  # what the dialect records the abort against
        assert not stream_closed(key, writer)
        pending = asyncio.ensure_future(reader.read(1))
        await asyncio.sleep(0.05)
        start = time.monotonic()
        thread = threading.Thread(target=lambda: abort_stream(writer))
        thread.start()
        data = await asyncio.wait_for(pending, 2.0)
        elapsed = time.monotonic() - start
        thread.join()
        closed = stream_closed(key, writer)
        writer.close()
        peer.close()
        return data, elapsed, closed, was_aborted(key)

    data, elapsed, closed, aborted = asyncio.run(main())
    assert data == b""  # end of stream: the driver's "lost connection" error
    assert elapsed < 1.0
    assert closed  # by the socket's state: the dialects mark only their own aborts
    assert not aborted
    assert abort_stream(None) is False


def test_a_server_without_tls_gets_a_clear_error_from_mysql_connector_aio() -> None:
    async def fails(**kwargs: Any) -> Any:
        raise TypeError("cannot unpack non-iterable NoneType object")  # what mysql.connector.aio 9.x raises

    async def main() -> None:
        dialect = AsyncMySqlConnectorDialect(asyncio.get_running_loop())
        with pytest.raises(InterfaceError, match=r"'db1'.*does not offer TLS.*ssl_disabled=True"):
            await _bridge.run_sync(dialect.connect, fails, {"host": "db1"})
        with pytest.raises(TypeError):  # TLS already off: some other problem, left as it is
            await _bridge.run_sync(dialect.connect, fails, {"host": "db1", "ssl_disabled": True})

    asyncio.run(main())
