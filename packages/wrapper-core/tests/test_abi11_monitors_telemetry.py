"""ABI 1.1: ``MonitorService.reset``, the telemetry hook (settings, backends, the process-wide factory) and the role
a static host list reports (logic only; the end-to-end tests are in ``tests-integration/core``)."""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

import pytest

import aws_wrapper.core.telemetry as telemetry_module
from aws_wrapper.core import AwsWrapperConnection, Plugin, PluginContext, PluginFactory, release_resources
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.host_list import StaticHostListProvider, reported_role
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.core.telemetry import (
    ENTRY_POINT_GROUP,
    NULL_TELEMETRY,
    TELEMETRY_SETTINGS,
    TelemetryConfig,
    TelemetryContext,
    TelemetryCounter,
    TelemetryFactory,
    install_telemetry_factory,
    telemetry_for,
)

from ._fakes import FakeDriver, UseRegistry, fake_connect

# -- MonitorService.reset -------------------------------------------------------------------------------------------


class _Monitor:
    def __init__(self, fail: bool = False) -> None:
        self.resets = 0
        self.stopped = False
        self.fail = fail

    def stop(self) -> None:
        self.stopped = True

    def join(self, timeout: float) -> None:
        return None

    def reset(self) -> None:
        if self.fail:
            raise RuntimeError("boom")
        self.resets += 1


class _PlainMonitor:
    """A 1.0 monitor: no reset()."""

    def stop(self) -> None:
        return None

    def join(self, timeout: float) -> None:
        return None


@pytest.fixture
def service() -> Iterator[MonitorService]:
    monitors = MonitorService()
    yield monitors
    monitors.stop_all(timeout=0.1)


def test_reset_reaches_the_selected_monitors_that_can_reset(service: MonitorService) -> None:
    a1 = service.get_or_create("a", 1, _Monitor)
    a2 = service.get_or_create("a", 2, _Monitor)
    b1 = service.get_or_create("b", 1, _Monitor)
    service.get_or_create("c", 1, _PlainMonitor)
    assert service.reset("a", 1) == 1
    assert (a1.resets, a2.resets, b1.resets) == (1, 0, 0)
    assert service.reset("a") == 2
    assert (a1.resets, a2.resets, b1.resets) == (2, 1, 0)
    assert service.reset(key=1) == 2  # kinds a and b; c cannot reset
    assert (a1.resets, a2.resets, b1.resets) == (3, 1, 1)
    assert service.reset(where=lambda kind, key: kind == "b" or key == 2) == 2
    assert (a1.resets, a2.resets, b1.resets) == (3, 2, 2)
    assert service.reset() == 3
    assert service.count() == 4  # nothing was stopped or forgotten
    assert not a1.stopped


def test_a_failing_reset_does_not_stop_the_others(
    service: MonitorService, caplog: pytest.LogCaptureFixture
) -> None:
    service.get_or_create("a", 1, lambda: _Monitor(fail=True))
    ok = service.get_or_create("a", 2, _Monitor)
    assert service.reset("a") == 1
    assert ok.resets == 1
    assert "resetting monitor a 1 failed" in caplog.text


# -- telemetry ---------------------------------------------------------------------------------------------------------


class _Span:
    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name

    def __enter__(self) -> _Span:
        self.log.append(f"enter {self.name}")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.log.append(f"exit {self.name}")

    def set_attribute(self, key: str, value: object) -> None:
        self.log.append(f"{self.name}.{key}={value!r}")

    def set_exception(self, error: BaseException) -> None:
        self.log.append(f"{self.name} error {error}")


class _Counter:
    def __init__(self, log: list[str], name: str) -> None:
        self.log = log
        self.name = name

    def inc(self, value: int = 1, attributes: Mapping[str, object] | None = None) -> None:
        self.log.append(f"{self.name}+{value}")


class _Factory:
    """A telemetry factory recording into ``log`` (what a backend returns)."""

    made: ClassVar[list[TelemetryConfig]] = []

    def __init__(self, config: TelemetryConfig | None = None, tag: str = "") -> None:
        self.log: list[str] = []
        self.tag = tag
        if config is not None:
            _Factory.made.append(config)

    @property
    def enabled(self) -> bool:
        return True

    def open_span(self, name: str, *, top_level: bool = False) -> TelemetryContext:
        return _Span(self.log, self.tag + name)

    def counter(self, name: str) -> TelemetryCounter:
        return _Counter(self.log, self.tag + name)

    def gauge(self, name: str, callback: Callable[[], float]) -> None:
        self.log.append(f"gauge {self.tag}{name}={callback()}")


