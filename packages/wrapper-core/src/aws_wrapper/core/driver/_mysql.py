"""Driver dialect for mysql-connector-python: the pure-Python ``MySQLConnection`` and the C extension's
``CMySQLConnection``. mysql-connector is imported only when used.

Choices worth knowing:

* **No keepalive options.** mysql-connector has no per-connection TCP keepalive setting, so ``tcp_keepalive*``
  are not passed (an unknown keyword would fail the connect); use the operating system's defaults.
* **is_closed never touches the network.** The driver's ``is_connected()`` pings the server on the caller's
  thread and can hang on a dead host. Instead: the driver's local state (pure: the socket object is gone or
  closed; C extension: ``connected()`` and libmysqlclient's socket handle), an abort done by this dialect, and a
  zero-timeout ``poll()`` of the socket, which reports a peer that closed the connection (or a local shutdown).
* **abort** shuts the TCP socket down from the calling thread; a call blocked in another thread fails at once
  with error 2013 *Lost connection to MySQL server during query*. Pure Python: ``shutdown()`` on the driver's own
  socket object. C extension: libmysqlclient does not expose its socket, so the descriptor is read from the
  ``MYSQL`` structure embedded in the extension's connection object (``NET.fd``, the fifth pointer-sized member;
  ``NET.vio`` is zeroed when the connection is closed). Before the first use the descriptor is checked: it must be
  a stream socket connected to the server's port (or a Unix socket), and its local/peer address pair is recorded at
  connect time and compared again, through a pinned duplicate, before the shutdown. If the check fails (another
  extension layout), ``supports_abort`` is False for that connection and abort does nothing.
* **read_only and isolation level** are session settings on the server: ``SET SESSION TRANSACTION READ ONLY`` /
  ``READ WRITE`` / ``ISOLATION LEVEL ...``, read back from ``@@session.tx_read_only`` / ``@@session.tx_isolation``
  on MariaDB (10.x has no ``transaction_*`` names) and ``@@session.transaction_read_only`` /
  ``@@session.transaction_isolation`` on MySQL 8 (which removed the ``tx_*`` names). Reading them is a query.
* **network operations** (auxiliary queries, session variables, autocommit, rollback, close) are written once in
  ``_mysql_ops_async.py``; this dialect uses the generated sync twin ``_mysql_ops_sync.py`` (and the PyMySQL
  dialect, ``_pymysql.py``, a variant of it), the async dialects the coroutines.
"""

from __future__ import annotations

import logging
import math
import select
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from .._locks import AbstractLock
from .._watchdog import shutdown_socket_fd
from ..hostinfo import HostInfo
from ..methods import NETWORK_BOUND_METHODS, DbApiMethod
from ..plugin import RawConnection
from ..records import record
from ._classify import MYSQL_ERRORS
from ._common import DialectCommon
from ._mysql_ops_sync import ISOLATION, READ_ONLY, MySqlOps
from ._psycopg import canonical_isolation_level

if TYPE_CHECKING:
    from .._config import CoreConfig
    from ..services import ErrorClassifier

__all__ = [
    "MySqlConnectorDialect",
    "MySqlDialectBase",
    "abort_stream",
    "is_aio_connection",
    "mark_aborted",
    "socket_closed",
    "stream_closed",
    "stream_socket",
    "was_aborted",
]

logger = logging.getLogger("aws_wrapper.core")

_STATUS_AUTOCOMMIT = 0x0002  # SERVER_STATUS_AUTOCOMMIT in the server status flags
_MYSQL_NETWORK_BOUND = NETWORK_BOUND_METHODS - {DbApiMethod.CONNECTION_CLOSE, DbApiMethod.CURSOR_CALLPROC}

_POLL_CLOSED = (
    getattr(select, "POLLRDHUP", 0)
    | getattr(select, "POLLHUP", 0)
    | getattr(select, "POLLERR", 0)
    | getattr(select, "POLLNVAL", 0)
)


@record()
class _ConnState:
    """What this dialect knows about one connection (kept weakly, keyed by the connection)."""

    native: Any = None  # the C extension's _mysql_connector.MySQL object `identity` belongs to
    identity: tuple[object, object] | None = None  # (local address, peer address) of its socket at connect
    abortable: bool | None = None  # C extension: whether the socket descriptor could be located and checked
    aborted: bool = False


_states: weakref.WeakKeyDictionary[Any, _ConnState] = weakref.WeakKeyDictionary()
_states_lock = threading.Lock()


def _state(conn: RawConnection, create: bool = True) -> _ConnState | None:
    with _states_lock:
        state = _states.get(conn)
        if state is None and create:
            state = _states[conn] = _ConnState()
        return state


