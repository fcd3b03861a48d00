"""The bridge between async connections and the wrapper's sync code (aws_wrapper.core.aio._bridge)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from aws_wrapper.core import InterfaceError
from aws_wrapper.core.aio import _bridge
from aws_wrapper.core.methods import DbApiMethod
from aws_wrapper.core.plugin import ExecuteProceed, Plugin

T = TypeVar("T")


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("aws-wrapper-aio-worker")]


def test_run_sync_runs_on_a_daemon_worker_and_returns_or_raises() -> None:
    async def main() -> tuple[str, bool]:
        name, daemon = await _bridge.run_sync(
            lambda: (threading.current_thread().name, threading.current_thread().daemon)
        )
        with pytest.raises(ValueError, match="bad 42"):
            await _bridge.run_sync(_fail, 42)
        return name, daemon

    name, daemon = asyncio.run(main())
    assert name.startswith("aws-wrapper-aio-worker-")
    assert daemon


def _whoami() -> tuple[str, bool]:
    me = threading.current_thread()
    return me.name, me.daemon


def _fail(value: int) -> None:
    raise ValueError(f"bad {value}")


def test_a_worker_runs_driver_coroutines_on_the_connections_loop() -> None:
    async def on_loop() -> int:
        await asyncio.sleep(0)
        return threading.get_ident()

    async def main() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        ident = await _bridge.run_sync(lambda: _bridge.call_on_loop(loop, on_loop()))
        return ident, threading.get_ident()

    ran_on, loop_thread = asyncio.run(main())
    assert ran_on == loop_thread


def test_call_on_loop_refuses_to_deadlock_the_loop_thread() -> None:
    async def never() -> None:
        raise AssertionError("must not run")

    async def main() -> None:
        coro = never()
        with pytest.raises(InterfaceError, match="ran on the event loop"):
            _bridge.call_on_loop(asyncio.get_running_loop(), coro)
        assert coro.cr_frame is None  # type: ignore[attr-defined]  # closed: no "never awaited" warning

    asyncio.run(main())


def test_call_on_loop_gives_up_when_the_loop_stops() -> None:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    outcome: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await asyncio.sleep(3600)

    def worker() -> None:
        try:
            _bridge.call_on_loop(loop, forever())
        except BaseException as exc:
            outcome.append(exc)

    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    assert started.wait(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    runner.join(5)
    loop.close()
    assert len(outcome) == 1
    assert isinstance(outcome[0], InterfaceError)
    assert "stopped" in str(outcome[0])


def test_cancelling_waits_for_the_work_and_discards_its_result() -> None:
    finished = threading.Event()
    discarded: list[str] = []

    def slow() -> str:
        time.sleep(0.3)
        finished.set()
        return "connection"

    async def main() -> float:
        task = asyncio.create_task(_bridge.run_sync(slow, discard=discarded.append))
        await asyncio.sleep(0.05)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - start

    waited = asyncio.run(main())
    assert finished.is_set()  # the cancellation was raised after the work ended, not in the middle of it
    assert waited >= 0.2
    assert discarded == ["connection"]


def test_idle_workers_end_and_stop_ends_them(monkeypatch: pytest.MonkeyPatch) -> None:
    _bridge.shutdown()
    monkeypatch.setattr(_bridge, "IDLE_EXIT", 0.2)

    async def burst() -> None:
        await asyncio.gather(*(_bridge.run_sync(time.sleep, 0.1) for _ in range(4)))

    asyncio.run(burst())
    assert len(_workers()) >= 2  # one per concurrent job
    deadline = time.monotonic() + 5
    while _workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _workers() == []
    asyncio.run(burst())
    _bridge.shutdown()
    assert _workers() == []


class _SyncOnly(Plugin):
    """A plugin built for ABI 1.0: only the sync ``execute``, which replaces the call by one of its own."""

    subscribed_methods = frozenset({DbApiMethod.CURSOR_EXECUTE})

    def __init__(self) -> None:
        self.threads: list[str] = []

    def execute(
        self, method: DbApiMethod, target: object, call: Callable[[], T], proceed: ExecuteProceed
    ) -> T:
        self.threads.append(threading.current_thread().name)

        def doubled() -> Any:
            return 2 * call()  # type: ignore[operator]

        result: T = proceed(target, doubled)
        return result


def test_a_sync_only_execute_runs_on_a_worker_with_the_call_on_the_loop() -> None:
    plugin = _SyncOnly()
    loop_threads: list[int] = []

    async def driver_call() -> int:
        loop_threads.append(threading.get_ident())
        return 21

    async def proceed(target: object, call: Callable[[], Awaitable[Any]]) -> Any:
        return await call()

    async def main() -> tuple[int, int]:
        result = await plugin.execute_async(DbApiMethod.CURSOR_EXECUTE, object(), driver_call, proceed)
        return result, threading.get_ident()

    result, loop_thread = asyncio.run(main())
    assert result == 42
    assert plugin.threads[0].startswith("aws-wrapper-aio-worker-")
    assert loop_threads == [loop_thread]
