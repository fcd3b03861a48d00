"""``await aws_advanced_python_wrapper.aio.aiomysql.connect(conninfo, **settings)``: an async wrapper connection over
``aiomysql``."""

from __future__ import annotations

import importlib
from typing import Any

from aws_wrapper.core.aio import AsyncAwsWrapperConnection

__all__ = ["connect"]


async def connect(conninfo: str = "", **settings: Any) -> AsyncAwsWrapperConnection:
    """``AsyncAwsWrapperConnection.connect(aiomysql.connect, conninfo, **settings)``."""
    driver = importlib.import_module("aiomysql")  # this module is named aiomysql too: import the driver by name
    return await AsyncAwsWrapperConnection.connect(driver.connect, conninfo, **settings)
