from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_wrapper.auth.iam import GLOBAL_REGIONS, TOKENS, set_session_factory

from ._fakes import FakeRdsClient, FakeSession


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    """Every test starts with an empty token cache, no global-region answers and the default sessions."""
    TOKENS.clear()
    GLOBAL_REGIONS.clear()
    yield
    set_session_factory(None)
    TOKENS.clear()
    GLOBAL_REGIONS.clear()


@pytest.fixture
def rds() -> FakeRdsClient:
    return FakeRdsClient()


@pytest.fixture
def session(rds: FakeRdsClient) -> FakeSession:
    """A fake boto3 session used by the plugin for every profile."""
    fake = FakeSession(rds)
    set_session_factory(lambda **_: fake)
    return fake
