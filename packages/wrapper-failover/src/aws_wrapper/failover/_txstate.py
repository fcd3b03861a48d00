"""Whether the connection was inside a transaction when a call failed.

After a connection broke, psycopg can no longer tell (libpq reports the transaction status as UNKNOWN), so the
failover plugin samples the status just before each call: reading libpq's status is a C attribute read
(about 40 ns), much cheaper than the driver dialect's general ``is_in_transaction``. mysql-connector keeps its
last known status after a failure, so no sampling is needed there.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["was_in_transaction"]

# libpq PGTransactionStatusType
_IDLE, _ACTIVE, _INTRANS, _INERROR, _UNKNOWN = range(5)


def was_in_transaction(sampled: object, fallback: Callable[[], bool]) -> bool:
    """The answer from a status sampled before the call when it is conclusive, else ``fallback()`` (the driver
    dialect's view, which errs on the side of "in a transaction" when it cannot tell)."""
    if sampled is not None:
        try:
            status = int(sampled)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            status = _UNKNOWN
        if status == _IDLE:
            return False
        if status in (_INTRANS, _INERROR):
            return True
    try:
        return fallback()
    except Exception:
        return True  # cannot tell: the safe answer makes the application re-run the whole transaction
