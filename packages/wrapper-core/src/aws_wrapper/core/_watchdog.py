"""One shared daemon thread that aborts connections whose deadline has passed.

It enforces ``socket_timeout`` on network-bound calls and the ``timeout`` of the driver dialects' auxiliary
queries: the caller arms a deadline with an abort callback, runs the blocking driver call on its own thread and
disarms afterwards. No worker thread per call, no polling: deadlines live in a heap and the thread sleeps on a
condition variable until the earliest one (or until a new, earlier deadline is armed).

The thread starts on the first :meth:`Watchdog.arm` (never at import), ends by itself after
``idle_exit`` seconds without deadlines, and is stopped by :func:`aws_wrapper.core.release_resources`.

An abort callback references its connection, so the watchdog lets go of it as soon as it cannot run any more:
on disarm (the entry left in the heap references nothing), and right after it ran.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from .errors import QueryTimeoutError

__all__ = ["Watchdog", "WATCHDOG", "run_with_deadline", "shutdown_socket_fd"]

logger = logging.getLogger("aws_wrapper.core")

T = TypeVar("T")

_ARMED = 0
_FIRED = 1
_DISARMED = 2


def _noop() -> None:
    """What a disarmed or fired deadline calls instead of its abort callback, which is no longer referenced."""


class _Deadline:
    """A token returned by :meth:`Watchdog.arm`. Its state changes only under the watchdog's lock."""

    __slots__ = ("abort", "deadline", "state")

    def __init__(self, deadline: float, abort: Callable[[], None]) -> None:
        self.deadline = deadline
        self.abort = abort
        self.state = _ARMED

    def __repr__(self) -> str:
        state = ("armed", "fired", "disarmed")[self.state]
        return f"<deadline at {self.deadline:.3f} ({state})>"


