"""asyncio support: :class:`AsyncAwsWrapperConnection` for ``psycopg.AsyncConnection``.

The same plugins, settings, errors and session-state rules as the sync wrapper, written once (see docs/async.md:
the per-call code is async and its sync twin generated; the rare, waiting work - connecting, failover - is the
wrapper's sync code on a worker thread whose driver calls run on the connection's event loop). Importing this
package imports asyncio; ``import aws_wrapper.core`` alone does not.
"""

from __future__ import annotations

from ._bridge import run_sync
from ._connection import AsyncAwsWrapperConnection
from ._cursor import AsyncAwsWrapperCursor

__all__ = ["AsyncAwsWrapperConnection", "AsyncAwsWrapperCursor", "release_resources_async"]


async def release_resources_async() -> None:
    """:func:`aws_wrapper.core.release_resources` for async applications: runs it on a worker thread (stopping
    monitors waits for their threads), then lets the worker threads end."""
    from .. import lifecycle
    from . import _bridge

    await run_sync(lifecycle.release_resources)
    _bridge.shutdown(wait=False)
