"""``failover``: move a wrapper connection to a new writer (or a reader) when its host fails.

One implementation, built on the shared topology monitor of aws-wrapper-dialects: the writer search waits for
the monitor to *verify* a writer (one monitor per cluster, so a thousand failing connections do not each probe
the cluster), then connects to it with a short, bounded retry. Reader searches try the candidates in parallel.
The outcome is always an exception, because the application must re-run what failed:

* :class:`FailoverSuccessError` - outside a transaction; the connection object now works on the new host, with
  autocommit, read-only and isolation level carried over;
* :class:`TransactionResolutionUnknownError` - the same, but the failure happened inside a transaction (which
  was rolled back where still possible): re-run the whole transaction;
* :class:`FailoverFailedError` - nothing suitable answered within ``failover_timeout_sec``.

All three keep the driver's error as ``driver_error`` and ``__cause__``. Errors that are not network errors
(and, in ``strict_writer`` mode, not read-only errors from a demoted writer) pass through with their own type.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar, NoReturn, TypeVar

from aws_wrapper.core.errors import (
    FailoverError,
    FailoverFailedError,
    FailoverSuccessError,
    InterfaceError,
    TransactionResolutionUnknownError,
)
from aws_wrapper.core.hostinfo import HostAvailability, HostInfo, HostRole
from aws_wrapper.core.methods import DbApiMethod
from aws_wrapper.core.plugin import (
    ConnectProceed,
    Plugin,
    PluginFactory,
    RawConnection,
)
from aws_wrapper.core.services import PluginContext, SessionField
from aws_wrapper.core.settings import Setting
from aws_wrapper.core.telemetry import FAILOVER_ADDITIONAL_TOP_TRACE

from ._common import (
    RETRY_PAUSE,
    EndpointKind,
    endpoint_kind,
    pause,
)
from ._config import FAILOVER_SETTINGS, FailoverConfig, FailoverMode
from ._search import CandidateSearch
from ._select import check_strategy, check_strategy_of_connection
from ._stale_dns import StaleDnsHelper
from ._txstate import was_in_transaction

__all__ = ["FailoverPlugin", "FailoverPluginFactory"]

logger = logging.getLogger("aws_wrapper.failover.failover_plugin")
T = TypeVar("T")

#: Calls that never fail over: closing is final, whatever the network says.
_NEVER = frozenset({DbApiMethod.CONNECTION_CLOSE, DbApiMethod.CURSOR_CLOSE, DbApiMethod.CONNECTION_IS_CLOSED})


class FailoverPlugin(Plugin):
    """See the module docstring. Subclasses may override :meth:`resolve_mode` (the extension point for a global
    database failover that picks the mode from the writer's region)."""

    monitors_network = True  # not around fetches a driver serves from memory

    def __init__(self, context: PluginContext, config: FailoverConfig) -> None:
        self._ctx = context
        self._config = config
        self._stale_dns = StaleDnsHelper(context)
        self._search = CandidateSearch(context, config, self)
        kind = endpoint_kind(context.connection.initial_host.host)
        self._active = config.enabled and kind is not EndpointKind.PROXY
        self._default_mode = (
            FailoverMode.READER_OR_WRITER
            if kind is EndpointKind.READER_CLUSTER
            else FailoverMode.STRICT_WRITER
        )
        self.failover_count = 0  # completed failovers of this connection (diagnostics)
        # Telemetry (upstream's span and counter names): used only when a failover happens, never per call.
        self._telemetry = context.telemetry
        self._top_trace = (
            FAILOVER_ADDITIONAL_TOP_TRACE.get(context.props) if context.telemetry.enabled else False
        )
        if self._active:
            # Not entered per call: core runs the calls inline and hands their errors to on_call_error, and
            # keeps the transaction status sampled before each call in context.connection.call_mark.
            network = context.dialects.driver.network_bound_methods
            self.error_methods = frozenset(network - _NEVER)
            self.marks_calls = True

    # -- extension point ------------------------------------------------------------------------------------
    def resolve_mode(self) -> FailoverMode:
        """The mode of the next failover: ``failover_mode`` when set, else by the endpoint the application
        connected to (reader cluster endpoint: reader_or_writer; anything else: strict_writer)."""
        if self._config.mode is None and self._ctx.topology.provider.is_static:
            return FailoverMode.READER_OR_WRITER  # one host: reconnect to it, whatever its role
        return self._config.mode or self._default_mode

    # -- pipelines ------------------------------------------------------------------------------------------
    def on_call_error(self, method: DbApiMethod, target: object, error: Exception) -> None:
        with self._ctx.connection.hold():  # close() from another thread waits for (and cancels) a failover
            self._handle(error)

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        if not self._active:
            return proceed(host, props, initial)
        if initial:  # the pipeline exists now: a strategy may come from another plugin of this connection
            check_strategy_of_connection(
                self._ctx, self._config.reader_strategy, "failover_reader_host_selector_strategy"
            )
        try:
            return self._stale_dns.connect(host, props, initial, proceed)
        except Exception as error:
            if not (initial and self._config.connect_failover) or isinstance(error, FailoverError):
                raise
            if not self._ctx.dialects.errors.is_network_error(error):
                raise
            return self._connect_failover(host, error)

    # -- failover -------------------------------------------------------------------------------------------
    def _handle(self, error: Exception) -> None:
        """Returns when ``error`` is not ours to handle (the caller re-raises it unchanged); raises otherwise."""
        if isinstance(error, FailoverError):
            return
        if self._ctx.connection.closed:
            _raise_closed(error)  # closing wins: no failover for a connection closed under the call
        errors = self._ctx.dialects.errors
        if errors.is_network_error(error):
            self._failover(error, network=True)
        if (
            self.resolve_mode() is FailoverMode.STRICT_WRITER
            and errors.is_read_only_error(error)
            and self._on_demoted_writer()
        ):
            self._failover(error, network=False)

    def _on_demoted_writer(self) -> bool:
        """After a read-only error: is the connection on a host that is no longer the writer (rather than in a
        read-only session or transaction the application asked for)?"""
        ctx = self._ctx
        if ctx.topology.provider.is_static:
            return False  # no other host: the read-only error is the application's
        if ctx.session_state.current(SessionField.READ_ONLY) is True:
            return False
        conn = ctx.connection.current_connection
        if conn is None:
            return False
        try:
            return ctx.topology.get_host_role(conn) is HostRole.READER
        except Exception as exc:
            if ctx.dialects.errors.is_network_error(exc):
                return True
        # The connection cannot answer (e.g. PostgreSQL's aborted transaction): ask the topology instead.
        host = ctx.connection.current_host
        if host is None:
            return False
        try:
            hosts = ctx.topology.force_refresh(timeout=ctx.config.aux_query_timeout)
        except Exception:
            return False
        for known in hosts:
            if known.url == host.url or host.url in known.aliases:
                return known.role is HostRole.READER
        return False

    def _failover(self, error: Exception, *, network: bool) -> NoReturn:
        """Run the failover inside a span ``failover to writer host`` / ``failover to replica`` and count it
        (``writer_failover.*`` / ``reader_failover.*``: triggered, completed.success, completed.failed)."""
        telemetry = self._telemetry
        writer = self.resolve_mode() is FailoverMode.STRICT_WRITER
        prefix = "writer_failover" if writer else "reader_failover"
        telemetry.counter(prefix + ".triggered.count").inc()
        name = "failover to writer host" if writer else "failover to replica"
        outcome: FailoverError
        with telemetry.open_span(name, top_level=self._top_trace) as span:
            if telemetry.enabled:
                host = self._ctx.connection.current_host
                span.set_attribute("failover.mode", self.resolve_mode().value)
                span.set_attribute("failover.failed_host", host.url if host is not None else "")
                span.set_attribute("failover.error", type(error).__name__)
            try:
                self._run_failover(error, network=network)
            except (FailoverSuccessError, TransactionResolutionUnknownError) as done:
                telemetry.counter(prefix + ".completed.success.count").inc()
                if telemetry.enabled:
                    span.set_attribute("failover.success", True)
                    span.set_attribute("failover.outcome", type(done).__name__)
                    new_host = self._ctx.connection.current_host
                    span.set_attribute("failover.new_host", new_host.url if new_host is not None else "")
                outcome = done
            except BaseException as failed:
                telemetry.counter(prefix + ".completed.failed.count").inc()
                if telemetry.enabled:
                    span.set_attribute("failover.success", False)
                    span.set_attribute("failover.outcome", type(failed).__name__)
                raise
        raise outcome

    def _run_failover(self, error: Exception, *, network: bool) -> NoReturn:
        ctx = self._ctx
        started = time.monotonic()
        deadline = started + self._config.timeout
        old = ctx.connection.current_connection
        old_host = ctx.connection.current_host
        mark = ctx.connection.call_mark
        sampled = mark.status if mark is not None and mark.connection is old else None
        in_tx = old is not None and was_in_transaction(sampled, ctx.connection.is_in_transaction)
        if network and old_host is not None:
            ctx.topology.set_availability(old_host.all_aliases, HostAvailability.UNAVAILABLE)
        if old is not None:
            self._abandon(old, in_tx)
        mode = self.resolve_mode()
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "failover (%s) started: %s failed%s: %s",
                mode.value,
                old_host.url if old_host else "the connection",
                " inside a transaction" if in_tx else "",
                error,
            )
        problems: list[BaseException] = []
        installed: HostInfo | None = None
        while installed is None:
            found = self._search.find(mode, deadline, problems)
            if ctx.connection.closed:
                if found is not None:
                    ctx.dialects.driver.close(found[1])
                logger.info(
                    "failover abandoned after %.3f s: the connection was closed", time.monotonic() - started
                )
                _raise_closed(error)
            if found is None:
                break
            host, conn = found
            try:
                ctx.connection.set_current(conn, host)
            except Exception as exc:  # the new connection broke while its session state was restored
                if ctx.connection.closed:  # set_current refused it (and closed it): closing wins
                    _raise_closed(error)
                problems.append(exc)
                ctx.dialects.driver.close(conn)
                pause(RETRY_PAUSE, deadline, ctx.connection.wait_closed)
                continue
            installed = host
        elapsed = time.monotonic() - started
        if installed is None:
            target = "writer" if mode is FailoverMode.STRICT_WRITER else "reader"
            last = f"; last error: {problems[-1]}" if problems else ""
            logger.warning("failover failed after %.3f s: no %s could be reached%s", elapsed, target, last)
            raise FailoverFailedError(
                f"failover failed: no {target} could be reached within failover_timeout_sec="
                f"{self._config.timeout:g}{last}; the connection is unusable",
                driver_error=error,
            ) from error
        self.failover_count += 1
        try:
            ctx.topology.refresh()
        except Exception as exc:
            logger.debug("topology refresh after failover failed: %s", exc)
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "failover done in %.3f s: now on %s (%s)", elapsed, installed.url, installed.role.value
            )
        if in_tx:
            raise TransactionResolutionUnknownError(
                f"the connection failed inside a transaction and now points at {installed.url} "
                f"({installed.role.value}); whether the transaction committed is unknown: re-run the whole "
                "transaction",
                driver_error=error,
            ) from error
        raise FailoverSuccessError(
            f"the connection failed and now points at {installed.url} ({installed.role.value}); its session state "
            "(autocommit, read-only, isolation level, attributes set on the connection, registered session fields) "
            "was carried over: re-run the statement that failed",
            driver_error=error,
        ) from error

    def _connect_failover(self, host: HostInfo, error: Exception) -> RawConnection:
        """``enable_connect_failover``: the first connect failed with a network error."""
        deadline = time.monotonic() + self._config.timeout
        problems: list[BaseException] = []
        found = self._search.find(self.resolve_mode(), deadline, problems)
        if found is None:
            raise FailoverFailedError(
                f"connect failover failed: no host could be reached within failover_timeout_sec="
                f"{self._config.timeout:g} after {host.url!r} failed",
                driver_error=error,
            ) from error
        new_host, conn = found
        self._ctx.connection.initial_host = new_host
        return conn

    def _abandon(self, old: RawConnection, in_tx: bool) -> None:
        """Roll back what can still be rolled back; the old connection is closed when the new one is
        installed (or stays, broken, as the current one when failover fails)."""
        driver = self._ctx.dialects.driver
        if not in_tx:
            return
        try:
            if not driver.is_closed(old):
                driver.rollback(old)
        except Exception as exc:
            logger.debug("rollback on the failed connection failed: %s", exc)


def _raise_closed(error: Exception) -> NoReturn:
    raise InterfaceError(
        "the connection was closed while this call was running (close() from another thread); no failover was "
        f"done and the call did not complete: {type(error).__name__}"
    ) from error


class FailoverPluginFactory(PluginFactory):
    """``failover`` (also ``failover_v2``, ``failover2``)."""

    code: ClassVar[str] = "failover"
    aliases: ClassVar[tuple[str, ...]] = ("failover_v2", "failover2")
    weight: ClassVar[int] = 400
    default: ClassVar[bool] = True
    settings: ClassVar[tuple[Setting[Any], ...]] = FAILOVER_SETTINGS
    plugin_class: ClassVar[type[FailoverPlugin]] = FailoverPlugin

    def create(self, context: PluginContext) -> Plugin:
        config = FailoverConfig.parse(context.props)
        check_strategy(config.reader_strategy, "failover_reader_host_selector_strategy")
        return self.plugin_class(context, config)
