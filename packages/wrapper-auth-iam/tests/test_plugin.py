"""The plugin with a fake server and a fake boto3 session: the token as the password (new properties, never the
caller's), reuse across connections, regenerate-once-and-retry-once on a rejected cached token, MySQL's clear
password plugin and its TLS requirement, both connect pipelines, errors, and lazily made clients."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from aws_wrapper.auth.iam import (
    GLOBAL_REGIONS,
    MYSQL_AUTH_PLUGIN,
    TOKENS,
    IamAuthPlugin,
    IamAuthPluginFactory,
    set_session_factory,
)
from aws_wrapper.core import release_resources
from aws_wrapper.core.errors import AwsConnectError, AwsWrapperError, ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo

from ._fakes import (
    FakeDriver,
    FakeRdsClient,
    FakeServer,
    FakeSession,
    LoginError,
    NetworkError,
    make_context,
    run_threads,
)

CLUSTER = "db.cluster-xyz123abc456.us-east-1.rds.amazonaws.com"
HOST = HostInfo(CLUSTER, 5432)


def plugin(driver: FakeDriver | None = None, /, **props: Any) -> IamAuthPlugin:
    props.setdefault("user", "app")
    created = IamAuthPluginFactory().create(make_context(driver, **props))
    assert isinstance(created, IamAuthPlugin)
    return created


def test_the_token_is_the_password_of_new_properties(session: FakeSession, rds: FakeRdsClient) -> None:
    server = FakeServer()
    props = {"user": "app", "password": "ignored", "dbname": "test"}
    iam = plugin(**props)
    iam.connect(HOST, props, True, server)
    sent = server.attempts[0]
    assert sent["password"].startswith(f"{CLUSTER}:5432/?Action=connect&DBUser=app")
    assert sent["user"] == "app"
    assert sent["dbname"] == "test"
    assert "auth_plugin" not in sent
    assert props == {"user": "app", "password": "ignored", "dbname": "test"}  # never mutated
    assert rds.signed == [{"host": CLUSTER, "port": 5432, "user": "app", "region": "us-east-1"}]
    assert (iam.generated, iam.authenticated) == (1, 1)


def test_mysql_connector_gets_the_clear_password_plugin(session: FakeSession) -> None:
    server = FakeServer()
    props = {"user": "app", "passwd": "old", "password1": "old"}
    iam = plugin(FakeDriver("mysql-connector-python", 3306), **props)
    iam.connect(HostInfo(CLUSTER, 3306), props, True, server)
    sent = server.attempts[0]
    assert sent["auth_plugin"] == MYSQL_AUTH_PLUGIN == "mysql_clear_password"
    assert "passwd" not in sent
    assert "password1" not in sent
    assert ":3306/?Action=connect" in sent["password"]


def test_other_mysql_drivers_get_no_auth_plugin_keyword(session: FakeSession) -> None:
    server = FakeServer()
    iam = plugin(FakeDriver("pymysql", 3306))
    iam.connect(HostInfo(CLUSTER, 3306), {"user": "app"}, True, server)
    assert "auth_plugin" not in server.attempts[0]


def test_tokens_are_reused_across_connections_and_the_client_is_made_once(
    session: FakeSession, rds: FakeRdsClient
) -> None:
    server = FakeServer()
    first, second = plugin(), plugin()
    assert session.clients == []  # nothing made by create(): only by the first connect
    first.connect(HOST, {"user": "app"}, True, server)
    second.connect(HOST, {"user": "app"}, True, server)
    first.force_connect(HOST, {"user": "app"}, False, server)
    assert len(rds.signed) == 1
    assert len({a["password"] for a in server.attempts}) == 1
    assert TOKENS.stats().hits == 2
    assert [(service, thread) for service, _, thread in session.clients] == [("rds", threading.get_ident())]


def test_concurrent_first_connects_generate_one_token(session: FakeSession, rds: FakeRdsClient) -> None:
    server = FakeServer()
    rds.sign_gate = gate = threading.Event()
    plugins = [plugin() for _ in range(6)]
    timer = threading.Timer(0.2, gate.set)
    timer.start()
    errors = run_threads(6, lambda i: plugins[i].connect(HOST, {"user": "app"}, True, server))
    timer.cancel()
    assert errors == []
    assert len(rds.signed) == 1
    assert len({a["password"] for a in server.attempts}) == 1


def test_a_rejected_cached_token_is_regenerated_once_and_the_connect_retried_once(
    session: FakeSession, rds: FakeRdsClient
) -> None:
    server = FakeServer()
    plugin().connect(HOST, {"user": "app"}, True, server)
    stale = server.attempts[-1]["password"]
    server.rejected.add(stale)  # e.g. the token expired on the server's clock
    iam = plugin()
    iam.connect(HOST, {"user": "app"}, True, server)
    passwords = [a["password"] for a in server.attempts]
    assert passwords[1] == stale
    assert passwords[2] != stale
    assert len(server.attempts) == 3
    assert len(rds.signed) == 2
    assert iam.generated == 1
    assert iam.authenticated == 1
    plugin().connect(HOST, {"user": "app"}, True, server)  # the new token is the cached one now
    assert server.attempts[-1]["password"] == passwords[2]


def test_a_second_rejection_is_the_drivers_own_error(session: FakeSession, rds: FakeRdsClient) -> None:
    server = FakeServer()
    plugin().connect(HOST, {"user": "app"}, True, server)
    server.reject_all = True
    with pytest.raises(LoginError, match="PAM authentication failed"):
        plugin().connect(HOST, {"user": "app"}, True, server)
    assert len(server.attempts) == 3  # the first connect, then exactly one retry
    assert len(rds.signed) == 2
    assert len(TOKENS) == 0  # a rejected token is not kept


def test_a_rejected_new_token_is_not_retried(session: FakeSession, rds: FakeRdsClient) -> None:
    server = FakeServer()
    server.reject_all = True
    with pytest.raises(LoginError):
        plugin().connect(HOST, {"user": "app"}, True, server)
    assert len(server.attempts) == 1
    assert len(TOKENS) == 0
    server.reject_all = False
    plugin().connect(HOST, {"user": "app"}, True, server)
    assert len(rds.signed) == 2  # the rejected token was dropped: the next connect made a new one


def test_other_connect_errors_pass_unchanged_and_keep_the_token(session: FakeSession) -> None:
    server = FakeServer()
    plugin().connect(HOST, {"user": "app"}, True, server)
    server.error = error = NetworkError("connection refused")
    with pytest.raises(NetworkError) as info:
        plugin().connect(HOST, {"user": "app"}, True, server)
    assert info.value is error
    assert len(server.attempts) == 2
    assert len(TOKENS) == 1


def test_mysql_without_tls_fails_with_an_error_naming_the_fix(session: FakeSession) -> None:
    server = FakeServer()
    server.error = driver_error = Exception(
        "Clear password authentication is not supported over insecure channels"
    )
    iam = plugin(FakeDriver("mysql-connector-python", 3306))
    with pytest.raises(ConfigurationError) as info:
        iam.connect(HostInfo(CLUSTER, 3306), {"user": "app"}, True, server)
    text = str(info.value)
    assert "needs TLS" in text
    assert "enable TLS on the server" in text
    assert "ssl_disabled" in text
    assert f"{CLUSTER}:3306" in text
    assert info.value.driver_error is driver_error
    assert len(server.attempts) == 1


@pytest.mark.parametrize("value", [True, "true", 1, "on"])
def test_ssl_disabled_is_refused_before_connecting(session: FakeSession, value: object) -> None:
    with pytest.raises(ConfigurationError, match="remove ssl_disabled=True"):
        plugin(FakeDriver("mysql-connector-python", 3306), ssl_disabled=value)
    plugin(FakeDriver("mysql-connector-python", 3306), ssl_disabled=False)
    plugin(FakeDriver("psycopg", 5432), ssl_disabled=True)  # not a psycopg parameter: not ours to judge


def test_the_signed_host_port_and_region_follow_the_settings(
    session: FakeSession, rds: FakeRdsClient
) -> None:
    server = FakeServer()
    iam = plugin(iam_host=CLUSTER, iam_default_port=6543, iam_region="eu-west-1")
    iam.connect(HostInfo("127.0.0.5", 15432), {"user": "app"}, True, server)
    assert rds.signed[-1] == {"host": CLUSTER, "port": 6543, "user": "app", "region": "eu-west-1"}
    iam = plugin(iam_region="eu-west-1")
    iam.force_connect(HostInfo("127.0.0.5", 15432), {"user": "monitor"}, False, server)
    assert rds.signed[-1] == {"host": "127.0.0.5", "port": 15432, "user": "monitor", "region": "eu-west-1"}
    iam.connect(
        HostInfo("instance-2.xyz123abc456.us-east-1.rds.amazonaws.com"), {"user": "app"}, False, server
    )
    assert rds.signed[-1]["port"] == 5432  # no port anywhere: the driver's default


def test_an_ip_address_without_iam_region_fails_naming_the_setting(session: FakeSession) -> None:
    with pytest.raises(ConfigurationError, match="set iam_region"):
        plugin().connect(HostInfo("127.0.0.5", 5432), {"user": "app"}, True, FakeServer())
    assert session.clients == []


def test_a_user_is_required(session: FakeSession) -> None:
    with pytest.raises(ConfigurationError, match="set 'user'"):
        plugin().connect(HOST, {}, True, FakeServer())


def test_a_rejected_token_for_a_global_endpoint_looks_up_the_writer_region_again(
    session: FakeSession, rds: FakeRdsClient
) -> None:
    host = HostInfo("orders.global-abc123def456.global.rds.amazonaws.com", 5432)
    rds.global_clusters["orders"] = [
        {"DBClusterArn": "arn:aws:rds:us-east-2:1:cluster:a", "IsWriter": True},
        {"DBClusterArn": "arn:aws:rds:eu-west-1:1:cluster:b", "IsWriter": False},
    ]
    server = FakeServer()
    plugin().connect(host, {"user": "app"}, True, server)
    assert rds.signed[-1]["region"] == "us-east-2"
    # global failover: the writer is now in eu-west-1 and the server refuses tokens for us-east-2
    rds.global_clusters["orders"][0]["IsWriter"], rds.global_clusters["orders"][1]["IsWriter"] = False, True
    server.rejected.add(server.attempts[-1]["password"])
    plugin().connect(host, {"user": "app"}, True, server)
    assert rds.signed[-1]["region"] == "eu-west-1"
    assert rds.lookups == ["orders", "orders"]


def test_signing_errors_become_wrapper_errors(session: FakeSession, rds: FakeRdsClient) -> None:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    rds.sign_error = NoCredentialsError()
    with pytest.raises(AwsWrapperError, match="no AWS credentials found") as info:
        plugin().connect(HOST, {"user": "app"}, True, FakeServer())
    assert f"generating the IAM token for app@{CLUSTER}:5432 (us-east-1)" in str(info.value)
    assert not isinstance(info.value, AwsConnectError)
    rds.sign_error = EndpointConnectionError(endpoint_url="http://169.254.169.254")
    with pytest.raises(AwsConnectError):  # a network failure fetching credentials: a network error
        plugin().connect(HOST, {"user": "app"}, True, FakeServer())


def test_release_resources_forgets_tokens_regions_and_clients(
    session: FakeSession, rds: FakeRdsClient
) -> None:
    server = FakeServer()
    plugin().connect(HOST, {"user": "app"}, True, server)
    assert len(TOKENS) == 1
    GLOBAL_REGIONS.get("orders", None, lambda c: "us-east-1")
    release_resources()
    assert len(TOKENS) == 0
    assert GLOBAL_REGIONS.lookups == 0
    assert rds.closed
    plugin().connect(HOST, {"user": "app"}, True, server)
    assert len(session.clients) == 2
    assert len(rds.signed) == 2


def test_a_profile_that_does_not_exist_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
    set_session_factory(None)
    with pytest.raises(ConfigurationError, match="invalid value 'nope' for setting 'aws_profile'"):
        plugin(aws_profile="nope").connect(HOST, {"user": "app"}, True, FakeServer())


def test_the_session_factory_gets_the_profile(rds: FakeRdsClient) -> None:
    asked: list[str | None] = []

    def factory(*, profile: str | None) -> FakeSession:
        asked.append(profile)
        return FakeSession(rds)

    set_session_factory(factory)
    plugin(aws_profile="reporting").connect(HOST, {"user": "app"}, True, FakeServer())
    plugin().connect(HOST, {"user": "other"}, True, FakeServer())
    assert asked == ["reporting", None]
