from __future__ import annotations

import pytest

from aws_wrapper.core._runtime import wrapper_keys
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo
from aws_wrapper.core.selectors import SELECTOR_SETTINGS
from aws_wrapper.dialects import MONITORING_PREFIX, TOPOLOGY_SETTINGS, HostPattern
from aws_wrapper.dialects._settings import TopologyConfig, monitoring_props

DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"


def test_defaults_for_a_cluster_endpoint() -> None:
    config = TopologyConfig.parse({}, HostInfo(f"mydb.cluster-{DOMAIN}", 5432))
    assert config.refresh_s == 30.0
    assert config.high_refresh_s == 0.1
    assert config.pattern == HostPattern(f"?.{DOMAIN}")
    assert not config.pattern_given
    assert config.cluster_id == f"cluster:mydb.{DOMAIN}"
    assert config.region_patterns == {}


def test_explicit_values() -> None:
    config = TopologyConfig.parse(
        {
            "topology_refresh_ms": "1500",
            "cluster_topology_high_refresh_rate_ms": 50,
            "cluster_id": "orders",
            "cluster_instance_host_pattern": "?.corp.example:6432",
            "global_cluster_instance_host_patterns": "us-east-1:?.east.example, EU-west-1:?.west.example:7000",
        },
        HostInfo("10.0.0.1", 5432),
    )
    assert (config.refresh_s, config.high_refresh_s, config.cluster_id) == (1.5, 0.05, "orders")
    assert config.pattern == HostPattern("?.corp.example", 6432)
    assert config.pattern_given
    assert config.region_patterns == {
        "us-east-1": HostPattern("?.east.example"),
        "eu-west-1": HostPattern("?.west.example", 7000),
    }


@pytest.mark.parametrize(
    ("props", "setting"),
    [
        ({"topology_refresh_ms": "soon"}, "topology_refresh_ms"),
        ({"topology_refresh_ms": 0}, "topology_refresh_ms"),
        ({"cluster_topology_high_refresh_rate_ms": 1}, "cluster_topology_high_refresh_rate_ms"),
        ({"cluster_instance_host_pattern": "db.example"}, "cluster_instance_host_pattern"),
        ({"global_cluster_instance_host_patterns": "us-east-1"}, "global_cluster_instance_host_patterns"),
        (
            {"global_cluster_instance_host_patterns": "us-east-1:east.example"},
            "global_cluster_instance_host_patterns",
        ),
    ],
)
def test_malformed_values_name_the_setting(props: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigurationError, match=repr(setting)):
        TopologyConfig.parse(props, HostInfo("10.0.0.1", 5432))


def test_monitoring_props_strip_the_prefix_and_default_timeouts() -> None:
    props = {
        "user": "app",
        "password": "secret",
        "topology-monitoring-user": "monitor",
        "topology-monitoring-socket_timeout": 2,
        "plugins": "failover",
    }
    assert monitoring_props(props) == {
        "user": "monitor",
        "password": "secret",
        "socket_timeout": 2,
        "connect_timeout": 5,
        "plugins": "failover",
    }
    assert monitoring_props({"connect_timeout": 30})["connect_timeout"] == 30


def test_the_runtime_keeps_these_settings_from_the_driver() -> None:
    names, prefixes = wrapper_keys()
    for setting in (*TOPOLOGY_SETTINGS, *SELECTOR_SETTINGS):
        assert setting.name in names
    assert MONITORING_PREFIX in prefixes
