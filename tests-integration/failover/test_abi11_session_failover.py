"""ABI 1.1 session state through a real failover on the local clusters (writer crash: SIGKILL, then a replica is
promoted): a custom session field registered by a plugin of a separately installed distribution
(tests-integration/fixtures/abi11-session, ``test_session_field``) and ``conn.row_factory = dict_row`` are on the
NEW physical connection afterwards, checked with SQL on it."""

from __future__ import annotations

from typing import Any

import pytest
from aws_wrapper_test_abi11_session import SessionFieldPlugin

from aws_wrapper.core import AwsWrapperConnection, FailoverSuccessError

from .conftest import Db

pytestmark = [pytest.mark.integration]


def _crash_writer(db: Db) -> tuple[str, str]:
    old = db.cluster.writer.instance_id
    db.cluster.crash()
    return old, db.cluster.promote().instance_id


def _field(db: Db) -> tuple[str, str, str]:
    """(field name, a non-default value, SQL reading it) of ``test_session_field`` on this engine."""
    if db.is_pg:
        return "application_name", "abi11-failover", "SELECT current_setting('application_name')"
    return "sql_mode", "NO_ENGINE_SUBSTITUTION", "SELECT @@SESSION.sql_mode"


def _fail_over(db: Db, conn: AwsWrapperConnection) -> tuple[Any, Any]:
    """Crash the writer; the next statement fails over. Returns (old, new) driver connections."""
    old = conn.target_connection
    cur = conn.cursor()  # (mysql-connector's cursor() already notices a lost connection)
    before, after = _crash_writer(db)
    with pytest.raises(FailoverSuccessError):
        cur.execute("SELECT 1")
    new = conn.target_connection
    assert new is not old
    assert _instance(db, new) == after != before
    return old, new


def _instance(db: Db, raw: Any) -> str:
    sql = "SELECT pg_catalog.aurora_db_instance_identifier()" if db.is_pg else "SELECT @@aurora_server_id"
    cur = raw.cursor()
    try:
        cur.execute(sql)
        row = cur.fetchone()
    finally:
        cur.close()
    return str(next(iter(row.values())) if isinstance(row, dict) else row[0])


def test_custom_session_field_is_on_the_new_connection_after_failover(db: Db) -> None:
    name, value, sql = _field(db)
    conn = db.connect(plugins="failover,test_session_field")
    pristine = db.one(conn, sql)
    assert pristine != value
    setattr(conn, name, value)  # the application sets the plugin's field: conn.application_name = ...
    assert db.one(conn, sql) == value
    old, new = _fail_over(db, conn)
    assert db.one(new, sql) == value  # SQL on the NEW driver connection itself
    assert db.one(conn, sql) == value  # and through the wrapper
    plugin = conn.plugin(SessionFieldPlugin)
    assert plugin is not None
    assert [(s.old, s.new) for s in plugin.switches] == [(old, new)]  # ABI 1.1: both connections of the switch
    conn.close()


def test_a_value_the_plugin_set_itself_survives_failover(db: Db) -> None:
    _, value, sql = _field(db)
    conn = db.connect(plugins="failover,test_session_field", test_session_label=value)
    assert db.one(conn, sql) == value
    _, new = _fail_over(db, conn)
    assert db.one(new, sql) == value
    conn.close()


def test_row_factory_survives_failover(pg: Db) -> None:
    from psycopg.rows import dict_row

    conn = pg.connect()
    conn.row_factory = dict_row
    cur = conn.cursor()
    cur.execute("SELECT 1 AS a, 'x' AS b")
    assert cur.fetchall() == [{"a": 1, "b": "x"}]
    _, new = _fail_over(pg, conn)
    assert new.row_factory is dict_row
    cur.execute("SELECT pg_is_in_recovery() AS recovering")  # the same cursor, now on the new connection
    assert cur.fetchall() == [{"recovering": False}]
    assert conn.cursor().execute("SELECT 2 AS n").fetchone() == {"n": 2}  # a cursor created after the switch
    assert conn.execute("SELECT 3 AS n").fetchone() == {"n": 3}
    conn.close()
