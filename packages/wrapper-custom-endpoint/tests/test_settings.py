from __future__ import annotations

import pytest

from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.custom_endpoint import SETTINGS, CustomEndpointConfig


def test_upstream_names_and_defaults() -> None:
    defaults = {s.name: s.default for s in SETTINGS}
    assert defaults == {
        "custom_endpoint_info_refresh_rate_ms": 30_000,
        "custom_endpoint_idle_monitor_expiration_ms": 900_000,
        "wait_for_custom_endpoint_info": True,
        "wait_for_custom_endpoint_info_timeout_ms": 5_000,
        "custom_endpoint_region": None,
    }
    config = CustomEndpointConfig.parse({})
    assert (config.refresh_rate, config.idle_expiration, config.wait_for_info, config.wait_timeout) == (
        30.0,
        900.0,
        True,
        5.0,
    )
    assert config.region is None


def test_values_from_strings() -> None:
    config = CustomEndpointConfig.parse(
        {
            "custom_endpoint_info_refresh_rate_ms": "250",
            "wait_for_custom_endpoint_info": "false",
            "wait_for_custom_endpoint_info_timeout_ms": "100",
            "custom_endpoint_region": " eu-west-1 ",
        }
    )
    assert config.refresh_rate == 0.25
    assert config.wait_for_info is False
    assert config.wait_timeout == 0.1
    assert config.region == "eu-west-1"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("custom_endpoint_info_refresh_rate_ms", "0"),
        ("custom_endpoint_info_refresh_rate_ms", "soon"),
        ("wait_for_custom_endpoint_info", "maybe"),
        ("wait_for_custom_endpoint_info_timeout_ms", "-1"),
        ("custom_endpoint_region", "  "),
    ],
)
def test_invalid_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CustomEndpointConfig.parse({name: value})
    assert name in str(info.value)
