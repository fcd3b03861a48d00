"""Issue 9 (reliability), core part: secrets masked in reprs, driver-dialect / plugin-list validation before any
connect, misspelt settings as ``UnknownSettingError`` with a suggestion, and the default connect bound."""

from __future__ import annotations

from typing import Any

import mysql.connector
import psycopg
import pytest

import aws_advanced_python_wrapper.errors as compat_errors
from aws_wrapper import core
from aws_wrapper.core import (
    AwsWrapperConnection,
    ConfigurationError,
    Error,
    HostInfo,
    InterfaceError,
    ProgrammingError,
    UnknownSettingError,
    _config,
    _runtime,
)
from aws_wrapper.core._config import DEFAULT_CONNECT_TIMEOUT, CoreConfig
from aws_wrapper.core._secrets import MASK, is_secret_key, masked_props
from aws_wrapper.core._suggest import suggest, unknown_setting_error
from aws_wrapper.core.driver import driver_dialect_for
from aws_wrapper.core.driver._mysql import MySqlConnectorDialect
from aws_wrapper.core.driver._psycopg import PsycopgDialect
from aws_wrapper.core.services import HostListContext
from aws_wrapper.core.settings import number

from ._fakes import ContextPlugin, ContextPluginFactory, FakeDriver, UseRegistry, fake_connect

SECRETS = {
    "password": "pw-1-value",
    "passwd": "pw-2-value",
    "aws_secret_access_key": "pw-3-value",
    "aws_session_token": "pw-4-value",
    "iam_token": "pw-5-value",
    "idp_password": "pw-6-value",
    "sslpassword": "pw-7-value",
    "oauth_client_secret": "pw-8-value",
    "secrets_manager_secret_id": "pw-9-value",
    "Database-Password": "pw-10-value",
}


# -- item 4: secrets in reprs -------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [*SECRETS, "pwd", "PASSWORD", "api_key", "private_key", "db_credentials"])
def test_secret_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["user", "host", "port", "dbname", "sslmode", "plugins", "connect_timeout"])
def test_ordinary_keys_are_not_secret(key: str) -> None:
    assert not is_secret_key(key)


def test_masked_props_hides_secret_values_and_url_passwords() -> None:
    props = {
        **SECRETS,
        "user": "app",
        "dsn": "mysql://app:pw-url-value@db:3306/x",
        "nested": {"token": "pw-n"},
    }
    shown = repr(masked_props(props))
    for value in [*SECRETS.values(), "pw-url-value", "pw-n"]:
        assert value not in shown
    assert "'user': 'app'" in shown
    assert "mysql://app:***@db:3306/x" in shown
    assert masked_props({"password": None}) == {"password": None}  # nothing to hide
    assert props["password"] == "pw-1-value"  # the input is not modified


def test_host_list_context_repr_masks_secrets(fake_driver: FakeDriver) -> None:
    context = HostListContext(
        props={"host": "db", "user": "app", **SECRETS},
        initial_host=HostInfo("db", 5432),
        driver=fake_driver,
        connector=None,  # type: ignore[arg-type]
        storage=None,  # type: ignore[arg-type]
        monitors=None,  # type: ignore[arg-type]
        aux_query_timeout=5.0,
    )
    text = repr(context)
    assert text.startswith("HostListContext(props={'host': 'db', 'user': 'app', 'password': '***'")
    assert "aux_query_timeout=5.0" in text
    for value in SECRETS.values():
        assert value not in text
    assert text.count(MASK) == len(SECRETS)


