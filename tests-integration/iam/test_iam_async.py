"""The ``iam`` plugin on an asyncio connection (psycopg ``AsyncConnection``): the same sync connect hook, run on
a worker thread, logs in with a token the server accepts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from aws_wrapper.auth.iam import TOKENS, IamAuthPlugin
from aws_wrapper.testing import LocalCluster

from .conftest import CLUSTER_KWARGS

pytestmark = [pytest.mark.integration, pytest.mark.pg_cluster(**CLUSTER_KWARGS)]


def test_an_async_psycopg_connection_logs_in_with_a_token(pg_cluster: LocalCluster) -> None:
    import psycopg

    from aws_wrapper.core.aio import AsyncAwsWrapperConnection, release_resources_async

    assert pg_cluster.iam is not None
    pg_cluster.iam.clear_log()
    info = pg_cluster.conninfo(iam=True)

    async def main() -> tuple[Any, Any, int]:
        conn = await AsyncAwsWrapperConnection.connect(
            psycopg.AsyncConnection.connect,
            host=info["host"],
            port=info["port"],
            user=info["user"],
            dbname=info["dbname"],
            plugins="iam",
            iam_region=pg_cluster.iam.region if pg_cluster.iam is not None else None,
            cluster_instance_host_pattern="?",
            connect_timeout=5,
        )
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT current_user, pg_catalog.aurora_db_instance_identifier()")
                row = await cur.fetchone()
            second = await AsyncAwsWrapperConnection.connect(
                psycopg.AsyncConnection.connect,
                host=info["host"],
                port=info["port"],
                user=info["user"],
                dbname=info["dbname"],
                plugins="iam",
                iam_region=pg_cluster.iam.region if pg_cluster.iam is not None else None,
                cluster_instance_host_pattern="?",
            )
            await second.close()
            plugin = conn.plugin(IamAuthPlugin)
            return row, plugin, TOKENS.stats().hits
        finally:
            await conn.close()
            await release_resources_async()

    row, plugin, hits = asyncio.run(main())
    assert row == (info["user"], pg_cluster.writer.instance_id)
    assert isinstance(plugin, IamAuthPlugin)
    assert plugin.authenticated >= 1
    assert hits >= 1  # the second connection reused the first one's token
    endpoint = [e for e in pg_cluster.iam.accepted() if e["host"] == info["host"]]
    assert len(endpoint) >= 2
    assert len({e["token_sha256"] for e in endpoint}) == 1
    assert pg_cluster.iam.rejected() == []
