"""ABI 1.1 host hooks, end to end on local Aurora clusters, through plugins of a separately installed distribution
(tests-integration/fixtures/abi11-hosts): a strategy registered by entry point and one provided through the
pipeline, used by failover's reader choice; a host filter that failover honours; a connect that lands on another
host and reports it, which failure monitoring then watches."""

from __future__ import annotations

from typing import Any

import pytest

from aws_wrapper.core import AwsWrapperConnection, ConfigurationError, FailoverSuccessError
from aws_wrapper.core.hostinfo import HostRole
from aws_wrapper.efm import HostMonitoringPlugin

from .conftest import Db

pytestmark = [
    pytest.mark.integration,
    pytest.mark.pg_cluster(instances=3),
    pytest.mark.mysql_cluster(instances=3),
]


def _reader_urls(db: Db) -> list[str]:
    probe = db.connect()
    hosts = probe._rt.refresh()
    probe.close()
    urls = sorted(h.url for h in hosts if h.role is HostRole.READER)
    assert len(urls) == 2, hosts
    return urls


def _kill_backend(db: Db, conn: AwsWrapperConnection) -> None:
    """Terminate the server session behind ``conn`` (a real network error for the wrapper), on whichever instance
    it is."""
    raw: Any = conn.target_connection
    instance = db.instance(conn)
    for node in [db.cluster.writer, *db.cluster.readers]:
        info = db.cluster.conninfo(node)
        if db.is_pg:
            import psycopg

            with psycopg.connect(
                host=info["host"], port=info["port"], user=info["user"], dbname=info["dbname"], autocommit=True
            ) as admin:
                if db.instance(admin) == instance:
                    admin.execute("SELECT pg_terminate_backend(%s, 5000)", (int(raw.info.backend_pid),))
                    return
        else:
            import mysql.connector

            link: Any = mysql.connector.connect(
                host=info["host"], port=info["port"], user=info["user"], password="", autocommit=True
            )
            try:
                if db.instance(link) == instance:
                    cur = link.cursor()
                    cur.execute(f"KILL {int(raw.connection_id)}")
                    return
            finally:
                link.close()
    raise AssertionError(f"no instance {instance!r} found")


def _fail_over(db: Db, conn: AwsWrapperConnection) -> str:
    """Provoke one failover of a connection on the writer; returns the url of the host the connection now uses
    (checked with SQL)."""
    _kill_backend(db, conn)
    with pytest.raises(FailoverSuccessError):
        conn.cursor().execute("SELECT 1")
    host = conn._rt.current_host
    assert host is not None
    assert db.instance(conn) == host.host, "the server behind the connection is not the host failover reported"
    assert not db.is_writer(conn)
    return host.url


def test_failover_honours_a_host_filter(db: Db) -> None:
    readers = _reader_urls(db)
    allowed = readers[0]
    settings: dict[str, Any] = {
        "plugins": "failover,test_host_filter",
        "failover_mode": "strict_reader",
        # without the filter this strategy always picks the other reader
        "failover_reader_host_selector_strategy": "test_last_url",
        "test_allowed_hosts": allowed,
    }
    landed = [_fail_over(db, db.connect(**settings)) for _ in range(4)]
    print(f"\n{db.engine}: allowed {allowed}; failovers landed on {landed}")
    assert landed == [allowed] * 4


def test_failover_uses_a_strategy_registered_by_entry_point(db: Db) -> None:
    readers = _reader_urls(db)
    settings: dict[str, Any] = {
        "plugins": "failover",
        "failover_mode": "strict_reader",
        "failover_reader_host_selector_strategy": "test_last_url",
    }
    landed = [_fail_over(db, db.connect(**settings)) for _ in range(3)]
    conn = db.connect(**settings)
    print(f"\n{db.engine}: test_last_url -> {landed}")
    assert landed == [readers[-1]] * 3
    plugin = conn.plugin(__import__("aws_wrapper.failover", fromlist=["FailoverPlugin"]).FailoverPlugin)
    assert plugin is not None
    assert plugin._ctx.selection.select(HostRole.READER, "test_last_url").url == readers[-1]


def test_failover_uses_a_strategy_a_plugin_provides_through_the_pipeline(db: Db) -> None:
    readers = _reader_urls(db)
    settings: dict[str, Any] = {
        "plugins": "failover,test_pipeline_strategy",
        "failover_mode": "strict_reader",
        "failover_reader_host_selector_strategy": "test_first_url",
    }
    landed = [_fail_over(db, db.connect(**settings)) for _ in range(3)]
    print(f"\n{db.engine}: test_first_url -> {landed}")
    assert landed == [readers[0]] * 3
    # without the plugin that provides it, the strategy is refused before any server is contacted
    with pytest.raises(ConfigurationError, match="test_first_url"):
        db.connect(plugins="failover", failover_reader_host_selector_strategy="test_first_url")


def test_a_connect_that_lands_elsewhere_is_monitored_there(db: Db) -> None:
    """Plain dialect (static host list): the wrapper only knows where the connection went because the redirecting
    plugin reports it; failure monitoring must watch that host, not the one asked for."""
    writer, reader = db.cluster.writer, db.cluster.readers[0]
    asked, target = db.cluster.conninfo(writer), db.cluster.conninfo(reader)
    settings = db.settings(
        writer,
        plugins="test_redirect,host_monitoring",
        wrapper_dialect="pg" if db.is_pg else "mysql",
        test_redirect_to=f"{target['host']}:{target['port']}",
        autocommit=True,
    )
    conn = AwsWrapperConnection.connect(db.driver, **settings)
    db.made.append(conn)
    host = conn._rt.current_host
    assert host is not None
    assert host.url == f"{target['host']}:{target['port']}"
    assert host.url != f"{asked['host']}:{asked['port']}"
    assert not db.is_writer(conn)
    efm = conn.plugin(HostMonitoringPlugin)
    assert efm is not None
    assert efm.monitor is not None
    print(f"\n{db.engine}: asked {asked['host']}, reached {host.url}, monitored {efm.monitor.host.url}")
    assert efm.monitor.host.url == host.url
