"""The Secrets Manager side: clients, the session factory, errors, parsing, and the redaction of botocore's
response logging. boto3 runs against moto's in-process mock or a fake session; nothing leaves the machine."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from aws_wrapper.auth.secrets import (
    REDACTED,
    SECRETS,
    Credentials,
    SecretsManagerConfig,
    _client,
    fetch_credentials,
    get_session_factory,
    set_session_factory,
)
from aws_wrapper.core import release_resources
from aws_wrapper.core.errors import AwsConnectError, AwsWrapperError, ConfigurationError

from ._fakes import FakeSession, secret_json

CONFIG = SecretsManagerConfig(secret_id="app/db", region="us-east-1")
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens on loopback


@pytest.fixture
def session() -> FakeSession:
    fake = FakeSession({"app/db": secret_json("app", "pw-fake-1")})
    set_session_factory(fake.factory)
    return fake


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """Every record of every logger at DEBUG, formatted with its arguments and tracebacks."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_the_session_factory_makes_one_client_per_region_endpoint_and_profile(session: FakeSession) -> None:
    assert get_session_factory() == session.factory
    assert fetch_credentials(CONFIG) == Credentials("app", "pw-fake-1")
    assert fetch_credentials(CONFIG) == Credentials("app", "pw-fake-1")
    other = SecretsManagerConfig(secret_id="app/db", region="eu-west-1", endpoint="http://x:1", profile="dev")
    fetch_credentials(other)
    assert session.factory_calls == [{"profile": None}, {"profile": "dev"}]
    assert [c.calls for c in session.clients] == [2, 1]
    assert session.clients[0].kwargs["region_name"] == "us-east-1"
    assert session.clients[0].kwargs["endpoint_url"] is None
    assert session.clients[1].kwargs["endpoint_url"] == "http://x:1"
    assert session.threads == [threading.current_thread()] * 2  # on the caller's thread


def test_a_new_factory_or_a_release_drops_the_clients(session: FakeSession) -> None:
    fetch_credentials(CONFIG)
    first = session.clients[0]
    set_session_factory(session.factory)
    assert first.closed
    fetch_credentials(CONFIG)
    assert len(session.clients) == 2
    SECRETS.get(CONFIG.cache_key, 60, lambda: Credentials("a", "b"))
    release_resources()
    assert session.clients[1].closed
    assert len(SECRETS) == 0


def test_a_custom_username_and_password_key(session: FakeSession) -> None:
    session.secrets["custom"] = json.dumps({"login": "u2", "secret": "pw-fake-2", "engine": "mysql"})
    config = SecretsManagerConfig(
        secret_id="custom", region="us-east-1", username_key="login", password_key="secret"
    )
    assert fetch_credentials(config) == Credentials("u2", "pw-fake-2")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Name": "x", "SecretBinary": b"pw-fake-bin"}, "no text value"),
        ("pw-fake-not-json", "is not JSON"),
        (json.dumps(["pw-fake-list"]), "is a JSON list"),
        (json.dumps({"username": "app"}), "has no key 'password'"),
        (json.dumps({"user": "app", "password": "pw-fake-3"}), "has no key 'username'"),
        (json.dumps({"username": "app", "password": 12345}), "holds a int"),
    ],
)
def test_unusable_secret_values_are_reported_without_the_value(
    session: FakeSession, value: Any, expected: str
) -> None:
    session.secrets["app/db"] = value
    with pytest.raises(ConfigurationError) as info:
        fetch_credentials(CONFIG)
    text = str(info.value)
    assert expected in text
    assert "'app/db'" in text
    assert "pw-fake" not in text
    assert "12345" not in text
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


