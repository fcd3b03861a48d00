"""``stale_dns`` and ``initial_connection`` logic on fake services."""

from __future__ import annotations

import time
from typing import Any

import pytest

from aws_wrapper.core.errors import AwsConnectError, ConfigurationError
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.failover import (
    InitialConnectionPlugin,
    InitialConnectionPluginFactory,
    StaleDnsPlugin,
    StaleDnsPluginFactory,
)
from aws_wrapper.failover._common import ROLES

from ._fakes import FakeConn, FakeLoginError, FakeNetworkError, FakeSqlError, Server, Timer, World, cluster

DOMAIN = "xyz123abc456.us-east-1.rds.amazonaws.com"
WRITER_EP = HostInfo(f"mydb.cluster-{DOMAIN}", 5432)
READER_EP = HostInfo(f"mydb.cluster-ro-{DOMAIN}", 5432)


class Endpoints:
    """``proceed`` for a fake DNS: endpoints lead to the instance named in ``points``."""

    def __init__(
        self, world: World, writer_to: str = "instance-1:5432", reader_to: str = "instance-2:5432"
    ) -> None:
        self.world = world
        self.points = {WRITER_EP.url: writer_to, READER_EP.url: reader_to}
        self.calls: list[str] = []

    def __call__(self, host: HostInfo, props: Any, initial: bool) -> Any:
        self.calls.append(host.url)
        url = self.points.get(host.url, host.url)
        target = next(h for h in self.world.hosts if h.url == url)
        return self.world.open(target, props)


@pytest.fixture(autouse=True)
def _fresh_role_cache() -> None:
    ROLES._roles.clear()


# -- stale DNS ---------------------------------------------------------------------------------------------


def stale_dns(world: World) -> StaleDnsPlugin:
    plugin = StaleDnsPluginFactory().create(world.context())
    assert isinstance(plugin, StaleDnsPlugin)
    return plugin


def test_stale_writer_endpoint_is_replaced_by_the_topology_writer() -> None:
    world = World(cluster(), initial=WRITER_EP)
    world.promote("instance-2:5432")  # the endpoint still leads to instance-1, now a reader
    dns = Endpoints(world, writer_to="instance-1:5432")
    conn = stale_dns(world).connect(WRITER_EP, {}, True, dns)
    assert conn.host.url == "instance-2:5432"
    assert dns.calls == [WRITER_EP.url, "instance-2:5432"]
    stale = world.opened[0]
    assert stale.host.url == "instance-1:5432"
    assert stale.closed
    assert world.initial_host.url == "instance-2:5432"


def test_fresh_writer_endpoint_is_kept_with_one_role_check() -> None:
    world = World(cluster(), initial=WRITER_EP)
    dns = Endpoints(world)
    conn = stale_dns(world).connect(WRITER_EP, {}, True, dns)
    assert conn.host.url == "instance-1:5432"
    assert not conn.closed
    assert dns.calls == [WRITER_EP.url]


@pytest.mark.parametrize(
    "host", [READER_EP, HostInfo(f"instance-1.{DOMAIN}", 5432), HostInfo("10.1.2.3", 5432)]
)
def test_other_endpoints_are_not_checked(host: HostInfo) -> None:
    world = World(cluster(), initial=host)
    world.promote("instance-2:5432")
    opened: list[FakeConn] = []

    def proceed(h: HostInfo, props: Any, initial: bool) -> Any:
        conn = FakeConn(h, HostRole.READER)
        opened.append(conn)
        return conn

    conn = stale_dns(world).connect(host, {}, False, proceed)
    assert conn is opened[0]
    assert len(opened) == 1


def test_no_known_writer_is_an_error_not_a_reader() -> None:
    world = World(cluster(), initial=WRITER_EP)
    world.promote("nobody")  # every instance is a reader, no writer in the topology
    dns = Endpoints(world)
    with pytest.raises(AwsConnectError) as info:
        stale_dns(world).connect(WRITER_EP, {}, True, dns)
    assert WRITER_EP.url in str(info.value)
    assert all(c.closed for c in world.opened)


def test_dead_connection_during_the_check_is_closed_and_raised() -> None:
    world = World(cluster(), initial=WRITER_EP)

    def proceed(h: HostInfo, props: Any, initial: bool) -> Any:
        return FakeConn(h, HostRole.WRITER, closed=True)  # the role query will fail with a network error

    with pytest.raises(FakeNetworkError):
        stale_dns(world).connect(WRITER_EP, {}, True, proceed)


# -- initial connection ------------------------------------------------------------------------------------


def initial_connection(world: World) -> InitialConnectionPlugin:
    plugin = InitialConnectionPluginFactory().create(world.context())
    assert isinstance(plugin, InitialConnectionPlugin)
    return plugin