# -- the C extension's socket ---------------------------------------------------------------------------------


def _native_fd(native: object) -> int:
    """The socket descriptor libmysqlclient uses for ``native`` (a ``_mysql_connector.MySQL``), or -1 when its
    connection is closed. Reads ``MYSQL.net.vio`` and ``MYSQL.net.fd`` from the object's memory; ``native`` must be
    kept alive by the caller."""
    import ctypes

    base = id(native) + object.__basicsize__  # the MYSQL struct follows the object header
    if not ctypes.c_void_p.from_address(base).value:  # net.vio: zeroed when the connection ends
        return -1
    return int(ctypes.c_int.from_address(base + 5 * ctypes.sizeof(ctypes.c_void_p)).value)  # net.fd


def _describe(sock: socket.socket) -> tuple[object, object]:
    return sock.getsockname(), sock.getpeername()


def _fd_identity(fd: int) -> tuple[int, int, tuple[object, object]] | None:
    """(family, type, (local, peer)) of the socket behind ``fd``, or None if it is not a connected socket."""
    sock: socket.socket | None = None
    try:
        import os

        dup = os.dup(fd)
        try:
            was_blocking = os.get_blocking(dup)
            sock = socket.socket(fileno=dup)
            if os.get_blocking(dup) != was_blocking:
                os.set_blocking(dup, was_blocking)
        except Exception:
            if sock is None:
                os.close(dup)
            raise
        return int(sock.family), int(sock.type), _describe(sock)
    except Exception:
        return None
    finally:
        if sock is not None:
            sock.close()


def _plausible(conn: RawConnection, family: int, kind: int, identity: tuple[object, object]) -> bool:
    """Whether a socket looks like the one of ``conn``: a stream socket to the server's port, or a Unix socket."""
    if kind != socket.SOCK_STREAM:
        return False
    if family == getattr(socket, "AF_UNIX", -1):
        return bool(getattr(conn, "unix_socket", None))
    peer = identity[1]
    port = getattr(conn, "server_port", None)
    return isinstance(peer, tuple) and len(peer) >= 2 and port is not None and peer[1] == int(port)


def _check_native(conn: RawConnection) -> _ConnState:
    """Locate and check the C extension connection's socket; record it (once per native connection object)."""
    native = getattr(conn, "_cmysql", None)
    state = _state(conn)
    assert state is not None
    if state.native is native and state.abortable is not None:
        return state
    ok = False
    identity: tuple[object, object] | None = None
    try:
        if native is not None and native.connected():
            fd = _native_fd(native)
            found = _fd_identity(fd) if fd >= 0 else None
            if found is not None and _plausible(conn, *found):
                ok, identity = True, found[2]
    except Exception:
        logger.debug("could not locate the socket of a mysql C extension connection", exc_info=True)
    state.native, state.identity, state.abortable = native, identity, ok
    if not ok and logger.isEnabledFor(logging.DEBUG):
        logger.debug("mysql C extension connection %r: socket not located, abort unsupported", conn)
    return state


def _peer_gone(fd: int) -> bool:
    """Non-blocking: whether the socket reports hang-up/half-close (peer closed, local shutdown, error)."""
    if not hasattr(select, "poll"):
        return False
    poller = select.poll()
    poller.register(fd, select.POLLIN | getattr(select, "POLLRDHUP", 0))
    try:
        events = poller.poll(0)
    except OSError:
        return True
    return any(mask & _POLL_CLOSED for _fd, mask in events)


def _is_native(conn: RawConnection) -> bool:
    return hasattr(conn, "_cmysql")