def _unsupported(config: TelemetryConfig) -> TelemetryFactory:
    if config.metrics_backend == "test_no_metrics":
        raise ConfigurationError(
            "invalid value 'test_no_metrics' for setting 'telemetry_metrics_backend': no metrics"
        )
    return _Factory(config, tag="nm:")


def _broken(config: TelemetryConfig) -> TelemetryFactory:
    raise RuntimeError("the SDK is missing")


@pytest.fixture
def backends(tmp_path: Path) -> Iterator[None]:
    """Backends ``test_a`` and ``test_b`` (this module's ``_Factory``), ``test_no_metrics`` and ``test_broken``,
    declared by a temporary distribution on ``sys.path``."""
    info = tmp_path / "aws_wrapper_test_telemetry_backends-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: aws-wrapper-test-telemetry-backends\nVersion: 0.1.0\n"
    )
    # the entry points name a shim module (this test module's name is not importable under --import-mode=importlib)
    (tmp_path / "aws_wrapper_test_telemetry_shim.py").write_text(
        f"import sys\n_owner = sys.modules[{__name__!r}]\n"
        "_Factory, _unsupported, _broken = _owner._Factory, _owner._unsupported, _owner._broken\n"
    )
    module = "aws_wrapper_test_telemetry_shim"
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\ntest_a = {module}:_Factory\nTEST_B = {module}:_Factory\n"
        f"test_no_metrics = {module}:_unsupported\ntest_broken = {module}:_broken\n"
    )
    sys.path.append(str(tmp_path))
    importlib.invalidate_caches()
    release_resources()  # forgets the backends' factories of earlier tests
    _Factory.made.clear()
    try:
        yield
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("aws_wrapper_test_telemetry_shim", None)
        install_telemetry_factory(None)


def test_off_unless_enabled() -> None:
    assert telemetry_for({}) is NULL_TELEMETRY
    assert telemetry_for({"enable_telemetry": False, "telemetry_traces_backend": "nowhere"}) is NULL_TELEMETRY
    assert telemetry_for({"enable_telemetry": "off", "telemetry_traces_backend": "nowhere"}) is NULL_TELEMETRY
    assert not NULL_TELEMETRY.enabled
    with NULL_TELEMETRY.open_span("x", top_level=True) as span:
        span.set_attribute("a", 1)
    NULL_TELEMETRY.counter("c").inc(2, {"a": 1})
    NULL_TELEMETRY.gauge("g", lambda: 1.0)


def test_settings_are_upstreams() -> None:
    assert {s.name for s in TELEMETRY_SETTINGS} == {
        "enable_telemetry",
        "telemetry_traces_backend",
        "telemetry_metrics_backend",
        "telemetry_submit_toplevel",
        "telemetry_submit_top_level",
        "telemetry_failover_additional_top_trace",
    }
    config = TelemetryConfig.parse(
        {"enable_telemetry": "true", "telemetry_traces_backend": " OTLP ", "telemetry_submit_top_level": "1"}
    )
    assert config == TelemetryConfig(True, "otlp", None, True)
    with pytest.raises(ConfigurationError, match=r"invalid value 'maybe' for setting 'enable_telemetry'"):
        telemetry_for({"enable_telemetry": "maybe"})


def test_backends_from_entry_points_are_shared_by_the_process(backends: None) -> None:
    props = {
        "enable_telemetry": True,
        "telemetry_traces_backend": "test_a",
        "telemetry_metrics_backend": "TEST_A",
    }
    factory = telemetry_for(props)
    assert isinstance(factory, _Factory)
    assert telemetry_for(dict(props)) is factory
    assert _Factory.made == [TelemetryConfig(True, "test_a", "test_a", False)]  # one backend call for both

    split = telemetry_for(
        {
            "enable_telemetry": True,
            "telemetry_traces_backend": "test_a",
            "telemetry_metrics_backend": "test_b",
        }
    )
    assert split.enabled
    with split.open_span("s") as span:
        span.set_attribute("k", 1)
    split.counter("c").inc()
    split.gauge("g", lambda: 2.0)
    traces, metrics = (f for f in _made_factories(split))
    assert traces.log == ["enter s", "s.k=1", "exit s"]
    assert metrics.log == ["c+1", "gauge g=2.0"]

    traces_only = telemetry_for(
        {"enable_telemetry": True, "telemetry_traces_backend": "test_b", "telemetry_metrics_backend": "none"}
    )
    traces_only.counter("c").inc()  # into the no-op counter
    assert traces_only.enabled
    assert (
        telemetry_for(
            {
                "enable_telemetry": True,
                "telemetry_traces_backend": "NONE",
                "telemetry_metrics_backend": "none",
            }
        )
        is NULL_TELEMETRY
    )


