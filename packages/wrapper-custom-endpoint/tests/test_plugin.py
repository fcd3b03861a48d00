from __future__ import annotations

import threading
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from aws_wrapper.core.errors import AwsWrapperError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.custom_endpoint import (
    MONITOR_KIND,
    CustomEndpointPlugin,
    CustomEndpointPluginFactory,
    set_client_factory,
)

from ._fakes import FakeRdsClient, FakeSelection, fake_context

CUSTOM = "two.cluster-custom-xyz123abc456.us-east-1.rds.amazonaws.com"


class Db:
    def __init__(self) -> None:
        self.connects: list[str] = []

    def proceed(self, host: HostInfo, props: Mapping[str, Any], initial: bool, /) -> object:
        self.connects.append(host.host)
        return object()


@pytest.fixture
def client() -> FakeRdsClient:
    fake = FakeRdsClient()
    fake.set("two", static=["instance-1", "instance-2"])
    made: list[tuple[str, str]] = []

    def factory(*, region: str) -> FakeRdsClient:
        made.append((region, threading.current_thread().name))
        return fake

    set_client_factory(factory)
    fake.made = made  # type: ignore[attr-defined]
    return fake


def _plugin(monitors: MonitorService, **props: Any) -> CustomEndpointPlugin:
    plugin = CustomEndpointPluginFactory().create(
        fake_context({"custom_endpoint_info_refresh_rate_ms": 60_000, **props}, monitors)
    )
    assert isinstance(plugin, CustomEndpointPlugin)
    return plugin


def test_factory_metadata() -> None:
    factory = CustomEndpointPluginFactory
    assert factory.code == "custom_endpoint"
    assert "customEndpoint" in factory.aliases
    assert factory.weight == 40


def test_other_hosts_pass_through_without_aws(client: FakeRdsClient) -> None:
    monitors = MonitorService()
    plugin = _plugin(monitors)
    db = Db()
    for name in ("mydb.cluster-xyz123abc456.us-east-1.rds.amazonaws.com", "127.0.0.1", "localhost"):
        plugin.connect(HostInfo(name, 5432), {}, True, db.proceed)
    assert client.requests == 0
    assert monitors.count() == 0
    assert plugin.allows(HostInfo("anything"))


def test_connect_waits_for_members_and_filters_hosts(client: FakeRdsClient) -> None:
    monitors = MonitorService()
    plugin = _plugin(monitors)
    db = Db()
    plugin.connect(HostInfo(CUSTOM, 5432), {}, True, db.proceed)
    assert db.connects == [CUSTOM]
    made = client.made  # type: ignore[attr-defined]
    assert made == [("us-east-1", threading.current_thread().name)]  # the client: on the connecting thread
    assert all(
        t.startswith("aws-wrapper-custom-endpoint") for t in client.threads
    )  # requests: on the monitor's
    hosts = [HostInfo(f"instance-{i}.xyz123abc456.us-east-1.rds.amazonaws.com", 5432) for i in range(1, 5)]
    selection = plugin._context.selection
    assert isinstance(selection, FakeSelection)
    assert [h.host.split(".")[0] for h in selection.allowed(hosts)] == ["instance-1", "instance-2"]
    monitors.stop_all()


def test_one_monitor_per_endpoint_and_no_request_per_connect(client: FakeRdsClient) -> None:
    monitors = MonitorService()
    db = Db()
    plugins = [_plugin(monitors) for _ in range(20)]
    for plugin in plugins:
        plugin.connect(HostInfo(CUSTOM, 5432), {}, True, db.proceed)
    assert monitors.count(MONITOR_KIND) == 1
    assert len({id(p.monitor) for p in plugins}) == 1
    assert client.requests == 1
    other = _plugin(monitors, custom_endpoint_region="eu-west-1")
    other.connect(HostInfo(CUSTOM, 5432), {}, True, db.proceed)
    assert monitors.count(MONITOR_KIND) == 2  # the region setting overrides the host name's
    assert other.monitor is not None
    assert other.monitor.region == "eu-west-1"
    monitors.stop_all()


def test_connects_that_wait_for_the_members_are_counted(client: FakeRdsClient) -> None:
    counts: dict[str, int] = {}

    class Counter:
        def __init__(self, name: str) -> None:
            self.name = name

        def inc(self, value: int = 1, attributes: object = None) -> None:
            counts[self.name] = counts.get(self.name, 0) + value

    client.error = RuntimeError("AccessDenied")  # no members ever: every connect waits
    monitors = MonitorService()
    db = Db()
    props = {"custom_endpoint_info_refresh_rate_ms": 60_000, "wait_for_custom_endpoint_info_timeout_ms": 50}
    context = fake_context(props, monitors)
    context.telemetry = SimpleNamespace(counter=Counter)  # type: ignore[misc]
    for _ in range(2):
        plugin = CustomEndpointPluginFactory().create(context)
        with pytest.raises(Exception, match="AccessDenied"):
            plugin.connect(HostInfo(CUSTOM, 5432), {}, True, db.proceed)
    assert counts == {"customEndpoint.waitForInfo.counter": 2}
    assert db.connects == []
    monitors.stop_all()


def test_timeout_is_a_clear_error(client: FakeRdsClient) -> None:
    client.error = RuntimeError("AccessDenied")
    monitors = MonitorService()
    plugin = _plugin(monitors, wait_for_custom_endpoint_info_timeout_ms=100)
    db = Db()
    with pytest.raises(AwsWrapperError, match=r"custom endpoint .two..*AccessDenied"):
        plugin.connect(HostInfo(CUSTOM, 5432), {}, True, db.proceed)
    assert db.connects == []
    no_wait = _plugin(monitors, wait_for_custom_endpoint_info=False)
    no_wait.connect(HostInfo(CUSTOM, 5432), {}, True, db.proceed)
    assert db.connects == [CUSTOM]
    assert no_wait.allows(HostInfo("instance-9"))  # nothing known: nothing filtered
    monitors.stop_all()


def test_release_resources_drops_the_filter(client: FakeRdsClient) -> None:
    monitors = MonitorService()
    plugin = _plugin(monitors)
    plugin.connect(HostInfo(CUSTOM, 5432), {}, True, Db().proceed)
    selection = plugin._context.selection
    assert isinstance(selection, FakeSelection)
    assert selection.filters == [plugin]
    monitor = plugin.monitor
    plugin.release_resources()
    assert selection.filters == []
    assert plugin.monitor is None
    monitors.stop_all()
    assert monitor is not None
    assert not monitor.alive


def test_entry_points_match_the_factory() -> None:
    from importlib.metadata import entry_points

    from aws_wrapper.custom_endpoint import SETTINGS

    settings = {
        ep.name for ep in entry_points(group="aws_wrapper.settings") if ".custom_endpoint" in ep.value
    }
    assert settings == {s.name for s in SETTINGS}
    plugins = {ep.name: ep.value for ep in entry_points(group="aws_wrapper.plugins")}
    assert plugins["custom_endpoint"] == "aws_wrapper.custom_endpoint:CustomEndpointPluginFactory"


def test_import_starts_nothing_and_does_not_import_boto3() -> None:
    import subprocess
    import sys

    code = (
        "import sys, threading; import aws_wrapper.custom_endpoint; "
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules; "
        "assert threading.active_count() == 1"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
