"""The search for a new connection: a verified writer through the shared topology monitor, or a reader (or the
writer) among every candidate at once. Used by the failover plugin, inside a deadline; nothing busy-waits."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial

from aws_wrapper.core.hostinfo import HostAvailability, HostInfo, HostRole
from aws_wrapper.core.plugin import Plugin, RawConnection
from aws_wrapper.core.services import PluginContext

from ._common import RETRY_PAUSE, attempt_props, pause, writer_of
from ._config import FailoverConfig, FailoverMode
from ._race import Candidate, race
from ._select import is_race_strategy, order_hosts

__all__ = ["CandidateSearch"]

#: How long a reader search waits for a preferred candidate once a less preferred one has answered.
PATIENCE = 0.5
#: How long a reader search waits for a fresh topology between two rounds.
TOPOLOGY_WAIT = 1.0


class CandidateSearch:
    """Finds and opens the connection a failover installs. ``owner`` is the plugin skipped when connecting."""

    def __init__(self, context: PluginContext, config: FailoverConfig, owner: Plugin) -> None:
        self._ctx = context
        self._config = config
        self._owner = owner

    def find(
        self, mode: FailoverMode, deadline: float, problems: list[BaseException]
    ) -> tuple[HostInfo, RawConnection] | None:
        """A verified connection for ``mode`` (and its host), or None when ``deadline`` passed."""
        if mode is FailoverMode.STRICT_WRITER:
            return self.find_writer(deadline, problems)
        return self.find_reader(mode, deadline, problems)

    def find_writer(
        self, deadline: float, problems: list[BaseException]
    ) -> tuple[HostInfo, RawConnection] | None:
        topology = self._ctx.topology
        attempt = partial(self.attempt, deadline=deadline)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed():
                return None
            try:
                hosts: Sequence[HostInfo] = topology.force_refresh(verify_writer=True, timeout=remaining)
            except TimeoutError as exc:
                problems.append(exc)
                return None
            except Exception as exc:
                problems.append(exc)
                hosts = topology.hosts
            writer = writer_of(hosts)
            if writer is not None:
                outcome = race(
                    [Candidate(writer, 0)],
                    attempt,
                    _writer_only,
                    self._ctx.dialects.driver.close,
                    deadline,
                    problems,
                    cancelled=self._closed,
                )
                if outcome is not None:
                    return _settled(writer, HostRole.WRITER), outcome.conn
            pause(RETRY_PAUSE, deadline, self._ctx.connection.wait_closed)

    def find_reader(
        self, mode: FailoverMode, deadline: float, problems: list[BaseException]
    ) -> tuple[HostInfo, RawConnection] | None:
        topology = self._ctx.topology
        attempt = partial(self.attempt, deadline=deadline)
        try:
            hosts: Sequence[HostInfo] = topology.refresh()
        except Exception as exc:
            problems.append(exc)
            hosts = topology.hosts
        while True:
            readers = order_hosts(self._ctx, hosts, self._config.reader_strategy)
            writer = writer_of(self._ctx.selection.allowed(hosts))
            # preferred hosts first: a better-ranked reader that answers within PATIENCE wins; when racing for
            # the fastest response, every reader has the same rank and the first to answer wins at once
            racing = is_race_strategy(self._ctx, self._config.reader_strategy)
            candidates = [Candidate(r, 0 if racing else rank) for rank, r in enumerate(readers)]
            # The writer is tried too: in reader_or_writer mode it is acceptable, and in strict_reader mode the
            # old writer may have come back as a reader (its role is checked, not assumed).
            if writer is not None and all(r.url != writer.url for r in readers):
                candidates.append(Candidate(writer, len(readers) + 1))
            writer_ok = mode is FailoverMode.READER_OR_WRITER or not readers

            def accept(candidate: Candidate, role: HostRole, writer_ok: bool = writer_ok) -> bool:
                return role is HostRole.READER or (role is HostRole.WRITER and writer_ok)

            outcome = race(
                candidates,
                attempt,
                accept,
                self._ctx.dialects.driver.close,
                deadline,
                problems,
                PATIENCE,
                cancelled=self._closed,
            )
            if outcome is not None:
                assert outcome.role is not None
                return _settled(outcome.candidate.host, outcome.role), outcome.conn
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed():
                return None
            pause(RETRY_PAUSE, deadline, self._ctx.connection.wait_closed)
            try:  # new readers may have appeared; a short wait, the next round must not be held up for long
                hosts = topology.force_refresh(timeout=min(remaining, TOPOLOGY_WAIT))
            except Exception as exc:
                problems.append(exc)
                hosts = topology.hosts

    def _closed(self) -> bool:
        """The wrapper connection was closed (from another thread): the search gives up."""
        return self._ctx.connection.closed

    def attempt(self, host: HostInfo, *, deadline: float) -> tuple[RawConnection, HostRole]:
        """Open a connection to ``host`` (skipping the failover plugin) and read its role. Runs on a race
        thread."""
        ctx = self._ctx
        budget = min(self._config.attempt_timeout, max(deadline - time.monotonic(), 0.001))
        conn = ctx.connector.connect(
            host.with_(availability=HostAvailability.AVAILABLE),
            attempt_props(ctx.props, budget),
            skip=self._owner,
        )
        try:
            role = ctx.topology.get_host_role(conn)
        except BaseException:
            ctx.dialects.driver.close(conn)
            raise
        return conn, role


def _writer_only(candidate: Candidate, role: HostRole) -> bool:
    return role is HostRole.WRITER


def _settled(host: HostInfo, role: HostRole) -> HostInfo:
    return host.with_(role=role, availability=HostAvailability.AVAILABLE)
