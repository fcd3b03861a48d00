"""The plugin's logic with a fake context: subscriptions, the hot-path marker, binding to monitors, refusal."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.monitors import MONITORS
from aws_wrapper.core.plugin import ConnectionChange, OldConnectionSuggestion, Plugin
from aws_wrapper.core.registry import REGISTRY
from aws_wrapper.efm import MONITOR_KIND, HostMonitoringPlugin, HostMonitoringPluginFactory

from ._fakes import FakeDriver, FakeHost, FakeRuntime, make_context

INITIAL = frozenset({ConnectionChange.INITIAL_CONNECTION})
CHANGED = frozenset({ConnectionChange.CONNECTION_OBJECT_CHANGED})


def new_plugin(runtime: FakeRuntime, **props: Any) -> HostMonitoringPlugin:
    plugin = HostMonitoringPluginFactory().create(make_context(runtime, **props))
    assert isinstance(plugin, HostMonitoringPlugin)
    return plugin


def connected(runtime: FakeRuntime, plugin: HostMonitoringPlugin, host: FakeHost) -> None:
    runtime.switch(host)
    assert plugin.notify_connection_changed(INITIAL) is OldConnectionSuggestion.NO_OPINION


def proceed(target: object, call: Callable[[], Any]) -> Any:
    return call()


@pytest.fixture
def runtime(driver: FakeDriver, host: FakeHost) -> FakeRuntime:
    return FakeRuntime(driver, {host.info.url: host})


def test_factory_declaration() -> None:
    factory = HostMonitoringPluginFactory
    assert factory.code == "host_monitoring"
    assert set(factory.aliases) == {"host_monitoring_v2", "efm", "efm2"}
    assert factory.weight == 500
    assert factory.default
    assert factory.setting_prefixes == ("monitoring-",)
    assert {s.name for s in factory.settings} == {
        "failure_detection_enabled",
        "failure_detection_time_ms",
        "failure_detection_interval_ms",
        "failure_detection_count",
        "monitor_disposal_time_ms",
    }


@pytest.mark.parametrize("code", ["host_monitoring", "host_monitoring_v2", "efm", "efm2", "hostMonitoring"])
def test_every_documented_spelling_resolves_through_the_entry_point(code: str) -> None:
    assert REGISTRY.get(code) is HostMonitoringPluginFactory


def test_marks_calls_instead_of_subscribing(runtime: FakeRuntime) -> None:
    """Not entered per call: core keeps the in-flight mark (ABI 1.1 ``marks_calls``)."""
    plugin = new_plugin(runtime)
    assert plugin.marks_calls is True
    assert plugin.subscribed_methods == frozenset()
    assert "execute" not in vars(HostMonitoringPlugin)
    disabled = new_plugin(runtime, failure_detection_enabled="false")
    assert disabled.marks_calls is False
    assert Plugin.marks_calls is False  # nothing was changed at class level


def test_no_thread_and_no_monitor_before_a_connection(runtime: FakeRuntime) -> None:
    plugin = new_plugin(runtime)
    assert plugin.monitor is None
    assert MONITORS.count(MONITOR_KIND) == 0


def test_the_monitored_slot_is_the_connections_call_mark(runtime: FakeRuntime, host: FakeHost) -> None:
    plugin = new_plugin(runtime)
    connected(runtime, plugin, host)
    mark = runtime.call_mark
    assert mark is not None
    slot = plugin._slot
    assert slot.since == 0.0
    mark.since = 123.5  # what core writes when a call starts
    assert slot.since == 123.5
    mark.since = 0.0
    assert slot.since == 0.0
    # a new physical connection: a new mark, and the plugin's slot follows it
    runtime.switch(host)
    plugin.notify_connection_changed(CHANGED)
    new_mark = runtime.call_mark
    assert new_mark is not None
    assert new_mark is not mark
    new_mark.since = 7.0
    assert plugin._slot.since == 7.0
    assert mark.since == 0.0


def test_connections_to_one_host_share_one_monitor(runtime: FakeRuntime, host: FakeHost) -> None:
    plugins = [new_plugin(runtime) for _ in range(5)]
    for plugin in plugins:
        connected(runtime, plugin, host)
    monitors = {id(p.monitor) for p in plugins}
    assert len(monitors) == 1
    assert MONITORS.count(MONITOR_KIND) == 1
    monitor = plugins[0].monitor
    assert monitor is not None
    assert monitor.stats().connections == 5
    # different detection settings: a separate monitor
    other = new_plugin(runtime, failure_detection_time_ms=1000)
    connected(runtime, other, host)
    assert other.monitor is not monitor
    assert MONITORS.count(MONITOR_KIND) == 2
    for plugin in plugins:
        plugin.release_resources()
    assert monitor.stats().connections == 0
    assert plugins[0].monitor is None


def test_connection_change_moves_the_slot_to_the_new_host(
    runtime: FakeRuntime, hosts: dict[str, FakeHost], host: FakeHost
) -> None:
    hosts["db-2"] = second = FakeHost("db-2")
    runtime.fake_hosts[second.info.url] = second
    plugin = new_plugin(runtime)
    connected(runtime, plugin, host)
    first_monitor = plugin.monitor
    assert first_monitor is not None
    assert first_monitor.host == host.info
    runtime.switch(second)  # e.g. after a failover
    plugin.notify_connection_changed(CHANGED)
    assert plugin.monitor is not None
    assert plugin.monitor.host == second.info
    assert first_monitor.stats().connections == 0
    assert plugin.monitor.stats().connections == 1
    assert plugin._slot.connection() is runtime.current_connection


def test_cluster_endpoint_is_resolved_to_its_instance(driver: FakeDriver, hosts: dict[str, FakeHost]) -> None:
    hosts["cluster"] = endpoint = FakeHost("mydb.cluster-xyz.us-east-1.rds.amazonaws.com")
    hosts["instance"] = instance = FakeHost("instance-1")
    runtime = FakeRuntime(
        driver, {h.info.url: h for h in hosts.values()}, static=False, identified=instance.info
    )
    plugin = new_plugin(runtime)
    connected(runtime, plugin, endpoint)
    assert plugin.monitor is not None
    assert plugin.monitor.host == instance.info


def test_monitoring_connection_uses_the_prefixed_properties(runtime: FakeRuntime, host: FakeHost) -> None:
    plugin = new_plugin(runtime, user="app", password="pw", **{"monitoring-user": "monitor"})
    connected(runtime, plugin, host)
    assert plugin.monitor is not None
    deadline = time.monotonic() + 2.0
    while not runtime.force_connects and time.monotonic() < deadline:
        time.sleep(0.01)
    target, props = runtime.force_connects[0]
    assert target == host.info
    assert props["user"] == "monitor"
    assert props["password"] == "pw"
    assert "monitoring-user" not in props
    assert props["application_name"] == "aws-wrapper-efm"


def test_driver_that_cannot_abort_is_refused_when_requested(driver: FakeDriver, host: FakeHost) -> None:
    driver.abortable = False
    runtime = FakeRuntime(driver, {host.info.url: host})
    plugin = new_plugin(runtime, plugins="efm")
    conn = host.open()
    with pytest.raises(ConfigurationError, match=r"use_pure=True.*failure_detection_enabled=False"):
        plugin.connect(host.info, {}, True, lambda h, p, i: conn)
    assert conn.closed is True


def test_driver_that_cannot_abort_turns_default_monitoring_off(
    driver: FakeDriver, host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    driver.abortable = False
    driver.code = "fake-no-abort"  # the warning is logged once per driver
    runtime = FakeRuntime(driver, {host.info.url: host})
    plugin = new_plugin(runtime)  # plugins not set: EFM is only there as a default plugin
    conn = host.open()
    with caplog.at_level("WARNING", logger="aws_wrapper.efm"):
        assert plugin.connect(host.info, {}, True, lambda h, p, i: conn) is conn
    assert "use_pure=True" in caplog.text
    runtime.current_connection, runtime.current_host = conn, host.info
    plugin.notify_connection_changed(INITIAL)
    assert plugin.monitor is None


def test_disabled_plugin_watches_nothing(runtime: FakeRuntime, host: FakeHost) -> None:
    plugin = new_plugin(runtime, failure_detection_enabled=False)
    connected(runtime, plugin, host)
    assert plugin.monitor is None


def test_release_then_host_info_unchanged(runtime: FakeRuntime, host: FakeHost) -> None:
    plugin = new_plugin(runtime)
    connected(runtime, plugin, host)
    monitor = plugin.monitor
    assert monitor is not None
    plugin.release_resources()
    plugin.release_resources()  # idempotent
    assert monitor.stats().connections == 0
    assert isinstance(monitor.host, HostInfo)
    assert monitor.host.url == host.info.url
