"""GTID bookkeeping of the MariaDB engine: how far a node has received, applying the relay log before a
promotion, and telling a replica that has diverged from its new source (re-clone it) from one that is merely
behind (let it catch up).

Every node writes in GTID domain 0 (``@@gtid_domain_id`` is never changed), so the cluster's history is one
GTID stream. With ``gtid-strict-mode`` a new writer continues the sequence numbers of the domain, so the
sequence number of the highest GTID a node has received orders the nodes by how much of that stream they hold.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import NamedTuple

from ._engine import Node
from ._errors import ClusterError
from ._mysql_proc import AdminSession, NodePaths, log_tail, port_open

logger = logging.getLogger("aws_wrapper.testing")

#: Replication errors after which a replica cannot continue from its new source: 1236 (the source's binlog
#: lacks the requested GTID), 1945 / 1955 (position not in the source's binlog), 1950 (out-of-order GTID in
#: strict mode), 1951 (the source's binlog has a hole); 1062 / 1032 (duplicate key / row not found: the data
#: diverged although the positions looked compatible).
DIVERGED_ERRORS = frozenset({1236, 1945, 1950, 1951, 1955, 1062, 1032})
#: The source is (re)starting: the IO thread retries every MASTER_CONNECT_RETRY second by itself.
TRANSIENT_ERRORS = frozenset({2003, 2013})


class Gtid(NamedTuple):
    domain: int
    server_id: int
    seq: int

    def __str__(self) -> str:
        return f"{self.domain}-{self.server_id}-{self.seq}"


class ReplicationDiverged(ClusterError):
    """A replica holds transactions its new source lacks (or its data diverged); only a re-clone helps."""

    def __init__(self, message: str, errno: int = 0) -> None:
        super().__init__(message)
        self.errno = errno


def parse_gtids(text: object) -> list[Gtid]:
    """The GTIDs of a position or state string such as ``'0-1-42,1-3-7'`` (``''`` / None: none)."""
    gtids: list[Gtid] = []
    for part in str(text or "").replace("\n", "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            domain, server_id, seq = (int(value) for value in part.split("-"))
        except ValueError as exc:
            raise ClusterError(f"cannot parse the gtid {part!r} in {str(text)!r}") from exc
        gtids.append(Gtid(domain, server_id, seq))
    return gtids


def highest_seq(positions: Iterable[object], domain: int) -> int:
    """The highest sequence number of ``domain`` in any of ``positions`` (0 when there is none)."""
    return max((g.seq for text in positions for g in parse_gtids(text) if g.domain == domain), default=0)


def lacking(position: object, binlog_state: object) -> list[Gtid]:
    """The GTIDs of ``position`` that a source whose ``@@gtid_binlog_state`` is ``binlog_state`` never logged.

    The state holds the last GTID of every (domain, server id) in the binlog; a source has ``d-s-n`` when its
    last GTID of ``(d, s)`` has a sequence number of at least ``n`` (the sequence numbers of a domain only grow).
    """
    last = {(g.domain, g.server_id): g.seq for g in parse_gtids(binlog_state)}
    return [g for g in parse_gtids(position) if last.get((g.domain, g.server_id), -1) < g.seq]


def received_position(session: AdminSession, drain_timeout: float) -> int:
    """How much of the domain's GTID stream the node of ``session`` has received (relay log included).

    A replica whose source has gone away first gets ``drain_timeout`` seconds for its IO thread to notice (and
    to queue what the source sent before it died), so that the positions of the replicas are compared once
    they no longer move.
    """
    domain = int(str(session.value("SELECT @@gtid_domain_id")))
    status = session.dict_row("SHOW SLAVE STATUS")
    if status is not None and status.get("Slave_IO_Running") == "Yes":
        host, port = str(status.get("Master_Host") or ""), int(str(status.get("Master_Port") or 0))
        if host and port and not port_open(host, port, 0.2):
            deadline = time.monotonic() + drain_timeout
            while status is not None and status.get("Slave_IO_Running") == "Yes":
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
                status = session.dict_row("SHOW SLAVE STATUS")
    positions: list[object] = list(
        session.rows("SELECT @@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_current_pos")[0]
    )
    if status is not None:
        positions.append(status.get("Gtid_IO_Pos"))
    return highest_seq(positions, domain)


def apply_received(session: AdminSession, node: Node, timeout: float) -> None:
    """Stop fetching and apply everything the replica has received (before it is promoted).

    A stopped SQL thread is started first, while the IO thread still runs (or retries its dead source): in GTID
    mode, starting replication with *both* threads stopped discards the relay log. Raises ``ClusterError`` when
    the relay log cannot be applied within ``timeout``: promoting then would drop transactions the writer may
    have acknowledged.
    """
    status = session.dict_row("SHOW SLAVE STATUS")
    if status is None:
        return
    if status.get("Slave_SQL_Running") != "Yes":
        if status.get("Slave_IO_Running") == "No":
            logger.warning(
                "node %s: both replication threads are stopped, its relay log cannot be applied before "
                "promotion (GTID mode discards it on restart)",
                node.index,
            )
            return
        session.rows("START SLAVE SQL_THREAD")
    session.rows("STOP SLAVE IO_THREAD")
    status = session.dict_row("SHOW SLAVE STATUS")
    received = str(status.get("Gtid_IO_Pos") or "") if status else ""
    if not received:
        return
    deadline = time.monotonic() + timeout
    while session.value("SELECT MASTER_GTID_WAIT(%s, 0.5)", (received,)) != 0:
        status = session.dict_row("SHOW SLAVE STATUS") or {}
        errno = int(str(status.get("Last_SQL_Errno") or 0))
        if errno:
            raise ClusterError(
                f"node {node.index} cannot apply its relay log before promotion (SQL thread, error {errno}: "
                f"{status.get('Last_SQL_Error')}):\n{log_tail(NodePaths.of(node).error_log, 8)}"
            )
        if time.monotonic() > deadline:
            raise ClusterError(
                f"node {node.index} did not apply its relay log up to {received!r} within {timeout} s before "
                f"promotion (applied: {session.value('SELECT @@gtid_slave_pos')!r})"
            )
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("node %s applied everything it received (%s) before promotion", node.index, received)


def check_can_follow(node: Node, position: object, source: Node, source_state: object) -> None:
    """Raise ``ReplicationDiverged`` when ``node`` (at GTID ``position``) has transactions ``source`` lacks."""
    extra = lacking(position, source_state)
    if extra:
        raise ReplicationDiverged(
            f"node {node.index} has {', '.join(map(str, extra))}, which node {source.index} never logged "
            f"(its binlog state is {str(source_state)!r})"
        )


def wait_caught_up(node_session: AdminSession, node: Node, source: Node, target: str, timeout: float) -> None:
    """Wait until ``node`` has applied ``target`` (its source's binlog position); fail on a broken link.

    Raises ``ReplicationDiverged`` for the errors of ``DIVERGED_ERRORS`` and ``ClusterError`` for others.
    """
    deadline = time.monotonic() + timeout
    while True:
        if node_session.value("SELECT MASTER_GTID_WAIT(%s, 0.5)", (target,)) == 0:
            return
        status = node_session.dict_row("SHOW SLAVE STATUS")
        if status is None:
            raise ClusterError(f"node {node.index} is not replicating (no slave status)")
        for kind in ("IO", "SQL"):
            errno = int(str(status.get(f"Last_{kind}_Errno") or 0))
            if not errno or errno in TRANSIENT_ERRORS:
                continue
            message = (
                f"replication of node {node.index} from node {source.index} failed ({kind} thread, error "
                f"{errno}: {status.get(f'Last_{kind}_Error')})"
            )
            if errno in DIVERGED_ERRORS:
                raise ReplicationDiverged(message, errno)
            raise ClusterError(f"{message}:\n{log_tail(NodePaths.of(node).error_log, 8)}")
        if time.monotonic() > deadline:
            raise ClusterError(
                f"node {node.index} did not catch up with node {source.index} ({target!r}) within "
                f"{timeout} s; slave status: IO={status.get('Slave_IO_Running')!r} "
                f"SQL={status.get('Slave_SQL_Running')!r}:\n{log_tail(NodePaths.of(node).error_log, 8)}"
            )
