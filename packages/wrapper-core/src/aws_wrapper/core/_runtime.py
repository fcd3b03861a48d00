"""The state and services of one wrapper connection.

One object implements the narrow service protocols a plugin receives (connection, topology, connector, dialects,
session state); plugins only ever see them typed as those protocols.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from types import MappingProxyType, ModuleType
from typing import Any, NoReturn

from . import _chain_sync
from ._calls import CallMark
from ._chain_sync import CallGuard
from ._config import CORE_SETTINGS, DRIVER_MAPPED, CoreConfig
from ._locks import AbstractLock
from ._pipeline import ExecuteChain, Pipelines
from ._selection import HostSelection
from .driver import DriverDialect
from .errors import ConfigurationError, InterfaceError
from .host_list import AVAILABILITY, StaticHostListProvider
from .hostinfo import HostAvailability, HostInfo, HostRole
from .methods import DbApiMethod
from .monitors import MONITORS
from .plugin import (
    ConnectionChange,
    HostChange,
    OldConnectionSuggestion,
    Plugin,
    PluginFactory,
    RawConnection,
)
from .registry import REGISTRY
from .selectors import CONNECTION_COUNTS
from .services import (
    DatabaseDialect,
    DialectManager,
    ErrorClassifier,
    HostListContext,
    HostListProvider,
    SessionField,
)
from .session_state import (
    MISSING,
    AttributeSessionField,
    ConnectionSwitch,
    CustomSessionField,
    SessionKey,
    SessionState,
    SessionStateTransferHandlers,
    read_field,
)
from .storage import STORAGE

logger = logging.getLogger("aws_wrapper.core")

_lock = threading.Lock()
_dialect_manager: tuple[DialectManager | None] | None = None
_wrapper_keys: tuple[int, frozenset[str], tuple[str, ...]] | None = None


def dialect_manager() -> DialectManager | None:
    """The installed dialect manager (aws-wrapper-dialects), loaded once per process."""
    global _dialect_manager
    if _dialect_manager is None:
        with _lock:
            if _dialect_manager is None:
                manager: DialectManager | None = None
                for ep in REGISTRY.entry_points("aws_wrapper.dialect_manager"):
                    try:
                        manager = ep.load()()
                        break
                    except Exception as exc:
                        logger.warning("dialect manager %r could not be loaded: %s", ep.value, exc)
                _dialect_manager = (manager,)
    return _dialect_manager[0]


def wrapper_keys() -> tuple[frozenset[str], tuple[str, ...]]:
    """Setting names and key prefixes that belong to the wrapper: core's own, those every installed distribution
    declares (entry-point group ``aws_wrapper.settings``, read without importing any plugin) and those of the
    plugins imported so far."""
    global _wrapper_keys
    generation = REGISTRY.generation  # read first: a plugin imported meanwhile makes the next call recompute
    declared, declared_prefixes = REGISTRY.setting_keys()  # the metadata, scanned once per process
    if _wrapper_keys is None or _wrapper_keys[0] != generation:
        names = ({s.name for s in CORE_SETTINGS} - DRIVER_MAPPED) | declared
        prefixes = set(declared_prefixes)
        from .selectors import SELECTOR_SETTINGS  # host selection weights (used by several plugins)

        names.update(s.name for s in SELECTOR_SETTINGS)
        from .telemetry import TELEMETRY_SETTINGS  # enable_telemetry, telemetry_*_backend, ...

        names.update(s.name for s in TELEMETRY_SETTINGS)
        _wrapper_keys = (generation, frozenset(names | DRIVER_MAPPED), tuple(sorted(prefixes)))
    return _wrapper_keys[1], _wrapper_keys[2]


class GenericDialect:
    """Used when aws-wrapper-dialects is not installed: no topology, driver-level error classification."""

    def __init__(self, driver: DriverDialect) -> None:
        self._driver = driver

    @property
    def code(self) -> str:
        return self._driver.engine

    @property
    def engine(self) -> str:
        return self._driver.engine

    @property
    def default_port(self) -> int:
        return self._driver.default_port

    @property
    def errors(self) -> ErrorClassifier:
        return self._driver.errors

    def create_host_list_provider(self, context: HostListContext) -> HostListProvider:
        return StaticHostListProvider(context.initial_host)


class Runtime:
    """One wrapper connection's services (see :mod:`aws_wrapper.core.services`)."""

    def __init__(
        self,
        target_connect: Callable[..., Any],
        props: dict[str, Any],
        config: CoreConfig,
        driver: DriverDialect,
        chains: ModuleType = _chain_sync,
    ) -> None:
        """``chains``: ``_chain_sync``, or ``_chain_async`` for an async wrapper connection (its pipelines and
        call guard are coroutines; everything else here is the same)."""
        self.target_connect = target_connect
        self.chains_module = chains
        self.props: Mapping[str, Any] = MappingProxyType(props)
        self.config = config
        self.driver = driver
        self.session = SessionState()
        self.generation = 0  # bumped on every switch of the physical connection and on close (stale cursors)
        self.closed = False  # set once close() began, from whatever thread; never reset
        self._closed_event = threading.Event()
        self._state_lock = threading.Lock()  # orders close() against installing a new physical connection
        #: Serializes calls for drivers without a lock of their own (mysql-connector); see ``locked_call``
        #: (``_chain_async.py``). Not reentrant for an async connection, so that a second task is refused.
        self.call_lock: AbstractLock = threading.RLock() if chains is _chain_sync else threading.Lock()
        #: Work on the connection in progress that close() must wait for (see ``hold``); one entry each
        #: (``list.append`` / ``list.pop`` are atomic, so concurrent threads cannot lose an entry).
        self.calls: list[None] = []
        self._current: RawConnection | None = None
        self._current_host: HostInfo | None = None
        self._initial_host = _initial_host(props, driver)
        self._manager = dialect_manager()
        self._dialect: DatabaseDialect = (
            self._manager.initial(self._initial_host, driver, self.props)
            if self._manager
            else GenericDialect(driver)
        )
        self._provider: HostListProvider = self._dialect.create_host_list_provider(self._host_list_context())
        self._hosts: tuple[HostInfo, ...] = (self._initial_host,)
        self.pipelines = Pipelines(())
        self._provider_from_plugin = False
        self._reached: weakref.WeakKeyDictionary[Any, HostInfo] = weakref.WeakKeyDictionary()
        self.selection = HostSelection(lambda: self.pipelines, lambda: self.hosts, self.props)
        self.plugins: tuple[Plugin, ...] = ()
        self.chains: dict[DbApiMethod, ExecuteChain | None] = self.pipelines.execute
        #: Core's work around network-bound calls on the current physical connection (None: nothing to do).
        self.guard: CallGuard | None = None

    def _host_list_context(self) -> HostListContext:
        return HostListContext(
            props=self.props,
            initial_host=self._initial_host,
            driver=self.driver,
            connector=self,
            storage=STORAGE,
            monitors=MONITORS,
            aux_query_timeout=self.config.aux_query_timeout,
        )

    def install_plugins(self, factories: Iterable[type[PluginFactory]]) -> None:
        from .services import PluginContext
        from .telemetry import telemetry_for

        telemetry = telemetry_for(self.props)
        context = PluginContext(
            props=self.props,
            config=self.config,
            connection=self,
            topology=self,
            connector=self,
            dialects=self,
            session_state=self,
            storage=STORAGE,
            monitors=MONITORS,
            selection=self.selection,
            telemetry=telemetry,
        )
        plugins = [factory().create(context) for factory in factories]
        if telemetry.enabled:  # off: the plugin list, and so every compiled chain, is unchanged
            from .telemetry import records_traces

            if records_traces(telemetry):  # not for metrics alone
                from ._telemetry_calls import CallSpanPlugin

                plugins.insert(0, CallSpanPlugin(telemetry))
        terminal: ExecuteChain | None = None
        timeout = self.config.socket_timeout
        if timeout is not None:
            terminal = partial(self.chains_module.timed_call, timeout, self)
        if not self.driver.serializes_calls:
            chains = self.chains_module
            terminal = partial(chains.locked_call, self, terminal or chains.plain_call)
        self.plugins = tuple(plugins)
        self.pipelines = Pipelines(
            plugins,
            terminal,
            self.driver.network_bound_methods,
            closed=self._is_closed,
            terminal_is_lock=timeout is None,
            guard=self._current_guard,
            chains=self.chains_module,
        )
        self.chains = self.pipelines.execute
        self._renew_guard(self._current)

    # -- the call guard (see _calls.py) -------------------------------------------------------------------------
    def run_call(self, method: DbApiMethod, target: object, call: Callable[[], Any]) -> Any:
        """Run one DB-API call of the wrapper on ``target``: through its pipeline, core's call guard, or directly."""
        chain = self.chains[method]
        if chain is not None:
            return chain(target, call)
        guard = self.guard
        if guard is None or method not in self.pipelines.fused:
            return call()
        return guard.run(method, target, call)

    def _current_guard(self) -> CallGuard | None:
        return self.guard

    def _renew_guard(self, conn: RawConnection | None) -> None:
        """A new :class:`CallGuard` for ``conn`` (called under the state lock when the connection changes)."""
        pipes = self.pipelines
        old = self.guard
        if old is not None and old.mark is not None:
            old.mark.live = False
        if not (pipes.fused or pipes.marks_calls):
            self.guard = None
            return
        mark = source = None
        if pipes.marks_calls:
            mark = CallMark(conn)
            status_source = getattr(self.driver, "transaction_status_source", None)
            if conn is not None and status_source is not None:
                source = status_source(conn)
        lock = None if self.driver.serializes_calls else self.call_lock
        guard: CallGuard = self.chains_module.Guard(
            mark, source, lock, pipes.error_handlers, self._is_closed, self._busy
        )
        self.guard = guard

    def _busy(self) -> NoReturn:
        if self.closed:
            raise InterfaceError("the connection is closed")
        raise InterfaceError(
            f"the connection is in use by another thread: {self.driver.code} connections cannot be used by "
            "two threads at once (DB-API threadsafety 1); give each thread its own connection"
        )

    @property
    def call_mark(self) -> CallMark | None:
        guard = self.guard
        return None if guard is None else guard.mark

    def _is_closed(self) -> bool:
        return self.closed

    # -- ConnectionService -------------------------------------------------------------------------------
    @property
    def current_connection(self) -> RawConnection | None:
        return self._current

    @property
    def current_host(self) -> HostInfo | None:
        return self._current_host

    @property
    def initial_host(self) -> HostInfo:
        return self._initial_host

    @initial_host.setter
    def initial_host(self, host: HostInfo) -> None:
        self._initial_host = host

    def is_in_transaction(self) -> bool:
        conn = self._current
        return conn is not None and self.driver.is_in_transaction(conn)

    def abort(self, conn: RawConnection) -> None:
        self.driver.abort(conn)

    def set_current(self, conn: RawConnection, host: HostInfo) -> None:
        old, old_host = self._current, self._current_host
        if old is conn:
            self._current_host = host
            if old_host is not None and old_host.url != host.url:
                CONNECTION_COUNTS.closed(old_host.url)
                CONNECTION_COUNTS.opened(host.url)
            return
        if old is None:
            with self._state_lock:
                self._refuse_if_closed(conn)
                self._current, self._current_host = conn, host
                self._renew_guard(conn)
                self.generation += 1
            CONNECTION_COUNTS.opened(host.url)
            self.pipelines.notify_connection_changed(frozenset({ConnectionChange.INITIAL_CONNECTION}))
            return
        if self.closed:  # checked again below, under the lock; this only saves the transfer
            self._refuse_if_closed(conn)
        self._transfer_state(conn)  # notes the switch; transfers with transfer_session_state_on_switch
        was_in_tx = False
        try:
            was_in_tx = self.driver.is_in_transaction(old)
        except Exception:
            pass
        with self._state_lock:
            self._refuse_if_closed(conn)
            self._current, self._current_host = conn, host
            self._renew_guard(conn)
            self.generation += 1
        if old_host is not None:
            CONNECTION_COUNTS.closed(old_host.url)
        CONNECTION_COUNTS.opened(host.url)
        if was_in_tx and self.config.rollback_on_switch:
            try:
                self.driver.rollback(old)
            except Exception:
                logger.debug("rollback of the replaced connection failed", exc_info=True)
        answer = self.pipelines.notify_connection_changed(
            frozenset({ConnectionChange.CONNECTION_OBJECT_CHANGED})
        )
        if answer is not OldConnectionSuggestion.PRESERVE:
            self.dispose(old)

    def _refuse_if_closed(self, conn: RawConnection) -> None:
        """Closing wins: a connection opened for a wrapper connection that was closed meanwhile (e.g. by a
        failover still running when another thread called close()) is closed, never installed."""
        if self.closed:
            self.driver.close(conn)
            raise InterfaceError(
                "the connection was closed while a new physical connection was being opened for it (close() "
                "from another thread); the new connection was discarded"
            )

    def wait_closed(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; return True (early) once the wrapper connection is closed."""
        return self._closed_event.wait(timeout) if timeout > 0 else self.closed

    def begin_close(self) -> tuple[bool, RawConnection | None]:
        """Mark the wrapper connection closed (first caller only: returns ``(True, physical connection)``).
        From now on no new physical connection is installed, cursors of this connection refuse to run, and
        plugins see ``closed``; a failover in progress gives up."""
        with self._state_lock:
            if self.closed:
                return False, None
            self.closed = True
            self.generation += (
                1  # every cursor re-checks before its next call and finds the connection closed
            )
            self._closed_event.set()
            if self._current is not None and self._current_host is not None:
                CONNECTION_COUNTS.closed(self._current_host.url)
            return True, self._current

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Mark work on the connection in progress (e.g. a failover after a failed call); close() from another
        thread aborts the connection and waits for it to end (about a second at most: the work must check
        ``closed`` and give up)."""
        self.calls.append(None)
        try:
            yield
        finally:
            self.calls.pop()

    def drain(self, conn: RawConnection, wait: float) -> None:
        """Before close(): when a wrapper call is in flight (on another thread), abort ``conn`` so that it fails at
        once, and wait at most ``wait`` seconds for it to leave the wrapper."""
        lock = self._lock_for(conn)
        if not self.calls and lock.acquire(False):
            lock.release()
            return
        self.abort(conn)
        deadline = time.monotonic() + wait
        while self.calls and time.monotonic() < deadline:
            time.sleep(0.001)

    def _lock_for(self, conn: RawConnection) -> AbstractLock:
        if self.driver.serializes_calls:
            lock = self.driver.connection_lock(conn)
            if lock is not None:
                return lock
        return self.call_lock

    def dispose(self, conn: RawConnection, wait: float = 1.0) -> None:
        """Restore the pristine session state (when configured) and close ``conn`` quietly.

        Never closes the driver connection under a call running on it in another thread (libpq and
        libmysqlclient free their connection on close): such a call is aborted first, and the close waits for
        the driver's call lock (at most ``wait`` seconds; after that the connection is left to that call)."""
        lock = self._lock_for(conn)
        if lock.acquire(False):
            lock.release()
            if self.config.reset_session_state and not self.driver.is_closed(conn):
                self._reset_state(conn)
        if not lock.acquire(False):
            self.abort(conn)
            if not lock.acquire(timeout=wait):
                logger.warning(
                    "a call on a connection being closed did not return within %.1f s of being aborted; the "
                    "physical connection is left to it",
                    wait,
                )
                return
        if lock is not self.call_lock:
            # The driver's own lock (psycopg) is not held across close(): a driver subclass's close() may run a
            # statement, which takes that lock again. Wrapper calls cannot start meanwhile (generation bump).
            lock.release()
            self.driver.close(conn)
            return
        try:
            self.driver.close(conn)
        finally:
            lock.release()

    def _transfer_state(self, conn: RawConnection) -> None:
        """Before ``conn`` replaces the current physical connection: note the switch (``last_switch``) and, with
        ``transfer_session_state_on_switch``, give ``conn`` every value set through the wrapper (the built-in
        fields first, then custom and attribute fields in the order of their first change)."""
        session = self.session
        if self._current is not None:
            session.last_switch = ConnectionSwitch(self._current, conn, self._current_host)
        if not self.config.transfer_session_state:
            return
        handler = SessionStateTransferHandlers.get_transfer_session_state_on_switch_func()
        if handler is not None and handler(session.copy(), conn):
            return
        for field in session.changed_keys():
            if isinstance(field, SessionField) or field.transfer:
                self._apply(conn, field, session.get(field).value)

    def _reset_state(self, conn: RawConnection) -> None:
        handler = SessionStateTransferHandlers.get_reset_session_state_on_close_func()
        session = self.session
        try:
            if handler is not None and handler(session.copy(), conn):
                return
            # the connection is closing: an open transaction is discarded with it, and only attributes of the
            # driver connection (client side) are restored
            client_side_only = self.driver.is_in_transaction(conn)
        except Exception:
            logger.debug("restoring the pristine session state failed", exc_info=True)
            return
        for field in session.changed_keys():
            if client_side_only and not isinstance(field, AttributeSessionField):
                continue
            value = session.get(field)
            try:
                if value.pristine == value.value:
                    continue
                if isinstance(field, SessionField):
                    self._apply(conn, field, value.pristine)
                elif field.reset_on_close:
                    field.restore(conn, value.pristine)
            except Exception:
                name = field.value if isinstance(field, SessionField) else field.name
                logger.debug("restoring the pristine value of session field %r failed", name, exc_info=True)
                if self.driver.is_closed(conn):
                    return

    def _apply(self, conn: RawConnection, field: SessionField | CustomSessionField, value: object) -> None:
        if field is SessionField.AUTOCOMMIT:
            self.driver.set_autocommit(conn, bool(value))
        elif field is SessionField.READ_ONLY:
            self.driver.set_read_only(conn, bool(value))
        elif field is SessionField.ISOLATION_LEVEL:
            self.driver.set_isolation_level(conn, value if isinstance(value, str) else None)
        elif isinstance(field, CustomSessionField):
            field.apply(conn, value)

    # -- SessionStateService -------------------------------------------------------------------------------
    def current(self, field: SessionKey) -> object | None:
        return self.session.peek(field).value

    def pristine(self, field: SessionKey) -> object | None:
        return self.session.peek(field).pristine

    def is_changed(self, field: SessionKey) -> bool:
        return self.session.peek(field).changed

    def register_field(self, field: CustomSessionField) -> None:
        self.session.register(field)

    def set_field(self, field: SessionKey, value: object) -> None:
        conn = self._current
        if conn is None or self.closed:
            raise InterfaceError("the connection is closed")
        session = self.session
        key = session.resolve(field)
        known = session.peek(key)
        pristine = known.pristine if known.changed else read_field(self.driver, conn, key)
        self._apply(conn, key, value)
        if isinstance(key, CustomSessionField):
            session.register(key)
        session.get(key).record(value, pristine)

    def record(self, field: SessionKey, value: object, *, pristine: object = MISSING) -> None:
        session = self.session
        key = session.resolve(field)
        if pristine is MISSING and not session.peek(key).changed:
            conn = self._current
            if conn is None or self.closed:
                raise InterfaceError("the connection is closed")
            pristine = read_field(self.driver, conn, key)
        if isinstance(key, CustomSessionField):
            session.register(key)
        session.get(key).record(value, pristine)

    @property
    def last_switch(self) -> ConnectionSwitch | None:
        switch = self.session.last_switch
        return switch if switch is not None and switch.new is self._current else None

    # -- DialectService --------------------------------------------------------------------------------------
    @property
    def database(self) -> DatabaseDialect:
        return self._dialect

    @property
    def errors(self) -> ErrorClassifier:
        return self._dialect.errors

    def _refine_dialect(self, conn: RawConnection) -> None:
        if self._manager is None or self.config.wrapper_dialect:
            return
        dialect = self._manager.refine(conn, self._dialect, self.driver, self.props)
        if dialect is not self._dialect:
            logger.debug("database dialect changed from %s to %s", self._dialect.code, dialect.code)
            self._dialect = dialect
            if self._provider_from_plugin:
                return  # a plugin installed its own host list provider: it stays
            self._provider.release_resources()
            self._provider = dialect.create_host_list_provider(self._host_list_context())

    # -- TopologyService ---------------------------------------------------------------------------------------
    @property
    def hosts(self) -> tuple[HostInfo, ...]:
        apply = AVAILABILITY.apply
        return tuple(apply(h) for h in self._hosts)

    @property
    def provider(self) -> HostListProvider:
        return self._provider

    @provider.setter
    def provider(self, provider: HostListProvider) -> None:
        self._provider = provider
        self._provider_from_plugin = True  # kept when the database dialect is refined after connecting

    def refresh(self) -> tuple[HostInfo, ...]:
        self._update_hosts(self._provider.refresh(self._current))
        return self.hosts

    def force_refresh(self, *, verify_writer: bool = False, timeout: float = 5.0) -> tuple[HostInfo, ...]:
        self._update_hosts(
            self._provider.force_refresh(
                self._current, verify_writer=verify_writer, timeout=timeout, cancelled=self._is_closed
            )
        )
        return self.hosts

    def identify_connection(self, conn: RawConnection) -> HostInfo | None:
        return self._provider.identify_connection(conn)

    def get_host_role(self, conn: RawConnection) -> HostRole:
        return self._provider.get_host_role(conn)

    def set_availability(self, aliases: Iterable[str], availability: HostAvailability) -> None:
        AVAILABILITY.set(aliases, availability)

    def _update_hosts(self, hosts: Iterable[HostInfo]) -> None:
        new = tuple(hosts)
        if not new or new == self._hosts:
            self._hosts = new or self._hosts
            return
        old = {h.url: h for h in self._hosts}
        changes: dict[str, frozenset[HostChange]] = {}
        for host in new:
            before = old.pop(host.url, None)
            if before is None:
                changes[host.url] = frozenset({HostChange.HOST_ADDED})
            elif before.role is not host.role:
                kind = (
                    HostChange.CONVERTED_TO_WRITER
                    if host.role is HostRole.WRITER
                    else HostChange.CONVERTED_TO_READER
                )
                changes[host.url] = frozenset({kind})
        for url in old:
            changes[url] = frozenset({HostChange.HOST_DELETED})
        self._hosts = new
        if changes:
            self.pipelines.notify_host_list_changed(changes)

    # -- ConnectorService -------------------------------------------------------------------------------------
    def connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        chain = self.pipelines.connect_chain("connect", self._terminal_connect, skip)
        return chain(host, self.props if props is None else props, False)

    def force_connect(
        self, host: HostInfo, props: Mapping[str, Any] | None = None, *, skip: Plugin | None = None
    ) -> RawConnection:
        chain = self.pipelines.connect_chain("force_connect", self._terminal_force_connect, skip)
        return chain(host, self.props if props is None else props, False)

    def open_initial(self) -> RawConnection:
        chain = self.pipelines.connect_chain("connect", self._terminal_connect)
        return chain(self._initial_host, self.props, True)

    def report_reached(self, conn: RawConnection, host: HostInfo) -> None:
        self._reached[conn] = host

    def reached_host(self, conn: RawConnection) -> HostInfo | None:
        try:
            return self._reached.get(conn)
        except TypeError:  # a connection class without weak references: nothing could be reported
            return None

    def _terminal_force_connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool
    ) -> RawConnection:
        """``force_connect`` opens connections the application never sees (monitoring, probing). For an async
        wrapper connection they are connections of the driver's sync API (``sync_twin`` of the async driver
        dialect), so that the monitors stay plain threads, independent of any event loop."""
        twin = getattr(self.driver, "sync_twin", None)
        if twin is None:
            return self._terminal_connect(host, props, initial)
        driver, connect_func = twin()
        return self._terminal_connect(host, props, initial, driver, connect_func)

    def _terminal_connect(
        self,
        host: HostInfo,
        props: Mapping[str, Any],
        initial: bool,
        driver: DriverDialect | None = None,
        connect_func: Callable[..., Any] | None = None,
    ) -> RawConnection:
        config = self.config if props is self.props else CoreConfig.parse(props)
        driver = driver or self.driver
        # for_connect(): connect_timeout as the bound to apply (the default when unset, None for 0 = no limit)
        args = driver.prepare_connect_args(host, self.driver_props(props), config.for_connect())
        try:
            conn = driver.connect(connect_func or self.target_connect, args)
        except Exception as error:
            from ._suggest import unknown_setting_error  # a misspelt setting the driver rejected

            unknown = unknown_setting_error(error, args, driver.code)
            if unknown is None:
                raise
            raise unknown from error
        AVAILABILITY.set(host.all_aliases, HostAvailability.AVAILABLE)
        if initial:
            try:
                self._refine_dialect(conn)
            except BaseException:
                self.driver.close(conn)
                raise
        return conn

    def driver_props(self, props: Mapping[str, Any]) -> dict[str, Any]:
        names, prefixes = wrapper_keys()
        return {
            k: v
            for k, v in props.items()
            if k not in names and not k.startswith(prefixes) and k not in ("host", "port")
        }

    # -- lifecycle ---------------------------------------------------------------------------------------------
    def release(self) -> None:
        errors = self.pipelines.release_resources()
        for error in errors:
            logger.debug("plugin release failed: %s", error)
        try:
            self._provider.release_resources()  # e.g. detach from a shared topology monitor
        except Exception as exc:
            logger.debug("host list provider release failed: %s", exc)


def _initial_host(props: Mapping[str, Any], driver: DriverDialect) -> HostInfo:
    host = str(props.get("host") or "")
    raw_port = props.get("port")
    if raw_port is None or raw_port == "":
        port = driver.default_port
    else:
        try:
            port = int(str(raw_port))
        except ValueError:
            raise ConfigurationError(
                f"invalid value {raw_port!r} for setting 'port': expected an integer"
            ) from None
        if not 0 < port < 65536:
            raise ConfigurationError(
                f"invalid value {raw_port!r} for setting 'port': must be between 1 and 65535"
            )
    return HostInfo(host, port)


__all__ = ["Runtime", "GenericDialect"]
