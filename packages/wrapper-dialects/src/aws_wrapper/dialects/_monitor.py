"""The topology monitor: one per cluster id and process, shared by every connection to that cluster.

Regular mode: the monitor holds one connection to the verified writer and reads the topology over it every
``topology_refresh_ms`` (every ``cluster_topology_high_refresh_rate_ms`` for 30 s after the writer changed, and at
once when a connection asks for a refresh). Each read also re-confirms the writer: the topology must name the
monitoring connection's host as the writer.

Panic mode (no verified writer connection): one short-lived thread per known host opens one connection and keeps
it; over it, it checks the host's role with the dialect's cheap reader query (the full writer check only when
that says "writer"). The first verified writer wins, its connection becomes the monitoring connection, the
waiters are woken and the other threads stop. A reader thread reads the topology every high-rate period
meanwhile, so that new hosts are probed and waiters that do not need a verified writer can go on.

Role-check period: every ``fast_poll_s`` (10 ms) while a caller waits for a verified writer (for at most 30 s of
waiting), else the high refresh rate (1 s once a panic has lasted 30 s with nobody waiting). Connection attempts
to a host that cannot be reached stay at least ``RECONNECT_MIN_S`` (100 ms) apart, each bounded by the
connection's connect timeout.

Nothing polls in a tight loop: waits are condition waits with deadlines that a new waiter can shorten, network
retries are spaced as above, other failures back off exponentially.

Refused queries: when the server answers a topology, writer or role query with an error that retrying cannot
fix (a missing table or function, a missing privilege: see ``_errors.is_query_refused``; typically a dialect that
does not match the server), the monitor says so once per cluster at WARNING, with the error, and nobody waits for
it any more: ``refresh_now`` returns the last known topology (None) at once and ``wait_for_writer`` raises
:class:`TopologyUnavailableError` at once, until a writer is verified again. The probe keeps its connection and
retries the check with an exponential backoff (up to about 6 s), so that a fixed privilege is noticed.

Connections: the monitor keeps no wrapper connection alive. It opens its connections through the pipeline of a
user that is still attached (the one attached last, else any other; the connection's ``topology-monitoring-``
properties apply), so that authentication plugins apply and a closed wrapper connection can be garbage collected
while others still use the monitor.

Reset (ABI 1.1, core's ``MonitorService.reset``, e.g. on a blue/green switchover): the monitoring connection and
the panic probes' connections are dropped (aborted at once, closed by the thread using them), the verified writer,
the high-rate window and a refusal are forgotten, and the monitor starts over with a panic. The users stay
attached; the last topology keeps serving ``refresh`` until the first read after the reset replaces it, and
``wait_for_writer`` only accepts a writer verified after the reset.
"""

from __future__ import annotations

import logging
import math
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_wrapper.core.hostinfo import HostInfo, HostRole
from aws_wrapper.core.lifecycle import on_release
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.storage import STORAGE

from ._errors import is_query_refused, refusal_text
from ._probing import PanicRound, backoff_delay
from ._topology import STATS, Topology, TopologyReader, TopologyUnavailableError

if TYPE_CHECKING:
    from ._provider import TopologyHostListProvider

__all__ = ["TopologyMonitor", "MONITOR_KIND"]

logger = logging.getLogger("aws_wrapper.dialects.cluster_topology_monitor")
#: How often a cancellable wait for a verified writer checks whether it was cancelled.
_CANCEL_CHECK = 0.05

MONITOR_KIND = "aws_wrapper.dialects.topology"
_CACHE = "aws_wrapper.dialects.topology"
_CACHE_TTL = 300.0
HIGH_RATE_WINDOW_S = 30.0  # fast refreshes after the writer changed, and fast probing at the start of a panic
SLOW_PROBE_S = 1.0  # probe period once a panic has lasted longer than the window and nobody waits
EXPAND_AFTER_S = 1.0  # a panic starts by re-verifying the last writer alone; all hosts after this long
RECONNECT_MIN_S = 0.1  # connection attempts to one host during a panic are never closer than this

