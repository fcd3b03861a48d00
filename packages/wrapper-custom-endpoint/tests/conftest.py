"""A clean client factory per test: no test makes a real boto3 client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aws_wrapper.custom_endpoint import set_client_factory


@pytest.fixture(autouse=True)
def _no_factory() -> Iterator[None]:
    yield
    set_client_factory(None)
