"""Fixtures of the core end-to-end tests (the machine's own PostgreSQL and MariaDB servers)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from aws_wrapper.core import SessionStateTransferHandlers
from aws_wrapper.core.conninfo import parse_conninfo
from aws_wrapper.core.plugins import ExceptionSimulatorManager

from ._support import MYSQL_DSN, PG_DSN, mysql_kwargs, register_test_plugins


def _reachable(dsn: str, default_port: int) -> bool:
    props = parse_conninfo(dsn)
    try:
        with socket.create_connection(
            (props.get("host", "127.0.0.1"), int(props.get("port", default_port))), 3
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    if not _reachable(PG_DSN, 5432):
        pytest.skip(f"no PostgreSQL server at {PG_DSN!r} (set AWS_WRAPPER_TEST_PG_DSN)")
    return PG_DSN


@pytest.fixture(scope="session")
def mysql_server() -> dict[str, Any]:
    if not _reachable(MYSQL_DSN, 3306):
        pytest.skip(f"no MySQL/MariaDB server at {MYSQL_DSN!r} (set AWS_WRAPPER_TEST_MYSQL_DSN)")
    return mysql_kwargs()


@pytest.fixture(params=[True, False], ids=["pure", "cext"])
def use_pure(request: pytest.FixtureRequest) -> bool:
    value: bool = request.param
    return value


@pytest.fixture(scope="session", autouse=True)
def _test_plugins() -> None:
    register_test_plugins()


@pytest.fixture(autouse=True)
def _reset_process_wide_state() -> Iterator[None]:
    yield
    SessionStateTransferHandlers.reset_transfer_session_state_on_switch_func()
    SessionStateTransferHandlers.clear_reset_session_state_on_close_func()
    ExceptionSimulatorManager.reset()
