"""``await aws_advanced_python_wrapper.aio.psycopg.connect(conninfo, **settings)``: an async wrapper connection over
``psycopg.AsyncConnection``."""

from __future__ import annotations

from typing import Any

from aws_wrapper.core.aio import AsyncAwsWrapperConnection

__all__ = ["connect"]


async def connect(conninfo: str = "", **settings: Any) -> AsyncAwsWrapperConnection:
    """``AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, conninfo, **settings)``."""
    import psycopg

    return await AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, conninfo, **settings)
