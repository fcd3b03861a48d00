"""Fixtures of the unit tests: a fake AWS environment (boto3 never reads the machine's configuration nor probes
the EC2 metadata address) and a clean module state (no cached clients, secrets or session factory) per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from aws_wrapper.auth.secrets import _client, set_session_factory

FAKE_AWS_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in FAKE_AWS_ENV.items():
        monkeypatch.setenv(name, value)
    yield
    set_session_factory(None)
    _client.release()