class MySqlDialectBase(DialectCommon):
    """What the MySQL driver dialects share: the engine, error classification, calls serialized by the wrapper
    (no driver has a lock of its own), and the session settings and auxiliary queries of the ops class ``_ops``
    (generated from ``_mysql_ops_async.py``). A subclass names its driver and provides the rest."""

    _ops: ClassVar[MySqlOps] = MySqlOps()

    @property
    def code(self) -> str:
        raise NotImplementedError

    @property
    def engine(self) -> str:
        return "mysql"

    @property
    def default_port(self) -> int:
        return 3306

    @property
    def network_bound_methods(self) -> frozenset[DbApiMethod]:
        return _MYSQL_NETWORK_BOUND

    @property
    def errors(self) -> ErrorClassifier:
        return MYSQL_ERRORS

    def is_in_transaction(self, conn: RawConnection) -> bool:
        return self._ops.in_transaction(conn)

    def set_autocommit(self, conn: RawConnection, value: bool) -> None:
        self._ops.set_autocommit(conn, value)

    def get_read_only(self, conn: RawConnection) -> bool:
        return self._ops.read_only(conn)

    def set_read_only(self, conn: RawConnection, value: bool) -> None:
        self._ops.set_read_only(conn, value)

    def get_isolation_level(self, conn: RawConnection) -> str | None:
        return self._ops.isolation_level(conn)

    def set_isolation_level(self, conn: RawConnection, level: str | None) -> None:
        self._ops.set_isolation_level(conn, None if level is None else canonical_isolation_level(level))

    @property
    def serializes_calls(self) -> bool:
        return False

    def connection_lock(self, conn: RawConnection) -> AbstractLock | None:
        return None  # MySQL drivers have no lock of their own: the wrapper serializes calls

    def rollback(self, conn: RawConnection) -> None:
        self._ops.rollback(conn)

    def close(self, conn: RawConnection) -> None:
        self._ops.close(conn)

    def ping(self, conn: RawConnection, timeout: float) -> bool:
        try:
            self.query(conn, "SELECT 1", timeout=timeout)
        except Exception as error:
            # An error answer still proves the server is there.
            return not MYSQL_ERRORS.is_network_error(error)
        return True

    def _run(self, conn: RawConnection, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        return self._ops.run(conn, sql, params)

    def _variable_names(self, conn: RawConnection) -> tuple[str, str]:
        """(read-only, isolation) session variable names for the server behind ``conn``."""
        return self._ops.variable_names(conn)

    def _session_variable(self, conn: RawConnection, which: str) -> Any:
        return self._ops.read_variable(conn, READ_ONLY if which == "read_only" else ISOLATION)


class MySqlConnectorDialect(MySqlDialectBase):
    """mysql-connector-python, pure Python and C extension."""

    @property
    def code(self) -> str:
        return "mysql-connector-python"

    def matches(self, connect_func: Callable[..., Any]) -> bool:
        connector = sys.modules.get("mysql.connector")
        if connector is None:
            return False
        functions = (getattr(connector, "connect", None), getattr(connector, "Connect", None))
        if any(connect_func is f for f in functions if f is not None):
            return True
        if not isinstance(connect_func, type):
            return False
        classes: list[type] = []
        for module_name, class_name in (
            ("mysql.connector.connection", "MySQLConnection"),
            ("mysql.connector.connection_cext", "CMySQLConnection"),
        ):
            cls = getattr(sys.modules.get(module_name), class_name, None)
            if isinstance(cls, type):
                classes.append(cls)
        return any(issubclass(connect_func, cls) for cls in classes)

    def prepare_connect_args(
        self, host: HostInfo, props: Mapping[str, Any], config: CoreConfig
    ) -> dict[str, Any]:
        # tcp_keepalive* have no mysql-connector equivalent and are not passed (see the module docstring).
        args = dict(props)
        args["host"] = host.host
        if host.port > 0:
            args["port"] = int(host.port)
        if config.database is not None:
            args["database"] = config.database
        if config.connect_timeout is not None:
            args["connection_timeout"] = max(1, math.ceil(config.connect_timeout))
        return args

    def connect(self, connect_func: Callable[..., Any], args: Mapping[str, Any]) -> RawConnection:
        conn = connect_func(**args)
        if _is_native(conn):
            _check_native(conn)  # record the socket now, while nothing else uses the connection
        return conn

    def connection_of(self, cursor: object) -> RawConnection:
        conn = getattr(cursor, "_connection", None)
        if conn is None:
            conn = getattr(cursor, "_cnx", None)  # C extension cursors of older versions
        if conn is None:
            raise ValueError(f"cursor {cursor!r} has no connection")
        if isinstance(conn, weakref.ProxyType):
            get_self = getattr(conn, "get_self", None)
            if get_self is not None:
                return get_self()
        return conn

    # -- state ------------------------------------------------------------------------------------------------

    def is_closed(self, conn: RawConnection) -> bool:
        state = _state(conn, create=False)
        if state is not None and state.aborted:
            return True
        if is_aio_connection(conn):
            return stream_closed(conn, _aio_writer(conn))
        if _is_native(conn):
            native = conn._cmysql
            if native is None or not native.connected():
                return True
            fd = _native_fd(native)
        else:
            wrapper = getattr(conn, "_socket", None)
            sock = getattr(wrapper, "sock", None)
            if sock is None:
                return True
            fd = sock.fileno()
        return fd < 0 or _peer_gone(fd)

    def is_in_transaction(self, conn: RawConnection) -> bool:
        return bool(conn.in_transaction)  # the same as the ops' in_transaction, without the indirection

    def get_autocommit(self, conn: RawConnection) -> bool:
        if _is_native(conn):
            return bool(conn._cmysql.st_server_status() & _STATUS_AUTOCOMMIT)  # local: last server status
        return bool(self._ops.server_status(conn) & _STATUS_AUTOCOMMIT)  # one round trip, no SQL

    # -- control ----------------------------------------------------------------------------------------------

    def supports_abort(self, conn: RawConnection) -> bool:
        if is_aio_connection(conn):
            return stream_socket(_aio_writer(conn)) is not None
        if _is_native(conn):
            return bool(_check_native(conn).abortable)
        return hasattr(conn, "_socket")

    def abort(self, conn: RawConnection) -> None:
        try:
            if is_aio_connection(conn):
                done = abort_stream(_aio_writer(conn))
            elif _is_native(conn):
                done = self._abort_native(conn)
            else:
                done = self._abort_pure(conn)
            if done:
                mark_aborted(conn)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "abort of mysql connection %r: %s", conn, "socket shut down" if done else "no-op"
                )
        except Exception:  # abort never raises
            logger.debug("abort of a mysql connection failed", exc_info=True)

    @staticmethod
    def _abort_pure(conn: RawConnection) -> bool:
        sock = getattr(getattr(conn, "_socket", None), "sock", None)
        if sock is None or sock.fileno() < 0:
            return False
        # The base method: an SSL socket's own shutdown() would also drop its SSL object under the owner's feet.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
        return True

    @staticmethod
    def _abort_native(conn: RawConnection) -> bool:
        state = _check_native(conn)
        native = state.native
        if not state.abortable or native is None or not native.connected():
            return False
        fd = _native_fd(native)
        recorded = state.identity

        def still_owned(sock: socket.socket) -> bool:
            return _native_fd(native) == fd and _describe(sock) == recorded

        return shutdown_socket_fd(fd, still_owned)


