"""Issue 9, items 6 and 7, on real servers.

Item 6: a malformed topology setting fails the connect with ``ConfigurationError`` before any server is contacted,
whatever the host kind (before: ignored on a plain host, rejected only after connecting on an Aurora instance
reached by address). The instance behind the endpoint is blackholed, so any contact would hang for the connect
timeout.

Item 7: a topology query that the server refuses at once (here the real Aurora MySQL query on the local cluster's
MariaDB "aurora" instances, connected *without* the ``aurora-mysql-local`` dialect, so ``information_schema.
replica_host_status`` is missing; and the Aurora PostgreSQL dialect forced on a plain PostgreSQL cluster) must not
hold a connect for the auxiliary query timeout (before: 5.0 s per connect with ``host_monitoring``), is reported
once at WARNING with the server's error, and makes a failover fail at once with the cause.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dialects_support import connect_kwargs, target

from aws_wrapper.core import AwsWrapperConnection, FailoverFailedError, release_resources
from aws_wrapper.core.errors import ConfigurationError
from aws_wrapper.dialects import get_dialect, register_dialect, unregister_dialect
from aws_wrapper.testing import LocalCluster
from aws_wrapper.testing.pytest_plugin import ClusterFactory

pytestmark = [pytest.mark.integration]

LOCAL = "aurora-mysql-local"

#: (setting, malformed value, what the message says about it)
MALFORMED = [
    ("topology_refresh_ms", -1, "must be at least 1"),
    ("cluster_topology_high_refresh_rate_ms", "x", "expected an integer"),
    ("cluster_instance_host_pattern", "nohole", "must contain '?'"),
    ("global_cluster_instance_host_patterns", "us-east-1", "not 'region:pattern'"),
    ("topology-monitoring-connect_timeout", -1, "must be at least"),
    ("topology-monitoring-socket_timeout", "soon", "expected a number"),
]

ENGINES = [
    pytest.param("pg", marks=pytest.mark.pg_cluster),
    pytest.param("mysql", marks=pytest.mark.mysql_cluster),
]


def _connect(cluster: LocalCluster, **extra: Any) -> AwsWrapperConnection:
    kwargs = connect_kwargs(cluster, **extra)
    return AwsWrapperConnection.connect(target(cluster.engine.name), **kwargs)


# -- item 6 ---------------------------------------------------------------------------------------------------------
@pytest.mark.usefixtures("local_aurora_mysql")
@pytest.mark.parametrize("flavour", ["aurora", "plain"])
@pytest.mark.parametrize("engine", ENGINES)
def test_malformed_topology_settings_fail_before_any_server_is_contacted(
    local_cluster: ClusterFactory, engine: str, flavour: str
) -> None:
    cluster = local_cluster(engine, instances=2, flavour=flavour)
    settings: dict[str, Any] = {"plugins": "", "connect_timeout": 3}
    if engine == "mysql" and flavour == "aurora":
        settings["wrapper_dialect"] = LOCAL
    good = _connect(
        cluster, cluster_instance_host_pattern="?", **settings
    )  # the rest of the settings is fine
    dialect = good._rt.database.code
    good.close()

    cluster.blackhole(cluster.writer)  # a connect attempt through the writer endpoint would now hang for 3 s
    timings = []
    for key, value, expected in MALFORMED:
        started = time.monotonic()
        with pytest.raises(ConfigurationError) as caught:
            _connect(cluster, **settings, **{key: value})
        elapsed = time.monotonic() - started
        timings.append(elapsed)
        message = str(caught.value)
        assert f"invalid value {value!r} for setting {key!r}" in message, message
        assert expected in message, message
        assert elapsed < 0.5, (key, elapsed)
    print(
        f"\n{engine}/{flavour} (dialect {dialect}): {len(MALFORMED)} malformed settings rejected before connecting, "
        f"slowest in {max(timings) * 1000:.1f} ms; e.g. {message!r}"
    )


_CHILD = """
import json, sys, time
from aws_wrapper.core import AwsWrapperConnection
import psycopg
kwargs = json.loads(sys.argv[1])
started = time.monotonic()
try:
    AwsWrapperConnection.connect(psycopg.Connection.connect, **kwargs).close()
    print(json.dumps({"error": None}))
except Exception as exc:
    print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "elapsed": time.monotonic() - started}))
