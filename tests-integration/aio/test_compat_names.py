"""Upstream's asyncio names: ``aws_advanced_python_wrapper.aio`` and its per-driver ``connect`` helpers, on the
machine's servers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import pytest

pytestmark = pytest.mark.integration

PG_DSN = os.environ.get("AWS_WRAPPER_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=postgres user=postgres")
MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}


def test_the_sync_compat_package_does_not_import_asyncio() -> None:
    code = "import sys, aws_advanced_python_wrapper; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_upstream_async_names_open_connections_on_every_driver() -> None:
    from aws_advanced_python_wrapper.aio import AsyncAwsWrapperConnection, release_resources_async
    from aws_advanced_python_wrapper.aio import aiomysql as aio_aiomysql
    from aws_advanced_python_wrapper.aio import mysql_connector as aio_mysql
    from aws_advanced_python_wrapper.aio import psycopg as aio_psycopg

    async def main() -> list[object]:
        conns = [
            await aio_psycopg.connect(PG_DSN, plugins=""),
            await aio_mysql.connect(plugins="", ssl_disabled=True, **MYSQL),
            await aio_aiomysql.connect(plugins="", **MYSQL),
        ]
        rows = []
        for conn in conns:
            assert isinstance(conn, AsyncAwsWrapperConnection)
            cur = await conn.execute("SELECT 1")
            rows.append(await cur.fetchone())
            await conn.close()
        await release_resources_async()
        return rows

    assert asyncio.run(main()) == [(1,), (1,), (1,)]
