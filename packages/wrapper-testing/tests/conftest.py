"""Shared fixtures of aws-wrapper-testing's own unit tests (the package's pytest plugin is loaded as well)."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def free_port() -> int:
    """A TCP port that was free on all addresses a moment ago (outside the clusters' default ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 0))
        port: int = s.getsockname()[1]
    return port
