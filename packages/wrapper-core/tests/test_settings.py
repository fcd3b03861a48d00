from __future__ import annotations

from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection
from aws_wrapper.core._config import CORE_SETTINGS, CoreConfig
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.core.settings import boolean, choice, integer, number, optional, parse_bool, text


@pytest.mark.parametrize("raw", [True, 1, "true", "TRUE", " yes ", "on", "1", "y", "t"])
def test_parse_bool_true(raw: object) -> None:
    assert parse_bool(raw) is True


@pytest.mark.parametrize("raw", [False, 0, "false", "False", "no", "off", "0", "n", "f"])
def test_parse_bool_false(raw: object) -> None:
    assert parse_bool(raw) is False


@pytest.mark.parametrize("raw", ["maybe", "", 2, -1, 1.0, None, [], "truee"])
def test_parse_bool_rejects(raw: object) -> None:
    with pytest.raises(ValueError, match="expected a boolean"):
        parse_bool(raw)


def test_boolean_setting_error_names_setting_and_value() -> None:
    setting = boolean("rollback_on_switch", True, "doc")
    assert setting.get({}) is True
    assert setting.get({"rollback_on_switch": "off"}) is False
    with pytest.raises(ConfigurationError) as info:
        setting.get({"rollback_on_switch": "sometimes"})
    assert str(info.value) == (
        "invalid value 'sometimes' for setting 'rollback_on_switch': "
        "expected a boolean (true/false, 1/0, yes/no, on/off)"
    )


def test_integer_setting() -> None:
    setting = integer("retries", 3, "doc", min=0, max=10)
    assert setting.get({}) == 3
    assert setting.get({"retries": "7"}) == 7
    assert setting.get({"retries": " 4 "}) == 4
    assert setting.get({"retries": 5.0}) == 5
    assert setting.get({"retries": 0}) == 0
    for raw, why in [
        ("x", "expected an integer"),
        ("1.5", "expected an integer"),
        (2.5, "expected an integer"),
        (True, "expected an integer, got a boolean"),
        (-1, "must be at least 0"),
        ("11", "must be at most 10"),
        ([1], "expected an integer"),
    ]:
        with pytest.raises(ConfigurationError) as info:
            setting.get({"retries": raw})
        assert str(info.value) == f"invalid value {raw!r} for setting 'retries': {why}"


def test_number_setting() -> None:
    setting = number("timeout", 5.0, "doc", min=0.001)
    assert setting.get({"timeout": "0.25"}) == 0.25
    assert setting.get({"timeout": 2}) == 2.0
    for raw in ["nan", "inf", "-inf", "abc", float("nan"), None.__class__]:
        with pytest.raises(ConfigurationError, match="setting 'timeout': expected a number"):
            setting.get({"timeout": raw})
    with pytest.raises(
        ConfigurationError, match=r"invalid value '0' for setting 'timeout': must be at least 0.001"
    ):
        setting.get({"timeout": "0"})


def test_text_setting_and_secret_masking() -> None:
    plain = text("user", "", "doc")
    assert plain.get({"user": "alice"}) == "alice"
    with pytest.raises(ConfigurationError, match="invalid value 12 for setting 'user': expected a string"):
        plain.get({"user": 12})
    secret = text("password", "", "doc", secret=True)
    with pytest.raises(ConfigurationError) as info:
        secret.get({"password": ["hunter2"]})
    assert "hunter2" not in str(info.value)
    assert str(info.value) == "invalid value '***' for setting 'password': expected a string"


def test_choice_setting_matches_spellings_and_returns_canonical() -> None:
    setting = choice(
        "failover_mode", "strict_writer", ["strict_writer", "reader_or_writer", "strict_reader"], "doc"
    )
    assert setting.get({}) == "strict_writer"
    assert setting.get({"failover_mode": "Reader-Or-Writer"}) == "reader_or_writer"
    assert setting.get({"failover_mode": " STRICT_READER "}) == "strict_reader"
    with pytest.raises(ConfigurationError) as info:
        setting.get({"failover_mode": "any"})
    assert str(info.value) == (
        "invalid value 'any' for setting 'failover_mode': "
        "expected one of reader_or_writer, strict_reader, strict_writer"
    )


def test_optional_setting_defaults_to_none_and_treats_empty_as_unset() -> None:
    setting = optional(number("connect_timeout", 0.0, "doc", min=0.001))
    assert setting.default is None
    assert setting.get({}) is None
    assert setting.get({"connect_timeout": None}) is None
    assert setting.get({"connect_timeout": ""}) is None
    assert setting.get({"connect_timeout": "2.5"}) == 2.5
    assert setting.is_set({"connect_timeout": "1"})
    assert not setting.is_set({})
    with pytest.raises(ConfigurationError, match="invalid value 'soon' for setting 'connect_timeout'"):
        setting.get({"connect_timeout": "soon"})


def test_core_config_defaults() -> None:
    config = CoreConfig.parse({})
    assert config == CoreConfig(
        plugins=None,
        auto_sort=True,
        wrapper_dialect=None,
        wrapper_driver_dialect=None,
        aux_query_timeout=5.0,
        transfer_session_state=True,
        reset_session_state=True,
        rollback_on_switch=True,
        connect_timeout=None,
        socket_timeout=None,
        tcp_keepalive=None,
        tcp_keepalive_time=None,
        tcp_keepalive_interval=None,
        tcp_keepalive_probes=None,
        database=None,
    )


def test_core_config_parses_strings_from_conninfo() -> None:
    config = CoreConfig.parse(
        {
            "plugins": "",
            "auto_sort_wrapper_plugin_order": "false",
            "socket_timeout": "2.5",
            "tcp_keepalive": "True",
            "tcp_keepalive_probes": "3",
            "transfer_session_state_on_switch": "0",
        }
    )
    assert config.plugins == ""
    assert config.auto_sort is False
    assert config.socket_timeout == 2.5
    assert config.tcp_keepalive is True
    assert config.tcp_keepalive_probes == 3
    assert config.transfer_session_state is False


def test_every_core_setting_is_documented_and_named_uniquely() -> None:
    names = [s.name for s in CORE_SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.description and s.type_name for s in CORE_SETTINGS)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("socket_timeout", "-1"),
        ("connect_timeout", "soon"),
        ("auxiliary_query_timeout_sec", "0"),
        ("tcp_keepalive", "perhaps"),
        ("rollback_on_switch", "2"),
        ("tcp_keepalive_time", "0"),
    ],
)
def test_connect_rejects_a_bad_setting_before_calling_the_driver(key: str, value: str) -> None:
    called: list[dict[str, Any]] = []

    def target(**kwargs: Any) -> None:
        called.append(kwargs)

    with pytest.raises(ConfigurationError) as info:
        AwsWrapperConnection.connect(target, f"host=127.0.0.1 {key}={value}", plugins="")
    assert f"invalid value {value!r} for setting {key!r}" in str(info.value)
    assert called == []