def test_plugin_context_repr_masks_secrets(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    use_registry(ContextPluginFactory)
    conn = AwsWrapperConnection.connect(fake_connect, "host=db user=app", plugins="test_context", **SECRETS)
    try:
        plugin = conn.plugin(ContextPlugin)
        assert plugin is not None
        text = repr(plugin.context)
        assert text.startswith("PluginContext(props={")
        assert "'user': 'app'" in text
        assert "config=CoreConfig(" in text
        for value in SECRETS.values():
            assert value not in text
        assert plugin.context.props["password"] == "pw-1-value"  # only the repr is masked
    finally:
        conn.close()


def test_a_setting_named_like_a_secret_is_masked_in_errors() -> None:
    setting = number("vault_token_ttl_password", 1.0, "doc")
    with pytest.raises(ConfigurationError) as info:
        setting.get({"vault_token_ttl_password": "hunter2"})
    assert "hunter2" not in str(info.value)
    assert "invalid value '***' for setting 'vault_token_ttl_password'" in str(info.value)


# -- item 6: validation before any connect ----------------------------------------------------------------------


def test_forced_driver_dialect_must_match_a_recognised_target() -> None:
    with pytest.raises(ConfigurationError) as info:
        driver_dialect_for(psycopg.Connection.connect, "mysql-connector-python")
    message = str(info.value)
    assert "invalid value 'mysql-connector-python' for setting 'wrapper_driver_dialect'" in message
    assert (
        "the target psycopg.connection.Connection.connect belongs to driver dialect 'psycopg', "
        "not 'mysql-connector-python'; remove wrapper_driver_dialect" in message
    )
    with pytest.raises(ConfigurationError) as other:
        driver_dialect_for(mysql.connector.connect, "psycopg")
    assert "mysql.connector.pooling.connect belongs to driver dialect 'mysql-connector-python'" in str(
        other.value
    )
    # consistent or unrecognisable targets keep working
    assert driver_dialect_for(psycopg.Connection.connect, "psycopg").code == "psycopg"
    assert (
        driver_dialect_for(mysql.connector.connect, " MySQL-Connector-Python ").code
        == "mysql-connector-python"
    )

    def factory(**kwargs: Any) -> Any:
        raise AssertionError("not called")

    assert driver_dialect_for(factory, "psycopg").code == "psycopg"


def test_driver_dialect_mismatch_fails_before_calling_the_driver() -> None:
    called: list[dict[str, Any]] = []

    class Spy(psycopg.Connection[Any]):
        @classmethod
        def connect(cls, *args: Any, **kwargs: Any) -> Any:
            called.append(kwargs)
            raise AssertionError("the driver must not be called")

    with pytest.raises(ConfigurationError, match="belongs to driver dialect 'psycopg'"):
        AwsWrapperConnection.connect(
            Spy.connect, "host=127.0.0.1", wrapper_driver_dialect="mysql-connector-python"
        )
    assert called == []


@pytest.mark.parametrize("value", ["failover,,efm", " , ", "failover,", ",failover", "dev, ,connect_time"])
def test_empty_plugin_codes_are_rejected(value: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CoreConfig.parse({"plugins": value})
    assert f"invalid value {value!r} for setting 'plugins'" in str(info.value)
    assert "is empty" in str(info.value)
    called: list[dict[str, Any]] = []

    def target(**kwargs: Any) -> None:
        called.append(kwargs)

    with pytest.raises(ConfigurationError, match="for setting 'plugins'"):
        AwsWrapperConnection.connect(
            target, "host=127.0.0.1", plugins=value, wrapper_driver_dialect="psycopg"
        )
    assert called == []


def test_an_empty_plugins_value_still_means_no_plugins(fake_driver: FakeDriver) -> None:
    assert CoreConfig.parse({"plugins": ""}).plugins == ""
    assert CoreConfig.parse({"plugins": " dev , connect_time "}).plugins == " dev , connect_time "
    for value in ("", "   "):
        conn = AwsWrapperConnection.connect(fake_connect, "host=db", plugins=value)
        try:
            assert conn._rt.plugins == ()
        finally:
            conn.close()


# -- item 8: misspelt settings ------------------------------------------------------------------------------------


def test_unknown_setting_error_is_a_configuration_and_a_programming_error() -> None:
    error = UnknownSettingError("x", key="k", suggestion="kk")
    for kind in (ConfigurationError, ProgrammingError, InterfaceError, Error, core.DatabaseError):
        assert isinstance(error, kind)
    assert core.UnknownSettingError is compat_errors.UnknownSettingError is UnknownSettingError
    assert "UnknownSettingError" in core.__all__
    assert "UnknownSettingError" in compat_errors.__all__
    assert (error.key, error.suggestion, error.driver_error) == ("k", "kk", None)


def test_suggest_picks_the_closest_name() -> None:
    names = ["failover_timeout_sec", "failover_mode", "socket_timeout", "connect_timeout"]
    assert suggest("failover_timout_sec", names) == "failover_timeout_sec"
    assert suggest("Socket-Timeout", names) == "socket_timeout"
    assert suggest("zzz", names) is None


@pytest.mark.parametrize(
    ("driver_error", "driver_code"),
    [
        (AttributeError("Unsupported argument 'socket_timout'"), "mysql-connector-python"),
        (psycopg.ProgrammingError('invalid connection option "socket_timout"\n'), "psycopg"),
    ],
)
def test_a_driver_rejection_of_a_key_becomes_unknown_setting_error(
    driver_error: BaseException, driver_code: str
) -> None:
    args = {"host": "db", "socket_timout": 3, "password": "pw-secret"}
    error = unknown_setting_error(driver_error, args, driver_code)
    assert error is not None
    assert error.key == "socket_timout"
    assert error.suggestion == "socket_timeout"
    assert str(error).startswith(
        "unknown setting 'socket_timout': it is neither an aws-wrapper setting nor a "
    )
    assert str(error).endswith("did you mean 'socket_timeout'?")
    assert error.__cause__ is driver_error
    assert error.driver_error is driver_error
    assert "pw-secret" not in str(error)


def test_other_driver_errors_are_not_translated() -> None:
    args = {"host": "db", "socket_timout": 3}
    assert unknown_setting_error(AttributeError("Unsupported argument 'other'"), args, "psycopg") is None
    assert unknown_setting_error(psycopg.OperationalError("connection refused"), args, "psycopg") is None
    assert unknown_setting_error(ValueError("Unsupported argument 'socket_timout'"), args, "psycopg") is None


def test_parameter_names_of_the_driver_are_suggested() -> None:
    error = unknown_setting_error(
        psycopg.ProgrammingError('invalid connection option "sslmdoe"'), {"sslmdoe": "require"}, "psycopg"
    )
    assert error is not None
    assert error.suggestion == "sslmode"
    error = unknown_setting_error(
        AttributeError("Unsupported argument 'chrset'"), {"chrset": "x"}, "mysql-connector-python"
    )
    assert error is not None
    assert error.suggestion == "charset"


def test_connect_translates_the_rejection_and_keeps_the_cause(fake_driver: FakeDriver) -> None:
    rejection = AttributeError("Unsupported argument 'socket_timout'")
    fake_driver.fail_next_connect = rejection
    with pytest.raises(UnknownSettingError) as info:
        AwsWrapperConnection.connect(fake_connect, "host=db", plugins="", socket_timout=2, password="pw-x")
    assert info.value.__cause__ is rejection
    assert "socket_timout" in str(info.value)
    assert "pw-x" not in str(info.value)
    other = RuntimeError("boom")
    fake_driver.fail_next_connect = other
    with pytest.raises(RuntimeError) as raw:
        AwsWrapperConnection.connect(fake_connect, "host=db", plugins="")
    assert raw.value is other  # anything else passes unchanged


# -- item 9: the default connect bound ----------------------------------------------------------------------------


def test_connect_timeout_parsing() -> None:
    assert DEFAULT_CONNECT_TIMEOUT == 30.0
    unset = CoreConfig.parse({})
    assert unset.connect_timeout is None
    assert unset.effective_connect_timeout == 30.0
    assert unset.for_connect().connect_timeout == 30.0
    assert CoreConfig.parse({"connect_timeout": ""}).effective_connect_timeout == 30.0
    explicit = CoreConfig.parse({"connect_timeout": "2.5"})
    assert explicit.effective_connect_timeout == 2.5
    assert explicit.for_connect() is explicit
    for no_limit in ("0", 0, 0.0):
        config = CoreConfig.parse({"connect_timeout": no_limit})
        assert config.connect_timeout == 0.0
        assert config.effective_connect_timeout is None
        assert config.for_connect().connect_timeout is None
    for bad, why in (("-3", "must be at least 0.001, or 0 for no limit"), ("0.0001", "must be at least 0.001"),
                     ("soon", "expected a number"), ("inf", "expected a number")):  # fmt: skip
        with pytest.raises(ConfigurationError) as info:
            CoreConfig.parse({"connect_timeout": bad})
        assert f"invalid value '{bad}' for setting 'connect_timeout': {why}" in str(info.value)


def test_dialects_map_the_default_and_no_limit() -> None:
    host = HostInfo("db", 1)
    assert (
        PsycopgDialect().prepare_connect_args(host, {}, CoreConfig.parse({}).for_connect())["connect_timeout"]
        == 30
    )
    my = MySqlConnectorDialect().prepare_connect_args(host, {}, CoreConfig.parse({}).for_connect())
    assert my["connection_timeout"] == 30
    no_limit = CoreConfig.parse({"connect_timeout": "0"}).for_connect()
    assert "connect_timeout" not in PsycopgDialect().prepare_connect_args(host, {}, no_limit)
    assert "connection_timeout" not in MySqlConnectorDialect().prepare_connect_args(host, {}, no_limit)


class _Stop(Exception):
    pass


@pytest.mark.parametrize(
    ("dialect", "key"), [("psycopg", "connect_timeout"), ("mysql-connector-python", "connection_timeout")]
)
@pytest.mark.parametrize(
    ("props", "expected"), [({}, 30), ({"connect_timeout": "4.2"}, 5), ({"connect_timeout": 0}, None)]
)
def test_the_driver_receives_the_bound(
    monkeypatch: pytest.MonkeyPatch, dialect: str, key: str, props: dict[str, Any], expected: int | None
) -> None:
    monkeypatch.setattr(_runtime, "dialect_manager", lambda: None)
    seen: list[dict[str, Any]] = []

    def target(**kwargs: Any) -> Any:
        seen.append(kwargs)
        raise _Stop

    with pytest.raises(_Stop):
        AwsWrapperConnection.connect(
            target, "host=127.0.0.1 port=1", plugins="", wrapper_driver_dialect=dialect, **props
        )
    assert seen[0].get(key) == expected
    assert "connect_timeout" not in seen[0] or key == "connect_timeout"


def test_the_default_bound_can_be_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runtime, "dialect_manager", lambda: None)
    monkeypatch.setattr(_config, "DEFAULT_CONNECT_TIMEOUT", 7.0)
    seen: list[dict[str, Any]] = []

    def target(**kwargs: Any) -> Any:
        seen.append(kwargs)
        raise _Stop

    with pytest.raises(_Stop):
        AwsWrapperConnection.connect(
            target, "host=127.0.0.1 port=1", plugins="", wrapper_driver_dialect="psycopg"
        )
    assert seen[0]["connect_timeout"] == 7