# Clusters whose refused topology queries were reported (at WARNING), until a writer is verified there again: one
# warning per cluster and process, not one per monitor, connection or attempt.
_warned_lock = threading.Lock()
_warned: set[str] = set()


@on_release
def _forget_warnings() -> None:
    with _warned_lock:
        _warned.clear()


def topology_cache() -> Any:
    return STORAGE.cache(_CACHE, _CACHE_TTL)


def _nobody() -> None:
    return None


class _Round(PanicRound):
    """A panic round, tagged with the reset generation it belongs to (a reset makes its results stale)."""

    def __init__(self, started: float, epoch: int) -> None:
        super().__init__(started)
        self.epoch = epoch


class TopologyMonitor:
    """See the module documentation. Registered in core's ``MONITORS`` under ``MONITOR_KIND`` / cluster id."""

    #: Seconds without any attached connection after which the monitor stops (tests may lower it).
    idle_timeout: float = 60.0
    #: Role-check period of the panic probes while a caller waits for a verified writer (capped by the high
    #: refresh rate; for at most ``HIGH_RATE_WINDOW_S`` of waiting, then the high refresh rate).
    fast_poll_s: float = 0.01

    def __init__(
        self,
        cluster_id: str,
        reader: TopologyReader,
        *,
        refresh_s: float,
        high_refresh_s: float,
        query_timeout: float,
        errors_is_login: Callable[[BaseException], bool],
        errors_is_network: Callable[[BaseException], bool],
        on_stop: Callable[[TopologyMonitor], None],
    ) -> None:
        self.cluster_id = cluster_id
        self.reader = reader
        self.driver = reader.driver
        self.initial = reader.initial
        self.refresh_s = refresh_s
        self.high_refresh_s = high_refresh_s
        self.query_timeout = query_timeout
        self._is_login = errors_is_login
        self._is_network = errors_is_network
        self._on_stop = on_stop
        self._cond = threading.Condition()
        self._topology: Topology | None = topology_cache().get(cluster_id)
        self._verified_at = -math.inf  # start of the last successful writer confirmation (monotonic)
        self._writer_url: str | None = None  # writer of the last verification (to tell a changed writer)
        self._refresh_at = -math.inf  # latest refresh request
        self._verify_at = -math.inf  # latest "verify the writer" request
        self._waiters = 0  # callers inside wait_for_writer
        self._wait_since = -math.inf  # when the current stretch of waiting (waiters > 0) began
        self._counts_lock = threading.Lock()
        self.probe_checks = 0  # role checks made by panic probes (diagnostics, tests)
        self._high_until = 0.0
        self._conn: RawConnection | None = None
        self._conn_host: HostInfo | None = None
        self._round: _Round | None = None
        self._refused: str | None = None  # why the server refuses the topology queries (None: it does not)
        self._users: weakref.WeakSet[TopologyHostListProvider] = weakref.WeakSet()
        #: The user attached last (weak: opens connections while its wrapper connection lives, pins nothing).
        self._last: Callable[[], TopologyHostListProvider | None] = _nobody
        self._epoch = 0  # bumped by reset(): reads and panic rounds of an older generation are discarded
        self._dropped: list[RawConnection] = []  # dropped by reset(), closed by the monitor thread
        self.resets = 0  # diagnostics, tests
        self._idle_since = time.monotonic()
        self._bootstrap_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._probes: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
        self._stopping = False
        self.stopped = threading.Event()

    # -- users -----------------------------------------------------------------------------------------------
    def attach(self, provider: TopologyHostListProvider) -> bool:
        """Register a user and start the monitor thread if needed; False when this monitor is stopping."""
        with self._cond:
            if self._stopping:
                return False
            self._users.add(provider)
            self._last = weakref.ref(provider)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"aws-wrapper-topology[{self.cluster_id}]", daemon=True
                )
                self._thread.start()
            return True

    def detach(self, provider: TopologyHostListProvider) -> None:
        with self._cond:
            self._users.discard(provider)
            if not self._users:
                self._idle_since = time.monotonic()
                self._cond.notify_all()  # the monitor thread re-plans its wait around the idle deadline

    @property
    def topology(self) -> Topology | None:
        return self._topology

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def verified_writer(self) -> HostInfo | None:
        """The host of the monitoring connection (a verified writer), None while panicking."""
        return self._conn_host

    @property
    def refused(self) -> str | None:
        """Why the server refuses this cluster's topology queries (host and error text), None when it does not
        (or no longer: cleared when a writer is verified)."""
        return self._refused

    # -- requests from connections -----------------------------------------------------------------------------
    def bootstrap(self, conn: RawConnection, timeout: float) -> Topology | None:
        """The first topology, read over an application connection (one caller per cluster does it)."""
        with self._bootstrap_lock:
            # refused: the monitor's probes ask again (with a backoff), not every connect
            if self._topology is not None or self._refused is not None:
                return self._topology
            epoch = self._epoch
            try:
                topology = self.reader.read(conn, timeout)
            except Exception as exc:
                if not self.note_refused(exc, "a connection of the application") and logger.isEnabledFor(
                    logging.DEBUG
                ):
                    logger.debug("reading the topology of %s failed: %s", self.cluster_id, exc)
                return None
            self._store(topology, epoch=epoch)
            return topology

    def refresh_now(self, timeout: float) -> Topology | None:
        """A topology read that started after this call (one read serves every caller that asked before it
        started), or the last known one after ``timeout`` -- at once when the server refuses the topology
        queries."""
        asked = time.monotonic()
        deadline = asked + timeout
        with self._cond:
            self._refresh_at = max(self._refresh_at, asked)
            self._cond.notify_all()
            while not self.stopped.is_set():
                topology = self._topology
                if topology is not None and topology.read_at >= asked:
                    return topology
                if self._refused is not None:
                    break  # no read is coming soon: the probes back off
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return self._topology

    def wait_for_writer(self, timeout: float, cancelled: Callable[[], bool] | None = None) -> Topology:
        """A topology whose writer was verified after this call started: confirmed over the monitoring
        connection, or found by probing every host when that connection does not answer within twice the high
        refresh period. Raises ``TimeoutError`` after ``timeout`` seconds, and :class:`TopologyUnavailableError`
        (a ``TimeoutError``) at once while the server refuses the topology queries."""
        asked = time.monotonic()
        deadline = asked + timeout
        grace = max(2 * self.high_refresh_s, 0.2)
        aborted = False
        with self._cond:
            self._verify_at = max(self._verify_at, asked)
            if self._waiters == 0:
                self._wait_since = asked
            self._waiters += 1
            try:
                rnd = self._round
                if rnd is not None:
                    rnd.kick()  # probes poll faster from now on
                self._cond.notify_all()
                while True:
                    topology = self._topology
                    if topology is not None and self._verified_at >= asked:
                        return topology
                    if self._refused is not None:
                        raise TopologyUnavailableError(
                            f"no writer of cluster {self.cluster_id!r} can be verified: the server refuses the "
                            f"queries of dialect {self.reader.dialect.code!r} ({self._refused}); check "
                            "wrapper_dialect and the privileges of the user"
                        )
                    now = time.monotonic()
                    if cancelled is not None and cancelled():
                        raise TimeoutError(
                            f"waiting for a verified writer of {self.cluster_id!r} was cancelled"
                        )
                    if self.stopped.is_set() or now >= deadline:
                        raise TimeoutError(
                            f"no verified writer for cluster {self.cluster_id!r} within {timeout:g} s"
                        )
                    if not aborted and now - asked >= grace and self._conn is not None:
                        # the monitoring connection is stuck (e.g. a silent host): probe instead
                        aborted = True
                        if logger.isEnabledFor(logging.DEBUG):
                            logger.debug(
                                "topology of %s: writer not confirmed in %.2f s, probing",
                                self.cluster_id,
                                grace,
                            )
                        self.driver.abort(self._conn)
                    wait = deadline - now
                    if not aborted:
                        wait = min(wait, asked + grace - now)
                    if cancelled is not None:
                        wait = min(wait, _CANCEL_CHECK)
                    self._cond.wait(max(wait, 0.001))
            finally:
                self._waiters -= 1

    # -- lifecycle -------------------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Start over (see the module documentation): non-blocking, safe from any thread, users stay attached."""
        with self._cond:
            if self._stopping:
                return
            self._epoch += 1
            self.resets += 1
            conn, self._conn, self._conn_host = self._conn, None, None
            if conn is not None:
                self._dropped.append(conn)  # the monitor thread may be reading over it: it closes it
            rnd = self._round
            self._verified_at = -math.inf
            self._writer_url = None
            self._high_until = 0.0
            self._refused = None
            self._refresh_at = time.monotonic()  # read again as soon as a connection is verified
            self._cond.notify_all()
        if rnd is not None:
            rnd.finish()  # its probes close their connections and end
        if conn is not None:
            self.driver.abort(conn)  # a read in progress on it returns now
        with _warned_lock:
            _warned.discard(self.cluster_id)
        logger.info("topology monitor of %s reset: reconnecting", self.cluster_id)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            conn = self._conn
            rnd = self._round
            self._cond.notify_all()
        if rnd is not None:
            rnd.finish()
        if conn is not None:
            self.driver.abort(conn)  # a query blocked on a silent host returns now
        if self._thread is None:
            self.stopped.set()

    def join(self, timeout: float) -> None:
        """Wait for the monitor thread and its probe threads (a probe blocked in a connect attempt ends when
        the attempt times out)."""
        deadline = time.monotonic() + timeout
        for thread in [self._thread, *list(self._probes)]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- the monitor thread ----------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._should_stop():
                self._close_dropped()
                if self._conn is None:
                    self._panic()
                else:
                    self._regular()
        except Exception:  # never let the thread die silently with the monitor still registered
            logger.warning("topology monitor of %s failed", self.cluster_id, exc_info=True)
        finally:
            with self._cond:
                self._stopping = True
                conn, self._conn, self._conn_host = self._conn, None, None
                self.stopped.set()
                self._cond.notify_all()
            if conn is not None:
                self.driver.close(conn)
            self._close_dropped()
            self._on_stop(self)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("topology monitor of %s stopped", self.cluster_id)

    def _close_dropped(self) -> None:
        with self._cond:
            dropped, self._dropped = self._dropped, []
        for conn in dropped:
            self.driver.close(conn)

    def _should_stop(self) -> bool:
        with self._cond:
            if self._stopping:
                return True
            if self._users:
                self._idle_since = time.monotonic()  # users also leave by being garbage collected
            elif time.monotonic() - self._idle_since >= self.idle_timeout:
                self._stopping = True
                return True
            return False

    def _regular(self) -> None:
        """Wait until the next read is due (or asked for), then read over the verified writer connection."""
        with self._cond:
            while not self._stopping:
                if self._conn is None:
                    return  # reset meanwhile: start over with a panic
                last_read = self._topology.read_at if self._topology is not None else -math.inf
                if self._refresh_at > last_read or self._verify_at > self._verified_at:
                    break  # asked for after the last read / the last confirmation of the writer began
                now = time.monotonic()
                period = self.high_refresh_s if now < self._high_until else self.refresh_s
                remaining = self._verified_at + period - now
                if not self._users:
                    remaining = min(remaining, self._idle_since + self.idle_timeout - now)
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if self._stopping or (
                not self._users and time.monotonic() - self._idle_since >= self.idle_timeout
            ):
                return
            conn, host, epoch = self._conn, self._conn_host, self._epoch
        if conn is None or host is None:
            return
        started = time.monotonic()
        try:
            topology = self.reader.read(conn, self.query_timeout)
            if topology.writer.url != host.url:
                self._store(topology, epoch=epoch)  # the next panic starts with the writer it names
                raise _NotWriter(f"the topology names {topology.writer.url} as the writer, not {host.url}")
        except Exception as exc:
            with self._cond:
                if self._epoch != epoch:
                    return  # reset meanwhile: the connection was dropped (and is closed by _close_dropped)
                self._conn = self._conn_host = None
            self.note_refused(exc, host.url)
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("topology monitor of %s: writer %s lost: %s", self.cluster_id, host.url, exc)
            self.driver.close(conn)
            return
        self._store(topology, verified_at=started, epoch=epoch)

    def _store(self, topology: Topology, verified_at: float | None = None, *, epoch: int) -> None:
        """Keep ``topology`` (a verified one when ``verified_at`` is given), unless a reset happened since the read
        of generation ``epoch`` began."""
        refused: str | None = None
        with self._cond:
            if epoch != self._epoch:
                return  # read before a reset: stale
            current = self._topology
            if current is not None and current.read_at > topology.read_at and verified_at is None:
                return  # an older read finished late
            self._topology = topology
            if verified_at is not None:
                if self._writer_url is not None and self._writer_url != topology.writer.url:
                    self._high_until = time.monotonic() + HIGH_RATE_WINDOW_S
                self._writer_url = topology.writer.url
                self._verified_at = max(self._verified_at, verified_at)
                refused, self._refused = self._refused, None
            self._cond.notify_all()
        topology_cache().put(self.cluster_id, topology)
        if verified_at is not None:
            with _warned_lock:
                warned = self.cluster_id in _warned
                _warned.discard(self.cluster_id)
            if refused is not None or warned:
                logger.info("topology of %s: writer %s verified again", self.cluster_id, topology.writer.url)

    def note_refused(self, error: BaseException, where: str) -> bool:
        """Whether ``error`` is a refused query (see the module documentation); records it, wakes the waiters and
        warns once per cluster."""
        if self._is_network(error) or self._is_login(error) or not is_query_refused(error):
            return False
        text = refusal_text(error)
        with _warned_lock:
            first = self.cluster_id not in _warned
            _warned.add(self.cluster_id)
        if first:
            logger.warning(
                "topology of %s cannot be read: the server refuses the queries of dialect %r on %s: %s; "
                "connections go on without a topology (no failover, no instance list) until this is fixed: "
                "check wrapper_dialect and the privileges of the user",
                self.cluster_id,
                self.reader.dialect.code,
                where,
                text,
            )
        elif logger.isEnabledFor(logging.DEBUG):
            logger.debug("topology of %s: query refused on %s: %s", self.cluster_id, where, text)
        with self._cond:  # after the warning: a waiter that fails now fails after the cause was logged
            self._refused = f"{text}, on {where}"
            self._cond.notify_all()
        return True

    # -- panic -------------------------------------------------------------------------------------------------------
    def _writer_wanted(self) -> bool:
        """Whether a caller asked for a verified writer after the last verification began."""
        return self._verify_at > self._verified_at

    def _panic(self) -> None:
        with self._cond:
            if self._stopping:
                return
            rnd = _Round(time.monotonic(), self._epoch)
            self._round = rnd
            known = self._topology
            # no one waits for a verified writer: re-verify the last writer alone before probing every host
            quick = known is not None and not self._writer_wanted()
        try:
            if quick and known is not None:
                self._start_probe(rnd, known.writer)
            else:
                self._expand(rnd)
            while True:
                with self._cond:
                    if self.stopping or rnd.epoch != self._epoch:
                        return  # stopped, or reset: a new round starts over
                    # checked under the lock: a writer request made since the round started is never missed
                    if not rnd.has_writer() and (rnd.expanded or not self._writer_wanted()):
                        self._cond.wait(self._probe_period(rnd))
                    found = rnd.result()
                if found is not None:
                    self._adopt(rnd, *found)
                    return
                if self._should_stop():
                    return
                now = time.monotonic()
                if not rnd.expanded and (
                    rnd.failed or self._writer_wanted() or now - rnd.started >= EXPAND_AFTER_S
                ):
                    self._expand(rnd)
                elif rnd.expanded:
                    self._expand(rnd)  # hosts that appeared in a topology read meanwhile
        finally:
            rnd.finish()
            with self._cond:
                if self._round is rnd:
                    self._round = None

    def _expand(self, rnd: _Round) -> None:
        rnd.expanded = True
        topology = self._topology
        for host in topology.hosts if topology is not None else (self.initial,):
            self._start_probe(rnd, host)

    def _start_probe(self, rnd: _Round, host: HostInfo) -> None:
        with rnd.lock:
            if host.url in rnd.threads or rnd.done.is_set():
                return
            thread = threading.Thread(
                target=self._probe,
                args=(rnd, host),
                name=f"aws-wrapper-topology-probe[{host.url}]",
                daemon=True,
            )
            rnd.threads[host.url] = thread
            self._probes.add(thread)
        thread.start()

    def _probe_period(self, rnd: PanicRound) -> float:
        """Period of the panic's topology reads and of role checks while nobody waits."""
        now = time.monotonic()
        if (
            self._waiters
            or now - rnd.started < HIGH_RATE_WINDOW_S
            or self._verify_at >= now - HIGH_RATE_WINDOW_S
        ):
            return self.high_refresh_s
        return max(self.high_refresh_s, SLOW_PROBE_S)

    def _check_period(self, rnd: PanicRound) -> float:
        """Role-check period of a probe: fast while a caller waits for a verified writer."""
        if self._waiters and time.monotonic() - self._wait_since < HIGH_RATE_WINDOW_S:
            return min(self.fast_poll_s, self.high_refresh_s)
        return self._probe_period(rnd)

    def _adopt(self, rnd: _Round, conn: RawConnection, host: HostInfo, topology: Topology, at: float) -> None:
        rnd.finish()
        with self._cond:
            stale = rnd.epoch != self._epoch or self._stopping
            if not stale:
                self._conn, self._conn_host = conn, host
        if stale:
            self.driver.close(conn)  # found before a reset (or the monitor stops)
            return
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "topology monitor of %s: writer %s verified after %.3f s of probing",
                self.cluster_id,
                host.url,
                time.monotonic() - rnd.started,
            )
        self._store(topology, verified_at=at, epoch=rnd.epoch)

    def _probe(self, rnd: _Round, host: HostInfo) -> None:
        """One host during a panic: connect (attempts spaced, see ``_retry_delay``), then check its role over
        that one connection every ``_check_period``."""
        conn: RawConnection | None = None
        failures = 0
        failed_at = -math.inf  # end of the last failed connection attempt or check
        backoff: float | None = None  # delay after a non-network failure (None: network, see _retry_delay)
        checked_at = -math.inf
        refused_until = -math.inf  # no check on a kept connection before this (its last check was refused)

        def retry_at() -> float:
            return failed_at + (backoff if backoff is not None else self._retry_delay(rnd))

        def check_at() -> float:
            return max(checked_at + self._check_period(rnd), refused_until)

        try:
            while not rnd.done.is_set():
                if conn is None:
                    if not rnd.sleep_until(retry_at):
                        return
                    try:
                        conn = self._open(host)
                        failures = 0
                        checked_at = -math.inf
                    except Exception as exc:
                        if self._is_login(exc):
                            logger.warning("topology probe of %s stops: login failed: %s", host.url, exc)
                            return
                        failures += 1
                        rnd.failed.add(host.url)
                        failed_at = time.monotonic()
                        backoff = None if self._is_network(exc) else backoff_delay(failures)
                        if not self.note_refused(exc, host.url) and logger.isEnabledFor(logging.DEBUG):
                            logger.debug("topology probe of %s cannot connect: %s", host.url, exc)
                        continue
                if not rnd.sleep_until(check_at):
                    return
                full = checked_at == -math.inf  # the first check on a connection: also warms the writer query
                checked_at = time.monotonic()
                try:
                    if self._check(rnd, conn, host, full=full):
                        conn = None  # handed over to the monitor
                        return
                except Exception as exc:
                    rnd.release_reader(host.url)
                    rnd.failed.add(host.url)
                    failures += 1
                    failed_at = time.monotonic()
                    if self.note_refused(exc, host.url) and not self.driver.is_closed(conn):
                        # the server answered "no": keep the connection, ask again later and less often (a
                        # reconnect would reset the backoff and hammer the server with connect + refused query)
                        refused_until = failed_at + backoff_delay(failures)
                        checked_at = -math.inf  # the next check is a full one again
                        continue
                    if logger.isEnabledFor(logging.DEBUG):
                        logger.debug("topology probe of %s failed: %s", host.url, exc)
                    self.driver.close(conn)
                    conn = None
                    backoff = None if self._is_network(exc) else backoff_delay(failures)
        finally:
            rnd.release_reader(host.url)
            if conn is not None:
                self.driver.close(conn)

    def _check(self, rnd: _Round, conn: RawConnection, host: HostInfo, *, full: bool = True) -> bool:
        """One role check; True when ``conn`` was handed over as the verified writer connection (or another
        host won). Unless ``full``, the cheap reader query runs first and the writer check only when it says
        "writer"."""
        started = time.monotonic()
        with self._counts_lock:
            self.probe_checks += 1
        if (full or self.reader.role(conn, self.query_timeout) is HostRole.WRITER) and self.reader.is_writer(
            conn, self.query_timeout
        ):
            topology = self.reader.read(conn, self.query_timeout)
            # a topology host is itself; another address (a cluster endpoint) is told by its instance id
            identity = topology.find([host.url]) or self._identify(conn, topology) or topology.writer
            topology = topology.with_writer(identity)
            if rnd.claim_writer(conn, topology.writer, topology, started):
                with self._cond:
                    self._cond.notify_all()
                return True
            self.driver.close(conn)
            return True  # another host won: this thread is done (conn closed)
        rnd.failed.add(host.url)
        if started >= rnd.next_read and rnd.claim_reader(host.url):
            rnd.next_read = started + self._probe_period(rnd)
            try:
                topology = self.reader.read(conn, self.query_timeout)
            except Exception as exc:
                if self.note_refused(exc, host.url):
                    raise  # the probe backs off
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("topology read on reader %s failed: %s", host.url, exc)
            else:  # unverified: serves refresh waiters, names hosts to probe
                self._store(topology, epoch=rnd.epoch)
        return False

    def _identify(self, conn: RawConnection, topology: Topology) -> HostInfo | None:
        try:
            return topology.find(self.reader.instance_keys(conn, self.query_timeout))
        except Exception:
            return None

    def _opener(self) -> TopologyHostListProvider | None:
        """The user whose pipeline opens the next connection: the one attached last while it is attached, else
        another attached one, else the last one if its wrapper connection still exists (a provider used after its
        release is served, see ``TopologyHostListProvider.monitor``)."""
        with self._cond:
            last = self._last()
            if last is not None and last in self._users:
                return last
            for user in self._users:
                return user
            return last

    def _open(self, host: HostInfo) -> RawConnection:
        user = self._opener()
        if user is None:
            raise ConnectionError(
                f"no connection of cluster {self.cluster_id!r} is left to open a monitoring connection to "
                f"{host.url!r} through"
            )
        STATS.count_connection()
        conn = user.connector.force_connect(host, user.monitoring_props)
        try:
            self.driver.set_autocommit(conn, True)
        except Exception:
            self.driver.close(conn)
            raise
        return conn

    def _retry_delay(self, rnd: _Round) -> float:
        """Delay before reconnecting after a network error: the probe period, never below RECONNECT_MIN_S."""
        return max(self._probe_period(rnd), RECONNECT_MIN_S)


class _NotWriter(Exception):
    pass
