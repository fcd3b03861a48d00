"""Threads sharing one wrapper connection (issue 9, item 3), on the machine's real servers: a psycopg connection
may be shared (psycopg serializes calls); a mysql-connector one may not, and a second thread calling at the same
time gets a clear InterfaceError at once instead of hanging in ``recv``."""

from __future__ import annotations

import threading
from typing import Any

import mysql.connector
import psycopg
import pytest

import aws_advanced_python_wrapper
import aws_wrapper.core
from aws_wrapper.core import AwsWrapperConnection, Error, InterfaceError

from ._support import mysql_kwargs

pytestmark = pytest.mark.integration

THREADS = 4
QUERIES = 200


def _hammer(conn: AwsWrapperConnection) -> tuple[int, list[BaseException], bool]:
    """Four threads run QUERIES statements each on ``conn``; returns (completed, errors, any thread hung)."""
    completed: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        done = 0
        for _ in range(QUERIES):
            try:
                cur = conn.cursor()
                cur.execute("SELECT 1")
                cur.fetchall()
                cur.close()
                done += 1
            except BaseException as exc:
                errors.append(exc)
        completed.append(done)

    threads = [threading.Thread(target=work, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return sum(completed), errors, any(t.is_alive() for t in threads)


def test_module_threadsafety_is_the_lower_of_the_drivers_levels() -> None:
    assert aws_wrapper.core.threadsafety == 1
    assert aws_advanced_python_wrapper.threadsafety == 1
    assert mysql.connector.threadsafety == 1
    assert psycopg.threadsafety == 2


def test_a_psycopg_connection_can_be_shared_by_threads(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="", autocommit=True)
    try:
        assert conn.threadsafety == 2
        completed, errors, hung = _hammer(conn)
    finally:
        conn.close()
    assert not hung
    assert errors == []
    assert completed == THREADS * QUERIES


@pytest.mark.parametrize("plugins", ["", "failover,host_monitoring"])
def test_a_shared_mysql_connection_gives_a_clear_error_instead_of_hanging(
    mysql_server: dict[str, Any], use_pure: bool, plugins: str
) -> None:
    conn = AwsWrapperConnection.connect(
        mysql.connector.connect, "", plugins=plugins, autocommit=True, use_pure=use_pure, **mysql_kwargs()
    )
    try:
        assert conn.threadsafety == 1
        completed, errors, hung = _hammer(conn)
        assert not hung, "threads sharing a mysql-connector connection hung"
        in_use = [e for e in errors if isinstance(e, InterfaceError) and "in use by another thread" in str(e)]
        print(f"\nmysql ({'pure' if use_pure else 'cext'}, plugins={plugins!r}): {completed} completed, "
              f"{len(in_use)} 'in use by another thread', {len(errors) - len(in_use)} other DB-API errors")
        assert in_use, "four threads never collided: the test proves nothing"
        assert all(isinstance(e, Error) for e in errors), [repr(e) for e in errors if not isinstance(e, Error)]
        # used by one thread again, the connection still works
        cur = conn.cursor()
        cur.execute("SELECT 42")
        assert cur.fetchall() == [(42,)]
    finally:
        conn.close()