def test_writer_endpoint_leading_to_a_reader_ends_on_the_writer() -> None:
    world = World(cluster(), initial=WRITER_EP)
    plugin = initial_connection(world)  # its cached topology still names instance-1 the writer
    world.promote("instance-3:5432")
    dns = Endpoints(world, writer_to="instance-1:5432")  # stale
    timer = Timer()
    conn = plugin.connect(WRITER_EP, {}, True, dns)
    assert timer.elapsed < 0.5  # the fresh topology named a new writer: tried at once, no pause
    assert conn.host.url == "instance-3:5432"
    assert world.initial_host.url == "instance-3:5432"
    assert [c.closed for c in world.opened] == [True, False]


def test_reader_endpoint_ends_on_a_reader() -> None:
    world = World(cluster(), initial=READER_EP)
    dns = Endpoints(world, reader_to="instance-1:5432")  # the reader endpoint led to the writer
    conn = initial_connection(world).connect(READER_EP, {}, True, dns)
    assert conn.host.url in ("instance-2:5432", "instance-3:5432")
    assert world.initial_host.role is HostRole.READER


def test_reader_endpoint_of_a_cluster_without_readers_accepts_the_writer() -> None:
    world = World(cluster(1), initial=READER_EP)
    dns = Endpoints(world, reader_to="instance-1:5432")
    conn = initial_connection(world).connect(READER_EP, {}, True, dns)
    assert conn.host.url == "instance-1:5432"
    assert not conn.closed


def test_retry_window_is_the_timeout_setting_not_the_interval() -> None:
    world = World(
        cluster(),
        initial=WRITER_EP,
        open_connection_retry_timeout_ms="700",
        open_connection_retry_interval_ms="100",
    )
    for server in world.servers.values():
        server.down = True
    dns = Endpoints(world)
    timer = Timer()
    with pytest.raises(FakeNetworkError):
        initial_connection(world).connect(WRITER_EP, {}, True, dns)
    # upstream stopped after one interval (100 ms); the window is 700 ms with 100 ms pauses, then one last try
    assert 0.6 <= timer.elapsed < 1.2
    assert 6 <= len(dns.calls) <= 9


def test_a_writer_that_appears_during_the_window_is_used() -> None:
    world = World(cluster(), initial=WRITER_EP, open_connection_retry_interval_ms="50")
    world.promote("nobody")  # failing over: no writer yet
    dns = Endpoints(world, writer_to="instance-1:5432")
    plugin = initial_connection(world)
    original = world.open

    def promote_later(host: HostInfo, props: Any = None) -> Any:
        if len(world.attempts) == 3:
            world.promote("instance-2:5432")
        return original(host, props)

    world.open = promote_later  # type: ignore[method-assign]
    conn = plugin.connect(WRITER_EP, {}, True, dns)
    assert conn.host.url == "instance-2:5432"


def test_login_errors_are_not_retried() -> None:
    world = World(cluster(), initial=WRITER_EP)
    world.servers["instance-1:5432"] = Server(role=HostRole.WRITER, login_error=True)
    dns = Endpoints(world)
    timer = Timer()
    with pytest.raises(FakeLoginError):
        initial_connection(world).connect(WRITER_EP, {}, True, dns)
    assert timer.elapsed < 0.5
    assert len(dns.calls) == 1


def test_other_errors_are_not_retried() -> None:
    world = World(cluster(), initial=WRITER_EP)

    def proceed(h: HostInfo, props: Any, initial: bool) -> Any:
        raise FakeSqlError('database "nope" does not exist')

    with pytest.raises(FakeSqlError):
        initial_connection(world).connect(WRITER_EP, {}, True, proceed)


def test_instance_and_ip_hosts_pass_straight_through() -> None:
    world = World(cluster())
    calls: list[str] = []

    def proceed(h: HostInfo, props: Any, initial: bool) -> Any:
        calls.append(h.url)
        return FakeConn(h, HostRole.READER)

    plugin = initial_connection(world)
    plugin.connect(HostInfo("127.0.0.1", 5432), {}, True, proceed)
    plugin.connect(HostInfo(f"db-1.{DOMAIN}", 5432), {}, True, proceed)
    assert calls == ["127.0.0.1:5432", f"db-1.{DOMAIN}:5432"]


def test_initial_connection_settings() -> None:
    world = World(cluster(), open_connection_retry_timeout_ms="-1")
    with pytest.raises(ConfigurationError, match="open_connection_retry_timeout_ms"):
        InitialConnectionPluginFactory().create(world.context())
    assert InitialConnectionPluginFactory.code == "initial_connection"
    assert "auroraInitialConnectionStrategy" in InitialConnectionPluginFactory.aliases
    assert InitialConnectionPluginFactory.weight == 50
    assert StaleDnsPluginFactory.weight == 200
    _ = time
