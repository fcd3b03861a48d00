"""``connect_time``, ``execute_time`` and ``dev`` on real connections."""

from __future__ import annotations

from typing import Any

import mysql.connector
import mysql.connector.errors
import psycopg
import pytest

from aws_wrapper.core import AwsWrapperConnection, DbApiMethod
from aws_wrapper.core.plugins import (
    ConnectTimePlugin,
    DevPlugin,
    ExceptionSimulatorManager,
    ExecuteTimePlugin,
)

pytestmark = pytest.mark.integration


def test_timing_plugins_on_postgresql(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(
        psycopg.Connection.connect, pg_dsn, plugins="execute_time,connect_time"
    )
    try:
        connect_time = conn.plugin(ConnectTimePlugin)
        execute_time = conn.plugin(ExecuteTimePlugin)
        assert connect_time is not None
        assert execute_time is not None
        assert connect_time.count == 1
        assert 0 < connect_time.last_ns < 5_000_000_000
        cur = conn.cursor()
        cur.execute("SELECT pg_sleep(0.05)")
        cur.fetchall()
        assert execute_time.count(DbApiMethod.CURSOR_EXECUTE) == 1
        assert execute_time.total_ns(DbApiMethod.CURSOR_EXECUTE) >= 50_000_000
        assert execute_time.count(DbApiMethod.CURSOR_FETCHALL) == 1
    finally:
        conn.close()


def test_dev_injects_a_network_error_that_reaches_the_application_unchanged(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="dev")
    try:
        dev = conn.plugin(DevPlugin)
        assert dev is not None
        injected = psycopg.OperationalError("server closed the connection unexpectedly")
        ExceptionSimulatorManager.raise_on_next_call(injected, DbApiMethod.CURSOR_EXECUTE)
        cur = conn.cursor()
        with pytest.raises(psycopg.OperationalError) as info:
            cur.execute("SELECT 1")
        assert info.value is injected
        assert conn._rt.errors.is_network_error(info.value)  # what failover would act on
        cur.execute("SELECT 2")  # one-shot: the connection itself is fine
        assert cur.fetchone() == (2,)
        assert dev.injected == 1
    finally:
        conn.close()


def test_dev_connect_fault_on_mysql(mysql_server: dict[str, Any], use_pure: bool) -> None:
    ExceptionSimulatorManager.raise_on_next_connect(
        mysql.connector.errors.InterfaceError("no route", errno=2003)
    )
    with pytest.raises(mysql.connector.errors.InterfaceError, match="no route"):
        AwsWrapperConnection.connect(
            mysql.connector.connect, "", plugins="dev", use_pure=use_pure, **mysql_server
        )
    conn = AwsWrapperConnection.connect(
        mysql.connector.connect, "", plugins="dev", use_pure=use_pure, **mysql_server
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
    finally:
        conn.close()
