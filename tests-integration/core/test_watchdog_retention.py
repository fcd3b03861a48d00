"""Closed connections are not kept alive by the watchdog (issue 9, item 5): every network-bound call with
``socket_timeout`` arms a deadline whose abort callback references the driver connection; once the call is done
and the connection closed, nothing of the wrapper may still hold it, neither before nor after
``release_resources()``."""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable
from typing import Any

import mysql.connector
import psycopg
import pytest

from aws_wrapper.core import AwsWrapperConnection, release_resources
from aws_wrapper.core._watchdog import WATCHDOG

pytestmark = pytest.mark.integration


def _open_use_close(count: int, connect: Callable[[], AwsWrapperConnection]) -> list[weakref.ref[Any]]:
    refs: list[weakref.ref[Any]] = []
    for _ in range(count):
        conn = connect()
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchall() == [(1,)]
        cur.close()
        refs.append(weakref.ref(conn.target_connection))
        conn.close()
        del conn, cur
    return refs


def _retained(refs: list[weakref.ref[Any]]) -> int:
    gc.collect()
    return sum(ref() is not None for ref in refs)


def _running() -> bool:
    return WATCHDOG.is_running


def _check(refs: list[weakref.ref[Any]]) -> None:
    assert _running(), "socket_timeout should have armed the watchdog (else this test proves nothing)"
    t0 = time.monotonic()
    assert _retained(refs) == 0, "closed connections are still referenced right after close"
    assert time.monotonic() - t0 < 1.0  # not freed by waiting for the deadlines
    release_resources()
    assert not _running()
    assert _retained(refs) == 0, "closed connections are still referenced after release_resources()"
    assert WATCHDOG.pending == 0
    assert WATCHDOG._heap == []


def test_closed_pg_connections_are_freed(pg_dsn: str) -> None:
    refs = _open_use_close(
        300,
        lambda: AwsWrapperConnection.connect(
            psycopg.Connection.connect, pg_dsn, plugins="", socket_timeout=30
        ),
    )
    _check(refs)


def test_closed_mysql_connections_are_freed(mysql_server: dict[str, Any], use_pure: bool) -> None:
    refs = _open_use_close(
        100,
        lambda: AwsWrapperConnection.connect(
            mysql.connector.connect, "", plugins="", socket_timeout=30, use_pure=use_pure, **mysql_server
        ),
    )
    _check(refs)
