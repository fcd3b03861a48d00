"""Driver-level error classification (network / login / read-only) for psycopg 3 and the MySQL drivers
(mysql-connector-python, PyMySQL, and aiomysql, which raises PyMySQL's errors).

Used until a database dialect provides a finer classifier (a dialect can build a variant with other code lists).
Differences from upstream, on purpose:

* SQLSTATE entries are matched by **prefix**, so a class entry such as ``"08"`` matches ``08006``
  (upstream compared the five-character code for equality with two-character classes, so they never matched).
* The whole chain is examined: a wrapper error's ``driver_error``, then ``__cause__`` (or ``__context__`` unless
  suppressed with ``raise ... from None``), so a driver error wrapped by a plugin is still recognised.
* A login failure is never a network error, wherever it sits in the chain (retrying on another host does not fix
  credentials), and a failover outcome (``FailoverError``) is never a network error itself.
* MySQL SQLSTATE class ``HY`` (the generic class most MySQL errors carry) is **not** a network class.

Drivers are recognised by the module name of the exception class, so nothing here imports a driver.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ..errors import AwsConnectError, AwsWrapperError, FailoverError, QueryTimeoutError

__all__ = [
    "PsycopgErrorClassifier",
    "MySqlErrorClassifier",
    "PSYCOPG_ERRORS",
    "MYSQL_ERRORS",
    "error_chain",
    "mysql_errno",
]

_MAX_CHAIN = 32


def error_chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the errors behind it: ``driver_error`` of wrapper errors, ``__cause__``, and ``__context__``
    when not suppressed. Each error once, at most a bounded number."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending and len(seen) < _MAX_CHAIN:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        driver_error = getattr(current, "driver_error", None)
        if isinstance(driver_error, BaseException):
            pending.append(driver_error)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            pending.append(current.__context__)


def _from_module(error: BaseException, *prefixes: str) -> bool:
    module = type(error).__module__ or ""
    return module.startswith(prefixes)


def _has_class(error: BaseException, module_prefix: str, names: frozenset[str]) -> bool:
    return any(
        c.__name__ in names and (c.__module__ or "").startswith(module_prefix) for c in type(error).__mro__
    )


def _message(error: BaseException) -> str:
    msg = getattr(error, "msg", None)  # mysql-connector keeps the server text here
    if isinstance(msg, str) and msg:
        return msg.lower()
    if error.args and isinstance(error.args[0], str):
        return error.args[0].lower()
    return str(error).lower()


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None)
    return state.upper() if isinstance(state, str) and state else None


class _ChainClassifier:
    """Shared chain logic; subclasses judge one exception at a time."""

    def _network_one(self, error: BaseException) -> bool:
        raise NotImplementedError

    def _login_one(self, error: BaseException) -> bool:
        raise NotImplementedError

    def _read_only_one(self, error: BaseException) -> bool:
        raise NotImplementedError

    def is_login_error(self, error: BaseException) -> bool:
        return any(self._login_one(e) for e in error_chain(error))

    def is_read_only_error(self, error: BaseException) -> bool:
        return any(self._read_only_one(e) for e in error_chain(error))

    def is_network_error(self, error: BaseException) -> bool:
        if isinstance(error, FailoverError):
            return False
        network = False
        for current in error_chain(error):
            if self._login_one(current):
                return False
            if network:
                continue  # keep walking: a login failure further down still wins
            if isinstance(current, (QueryTimeoutError, AwsConnectError)):
                network = True
            elif isinstance(current, AwsWrapperError):
                continue  # judged by its driver_error / cause, which the chain visits next
            elif isinstance(current, ConnectionError):
                network = True  # a raw socket error that escaped the driver (reset, refused, broken pipe)
            else:
                network = self._network_one(current)
        return network


# --- psycopg ----------------------------------------------------------------------------------------------------

#: SQLSTATE prefixes meaning "this connection (or the server behind it) is gone or refuses connections".
PG_NETWORK_SQLSTATES = (
    "08",  # connection_exception class
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, shutting down, in recovery without hot standby)
    "53300",  # too_many_connections
)
PG_LOGIN_SQLSTATES = ("28000", "28P01")
PG_READ_ONLY_SQLSTATES = ("25006",)

# Messages of errors psycopg raises without a SQLSTATE (the connection broke on the client side).
_PG_NETWORK_MESSAGES = (
    "connection failed",
    "consuming input failed",
    "connection socket closed",
    "the connection is closed",
    "the connection is lost",
    "server closed the connection unexpectedly",
    "could not receive data from server",
    "could not send data to server",
    "ssl syscall error",
    "ssl connection has been closed unexpectedly",
    "connection timeout expired",
    "flushing failed",
    "sending query failed",
    "terminating connection due to",
)
_PG_LOGIN_MESSAGES = (
    "password authentication failed",
    "pam authentication failed",
    "authentication failed for user",
    "no pg_hba.conf entry",
    "no password supplied",
)
# A "connection failed: ... FATAL: database "x" does not exist" is a configuration mistake, not a dead host.
_PG_NOT_NETWORK_MESSAGES = ('database "',)
_PG_TIMEOUT_CLASSES = frozenset({"ConnectionTimeout"})
_PG_READ_ONLY_CLASSES = frozenset({"ReadOnlySqlTransaction"})


class PsycopgErrorClassifier(_ChainClassifier):
    """Classifies psycopg 3 errors. The code lists can be replaced (e.g. a Multi-AZ dialect treating ``28000``
    as a transient network error during a reboot); SQLSTATE entries are prefixes."""

    def __init__(
        self,
        *,
        network_sqlstates: Iterable[str] = PG_NETWORK_SQLSTATES,
        login_sqlstates: Iterable[str] = PG_LOGIN_SQLSTATES,
        read_only_sqlstates: Iterable[str] = PG_READ_ONLY_SQLSTATES,
    ) -> None:
        self.network_sqlstates = tuple(s.upper() for s in network_sqlstates)
        self.login_sqlstates = tuple(s.upper() for s in login_sqlstates)
        self.read_only_sqlstates = tuple(s.upper() for s in read_only_sqlstates)

    def _network_one(self, error: BaseException) -> bool:
        if not _from_module(error, "psycopg"):
            return False
        if _has_class(error, "psycopg", _PG_TIMEOUT_CLASSES):
            return True
        state = _sqlstate(error)
        if state is not None:
            return state.startswith(self.network_sqlstates)
        text = _message(error)
        if any(m in text for m in _PG_NOT_NETWORK_MESSAGES) and "does not exist" in text:
            return False
        return any(m in text for m in _PG_NETWORK_MESSAGES)

    def _login_one(self, error: BaseException) -> bool:
        if not _from_module(error, "psycopg"):
            return False
        state = _sqlstate(error)
        if state is not None:
            return state.startswith(self.login_sqlstates)
        # psycopg reports a failed connection attempt without a SQLSTATE: judge the server's FATAL text.
        text = _message(error)
        if any(m in text for m in _PG_LOGIN_MESSAGES):
            return True
        return 'role "' in text and "does not exist" in text

    def _read_only_one(self, error: BaseException) -> bool:
        if not _from_module(error, "psycopg"):
            return False
        state = _sqlstate(error)
        if state is not None:
            return state.startswith(self.read_only_sqlstates)
        return _has_class(
            error, "psycopg", _PG_READ_ONLY_CLASSES
        ) or "in a read-only transaction" in _message(error)


# --- mysql-connector-python ---------------------------------------------------------------------------------------

#: Client (CR_*) and server error numbers meaning the connection or the server is gone.
MYSQL_NETWORK_ERRNOS = frozenset(
    {
        2001,  # CR_SOCKET_CREATE_ERROR
        2002,  # CR_CONNECTION_ERROR (local socket)
        2003,  # CR_CONN_HOST_ERROR
        2004,  # CR_IPSOCK_ERROR
        2005,  # CR_UNKNOWN_HOST
        2006,  # CR_SERVER_GONE_ERROR
        2011,  # CR_TCP_CONNECTION
        2012,  # CR_SERVER_HANDSHAKE_ERR
        2013,  # CR_SERVER_LOST
        2026,  # CR_SSL_CONNECTION_ERROR
        2048,  # CR_INVALID_CONN_HANDLE
        2055,  # CR_SERVER_LOST_EXTENDED
        1053,  # ER_SERVER_SHUTDOWN
        1927,  # ER_CONNECTION_KILLED (MariaDB)
        4031,  # ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8.0.24+)
    }
)
MYSQL_NETWORK_SQLSTATES = ("08",)
MYSQL_LOGIN_ERRNOS = frozenset(
    {
        1045,  # ER_ACCESS_DENIED_ERROR
        1698,  # ER_ACCESS_DENIED_NO_PASSWORD_ERROR
        3118,  # ER_ACCOUNT_HAS_BEEN_LOCKED (MySQL)
        4151,  # ER_ACCOUNT_HAS_BEEN_LOCKED (MariaDB)
    }
)
MYSQL_LOGIN_SQLSTATES = ("28000",)
MYSQL_READ_ONLY_ERRNOS = frozenset(
    {
        1792,  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION (25006)
        1836,  # ER_READ_ONLY_MODE
    }
)
MYSQL_READ_ONLY_SQLSTATES = ("25006",)
# ER_OPTION_PREVENTS_STATEMENT: a read-only error only when the option it names is --read-only/--super-read-only.
_MYSQL_OPTION_PREVENTS_STATEMENT = 1290
_MYSQL_NETWORK_MESSAGES = (
    "mysql connection not available",
    "connection to mysql is not available",
    "lost connection to mysql server",
    "mysql server has gone away",
    "can't connect to mysql server",
    "can't connect to server",
)
_MYSQL_READ_ONLY_MESSAGES = ("--read-only", "--super-read-only", "running in read-only mode")
_MYSQL_TIMEOUT_CLASSES = frozenset({"ConnectionTimeoutError", "ReadTimeoutError", "WriteTimeoutError"})
_MYSQL_MODULES = ("mysql.", "_mysql_connector", "pymysql.")


def mysql_errno(error: BaseException) -> int | None:
    """The error number of a MySQL driver error: mysql-connector's ``errno``; PyMySQL (and aiomysql) raise
    ``SomeError(number, message)`` instead."""
    number = getattr(error, "errno", None)
    if number is None and error.args and _from_module(error, "pymysql."):
        number = error.args[0]
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def _mysql_message(error: BaseException) -> str:
    args = error.args
    if (
        len(args) >= 2
        and isinstance(args[0], int)
        and isinstance(args[1], str)
        and _from_module(error, "pymysql.")
    ):
        return args[1].lower()  # PyMySQL: (number, message)
    return _message(error)


class MySqlErrorClassifier(_ChainClassifier):
    """Classifies mysql-connector-python errors, pure Python and C extension (including the extension's raw
    ``_mysql_connector.MySQLInterfaceError``), and those of PyMySQL and aiomysql (``pymysql.err``) by the same
    error numbers."""

    def __init__(
        self,
        *,
        network_errnos: Iterable[int] = MYSQL_NETWORK_ERRNOS,
        network_sqlstates: Iterable[str] = MYSQL_NETWORK_SQLSTATES,
        login_errnos: Iterable[int] = MYSQL_LOGIN_ERRNOS,
        read_only_errnos: Iterable[int] = MYSQL_READ_ONLY_ERRNOS,
    ) -> None:
        self.network_errnos = frozenset(network_errnos)
        self.network_sqlstates = tuple(s.upper() for s in network_sqlstates)
        self.login_errnos = frozenset(login_errnos)
        self.read_only_errnos = frozenset(read_only_errnos)

    def _network_one(self, error: BaseException) -> bool:
        if not _from_module(error, *_MYSQL_MODULES):
            return False
        if _has_class(error, "mysql.", _MYSQL_TIMEOUT_CLASSES):
            return True  # client-side socket timeouts (connection_timeout, read_timeout, write_timeout)
        number = mysql_errno(error)
        if number is not None and number in self.network_errnos:
            return True
        state = _sqlstate(error)
        if state is not None and state.startswith(self.network_sqlstates):
            return True
        text = _mysql_message(error)
        return any(m in text for m in _MYSQL_NETWORK_MESSAGES)

    def _login_one(self, error: BaseException) -> bool:
        if not _from_module(error, *_MYSQL_MODULES):
            return False
        number = mysql_errno(error)
        if number is not None and number in self.login_errnos:
            return True
        state = _sqlstate(error)
        return state is not None and state.startswith(MYSQL_LOGIN_SQLSTATES)

    def _read_only_one(self, error: BaseException) -> bool:
        if not _from_module(error, *_MYSQL_MODULES):
            return False
        number = mysql_errno(error)
        if number is not None and number in self.read_only_errnos:
            return True
        state = _sqlstate(error)
        if state is not None and state.startswith(MYSQL_READ_ONLY_SQLSTATES):
            return True
        text = _mysql_message(error)
        if number == _MYSQL_OPTION_PREVENTS_STATEMENT or number is None or number == -1:
            return any(m in text for m in _MYSQL_READ_ONLY_MESSAGES)
        return False


PSYCOPG_ERRORS = PsycopgErrorClassifier()
MYSQL_ERRORS = MySqlErrorClassifier()