def _made_factories(split: TelemetryFactory) -> tuple[_Factory, _Factory]:
    traces = split._traces  # type: ignore[attr-defined]
    metrics = split._metrics  # type: ignore[attr-defined]
    assert isinstance(traces, _Factory)
    assert isinstance(metrics, _Factory)
    return traces, metrics


def test_backend_errors_name_the_setting_and_the_value(
    backends: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a first-party backend that is not installed (otlp and xray are, in the workspace) gets an install hint
    monkeypatch.setitem(telemetry_module._FIRST_PARTY, "gone", "aws-wrapper-telemetry-gone")
    with pytest.raises(ConfigurationError) as info:
        telemetry_for({"enable_telemetry": True, "telemetry_traces_backend": "gone"})
    text = str(info.value)
    assert "invalid value 'gone' for setting 'telemetry_traces_backend'" in text
    assert "pip install aws-wrapper-telemetry-gone, or aws-wrapper[gone]" in text
    assert "test_a" in text  # the installed ones
    with pytest.raises(
        ConfigurationError,
        match=r"'test_broken' from aws-wrapper-test-telemetry-backends could not be loaded: RuntimeError: the SDK",
    ):
        telemetry_for({"enable_telemetry": True, "telemetry_metrics_backend": "test_broken"})
    with pytest.raises(ConfigurationError, match="no metrics"):
        telemetry_for({"enable_telemetry": True, "telemetry_metrics_backend": "test_no_metrics"})
    with pytest.raises(
        ConfigurationError, match=r"neither telemetry_traces_backend nor telemetry_metrics_backend"
    ):
        telemetry_for({"enable_telemetry": True})


def test_an_installed_factory_serves_connections_naming_no_backend(backends: None) -> None:
    mine = _Factory(tag="app:")
    install_telemetry_factory(mine)
    assert telemetry_for({"enable_telemetry": "yes"}) is mine
    named = telemetry_for({"enable_telemetry": True, "telemetry_traces_backend": "test_a"})
    assert named is not mine
    assert named.enabled
    assert telemetry_for({}) is NULL_TELEMETRY
    install_telemetry_factory(None)
    with pytest.raises(ConfigurationError):
        telemetry_for({"enable_telemetry": True})


class _SeesTelemetry(Plugin):
    def __init__(self, context: PluginContext) -> None:
        self.telemetry = context.telemetry


class _SeesTelemetryFactory(PluginFactory):
    code = "test_sees_telemetry"

    def create(self, context: PluginContext) -> Plugin:
        return _SeesTelemetry(context)


def test_plugins_receive_the_connections_factory_and_the_driver_never_sees_the_settings(
    fake_driver: FakeDriver, use_registry: UseRegistry, backends: None
) -> None:
    use_registry(_SeesTelemetryFactory)
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="test_sees_telemetry")
    plugin = conn.plugin(_SeesTelemetry)
    assert plugin is not None
    assert plugin.telemetry is NULL_TELEMETRY
    conn.close()
    settings: dict[str, Any] = {
        "enable_telemetry": True,
        "telemetry_traces_backend": "test_a",
        "telemetry_metrics_backend": "test_a",
        "telemetry_submit_toplevel": True,
    }
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="test_sees_telemetry", **settings)
    plugin = conn.plugin(_SeesTelemetry)
    assert plugin is not None
    assert isinstance(plugin.telemetry, _Factory)
    assert not set(settings) & set(fake_driver.connected[-1].kwargs)
    conn.close()
    with pytest.raises(ConfigurationError, match="'telemetry_traces_backend'"):
        AwsWrapperConnection.connect(
            fake_connect, host="h", plugins="", enable_telemetry=True, telemetry_traces_backend="nowhere"
        )


