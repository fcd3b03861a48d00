"""Core's per-call machinery, written once: the call guard and the links of a compiled ``execute`` pipeline.

This module is the source of truth for async wrapper connections; ``_chain_sync.py`` is generated from it by
``tools/async_to_sync.py`` (``await`` and ``async`` removed, ``Async`` names turned into their sync twins) and
serves the sync ones. What the guard does (see ``_calls.py`` for the ABI 1.1 contract):

* with ``marks_calls``, keep the connection's :class:`CallMark` (``since``, and the driver's transaction status
  sampled just before the call) around each network-bound call;
* hand a failed call's error to the ``on_call_error`` handlers of its method, in plugin order;
* take the wrapper's call lock when the driver has none of its own.

A compiled chain is a tuple of nested closures, one per plugin step, ending at the driver call; it is built once
per wrapper connection and allocates nothing per call but the driver-call thunk.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from ._calls import CallMark, raise_closed
from ._watchdog import WATCHDOG
from .errors import QueryTimeoutError
from .methods import DbApiMethod
from .plugin import AsyncExecuteProceed, Plugin

if TYPE_CHECKING:
    from ._locks import AbstractLock
    from ._runtime import Runtime

__all__ = [
    "AsyncCallGuard",
    "AsyncErrorHandler",
    "AsyncExecuteChain",
    "compile_chain",
    "error_handlers",
    "locked_call",
    "plain_call",
    "timed_call",
    "subscribes",
]

T = TypeVar("T")
AsyncErrorHandler = Callable[[DbApiMethod, object, Exception], Awaitable[None]]
AsyncExecuteChain = Callable[[object, Callable[[], Awaitable[Any]]], Awaitable[Any]]
_monotonic = time.monotonic


class AsyncCallGuard:
    """Core's work around one network-bound call on one physical connection (a new guard after every switch, so
    that a mark left by a call on the old connection is never read as one on the new)."""

    __slots__ = ("_busy", "_closed", "handlers", "lock", "mark", "source")

    def __init__(
        self,
        mark: CallMark | None,
        source: object,
        lock: AbstractLock | None,
        handlers: Mapping[DbApiMethod, tuple[AsyncErrorHandler, ...]],
        closed: Callable[[], bool],
        busy: Callable[[], NoReturn],
    ) -> None:
        self.mark = mark  # None: no plugin marks calls
        self.source = source  # has ``transaction_status`` (psycopg's pgconn), or None
        self.lock = lock  # the wrapper's call lock for drivers without their own, else None
        self.handlers = handlers
        self._closed = closed
        self._busy = busy

    async def run(self, method: DbApiMethod, target: object, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call`` under the call lock (when the driver has none) with the in-flight mark kept, handing its
        error to :meth:`failed`."""
        lock = self.lock
        if lock is not None and not lock.acquire(False):
            self._busy()
        try:
            mark = self.mark
            if mark is None or mark.since:
                return await call()
            source = self.source
            if source is not None:
                mark.status = source.transaction_status  # type: ignore[attr-defined]
            mark.since = _monotonic()
            try:
                return await call()
            finally:
                mark.since = 0.0
        except Exception as error:
            failure = error
        finally:
            if lock is not None:
                lock.release()
        return await self.failed(method, target, failure)

    def busy(self) -> NoReturn:
        """Raise the error for a call lock held by another thread (or a closed connection)."""
        self._busy()

    async def failed(self, method: DbApiMethod, target: object, error: Exception) -> NoReturn:
        """A call failed: the error handlers of ``method`` run in plugin order (one may raise a replacement,
        e.g. failover's FailoverSuccessError); an error of a connection closed meanwhile becomes the clear
        "closed" error. Always raises."""
        try:
            for handler in self.handlers.get(method, ()):
                await handler(method, target, error)
        except Exception as replacement:
            if self._closed():
                raise_closed(replacement)
            raise
        if self._closed():
            raise_closed(error)
        raise error


#: The guard class of this module's connections (``CallGuard`` in the sync twin).
Guard = AsyncCallGuard


# -- the links of a compiled pipeline ---------------------------------------------------------------------------


async def _terminal(target: object, call: Callable[[], Awaitable[T]]) -> T:
    return await call()


def _link(plugin: Plugin, method: DbApiMethod, next_: AsyncExecuteProceed) -> AsyncExecuteProceed:
    """One step of a chain, built once per connection: a closure over the plugin's bound ``execute_async``, the
    method and the next step (measured faster than a link object, and far faster than a keyword ``partial``)."""
    execute = plugin.execute_async

    async def step(target: object, call: Callable[[], Awaitable[T]]) -> T:
        result: T = await execute(method, target, call, next_)
        return result

    return step


def _outer_link(
    plugin: Plugin, method: DbApiMethod, next_: AsyncExecuteProceed, closed: Callable[[], bool]
) -> AsyncExecuteProceed:
    """The outermost step of a chain when it is a plugin's ``execute_async``: like :func:`_link`, and an error raised
    after the connection was closed meanwhile becomes one clear "closed" error (see :func:`_closing`)."""
    execute = plugin.execute_async

    async def step(target: object, call: Callable[[], Awaitable[T]]) -> T:
        try:
            result: T = await execute(method, target, call, next_)
        except Exception as error:
            if closed():
                raise_closed(error)
            raise
        return result

    return step


