"""Tokens are credentials: with DEBUG logging on every logger (botocore's included), no token, signature, secret
key or session token reaches a log record, an exception text or a repr."""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import parse_qs

import pytest

from aws_wrapper.auth.iam import TOKENS, IamAuthPlugin, IamAuthPluginFactory, set_session_factory
from aws_wrapper.auth.iam._aws import REDACTED

from ._fakes import FakeServer, LoginError, make_context

CLUSTER = "db.cluster-xyz123abc456.us-east-1.rds.amazonaws.com"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENvalue0123456789"


@pytest.fixture
def real_boto3() -> None:
    """boto3 signs for real, with static fake credentials (no network, no profile files)."""
    import boto3

    def factory(*, profile: str | None) -> Any:
        return boto3.session.Session(
            aws_access_key_id="ASIAEXAMPLEKEYID0001",
            aws_secret_access_key=SECRET_KEY,
            aws_session_token=SESSION_TOKEN,
            region_name="us-east-1",
        )

    set_session_factory(factory)  # the autouse fixture of conftest.py restores the default


@pytest.fixture
def debug_everywhere(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # the root logger
    for name in ("botocore", "boto3", "urllib3", "aws_wrapper", "aws_advanced_python_wrapper"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def _secrets_of(token: str) -> list[str]:
    query = parse_qs(token.split("?", 1)[1])
    return [token, query["X-Amz-Signature"][0], SECRET_KEY, SESSION_TOKEN]


def test_a_real_token_has_the_rds_shape(real_boto3: None) -> None:
    server = FakeServer()
    plugin(CLUSTER).connect(_host(), {"user": "app"}, True, server)
    token = server.attempts[0]["password"]
    assert token.startswith(f"{CLUSTER}:5432/?")
    query = parse_qs(token.split("?", 1)[1])
    assert query["Action"] == ["connect"]
    assert query["DBUser"] == ["app"]
    assert query["X-Amz-Expires"] == ["900"]
    assert re.fullmatch(
        r"ASIAEXAMPLEKEYID0001/\d{8}/us-east-1/rds-db/aws4_request", query["X-Amz-Credential"][0]
    )
    assert query["X-Amz-Security-Token"] == [SESSION_TOKEN]


def test_no_secret_in_logs_errors_or_reprs(
    real_boto3: None, debug_everywhere: pytest.LogCaptureFixture
) -> None:
    server = FakeServer()
    props = {"user": "app", "password": "user-given-password"}
    iam = plugin(CLUSTER, **props)
    iam.connect(_host(), props, True, server)  # a new token
    iam.connect(_host(), props, False, server)  # the cached one
    first = server.attempts[0]["password"]
    server.error = LoginError('FATAL: PAM authentication failed for user "app"')
    iam.connect(_host(), props, False, server)  # rejected cached token: regenerated, retried
    second = server.attempts[-1]["password"]
    assert len(server.attempts) == 4
    server.reject_all = True
    with pytest.raises(LoginError) as info:
        plugin(CLUSTER, **props).connect(_host(), props, False, server)  # rejected twice

    secrets = [*_secrets_of(first), *_secrets_of(second), "user-given-password"]
    texts = [
        debug_everywhere.text,
        *(str(r.args) for r in debug_everywhere.records),
        str(info.value),
        repr(info.value),
        repr(iam),
        repr(iam.config),
        repr(TOKENS),
        repr(iam._context),
    ]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert REDACTED in debug_everywhere.text  # botocore's signer logged, redacted
    assert "generated a new token for app@" in debug_everywhere.text
    assert "rejected the cached token" in debug_everywhere.text


def test_redaction_is_limited_to_the_signing_thread(debug_everywhere: pytest.LogCaptureFixture) -> None:
    from aws_wrapper.auth.iam import _aws

    _aws._install_filter()
    logging.getLogger("botocore.auth").debug("CanonicalRequest:\n%s", "visible elsewhere")
    assert "visible elsewhere" in debug_everywhere.text


def plugin(host: str, **props: Any) -> IamAuthPlugin:
    props.setdefault("user", "app")
    created = IamAuthPluginFactory().create(make_context(None, **props))
    assert isinstance(created, IamAuthPlugin)
    return created


def _host() -> Any:
    from aws_wrapper.core.hostinfo import HostInfo

    return HostInfo(CLUSTER, 5432)
