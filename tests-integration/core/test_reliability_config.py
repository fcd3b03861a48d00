"""Issue 9 (reliability), core part, against the machine's PostgreSQL and MariaDB: no password in the reprs of a
live connection's contexts, configuration mistakes rejected before any server is contacted, a misspelt setting
reported as ``UnknownSettingError`` with a suggestion, and a bound on every connect (default 30 s)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import mysql.connector
import mysql.connector.connection
import mysql.connector.connection_cext
import psycopg
import pytest

from aws_advanced_python_wrapper import AwsWrapperConnection, ProgrammingError
from aws_advanced_python_wrapper.errors import ConfigurationError, UnknownSettingError
from aws_wrapper.core import _config

from ._support import SwitchPlugin

pytestmark = pytest.mark.integration

SECRET = f"pw-{uuid.uuid4().hex}"
OTHER_SECRETS = {
    "aws_secret_access_key": f"sk-{uuid.uuid4().hex}",
    "aws_session_token": f"tk-{uuid.uuid4().hex}",
}


# -- helpers ------------------------------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening socket on a free port: the test proves nothing connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    try:
        yield server
    finally:
        server.close()


def _assert_never_contacted(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()[0].close()


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A port whose listening socket never accepts and whose backlog is full: a connect to it gets no answer
    (SYNs are dropped), like a host behind a firewall that drops packets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    probe = socket.socket()
    probe.settimeout(0.3)
    try:
        with pytest.raises(TimeoutError):  # the handshake gets no answer
            probe.connect(("127.0.0.1", port))
    finally:
        probe.close()
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


@pytest.fixture
def mysql_user(mysql_server: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A MariaDB account with the password ``SECRET`` (root has none)."""
    name = f"awsrel_{uuid.uuid4().hex[:8]}"
    admin = mysql.connector.connect(**mysql_server)
    cur = admin.cursor()
    try:
        cur.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{SECRET}'")
        account = {k: v for k, v in mysql_server.items() if k != "database"}  # it may use no database
        yield {**account, "user": name, "password": SECRET}
    finally:
        cur.execute(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")
        cur.close()
        admin.close()


def _mysql_target(use_pure: bool) -> Callable[..., Any]:
    return mysql.connector.connect if use_pure else mysql.connector.connection_cext.CMySQLConnection


# -- item 4: no secret in the reprs of a live connection's contexts ----------------------------------------------------


def _assert_contexts_hide_secrets(conn: AwsWrapperConnection) -> None:
    plugin = conn.plugin(SwitchPlugin)
    assert plugin is not None
    texts = [repr(plugin.context), repr(conn._rt._host_list_context()), repr(conn)]
    assert texts[0].startswith("PluginContext(props={")
    assert texts[1].startswith("HostListContext(props={")
    for text in texts:
        for value in (SECRET, *OTHER_SECRETS.values()):
            assert value not in text
    assert "'password': '***'" in texts[0]
    assert "'password': '***'" in texts[1]
    assert plugin.context.props["password"] == SECRET  # the real value is still what the plugin reads


def test_pg_context_reprs_hide_the_password(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(
        psycopg.Connection.connect, pg_dsn, plugins="test_core_switch", password=SECRET, connect_timeout=5
    )
    try:
        assert conn.cursor().execute("SELECT 1").fetchone() == (1,)
        _assert_contexts_hide_secrets(conn)
    finally:
        conn.close()


def test_mysql_context_reprs_hide_the_password(mysql_user: dict[str, Any], use_pure: bool) -> None:
    conn = AwsWrapperConnection.connect(
        mysql.connector.connect, "", plugins="test_core_switch", use_pure=use_pure, **mysql_user
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT CURRENT_USER()")
        assert str(cur.fetchone()[0]).startswith(mysql_user["user"])  # logged in with the password
        _assert_contexts_hide_secrets(conn)
    finally:
        conn.close()


# -- item 6: configuration mistakes fail before any server is contacted --------------------------------------------


TARGETS: dict[str, Callable[..., Any]] = {
    "psycopg": psycopg.Connection.connect,
    "mysql": mysql.connector.connect,
}
OTHER_DIALECT = {"psycopg": "mysql-connector-python", "mysql": "psycopg"}


@pytest.mark.parametrize("driver", TARGETS)
def test_a_driver_dialect_that_contradicts_the_target_fails_before_connecting(
    driver: str, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    with pytest.raises(ConfigurationError) as info:
        AwsWrapperConnection.connect(
            TARGETS[driver],
            f"host=127.0.0.1 port={port} user=x",
            wrapper_driver_dialect=OTHER_DIALECT[driver],
        )
    message = str(info.value)
    assert f"invalid value {OTHER_DIALECT[driver]!r} for setting 'wrapper_driver_dialect'" in message
    actual = "psycopg" if driver == "psycopg" else "mysql-connector-python"
    assert f"belongs to driver dialect {actual!r}, not {OTHER_DIALECT[driver]!r}" in message
    _assert_never_contacted(listener)


@pytest.mark.parametrize("driver", TARGETS)
@pytest.mark.parametrize("plugins", ["failover,,efm", " , ", "dev,"])
def test_empty_plugin_codes_fail_before_connecting(
    driver: str, plugins: str, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    with pytest.raises(ConfigurationError) as info:
        AwsWrapperConnection.connect(TARGETS[driver], f"host=127.0.0.1 port={port} user=x", plugins=plugins)
    assert f"invalid value {plugins!r} for setting 'plugins': plugin code" in str(info.value)
    assert "is empty" in str(info.value)
    _assert_never_contacted(listener)


def test_an_empty_plugins_value_still_connects_without_plugins(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="")
    try:
        assert conn._rt.plugins == ()
        assert conn.cursor().execute("SELECT 2").fetchone() == (2,)
    finally:
        conn.close()


# -- item 8: a misspelt setting ---------------------------------------------------------------------------------------


@pytest.fixture
def failover_installed() -> None:
    pytest.importorskip("aws_wrapper.failover", reason="aws-wrapper-failover declares failover_timeout_sec")


def _assert_unknown_setting(error: UnknownSettingError, cause: type[BaseException]) -> None:
    assert isinstance(error, ProgrammingError)
    assert isinstance(error, ConfigurationError)
    assert error.key == "failover_timout_sec"
    assert error.suggestion == "failover_timeout_sec"
    assert str(error).startswith(
        "unknown setting 'failover_timout_sec': it is neither an aws-wrapper setting"
    )
    assert str(error).endswith("did you mean 'failover_timeout_sec'?")
    assert type(error.__cause__) is cause
    assert error.driver_error is error.__cause__
    assert "failover_timout_sec" in str(error.__cause__)  # the driver's own rejection
    for text in (str(error), repr(error), str(error.__cause__)):
        assert SECRET not in text


@pytest.mark.usefixtures("failover_installed")
@pytest.mark.parametrize("plugins", ["", "failover"])
def test_pg_misspelt_setting_is_an_unknown_setting_error(pg_dsn: str, plugins: str) -> None:
    with pytest.raises(UnknownSettingError) as info:
        AwsWrapperConnection.connect(
            psycopg.Connection.connect, pg_dsn, plugins=plugins, failover_timout_sec=3, password=SECRET
        )
    _assert_unknown_setting(info.value, psycopg.ProgrammingError)


@pytest.mark.usefixtures("failover_installed")
@pytest.mark.parametrize("plugins", ["", "failover"])
def test_mysql_misspelt_setting_is_an_unknown_setting_error(
    mysql_server: dict[str, Any], use_pure: bool, plugins: str
) -> None:
    with pytest.raises(UnknownSettingError) as info:
        AwsWrapperConnection.connect(
            mysql.connector.connect, "", plugins=plugins, use_pure=use_pure, failover_timout_sec=3,
            **{**mysql_server, "password": SECRET},
        )  # fmt: skip
    _assert_unknown_setting(info.value, AttributeError)


def test_a_misspelt_driver_parameter_suggests_the_driver_name(
    pg_dsn: str, mysql_server: dict[str, Any]
) -> None:
    with pytest.raises(UnknownSettingError, match="did you mean 'application_name'"):
        AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="", aplication_name="x")
    with pytest.raises(UnknownSettingError, match="did you mean 'autocommit'"):
        AwsWrapperConnection.connect(mysql.connector.connect, "", plugins="", autocomit=True, **mysql_server)


# -- item 9: every connect is bounded ---------------------------------------------------------------------------------


class _CapturingMySql(mysql.connector.connection.MySQLConnection):
    seen: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        _CapturingMySql.seen.append(kwargs)
        super().__init__(**kwargs)


class _CapturingCMySql(mysql.connector.connection_cext.CMySQLConnection):
    seen: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        _CapturingCMySql.seen.append(kwargs)
        super().__init__(**kwargs)


def test_pg_connection_gets_the_default_bound(pg_dsn: str) -> None:
    conn = AwsWrapperConnection.connect(psycopg.Connection.connect, pg_dsn, plugins="")
    try:
        assert conn.target_connection.info.get_parameters()["connect_timeout"] == "30"
    finally:
        conn.close()
    unbounded = AwsWrapperConnection.connect(
        psycopg.Connection.connect, pg_dsn, plugins="", connect_timeout=0
    )
    try:
        assert "connect_timeout" not in unbounded.target_connection.info.get_parameters()
    finally:
        unbounded.close()


@pytest.mark.parametrize("cls", [_CapturingMySql, _CapturingCMySql], ids=["pure", "cext"])
def test_mysql_connection_gets_the_default_bound(mysql_server: dict[str, Any], cls: Any) -> None:
    cls.seen.clear()
    for extra, expected in (({}, 30), ({"connect_timeout": 0}, None), ({"connect_timeout": 2.5}, 3)):
        conn = AwsWrapperConnection.connect(cls, "", plugins="", **mysql_server, **extra)
        try:
            assert isinstance(conn.target_connection, cls)
        finally:
            conn.close()
        kwargs = cls.seen.pop()
        assert kwargs.get("connection_timeout") == expected
        assert "connect_timeout" not in kwargs


def _blackholed_connect(driver: str, port: int, use_pure: bool = True, **kwargs: Any) -> float:
    start = time.monotonic()
    if driver == "psycopg":
        with pytest.raises(psycopg.OperationalError, match="timeout"):
            AwsWrapperConnection.connect(
                psycopg.Connection.connect, f"host=127.0.0.1 port={port} user=x", plugins="", **kwargs
            )
    else:
        with pytest.raises(mysql.connector.errors.Error, match="2003"):  # pure: timed out; cext: (110)
            AwsWrapperConnection.connect(
                _mysql_target(use_pure), f"host=127.0.0.1 port={port} user=x", plugins="", use_pure=use_pure,
                **kwargs,
            )  # fmt: skip
    return time.monotonic() - start


@pytest.mark.parametrize(("driver", "use_pure"), [("psycopg", True), ("mysql", True), ("mysql", False)])
def test_an_explicit_bound_ends_a_connect_to_a_blackholed_host(
    driver: str, use_pure: bool, blackhole: int
) -> None:
    elapsed = _blackholed_connect(driver, blackhole, use_pure, connect_timeout=1)
    assert 0.9 < elapsed < 4  # libpq waits at least 2 s


@pytest.mark.parametrize(("driver", "use_pure"), [("psycopg", True), ("mysql", True), ("mysql", False)])
def test_the_default_bound_ends_a_connect_to_a_blackholed_host(
    driver: str, use_pure: bool, blackhole: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No connect_timeout set: the default applies (lowered to 1 s here; it is 30 s)."""
    assert _config.DEFAULT_CONNECT_TIMEOUT == 30.0
    monkeypatch.setattr(_config, "DEFAULT_CONNECT_TIMEOUT", 1.0)
    elapsed = _blackholed_connect(driver, blackhole, use_pure)
    assert 0.9 < elapsed < 4
