"""pytest plugin of aws-wrapper-testing (entry point ``pytest11``; disable with ``-p no:aws_wrapper_testing``).

Fixtures:

* ``pg_cluster`` / ``mysql_cluster`` — a 3-instance aurora cluster shared by the tests of a module (a
  module-level ``pytestmark = pytest.mark.pg_cluster(instances=2, flavour="rds", ...)`` changes its
  configuration; any ``LocalCluster`` keyword works). After each test it is reset: proxies healed, facts
  overrides dropped, instances that are down restarted, endpoints pointed at the current writer/reader.
* ``local_cluster`` — a factory ``local_cluster(engine="pg", **kwargs) -> LocalCluster`` for clusters of
  one test; every cluster it made is torn down after the test, failed or not.
* ``fault_proxy``, ``dns_namespace``, ``aws_env``, ``moto_server`` — see ``_fixtures_net``.

Markers: ``pg_cluster`` and ``mysql_cluster`` skip a test (with the reason) when that engine cannot run here;
``needs_root`` skips it when not running as root. Importing this module starts nothing.

IAM mode: ``pytest.mark.pg_cluster(iam=True)`` (or ``iam=IamConfig(...)``, see ``aws_wrapper.testing.iam``) gives
the module's cluster IAM database users whose tokens the servers verify; ``local_cluster("mysql", iam=True)``
likewise. When IAM mode cannot run here (no root, no libpam-python and no way to install it), the test is
skipped with the reason.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from ._fixtures_net import *  # noqa: F403
from ._fixtures_net import __all__ as _net_fixtures

if TYPE_CHECKING:
    from ._cluster import LocalCluster

__all__ = [*_net_fixtures, "local_cluster", "mysql_cluster", "pg_cluster"]

_MARKERS = (
    "pg_cluster(**kwargs): needs a local PostgreSQL cluster (skipped when PostgreSQL cannot run here); "
    "at module level, LocalCluster keywords for the pg_cluster fixture (iam=True: IAM mode)",
    "mysql_cluster(**kwargs): needs a local MariaDB cluster (skipped when MariaDB cannot run here); "
    "at module level, LocalCluster keywords for the mysql_cluster fixture",
    "needs_root: skipped unless the tests run as root",
)


def pytest_configure(config: pytest.Config) -> None:
    for line in _MARKERS:
        config.addinivalue_line("markers", line)


@functools.cache
def _missing(engine: str) -> str | None:
    from ._registry import engine_missing

    return engine_missing(engine)


def _skip_unless(engine: str, kwargs: dict[str, Any] | None = None) -> None:
    reason = _missing(engine)
    if reason is not None:
        pytest.skip(f"local {engine} cluster unavailable: {reason}")
    iam = (kwargs or {}).get("iam")
    if iam is not None and iam is not False:
        from .iam import IamConfig, iam_missing

        config = IamConfig.coerce(iam)
        reason = iam_missing(engine, True if config is None else config.install)
        if reason is not None:
            pytest.skip(f"IAM mode of the local {engine} cluster unavailable: {reason}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_root") is not None and os.geteuid() != 0:
        pytest.skip("needs root")
    for engine in ("pg", "mysql"):
        if item.get_closest_marker(f"{engine}_cluster") is not None:
            _skip_unless(engine)


class ClusterFactory(Protocol):
    """What the ``local_cluster`` fixture yields."""

    def __call__(self, engine: str = "pg", **kwargs: Any) -> LocalCluster: ...


@pytest.fixture
def local_cluster() -> Iterator[ClusterFactory]:
    """A factory ``(engine="pg", **LocalCluster keywords) -> LocalCluster`` (started); all torn down after."""
    from ._cluster import LocalCluster

    made: list[LocalCluster] = []

    def make(engine: str = "pg", **kwargs: Any) -> LocalCluster:
        _skip_unless(engine, kwargs)
        cluster = LocalCluster(engine, **kwargs)
        made.append(cluster)
        return cluster.up()

    try:
        yield make
    finally:
        errors = []
        for cluster in reversed(made):
            try:
                cluster.down()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]


class _Shared:
    """One module's cluster: made on first use, reset after each test, rebuilt if a reset fails."""

    def __init__(self, engine: str, kwargs: dict[str, Any]) -> None:
        self.engine = engine
        self.kwargs = kwargs
        self.cluster: LocalCluster | None = None

    def get(self) -> LocalCluster:
        from ._cluster import LocalCluster

        _skip_unless(self.engine, self.kwargs)
        if self.cluster is None or not self.cluster.running:
            cluster = LocalCluster(self.engine, **self.kwargs)
            self.cluster = cluster.up()
        return self.cluster

    def after_test(self) -> None:
        cluster = self.cluster
        if cluster is None or not cluster.running:
            return
        try:
            cluster.reset()
        except Exception:
            self.cluster = None
            cluster.down()
            raise

    def close(self) -> None:
        cluster, self.cluster = self.cluster, None
        if cluster is not None:
            cluster.down()


def _shared(request: pytest.FixtureRequest, engine: str) -> Iterator[_Shared]:
    marker = request.node.get_closest_marker(f"{engine}_cluster")
    shared = _Shared(engine, dict(marker.kwargs) if marker is not None else {})
    try:
        yield shared
    finally:
        shared.close()


@pytest.fixture(scope="module")
def _aws_wrapper_pg_shared(request: pytest.FixtureRequest) -> Iterator[_Shared]:
    yield from _shared(request, "pg")


@pytest.fixture(scope="module")
def _aws_wrapper_mysql_shared(request: pytest.FixtureRequest) -> Iterator[_Shared]:
    yield from _shared(request, "mysql")


@pytest.fixture
def pg_cluster(_aws_wrapper_pg_shared: _Shared) -> Iterator[LocalCluster]:
    """A PostgreSQL ``LocalCluster`` shared by the module's tests, reset after each one."""
    cluster = _aws_wrapper_pg_shared.get()
    try:
        yield cluster
    finally:
        _aws_wrapper_pg_shared.after_test()


@pytest.fixture
def mysql_cluster(_aws_wrapper_mysql_shared: _Shared) -> Iterator[LocalCluster]:
    """A MariaDB ``LocalCluster`` shared by the module's tests, reset after each one."""
    cluster = _aws_wrapper_mysql_shared.get()
    try:
        yield cluster
    finally:
        _aws_wrapper_mysql_shared.after_test()
