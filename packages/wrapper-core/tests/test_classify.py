"""Driver-level error classification: tables of driver errors (built with the drivers' own exception classes and
the codes/messages observed on this machine's servers), chains, and errors produced by real servers."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from aws_wrapper.core.driver._classify import (
    MYSQL_ERRORS,
    PSYCOPG_ERRORS,
    MySqlErrorClassifier,
    PsycopgErrorClassifier,
    error_chain,
)
from aws_wrapper.core.errors import (
    AwsConnectError,
    AwsWrapperError,
    FailoverSuccessError,
    QueryTimeoutError,
    TransactionResolutionUnknownError,
)

psycopg = pytest.importorskip("psycopg")
mysql_connector = pytest.importorskip("mysql.connector")
from mysql.connector import errors as me  # noqa: E402
from psycopg import errors as pe  # noqa: E402

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
MY_ARGS: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "connection_timeout": 3}

N, L, R = "network", "login", "read_only"


def _kinds(classifier: PsycopgErrorClassifier | MySqlErrorClassifier, error: BaseException) -> set[str]:
    kinds = set()
    if classifier.is_network_error(error):
        kinds.add(N)
    if classifier.is_login_error(error):
        kinds.add(L)
    if classifier.is_read_only_error(error):
        kinds.add(R)
    return kinds


def _pg(sqlstate: str, message: str = "x") -> BaseException:
    return pe.lookup(sqlstate)(message)


# -- psycopg table ---------------------------------------------------------------------------------------------

PG_CASES: list[tuple[str, BaseException, set[str]]] = [
    ("08006 connection_failure (prefix of class 08)", _pg("08006"), {N}),
    ("08001 unable to connect", _pg("08001"), {N}),
    ("08P01 protocol violation", _pg("08P01"), {N}),
    ("57P01 admin shutdown", _pg("57P01", "terminating connection due to administrator command"), {N}),
    ("57P02 crash shutdown", _pg("57P02"), {N}),
    ("57P03 cannot connect now", _pg("57P03", "the database system is starting up"), {N}),
    ("53300 too many connections", _pg("53300"), {N}),
    ("53100 disk full is not network", _pg("53100"), set()),
    (
        "57014 query canceled is not network",
        _pg("57014", "canceling statement due to statement timeout"),
        set(),
    ),
    ("28P01 invalid password", _pg("28P01", "password authentication failed for user"), {L}),
    ("28000 invalid authorization", _pg("28000"), {L}),
    ("25006 read-only transaction", _pg("25006", "cannot execute INSERT in a read-only transaction"), {R}),
    ("42601 syntax error", _pg("42601", 'syntax error at or near "x"'), set()),
    ("40001 serialization failure", _pg("40001"), set()),
    (
        "abort: consuming input failed",
        pe.OperationalError(
            "consuming input failed: server closed the connection unexpectedly\n"
            "\tThis probably means the server terminated abnormally"
        ),
        {N},
    ),
    ("close from another thread", pe.OperationalError("connection socket closed"), {N}),
    ("closed connection", pe.OperationalError("the connection is closed"), {N}),
    ("lost connection", pe.OperationalError("the connection is lost"), {N}),
    (
        "tcp_user_timeout",
        pe.OperationalError("could not receive data from server: Connection timed out"),
        {N},
    ),
    ("connect timeout", pe.ConnectionTimeout("connection timeout expired"), {N}),
    (
        "refused",
        pe.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
        ),
        {N},
    ),
    (
        "bad password at connect (no sqlstate)",
        pe.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: '
            'FATAL:  password authentication failed for user "iam_user"'
        ),
        {L},
    ),
    (
        "PAM (IAM) failure at connect",
        pe.OperationalError('connection failed: FATAL:  PAM authentication failed for user "iam_user"'),
        {L},
    ),
    (
        "unknown role at connect",
        pe.OperationalError(
            'connection failed: connection to server failed: FATAL:  role "nobody" does not exist'
        ),
        {L},
    ),
    (
        "unknown database is a configuration error",
        pe.OperationalError(
            'connection failed: connection to server failed: FATAL:  database "nodb" does not exist'
        ),
        set(),
    ),
    ("programming error", pe.ProgrammingError("can't change 'read_only' now"), set()),
    ("plain python error", ValueError("connection failed"), set()),
    ("raw socket reset", ConnectionResetError(104, "Connection reset by peer"), {N}),
]


@pytest.mark.parametrize(("label", "error", "expected"), PG_CASES, ids=[c[0] for c in PG_CASES])
def test_psycopg_table(label: str, error: BaseException, expected: set[str]) -> None:
    assert _kinds(PSYCOPG_ERRORS, error) == expected, label


def test_psycopg_class_prefixes_match_five_character_codes() -> None:
    """Upstream compared '08006' for equality with the class '08' and never matched."""
    classifier = PsycopgErrorClassifier(network_sqlstates=("08", "58"))
    assert classifier.is_network_error(_pg("58030"))  # io_error, through the '58' class
    assert not classifier.is_network_error(_pg("57P01"))  # not in this custom list


def test_psycopg_multi_az_variant_treats_28000_as_network() -> None:
    classifier = PsycopgErrorClassifier(
        network_sqlstates=("08", "57P01", "57P02", "57P03", "28000"), login_sqlstates=("28P01",)
    )
    assert _kinds(classifier, _pg("28000")) == {N}
    assert _kinds(classifier, _pg("28P01")) == {L}


# -- mysql table -------------------------------------------------------------------------------------------------

MARIADB_READ_ONLY_MSG = (
    "The MariaDB server is running with the --read-only option so it cannot execute this statement"
)

MY_CASES: list[tuple[str, BaseException, set[str]]] = [
    ("2013 lost during query (pure)", me.InterfaceError(errno=2013), {N}),
    (
        "2013 lost during query (C ext)",
        me.OperationalError(msg="Lost connection to MySQL server during query", errno=2013, sqlstate="HY000"),
        {N},
    ),
    ("2006 gone away", me.OperationalError(errno=2006), {N}),
    ("2003 refused", me.DatabaseError(msg="Can't connect to MySQL server on '127.0.0.1:1'", errno=2003), {N}),
    ("2002 local socket", me.InterfaceError(errno=2002), {N}),
    ("2055 lost (system error)", me.OperationalError(errno=2055, values=("127.0.0.1:3306", "reset")), {N}),
    ("2048 invalid handle", me.InterfaceError(errno=2048), {N}),
    (
        "1053 server shutdown",
        me.OperationalError(msg="Server shutdown in progress", errno=1053, sqlstate="08S01"),
        {N},
    ),
    (
        "1158 net read error via 08S01",
        me.OperationalError(msg="Got an error reading", errno=1158, sqlstate="08S01"),
        {N},
    ),
    (
        "1040 too many connections via 08004",
        me.DatabaseError(msg="Too many connections", errno=1040, sqlstate="08004"),
        {N},
    ),
    ("cursor on a dead connection", me.OperationalError("MySQL Connection not available"), {N}),
    ("C ext cursor on a dead connection", me.OperationalError("MySQL Connection not available."), {N}),
    ("read timeout", me.ReadTimeoutError(errno=3024), {N}),
    ("connection timeout", me.ConnectionTimeoutError(errno=3024), {N}),
    (
        "1045 access denied",
        me.ProgrammingError(msg="Access denied for user", errno=1045, sqlstate="28000"),
        {L},
    ),
    ("1698 no password", me.ProgrammingError(errno=1698, sqlstate="28000"), {L}),
    (
        "MariaDB --read-only server (observed)",
        me.DatabaseError(msg=MARIADB_READ_ONLY_MSG, errno=1290, sqlstate="HY000"),
        {R},
    ),
    (
        "MySQL --super-read-only",
        me.DatabaseError(
            msg="The MySQL server is running with the --super-read-only option so it cannot execute this statement",
            errno=1290,
            sqlstate="HY000",
        ),
        {R},
    ),
    (
        "1290 for another option is not read-only",
        me.DatabaseError(
            msg="The MariaDB server is running with the --secure-file-priv option so it cannot execute this statement",
            errno=1290,
            sqlstate="HY000",
        ),
        set(),
    ),
    (
        "1836 read-only mode",
        me.DatabaseError(msg="Running in read-only mode", errno=1836, sqlstate="HY000"),
        {R},
    ),
    (
        "1792 read-only transaction",
        me.DatabaseError(
            msg="Cannot execute statement in a READ ONLY transaction", errno=1792, sqlstate="25006"
        ),
        {R},
    ),
    (
        "HY000 lock wait timeout is not network",
        me.DatabaseError(msg="Lock wait timeout", errno=1205, sqlstate="HY000"),
        set(),
    ),
    (
        "1064 syntax",
        me.ProgrammingError(msg="You have an error in your SQL syntax", errno=1064, sqlstate="42000"),
        set(),
    ),
    ("1044 no access to database", me.ProgrammingError(errno=1044, sqlstate="42000"), set()),
    ("psycopg error in the mysql classifier", _pg("08006"), set()),
    ("OSError errno 104 is not a mysql code", OSError(2013, "not mysql"), set()),
]


@pytest.mark.parametrize(("label", "error", "expected"), MY_CASES, ids=[c[0] for c in MY_CASES])
def test_mysql_table(label: str, error: BaseException, expected: set[str]) -> None:
    assert _kinds(MYSQL_ERRORS, error) == expected, label


def test_mysql_c_extension_raw_error() -> None:
    cext = pytest.importorskip("_mysql_connector")
    raw = cext.MySQLInterfaceError("Lost connection to MySQL server during query")
    raw.errno = 2013
    raw.sqlstate = "HY000"
    assert MYSQL_ERRORS.is_network_error(raw)


# -- chains and wrapper errors -----------------------------------------------------------------------------------


def test_wrapper_errors() -> None:
    net = _pg("57P01")
    login = _pg("28P01")
    assert PSYCOPG_ERRORS.is_network_error(QueryTimeoutError("Cursor.execute exceeded socket_timeout=1s"))
    assert PSYCOPG_ERRORS.is_network_error(AwsConnectError("no host reachable"))
    assert PSYCOPG_ERRORS.is_network_error(AwsWrapperError("wrapped", driver_error=net))
    assert not PSYCOPG_ERRORS.is_network_error(AwsWrapperError("wrapped", driver_error=_pg("42601")))
    assert not PSYCOPG_ERRORS.is_network_error(AwsWrapperError("no driver error"))
    # A connect failure caused by credentials is a login error, not a network error.
    wrapped_login = AwsConnectError("connect failed", driver_error=login)
    assert _kinds(PSYCOPG_ERRORS, wrapped_login) == {L}
    # Failover outcomes are results, never "network errors" to handle again.
    assert not PSYCOPG_ERRORS.is_network_error(FailoverSuccessError("switched", driver_error=net))
    assert not MYSQL_ERRORS.is_network_error(
        TransactionResolutionUnknownError("switched", driver_error=me.InterfaceError(errno=2013))
    )


def test_nested_cause_chain_is_followed() -> None:
    inner = me.ProgrammingError(msg="Access denied for user 'iam_user'", errno=1045, sqlstate="28000")
    try:
        try:
            try:
                raise inner
            except me.Error as e1:
                raise RuntimeError("token refresh failed") from e1
        except RuntimeError as e2:
            raise AwsConnectError("could not connect") from e2
    except AwsConnectError as outer:
        error: BaseException = outer
    assert MYSQL_ERRORS.is_login_error(error)
    assert not MYSQL_ERRORS.is_network_error(error)
    assert inner in list(error_chain(error))


def _raise_while_handling(suppress: bool) -> None:
    try:
        raise me.InterfaceError(errno=2013)
    except me.Error:
        if suppress:
            raise KeyError("while handling") from None
        raise KeyError("while handling")  # noqa: B904 - the implicit context is what is tested


def test_context_followed_unless_suppressed() -> None:
    with pytest.raises(KeyError) as suppressed:
        _raise_while_handling(suppress=True)
    assert not MYSQL_ERRORS.is_network_error(suppressed.value)
    with pytest.raises(KeyError) as implicit:
        _raise_while_handling(suppress=False)
    assert MYSQL_ERRORS.is_network_error(implicit.value)


def test_cyclic_chain_terminates() -> None:
    a = ValueError("a")
    b = ValueError("b")
    a.__cause__ = b
    b.__cause__ = a
    assert list(error_chain(a)) == [a, b]
    assert not PSYCOPG_ERRORS.is_network_error(a)


def test_classifier_module_imports_no_driver() -> None:
    code = (
        "import sys; import aws_wrapper.core.driver._classify as c; "
        "c.PSYCOPG_ERRORS.is_network_error(ValueError()); c.MYSQL_ERRORS.is_login_error(ValueError()); "
        "print(sorted(m for m in sys.modules if m.startswith(('psycopg', 'mysql', '_mysql'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- errors from real servers ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_admin() -> Iterator[Any]:
    try:
        conn = psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc}")
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def my_admin() -> Iterator[Any]:
    try:
        conn = mysql_connector.connect(**MY_ARGS, autocommit=True)
    except mysql_connector.Error as exc:
        pytest.skip(f"MariaDB not reachable at 127.0.0.1:3306: {exc}")
    yield conn
    conn.close()


@pytest.mark.integration
def test_real_pg_errors(pg_admin: Any) -> None:
    victim = psycopg.connect(PG_DSN, autocommit=True)
    try:
        pg_admin.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
        with pytest.raises(psycopg.Error) as terminated:
            victim.execute("SELECT 1")
        assert terminated.value.sqlstate == "57P01"
        assert _kinds(PSYCOPG_ERRORS, terminated.value) == {N}
        with pytest.raises(psycopg.Error) as closed:
            victim.execute("SELECT 1")
        assert _kinds(PSYCOPG_ERRORS, closed.value) == {N}
    finally:
        victim.close()
    with pytest.raises(psycopg.Error) as role:
        psycopg.connect(PG_DSN.replace("user=postgres", f"user=nobody_{uuid.uuid4().hex[:8]}"))
    assert _kinds(PSYCOPG_ERRORS, role.value) == {L}
    with pytest.raises(psycopg.Error) as database:
        psycopg.connect(PG_DSN.replace("dbname=postgres", f"dbname=nodb_{uuid.uuid4().hex[:8]}"))
    assert _kinds(PSYCOPG_ERRORS, database.value) == set()
    with pytest.raises(psycopg.Error) as refused:
        psycopg.connect(PG_DSN.replace("port=5432", f"port={_free_port()}"))
    assert _kinds(PSYCOPG_ERRORS, refused.value) == {N}
    with psycopg.connect(PG_DSN) as conn:
        conn.read_only = True
        with pytest.raises(psycopg.Error) as read_only:
            conn.execute("CREATE TEMP TABLE c1_ro (a int)")
        assert _kinds(PSYCOPG_ERRORS, read_only.value) == {R}
        conn.rollback()
        with pytest.raises(psycopg.Error) as syntax:
            conn.execute("SELEC 1")
        assert _kinds(PSYCOPG_ERRORS, syntax.value) == set()


@pytest.mark.integration
@pytest.mark.parametrize("use_pure", [True, False], ids=["pure", "cext"])
def test_real_mysql_errors(my_admin: Any, use_pure: bool) -> None:
    if not use_pure and not mysql_connector.HAVE_CEXT:
        pytest.skip("mysql-connector C extension not available")
    victim = mysql_connector.connect(**MY_ARGS, use_pure=use_pure)
    try:
        my_admin.cursor().execute(f"KILL {int(victim.connection_id)}")
        with pytest.raises(mysql_connector.Error) as killed:
            victim.cursor().execute("SELECT 1")
        assert _kinds(MYSQL_ERRORS, killed.value) == {N}
    finally:
        victim.close()
    with pytest.raises(mysql_connector.Error) as denied:
        mysql_connector.connect(
            **{**MY_ARGS, "user": f"nobody_{uuid.uuid4().hex[:8]}"}, password="x", use_pure=use_pure
        )
    assert _kinds(MYSQL_ERRORS, denied.value) == {L}
    with pytest.raises(mysql_connector.Error) as refused:
        mysql_connector.connect(**{**MY_ARGS, "port": _free_port()}, use_pure=use_pure)
    assert _kinds(MYSQL_ERRORS, refused.value) == {N}
    conn = mysql_connector.connect(**MY_ARGS, use_pure=use_pure)
    try:
        cur = conn.cursor()
        with pytest.raises(mysql_connector.Error) as syntax:
            cur.execute("SELEC 1")
        assert _kinds(MYSQL_ERRORS, syntax.value) == set()
    finally:
        conn.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def read_only_mariadb() -> Iterator[int]:
    """A scratch MariaDB server started with --read-only (the machine's own server is shared: never touched)."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None
    )
    client = shutil.which("mariadb")
    if not (install and server and client):
        pytest.skip("MariaDB server binaries not found")
    workdir = tempfile.mkdtemp(prefix="c1-ro-mariadb-")
    proc: subprocess.Popen[bytes] | None = None
    try:
        datadir = os.path.join(workdir, "data")
        user = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={datadir}",
                *user,
                "--auth-root-authentication-method=normal",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        port = _free_port()
        proc = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={datadir}",
                *user,
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--socket={os.path.join(workdir, 'sock')}",
                f"--log-error={os.path.join(workdir, 'err.log')}",
                "--skip-log-bin",
                "--read-only",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        setup = (
            "DELETE FROM mysql.global_priv WHERE user = ''; FLUSH PRIVILEGES; CREATE DATABASE c1; "
            "CREATE TABLE c1.t (a int); CREATE USER 'app'@'%'; GRANT ALL ON c1.* TO 'app'@'%';"
        )
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(
                [client, "-h127.0.0.1", f"-P{port}", "-uroot", "-e", setup], capture_output=True, timeout=10
            )
            if done.returncode == 0:
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.skip(f"scratch MariaDB did not start: {done.stderr.decode(errors='replace')[-300:]}")
            time.sleep(0.2)
        yield port
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("use_pure", [True, False], ids=["pure", "cext"])
def test_real_mariadb_read_only_server(read_only_mariadb: int, use_pure: bool) -> None:
    """A write on a --read-only MariaDB: 1290/HY000. Upstream's 'HY class = network' rule would call it network."""
    if not use_pure and not mysql_connector.HAVE_CEXT:
        pytest.skip("mysql-connector C extension not available")
    conn = mysql_connector.connect(
        host="127.0.0.1", port=read_only_mariadb, user="app", database="c1", use_pure=use_pure
    )
    try:
        with pytest.raises(mysql_connector.Error) as refused:
            conn.cursor().execute("INSERT INTO t VALUES (1)")
        assert (refused.value.errno, refused.value.sqlstate) == (1290, "HY000")
        assert "--read-only" in refused.value.msg
        assert _kinds(MYSQL_ERRORS, refused.value) == {R}
    finally:
        conn.close()
