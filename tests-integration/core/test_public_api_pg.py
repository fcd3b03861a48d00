"""Upstream-style code against the machine's PostgreSQL, through the compat package, with ``plugins=""``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.errors
import pytest

from aws_advanced_python_wrapper import AwsWrapperConnection, AwsWrapperCursor, release_resources
from aws_advanced_python_wrapper.errors import AwsWrapperError
from aws_wrapper.core import InterfaceError, UnsupportedOperationError

pytestmark = pytest.mark.integration


@pytest.fixture
def conn(pg_dsn: str) -> Iterator[AwsWrapperConnection]:
    connection = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="")
    try:
        yield connection
    finally:
        connection.close()


@pytest.fixture
def table(pg_dsn: str) -> Iterator[str]:
    name = f"aws_wrapper_core_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE TABLE {name} (id int PRIMARY KEY, label text)")
    try:
        yield name
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(f"DROP TABLE IF EXISTS {name}")


def test_the_upstream_example_runs_unchanged(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(
        psycopg.Connection.connect, "host=127.0.0.1 dbname=postgres user=postgres", plugins=""
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid(), current_database()")
            pid, db = cur.fetchone()
        assert db == "postgres"
        assert isinstance(conn.target_connection, psycopg.Connection)
        assert conn.target_connection.info.backend_pid == pid
    finally:
        conn.close()
    release_resources()


def test_cursor_surface(conn: AwsWrapperConnection) -> None:
    cur = conn.cursor()
    assert isinstance(cur, AwsWrapperCursor)
    assert cur.execute("SELECT g, 'row ' || g FROM generate_series(1, 5) AS g") is cur
    assert [d.name for d in cur.description] == ["g", "?column?"]
    assert cur.rowcount == 5
    assert cur.fetchone() == (1, "row 1")
    cur.arraysize = 2
    assert cur.arraysize == 2
    assert cur.fetchmany() == [(2, "row 2"), (3, "row 3")]
    assert cur.fetchmany(1) == [(4, "row 4")]
    assert cur.fetchall() == [(5, "row 5")]
    assert cur.fetchone() is None
    cur.execute("SELECT %s::int + %s::int", (40, 2))
    assert cur.fetchone() == (42,)
    cur.execute("SELECT %(a)s::text", {"a": "named"})
    assert list(cur) == [("named",)]
    cur.execute("SELECT generate_series(1, 3)")
    assert [row[0] for row in cur] == [1, 2, 3]
    assert cur.connection is conn
    assert isinstance(cur.target_cursor, psycopg.Cursor)
    with pytest.raises(UnsupportedOperationError, match="has no callproc"):
        cur.callproc("now")
    cur.close()
    assert cur.closed  # delegated to the driver cursor


def test_executemany_and_transactions(conn: AwsWrapperConnection, table: str) -> None:
    assert conn.autocommit is False
    cur = conn.cursor()
    cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(1, "a"), (2, "b"), (3, "c")])
    conn.rollback()
    cur.execute(f"SELECT count(*) FROM {table}")
    assert cur.fetchone() == (0,)
    cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(1, "a"), (2, "b")])
    conn.commit()
    conn.rollback()
    cur.execute(f"SELECT label FROM {table} ORDER BY id")
    assert cur.fetchall() == [("a",), ("b",)]
    conn.commit()


def test_autocommit_on_and_off(conn: AwsWrapperConnection, table: str, pg_dsn: str) -> None:
    conn.autocommit = True
    assert conn.autocommit is True
    assert conn.target_connection.autocommit is True
    conn.execute(f"INSERT INTO {table} VALUES (1, 'auto')")
    with psycopg.connect(pg_dsn) as other:
        assert other.execute(f"SELECT label FROM {table}").fetchall() == [("auto",)]
    conn.set_autocommit(False)
    conn.execute(f"INSERT INTO {table} VALUES (2, 'pending')")
    with psycopg.connect(pg_dsn) as other:
        assert other.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    conn.rollback()


def test_read_only_and_isolation_level_change_the_session(conn: AwsWrapperConnection, table: str) -> None:
    conn.read_only = True
    assert conn.read_only is True
    conn.isolation_level = "serializable"
    assert conn.isolation_level == "SERIALIZABLE"
    cur = conn.cursor()
    cur.execute("SHOW transaction_read_only")
    assert cur.fetchone() == ("on",)
    cur.execute("SHOW transaction_isolation")
    assert cur.fetchone() == ("serializable",)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        cur.execute(f"INSERT INTO {table} VALUES (1, 'x')")
    conn.rollback()
    conn.read_only = False
    conn.execute(f"INSERT INTO {table} VALUES (1, 'x')")
    conn.commit()


def test_connection_context_manager_commits_or_rolls_back(pg_dsn: str, table: str) -> None:
    with AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="") as conn:
        conn.execute(f"INSERT INTO {table} VALUES (1, 'kept')")
    assert conn.closed
    assert conn.is_closed

    def fail_inside() -> None:
        with AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="") as conn2:
            conn2.execute(f"INSERT INTO {table} VALUES (2, 'dropped')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    with psycopg.connect(pg_dsn) as other:
        assert other.execute(f"SELECT id FROM {table}").fetchall() == [(1,)]


def test_attribute_delegation_and_psycopg_shortcuts(conn: AwsWrapperConnection) -> None:
    assert conn.info.server_version >= 100000
    assert conn.info.dbname == "postgres"
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(str(diag.message_primary)))
    conn.autocommit = True
    conn.execute("DO $$ BEGIN RAISE NOTICE 'hello from the server'; END $$")
    assert notices == ["hello from the server"]
    assert conn.execute("SELECT 7").fetchone() == (7,)
    with pytest.raises(AttributeError):
        conn.no_such_attribute  # noqa: B018
    assert "AwsWrapperConnection psycopg on 127.0.0.1:5432" in repr(conn)


def test_driver_errors_keep_their_type(conn: AwsWrapperConnection) -> None:
    cur = conn.cursor()
    with pytest.raises(psycopg.errors.SyntaxError):
        cur.execute("SELEC 1")
    conn.rollback()
    with pytest.raises(psycopg.errors.UndefinedTable):
        cur.execute("SELECT * FROM no_such_table_anywhere")
    conn.rollback()
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)


def test_closed_connection_refuses_work(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="")
    raw = conn.target_connection
    conn.close()
    conn.close()  # idempotent
    assert raw.closed
    assert conn.is_closed
    with pytest.raises(InterfaceError, match="the connection is closed"):
        conn.cursor()
    with pytest.raises(InterfaceError, match="the connection is closed"):
        conn.commit()


@pytest.mark.parametrize(
    ("conninfo", "kwargs"),
    [
        ("postgresql://postgres@127.0.0.1:5432/postgres", {}),
        ("host=127.0.0.1", {"dbname": "postgres", "user": "postgres"}),
        ("host=127.0.0.1 user=nobody_here dbname=postgres", {"user": "postgres"}),  # kwargs win
        (
            "host=127.0.0.1 user=postgres",
            {"database": "postgres", "connect_timeout": 3, "tcp_keepalive": True},
        ),
    ],
)
def test_conninfo_forms(pg_dsn: str, conninfo: str, kwargs: dict[str, Any]) -> None:
    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, conninfo, plugins="", **kwargs)
    try:
        cur = conn.cursor()
        cur.execute("SELECT current_user, current_database()")
        assert cur.fetchone() == ("postgres", "postgres")
    finally:
        conn.close()


def test_compat_error_is_the_core_error() -> None:
    from aws_wrapper.core import AwsWrapperError as CoreError

    assert AwsWrapperError is CoreError