"""


@pytest.mark.needs_root
@pytest.mark.pg_cluster
def test_malformed_topology_settings_fail_before_connecting_to_a_cluster_endpoint_name(
    local_cluster: ClusterFactory,
) -> None:
    cluster = local_cluster("pg", instances=2, flavour="aurora", instance_ids="name")
    cluster.blackhole(cluster.writer)
    for key, value, _ in MALFORMED:
        kwargs = connect_kwargs(cluster, host=cluster.writer_endpoint.dns_name, plugins="", connect_timeout=3)
        kwargs[key] = value
        argv = cluster.command([sys.executable, "-c", _CHILD, json.dumps(kwargs)])
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        assert result["error"] is not None, key
        assert result["error"].startswith("ConfigurationError: "), result
        assert f"for setting {key!r}" in result["error"], result
        assert result["elapsed"] < 0.5, result


# -- item 7 ---------------------------------------------------------------------------------------------------------
@pytest.fixture
def without_local_dialect() -> Iterator[None]:
    """The point of the MariaDB case: ``aurora-mysql-local`` is not registered (another module may have)."""
    saved = get_dialect(LOCAL)
    if saved is not None:
        unregister_dialect(LOCAL)
    release_resources()  # no detection result or topology cached for these addresses
    yield
    release_resources()
    if saved is not None:
        register_dialect(saved, replace=True)


CASES = [
    # MariaDB "aurora": detected as the real aurora-mysql; its topology view is missing (error 1109)
    pytest.param(
        "mysql",
        "aurora",
        {},
        "replica_host_status",
        id="mysql-aurora-without-local-dialect",
        marks=pytest.mark.mysql_cluster,
    ),
    # plain PostgreSQL with the Aurora dialect forced: aurora_replica_status() and friends do not exist (42883)
    pytest.param(
        "pg",
        "plain",
        {"wrapper_dialect": "aurora-pg"},
        "does not exist",
        id="pg-plain-as-aurora-pg",
        marks=pytest.mark.pg_cluster,
    ),
]


def _timed_connects(cluster: LocalCluster, count: int, **settings: Any) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.monotonic()
        conn = _connect(cluster, cluster_instance_host_pattern="?", connect_timeout=3, **settings)
        timings.append(time.monotonic() - started)
        conn.close()
    return timings


@pytest.mark.usefixtures("without_local_dialect")
@pytest.mark.parametrize(("engine", "flavour", "settings", "cause"), CASES)
def test_a_refused_topology_query_is_reported_once_and_never_waited_for(
    local_cluster: ClusterFactory,
    caplog: pytest.LogCaptureFixture,
    engine: str,
    flavour: str,
    settings: dict[str, Any],
    cause: str,
) -> None:
    caplog.set_level(logging.DEBUG, logger="aws_wrapper")
    cluster = local_cluster(engine, instances=3, flavour=flavour)
    probe = _connect(cluster, plugins="", connect_timeout=3, **settings)
    dialect = probe._rt.database.code
    probe.close()
    assert dialect == ("aurora-mysql" if engine == "mysql" else "aurora-pg")
    bare = _timed_connects(cluster, 3, plugins="", **settings)

    efm = _timed_connects(cluster, 5, plugins="host_monitoring", **settings)
    default = _timed_connects(cluster, 3, **settings)  # the default plugins (failover, efm, tracker, ...)
    assert max(efm) < 0.5, efm  # before the fix: 5.0 s each (the auxiliary query timeout)
    assert max(default) < 0.5, default

    warnings = [
        r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("aws_wrapper")
    ]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    warning = warnings[0].getMessage()
    assert warnings[0].name == "aws_wrapper.dialects"
    assert cause in warning, warning
    assert dialect in warning, warning
    assert "wrapper_dialect" in warning, warning

    # a failover on such a connection fails at once, naming the cause, instead of after failover_timeout_sec
    conn = _connect(
        cluster,
        cluster_instance_host_pattern="?",
        connect_timeout=3,
        plugins="failover,host_monitoring",
        failover_timeout_sec=20,
        autocommit=True,
        **settings,
    )
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        cur.fetchall()
        caplog.clear()
        cluster.proxy(cluster.writer).reset_all()  # the application's connection drops; the writer is fine
        started = time.monotonic()
        with pytest.raises(FailoverFailedError) as caught:
            cur.execute("SELECT 1")
        failover_s = time.monotonic() - started
    finally:
        conn.close()
    message = str(caught.value)
    assert failover_s < 1.0, failover_s
    assert cause in message, message
    assert "can be verified" in message, message
    refused_debug = [r for r in caplog.records if r.levelno == logging.DEBUG and cause in r.getMessage()]
    assert len(refused_debug) <= 2, [r.getMessage() for r in refused_debug]  # not one per retry
    assert not [
        r for r in caplog.records if r.name == "aws_wrapper.dialects" and r.levelno >= logging.WARNING
    ]  # already reported
    print(
        f"\n{engine}/{flavour} as {dialect}: connect without plugins {_ms(bare)}, host_monitoring {_ms(efm)}, "
        f"default plugins {_ms(default)}; failover failed after {failover_s * 1000:.1f} ms with {message!r}; "
        f"warning: {warning!r}"
    )


def _ms(timings: list[float]) -> str:
    return "/".join(f"{t * 1000:.0f}" for t in timings) + " ms"
