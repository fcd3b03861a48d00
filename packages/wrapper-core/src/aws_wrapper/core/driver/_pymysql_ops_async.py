"""The network operations of PyMySQL-family connections, written once. The asyncio driver built on PyMySQL mirrors
its API with coroutines (``await conn.autocommit(True)``, ``await conn.cursor()``; only closing with QUIT has
another name), so the async class serves its connections and the generated sync twin serves PyMySQL's. Only
the driver calls differ from mysql-connector's; the shared logic (auxiliary queries, session variables) is
inherited from the MySQL ops class."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from ._mysql_ops_async import MySqlOpsAsync

# async-to-sync: _mysql_ops_async=_mysql_ops_sync aiomysql=pymysql ensure_closed=close

__all__ = ["PyMySqlOpsAsync"]

logger = logging.getLogger("aws_wrapper.core")

_STATUS_IN_TRANS = 0x0001  # SERVER_STATUS_IN_TRANS in the server status flags


class PyMySqlOpsAsync(MySqlOpsAsync):
    """Driver calls of PyMySQL-family connections (the transaction and autocommit state is the server status the
    connection keeps from the last answer: no round trip)."""

    async def cursor(self, conn: Any) -> Any:
        """A plain tuple cursor, whatever ``cursorclass`` the application connected with."""
        cursors = importlib.import_module("aiomysql.cursors")
        return await conn.cursor(cursors.Cursor)

    def in_transaction(self, conn: Any) -> bool:
        return bool(conn.server_status & _STATUS_IN_TRANS)

    def server_info(self, conn: Any) -> str:
        return str(conn.get_server_info() or "")

    async def server_status(self, conn: Any) -> int:
        return int(conn.server_status)

    async def set_autocommit(self, conn: Any, value: bool) -> None:
        await conn.autocommit(value)

    async def close(self, conn: Any) -> None:
        """Send QUIT and close the socket, quietly; the socket is closed even when QUIT cannot be sent."""
        try:
            await conn.ensure_closed()
        except Exception:
            logger.debug("closing a %s connection failed", type(conn).__name__, exc_info=True)
            conn.close()  # async-only
