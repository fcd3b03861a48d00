"""What core does around a network-bound call when no plugin needs the full ``execute`` pipeline for it (ABI 1.1).

Most plugins that watch calls need only two things: to know that a call is in flight and since when (failure
monitoring) and to see the call's error (failover). Core does both itself, inline in the cursor's compiled call
path, so that such plugins cost no Python frame per call:

* a plugin with ``marks_calls`` makes core keep :class:`CallMark` ``since`` (and the driver's transaction status
  just before the call) for the current physical connection;
* a plugin with ``error_methods`` gets ``on_call_error(method, target, error)`` when such a call fails.

A :class:`CallGuard` belongs to one physical connection (a new one after every switch, so a mark left by a call on
the old connection is never read as one on the new) and carries the driver's call lock when the driver has none of
its own (mysql-connector).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from .errors import InterfaceError
from .methods import DbApiMethod

if TYPE_CHECKING:
    from ._locks import AbstractLock

__all__ = ["CallMark", "CallGuard", "ErrorHandler"]

T = TypeVar("T")
ErrorHandler = Callable[[DbApiMethod, object, Exception], None]
_monotonic = time.monotonic


class CallMark:
    """The network-bound call in flight on one physical connection, kept by core for plugins with
    ``marks_calls`` (read it from any thread through ``context.connection.call_mark``).

    ``since`` is the ``time.monotonic()`` at which the outermost call in flight started, 0.0 when none is;
    ``status`` the driver's transaction status sampled just before that call (psycopg: ``pgconn.transaction_status``;
    None when the driver has no cheap source), kept after the call ends so that an error handler can read it.
    ``connection`` is the physical connection the mark belongs to; ``live`` turns False once the wrapper connection
    has replaced it or was closed (cursors bound to it then rebind or refuse).
    """

    __slots__ = ("__weakref__", "connection", "live", "since", "status")

    def __init__(self, connection: object = None) -> None:
        self.connection = connection
        self.since = 0.0
        self.status: object = None
        self.live = True


class CallGuard:
    """Core's work around one network-bound call on one physical connection (see the module docstring)."""

    __slots__ = ("_busy", "_closed", "handlers", "lock", "mark", "source")

    def __init__(
        self,
        mark: CallMark | None,
        source: object,
        lock: AbstractLock | None,
        handlers: Mapping[DbApiMethod, tuple[ErrorHandler, ...]],
        closed: Callable[[], bool],
        busy: Callable[[], NoReturn],
    ) -> None:
        self.mark = mark  # None: no plugin marks calls
        self.source = source  # has ``transaction_status`` (psycopg's pgconn), or None
        self.lock = lock  # the wrapper's call lock for drivers without their own, else None
        self.handlers = handlers
        self._closed = closed
        self._busy = busy

    def run(self, method: DbApiMethod, target: object, call: Callable[[], T]) -> T:
        """Run ``call`` under the call lock (when the driver has none) with the in-flight mark kept, handing its
        error to :meth:`failed`: the generic form of what the cursor's ``_InlineCursor`` / ``_LockedCursor`` paths
        do inline."""
        lock = self.lock
        if lock is not None and not lock.acquire(False):
            self._busy()
        try:
            mark = self.mark
            if mark is None or mark.since:
                return call()
            source = self.source
            if source is not None:
                mark.status = source.transaction_status  # type: ignore[attr-defined]
            mark.since = _monotonic()
            try:
                return call()
            finally:
                mark.since = 0.0
        except Exception as error:
            failure = error
        finally:
            if lock is not None:
                lock.release()
        return self.failed(method, target, failure)

    def busy(self) -> NoReturn:
        """Raise the error for a call lock held by another thread (or a closed connection)."""
        self._busy()

    def failed(self, method: DbApiMethod, target: object, error: Exception) -> NoReturn:
        """A call failed: the error handlers of ``method`` run in plugin order (one may raise a replacement,
        e.g. failover's FailoverSuccessError); an error of a connection closed meanwhile becomes the clear
        "closed" error. Always raises."""
        try:
            for handler in self.handlers.get(method, ()):
                handler(method, target, error)
        except Exception as replacement:
            if self._closed():
                raise_closed(replacement)
            raise
        if self._closed():
            raise_closed(error)
        raise error


def raise_closed(error: Exception) -> NoReturn:
    if isinstance(error, InterfaceError) and "closed" in str(error):
        raise error
    raise InterfaceError(
        "the connection was closed while this call was running (close() from another thread); the call did "
        f"not complete: {type(error).__name__}"
    ) from error


def error_link(
    handler: ErrorHandler, method: DbApiMethod, next_: Callable[[object, Callable[[], Any]], Any]
) -> Callable[[object, Callable[[], Any]], Any]:
    """A plugin's ``on_call_error`` as one step of a full pipeline (when another plugin subscribes the method's
    ``execute``): it sees the error at its own place in the plugin order."""

    def step(target: object, call: Callable[[], Any]) -> Any:
        try:
            return next_(target, call)
        except Exception as error:
            handler(method, target, error)
            raise

    return step


def mark_link(
    guard: Callable[[], CallGuard | None], next_: Callable[[object, Callable[[], Any]], Any]
) -> Callable[[object, Callable[[], Any]], Any]:
    """The outermost step of a full pipeline when a plugin marks calls: keeps the current connection's mark."""

    def step(target: object, call: Callable[[], Any]) -> Any:
        current = guard()
        mark = None if current is None else current.mark
        if mark is None or mark.since:
            return next_(target, call)
        source: Any = current.source  # type: ignore[union-attr]
        if source is not None:
            mark.status = source.transaction_status
        mark.since = _monotonic()
        try:
            return next_(target, call)
        finally:
            mark.since = 0.0

    return step
