"""The watchdog holds no reference to what a disarmed deadline's callback closes over (issue 9, item 5): a closed
connection must not stay alive until its deadline comes up, nor forever after ``release_resources()``."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from functools import partial

import pytest

from aws_wrapper.core import release_resources
from aws_wrapper.core._watchdog import WATCHDOG, Watchdog


class _Conn:
    """Stands for a driver connection: what an abort callback closes over."""

    def __init__(self) -> None:
        self.aborted = 0

    def abort(self) -> None:
        self.aborted += 1


@pytest.fixture
def dog() -> Iterator[Watchdog]:
    watchdog = Watchdog(name="test-watchdog-retention")
    yield watchdog
    watchdog.stop()
    watchdog.join(2.0)


def _running(dog: Watchdog) -> bool:
    return dog.is_running


def _callback(conn: _Conn, shape: int) -> Callable[[], None]:
    if shape:
        return partial(_Conn.abort, conn)  # as in _runtime._timed_call
    return lambda: conn.abort()  # as in DialectCommon.query


def _keep(_obj: object) -> None:
    """A callback that only references ``_obj``."""


def _arm_and_disarm(dog: Watchdog, count: int, after: float = 3600.0) -> list[weakref.ref[_Conn]]:
    refs = []
    for i in range(count):
        conn = _Conn()
        refs.append(weakref.ref(conn))
        token = dog.arm(time.monotonic() + after, _callback(conn, i % 2))
        assert dog.disarm(token)
        del conn, token
    return refs


def _alive(refs: list[weakref.ref[_Conn]]) -> int:
    gc.collect()
    return sum(ref() is not None for ref in refs)


def test_disarm_frees_the_callback_at_once(dog: Watchdog) -> None:
    refs = _arm_and_disarm(dog, 300)
    assert _alive(refs) == 0  # no waiting for the (one-hour) deadlines
    assert dog.pending == 0


def test_disarm_frees_the_callback_when_the_token_is_kept(dog: Watchdog) -> None:
    conn = _Conn()
    ref = weakref.ref(conn)
    token = dog.arm(time.monotonic() + 3600, conn.abort)
    del conn
    assert dog.disarm(token)
    assert _alive([ref]) == 0
    assert dog.disarm(token) is False  # the token still behaves as before


def test_a_finalizer_run_by_disarm_may_use_the_watchdog() -> None:
    """Disarm lets go of the callback after releasing its lock: what that frees may arm and disarm again."""
    dog = Watchdog(name="test-watchdog-retention-reentry")
    reentered: list[bool] = []

    class _Finalized:
        def __del__(self) -> None:
            reentered.append(dog.disarm(dog.arm(time.monotonic() + 3600, lambda: None)))

    def disarm_the_last_reference() -> None:
        token = dog.arm(time.monotonic() + 3600, partial(_keep, _Finalized()))  # the only reference
        dog.disarm(token)

    worker = threading.Thread(target=disarm_the_last_reference, daemon=True)  # a deadlock fails, not hangs
    worker.start()
    worker.join(2.0)
    assert not worker.is_alive(), "disarm deadlocked on a finalizer that uses the watchdog"
    assert reentered == [True]
    assert dog.pending == 0
    dog.stop()  # not in a finally: after a deadlock, the lock is never free again
    dog.join(1.0)


def test_stop_drops_disarmed_entries_and_keeps_armed_ones(dog: Watchdog) -> None:
    fired = threading.Event()
    dog.arm(time.monotonic() + 0.5, fired.set)  # first: the heap never holds disarmed entries only
    refs = _arm_and_disarm(dog, 50)
    assert _alive(refs) == 0
    assert len(dog._heap) == 51  # the thread sleeps until 0.5 s: the disarmed entries are still there
    dog.stop()
    dog.join(1.0)
    assert len(dog._heap) == 1  # the armed deadline is kept for the next thread, the disarmed ones are gone
    assert dog.pending == 1
    dog.arm(time.monotonic() + 0.01, lambda: None)  # a new thread enforces the kept deadline
    assert fired.wait(2.0)


def test_idle_thread_drops_disarmed_entries_and_exits() -> None:
    dog = Watchdog(idle_exit=0.05, name="test-watchdog-retention-idle")
    try:
        first = threading.Event()
        dog.arm(time.monotonic() + 0.05, first.set)
        refs = _arm_and_disarm(dog, 20)
        assert _alive(refs) == 0
        assert first.wait(1.0)  # the thread wakes up, and finds only disarmed entries left
        deadline = time.monotonic() + 2.0
        while _running(dog) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not _running(dog)  # it did not wait for the one-hour disarmed deadlines to end
        assert dog._heap == []
    finally:
        dog.stop()
        dog.join(1.0)


def test_release_resources_leaves_nothing_referenced() -> None:
    refs = _arm_and_disarm(WATCHDOG, 300, after=5.0)
    assert _running(WATCHDOG)
    release_resources()
    assert not _running(WATCHDOG)
    assert _alive(refs) == 0
    assert all(entry[2].state == 0 for entry in WATCHDOG._heap)  # only deadlines still armed elsewhere remain


def test_a_fired_deadline_still_aborts_once_and_then_lets_go(dog: Watchdog) -> None:
    conn = _Conn()
    ref = weakref.ref(conn)
    fired = threading.Event()

    def abort(c: _Conn = conn) -> None:
        c.abort()
        fired.set()

    token = dog.arm(time.monotonic() + 0.01, abort)
    del abort
    assert fired.wait(1.0)
    time.sleep(0.05)
    assert conn.aborted == 1
    assert dog.disarm(token) is False
    assert dog.fired_count == 1
    del conn, token
    assert _alive([ref]) == 0  # the thread, still running, does not hold the fired callback either
    assert _running(dog)
