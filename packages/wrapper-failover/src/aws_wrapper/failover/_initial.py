"""``initial_connection``: through a cluster endpoint, keep trying until the connection reaches a verified writer
(writer cluster endpoint) or reader (reader cluster endpoint).

Right after a failover a cluster endpoint may still lead to the old writer, to nothing, or (reader endpoint) to
the new writer. The plugin connects, checks the role, and when it is wrong connects to a topology instance of
the right role instead, pausing ``open_connection_retry_interval_ms`` between rounds for at most
``open_connection_retry_timeout_ms`` (upstream used the interval as the whole window). When the window closes it
makes one plain attempt through the endpoint and returns whatever that gives. Login errors and errors that are
not network errors are raised at once: retrying does not fix them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.plugin import ConnectProceed, Plugin, PluginFactory, RawConnection
from aws_wrapper.core.services import PluginContext
from aws_wrapper.core.settings import Setting

from ._common import ROLES, EndpointKind, endpoint_kind, is_topology_instance, pause, readers_of, writer_of
from ._config import INITIAL_CONNECTION_SETTINGS, InitialConnectionConfig
from ._select import check_strategy, check_strategy_of_connection, order_hosts

__all__ = ["InitialConnectionPlugin", "InitialConnectionPluginFactory"]

logger = logging.getLogger("aws_wrapper.failover.aurora_initial_connection_strategy_plugin")


class InitialConnectionPlugin(Plugin):
    def __init__(self, context: PluginContext, config: InitialConnectionConfig) -> None:
        self._ctx = context
        self._config = config

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        if initial:
            check_strategy_of_connection(
                self._ctx, self._config.reader_strategy, "reader_initial_connection_host_selector_strategy"
            )
        kind = endpoint_kind(host.host)
        if kind is EndpointKind.WRITER_CLUSTER:
            wanted = HostRole.WRITER
        elif kind is EndpointKind.READER_CLUSTER:
            wanted = HostRole.READER
        else:
            return proceed(host, props, initial)
        deadline = time.monotonic() + self._config.retry_timeout
        hosts: Sequence[HostInfo] = self._ctx.topology.hosts
        quick = 0  # rounds retried without a pause in a row (bounded: never a busy loop)
        while True:
            tried = self._pick(hosts, wanted)
            try:
                conn, hosts = self._try_once(host, props, initial, proceed, wanted, hosts)
            except Exception as exc:
                if not self._retriable(exc):
                    raise
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("initial connection to %s failed, retrying: %s", host.url, exc)
                conn = None
            if conn is not None:
                return conn
            upcoming = self._pick(hosts, wanted)
            retry_now = upcoming is not None and (tried is None or upcoming.url != tried.url)
            if wanted is HostRole.WRITER and retry_now and quick < 2:
                quick += 1
                continue  # the topology named another writer: try it at once
            quick = 0
            if time.monotonic() + self._config.retry_interval >= deadline:
                break
            pause(self._config.retry_interval, deadline)
        logger.info(
            "no verified %s behind %s within %.1f s; connecting through the endpoint as it is",
            wanted.value,
            host.url,
            self._config.retry_timeout,
        )
        return proceed(host, props, initial)

    def _retriable(self, error: Exception) -> bool:
        errors = self._ctx.dialects.errors
        return not errors.is_login_error(error) and errors.is_network_error(error)

    def _try_once(
        self,
        endpoint: HostInfo,
        props: Mapping[str, Any],
        initial: bool,
        proceed: ConnectProceed,
        wanted: HostRole,
        hosts: Sequence[HostInfo],
    ) -> tuple[RawConnection | None, Sequence[HostInfo]]:
        """One round: a verified connection or None (nothing suitable yet), and the freshest topology known."""
        ctx = self._ctx
        target = self._pick(hosts, wanted)
        via_endpoint = target is None or not is_topology_instance(target, hosts) or target.url == endpoint.url
        conn = proceed(endpoint if via_endpoint or target is None else target, props, initial)
        try:
            role = ROLES.role(ctx, conn)
            accepted = role is wanted
            if not accepted and wanted is HostRole.READER and role is HostRole.WRITER:
                # A reader endpoint of a cluster without readers leads to the writer, as on Aurora.
                hosts = self._topology(conn, hosts, force=False)
                accepted = writer_of(hosts) is not None and not readers_of(hosts)
            if accepted:
                if initial:
                    instance = ctx.topology.identify_connection(conn) if via_endpoint else target
                    if instance is not None:
                        ctx.connection.initial_host = instance.with_(role=role)
                return conn, hosts
        except BaseException:
            ctx.dialects.driver.close(conn)
            raise
        hosts = self._topology(conn, hosts, force=True)  # the cached topology misled us
        ctx.dialects.driver.close(conn)
        return None, hosts

    def _pick(self, hosts: Sequence[HostInfo], wanted: HostRole) -> HostInfo | None:
        if wanted is HostRole.WRITER:
            return writer_of(hosts)
        readers = order_hosts(self._ctx, hosts, self._config.reader_strategy)
        return readers[0] if readers else writer_of(hosts)

    def _topology(self, conn: RawConnection, known: Sequence[HostInfo], *, force: bool) -> Sequence[HostInfo]:
        """The topology as seen over ``conn``."""
        provider = self._ctx.topology.provider
        try:
            if force:
                fresh = provider.force_refresh(
                    conn, verify_writer=False, timeout=self._ctx.config.aux_query_timeout
                )
            else:
                fresh = provider.refresh(conn)
        except Exception as exc:
            logger.debug("topology refresh failed: %s", exc)
            return known
        return fresh or known


class InitialConnectionPluginFactory(PluginFactory):
    code: ClassVar[str] = "initial_connection"
    aliases: ClassVar[tuple[str, ...]] = ("auroraInitialConnectionStrategy", "initialConnection")
    weight: ClassVar[int] = 50
    default: ClassVar[bool] = True
    settings: ClassVar[tuple[Setting[Any], ...]] = INITIAL_CONNECTION_SETTINGS

    def create(self, context: PluginContext) -> Plugin:
        config = InitialConnectionConfig.parse(context.props)
        check_strategy(config.reader_strategy, "reader_initial_connection_host_selector_strategy")
        return InitialConnectionPlugin(context, config)