# -- the role of a static host list ---------------------------------------------------------------------------------


class _Info:
    def __init__(self, status: dict[str, str]) -> None:
        self.status = status

    def parameter_status(self, name: str) -> str | None:
        return self.status.get(name)


class _Conn:
    def __init__(self, **status: str) -> None:
        self.info = _Info(status)


class _QueryDriver(FakeDriver):
    def __init__(self, answer: list[tuple[Any, ...]]) -> None:
        super().__init__()
        self.answer = answer
        self.queries: list[tuple[str, float | None]] = []

    def query(
        self, conn: Any, sql: str, params: Any = (), *, timeout: float | None = None
    ) -> list[tuple[Any, ...]]:
        self.queries.append((sql, timeout))
        return self.answer


@pytest.mark.parametrize(
    ("answer", "role"),
    [
        ([(True,)], HostRole.READER),
        ([(1,)], HostRole.READER),
        ([("on",)], HostRole.READER),
        ([(False,)], HostRole.WRITER),
        ([(0,)], HostRole.WRITER),
    ],
)
def test_static_role_from_the_dialects_query(answer: list[tuple[Any, ...]], role: HostRole) -> None:
    driver = _QueryDriver(answer)
    provider = StaticHostListProvider(
        HostInfo("h", 5432), driver=driver, is_reader_query="SELECT is_reader()", timeout=2.5
    )
    assert provider.get_host_role(object()) is role
    assert driver.queries == [("SELECT is_reader()", 2.5)]
    assert [h.role for h in provider.refresh(None)] == [HostRole.WRITER]  # the host list is unchanged


def test_static_role_query_without_rows_is_an_error() -> None:
    provider = StaticHostListProvider(
        HostInfo("h", 5432), driver=_QueryDriver([]), is_reader_query="SELECT x"
    )
    with pytest.raises(Exception, match=r"the is-reader query 'SELECT x' returned no row"):
        provider.get_host_role(object())


def test_static_role_without_a_query_is_what_the_driver_reports() -> None:
    provider = StaticHostListProvider(HostInfo("h", 5432))
    assert provider.get_host_role(_Conn(in_hot_standby="on")) is HostRole.READER
    assert provider.get_host_role(_Conn(in_hot_standby="off")) is HostRole.WRITER
    assert provider.get_host_role(_Conn()) is HostRole.WRITER  # a server before PostgreSQL 14
    assert provider.get_host_role(object()) is HostRole.WRITER  # a driver that reports nothing
    assert reported_role(_Conn(in_hot_standby="on")) is HostRole.READER


def test_every_call_gets_a_top_level_span_only_when_telemetry_is_on(
    fake_driver: FakeDriver, use_registry: UseRegistry, backends: None
) -> None:
    from aws_wrapper.core import DbApiMethod
    from aws_wrapper.core._telemetry_calls import CallSpanPlugin

    off = AwsWrapperConnection.connect(fake_connect, host="h", plugins="")
    assert all(
        chain is None for chain in off._rt.chains.values()
    )  # off: today's chains (the bare driver call)
    assert off._rt.plugins == ()
    off.close()

    settings: dict[str, Any] = {
        "enable_telemetry": True,
        "telemetry_traces_backend": "test_a",
        "telemetry_metrics_backend": "test_a",
    }
    on = AwsWrapperConnection.connect(fake_connect, host="h", plugins="", **settings)
    assert isinstance(on._rt.plugins[0], CallSpanPlugin)
    assert on._rt.chains[DbApiMethod.CURSOR_EXECUTE] is not None
    factory = telemetry_for(settings)
    assert isinstance(factory, _Factory)
    cur = on.cursor()
    factory.log.clear()
    cur.execute("SELECT 1")
    assert factory.log[:3] == [
        "enter Cursor.execute",
        "Cursor.execute.python_call='Cursor.execute'",
        "exit Cursor.execute",
    ]
    on.close()

    metrics_only = AwsWrapperConnection.connect(
        fake_connect, host="h", plugins="", enable_telemetry=True, telemetry_metrics_backend="test_a"
    )
    assert metrics_only._rt.plugins == ()  # no spans to record: no call-span step
    assert all(chain is None for chain in metrics_only._rt.chains.values())
    metrics_only.close()
