"""Session state on real servers: values set through the wrapper follow the wrapper connection to a new physical
connection, the physical connection gets its pristine values back before it is closed, and custom handlers are
called. A switch is driven exactly as failover drives one: a plugin calls ``set_current`` on its context."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import mysql.connector
import psycopg
import psycopg.errors
import pytest

from aws_wrapper.core import AwsWrapperConnection, SessionState, SessionStateTransferHandlers

from ._support import (
    RecordingCMySqlConnection,
    RecordingMySqlConnection,
    RecordingPgConnection,
    mysql_server_state,
    pg_server_state,
    switch_plugin,
)

pytestmark = pytest.mark.integration


@dataclass
class Server:
    """How to reach one server through a recording driver class, and how to read its session state."""

    name: str
    target: Callable[..., Any]
    conninfo: str
    kwargs: dict[str, Any]
    state: Callable[[Any], dict[str, object]]
    pristine: dict[str, object]  # server-side state of a fresh connection
    changed: dict[str, object]  # after autocommit=True, read_only=True, isolation_level=SERIALIZABLE
    read_only_error: type[Exception]
    admin: Callable[[], Any]

    def connect(self, **kwargs: Any) -> AwsWrapperConnection:
        options = {"plugins": "test_core_switch", **self.kwargs, **kwargs}
        return AwsWrapperConnection.connect(self.target, self.conninfo, **options)

    def recorded(self, raw: Any) -> dict[str, object]:
        """The server-side state recorded when ``raw`` was closed."""
        assert raw.state_at_close is not None, "the connection was not closed through close()"
        return {k: v for k, v in raw.state_at_close.items() if k in self.pristine}


PG_PRISTINE: dict[str, object] = {"server_read_only": "off", "server_isolation": "read committed"}
PG_CHANGED: dict[str, object] = {"server_read_only": "on", "server_isolation": "serializable"}
MY_PRISTINE: dict[str, object] = {"autocommit": 0, "read_only": 0, "isolation": "REPEATABLE-READ"}
MY_CHANGED: dict[str, object] = {"autocommit": 1, "read_only": 1, "isolation": "SERIALIZABLE"}


@pytest.fixture(params=["pg", "mysql-pure", "mysql-cext"])
def server(request: pytest.FixtureRequest) -> Server:
    if request.param == "pg":
        dsn: str = request.getfixturevalue("pg_dsn")
        return Server(
            "pg", RecordingPgConnection.connect, dsn, {}, pg_server_state, PG_PRISTINE, PG_CHANGED,
            psycopg.errors.ReadOnlySqlTransaction, lambda: psycopg.connect(dsn, autocommit=True),
        )  # fmt: skip
    mysql_kwargs: dict[str, Any] = request.getfixturevalue("mysql_server")
    cls = RecordingMySqlConnection if request.param == "mysql-pure" else RecordingCMySqlConnection

    def admin() -> Any:
        conn: Any = mysql.connector.connect(**mysql_kwargs)
        conn.autocommit = True
        return conn

    return Server(
        request.param, cls, "", mysql_kwargs, mysql_server_state, MY_PRISTINE, MY_CHANGED,
        mysql.connector.errors.DatabaseError, admin,
    )  # fmt: skip


@pytest.fixture
def table(server: Server) -> Iterator[str]:
    name = f"aws_wrapper_state_{uuid.uuid4().hex[:10]}"
    admin = server.admin()
    try:
        admin.cursor().execute(f"CREATE TABLE {name} (id INT PRIMARY KEY)")
        yield name
    finally:
        admin.cursor().execute(f"DROP TABLE IF EXISTS {name}")
        admin.close()


def _change_everything(conn: AwsWrapperConnection) -> None:
    conn.autocommit = True
    conn.read_only = True
    conn.isolation_level = "SERIALIZABLE"


def _server_state(server: Server, raw: Any) -> dict[str, object]:
    return {k: v for k, v in server.state(raw).items() if k in server.pristine}


def test_state_is_transferred_to_the_new_connection_and_the_old_one_is_reset(
    server: Server, table: str
) -> None:
    conn = server.connect()
    try:
        old = conn.target_connection
        assert _server_state(server, old) == server.pristine
        _change_everything(conn)
        assert _server_state(server, old) == server.changed
        new = switch_plugin(conn).switch()
        assert conn.target_connection is new
        assert new is not old
        assert _server_state(server, new) == server.changed
        assert (conn.autocommit, conn.read_only, conn.isolation_level) == (True, True, "SERIALIZABLE")
        assert server.recorded(old) == server.pristine  # reset before it was closed ...
        cur = conn.cursor()
        with pytest.raises(server.read_only_error):  # ... and the new connection really is read-only
            cur.execute(f"INSERT INTO {table} VALUES (1)")
    finally:
        conn.close()


def test_pristine_state_is_restored_before_close(server: Server) -> None:
    conn = server.connect()
    raw = conn.target_connection
    _change_everything(conn)
    conn.close()
    assert server.recorded(raw) == server.pristine


def test_nothing_is_restored_when_reset_on_close_is_off(server: Server) -> None:
    conn = server.connect(reset_session_state_on_close=False)
    raw = conn.target_connection
    _change_everything(conn)
    conn.close()
    assert server.recorded(raw) == server.changed


def test_nothing_is_transferred_when_transfer_on_switch_is_off(server: Server) -> None:
    conn = server.connect(transfer_session_state_on_switch=False)
    try:
        _change_everything(conn)
        new = switch_plugin(conn).switch()
        assert _server_state(server, new) == server.pristine
    finally:
        conn.close()


def test_switch_inside_a_transaction_rolls_it_back_then_resets(server: Server, table: str) -> None:
    conn = server.connect()
    try:
        conn.isolation_level = "SERIALIZABLE"
        old = conn.target_connection
        conn.cursor().execute(f"INSERT INTO {table} VALUES (1)")
        switch_plugin(conn).switch()
        assert server.recorded(old) == server.pristine  # rolled back, so the reset could run
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {table}")
        assert cur.fetchall() == [(0,)]
    finally:
        conn.close()


def test_without_rollback_on_switch_the_open_transaction_blocks_the_reset(server: Server, table: str) -> None:
    conn = server.connect(rollback_on_switch=False)
    try:
        conn.isolation_level = "SERIALIZABLE"
        old = conn.target_connection
        conn.cursor().execute(f"INSERT INTO {table} VALUES (1)")
        switch_plugin(conn).switch()
        recorded = server.recorded(old)
        assert recorded != server.pristine  # still inside the transaction when closed: not reset
        assert "serializable" in str(recorded).lower()
    finally:
        conn.close()


def test_custom_transfer_handler_is_called_and_can_replace_the_default(server: Server) -> None:
    calls: list[tuple[object, object, object]] = []

    def transfer(state: SessionState, new_conn: Any) -> bool:
        calls.append((state.read_only.value, state.read_only.pristine, new_conn))
        return True  # fully handled (it does nothing): the wrapper must not apply its own transfer

    SessionStateTransferHandlers.set_transfer_session_state_on_switch_func(transfer)
    conn = server.connect()
    try:
        conn.read_only = True
        new = switch_plugin(conn).switch()
        assert calls == [(True, False, new)]
        assert _server_state(server, new) == server.pristine
    finally:
        conn.close()


def test_custom_transfer_handler_returning_false_adds_to_the_default(server: Server) -> None:
    seen: list[dict[str, object]] = []

    def transfer(state: SessionState, new_conn: Any) -> bool:
        seen.append(_server_state(server, new_conn))
        return False

    SessionStateTransferHandlers.set_transfer_session_state_on_switch_func(transfer)
    conn = server.connect()
    try:
        _change_everything(conn)
        new = switch_plugin(conn).switch()
        assert seen == [server.pristine]  # called before the default transfer ...
        assert _server_state(server, new) == server.changed  # ... which still ran
    finally:
        conn.close()


def test_custom_reset_handler_is_called_before_close(server: Server) -> None:
    calls: list[tuple[object, bool]] = []

    def reset(state: SessionState, raw: Any) -> bool:
        calls.append((state.autocommit.pristine, raw is target))
        return True  # fully handled (nothing done): the wrapper must not reset on its own

    SessionStateTransferHandlers.set_reset_session_state_on_close_func(reset)
    conn = server.connect()
    target = conn.target_connection
    _change_everything(conn)
    conn.close()
    assert calls == [(False, True)]
    assert server.recorded(target) == server.changed
