"""Pipeline compilation and ordering, with recording plugins and the in-memory fake driver."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import pytest

from aws_wrapper.core import AwsWrapperConnection, DbApiMethod
from aws_wrapper.core._pipeline import Pipelines
from aws_wrapper.core.errors import PluginError
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.methods import ALL_METHODS
from aws_wrapper.core.plugin import (
    RELATIVE_WEIGHT,
    ConnectionChange,
    ConnectProceed,
    ExecuteProceed,
    HostChange,
    OldConnectionSuggestion,
    Plugin,
    RawConnection,
)

from ._fakes import FakeConnection, FakeDriver, UseRegistry, fake_connect, recording_factory

T = TypeVar("T")
_M = DbApiMethod
HOST = HostInfo("db.local", 5432)


class Recorder(Plugin):
    def __init__(self, name: str, log: list[str], methods: frozenset[DbApiMethod] = ALL_METHODS) -> None:
        self.name = name
        self.log = log
        self.subscribed_methods = methods

    def execute(
        self, method: DbApiMethod, target: object, call: Callable[[], T], proceed: ExecuteProceed
    ) -> T:
        self.log.append(f"{self.name}>")
        result = proceed(target, call)
        self.log.append(f"<{self.name}")
        return result

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        self.log.append(f"{self.name}:connect")
        return proceed(host, props, initial)

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        self.log.append(f"{self.name}:force")
        return proceed(host, props, initial)


class Subscribed(Plugin):
    """Subscribes to everything but does not override ``execute``: never part of a chain."""

    subscribed_methods = ALL_METHODS


def _driver_call(log: list[str]) -> Callable[[], str]:
    def call() -> str:
        log.append("driver")
        return "result"

    return call


def test_chain_runs_outermost_first_and_unwinds_in_reverse() -> None:
    log: list[str] = []
    pipes = Pipelines([Recorder("a", log), Recorder("b", log), Recorder("c", log)])
    chain = pipes.execute[_M.CURSOR_EXECUTE]
    assert chain is not None
    assert chain(object(), _driver_call(log)) == "result"
    assert log == ["a>", "b>", "c>", "driver", "<c", "<b", "<a"]


def test_only_subscribed_plugins_join_a_chain_and_empty_chains_are_bypassed() -> None:
    log: list[str] = []
    pipes = Pipelines(
        [
            Recorder("a", log, frozenset({_M.CURSOR_EXECUTE})),
            Subscribed(),
            Recorder("b", log, frozenset({_M.CURSOR_EXECUTE, _M.CONNECTION_COMMIT})),
        ]
    )
    commit = pipes.execute[_M.CONNECTION_COMMIT]
    assert commit is not None
    commit(object(), _driver_call(log))
    assert log == ["b>", "driver", "<b"]
    bypassed = [m for m, chain in pipes.execute.items() if chain is None]
    assert set(bypassed) == ALL_METHODS - {_M.CURSOR_EXECUTE, _M.CONNECTION_COMMIT}


def test_no_plugins_compiles_every_chain_to_none() -> None:
    pipes = Pipelines([Subscribed(), Plugin()])
    assert all(chain is None for chain in pipes.execute.values())


def test_network_terminal_wraps_only_network_bound_methods() -> None:
    log: list[str] = []

    def terminal(target: object, call: Callable[[], Any]) -> Any:
        log.append("deadline")
        return call()

    network = frozenset({_M.CURSOR_EXECUTE})
    pipes = Pipelines(
        [Recorder("a", log, frozenset({_M.CURSOR_EXECUTE, _M.CURSOR_CLOSE}))], terminal, network
    )
    assert pipes.execute[_M.CONNECTION_COMMIT] is None
    execute = pipes.execute[_M.CURSOR_EXECUTE]
    close = pipes.execute[_M.CURSOR_CLOSE]
    assert execute is not None
    assert close is not None
    execute(object(), _driver_call(log))
    assert log == ["a>", "deadline", "driver", "<a"]
    log.clear()
    close(object(), _driver_call(log))
    assert log == ["a>", "driver", "<a"]
    # with no plugin at all the terminal itself is the chain of a network-bound method
    assert Pipelines([], terminal, network).execute[_M.CURSOR_EXECUTE] is terminal


def test_connect_chain_order_skip_and_cache() -> None:
    log: list[str] = []
    a, b = Recorder("a", log), Recorder("b", log)
    pipes = Pipelines([a, Plugin(), b])

    def terminal(host: HostInfo, props: Mapping[str, Any], initial: bool) -> str:
        log.append(f"open {host.url} initial={initial}")
        return "conn"

    chain = pipes.connect_chain("connect", terminal)
    assert chain(HOST, {}, True) == "conn"
    assert log == ["a:connect", "b:connect", "open db.local:5432 initial=True"]
    assert pipes.connect_chain("connect", terminal) is chain
    log.clear()
    pipes.connect_chain("force_connect", terminal, skip=a)(HOST, {}, False)
    assert log == ["b:force", "open db.local:5432 initial=False"]


def test_notifications_and_strategies() -> None:
    seen: list[str] = []

    class Answer(Plugin):
        def __init__(self, name: str, answer: OldConnectionSuggestion, host: HostInfo | None = None) -> None:
            self.name, self.answer, self.host = name, answer, host

        def notify_connection_changed(self, changes: frozenset[ConnectionChange]) -> OldConnectionSuggestion:
            seen.append(self.name)
            return self.answer

        def notify_host_list_changed(self, changes: Mapping[str, frozenset[HostChange]]) -> None:
            seen.append(f"{self.name}:{sorted(changes)}")

        def accepts_strategy(self, role: HostRole, strategy: str) -> bool:
            return strategy == self.name

        def get_host_info_by_strategy(
            self, role: HostRole, strategy: str, hosts: Sequence[HostInfo]
        ) -> HostInfo | None:
            return self.host

    no, dispose, preserve = (
        OldConnectionSuggestion.NO_OPINION,
        OldConnectionSuggestion.DISPOSE,
        OldConnectionSuggestion.PRESERVE,
    )
    changed = frozenset({ConnectionChange.CONNECTION_OBJECT_CHANGED})
    assert Pipelines([Answer("x", no)]).notify_connection_changed(changed) is no
    assert Pipelines([Answer("x", no), Answer("y", dispose)]).notify_connection_changed(changed) is dispose
    assert (
        Pipelines([Answer("x", preserve), Answer("y", dispose)]).notify_connection_changed(changed)
        is preserve
    )
    assert (
        Pipelines([Answer("x", dispose), Answer("y", preserve)]).notify_connection_changed(changed)
        is preserve
    )
    seen.clear()
    other = HostInfo("other", 5432, HostRole.READER)
    pipes = Pipelines([Answer("first", no), Answer("second", no, other), Answer("third", no, HOST)])
    pipes.notify_host_list_changed({"h:1": frozenset({HostChange.WENT_DOWN})})
    assert seen == ["first:['h:1']", "second:['h:1']", "third:['h:1']"]
    assert pipes.accepts_strategy(HostRole.READER, "second")
    assert not pipes.accepts_strategy(HostRole.READER, "random")
    assert pipes.get_host_info_by_strategy(HostRole.READER, "any", [HOST, other]) is other
    assert Pipelines([Plugin()]).get_host_info_by_strategy(HostRole.READER, "any", [HOST]) is None


def test_init_host_provider_chain_and_release_collects_errors() -> None:
    log: list[str] = []

    class Provider(Plugin):
        def __init__(self, name: str, stop: bool = False) -> None:
            self.name, self.stop = name, stop

        def init_host_provider(self, props: Mapping[str, Any], proceed: Callable[[], None]) -> None:
            log.append(f"{self.name}>")
            if not self.stop:
                proceed()
            log.append(f"<{self.name}")

        def release_resources(self) -> None:
            log.append(f"release {self.name}")
            if self.stop:
                raise RuntimeError("release failed")

    Pipelines([Provider("a"), Provider("b")]).init_host_provider({})
    assert log == ["a>", "b>", "<b", "<a"]
    log.clear()
    pipes = Pipelines([Provider("a", stop=True), Provider("b")])
    pipes.init_host_provider({})
    assert log == ["a>", "<a"]
    log.clear()
    errors = pipes.release_resources()
    assert log == ["release a", "release b"]
    assert [str(e) for e in errors] == ["release failed"]


# -- through the public API --------------------------------------------------------------------------------------


def test_wrapper_orders_plugins_by_weight_around_calls_and_connects(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    log: list[str] = []
    use_registry(
        recording_factory("outer", 100, log),
        recording_factory("inner", 400, log),
        recording_factory("right_after_outer", RELATIVE_WEIGHT, log),
    )
    conn = AwsWrapperConnection.connect(
        fake_connect, "host=db.local port=6000", plugins="inner,outer,right_after_outer"
    )
    assert log == [
        "outer:connect:db.local:6000:True",
        "right_after_outer:connect:db.local:6000:True",
        "inner:connect:db.local:6000:True",
        "inner:connected",
        "right_after_outer:connected",
        "outer:connected",
    ]
    log.clear()
    cur = conn.cursor()
    cur.execute("SELECT 1")
    assert cur.fetchone() == (1,)
    names = ["outer", "right_after_outer", "inner"]
    expected: list[str] = []
    for method in ("Connection.cursor", "Cursor.execute", "Cursor.fetchone"):
        expected += [f"{n}:before:{method}" for n in names]
        expected += [f"{n}:after:{method}" for n in reversed(names)]
    assert log == expected
    raw = fake_driver.connected[0]
    assert raw.statements == [("SELECT 1", None)]
    conn.close()
    assert raw.closed


def test_auto_sort_off_keeps_the_written_order(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    log: list[str] = []
    use_registry(recording_factory("outer", 100, log), recording_factory("inner", 400, log))
    conn = AwsWrapperConnection.connect(
        fake_connect, host="h", plugins="inner,outer", auto_sort_wrapper_plugin_order=False
    )
    assert log[:2] == ["inner:connect:h:5432:True", "outer:connect:h:5432:True"]
    conn.close()


def test_empty_plugins_bypasses_every_pipeline(fake_driver: FakeDriver, use_registry: UseRegistry) -> None:
    use_registry(recording_factory("would_be_default", 100, [], default=True))
    conn = AwsWrapperConnection.connect(fake_connect, "host=h plugins=")
    assert conn._rt.plugins == ()
    assert all(chain is None for chain in conn._rt.chains.values())
    conn.close()


def test_unset_plugins_uses_the_installed_defaults(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    log: list[str] = []
    use_registry(recording_factory("a_default", 100, log, default=True), recording_factory("opt_in", 50, log))
    conn = AwsWrapperConnection.connect(fake_connect, host="h")
    assert [type(p).__name__ for p in conn._rt.plugins] == ["RecordingPlugin"]
    assert log[0] == "a_default:connect:h:5432:True"
    conn.close()


def test_plugin_listed_twice_or_unknown_fails_before_connecting(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    use_registry(recording_factory("tracker", 100, []))
    with pytest.raises(PluginError, match="plugin 'TRACKER' is listed twice in plugins"):
        AwsWrapperConnection.connect(fake_connect, host="h", plugins="tracker, TRACKER")
    with pytest.raises(PluginError, match="unknown plugin code 'nope'; installed plugins: tracker"):
        AwsWrapperConnection.connect(fake_connect, host="h", plugins="tracker,nope")
    with pytest.raises(PluginError, match="plugin 'failover' is provided by aws-wrapper-failover"):
        AwsWrapperConnection.connect(fake_connect, host="h", plugins="failover")
    assert fake_driver.connected == []


def test_a_plugin_sees_the_driver_error_and_the_application_gets_it_unchanged(
    fake_driver: FakeDriver, use_registry: UseRegistry
) -> None:
    log: list[str] = []
    use_registry(recording_factory("watch", 100, log))
    conn = AwsWrapperConnection.connect(fake_connect, host="h", plugins="watch")
    cur = conn.cursor()
    raw: FakeConnection = conn.target_connection
    raw.closed = True
    log.clear()
    with pytest.raises(Exception, match="connection is closed") as info:
        cur.execute("SELECT 1")
    assert type(info.value).__name__ == "FakeNetworkError"
    assert log == ["watch:before:Cursor.execute", "watch:after:Cursor.execute"]
    conn.close()


class _NetworkOnly(Recorder):
    monitors_network = True


class _OddlyNamed(Plugin):
    """A third-party plugin that names its continuation differently still works (keyword-free link)."""

    subscribed_methods = frozenset({DbApiMethod.CURSOR_EXECUTE})

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def execute(self, method: DbApiMethod, target: object, call: Callable[[], T], nxt: ExecuteProceed) -> T:
        self.log.append("odd")
        return nxt(target, call)


def test_local_fetch_chains_leave_out_network_only_plugins() -> None:
    log: list[str] = []
    pipes = Pipelines([Recorder("a", log), _NetworkOnly("net", log)])
    local = pipes.local[_M.CURSOR_FETCHONE]
    assert local is not None
    assert local(object(), lambda: 7) == 7
    assert log == ["a>", "<a"]
    log.clear()
    full = pipes.execute[_M.CURSOR_FETCHONE]
    assert full is not None
    full(object(), lambda: 7)
    assert log == ["a>", "net>", "<net", "<a"]
    # only network-only plugins: a local fetch bypasses the pipeline entirely
    assert Pipelines([_NetworkOnly("net", log)]).local[_M.CURSOR_FETCHALL] is None


def test_a_continuation_with_another_name_is_linked_positionally() -> None:
    log: list[str] = []
    chain = Pipelines([_OddlyNamed(log), Recorder("b", log)]).execute[_M.CURSOR_EXECUTE]
    assert chain is not None
    assert chain(object(), lambda: "done") == "done"
    assert log == ["odd", "b>", "<b"]
