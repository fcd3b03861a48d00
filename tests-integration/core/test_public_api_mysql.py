"""Upstream-style code against the machine's MariaDB with mysql-connector (pure Python and C extension)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import mysql.connector
import mysql.connector.errors
import pytest

from aws_advanced_python_wrapper import AwsWrapperConnection, release_resources

pytestmark = pytest.mark.integration


def _connect(server: dict[str, Any], use_pure: bool, **kwargs: Any) -> AwsWrapperConnection:
    return AwsWrapperConnection.connect(
        mysql.connector.connect, "", plugins="", use_pure=use_pure, **server, **kwargs
    )


@pytest.fixture
def conn(mysql_server: dict[str, Any], use_pure: bool) -> Iterator[AwsWrapperConnection]:
    connection = _connect(mysql_server, use_pure)
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def table(mysql_server: dict[str, Any]) -> Iterator[str]:
    name = f"aws_wrapper_core_{uuid.uuid4().hex[:10]}"
    admin = mysql.connector.connect(**mysql_server)
    try:
        cur = admin.cursor()
        cur.execute(
            f"CREATE TABLE {name} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(20)) ENGINE=InnoDB"
        )
        yield name
    finally:
        cur = admin.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {name}")
        admin.close()


def _count(server: dict[str, Any], table: str) -> int:
    other: Any = mysql.connector.connect(**server)
    try:
        cur = other.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        (count,) = cur.fetchone()
        return int(count)
    finally:
        other.close()


def test_the_upstream_example_runs_unchanged(mysql_server: dict[str, Any], use_pure: bool) -> None:
    conn = AwsWrapperConnection.connect(
        mysql.connector.connect, "host=127.0.0.1 database=test user=root", plugins="", use_pure=use_pure
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT DATABASE(), 1 + 1")
        assert cur.fetchone() == ("test", 2)
        native = type(conn.target_connection).__name__
        assert native == ("MySQLConnection" if use_pure else "CMySQLConnection")
    finally:
        conn.close()
    release_resources()


def test_cursor_surface(conn: AwsWrapperConnection) -> None:
    cur = conn.cursor()
    cur.execute("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, 'y' UNION ALL SELECT 3, 'z'")
    assert [d[0] for d in cur.description] == ["a", "b"]
    assert cur.fetchone() == (1, "x")
    assert cur.fetchmany(1) == [(2, "y")]
    assert cur.fetchall() == [(3, "z")]
    cur.execute("SELECT %s + %s", (40, 2))
    assert cur.fetchall() == [(42,)]
    cur.execute("SELECT 5 UNION ALL SELECT 6")
    assert [row[0] for row in cur] == [5, 6]
    cur.arraysize = 3
    assert cur.arraysize == 3
    assert cur.connection is conn
    cur.close()
    buffered = conn.cursor(buffered=True)
    buffered.execute("SELECT 1 UNION ALL SELECT 2")
    assert buffered.rowcount == 2
    buffered.close()


def test_executemany_lastrowid_rowcount_and_transactions(
    conn: AwsWrapperConnection, table: str, mysql_server: dict[str, Any]
) -> None:
    cur = conn.cursor()
    cur.executemany(f"INSERT INTO {table} (label) VALUES (%s)", [("a",), ("b",), ("c",)])
    assert cur.rowcount == 3
    conn.rollback()
    assert _count(mysql_server, table) == 0
    cur.execute(f"INSERT INTO {table} (label) VALUES (%s)", ("kept",))
    assert cur.rowcount == 1
    assert isinstance(cur.lastrowid, int)
    assert cur.lastrowid > 0
    conn.commit()
    assert _count(mysql_server, table) == 1


def test_autocommit_on_and_off(conn: AwsWrapperConnection, table: str, mysql_server: dict[str, Any]) -> None:
    assert conn.autocommit is False
    conn.autocommit = True
    assert conn.autocommit is True
    cur = conn.cursor()
    cur.execute(f"INSERT INTO {table} (label) VALUES ('auto')")
    assert _count(mysql_server, table) == 1
    conn.autocommit = False
    cur.execute(f"INSERT INTO {table} (label) VALUES ('pending')")
    assert _count(mysql_server, table) == 1
    conn.rollback()
    assert _count(mysql_server, table) == 1


def test_read_only_really_makes_writes_fail(conn: AwsWrapperConnection, table: str) -> None:
    conn.read_only = True
    assert conn.read_only is True
    cur = conn.cursor()
    cur.execute("SELECT @@session.tx_read_only")
    assert cur.fetchone() == (1,)
    with pytest.raises(mysql.connector.errors.DatabaseError) as info:
        cur.execute(f"INSERT INTO {table} (label) VALUES ('refused')")
    assert info.value.errno == 1792  # ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
    conn.rollback()
    conn.read_only = False
    assert conn.read_only is False
    cur.execute(f"INSERT INTO {table} (label) VALUES ('accepted')")
    conn.commit()


def test_isolation_level(conn: AwsWrapperConnection) -> None:
    assert conn.isolation_level == "REPEATABLE READ"
    conn.isolation_level = "READ_COMMITTED"
    assert conn.isolation_level == "READ COMMITTED"
    cur = conn.cursor()
    cur.execute("SELECT @@session.tx_isolation")
    assert cur.fetchone() == ("READ-COMMITTED",)


def test_callproc(conn: AwsWrapperConnection, mysql_server: dict[str, Any]) -> None:
    name = f"aws_wrapper_add_{uuid.uuid4().hex[:8]}"
    admin = mysql.connector.connect(**mysql_server)
    try:
        admin.cursor().execute(
            f"CREATE PROCEDURE {name}(IN a INT, IN b INT, OUT total INT) SET total = a + b"
        )
        cur = conn.cursor()
        assert cur.callproc(name, (40, 2, 0)) == (40, 2, 42)
    finally:
        admin.cursor().execute(f"DROP PROCEDURE IF EXISTS {name}")
        admin.close()


def test_context_manager_rolls_back_an_open_transaction(
    mysql_server: dict[str, Any], use_pure: bool, table: str
) -> None:
    with _connect(mysql_server, use_pure) as conn:
        conn.cursor().execute(f"INSERT INTO {table} (label) VALUES ('not committed')")
    assert conn.closed
    assert _count(mysql_server, table) == 0


def test_attribute_delegation(conn: AwsWrapperConnection) -> None:
    assert "MariaDB" in conn.server_info
    assert conn.database == "test"
    assert conn.is_connected()
    conn.ping(reconnect=False)


def test_driver_errors_keep_their_type(conn: AwsWrapperConnection) -> None:
    cur = conn.cursor()
    with pytest.raises(mysql.connector.errors.ProgrammingError) as info:
        cur.execute("SELEC 1")
    assert info.value.errno == 1064
    cur.execute("SELECT 1")
    assert cur.fetchall() == [(1,)]