def _client_error(code: str, message: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": message}}, "GetSecretValue")


@pytest.mark.parametrize(
    ("error", "kind", "expected"),
    [
        (
            _client_error("ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
            ConfigurationError,
            "secret 'app/db' in region 'us-east-1' was not found",
        ),
        (
            _client_error("AccessDeniedException", "not allowed"),
            AwsWrapperError,
            "AccessDeniedException: not allowed",
        ),
        (_client_error("UnrecognizedClientException", "bad token"), ConfigurationError, "'aws_profile'"),
        (
            botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"),
            AwsConnectError,
            "could not reach",
        ),
        (botocore.exceptions.NoCredentialsError(), ConfigurationError, "set_session_factory"),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"), AwsConnectError, "could not reach"),
        (
            botocore.exceptions.ChecksumError(
                checksum_type="crc32", expected_checksum="1", actual_checksum="2"
            ),
            AwsWrapperError,
            "ChecksumError",
        ),
    ],
)
def test_aws_errors_become_wrapper_errors(
    session: FakeSession, error: Exception, kind: type[Exception], expected: str
) -> None:
    session.secrets["app/db"] = error
    with pytest.raises(kind) as info:
        fetch_credentials(CONFIG)
    assert expected in str(info.value)
    assert info.value.__cause__ is error


def test_botocore_parser_errors_are_reported_without_their_text(session: FakeSession) -> None:
    from botocore.parsers import ResponseParserError

    session.secrets["app/db"] = ResponseParserError(
        'invalid XML received:\n{"SecretString": "pw-fake-quoted"}'
    )
    with pytest.raises(AwsWrapperError) as info:
        fetch_credentials(CONFIG)
    assert "ResponseParserError" in str(info.value)
    assert "pw-fake" not in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_errors_of_an_application_client_pass_unchanged(session: FakeSession) -> None:
    error = KeyError("something of yours")
    session.secrets["app/db"] = error
    with pytest.raises(KeyError) as info:
        fetch_credentials(CONFIG)
    assert info.value is error


def test_not_found_names_the_setting_and_where_the_region_came_from(session: FakeSession) -> None:
    session.secrets["arn:aws:secretsmanager:us-west-1:1:secret:gone-1"] = _client_error(
        "ResourceNotFoundException", "not found"
    )
    config = SecretsManagerConfig.parse(
        {"secrets_manager_secret_id": "arn:aws:secretsmanager:us-west-1:1:secret:gone-1"}
    )
    with pytest.raises(ConfigurationError) as info:
        fetch_credentials(config)
    assert "'secrets_manager_secret_id'" in str(info.value)
    assert "the secret ARN" in str(info.value)
    assert "'us-west-1'" in str(info.value)


# -- real boto3 (moto's in-process mock, or nothing at all) -----------------------------------------------------


@pytest.fixture
def moto() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        import boto3

        yield boto3.session.Session(region_name="us-east-1").client("secretsmanager")


def test_a_real_client_fetches_by_name_and_by_arn(moto: Any) -> None:
    arn = moto.create_secret(Name="real", SecretString=secret_json("real_user", "pw-real-1"))["ARN"]
    by_name = SecretsManagerConfig.parse(
        {"secrets_manager_secret_id": "real", "secrets_manager_region": "us-east-1"}
    )
    by_arn = SecretsManagerConfig.parse({"secrets_manager_secret_id": arn})
    assert fetch_credentials(by_name) == fetch_credentials(by_arn) == Credentials("real_user", "pw-real-1")
    wrong_region = SecretsManagerConfig.parse(
        {"secrets_manager_secret_id": "real", "secrets_manager_region": "eu-west-1"}
    )
    with pytest.raises(ConfigurationError, match="secret 'real' in region 'eu-west-1' was not found"):
        fetch_credentials(wrong_region)


def test_botocore_response_bodies_are_redacted_while_fetching(moto: Any, debug_log: io.StringIO) -> None:
    moto.create_secret(Name="logged", SecretString=secret_json("log_user", "pw-never-logged"))
    config = SecretsManagerConfig(secret_id="logged", region="us-east-1")
    debug_log.truncate(0)
    debug_log.seek(0)
    assert fetch_credentials(config).password == "pw-never-logged"
    text = debug_log.getvalue()
    assert "pw-never-logged" not in text
    assert REDACTED in text
    assert "fetching secret 'logged' in region 'us-east-1'" in text
    # the filter acts only around the plugin's own fetch: the application's botocore logging is untouched
    moto.get_secret_value(SecretId="logged")
    assert "pw-never-logged" in debug_log.getvalue()


def test_an_unreachable_endpoint_is_a_connect_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_client, "_MAX_ATTEMPTS", 1)
    config = SecretsManagerConfig(secret_id="app/db", region="us-east-1", endpoint=CLOSED_PORT_URL)
    with pytest.raises(AwsConnectError, match="could not reach Secrets Manager to fetch secret 'app/db'"):
        fetch_credentials(config)


def test_missing_aws_credentials_are_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    config = SecretsManagerConfig(secret_id="app/db", region="us-east-1", endpoint=CLOSED_PORT_URL)
    with pytest.raises(ConfigurationError, match="no usable AWS credentials"):
        fetch_credentials(config)


def test_an_unknown_profile_names_the_setting() -> None:
    config = SecretsManagerConfig(secret_id="app/db", region="us-east-1", profile="nope")
    with pytest.raises(ConfigurationError, match="invalid value 'nope' for setting 'aws_profile'"):
        fetch_credentials(config)


def test_an_invalid_region_names_the_setting() -> None:
    config = SecretsManagerConfig(secret_id="app/db", region="not a region!")
    with pytest.raises(
        ConfigurationError, match=r"invalid AWS region 'not a region!'.*'secrets_manager_region'"
    ):
        fetch_credentials(config)
