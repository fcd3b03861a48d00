"""How async wrapper connections run the sync parts of the wrapper without blocking their event loop.

The per-call path of an async connection is native asyncio (``_chain_async.py``). What happens rarely and may
wait — opening a connection through the connect pipeline, a failover, restoring session state, a plugin built only
with a sync ``execute`` — is the same sync code that serves sync connections, run on a worker thread
(:func:`run_sync`). When that code reaches the driver (connect, a query, a rollback), the async driver dialect
hands the driver's coroutine back to the connection's event loop and the worker waits for it
(:func:`call_on_loop`). So a failover written once, in sync code, drives an ``AsyncConnection``, and the event
loop keeps serving other tasks throughout.

Worker threads are daemon threads of one shared executor, started on first use (never at import); idle ones end
after ``IDLE_EXIT`` seconds, and :func:`shutdown` (``release_resources``) stops them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import InterfaceError
from ..methods import DbApiMethod

if TYPE_CHECKING:
    from ..plugin import AsyncExecuteProceed, Plugin

__all__ = ["call_on_loop", "execute_on_worker", "run_sync", "shutdown"]

logger = logging.getLogger("aws_wrapper.core")
T = TypeVar("T")

#: Seconds an idle worker thread waits for work before it ends.
IDLE_EXIT = 30.0
#: How often a worker waiting for the event loop checks that the loop still runs.
_LOOP_CHECK = 0.25


class _Workers:
    """Daemon threads running sync work for async connections: as many as there are jobs at once (a failover of
    one connection must never wait for another's), reused while busy, ending when idle."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[concurrent.futures.Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._idle = 0
        self._threads: set[threading.Thread] = set()
        self._serial = 0

    def submit(self, fn: Callable[[], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        with self._lock:
            self._jobs.put((future, fn))
            if self._idle > 0:
                self._idle -= 1  # an idle worker takes it
            else:
                if not self._threads:
                    from ..lifecycle import on_release

                    on_release(_release)
                self._serial += 1
                thread = threading.Thread(
                    target=self._work, name=f"aws-wrapper-aio-worker-{self._serial}", daemon=True
                )
                self._threads.add(thread)
                thread.start()
        return future

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            try:
                job = self._jobs.get(timeout=IDLE_EXIT)
            except queue.Empty:
                with self._lock:
                    if self._idle > 0:  # nobody counted on this worker: it may end
                        self._idle -= 1
                        self._threads.discard(me)
                        return
                continue  # a submit claimed this worker just now: its job is in the queue
            if job is None:
                with self._lock:
                    self._threads.discard(me)
                return
            future, fn = job
            if future.set_running_or_notify_cancel():
                try:
                    result = fn()
                except BaseException as error:  # handed to the awaiting task, never raised on this thread
                    future.set_exception(error)
                else:
                    future.set_result(result)
            with self._lock:
                self._idle += 1

    def stop(self, timeout: float = 1.0) -> None:
        """End the idle workers and wait up to ``timeout`` for them (a busy one ends once idle for ``IDLE_EXIT``
        seconds, or at the next stop). One stop mark per idle worker, claimed as ``submit`` claims one: a mark
        sent to a busy worker would let that worker count itself idle after its job, then take the mark and end,
        and the next job would wait for a worker that no longer exists."""
        with self._lock:
            count, self._idle = self._idle, 0
            for _ in range(count):
                self._jobs.put(None)
            threads = list(self._threads)
        if timeout <= 0:
            return
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout)


_WORKERS = _Workers()


def _release() -> None:
    _WORKERS.stop(0.0)


async def run_sync(fn: Callable[..., T], *args: Any, discard: Callable[[T], None] | None = None) -> T:
    """Run ``fn(*args)`` on a worker thread and await its outcome without blocking the event loop.

    Cancelling the awaiting task does not abandon the work half-way: the task waits (still without blocking
    the loop) until ``fn`` has returned, so whatever it changes - a switch to a new physical connection, a session
    setting - is complete, and the cancellation is raised afterwards (a result nobody takes any more, e.g. a new
    connection, goes to ``discard``). The wrapper's sync work is bounded (connect
    and failover timeouts), and closing the connection makes a failover give up within tens of milliseconds."""
    future = _WORKERS.submit(lambda: fn(*args))
    waiter = asyncio.wrap_future(future)
    try:
        return await asyncio.shield(waiter)
    except asyncio.CancelledError:
        while not waiter.done():
            try:
                await asyncio.shield(waiter)
            except asyncio.CancelledError:
                continue
            except BaseException:
                break
        if discard is not None and not waiter.cancelled() and waiter.exception() is None:
            await run_sync(discard, waiter.result())
        raise


def call_on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run the driver coroutine ``coro`` on ``loop`` (the event loop its connection belongs to) from a worker
    thread, and return its result. Raises :class:`InterfaceError` when called on the loop's own thread (that would
    deadlock: a bug of the caller) or when the loop stops before the coroutine finished."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise InterfaceError(
            "a blocking wrapper operation ran on the event loop of its async connection; it must run through "
            "aws_wrapper.core.aio (a bug: please report it)"
        )
    if loop.is_closed():
        coro.close()
        raise InterfaceError("the event loop of this async connection is closed")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    while True:
        try:
            return future.result(_LOOP_CHECK)
        except concurrent.futures.TimeoutError:
            if loop.is_closed() or not loop.is_running():
                future.cancel()
                raise InterfaceError(
                    "the event loop of this async connection stopped while the wrapper was waiting for it"
                ) from None


async def execute_on_worker(
    plugin: Plugin,
    method: DbApiMethod,
    target: object,
    call: Callable[[], Awaitable[T]],
    proceed: AsyncExecuteProceed,
) -> T:
    """A sync-only plugin's ``execute`` around a call of an async connection: the plugin runs on a worker thread;
    ``call`` and the rest of the pipeline run on the event loop when the plugin passes the call on."""
    loop = asyncio.get_running_loop()

    def sync_call() -> T:
        return call_on_loop(loop, _coroutine(call))

    def sync_proceed(next_target: object, next_call: Callable[[], Any]) -> Any:
        if next_call is sync_call:
            return call_on_loop(loop, _coroutine(lambda: proceed(next_target, call)))

        async def replaced() -> Any:  # the plugin passed on a call of its own: run it on a worker too
            return await run_sync(next_call)

        return call_on_loop(loop, _coroutine(lambda: proceed(next_target, replaced)))

    result: T = await run_sync(plugin.execute, method, target, sync_call, sync_proceed)
    return result


async def _await(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def _coroutine(make: Callable[[], Awaitable[T]]) -> Coroutine[Any, Any, T]:
    return _await(make)


def shutdown(*, wait: bool = True) -> None:
    """Stop the worker threads (``release_resources``); new work starts new ones. ``wait=False`` (on an event
    loop) does not join them."""
    _WORKERS.stop(1.0 if wait else 0.0)
