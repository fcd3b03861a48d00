"""The built-in plugins ``connect_time``, ``execute_time`` and ``dev`` (on the fake driver)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection, DbApiMethod
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.plugins import (
    ConnectTimePlugin,
    DevPlugin,
    DevPluginFactory,
    ExceptionSimulatorManager,
    ExecuteTimePlugin,
)

from ._fakes import FakeDriver, FakeNetworkError, UseRegistry, fake_connect, recording_factory

_M = DbApiMethod


def test_connect_time_measures_every_physical_connect(
    fake_driver: FakeDriver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "aws_wrapper.core.plugins")
    conn = AwsWrapperConnection.connect(fake_connect, host="db1", plugins="connect_time")
    timing = conn.plugin(ConnectTimePlugin)
    assert timing is not None
    assert timing.count == 1
    assert timing.last_ns > 0
    assert timing.total_ns == timing.last_ns
    assert timing.last_host == HostInfo("db1", 5432)
    assert "connect to db1:5432 succeeded in" in caplog.text

    fake_driver.fail_next_connect = FakeNetworkError("refused")
    with pytest.raises(FakeNetworkError):
        conn._rt.connect(HostInfo("db2", 5432))
    raw = conn._rt.force_connect(HostInfo("db3", 5432))
    assert (timing.count, timing.failures) == (3, 1)
    assert timing.last_host == HostInfo("db3", 5432)
    assert timing.total_ns >= timing.last_ns
    assert timing.average_ns == timing.total_ns / 3
    assert "connect to db2:5432 failed in" in caplog.text
    assert "force_connect to db3:5432 succeeded in" in caplog.text
    raw.close()
    conn.close()


def test_execute_time_counts_and_times_each_method(fake_driver: FakeDriver) -> None:
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="execute_time")
    timing = conn.plugin(ExecuteTimePlugin)
    assert timing is not None
    cur = conn.cursor()
    for _ in range(3):
        cur.execute("SELECT 1")
        cur.fetchone()
    cur.executemany("INSERT", [(1,), (2,)])
    conn.commit()
    assert timing.counts == {
        _M.CONNECTION_CURSOR: 1,
        _M.CURSOR_EXECUTE: 3,
        _M.CURSOR_FETCHONE: 3,
        _M.CURSOR_EXECUTEMANY: 1,
        _M.CONNECTION_COMMIT: 1,
    }
    assert timing.count() == 9
    assert timing.count(_M.CURSOR_EXECUTE) == 3
    assert timing.total_ns(_M.CURSOR_EXECUTE) > 0
    assert timing.total_ns() == sum(timing.totals_ns.values())
    assert timing.last_method is _M.CONNECTION_COMMIT
    assert timing.total_ns(_M.CURSOR_CALLPROC) == 0
    timing.reset()
    assert _is_reset(timing)
    conn.close()


def _is_reset(timing: ExecuteTimePlugin) -> bool:
    return timing.count() == 0 and timing.last_method is None and timing.last_ns == 0


def test_dev_raises_once_on_the_next_matching_call(fake_driver: FakeDriver) -> None:
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="dev")
    dev = conn.plugin(DevPlugin)
    assert dev is not None
    cur = conn.cursor()
    error = FakeNetworkError("injected")
    ExceptionSimulatorManager.raise_on_next_call(error, "Cursor.execute")
    cur.fetchone()  # another method: not affected
    with pytest.raises(FakeNetworkError, match="injected") as info:
        cur.execute("SELECT 1")
    assert info.value is error
    cur.execute("SELECT 1")  # one-shot
    assert conn.target_connection.statements == [
        ("SELECT 1", None)
    ]  # the failed call never reached the driver

    ExceptionSimulatorManager.raise_on_next_call(ValueError("any"))
    with pytest.raises(ValueError, match="any"):
        cur.fetchone()
    ExceptionSimulatorManager.raise_on_next_call(KeyError("enum"), _M.CONNECTION_COMMIT)
    with pytest.raises(KeyError):
        conn.commit()
    assert dev.injected == 3
    conn.close()


def test_dev_connect_faults_and_callbacks(fake_driver: FakeDriver) -> None:
    ExceptionSimulatorManager.raise_on_next_connect(FakeNetworkError("no route"))
    with pytest.raises(FakeNetworkError, match="no route"):
        AwsWrapperConnection.connect(fake_connect, host="h", plugins="dev")
    assert fake_driver.connected == []

    seen: list[tuple[str, bool]] = []

    def on_connect(host: HostInfo, props: Mapping[str, Any], initial: bool) -> BaseException | None:
        seen.append((host.host, initial))
        return FakeNetworkError("refused") if host.host == "bad" else None

    calls: list[str] = []

    def on_call(method: DbApiMethod, target: object) -> BaseException | None:
        calls.append(method.api_name)
        return RuntimeError("no commits today") if method is _M.CONNECTION_COMMIT else None

    ExceptionSimulatorManager.set_connect_callback(on_connect)
    ExceptionSimulatorManager.set_method_callback(on_call)
    conn = AwsWrapperConnection.connect(fake_connect, host="good", plugins="dev")
    with pytest.raises(FakeNetworkError, match="refused"):
        conn._rt.force_connect(HostInfo("bad", 5432))
    assert seen == [("good", True), ("bad", False)]
    conn.cursor().execute("SELECT 1")
    for _ in range(2):  # callbacks are not one-shot
        with pytest.raises(RuntimeError, match="no commits today"):
            conn.commit()
    assert calls == ["Connection.cursor", "Cursor.execute", "Connection.commit", "Connection.commit"]

    ExceptionSimulatorManager.reset()
    conn.commit()
    assert conn.target_connection.log[-1] == "commit"
    conn.close()


def test_dev_sits_right_after_the_plugin_written_before_it(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    log: list[str] = []
    use_registry(
        recording_factory("outer", 400, log), recording_factory("innermost", 900, log), DevPluginFactory
    )
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="innermost,outer,dev")
    assert [type(p).__name__ for p in conn._rt.plugins] == ["RecordingPlugin", "DevPlugin", "RecordingPlugin"]
    cur = conn.cursor()
    log.clear()
    ExceptionSimulatorManager.raise_on_next_call(FakeNetworkError("lost"), "Cursor.execute")
    with pytest.raises(FakeNetworkError):
        cur.execute("SELECT 1")
    # the plugin outside dev sees the injected error, the one inside never sees the call
    assert log == ["outer:before:Cursor.execute", "outer:after:Cursor.execute"]
    conn.close()


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("", "method must be a DbApiMethod"),
        ("  ", "method must be a DbApiMethod"),
        ("Cursor.frobnicate", "unknown db-api method 'Cursor.frobnicate'"),
    ],
)
def test_dev_rejects_bad_method_names(method: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExceptionSimulatorManager.raise_on_next_call(RuntimeError("x"), method)


def test_dev_rejects_what_is_not_an_exception() -> None:
    with pytest.raises(TypeError, match="expected an exception instance to raise, got 'boom'"):
        ExceptionSimulatorManager.raise_on_next_connect("boom")  # type: ignore[arg-type]


def test_upstream_spellings(fake_driver: FakeDriver) -> None:
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="developer")
    ExceptionSimulatorManager.raise_exception_on_next_method(
        RuntimeError("upstream order"), "Connection.rollback"
    )
    with pytest.raises(RuntimeError, match="upstream order"):
        conn.rollback()
    ExceptionSimulatorManager.raise_exception_on_next_connect(RuntimeError("next connect"))
    with pytest.raises(RuntimeError, match="next connect"):
        conn._rt.connect(HostInfo("h2", 5432))
    conn.close()
