"""pytest fixtures for the fault proxy, private DNS names and the AWS stand-ins.

The pytest plugin of this package re-exports them (``from ._fixtures_net import *``); a test module can also
import them directly. ``__all__`` lists only fixtures.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from ._aws import AWS_ENV_UNSET, MotoServer, fake_aws_env
from ._dns import DnsNamespace, namespace_available
from ._proxy import FaultProxy

__all__ = ["aws_env", "dns_namespace", "fault_proxy", "moto_server"]


class FaultProxyFactory(Protocol):
    """What the ``fault_proxy`` fixture yields: makes and starts a proxy in front of a target."""

    def __call__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        name: str = "",
    ) -> FaultProxy: ...


class ProxyPool:
    """Makes started proxies and stops them all on ``close()`` (the engine of the ``fault_proxy`` fixture)."""

    def __init__(self) -> None:
        self.proxies: list[FaultProxy] = []

    def __call__(
        self,
        target_host: str,
        target_port: int,
        *,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        name: str = "",
    ) -> FaultProxy:
        proxy = FaultProxy(listen_host, listen_port, target_host, target_port, name=name).start()
        self.proxies.append(proxy)
        return proxy

    def close(self) -> None:
        """Stop every proxy made, newest first; the first failure is raised after all were tried."""
        failure: BaseException | None = None
        while self.proxies:
            try:
                self.proxies.pop().stop()
            except Exception as exc:  # keep stopping the others
                failure = failure or exc
        if failure is not None:
            raise failure


def apply_fake_aws_env(mp: pytest.MonkeyPatch) -> dict[str, str]:
    """Set the fake AWS environment through ``mp`` (undone by ``mp.undo()``); returns what was set."""
    for name in list(os.environ):
        if name in AWS_ENV_UNSET or name.startswith("AWS_ENDPOINT_URL_"):
            mp.delenv(name)
    env = fake_aws_env()
    for name, value in env.items():
        mp.setenv(name, value)
    return env


@pytest.fixture
def fault_proxy() -> Iterator[FaultProxyFactory]:
    """A factory ``(target_host, target_port, *, listen_host, listen_port, name) -> FaultProxy`` (started).

    Every proxy it made is stopped at teardown.
    """
    pool = ProxyPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def dns_namespace() -> Iterator[DnsNamespace]:
    """Private DNS names: ``add(name, address)``, then ``run(argv)`` / ``command(argv)`` see them.

    Skips the test when private mount namespaces are not usable here (not root, no ``unshare``).
    """
    reason = namespace_available()
    if reason is not None:
        pytest.skip(f"private dns names are unavailable: {reason}")
    work_dir = Path(tempfile.mkdtemp(prefix="aws-wrapper-dns-"))
    try:
        yield DnsNamespace(work_dir / "hosts")
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The fake AWS environment for one test (fake keys, no profile, EC2 metadata disabled)."""
    return apply_fake_aws_env(monkeypatch)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """A moto server on 127.0.0.1 for the whole session, with the fake AWS environment set meanwhile.

    State is shared by the session's tests: call ``moto_server.reset()`` where a clean slate matters.
    Skips when moto or boto3 is not installed.
    """
    for module in ("moto", "boto3"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (install aws-wrapper-testing[aws])")
    mp = pytest.MonkeyPatch()
    try:
        apply_fake_aws_env(mp)
        with MotoServer() as server:
            yield server
    finally:
        mp.undo()
