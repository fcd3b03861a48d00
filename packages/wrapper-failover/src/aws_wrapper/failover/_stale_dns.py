"""Stale DNS: never hand out a connection to the old writer because a cluster endpoint has not caught up.

After a failover the writer cluster endpoint (``<cluster>.cluster-<id>.<region>.rds.amazonaws.com``) keeps
resolving to the old writer for a while (DNS TTL, client caches). A connection opened through it then lands on a
demoted writer, now a reader, or on nothing. The check below asks the connection for its role right after it was
opened through a writer cluster endpoint; when it is not the writer, it connects to the topology's writer instance
directly and closes the stale connection. Used by ``stale_dns`` and inside ``failover``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from aws_wrapper.core.errors import AwsConnectError
from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.plugin import ConnectProceed, Plugin, PluginFactory, RawConnection
from aws_wrapper.core.services import PluginContext

from ._common import ROLES, EndpointKind, endpoint_kind, is_topology_instance, writer_of

__all__ = ["StaleDnsHelper", "StaleDnsPlugin", "StaleDnsPluginFactory"]

logger = logging.getLogger("aws_wrapper.failover.stale_dns_plugin")


class StaleDnsHelper:
    """The check itself, shared by the ``stale_dns`` and ``failover`` plugins."""

    def __init__(self, context: PluginContext) -> None:
        self._ctx = context

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        conn = proceed(host, props, initial)
        if endpoint_kind(host.host) is not EndpointKind.WRITER_CLUSTER:
            return conn
        ctx = self._ctx
        driver = ctx.dialects.driver
        try:
            role = ROLES.role(ctx, conn)
        except Exception as exc:
            if ctx.dialects.errors.is_network_error(exc):
                driver.close(conn)
                raise
            logger.debug("stale dns check skipped: the role of %s could not be read: %s", host.url, exc)
            return conn
        if role is not HostRole.READER:
            return conn

        # The writer endpoint led to a reader: find the real writer.
        provider = ctx.topology.provider
        timeout = ctx.config.aux_query_timeout
        try:
            hosts = provider.force_refresh(conn, verify_writer=True, timeout=timeout)
        except Exception as exc:
            logger.debug("stale dns: topology refresh failed: %s", exc)
            hosts = ctx.topology.hosts
        writer = writer_of(hosts)
        if writer is None or not is_topology_instance(writer, hosts) or writer.url == host.url:
            driver.close(conn)
            raise AwsConnectError(
                f"the writer cluster endpoint {host.url!r} leads to a reader and no writer instance is known"
            )
        if logger.isEnabledFor(logging.INFO):
            logger.info("stale dns: %s leads to a reader; connecting to the writer %s", host.url, writer.url)
        try:
            fresh = proceed(writer, props, initial)
        except BaseException:
            driver.close(conn)
            raise
        driver.close(conn)
        try:
            fresh_role = ROLES.role(ctx, fresh)
        except Exception:
            fresh_role = HostRole.UNKNOWN
        if fresh_role is HostRole.READER:
            driver.close(fresh)
            raise AwsConnectError(
                f"the writer cluster endpoint {host.url!r} and the topology writer {writer.url!r} both lead to "
                "a reader; the cluster is probably failing over"
            )
        if initial:
            ctx.connection.initial_host = writer
        return fresh


class StaleDnsPlugin(Plugin):
    """``stale_dns``: the check on every connection opened through a writer cluster endpoint."""

    def __init__(self, context: PluginContext) -> None:
        self._helper = StaleDnsHelper(context)

    def connect(
        self, host: HostInfo, props: Mapping[str, Any], initial: bool, proceed: ConnectProceed
    ) -> RawConnection:
        return self._helper.connect(host, props, initial, proceed)


class StaleDnsPluginFactory(PluginFactory):
    code: ClassVar[str] = "stale_dns"
    aliases: ClassVar[tuple[str, ...]] = ("staleDns",)
    weight: ClassVar[int] = 200

    def create(self, context: PluginContext) -> Plugin:
        return StaleDnsPlugin(context)
