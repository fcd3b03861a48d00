"""ABI 1.1 call hooks: core's in-flight mark (``marks_calls``) and error handlers (``error_methods``), run inline
by the cursor when no plugin subscribes a call's ``execute``, and as pipeline steps when one does."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn, TypeVar

import pytest

from aws_wrapper.core import AwsWrapperConnection, DbApiMethod
from aws_wrapper.core._calls import CallMark
from aws_wrapper.core._chain_sync import CallGuard
from aws_wrapper.core._cursor import _DirectCursor, _InlineCursor
from aws_wrapper.core._pipeline import Pipelines
from aws_wrapper.core.errors import InterfaceError
from aws_wrapper.core.methods import ALL_METHODS
from aws_wrapper.core.plugin import Plugin, PluginFactory
from aws_wrapper.core.services import PluginContext

from ._fakes import FakeDriver, FakeNetworkError, UseRegistry, fake_connect, recording_factory

T = TypeVar("T")
_M = DbApiMethod
NETWORK = frozenset({_M.CURSOR_EXECUTE, _M.CURSOR_FETCHONE, _M.CONNECTION_COMMIT})


class Marker(Plugin):
    marks_calls = True


class Handler(Plugin):
    def __init__(self, name: str, log: list[str], *, replace: type[Exception] | None = None) -> None:
        self.name = name
        self.log = log
        self.replace = replace
        self.error_methods = NETWORK

    def on_call_error(self, method: DbApiMethod, target: object, error: Exception) -> None:
        self.log.append(f"{self.name}:{method.api_name}:{type(error).__name__}")
        if self.replace is not None:
            raise self.replace(f"{self.name} replaced {error}") from error


class Recorder(Plugin):
    subscribed_methods = ALL_METHODS

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def execute(self, method: DbApiMethod, target: object, call: Callable[[], T], proceed: Any) -> T:
        self.log.append("recorder>")
        try:
            result: T = proceed(target, call)
            return result
        except Exception as error:
            self.log.append(f"recorder saw {type(error).__name__}")
            raise


def _busy() -> NoReturn:
    raise InterfaceError("busy")


def guard_of(pipes: Pipelines, source: object = None, lock: Any = None, closed: bool = False) -> CallGuard:
    mark = CallMark("conn") if pipes.marks_calls else None
    return CallGuard(mark, source, lock, pipes.error_handlers, lambda: closed, _busy)


def test_light_hooks_compile_to_the_inline_guard_not_a_pipeline() -> None:
    pipes = Pipelines([Marker(), Handler("h", [])], network_methods=NETWORK)
    assert pipes.marks_calls
    assert pipes.fused == NETWORK
    assert all(pipes.execute[m] is None for m in NETWORK)
    assert pipes.execute[_M.CURSOR_CLOSE] is None
    assert pipes.error_handlers[_M.CURSOR_EXECUTE] != ()
    # nothing to do at all: no guard work, every call direct
    plain = Pipelines([Plugin()], network_methods=NETWORK)
    assert plain.fused == frozenset()
    assert not plain.marks_calls


def test_guard_marks_the_call_in_flight_and_samples_the_status() -> None:
    pipes = Pipelines([Marker()], network_methods=NETWORK)
    source = type("PgConn", (), {"transaction_status": 2})()
    guard = guard_of(pipes, source)
    mark = guard.mark
    assert mark is not None
    seen: list[float] = []

    def call() -> str:
        seen.append(mark.since)
        return "rows"

    before = time.monotonic()
    assert guard.run(_M.CURSOR_EXECUTE, object(), call) == "rows"
    assert before <= seen[0] <= time.monotonic()
    assert mark.since == 0.0
    assert mark.status == 2  # kept after the call for an error handler

    def nested() -> float:
        outer = mark.since
        guard.run(_M.CURSOR_FETCHONE, object(), lambda: seen.append(mark.since))
        assert mark.since == outer  # the inner call did not clear the outer mark
        return outer

    outer = guard.run(_M.CURSOR_EXECUTE, object(), nested)
    assert seen[-1] == outer
    assert mark.since == 0.0


def test_errors_reach_the_handlers_in_plugin_order_and_a_replacement_wins() -> None:
    log: list[str] = []
    pipes = Pipelines(
        [Handler("first", log), Handler("second", log, replace=LookupError), Handler("third", log)],
        network_methods=NETWORK,
    )
    guard = guard_of(pipes)
    error = FakeNetworkError("server closed the connection")

    def failing() -> None:
        raise error

    with pytest.raises(LookupError, match="second replaced server closed") as info:
        guard.run(_M.CURSOR_EXECUTE, object(), failing)
    assert info.value.__cause__ is error
    assert log == ["first:Cursor.execute:FakeNetworkError", "second:Cursor.execute:FakeNetworkError"]
    # a method nobody handles: the error passes unchanged
    log.clear()
    with pytest.raises(FakeNetworkError):
        guard.run(_M.CURSOR_CLOSE, object(), failing)
    assert log == []


def test_an_error_after_close_from_another_thread_becomes_the_closed_error() -> None:
    pipes = Pipelines([Handler("h", [])], network_methods=NETWORK)
    guard = guard_of(pipes, closed=True)

    def failing() -> None:
        raise FakeNetworkError("aborted")

    with pytest.raises(InterfaceError, match="closed while this call was running") as info:
        guard.run(_M.CURSOR_EXECUTE, object(), failing)
    assert isinstance(info.value.__cause__, FakeNetworkError)


def test_the_call_lock_refuses_a_second_thread() -> None:
    lock = threading.RLock()
    guard = guard_of(Pipelines([], network_methods=NETWORK), lock=lock)
    assert guard.run(_M.CURSOR_EXECUTE, object(), lambda: "ok") == "ok"
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with lock:
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holding.wait(5)
        with pytest.raises(InterfaceError, match="busy"):
            guard.run(_M.CURSOR_EXECUTE, object(), lambda: "never")
    finally:
        release.set()
        thread.join()
    assert guard.run(_M.CURSOR_EXECUTE, object(), lambda: "again") == "again"


def test_with_a_full_pipeline_the_handler_sees_the_error_at_its_place() -> None:
    log: list[str] = []
    # plugin order: handler (outermost), recorder, inner handler
    pipes = Pipelines(
        [Handler("outer", log, replace=LookupError), Recorder(log), Handler("inner", log), Marker()],
        network_methods=NETWORK,
        guard=lambda: None,
    )
    assert _M.CURSOR_EXECUTE not in pipes.fused
    chain = pipes.execute[_M.CURSOR_EXECUTE]
    assert chain is not None

    def failing() -> None:
        raise FakeNetworkError("boom")

    with pytest.raises(LookupError):
        chain(object(), failing)
    assert log == [
        "recorder>",
        "inner:Cursor.execute:FakeNetworkError",
        "recorder saw FakeNetworkError",
        "outer:Cursor.execute:FakeNetworkError",
    ]


# -- through the public API ----------------------------------------------------------------------------------


class _Watch(Plugin):
    """Marks calls and records errors, as failure monitoring and failover do."""

    marks_calls = True
    error_methods = NETWORK
    seen: ClassVar[list[str]] = []

    def __init__(self, context: PluginContext) -> None:
        self.context = context

    def on_call_error(self, method: DbApiMethod, target: object, error: Exception) -> None:
        _Watch.seen.append(f"{method.api_name}:{error}")


class _WatchFactory(PluginFactory):
    code = "watch"
    weight = 100

    def create(self, context: PluginContext) -> Plugin:
        return _Watch(context)


def test_cursor_runs_marks_and_handlers_inline(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    use_registry(_WatchFactory)
    _Watch.seen.clear()
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="watch")
    rt = conn._rt
    assert rt.chains[_M.CURSOR_EXECUTE] is None  # no pipeline: the guard runs inline
    mark = rt.call_mark
    assert mark is not None
    assert mark.connection is conn.target_connection
    physical: Any = conn.target_connection
    cur = conn.cursor()
    assert isinstance(cur, _InlineCursor)  # the fake driver has its own call lock: the inline mode applies
    raw = cur.target_cursor
    during: list[float] = []
    original = raw.execute

    def spy(query: str, params: Any = None) -> Any:
        during.append(mark.since)
        return original(query, params)

    raw.execute = spy
    assert cur.execute("SELECT 1") is cur
    assert during[0] > 0.0
    assert mark.since == 0.0
    physical.closed = True  # the next call fails with the fake driver's network error
    with pytest.raises(FakeNetworkError):
        cur.execute("SELECT 2")
    assert _Watch.seen == ["Cursor.execute:connection is closed"]
    assert mark.since == 0.0
    physical.closed = False
    conn.close()


def test_a_new_physical_connection_gets_a_new_mark(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    use_registry(_WatchFactory)
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="watch")
    rt = conn._rt
    first = rt.call_mark
    new = fake_connect(host="h2", port=5432)
    rt.set_current(new, rt.initial_host)
    second = rt.call_mark
    assert second is not None
    assert second is not first
    assert second.connection is new
    conn.close()


def test_inline_path_allocates_nothing_per_call(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    use_registry(_WatchFactory, recording_factory("unused", 200, [], frozenset()))
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="watch")
    cur = conn.cursor()
    execute = cur.execute
    raw = cur.target_cursor
    raw.execute = lambda query, params=None: raw  # the driver call itself allocates nothing either
    for _ in range(1000):
        execute("SELECT 1")
    before = sys.getallocatedblocks()
    for _ in range(20_000):
        execute("SELECT 1")
    assert sys.getallocatedblocks() - before < 100
    conn.close()


def test_wrapper_cursor_forwards_driver_attributes_without_getattr(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    use_registry()
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="")
    cur = conn.cursor()
    assert isinstance(cur, _DirectCursor)
    assert cur.fetchone == cur.target_cursor.fetchone  # the driver's own method, no wrapper code per fetch
    assert "__getattr__" not in {k for c in type(cur).__mro__ for k in vars(c)}
    assert cur.closed is False  # an instance attribute of the driver cursor, named in its __init__
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)
    with pytest.raises(AttributeError):
        cur.no_such_attribute  # noqa: B018
    conn.close()
