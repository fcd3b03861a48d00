"""Settings: defaults, validation (errors name the setting and the value) and the monitoring properties."""

from __future__ import annotations

import pytest

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.efm import EfmConfig
from aws_wrapper.efm._settings import monitoring_props


def test_defaults_match_the_catalogue() -> None:
    cfg = EfmConfig.parse({})
    assert (cfg.enabled, cfg.time_ms, cfg.interval_ms, cfg.count, cfg.disposal_ms) == (
        True,
        30_000,
        5_000,
        3,
        600_000,
    )
    assert (cfg.grace, cfg.interval, cfg.window, cfg.probe_period, cfg.disposal) == (
        30.0,
        5.0,
        15.0,
        5.0,
        600.0,
    )


def test_string_values_are_parsed() -> None:
    cfg = EfmConfig.parse(
        {
            "failure_detection_enabled": "off",
            "failure_detection_time_ms": "6000",
            "failure_detection_interval_ms": "1000",
            "failure_detection_count": "1",
            "monitor_disposal_time_ms": "0",
        }
    )
    assert not cfg.enabled
    assert cfg.key == (6000, 1000, 1)
    assert cfg.disposal == 0.0
    assert cfg.window == 1.0
    assert cfg.probe_period == 0.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("failure_detection_time_ms", -1, "at least 0"),
        ("failure_detection_interval_ms", 50, "at least 100"),
        ("failure_detection_interval_ms", "fast", "expected an integer"),
        ("failure_detection_count", 0, "at least 1"),
        ("failure_detection_count", 2.5, "expected an integer"),
        ("monitor_disposal_time_ms", -5, "at least 0"),
        ("failure_detection_enabled", "maybe", "expected a boolean"),
    ],
)
def test_invalid_values_name_the_setting(name: str, value: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        EfmConfig.parse({name: value})
    text = str(info.value)
    assert repr(name) in text
    assert repr(value) in text
    assert message in text


def test_monitoring_props_strip_the_prefix_and_default_short_timeouts() -> None:
    cfg = EfmConfig.parse({"failure_detection_interval_ms": 2000})
    props = {
        "host": "db",
        "user": "app",
        "connect_timeout": 30,
        "socket_timeout": 10,
        "application_name": "shop",
        "monitoring-user": "watcher",
    }
    result = monitoring_props(props, cfg, "pg")
    assert result == {
        "host": "db",
        "user": "watcher",
        "connect_timeout": 2.0,
        "application_name": "aws-wrapper-efm",
    }
    mysql = monitoring_props({"user": "app", "monitoring-connect_timeout": 7}, cfg, "mysql")
    assert mysql == {"user": "app", "connect_timeout": 7}
    named = monitoring_props({"monitoring-application_name": "mine"}, cfg, "pg")
    assert named["application_name"] == "mine"
