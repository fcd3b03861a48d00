"""``await aws_advanced_python_wrapper.aio.mysql_connector.connect(conninfo, **settings)``: an async wrapper connection
over ``mysql.connector.aio``."""

from __future__ import annotations

from typing import Any

from aws_wrapper.core.aio import AsyncAwsWrapperConnection

__all__ = ["connect"]


async def connect(conninfo: str = "", **settings: Any) -> AsyncAwsWrapperConnection:
    """``AsyncAwsWrapperConnection.connect(mysql.connector.aio.connect, conninfo, **settings)``."""
    import mysql.connector.aio

    return await AsyncAwsWrapperConnection.connect(mysql.connector.aio.connect, conninfo, **settings)
