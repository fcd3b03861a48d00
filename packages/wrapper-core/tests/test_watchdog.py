"""The shared deadline watchdog: timing, the disarm guarantee, lifecycle, and the socket abort primitive."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from aws_wrapper.core import lifecycle
from aws_wrapper.core._watchdog import WATCHDOG, Watchdog, run_with_deadline, shutdown_socket_fd
from aws_wrapper.core.errors import QueryTimeoutError


@pytest.fixture
def dog() -> Iterator[Watchdog]:
    watchdog = Watchdog(name="test-watchdog")
    yield watchdog
    watchdog.stop()
    watchdog.join(2.0)
    assert not watchdog.is_running


def test_import_starts_no_thread() -> None:
    code = (
        "import threading, aws_wrapper.core._watchdog as w, aws_wrapper.core.driver._psycopg, "
        "aws_wrapper.core.driver._mysql; print(threading.active_count(), w.WATCHDOG.is_running)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["1", "False"]


def _running(dog: Watchdog) -> bool:
    return dog.is_running


def test_thread_starts_on_first_arm_only(dog: Watchdog) -> None:
    assert not _running(dog)
    token = dog.arm(time.monotonic() + 60, lambda: None)
    assert _running(dog)
    assert dog.disarm(token)
    assert dog.pending == 0


def _lateness_round(dog: Watchdog, count: int = 12) -> list[float]:
    fired: dict[int, float] = {}
    done = threading.Event()
    start = time.monotonic()
    deadlines = {i: start + 0.03 + (i * 7 % count) * 0.011 for i in range(count)}  # armed out of order

    def make(i: int) -> None:
        def abort() -> None:
            fired[i] = time.monotonic()
            if len(fired) == count:
                done.set()

        dog.arm(deadlines[i], abort)

    for i in range(count):
        make(i)
    assert done.wait(2.0)
    return [fired[i] - deadlines[i] for i in range(count)]


def test_fires_within_20ms_of_deadline(dog: Watchdog) -> None:
    # The machine is shared: a round disturbed by CPU contention is retried, but an early abort never passes.
    worst = []
    for _ in range(3):
        lateness = _lateness_round(dog)
        assert min(lateness) >= 0, "an abort ran before its deadline"
        worst.append(max(lateness))
        if worst[-1] < 0.020:
            break
    assert min(worst) < 0.020, f"late by {[round(w * 1000, 1) for w in worst]} ms"
    assert dog.fired_count == 12 * len(worst)


def test_earlier_deadline_armed_later_wakes_the_thread(dog: Watchdog) -> None:
    order: list[str] = []
    event = threading.Event()
    dog.arm(time.monotonic() + 5.0, lambda: order.append("late"))
    time.sleep(0.02)  # the thread now sleeps until the 5 s deadline
    t0 = time.monotonic()

    def early() -> None:
        order.append("early")
        event.set()

    dog.arm(t0 + 0.05, early)
    assert event.wait(1.0)
    assert time.monotonic() - t0 < 0.05 + 0.2  # not the 5 s the thread was sleeping for
    assert order == ["early"]


def test_never_fires_after_disarm_many_cycles(dog: Watchdog) -> None:
    """Deadlines land just before, at and after the disarm: the abort runs if and only if disarm says so."""
    rng = random.Random(7)
    cycles = 3000
    calls = [0] * cycles
    disarm_results: list[bool] = []
    for i in range(cycles):

        def abort(i: int = i) -> None:
            calls[i] += 1

        token = dog.arm(time.monotonic() + rng.choice((0.0, 0.0001, 0.0003, 0.001, 10.0)), abort)
        if rng.random() < 0.3:
            time.sleep(0.0002)
        disarm_results.append(dog.disarm(token))
    time.sleep(0.05)  # let any pending abort run
    for i in range(cycles):
        assert calls[i] == (0 if disarm_results[i] else 1), (
            f"cycle {i}: disarm={disarm_results[i]} calls={calls[i]}"
        )
    assert not all(disarm_results)  # both outcomes were exercised
    assert any(disarm_results)
    assert dog.pending == 0


def test_disarm_twice_and_after_fire(dog: Watchdog) -> None:
    token = dog.arm(time.monotonic() + 60, lambda: None)
    assert dog.disarm(token) is True
    assert dog.disarm(token) is False
    fired = threading.Event()
    token2 = dog.arm(time.monotonic(), fired.set)
    assert fired.wait(1.0)
    assert dog.disarm(token2) is False
    with pytest.raises(TypeError, match="not a watchdog token"):
        dog.disarm(object())


def test_disarmed_entries_are_compacted(dog: Watchdog) -> None:
    tokens = [dog.arm(time.monotonic() + 3600, lambda: None) for _ in range(5000)]
    for token in tokens:
        assert dog.disarm(token)
    assert dog.pending == 0
    assert len(dog._heap) < Watchdog._COMPACT_MIN * 2


def test_failing_callback_is_logged_and_thread_survives(
    dog: Watchdog, caplog: pytest.LogCaptureFixture
) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    ok = threading.Event()
    dog.arm(time.monotonic(), boom)
    dog.arm(time.monotonic() + 0.01, ok.set)
    assert ok.wait(1.0)
    assert any("watchdog abort callback" in r.getMessage() for r in caplog.records)
    assert dog.is_running


def test_idle_exit_and_restart() -> None:
    dog = Watchdog(idle_exit=0.05, name="test-idle")
    fired = threading.Event()
    dog.arm(time.monotonic(), fired.set)
    assert fired.wait(1.0)
    deadline = time.monotonic() + 2.0
    while dog.is_running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(dog)
    again = threading.Event()
    dog.arm(time.monotonic() + 0.01, again.set)
    assert _running(dog)
    assert again.wait(1.0)
    dog.stop()
    dog.join(1.0)


def test_stop_keeps_deadlines_for_the_next_thread(dog: Watchdog) -> None:
    first = threading.Event()
    dog.arm(time.monotonic() + 0.2, first.set)
    dog.stop()
    dog.join(1.0)
    assert not _running(dog)
    time.sleep(0.25)
    assert not first.is_set()  # nobody watches while stopped
    second = threading.Event()
    dog.arm(time.monotonic() + 0.01, second.set)  # starts a new thread, which also enforces the old deadline
    assert second.wait(1.0)
    assert first.wait(1.0)


def test_release_resources_stops_the_shared_watchdog() -> None:
    token = WATCHDOG.arm(time.monotonic() + 60, lambda: None)
    assert _running(WATCHDOG)
    assert WATCHDOG.disarm(token)
    lifecycle.release_resources()
    assert not _running(WATCHDOG)


def test_arm_disarm_cost(dog: Watchdog) -> None:
    dog.disarm(dog.arm(time.monotonic() + 60, lambda: None))  # thread started
    n = 50_000
    noop = lambda: None  # noqa: E731
    t0 = time.perf_counter()
    for _ in range(n):
        dog.disarm(dog.arm(time.monotonic() + 60, noop))
    per_call = (time.perf_counter() - t0) / n * 1e6
    print(f"\nwatchdog arm+disarm: {per_call:.2f} us")
    assert per_call < 50


# -- run_with_deadline -----------------------------------------------------------------------------------------


def test_run_with_deadline_returns_result() -> None:
    aborted = threading.Event()
    assert run_with_deadline(1.0, aborted.set, lambda: 42, "Cursor.execute") == 42
    time.sleep(0.01)
    assert not aborted.is_set()


def test_run_with_deadline_converts_error_caused_by_abort() -> None:
    released = threading.Event()

    class DriverError(Exception):
        pass

    def call() -> None:
        assert released.wait(2.0)
        raise DriverError("connection socket closed")

    t0 = time.monotonic()
    with pytest.raises(QueryTimeoutError) as info:
        run_with_deadline(0.05, released.set, call, "Cursor.execute")
    assert time.monotonic() - t0 < 0.5
    assert isinstance(info.value.driver_error, DriverError)
    assert info.value.__cause__ is info.value.driver_error
    assert str(info.value) == "Cursor.execute exceeded socket_timeout=0.05s; the connection was aborted"


def test_run_with_deadline_passes_other_errors_through() -> None:
    aborted = threading.Event()

    def call() -> None:
        raise ValueError("syntax error")

    with pytest.raises(ValueError, match="syntax error"):
        run_with_deadline(1.0, aborted.set, call, "Cursor.execute")
    time.sleep(0.01)
    assert not aborted.is_set()


# -- shutdown_socket_fd ------------------------------------------------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_shutdown_socket_fd_unblocks_a_reader_and_leaks_nothing() -> None:
    a, b = socket.socketpair()
    with a, b:
        before = _open_fds()
        result: list[bytes] = []
        reader = threading.Thread(target=lambda: result.append(a.recv(10)))
        reader.start()
        time.sleep(0.05)
        t0 = time.monotonic()
        assert shutdown_socket_fd(a.fileno(), lambda s: True)
        reader.join(1.0)
        assert not reader.is_alive()
        assert time.monotonic() - t0 < 0.1
        assert result == [b""]
        assert _open_fds() == before


def test_shutdown_socket_fd_respects_ownership_check() -> None:
    a, b = socket.socketpair()
    with a, b:
        seen: list[socket.socket] = []

        def refuse(sock: socket.socket) -> bool:
            seen.append(sock)
            return False

        assert not shutdown_socket_fd(a.fileno(), refuse)
        assert len(seen) == 1
        b.send(b"x")
        assert a.recv(1) == b"x"  # untouched


def test_shutdown_socket_fd_never_raises() -> None:
    before = _open_fds()
    assert not shutdown_socket_fd(-1, lambda s: True)
    r, w = os.pipe()
    try:
        assert not shutdown_socket_fd(r, lambda s: True)  # not a socket
    finally:
        os.close(r)
        os.close(w)
    bad = os.open("/dev/null", os.O_RDONLY)
    os.close(bad)
    assert not shutdown_socket_fd(bad, lambda s: True)  # closed descriptor

    def broken(_s: socket.socket) -> bool:
        raise RuntimeError("check failed")

    a, b = socket.socketpair()
    with a, b:
        assert not shutdown_socket_fd(a.fileno(), broken)
    assert _open_fds() == before
