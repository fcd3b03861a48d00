"""Behaviour both built-in driver dialects share."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from .._watchdog import WATCHDOG
from ..plugin import RawConnection

logger = logging.getLogger("aws_wrapper.core")


class DialectCommon:
    """Quiet close, rollback, and auxiliary queries bounded by the shared watchdog. A subclass provides
    ``_run(conn, sql, params)`` (the query itself, transaction status preserved) and ``abort(conn)``."""

    def _run(self, conn: RawConnection, sql: str, params: Sequence[object]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def abort(self, conn: RawConnection) -> None:
        raise NotImplementedError

    def close(self, conn: RawConnection) -> None:
        try:
            conn.close()
        except Exception:
            logger.debug("closing a %s connection failed", type(conn).__name__, exc_info=True)

    def rollback(self, conn: RawConnection) -> None:
        conn.rollback()

    def query(
        self, conn: RawConnection, sql: str, params: Sequence[object] = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        if timeout is None:
            return self._run(conn, sql, params)
        token = WATCHDOG.arm(time.monotonic() + timeout, lambda: self.abort(conn))
        try:
            return self._run(conn, sql, params)
        finally:
            WATCHDOG.disarm(token)
