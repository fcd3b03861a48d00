"""Upstream's asyncio names (``aws_advanced_python_wrapper.aio``), re-exported from :mod:`aws_wrapper.core.aio`::

    from aws_advanced_python_wrapper.aio import AsyncAwsWrapperConnection, release_resources_async

    conn = await AsyncAwsWrapperConnection.connect(psycopg.AsyncConnection.connect, conninfo, plugins="failover")

Per driver, ``aws_advanced_python_wrapper.aio.psycopg.connect(conninfo, **settings)`` opens one without naming the
driver's connect function. Importing this package imports asyncio; the sync package does not.
"""

from __future__ import annotations

from aws_wrapper.core.aio import AsyncAwsWrapperConnection, AsyncAwsWrapperCursor, release_resources_async

__all__ = ["AsyncAwsWrapperConnection", "AsyncAwsWrapperCursor", "release_resources_async"]
