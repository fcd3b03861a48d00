"""Helpers for the end-to-end tests of the local cluster (fixtures come from aws_wrapper.testing's plugin)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

Connect = Callable[..., Any]


@pytest.fixture
def pg_connect() -> Iterator[Connect]:
    """``pg_connect(endpoint_or_host, port=None, **kw)`` -> an autocommit psycopg connection (closed after)."""
    psycopg = pytest.importorskip("psycopg")
    made: list[Any] = []

    def connect(host: Any, port: int | None = None, **kwargs: Any) -> Any:
        if port is None:
            host, port = host.host, host.port
        options = {"user": "postgres", "dbname": "test", "autocommit": True, "connect_timeout": 5, **kwargs}
        conn = psycopg.connect(host=host, port=port, **options)
        made.append(conn)
        return conn

    yield connect
    for conn in made:
        with contextlib.suppress(Exception):
            conn.close()


@pytest.fixture
def mysql_connect() -> Iterator[Connect]:
    """``mysql_connect(endpoint_or_host, port=None, **kw)`` -> an autocommit mysql-connector connection."""
    connector = pytest.importorskip("mysql.connector")
    made: list[Any] = []

    def connect(host: Any, port: int | None = None, **kwargs: Any) -> Any:
        if port is None:
            host, port = host.host, host.port
        options = {"user": "root", "password": "", "database": "test", "connection_timeout": 5, **kwargs}
        conn = connector.connect(host=host, port=port, use_pure=True, autocommit=True, **options)
        made.append(conn)
        return conn

    yield connect
    for conn in made:
        with contextlib.suppress(Exception):
            conn.close()


Wait = Callable[..., None]


@pytest.fixture
def wait_until() -> Wait:
    """``wait_until(predicate, timeout=10.0, what="")``: poll until ``predicate()`` is true, else fail."""

    def wait(predicate: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what or predicate!r}")
            time.sleep(0.01)

    return wait