def _closing(next_: AsyncExecuteChain, closed: Callable[[], bool]) -> AsyncExecuteChain:
    """The outermost step of a chain: an error raised after the connection was closed meanwhile (close() from
    another thread or task) becomes one clear "closed" error. Costs nothing when nothing fails."""

    async def step(target: object, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await next_(target, call)
        except Exception as error:
            if closed():
                raise_closed(error)
            raise

    return step


def _error_link(
    handler: AsyncErrorHandler, method: DbApiMethod, next_: AsyncExecuteChain
) -> AsyncExecuteChain:
    """A plugin's ``on_call_error_async`` as one step of a full pipeline (when another plugin subscribes the
    method's ``execute_async``): it sees the error at its own place in the plugin order."""

    async def step(target: object, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await next_(target, call)
        except Exception as error:
            await handler(method, target, error)
            raise

    return step


def _mark_link(guard: Callable[[], AsyncCallGuard | None], next_: AsyncExecuteChain) -> AsyncExecuteChain:
    """The outermost step of a full pipeline when a plugin marks calls: keeps the current connection's mark."""

    async def step(target: object, call: Callable[[], Awaitable[Any]]) -> Any:
        current = guard()
        mark = None if current is None else current.mark
        if mark is None or mark.since:
            return await next_(target, call)
        source: Any = current.source  # type: ignore[union-attr]
        if source is not None:
            mark.status = source.transaction_status
        mark.since = _monotonic()
        try:
            return await next_(target, call)
        finally:
            mark.since = 0.0

    return step


# -- terminals: what replaces the bare driver call of network-bound calls -------------------------------------


async def plain_call(target: object, call: Callable[[], Awaitable[Any]]) -> Any:
    return await call()


async def locked_call(
    runtime: Runtime, proceed: AsyncExecuteChain, target: object, call: Callable[[], Awaitable[Any]]
) -> Any:
    """Terminal for drivers without a call lock of their own (mysql-connector): one call at a time per wrapper
    connection, so that close() from another thread can wait for it; a second caller gets a clear error
    instead of corrupting the protocol stream (mysql-connector connections are not thread-safe)."""
    lock = runtime.call_lock
    if not lock.acquire(False):
        runtime._busy()
    try:
        return await proceed(target, call)
    except Exception as error:
        if runtime.closed:
            raise_closed(error)
        raise
    finally:
        lock.release()


async def timed_call(
    timeout: float, runtime: Runtime, target: object, call: Callable[[], Awaitable[Any]]
) -> Any:
    """Terminal enforcing ``socket_timeout``: when the call has not returned after ``timeout`` seconds, the shared
    watchdog thread aborts the connection (the call fails at once) and the failure becomes
    :class:`QueryTimeoutError`."""
    conn = runtime.current_connection
    if conn is None:
        return await call()
    token = WATCHDOG.arm(_monotonic() + timeout, partial(runtime.driver.abort, conn))
    try:
        result = await call()
    except Exception as error:
        if not WATCHDOG.disarm(token):
            raise QueryTimeoutError(
                f"network-bound call exceeded socket_timeout={timeout:g}s; the connection was aborted",
                driver_error=error,
            ) from error
        raise
    except BaseException:
        WATCHDOG.disarm(token)
        raise
    WATCHDOG.disarm(token)
    return result


# -- compiling -------------------------------------------------------------------------------------------------


def overrides(plugin: Plugin, name: str) -> bool:
    """Whether ``plugin`` takes part in pipeline ``name`` (its class overrides the base method)."""
    return getattr(type(plugin), name) is not getattr(Plugin, name)


def subscribes(plugin: Plugin, method: DbApiMethod) -> bool:
    """Whether ``plugin`` takes part in ``method``'s ``execute_async`` pipeline. An async connection also runs a
    plugin that has only the sync ``execute``: the base ``execute_async`` runs it on a worker thread."""
    return method in plugin.subscribed_methods and (
        overrides(plugin, "execute_async") or overrides(plugin, "execute")
    )


def handles_errors(plugin: Plugin, method: DbApiMethod) -> bool:
    return method in getattr(plugin, "error_methods", ()) and overrides(plugin, "on_call_error")


def error_handlers(plugins: Sequence[Plugin]) -> dict[DbApiMethod, tuple[AsyncErrorHandler, ...]]:
    """``on_call_error_async`` of the plugins subscribed to each method (``error_methods``), in plugin order."""
    return {m: tuple(p.on_call_error_async for p in plugins if handles_errors(p, m)) for m in DbApiMethod}


def compile_chain(
    plugins: Sequence[Plugin],
    method: DbApiMethod,
    terminal: AsyncExecuteChain | None,
    *,
    network: bool,
    local: bool = False,
    marks_calls: bool,
    closed: Callable[[], bool],
    guard: Callable[[], AsyncCallGuard | None],
) -> AsyncExecuteChain | None:
    """The chain of ``method`` over ``plugins`` (None: the driver call itself, nothing to do). ``terminal``
    replaces the bare driver call (socket timeout, call lock); ``network`` says whether the call may wait on the
    network (then the in-flight mark is kept for plugins that mark calls); ``local`` builds the chain for a
    call the driver serves from memory (without plugins that only watch the network)."""
    participants = [p for p in plugins if subscribes(p, method) or handles_errors(p, method)]
    if local:
        participants = [p for p in participants if not p.monitors_network]
    if not participants and not (network and marks_calls):
        return terminal
    chain: AsyncExecuteChain = terminal or _terminal
    for index in range(len(participants) - 1, -1, -1):
        plugin = participants[index]
        if handles_errors(plugin, method):
            chain = _error_link(plugin.on_call_error_async, method, chain)
        if subscribes(plugin, method):
            outermost = index == 0 and not (network and marks_calls)
            if outermost:
                return _outer_link(plugin, method, chain, closed)
            chain = _link(plugin, method, chain)
    if network and marks_calls:
        chain = _mark_link(guard, chain)
    return _closing(chain, closed)
