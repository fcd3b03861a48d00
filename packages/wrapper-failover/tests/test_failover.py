"""Logic of the ``failover`` plugin on fake services (real servers: tests-integration/failover)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from aws_wrapper.core.errors import (
    ConfigurationError,
    FailoverFailedError,
    FailoverSuccessError,
    TransactionResolutionUnknownError,
)
from aws_wrapper.core.hostinfo import HostAvailability, HostInfo, HostRole
from aws_wrapper.core.methods import DbApiMethod
from aws_wrapper.failover import FailoverMode, FailoverPlugin, FailoverPluginFactory

from ._fakes import (
    FakeNetworkError,
    FakeReadOnlyError,
    FakeSqlError,
    Timer,
    World,
    cluster,
    passing,
)

_M = DbApiMethod
WRITER_ENDPOINT = "mydb.cluster-xyz123abc456.us-east-1.rds.amazonaws.com"
READER_ENDPOINT = "mydb.cluster-ro-xyz123abc456.us-east-1.rds.amazonaws.com"
PROXY_ENDPOINT = "mydb.proxy-xyz123abc456.us-east-1.rds.amazonaws.com"


def make(world: World) -> FailoverPlugin:
    plugin = FailoverPluginFactory().create(world.context())
    assert isinstance(plugin, FailoverPlugin)
    world.connection_listeners.append(plugin)
    return plugin


def crash_writer(world: World, new_writer: str = "instance-2:5432") -> None:
    """The writer dies; ``new_writer`` is promoted and the monitor reports it."""
    world.server("instance-1:5432").down = True
    world.promote(new_writer)


def fail(
    plugin: FailoverPlugin, error: BaseException, method: DbApiMethod = _M.CURSOR_EXECUTE
) -> BaseException:
    """What core does when a call of ``method`` fails: the plugin's error handler sees the error, then it
    propagates unless the handler raised a replacement."""
    assert method in plugin.error_methods
    assert isinstance(error, Exception)
    with pytest.raises(BaseException) as info:
        _core_error_path(plugin, method, error)
    return info.value


def _core_error_path(plugin: FailoverPlugin, method: DbApiMethod, error: Exception) -> None:
    plugin.on_call_error(method, object(), error)
    raise error


# -- what is handled and what passes through ---------------------------------------------------------------


def test_sql_error_passes_through_unchanged() -> None:
    world = World(cluster())
    plugin = make(world)
    world.connect_current()
    error = FakeSqlError("syntax error at or near 'SELEC'")
    raised = fail(plugin, error)
    assert raised is error
    assert world.switches == []
    assert world.attempts[1:] == []  # nothing but the first connection was opened


def test_not_entered_per_call() -> None:
    """ABI 1.1: core runs calls inline; failover only sees errors and reads the status core sampled."""
    world = World(cluster())
    plugin = make(world)
    assert plugin.subscribed_methods == frozenset()
    assert plugin.marks_calls is True
    assert "execute" not in vars(FailoverPlugin)
    assert plugin.execute(_M.CURSOR_EXECUTE, object(), lambda: 42, passing) == 42  # the base pass-through


def test_network_error_outside_transaction_moves_to_new_writer() -> None:
    world = World(cluster())
    plugin = make(world)
    old = world.connect_current()
    crash_writer(world)
    error = FakeNetworkError("server closed the connection unexpectedly")
    raised = fail(plugin, error)
    assert type(raised) is FailoverSuccessError
    assert isinstance(raised, FailoverSuccessError)
    assert raised.driver_error is error
    assert raised.__cause__ is error
    assert world.current is not old
    assert world.current is not None
    assert world.current_host is not None
    assert world.current_host.url == "instance-2:5432"
    assert world.current_host.role is HostRole.WRITER
    assert world.availability["instance-1:5432"] is HostAvailability.UNAVAILABLE
    assert plugin.failover_count == 1
    assert "instance-2:5432" in str(raised)


def test_failover_connects_without_itself_and_with_a_bounded_connect_timeout() -> None:
    world = World(cluster(), failover_timeout_sec="5", failover_reader_connect_timeout_sec="2")
    plugin = make(world)
    world.connect_current()
    crash_writer(world)
    fail(plugin, FakeNetworkError("boom"))
    last_props = world.attempts[-1][2]
    assert last_props["connect_timeout"] == 2
    assert world.connector.skips[-1] is plugin  # no recursion into failover


def test_network_error_inside_transaction_rolls_back_and_reports_unknown_resolution() -> None:
    world = World(cluster())
    plugin = make(world)
    old = world.connect_current()
    old.in_tx = True
    crash_writer(world)
    error = FakeNetworkError("consuming input failed")
    raised = fail(plugin, error, _M.CONNECTION_COMMIT)
    assert type(raised) is TransactionResolutionUnknownError
    assert isinstance(raised, TransactionResolutionUnknownError)
    assert raised.driver_error is error
    assert old.rolled_back == 1  # the rollback attempt
    assert world.current_host is not None
    assert world.current_host.url == "instance-2:5432"


def test_rollback_is_not_attempted_on_a_closed_connection() -> None:
    world = World(cluster())
    plugin = make(world)
    old = world.connect_current()
    old.in_tx, old.closed = True, True
    crash_writer(world)
    assert type(fail(plugin, FakeNetworkError("x"))) is TransactionResolutionUnknownError
    assert old.rolled_back == 0


def test_sampled_psycopg_status_decides_the_transaction_question() -> None:
    world = World(cluster())
    plugin = make(world)
    old = world.connect_current()
    old.in_tx = True  # what a broken psycopg connection says (UNKNOWN counts as in a transaction)
    crash_writer(world)
    mark = world.context().connection.call_mark
    assert mark is not None
    mark.status = 0  # what core sampled before the call (psycopg IDLE): no transaction was open
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverSuccessError


def test_failover_error_from_an_inner_plugin_passes_through() -> None:
    world = World(cluster())
    plugin = make(world)
    world.connect_current()
    inner = FailoverSuccessError("inner plugin already failed over")
    assert fail(plugin, inner) is inner
    assert world.switches == []


def test_subscriptions_cover_network_bound_calls_but_not_close() -> None:
    world = World(cluster())
    plugin = make(world)
    assert _M.CURSOR_EXECUTE in plugin.error_methods
    assert _M.CONNECTION_COMMIT in plugin.error_methods
    assert _M.CONNECTION_CLOSE not in plugin.error_methods
    assert _M.CURSOR_CLOSE not in plugin.error_methods


def test_disabled_failover_subscribes_to_nothing() -> None:
    world = World(cluster(), enable_failover="false")
    plugin = make(world)
    assert plugin.subscribed_methods == frozenset()
    assert plugin.error_methods == frozenset()
    assert plugin.marks_calls is False


def test_rds_proxy_endpoint_disables_failover() -> None:
    world = World(cluster(), initial=HostInfo(PROXY_ENDPOINT, 5432))
    plugin = make(world)
    assert plugin.error_methods == frozenset()


# -- failing to fail over ----------------------------------------------------------------------------------


def test_failover_failed_within_timeout_when_no_writer_is_verified() -> None:
    world = World(cluster(), failover_timeout_sec="0.6")
    plugin = make(world)
    world.connect_current()
    world.server("instance-1:5432").down = True

    def never(timeout: float) -> Sequence[HostInfo]:
        time.sleep(timeout)
        raise TimeoutError("no writer verified")

    world.verify_writer = never
    error = FakeNetworkError("x")
    timer = Timer()
    raised = fail(plugin, error)
    assert type(raised) is FailoverFailedError
    assert isinstance(raised, FailoverFailedError)
    assert raised.driver_error is error
    assert 0.5 <= timer.elapsed < 0.6 + 1.0
    assert "failover_timeout_sec=0.6" in str(raised)


def test_blackholed_writer_does_not_delay_the_failed_outcome() -> None:
    world = World(cluster(), failover_timeout_sec="0.5")
    plugin = make(world)
    world.connect_current()
    world.server("instance-1:5432").hang = 3.0  # every connect attempt hangs far longer than the timeout
    timer = Timer()
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverFailedError
    assert timer.elapsed < 0.5 + 1.0


def test_dead_writer_is_retried_at_a_bounded_rate() -> None:
    world = World(cluster(), failover_timeout_sec="1.0")
    plugin = make(world)
    world.connect_current()
    world.server("instance-1:5432").down = True  # refuses at once; the topology keeps naming it
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverFailedError
    attempts = [t for t, url, _ in world.attempts[1:] if url == "instance-1:5432"]
    assert 5 <= len(attempts) <= 12  # about one per 100 ms, never a busy loop
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert min(gaps) >= 0.08


def test_failed_failover_leaves_the_connection_unchanged() -> None:
    world = World(cluster(), failover_timeout_sec="0.3")
    plugin = make(world)
    old = world.connect_current()
    world.server("instance-1:5432").down = True
    fail(plugin, FakeNetworkError("x"))
    assert world.current is old
    assert world.switches == []


def test_a_broken_new_connection_is_replaced_within_the_same_failover() -> None:
    world = World(cluster())
    plugin = make(world)
    world.connect_current()
    crash_writer(world)
    world.set_current_error = FakeNetworkError("the new connection died while restoring session state")
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverSuccessError
    assert len(world.switches) == 1
    closed = [c for c in world.opened[1:] if c.closed]
    assert len(closed) == 1  # the first new connection, which broke


def test_writer_that_turns_out_to_be_a_reader_is_refused() -> None:
    world = World(cluster())
    plugin = make(world)
    world.connect_current()
    world.server("instance-1:5432").down = True
    calls = {"n": 0}

    def monitor(timeout: float) -> Sequence[HostInfo]:
        calls["n"] += 1
        if calls["n"] == 1:  # a stale report first: instance-2 is named writer but is still a reader
            return [
                h.with_(role=HostRole.WRITER if h.url == "instance-2:5432" else HostRole.READER)
                for h in world.hosts
            ]
        world.promote("instance-3:5432")
        return world.hosts

    world.verify_writer = monitor
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverSuccessError
    assert world.current_host is not None
    assert world.current_host.url == "instance-3:5432"
    refused = [c for c in world.opened if c.host.url == "instance-2:5432"]
    assert refused
    assert all(c.closed for c in refused)


# -- reader modes ------------------------------------------------------------------------------------------


def test_strict_reader_lands_on_a_reader() -> None:
    world = World(cluster(), failover_mode="strict-reader")
    plugin = make(world)
    world.connect_current(world.hosts[1])
    world.server("instance-2:5432").down = True
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverSuccessError
    assert world.current_host is not None
    assert world.current_host.url == "instance-3:5432"
    assert world.current_host.role is HostRole.READER


def test_strict_reader_never_settles_for_the_writer_while_readers_exist() -> None:
    world = World(cluster(), failover_mode="strict_reader", failover_timeout_sec="0.5")
    plugin = make(world)
    world.connect_current(world.hosts[1])
    world.server("instance-2:5432").down = True
    world.server("instance-3:5432").down = True
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverFailedError
    writer_conns = [c for c in world.opened if c.host.url == "instance-1:5432"]
    assert writer_conns
    assert all(c.closed for c in writer_conns)


def test_strict_reader_accepts_the_writer_of_a_cluster_without_readers() -> None:
    world = World(cluster(1), failover_mode="strict_reader")
    plugin = make(world)
    world.connect_current()
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverSuccessError
    assert world.current_host is not None
    assert world.current_host.role is HostRole.WRITER


def test_reader_or_writer_falls_back_to_the_writer() -> None:
    world = World(cluster(), failover_mode="reader_or_writer")
    plugin = make(world)
    world.connect_current(world.hosts[1])
    world.server("instance-2:5432").down = True
    world.server("instance-3:5432").down = True
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverSuccessError
    assert world.current_host is not None
    assert world.current_host.url == "instance-1:5432"


def test_reader_or_writer_prefers_a_slightly_slower_reader() -> None:
    world = World(cluster(), failover_mode="reader_or_writer")
    plugin = make(world)
    world.connect_current(world.hosts[1])
    world.server("instance-2:5432").down = True

    slow = world.open

    def open_slowly(host: HostInfo, props: Any = None) -> Any:
        if host.url == "instance-3:5432":
            time.sleep(0.2)
        return slow(host, props)

    world.open = open_slowly  # type: ignore[method-assign]
    assert type(fail(plugin, FakeNetworkError("x"))) is FailoverSuccessError
    assert world.current_host is not None
    assert world.current_host.url == "instance-3:5432"
    writer_conns = [c for c in world.opened if c.host.url == "instance-1:5432"]
    assert all(c.closed for c in writer_conns)


def test_reader_endpoint_defaults_to_reader_or_writer() -> None:
    world = World(cluster(), initial=HostInfo(READER_ENDPOINT, 5432))
    assert make(world).resolve_mode() is FailoverMode.READER_OR_WRITER
    world = World(cluster(), initial=HostInfo(WRITER_ENDPOINT, 5432))
    assert make(world).resolve_mode() is FailoverMode.STRICT_WRITER
    world = World(cluster(), initial=HostInfo(READER_ENDPOINT, 5432), failover_mode="STRICT-WRITER")
    assert make(world).resolve_mode() is FailoverMode.STRICT_WRITER


# -- read-only errors --------------------------------------------------------------------------------------


def test_read_only_error_on_a_demoted_writer_fails_over() -> None:
    world = World(cluster())
    plugin = make(world)
    world.connect_current()
    world.promote("instance-2:5432")  # instance-1 is alive but now a reader
    error = FakeReadOnlyError("cannot execute INSERT in a read-only transaction")
    raised = fail(plugin, error)
    assert type(raised) is FailoverSuccessError
    assert world.current_host is not None
    assert world.current_host.url == "instance-2:5432"
    assert "instance-1:5432" not in world.availability  # alive: not marked down


def test_read_only_error_the_application_asked_for_passes_through() -> None:
    world = World(cluster())
    plugin = make(world)
    world.connect_current()
    error = FakeReadOnlyError("cannot execute INSERT in a read-only transaction")
    assert fail(plugin, error) is error  # still the writer: e.g. SET TRANSACTION READ ONLY
    world.read_only_session = True
    world.promote("instance-2:5432")
    assert fail(plugin, error) is error  # conn.read_only = True: never a failover
    assert world.switches == []


def test_read_only_error_in_reader_mode_passes_through() -> None:
    world = World(cluster(), failover_mode="reader_or_writer")
    plugin = make(world)
    world.connect_current(world.hosts[1])
    error = FakeReadOnlyError("read-only")
    assert fail(plugin, error) is error


# -- connect-time failover ---------------------------------------------------------------------------------


def test_connect_failover_is_off_by_default() -> None:
    world = World(cluster())
    plugin = make(world)
    error = FakeNetworkError("refused")

    def proceed(host: HostInfo, props: Any, initial: bool) -> Any:
        raise error

    with pytest.raises(FakeNetworkError) as info:
        plugin.connect(world.hosts[0], world.props, True, proceed)
    assert info.value is error


def test_connect_failover_returns_a_connection_to_the_new_writer() -> None:
    world = World(cluster(), enable_connect_failover="true")
    plugin = make(world)
    crash_writer(world)

    def proceed(host: HostInfo, props: Any, initial: bool) -> Any:
        return world.open(host, props)

    conn = plugin.connect(world.hosts[0].with_(role=HostRole.WRITER), world.props, True, proceed)
    assert conn.host.url == "instance-2:5432"
    assert world.initial_host.url == "instance-2:5432"


# -- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("failover_mode", "sideways", "failover_mode"),
        ("failover_timeout_sec", "soon", "failover_timeout_sec"),
        ("failover_timeout_sec", "0", "failover_timeout_sec"),
        ("enable_failover", "maybe", "enable_failover"),
    ],
)
def test_invalid_settings_are_named_in_the_error(name: str, value: str, fragment: str) -> None:
    props: dict[str, Any] = {name: value}
    world = World(cluster(), **props)
    with pytest.raises(ConfigurationError) as info:
        FailoverPluginFactory().create(world.context())
    assert fragment in str(info.value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("strict_writer", FailoverMode.STRICT_WRITER),
        ("strict-writer", FailoverMode.STRICT_WRITER),
        ("STRICT_READER", FailoverMode.STRICT_READER),
        ("reader-or-writer", FailoverMode.READER_OR_WRITER),
    ],
)
def test_mode_spellings(text: str, mode: FailoverMode) -> None:
    assert FailoverMode.parse(text) is mode


def test_factory_declares_its_codes() -> None:
    assert FailoverPluginFactory.code == "failover"
    assert set(FailoverPluginFactory.aliases) >= {"failover_v2", "failover2"}
    assert FailoverPluginFactory.weight == 400
    assert FailoverPluginFactory.default is True
    names = {s.name for s in FailoverPluginFactory.settings}
    assert names >= {
        "failover_mode",
        "failover_timeout_sec",
        "failover_reader_host_selector_strategy",
        "enable_connect_failover",
        "enable_failover",
        "failover_cluster_topology_refresh_rate_sec",
        "failover_writer_reconnect_interval_sec",
        "failover_reader_connect_timeout_sec",
        "telemetry_failover_additional_top_trace",
    }


def test_concurrent_failovers_of_separate_connections_do_not_interfere() -> None:
    world_hosts = cluster()
    worlds = [World(world_hosts) for _ in range(4)]
    plugins = [make(w) for w in worlds]
    for w in worlds:
        w.connect_current()
        crash_writer(w)
    results: list[BaseException] = []

    def run(plugin: FailoverPlugin) -> None:
        results.append(fail(plugin, FakeNetworkError("x")))

    threads = [threading.Thread(target=run, args=(p,)) for p in plugins]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [type(r) for r in results] == [FailoverSuccessError] * 4
    assert all(w.current_host is not None and w.current_host.url == "instance-2:5432" for w in worlds)


def test_an_unknown_reader_strategy_is_refused_before_the_driver_connects() -> None:
    """A strategy may come from another plugin of the connection, so it is checked once the pipeline exists:
    at the first connect, before the driver is called."""
    world = World(cluster(), failover_reader_host_selector_strategy="best")
    plugin = FailoverPluginFactory().create(world.context())
    called: list[object] = []

    def proceed(host: HostInfo, props: Any, initial: bool) -> Any:
        called.append(host)
        raise AssertionError("the driver must not be called")

    with pytest.raises(ConfigurationError) as info:
        plugin.connect(world.initial_host, world.props, True, proceed)
    assert "failover_reader_host_selector_strategy" in str(info.value)
    assert "'best'" in str(info.value)
    assert called == []
