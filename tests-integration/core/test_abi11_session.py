"""ABI 1.1 session state on the machine's own servers: a custom session field registered by a plugin of a separately
installed distribution (tests-integration/fixtures/abi11-session, ``test_session_field``), and attribute writes on
the wrapper connection (``conn.row_factory = dict_row``, mysql-connector's ``conn.time_zone = ...``). Both reach the
driver connection, follow the wrapper connection to a new physical connection (a switch driven as failover drives
one, by ``test_core_switch``) and are reset before the physical connection is closed (checked on the server by
driver connection classes that record the values right before they close)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mysql.connector.connection
import mysql.connector.connection_cext
import psycopg
import pytest
from aws_wrapper_test_abi11_session import SessionFieldPlugin
from psycopg.rows import dict_row, tuple_row

from aws_wrapper.core import AwsWrapperConnection
from aws_wrapper.core.session_state import ConnectionSwitch

from ._support import switch_plugin

pytestmark = pytest.mark.integration


def _pg_values(raw: Any) -> dict[str, object]:
    """Read on the server, leaving no transaction open (a reset before close skips a connection in one)."""
    idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    with raw.cursor(row_factory=tuple_row) as cur:
        cur.execute("SELECT current_setting('application_name')")
        row = cur.fetchone()
    if idle and raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raw.rollback()
    return {"field": row[0], "row_factory": raw.row_factory}


def _mysql_values(raw: Any) -> dict[str, object]:
    idle = not raw.in_transaction
    cur = raw.cursor()
    try:
        cur.execute("SELECT @@SESSION.sql_mode, @@SESSION.time_zone")
        sql_mode, time_zone = cur.fetchone()
    finally:
        cur.close()
    if idle and raw.in_transaction:
        raw.rollback()
    return {"field": str(sql_mode), "time_zone": str(time_zone)}


class RecordingPg(psycopg.Connection[Any]):
    """Records ``application_name`` (server) and ``row_factory`` (client) right before it closes."""

    at_close: dict[str, object] | None = None

    def close(self) -> None:
        if not self.closed and self.at_close is None:
            self.at_close = _pg_values(self)
        super().close()


class RecordingMySql(mysql.connector.connection.MySQLConnection):
    at_close: dict[str, object] | None = None

    def close(self) -> None:
        if self.is_connected() and self.at_close is None:
            self.at_close = _mysql_values(self)
        super().close()


class RecordingCMySql(mysql.connector.connection_cext.CMySQLConnection):
    at_close: dict[str, object] | None = None

    def close(self) -> None:
        if self.is_connected() and self.at_close is None:
            self.at_close = _mysql_values(self)
        super().close()


@dataclass
class Server:
    name: str
    target: Callable[..., Any]
    conninfo: str
    kwargs: dict[str, Any]
    values: Callable[[Any], dict[str, object]]
    field: str  # the name of test_session_field's field on this engine
    value: str  # a value of it that differs from the server default

    @property
    def is_pg(self) -> bool:
        return self.name == "pg"

    def connect(self, **kwargs: Any) -> AwsWrapperConnection:
        options = {"plugins": "test_core_switch,test_session_field", **self.kwargs, **kwargs}
        return AwsWrapperConnection.connect(self.target, self.conninfo, **options)

    def field_on(self, raw: Any) -> object:
        return self.values(raw)["field"]


@pytest.fixture(params=["pg", "mysql-pure", "mysql-cext"])
def server(request: pytest.FixtureRequest) -> Server:
    if request.param == "pg":
        dsn: str = request.getfixturevalue("pg_dsn")
        return Server("pg", RecordingPg.connect, dsn, {}, _pg_values, "application_name", "abi11-app")
    mysql_kwargs: dict[str, Any] = request.getfixturevalue("mysql_server")
    cls = RecordingMySql if request.param == "mysql-pure" else RecordingCMySql
    return Server(request.param, cls, "", mysql_kwargs, _mysql_values, "sql_mode", "NO_ENGINE_SUBSTITUTION")


def _plugin(conn: AwsWrapperConnection) -> SessionFieldPlugin:
    plugin = conn.plugin(SessionFieldPlugin)
    assert plugin is not None
    return plugin


def test_custom_field_of_a_separate_distribution_is_transferred_and_reset(server: Server) -> None:
    conn = server.connect()
    try:
        old = conn.target_connection
        pristine = server.field_on(old)
        assert pristine != server.value
        setattr(conn, server.field, server.value)  # conn.application_name = ... / conn.sql_mode = ...
        assert server.field_on(old) == server.value  # really on the server
        assert getattr(conn, server.field) == server.value  # read back through the field's reader
        new = switch_plugin(conn).switch()
        assert new is not old
        assert server.field_on(new) == server.value  # transferred to the new connection
        assert old.at_close["field"] == pristine  # the old one was reset before it was closed
        switches = _plugin(conn).switches
        assert [(s.old, s.new) for s in switches] == [(old, new)]  # what last_switch told the plugin
        assert isinstance(switches[0], ConnectionSwitch)
    finally:
        conn.close()
    assert new.at_close["field"] == pristine  # reset before close


def test_a_value_the_plugin_set_itself_is_tracked(server: Server) -> None:
    conn = server.connect(test_session_label=server.value)
    try:
        first = conn.target_connection
        assert server.field_on(first) == server.value  # the plugin ran its own SQL at connect ...
        new = switch_plugin(conn).switch()
        assert server.field_on(new) == server.value  # ... and recorded it: core transferred it
        assert first.at_close["field"] != server.value
    finally:
        conn.close()
    assert new.at_close["field"] != server.value


def test_transfer_can_be_turned_off_for_custom_fields_too(server: Server) -> None:
    conn = server.connect(transfer_session_state_on_switch=False)
    try:
        old = conn.target_connection
        pristine = server.field_on(old)
        setattr(conn, server.field, server.value)
        new = switch_plugin(conn).switch()
        assert server.field_on(new) == pristine
        assert [(s.old, s.new) for s in _plugin(conn).switches] == [(old, new)]  # the switch is still told
    finally:
        conn.close()


def test_row_factory_reaches_psycopg_and_follows_a_switch(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(RecordingPg.connect, pg_dsn, plugins="test_core_switch")
    try:
        old = conn.target_connection
        conn.row_factory = dict_row
        assert old.row_factory is dict_row
        assert conn.row_factory is dict_row
        cur = conn.cursor()
        cur.execute("SELECT 1 AS a, 'x' AS b")
        assert cur.fetchall() == [{"a": 1, "b": "x"}]
        assert conn.execute("SELECT 2 AS n").fetchone() == {"n": 2}
        conn.prepare_threshold = None  # another psycopg attribute with a setter
        conn.commit()
        new = switch_plugin(conn).switch()
        assert new.row_factory is dict_row
        assert new.prepare_threshold is None
        cur.execute("SELECT 3 AS n")  # the old cursor opens a fresh one on the new connection
        assert cur.fetchall() == [{"n": 3}]
        assert conn.cursor().execute("SELECT 4 AS n").fetchone() == {"n": 4}
        assert old.at_close["row_factory"] is tuple_row  # restored before close
    finally:
        conn.close()
    assert new.at_close["row_factory"] is tuple_row
    assert new.prepare_threshold == 5


def test_mysql_connector_attribute_setter_reaches_the_server_and_follows_a_switch(
    mysql_server: dict[str, Any], use_pure: bool
) -> None:
    cls = RecordingMySql if use_pure else RecordingCMySql
    conn = AwsWrapperConnection.connect(cls, "", plugins="test_core_switch", **mysql_server)
    try:
        old = conn.target_connection
        pristine = _mysql_values(old)["time_zone"]
        conn.time_zone = "+03:00"  # mysql-connector's property: runs SET @@session.time_zone
        assert _mysql_values(old)["time_zone"] == "+03:00"
        new = switch_plugin(conn).switch()
        assert _mysql_values(new)["time_zone"] == "+03:00"
        assert old.at_close["time_zone"] == pristine
    finally:
        conn.close()
    assert new.at_close["time_zone"] == pristine
