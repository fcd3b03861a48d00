"""Malformed configuration fails at connect time with an error naming the offending value, before any server
is contacted."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

import mysql.connector
import psycopg
import pytest

from aws_advanced_python_wrapper import AwsWrapperConnection, Error, InterfaceError
from aws_wrapper.core import ConfigurationError, PluginError

pytestmark = pytest.mark.integration

TARGETS: dict[str, Callable[..., Any]] = {
    "psycopg": psycopg.Connection.connect,
    "mysql": mysql.connector.connect,
}


@pytest.mark.parametrize("driver", TARGETS)
@pytest.mark.parametrize(
    ("conninfo", "kwargs", "error", "message"),
    [
        ("host=127.0.0.1 user", {}, ConfigurationError, "missing '=' after key 'user'"),
        ("host='127.0.0.1", {}, ConfigurationError, "unterminated quoted value for key 'host'"),
        ("postgresql://a,b/db", {}, ConfigurationError, "multiple hosts are not supported in a connection url: 'a,b'"),
        ("host=127.0.0.1", {"plugins": "no_such_plugin"}, PluginError, "unknown plugin code 'no_such_plugin'"),
        ("host=127.0.0.1", {"plugins": "dev,developer"}, PluginError, "plugin 'developer' is listed twice"),
        ("host=127.0.0.1 socket_timeout=soon", {}, ConfigurationError,
         "invalid value 'soon' for setting 'socket_timeout': expected a number"),
        ("host=127.0.0.1", {"connect_timeout": -3}, ConfigurationError,
         "invalid value -3 for setting 'connect_timeout': must be at least 0.001"),
        ("host=127.0.0.1", {"auto_sort_wrapper_plugin_order": "sometimes"}, ConfigurationError,
         "invalid value 'sometimes' for setting 'auto_sort_wrapper_plugin_order'"),
        ("host=127.0.0.1 port=http", {}, ConfigurationError, "invalid value 'http' for setting 'port'"),
        ("host=127.0.0.1 port=70000", {}, ConfigurationError, "invalid value '70000' for setting 'port'"),
        ("host=127.0.0.1", {"wrapper_driver_dialect": "odbc"}, ConfigurationError,
         "invalid value 'odbc' for setting 'wrapper_driver_dialect'"),
    ],
)  # fmt: skip
def test_configuration_errors_name_the_value(
    driver: str, conninfo: str, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        AwsWrapperConnection.connect(TARGETS[driver], conninfo, **{"plugins": "", **kwargs})
    assert message in str(info.value)
    assert isinstance(info.value, InterfaceError)
    assert isinstance(info.value, Error)


def _not_installed_first_party() -> tuple[str, str] | None:
    for code, dist in [("limitless", "aws-wrapper-limitless"), ("okta", "aws-wrapper-auth-okta"),
                       ("iam", "aws-wrapper-auth-iam"), ("bg", "aws-wrapper-bg"), ("efm", "aws-wrapper-efm"),
                       ("failover", "aws-wrapper-failover")]:  # fmt: skip
        try:
            importlib.metadata.distribution(dist)
        except importlib.metadata.PackageNotFoundError:
            return code, dist
    return None


@pytest.mark.parametrize("driver", TARGETS)
def test_a_first_party_plugin_that_is_not_installed_names_its_distribution(driver: str) -> None:
    missing = _not_installed_first_party()
    if missing is None:
        pytest.skip("every first-party distribution is installed")
    code, dist = missing
    with pytest.raises(PluginError) as info:
        AwsWrapperConnection.connect(TARGETS[driver], "host=127.0.0.1", plugins=f"dev,{code}")
    assert (
        str(info.value)
        == f"plugin {code!r} is provided by {dist}, which is not installed: pip install {dist}"
    )


def test_target_must_be_a_driver_connect_function() -> None:
    with pytest.raises(ConfigurationError, match="a target driver connect function is required"):
        AwsWrapperConnection.connect(None, "host=127.0.0.1")
    with pytest.raises(
        ConfigurationError, match="target must be the driver's connect function, got 'psycopg'"
    ):
        AwsWrapperConnection.connect("psycopg", "host=127.0.0.1")  # type: ignore[arg-type]

    def not_a_driver(**kwargs: Any) -> None:
        raise AssertionError("must not be called")

    with pytest.raises(ConfigurationError, match=r"unsupported target driver .*not_a_driver"):
        AwsWrapperConnection.connect(not_a_driver, "host=127.0.0.1", plugins="")


def test_a_password_never_appears_in_errors(pg_dsn: str) -> None:
    secret = "s3cr3t-Passw0rd"
    with pytest.raises(psycopg.OperationalError) as info:
        AwsWrapperConnection.connect(
            psycopg.Connection.connect, "host=127.0.0.1 port=1 dbname=postgres user=postgres", password=secret,
            plugins="", connect_timeout=2,
        )  # fmt: skip
    assert secret not in str(info.value)
    with pytest.raises(ConfigurationError) as config_info:
        AwsWrapperConnection.connect(
            psycopg.Connection.connect, f"host=127.0.0.1 password={secret} socket_timeout=x"
        )
    assert secret not in str(config_info.value)


def test_an_unreachable_server_raises_the_driver_error(mysql_server: dict[str, Any]) -> None:
    with pytest.raises(mysql.connector.errors.DatabaseError):
        AwsWrapperConnection.connect(
            mysql.connector.connect, "host=127.0.0.1 port=1 user=root", plugins="", connect_timeout=2
        )
