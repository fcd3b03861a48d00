"""EFM with failover on a local Aurora cluster: the writer goes silent under a long query; EFM aborts the call,
the failover plugin (outside EFM) reconnects to the promoted writer and the application continues there."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from aws_wrapper.core import (
    AwsWrapperConnection,
    FailoverSuccessError,
    TransactionResolutionUnknownError,
)
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.efm import active_monitors

from .conftest import wait_for

try:
    from aws_wrapper.failover import FailoverPluginFactory  # noqa: F401

    _FAILOVER_MISSING: str | None = None
except ImportError as exc:  # pragma: no cover - depends on what is installed
    _FAILOVER_MISSING = f"aws-wrapper-failover is not usable yet: {exc}"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(_FAILOVER_MISSING is not None, reason=_FAILOVER_MISSING or ""),
]

MYSQL_DIALECT = "aurora-mysql-local"  # Aurora MySQL facts with the topology view in a user schema (MariaDB)


@pytest.fixture(scope="module", autouse=True)
def _local_mysql_dialect() -> None:
    from aws_wrapper.dialects import aurora_mysql_on_mariadb, register_dialect

    register_dialect(aurora_mysql_on_mariadb(code=MYSQL_DIALECT), replace=True)


@pytest.fixture(params=["pg", "mysql"])
def cluster(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(f"{request.param}_cluster")


def _is_pg(cluster: Any) -> bool:
    return bool(cluster.engine.name == "pg")


def _connect(cluster: Any, **settings: Any) -> AwsWrapperConnection:
    info = cluster.conninfo()
    kwargs: dict[str, Any] = {
        "host": info["host"],
        "port": info["port"],
        "user": info["user"],
        "cluster_instance_host_pattern": "?",
        "connect_timeout": 3,
        "autocommit": True,
    }
    driver: Callable[..., Any]
    if _is_pg(cluster):
        import psycopg

        driver = psycopg.Connection.connect
        kwargs["dbname"] = info["dbname"]
    else:
        import mysql.connector

        driver = mysql.connector.connect
        kwargs.update(database=info["database"], password="", wrapper_dialect=MYSQL_DIALECT)
    kwargs.update(settings)
    return AwsWrapperConnection.connect(driver, **kwargs)


def _one(conn: AwsWrapperConnection, sql: str) -> Any:
    cur = conn.cursor()
    cur.execute(sql)
    row = cur.fetchone()
    cur.close()
    return None if row is None else row[0]


def _instance(cluster: Any, conn: AwsWrapperConnection) -> str:
    sql = (
        "SELECT pg_catalog.aurora_db_instance_identifier()"
        if _is_pg(cluster)
        else "SELECT @@aurora_server_id"
    )
    return str(_one(conn, sql))


@pytest.mark.parametrize("in_transaction", [False, True], ids=["autocommit", "transaction"])
def test_silent_writer_is_detected_and_the_application_continues_on_the_new_writer(
    cluster: Any, in_transaction: bool
) -> None:
    conn = _connect(
        cluster,
        plugins="failover,efm",
        failure_detection_time_ms=1000,
        failure_detection_interval_ms=500,
        failure_detection_count=2,
        failover_timeout_sec=60,
    )
    errors: list[BaseException] = []
    try:
        old_writer = cluster.writer
        old_id = _instance(cluster, conn)
        cur = conn.cursor()
        if in_transaction:
            cur.execute("BEGIN" if _is_pg(cluster) else "START TRANSACTION")
        sleep = "SELECT pg_sleep(60)" if _is_pg(cluster) else "SELECT SLEEP(60)"

        def outage() -> None:
            try:
                time.sleep(0.5)
                cluster.blackhole(old_writer)
                # the cluster promotes a replica once the old writer is known dead (here: once EFM saw it)
                assert wait_for(lambda: any(not m.healthy for m in active_monitors()), 10.0)
                cluster.failover()
            except BaseException as exc:
                errors.append(exc)

        expected = TransactionResolutionUnknownError if in_transaction else FailoverSuccessError
        thread = threading.Thread(target=outage, daemon=True)
        start = time.monotonic()
        thread.start()
        with pytest.raises(expected):
            cur.execute(sleep)
        elapsed = time.monotonic() - start
        thread.join(60)
        assert not errors, errors
        print(f"{'pg' if _is_pg(cluster) else 'mysql'}: {expected.__name__} after {elapsed:.2f} s")
        assert 1.5 <= elapsed <= 30.0  # detected by EFM (about 2 s), then the promotion is awaited
        new_id = _instance(cluster, conn)  # the application simply continues
        assert new_id != old_id
        assert new_id == cluster.writer.instance_id
        assert _one(conn, "SELECT 1") == 1
    finally:
        conn.close()
        AVAILABILITY.clear()