class Watchdog:
    """Calls an abort callback once its monotonic deadline has passed, unless disarmed before.

    Thread-safe. Callbacks run on the watchdog thread, one after another, so they must not block (the driver
    dialects' ``abort`` only shuts a socket down). An exception in a callback is logged and swallowed.
    """

    #: Disarmed entries (which no longer reference their callback) stay in the heap until their deadline comes
    #: up, the thread stops, or they are all that is left when the thread wakes up; past this many, and when
    #: they are the majority, the heap is rebuilt without them so that long timeouts at a high call rate cannot
    #: pile up.
    _COMPACT_MIN = 1024

    def __init__(self, *, idle_exit: float = 60.0, name: str = "aws-wrapper-watchdog") -> None:
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._disarmed_in_heap = 0
        self._thread: threading.Thread | None = None
        self._generation = 0  # bumped by stop(): a thread runs only while it matches its own generation
        self._stopped_threads: list[threading.Thread] = []
        self._idle_exit = idle_exit
        self._name = name
        self.fired_count = 0  # aborts issued since creation (diagnostics and tests)

    # -- public API ---------------------------------------------------------------------------------------

    def arm(self, deadline_monotonic: float, abort: Callable[[], None]) -> object:
        """Call ``abort()`` once ``time.monotonic()`` passes ``deadline_monotonic``. Returns the token for
        :meth:`disarm`."""
        entry = _Deadline(deadline_monotonic, abort)
        with self._cond:
            heapq.heappush(self._heap, (deadline_monotonic, next(self._seq), entry))
            if self._thread is None:
                self._start_locked()
            elif self._heap[0][2] is entry:
                self._cond.notify()  # the thread sleeps until a later deadline: wake it up to re-plan
        return entry

    def disarm(self, token: object) -> bool:
        """Cancel a deadline. True if it had not fired (the abort was not and will not be called)."""
        if not isinstance(token, _Deadline):
            raise TypeError(f"not a watchdog token: {token!r}")
        with self._cond:
            if token.state != _ARMED:
                return False
            token.state = _DISARMED
            # The callback holds the connection: let go of it now, not at the deadline. The last reference goes
            # with this frame, after the lock is released, so finalizers it triggers may use the watchdog.
            abort, token.abort = token.abort, _noop
            self._disarmed_in_heap += 1
            if self._disarmed_in_heap >= self._COMPACT_MIN and self._disarmed_in_heap * 2 > len(self._heap):
                self._heap = [item for item in self._heap if item[2].state == _ARMED]
                heapq.heapify(self._heap)
                self._disarmed_in_heap = 0
        del abort
        return True

    @property
    def pending(self) -> int:
        """Deadlines armed and neither fired nor disarmed."""
        with self._cond:
            return len(self._heap) - self._disarmed_in_heap

    @property
    def is_running(self) -> bool:
        with self._cond:
            return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop the thread (non-blocking, idempotent). Armed deadlines are kept: the next :meth:`arm` starts a
        new thread, which enforces them. Disarmed ones are dropped."""
        with self._cond:
            if self._thread is not None:
                self._stopped_threads.append(self._thread)
                self._thread = None
            self._generation += 1
            self._drop_disarmed_locked()
            self._cond.notify_all()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for stopped threads to end."""
        deadline = time.monotonic() + timeout
        with self._cond:
            threads = list(self._stopped_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._cond:
            self._stopped_threads = [t for t in self._stopped_threads if t.is_alive()]

    def _drop_disarmed_locked(self) -> None:
        if not self._disarmed_in_heap:
            return
        if self._disarmed_in_heap == len(self._heap):
            self._heap.clear()
        else:  # in place: a running thread holds the list
            self._heap[:] = [item for item in self._heap if item[2].state == _ARMED]
            heapq.heapify(self._heap)
        self._disarmed_in_heap = 0

    # -- the thread ---------------------------------------------------------------------------------------

    def _start_locked(self) -> None:
        generation = self._generation
        thread = threading.Thread(target=self._run, args=(generation,), name=self._name, daemon=True)
        self._thread = thread
        thread.start()
        _register_release_hook()

    def _run(self, generation: int) -> None:
        cond = self._cond
        due: list[_Deadline] = []
        entry: _Deadline | None = None
        with cond:
            while self._generation == generation:
                heap = self._heap  # may have been rebuilt by disarm()
                now = time.monotonic()
                while heap and heap[0][0] <= now:
                    entry = heapq.heappop(heap)[2]
                    if entry.state == _ARMED:
                        entry.state = _FIRED
                        due.append(entry)
                    else:
                        self._disarmed_in_heap -= 1
                entry = None  # do not hold the last popped entry (and a fired callback) while sleeping
                if heap and self._disarmed_in_heap == len(heap):
                    heap.clear()  # only disarmed entries left: no need to wake up for them
                    self._disarmed_in_heap = 0
                if due:
                    self.fired_count += len(due)
                    cond.release()
                    try:
                        self._fire(due)
                    finally:
                        due.clear()
                        cond.acquire()
                    continue
                if heap:
                    cond.wait(heap[0][0] - now)
                elif not cond.wait(self._idle_exit) and not self._heap and self._generation == generation:
                    self._thread = None  # idle: end; the next arm() starts a new thread
                    return

    def _after_fork_in_child(self) -> None:
        # The parent's thread does not exist in a forked child, nor do the threads whose calls were armed.
        self._cond = threading.Condition(threading.Lock())
        self._heap = []
        self._disarmed_in_heap = 0
        self._thread = None
        self._stopped_threads = []

    @staticmethod
    def _fire(due: list[_Deadline]) -> None:
        for entry in due:
            abort, entry.abort = entry.abort, _noop  # fired entries are never disarmed: no race on the slot
            try:
                abort()
            except Exception:
                logger.warning("watchdog abort callback %r failed", abort, exc_info=True)


WATCHDOG = Watchdog()

if hasattr(os, "register_at_fork"):  # registering a callback starts nothing
    os.register_at_fork(after_in_child=WATCHDOG._after_fork_in_child)


def _release() -> None:
    WATCHDOG.stop()
    WATCHDOG.join(1.0)


def _register_release_hook() -> None:
    from .lifecycle import on_release

    on_release(_release)


def run_with_deadline(timeout: float, abort: Callable[[], None], call: Callable[[], T], what: str) -> T:
    """Run ``call()`` on this thread; if it has not returned after ``timeout`` seconds, ``abort()`` is called
    (from the watchdog thread) to make it fail. A failure caused by that abort becomes
    :class:`~aws_wrapper.core.errors.QueryTimeoutError` with the driver's exception as ``driver_error``; any other
    outcome (a result, or an error while the deadline had not passed) is returned / raised unchanged."""
    token = WATCHDOG.arm(time.monotonic() + timeout, abort)
    try:
        result = call()
    except Exception as error:
        if not WATCHDOG.disarm(token):
            raise QueryTimeoutError(
                f"{what} exceeded socket_timeout={timeout:g}s; the connection was aborted", driver_error=error
            ) from error
        raise
    except BaseException:
        WATCHDOG.disarm(token)
        raise
    WATCHDOG.disarm(token)
    return result


def shutdown_socket_fd(fd: int, still_owned: Callable[[socket.socket], bool]) -> bool:
    """The abort primitive of the driver dialects: shut down (``SHUT_RDWR``) the socket behind descriptor ``fd``
    through a duplicate, so a call blocked on it in another thread fails at once, without freeing anything the
    driver still uses (the driver closes its own descriptor later, as usual).

    ``still_owned`` is called with the duplicate once it is pinned; it must confirm that ``fd`` still belongs
    to the connection (it was not closed and its number reused meanwhile). Returns True when the socket was shut
    down; never raises and never blocks.
    """
    if fd < 0:
        return False
    try:
        dup = os.dup(fd)
    except OSError:
        return False
    sock: socket.socket | None = None
    try:
        was_blocking = os.get_blocking(dup)
        sock = socket.socket(fileno=dup)
        if os.get_blocking(dup) != was_blocking:  # socket.setdefaulttimeout() made it non-blocking: undo
            os.set_blocking(dup, was_blocking)
        if not still_owned(sock):
            return False
        sock.shutdown(socket.SHUT_RDWR)
        return True
    except Exception:
        return False  # not a socket, already disconnected, or the ownership check failed
    finally:
        if sock is not None:
            sock.close()
        else:
            try:
                os.close(dup)
            except OSError:
                pass
