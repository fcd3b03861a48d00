"""A writer crash under ``plugins="iam,failover,efm"`` on both engines: the wrapper fails over to the promoted
writer, and every physical connection it opened on the way -- the application's, failover's, the topology
monitor's and EFM's monitoring connections -- logged in with an IAM token, none with a password."""

from __future__ import annotations

import pytest

from aws_wrapper.core import FailoverSuccessError
from aws_wrapper.core.monitors import MONITORS

from .conftest import CLUSTER_KWARGS, Db, iam_plugin, wait_for

try:
    from aws_wrapper.efm import HostMonitoringPluginFactory  # noqa: F401
    from aws_wrapper.failover import FailoverPluginFactory  # noqa: F401

    _MISSING: str | None = None
except ImportError as exc:  # pragma: no cover - depends on what is installed
    _MISSING = f"aws-wrapper-failover / aws-wrapper-efm are not usable: {exc}"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(_MISSING is not None, reason=_MISSING or ""),
    pytest.mark.pg_cluster(**CLUSTER_KWARGS),
    pytest.mark.mysql_cluster(**CLUSTER_KWARGS),
]


def test_a_writer_crash_fails_over_and_every_new_connection_logs_in_with_a_token(db: Db) -> None:
    conn = db.connect(
        plugins="iam,failover,efm",
        failover_timeout_sec=30,
        failure_detection_time_ms=1000,
        failure_detection_interval_ms=500,
        failure_detection_count=2,
        connect_timeout=3,
    )
    plugin = iam_plugin(conn)
    old_writer = db.instance(conn)
    assert old_writer == db.cluster.writer.instance_id
    # EFM watches the connection from its monitor once a call runs; the topology monitor knows the instances
    assert db.one(conn, "SELECT 1") == 1
    assert wait_for(lambda: len({e["host"] for e in db.iam.accepted()}) >= 2, 10.0), db.iam.log()

    db.cluster.crash()
    crashed_at = db.cluster.last_event("crashed")
    assert crashed_at is not None
    db.cluster.promote()
    with pytest.raises(FailoverSuccessError):
        db.one(conn, "SELECT 1")
    new_writer = db.instance(conn)
    assert new_writer == db.cluster.writer.instance_id != old_writer
    assert db.current_user(conn) == db.user
    assert db.one(conn, "SELECT 2") == 2

    conn.close()
    MONITORS.stop_all()  # no more logins from here on: the log is complete
    log = db.iam.log()
    assert db.iam.rejected() == []  # no password, no bad token was ever sent
    assert {e["user"] for e in log} == {db.user}
    after = [e for e in log if e["t"] > crashed_at.wall]
    assert after, "the failover opened no connection?"
    assert any(e["instance"] == new_writer for e in after)
    # every connection the wrapper opened through its pipeline (application, failover, topology and EFM monitors:
    # all through this wrapper connection's plugins) is a token login the servers accepted
    assert plugin.authenticated >= 3
    assert len(log) >= plugin.authenticated
    hosts = {e["host"] for e in log}
    print(
        f"\n{db.engine}: {len(log)} token logins ({len(after)} after the crash) to {len(hosts)} hosts, "
        f"{plugin.authenticated} connections through the plugin, {plugin.generated} tokens generated, "
        "0 rejected"
    )
    assert db.cluster.writer_endpoint.host in hosts
    assert len(hosts) >= 2  # instance addresses from the topology, each with its own token
