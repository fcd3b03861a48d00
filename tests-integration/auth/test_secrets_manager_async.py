"""The ``aws_secrets_manager`` plugin on an asyncio connection (psycopg ``AsyncConnection``): the same plugin
object, its connect hook running on the wrapper's worker thread, against PostgreSQL checking scram-sha-256."""

from __future__ import annotations

import asyncio
import threading

import pytest

from aws_wrapper.core.aio import AsyncAwsWrapperConnection
from aws_wrapper.testing import MotoServer

from .conftest import Db, FetchCounter, SecretsAdmin, new_password

pytestmark = pytest.mark.integration


def test_async_connect_and_rotation(
    pg_db: Db, moto: MotoServer, secrets_admin: SecretsAdmin, fetches: FetchCounter
) -> None:
    import psycopg

    old, new = new_password(), new_password()
    user = pg_db.new_user(old)
    _, arn = secrets_admin.create(user, old)

    async def connect() -> str:
        conn = await AsyncAwsWrapperConnection.connect(
            psycopg.AsyncConnection.connect,
            **pg_db.server,
            plugins="aws_secrets_manager",
            secrets_manager_secret_id=arn,
            secrets_manager_endpoint=moto.endpoint_url,
        )
        try:
            cur = conn.cursor()
            await cur.execute("SELECT current_user")
            row = await cur.fetchone()
            assert row is not None
            return str(row[0])
        finally:
            await conn.close()

    assert asyncio.run(connect()) == user
    assert fetches.fetches == 1
    assert threading.current_thread().name not in fetches.threads  # fetched on the wrapper's worker thread

    pg_db.set_password(user, new)
    secrets_admin.rotate(arn, user, new)
    assert asyncio.run(connect()) == user
    assert fetches.fetches == 2
    assert asyncio.run(connect()) == user
    assert fetches.fetches == 2
