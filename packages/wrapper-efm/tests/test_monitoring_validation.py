"""Issue 9, item 6b: the ``monitoring-`` properties the wrapper interprets are validated when the plugin is created
(before any server is contacted), and the error names the full key and the value."""

from __future__ import annotations

import pytest

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.efm import EfmConfig, HostMonitoringPluginFactory
from aws_wrapper.efm._settings import monitoring_props, validate_monitoring_settings

from ._fakes import FakeDriver, FakeHost, FakeRuntime, make_context

MALFORMED = [
    ("monitoring-connect_timeout", -1, "must be at least"),
    ("monitoring-connect_timeout", "soon", "expected a number"),
    ("monitoring-socket_timeout", 0, "must be at least"),
    ("monitoring-socket_timeout", "x", "expected a number"),
    ("monitoring-tcp_keepalive", "maybe", "expected a boolean"),
    ("monitoring-tcp_keepalive_time", 0, "must be at least 1"),
    ("monitoring-tcp_keepalive_interval", "often", "expected a number"),
    ("monitoring-tcp_keepalive_probes", -3, "must be at least 1"),
    ("monitoring-auxiliary_query_timeout_sec", 0, "must be at least"),
]


@pytest.mark.parametrize(("key", "value", "expected"), MALFORMED)
def test_malformed_monitoring_values_name_the_full_key(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_monitoring_settings({key: value})
    message = str(caught.value)
    assert f"invalid value {value!r} for setting {key!r}" in message
    assert expected in message


@pytest.mark.parametrize(("key", "value", "expected"), MALFORMED)
def test_the_plugin_is_not_created_with_a_malformed_monitoring_value(
    key: str, value: object, expected: str, driver: FakeDriver, host: FakeHost
) -> None:
    runtime = FakeRuntime(driver, {host.info.url: host})
    with pytest.raises(ConfigurationError, match=repr(key)):
        HostMonitoringPluginFactory().create(make_context(runtime, **{key: value}))
    assert runtime.force_connects == []  # nothing was opened
    assert host.opened == 0


def test_valid_monitoring_values_and_driver_parameters_pass() -> None:
    props = {
        "monitoring-connect_timeout": "2",
        "monitoring-socket_timeout": 1.5,
        "monitoring-tcp_keepalive": "on",
        "monitoring-tcp_keepalive_time": 10,
        "monitoring-user": "monitor",  # driver parameters: not the wrapper's to judge
        "monitoring-application_name": "watcher",
        "monitoring-sslmode": "require",
        "monitoring-connect_timeout_is_not_a_setting": "whatever",
    }
    cfg = EfmConfig.parse(props)
    assert monitoring_props(props, cfg, "pg")["connect_timeout"] == "2"
