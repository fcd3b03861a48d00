from __future__ import annotations

import pytest

from aws_wrapper.auth.secrets import DEFAULT_EXPIRATION, SETTINGS, SecretsManagerConfig, region_from_arn
from aws_wrapper.core.errors import ConfigurationError

ARN = "arn:aws:secretsmanager:us-west-2:123456789012:secret:prod/db-AbCdEf"


def test_defaults_with_an_arn_take_the_region_from_the_arn() -> None:
    config = SecretsManagerConfig.parse({"secrets_manager_secret_id": ARN})
    assert config.secret_id == ARN
    assert config.region == "us-west-2"
    assert config.region_source == "the secret ARN"
    assert config.endpoint is None
    assert config.username_key == "username"
    assert config.password_key == "password"
    assert config.expiration == DEFAULT_EXPIRATION == 31_536_000
    assert config.profile is None
    assert config.cache_key == (ARN, "us-west-2", None, None)


def test_the_region_setting_wins_over_the_arn() -> None:
    config = SecretsManagerConfig.parse(
        {"secrets_manager_secret_id": ARN, "secrets_manager_region": "eu-west-1"}
    )
    assert (config.region, config.region_source) == ("eu-west-1", "secrets_manager_region")


def test_a_secret_name_with_a_region() -> None:
    config = SecretsManagerConfig.parse(
        {"secrets_manager_secret_id": " app/db ", "secrets_manager_region": " ap-south-1 "}
    )
    assert (config.secret_id, config.region) == ("app/db", "ap-south-1")


@pytest.mark.parametrize("region", [None, "", "   "])
def test_a_secret_name_without_a_region_is_refused_never_defaulted(region: str | None) -> None:
    props = {"secrets_manager_secret_id": "app/db"}
    if region is not None:
        props["secrets_manager_region"] = region
    with pytest.raises(ConfigurationError) as info:
        SecretsManagerConfig.parse(props)
    message = str(info.value)
    assert "'secrets_manager_region'" in message
    assert "'app/db'" in message
    assert "us-east-1" not in message


@pytest.mark.parametrize(
    "props", [{}, {"secrets_manager_secret_id": ""}, {"secrets_manager_secret_id": "  "}]
)
def test_the_secret_id_is_required(props: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="'secrets_manager_secret_id'"):
        SecretsManagerConfig.parse(props)


@pytest.mark.parametrize(
    ("arn", "region"),
    [
        (ARN, "us-west-2"),
        ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:db-1a2b3c", "cn-north-1"),
        ("arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:a:b:c", "us-gov-west-1"),
        ("arn:aws:secretsmanager::123456789012:secret:no-region", None),
        ("plain-name", None),
        ("path/like/name", None),
    ],
)
def test_region_from_arn(arn: str, region: str | None) -> None:
    assert region_from_arn(arn) == region


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:rds:us-east-1:123456789012:db:mydb",
        "arn:aws:secretsmanager:us-east-1:123456789012",
        "arn:aws:secretsmanager:us-east-1:123456789012:rotation:x",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:",
    ],
)
def test_other_arns_are_refused_naming_the_setting_and_the_id(arn: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        SecretsManagerConfig.parse({"secrets_manager_secret_id": arn})
    assert "'secrets_manager_secret_id'" in str(info.value)
    assert repr(arn) in str(info.value)


def test_an_arn_without_a_region_needs_the_setting() -> None:
    arn = "arn:aws:secretsmanager::123456789012:secret:db-1"
    with pytest.raises(ConfigurationError, match="secrets_manager_region"):
        SecretsManagerConfig.parse({"secrets_manager_secret_id": arn})
    assert SecretsManagerConfig.parse(
        {"secrets_manager_secret_id": arn, "secrets_manager_region": "us-east-2"}
    )


def test_values_from_a_conninfo_string_are_strings() -> None:
    config = SecretsManagerConfig.parse(
        {
            "secrets_manager_secret_id": ARN,
            "secrets_manager_expiration": "60",
            "secrets_manager_endpoint": "http://127.0.0.1:4566",
            "secrets_manager_secret_username_key": "user",
            "secrets_manager_secret_password_key": "pass",
            "aws_profile": " dev ",
        }
    )
    assert config.expiration == 60
    assert config.endpoint == "http://127.0.0.1:4566"
    assert (config.username_key, config.password_key) == ("user", "pass")
    assert config.profile == "dev"
    assert config.cache_key == (ARN, "us-west-2", "http://127.0.0.1:4566", "dev")


@pytest.mark.parametrize(
    ("value", "expected"), [(0, 0), (-1, DEFAULT_EXPIRATION), ("-5", DEFAULT_EXPIRATION)]
)
def test_expiration_zero_and_negative(value: object, expected: int) -> None:
    props = {"secrets_manager_secret_id": ARN, "secrets_manager_expiration": value}
    assert SecretsManagerConfig.parse(props).expiration == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("secrets_manager_expiration", "soon"),
        ("secrets_manager_expiration", 1.5),
        ("secrets_manager_endpoint", "127.0.0.1:4566"),
        ("secrets_manager_endpoint", "ftp://example.com"),
        ("secrets_manager_secret_username_key", ""),
        ("secrets_manager_secret_password_key", 5),
    ],
)
def test_malformed_values_name_the_setting(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"setting '{name}'"):
        SecretsManagerConfig.parse({"secrets_manager_secret_id": ARN, name: value})


def test_settings_carry_upstreams_names_and_defaults() -> None:
    defaults = {s.name: s.default for s in SETTINGS}
    assert defaults == {
        "secrets_manager_secret_id": None,
        "secrets_manager_region": None,
        "secrets_manager_endpoint": None,
        "secrets_manager_secret_username_key": "username",
        "secrets_manager_secret_password_key": "password",
        "secrets_manager_expiration": 31_536_000,
        "aws_profile": None,
    }
    assert all(s.description for s in SETTINGS)
