"""Settings: upstream names and defaults (catalogue 2.10), validation naming the setting and the value, and the
plugin metadata the registry reads without importing the plugin."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

from aws_wrapper.auth.iam import (
    MAX_CACHE_AGE,
    SETTINGS,
    IamAuthPluginFactory,
    IamConfig,
)
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.registry import REGISTRY, normalize_code


def test_defaults_match_the_catalogue() -> None:
    config = IamConfig.parse({})
    assert (config.host, config.port, config.region, config.expiration, config.profile) == (
        None,
        None,
        None,
        900,
        None,
    )
    assert config.ttl == MAX_CACHE_AGE == 870  # a token is valid 900 s; never handed out in its last 30 s
    assert {s.name for s in SETTINGS} == {
        "iam_host",
        "iam_default_port",
        "iam_region",
        "iam_expiration",
        "aws_profile",
    }


def test_values_from_a_conninfo_string_are_parsed() -> None:
    config = IamConfig.parse(
        {
            "iam_host": " db.cluster-xyz.us-west-2.rds.amazonaws.com ",
            "iam_default_port": "6543",
            "iam_region": "EU-West-1",
            "iam_expiration": "60",
            "aws_profile": "prod",
        }
    )
    assert config == IamConfig("db.cluster-xyz.us-west-2.rds.amazonaws.com", 6543, "eu-west-1", 60, "prod")
    assert config.ttl == 60.0
    assert IamConfig.parse({"iam_expiration": 0}).ttl == 0.0
    assert IamConfig.parse({"iam_expiration": 3600}).ttl == 870.0
    assert IamConfig.parse({"iam_region": "", "iam_host": ""}) == IamConfig()


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("iam_region", "mars-1", "invalid value 'mars-1' for setting 'iam_region'"),
        ("iam_region", 5, "invalid value 5 for setting 'iam_region'"),
        ("iam_default_port", "0", "invalid value '0' for setting 'iam_default_port': must be at least 1"),
        ("iam_default_port", 70000, "invalid value 70000 for setting 'iam_default_port'"),
        ("iam_expiration", "-1", "invalid value '-1' for setting 'iam_expiration': must be at least 0"),
        ("iam_expiration", "soon", "invalid value 'soon' for setting 'iam_expiration': expected an integer"),
        ("iam_host", "   ", "invalid value '   ' for setting 'iam_host': must not be blank"),
        ("aws_profile", 3, "invalid value 3 for setting 'aws_profile'"),
    ],
)
def test_invalid_values_name_the_setting_and_the_value(key: str, value: object, expected: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        IamConfig.parse({key: value})
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "region", ["us-east-1", "cn-north-1", "us-gov-west-1", "us-isob-east-1", "il-central-1"]
)
def test_every_partitions_region_names_are_accepted(region: str) -> None:
    assert IamConfig.parse({"iam_region": region}).region == region


def test_factory_declares_code_aliases_weight_and_settings() -> None:
    assert IamAuthPluginFactory.code == "iam"
    assert IamAuthPluginFactory.weight == 700
    assert IamAuthPluginFactory.settings == SETTINGS
    assert not IamAuthPluginFactory.default
    for spelling in ("iam", "IAM", "iamAuth", "iam_auth", "IAM-AUTH"):
        assert REGISTRY.get(spelling) is IamAuthPluginFactory


def test_entry_points_agree_with_the_factory() -> None:
    """What core reads without importing the plugin (see tests-integration/core/test_plugin_metadata.py)."""

    def ours(group: str) -> dict[str, str]:
        return {
            ep.name: ep.value
            for ep in entry_points().select(group=group)
            if ep.dist is not None and ep.dist.name == "aws-wrapper-auth-iam"
        }

    target = "aws_wrapper.auth.iam:IamAuthPluginFactory"
    assert ours("aws_wrapper.plugins") == {"iam": target}
    aliases = ours("aws_wrapper.plugin_aliases")
    assert set(aliases.values()) == {target}
    assert {normalize_code(a) for a in IamAuthPluginFactory.aliases} <= {normalize_code(a) for a in aliases}
    assert ours("aws_wrapper.default_plugins") == {}
    settings = ours("aws_wrapper.settings")
    assert set(settings) == {s.name for s in SETTINGS}
    for ep in entry_points().select(group="aws_wrapper.settings"):
        if ep.dist is not None and ep.dist.name == "aws-wrapper-auth-iam":
            assert ep.load().name == ep.name


def test_importing_the_plugin_imports_no_aws_sdk_and_starts_no_thread() -> None:
    code = (
        "import sys, threading\n"
        "before = threading.active_count()\n"
        "import aws_wrapper.auth.iam\n"
        "from aws_wrapper.core.registry import REGISTRY\n"
        "REGISTRY.get('iam')\n"
        "print('boto3' in sys.modules, 'botocore' in sys.modules, threading.active_count() - before)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "0"]


def test_an_installed_iam_plugin_is_not_imported_for_other_plugins() -> None:
    code = (
        "import sys\n"
        "from aws_wrapper.core.registry import REGISTRY\n"
        "REGISTRY.resolve('connect_time', auto_sort=True)\n"
        "print('aws_wrapper.auth.iam' in sys.modules, 'boto3' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
