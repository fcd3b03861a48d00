"""Helpers for the core end-to-end tests: server settings, a plugin that switches the physical connection, and
driver connection classes that record their session state at the moment they are closed."""

from __future__ import annotations

import os
import threading
from typing import Any

import mysql.connector.connection
import mysql.connector.connection_cext
import psycopg

from aws_wrapper.core import AwsWrapperConnection, HostInfo, Plugin, PluginContext, PluginFactory
from aws_wrapper.core.conninfo import parse_conninfo
from aws_wrapper.core.plugin import ConnectionChange, OldConnectionSuggestion, RawConnection
from aws_wrapper.core.registry import REGISTRY

#: libpq conninfo of the machine's PostgreSQL (override with AWS_WRAPPER_TEST_PG_DSN).
PG_DSN = os.environ.get("AWS_WRAPPER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")
#: key=value settings of the machine's MariaDB (override with AWS_WRAPPER_TEST_MYSQL_DSN).
MYSQL_DSN = os.environ.get("AWS_WRAPPER_TEST_MYSQL_DSN", "host=127.0.0.1 port=3306 user=root database=test")


def mysql_kwargs() -> dict[str, Any]:
    return dict(parse_conninfo(MYSQL_DSN))


class SwitchPlugin(Plugin):
    """Holds its :class:`PluginContext`; :meth:`switch` opens a new physical connection and makes it current,
    exactly as failover or read/write splitting would."""

    def __init__(self, context: PluginContext) -> None:
        self.context = context
        self.changes: list[frozenset[ConnectionChange]] = []

    def switch(self) -> RawConnection:
        connection = self.context.connection
        host = connection.current_host or connection.initial_host
        new = self.context.connector.connect(host)
        connection.set_current(new, host)
        return new

    def notify_connection_changed(self, changes: frozenset[ConnectionChange]) -> OldConnectionSuggestion:
        self.changes.append(changes)
        return OldConnectionSuggestion.NO_OPINION


class SwitchPluginFactory(PluginFactory):
    code = "test_core_switch"

    def create(self, context: PluginContext) -> Plugin:
        return SwitchPlugin(context)


_registered = threading.Lock()


def register_test_plugins() -> None:
    """Register the test plugins with the process-wide registry (once)."""
    with _registered:
        try:
            REGISTRY.get(SwitchPluginFactory.code)
        except Exception:
            REGISTRY.register(SwitchPluginFactory)


def switch_plugin(conn: AwsWrapperConnection) -> SwitchPlugin:
    plugin = conn.plugin(SwitchPlugin)
    assert plugin is not None, "the connection was opened without plugins='test_core_switch'"
    return plugin


# -- connections that record their state when closed --------------------------------------------------------------


class RecordingPgConnection(psycopg.Connection[Any]):
    """``psycopg.Connection`` that records its session state (client attributes and server session defaults)
    right before it closes. Use ``RecordingPgConnection.connect`` as the wrapper's target."""

    state_at_close: dict[str, object] | None = None

    def close(self) -> None:
        if not self.closed and self.state_at_close is None:
            state: dict[str, object] = {
                "autocommit": self.autocommit,
                "read_only": self.read_only,
                "isolation_level": None if self.isolation_level is None else self.isolation_level.name,
            }
            with self.cursor() as cur:
                cur.execute("SHOW default_transaction_read_only")
                state["server_read_only"] = _first(cur.fetchone())
                cur.execute("SHOW default_transaction_isolation")
                state["server_isolation"] = _first(cur.fetchone())
            self.state_at_close = state
        super().close()


def _first(row: Any) -> object:
    assert row is not None
    return row[0]


def _mysql_state(conn: Any) -> dict[str, object]:
    cur = conn.cursor()
    try:
        cur.execute("SELECT @@session.autocommit, @@session.tx_read_only, @@session.tx_isolation")
        autocommit, read_only, isolation = cur.fetchone()
    finally:
        cur.close()
    return {"autocommit": int(autocommit), "read_only": int(read_only), "isolation": str(isolation)}


class RecordingMySqlConnection(mysql.connector.connection.MySQLConnection):
    """Pure-Python mysql-connector connection recording its server session state right before it closes."""

    state_at_close: dict[str, object] | None = None

    def close(self) -> None:
        if self.is_connected() and self.state_at_close is None:
            self.state_at_close = _mysql_state(self)
        super().close()


class RecordingCMySqlConnection(mysql.connector.connection_cext.CMySQLConnection):
    """C-extension mysql-connector connection recording its server session state right before it closes."""

    state_at_close: dict[str, object] | None = None

    def close(self) -> None:
        if self.is_connected() and self.state_at_close is None:
            self.state_at_close = _mysql_state(self)
        super().close()


def pg_server_state(raw: Any) -> dict[str, object]:
    """Session defaults of a live PostgreSQL connection, read on the server (leaves no transaction open)."""
    idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with raw.cursor() as cur:
        cur.execute("SHOW default_transaction_read_only")
        read_only = _first(cur.fetchone())
        cur.execute("SHOW default_transaction_isolation")
        isolation = _first(cur.fetchone())
    if idle and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raw.rollback()
    return {"server_read_only": read_only, "server_isolation": isolation}


def mysql_server_state(raw: Any) -> dict[str, object]:
    """Session state of a live MySQL connection, read on the server (leaves no transaction open)."""
    idle = not raw.in_transaction
    state = _mysql_state(raw)
    if idle and raw.in_transaction:
        raw.rollback()
    return state


__all__ = [
    "PG_DSN",
    "MYSQL_DSN",
    "HostInfo",
    "mysql_kwargs",
    "SwitchPlugin",
    "SwitchPluginFactory",
    "register_test_plugins",
    "switch_plugin",
    "RecordingPgConnection",
    "RecordingMySqlConnection",
    "RecordingCMySqlConnection",
    "pg_server_state",
    "mysql_server_state",
]
