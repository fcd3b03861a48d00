"""``aurora_connection_tracker`` logic on fake services."""

from __future__ import annotations

import gc
import time
from typing import Any

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.methods import DbApiMethod
from aws_wrapper.failover import ConnectionTracker, ConnectionTrackerPlugin, ConnectionTrackerPluginFactory

from ._fakes import FakeConn, World, cluster, passing

WRITER_ENDPOINT = HostInfo("mydb.cluster-xyz123abc456.us-east-1.rds.amazonaws.com", 5432)


def make(world: World, tracker: ConnectionTracker) -> ConnectionTrackerPlugin:
    plugin = ConnectionTrackerPlugin(world.context(), tracker)
    world.host_list_listeners.append(plugin)
    return plugin


def opener(world: World) -> Any:
    def proceed(host: HostInfo, props: Any, initial: bool) -> Any:
        return world.open(host, props)

    return proceed


def test_connections_are_filed_under_the_instance_they_reached() -> None:
    world, tracker = World(cluster()), ConnectionTracker()
    plugin = make(world, tracker)
    conn = plugin.connect(world.hosts[1], {}, False, opener(world))
    assert tracker.tracked("instance-2:5432") == 1

    # Through an endpoint (no instance id): identified, never filed under the endpoint itself.
    def via_endpoint(host: HostInfo, props: Any, initial: bool) -> Any:
        return FakeConn(world.hosts[0], HostRole.WRITER)

    other = plugin.connect(WRITER_ENDPOINT, {}, True, via_endpoint)
    assert tracker.tracked("instance-1:5432") == 1
    assert tracker.tracked(WRITER_ENDPOINT.url) == 0
    assert conn is not other


def test_writer_change_aborts_old_writer_connections_except_our_own() -> None:
    world, tracker = World(cluster()), ConnectionTracker()
    plugin = make(world, tracker)
    proceed = opener(world)
    ours = plugin.connect(world.hosts[0], {}, False, proceed)
    others = [plugin.connect(world.hosts[0], {}, False, proceed) for _ in range(3)]
    reader_conn = plugin.connect(world.hosts[1], {}, False, proceed)
    world.current = ours
    world.context().topology.refresh()
    assert not any(c.aborted for c in others)  # the writer seen at connect time has not changed

    world.promote("instance-2:5432")
    world.context().topology.refresh()
    assert all(c.aborted for c in others)
    assert not ours.aborted  # never the connection of the wrapper connection that noticed (upstream #1276)
    assert not reader_conn.aborted
    assert tracker.tracked("instance-1:5432") == 1


def test_connections_opened_after_the_change_are_kept() -> None:
    world, tracker = World(cluster()), ConnectionTracker()
    plugin = make(world, tracker)
    proceed = opener(world)
    tracker.writer_seen("fake-cluster", world.hosts[0])
    world.promote("instance-2:5432")
    time.sleep(0.01)
    fresh = plugin.connect(world.hosts[0], {}, False, proceed)  # opened on the old writer *after* the change
    aborted = tracker.invalidate("instance-1:5432", time.monotonic() - 0.005, None, world.driver.abort)
    assert aborted == 0
    assert not fresh.aborted


def test_stale_topology_report_is_not_a_change() -> None:
    tracker = ConnectionTracker()
    now = time.time()
    old = HostInfo("a", 1, HostRole.WRITER, host_id="a", last_update=now - 10)
    new = HostInfo("b", 1, HostRole.WRITER, host_id="b", last_update=now)
    assert tracker.writer_seen("c", old) is None
    assert tracker.writer_seen("c", new) == "a:1"
    assert tracker.writer_seen("c", old) is None  # an older view arriving late
    assert tracker.writer_seen("c", new) is None


def test_explicit_close_untracks() -> None:
    world, tracker = World(cluster()), ConnectionTracker()
    plugin = make(world, tracker)
    conn = plugin.connect(world.hosts[0], {}, False, opener(world))
    world.current = conn
    assert tracker.tracked("instance-1:5432") == 1
    plugin.execute(DbApiMethod.CONNECTION_CLOSE, conn, lambda: None, passing)
    assert tracker.tracked("instance-1:5432") == 0


def test_garbage_collected_connections_vanish() -> None:
    world, tracker = World(cluster()), ConnectionTracker()
    plugin = make(world, tracker)
    plugin.connect(world.hosts[0], {}, False, opener(world))
    world.opened.clear()
    gc.collect()
    assert tracker.tracked("instance-1:5432") == 0


def test_factory() -> None:
    assert ConnectionTrackerPluginFactory.code == "aurora_connection_tracker"
    assert "auroraConnectionTracker" in ConnectionTrackerPluginFactory.aliases
    assert ConnectionTrackerPluginFactory.weight == 100
    assert ConnectionTrackerPluginFactory.default is True
    plugin = ConnectionTrackerPluginFactory().create(World(cluster()).context())
    assert plugin.subscribed_methods == frozenset({DbApiMethod.CONNECTION_CLOSE})