# -- shared with the other MySQL dialects (PyMySQL, the async ones) --------------------------------------------


def is_aio_connection(conn: RawConnection) -> bool:
    """Whether ``conn`` is a ``mysql.connector.aio`` connection. The sync dialect aborts and checks those too: a
    host monitor (shared by the sync and async connections of one driver code) aborts with its own dialect."""
    aio = sys.modules.get("mysql.connector.aio.abstracts")
    cls = getattr(aio, "MySQLConnectionAbstract", None)
    return isinstance(cls, type) and isinstance(conn, cls)


def _aio_writer(conn: RawConnection) -> Any:
    """The ``asyncio.StreamWriter`` of a ``mysql.connector.aio`` connection (None before connect / after close)."""
    return getattr(getattr(conn, "_socket", None), "_writer", None)


def stream_socket(writer: Any) -> Any:
    """The socket (asyncio's ``TransportSocket``) under an ``asyncio.StreamWriter``, or None. Safe from any
    thread: it only reads the transport's extra information."""
    transport = getattr(writer, "transport", None)
    if transport is None:
        return None
    try:
        return transport.get_extra_info("socket")
    except Exception:
        return None


def abort_stream(writer: Any) -> bool:
    """Shut down the socket under an asyncio stream from any thread, without its event loop: a read waiting on the
    loop sees the end of the stream at once (the driver's "lost connection" error). Returns True when done."""
    sock = stream_socket(writer)
    if sock is None:
        return False
    fd = sock.fileno()

    def still_owned(_dup: socket.socket) -> bool:
        # The transport closes the very socket object it exposes: still open now means the descriptor is its own.
        return bool(sock.fileno() == fd)

    return shutdown_socket_fd(fd, still_owned)


def stream_closed(conn: RawConnection, writer: Any) -> bool:
    """Without a round trip: whether the connection under an asyncio stream is aborted, closed or gone."""
    if was_aborted(conn):
        return True
    sock = stream_socket(writer)
    return sock is None or socket_closed(sock.fileno())


def mark_aborted(conn: RawConnection) -> None:
    """Record that this dialect family shut ``conn``'s socket down (``is_closed`` is True from now on)."""
    state = _state(conn)
    assert state is not None
    state.aborted = True


def was_aborted(conn: RawConnection) -> bool:
    state = _state(conn, create=False)
    return state is not None and state.aborted


def socket_closed(fd: int) -> bool:
    """Without a round trip: whether the socket with descriptor ``fd`` is gone, shut down, or closed by the peer."""
    return fd < 0 or _peer_gone(fd)
