"""One shared monitor per host: a daemon thread that watches the in-flight markers of every connection to the host.

The hot path only writes ``slot.since`` (the start of the call in flight, 0.0 when idle). The monitor thread scans
the slots of its host; when the oldest in-flight call has run for the grace time it probes the host over its own
connection, one probe per probe period, each allowed one probe period. The host is declared dead once it has
answered nothing for ``count x interval`` -- counted from its last answer, or from the end of the grace time when
probing starts -- and every call in flight for longer than the grace time then has its connection aborted from
this thread, so it fails at once with the driver's network error.

The monitoring connection is opened when the first connection registers (and again when it is needed), in a short
lived helper thread: a connect to a silent host can take the driver's whole connect timeout, while the monitor
keeps to its own deadlines and counts a connect that has not finished within a probe period as a failed probe.
It is opened through the pipeline of one of the registered connections (so that authentication plugins apply);
the monitor refers to them weakly and keeps none of them alive.

Reset (ABI 1.1, core's ``MonitorService.reset``, e.g. on a blue/green switchover): the monitoring connection and a
connect in progress are dropped, the host counts as healthy again (marked available), and the monitor opens a new
monitoring connection at once; the registered connections stay watched. A probe cut short by the reset does not
count as failed, and the host gets a full detection window from the reset before it can be declared dead.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from aws_wrapper.core.driver import DriverDialect
from aws_wrapper.core.host_list import AVAILABILITY
from aws_wrapper.core.hostinfo import HostAvailability, HostInfo
from aws_wrapper.core.monitors import MonitorService
from aws_wrapper.core.plugin import RawConnection
from aws_wrapper.core.records import record
from aws_wrapper.core.services import CallMark

from ._settings import EfmConfig

__all__ = [
    "MONITOR_KIND",
    "THREAD_PREFIX",
    "MonitorKey",
    "MonitorStats",
    "HostMonitor",
    "Slot",
    "active_monitors",
]

logger = logging.getLogger("aws_wrapper.efm.host_monitoring_plugin")

#: The kind under which monitors are registered in :data:`aws_wrapper.core.monitors.MONITORS`.
MONITOR_KIND = "efm"
#: Every thread of this package has a name starting with this.
THREAD_PREFIX = "aws-wrapper-efm"

#: (driver code, host url, grace ms, interval ms, count).
MonitorKey = tuple[str, str, int, int, int]

_SCAN_MAX = 1.0  # seconds between scans of the slots while no call needs probing
_SCAN_MIN = 0.02
_IDLE_LINGER = 1.0  # seconds a monitor without any registered connection lives on (capped by disposal time)
_MIN_PROBE = 0.005  # a probe shorter than this is not worth starting: the full period is used instead
_SLACK = 0.002  # a failure this close to the deadline counts as reaching it (clock granularity)
_ANSWERED = object()  # a connect attempt failed, but with an answer from the server


class Opener(Protocol):
    """What a slot's owner (the plugin) offers its host's monitor."""

    def open_monitoring_connection(self, host: HostInfo) -> RawConnection: ...


def _nothing() -> None:
    return None


def _ref(obj: object) -> Callable[[], Any]:
    if obj is None:
        return _nothing
    try:
        return weakref.ref(obj)
    except TypeError:  # an object without weak reference support: keep it (still released with the slot)
        return lambda: obj


class Slot:
    """The in-flight marker of one user connection, read by the monitor thread.

    ``since`` is the ``time.monotonic()`` at which the call in flight started, 0.0 when none is: core's
    :class:`~aws_wrapper.core.services.CallMark` of the connection, which core keeps around every network-bound
    call (the plugin has ``marks_calls``; it is not entered per call). The slot refers to its connection and owner
    weakly; the monitor refers to the slot weakly.
    """

    __slots__ = ("__weakref__", "_conn", "_mark", "_owner", "aborted")

    def __init__(
        self, conn: RawConnection | None = None, owner: Opener | None = None, mark: CallMark | None = None
    ) -> None:
        self._mark = CallMark(conn) if mark is None else mark
        self.aborted = 0.0  # ``since`` of the call whose connection the monitor aborted
        self._conn = _ref(conn)
        self._owner = _ref(owner)

    @property
    def since(self) -> float:
        return self._mark.since

    @since.setter
    def since(self, value: float) -> None:
        self._mark.since = value

    def connection(self) -> RawConnection | None:
        return self._conn()

    def owner(self) -> Opener | None:
        owner: Opener | None = self._owner()
        return owner


@record(frozen=True)
class MonitorStats:
    """A snapshot of one monitor (diagnostics and tests)."""

    host: str
    key: MonitorKey
    connections: int
    healthy: bool
    running: bool
    monitoring_connection_open: bool
    probes: int
    failed_probes: int
    connects: int
    aborted: int
    resets: int = 0


_live_lock = threading.Lock()
_live: weakref.WeakSet[HostMonitor] = weakref.WeakSet()


def active_monitors() -> list[MonitorStats]:
    """Snapshots of this process's EFM monitors that have not stopped yet."""
    with _live_lock:
        monitors = list(_live)
    return sorted((m.stats() for m in monitors), key=lambda s: s.key)


class _ConnectAttempt:
    """Opens one monitoring connection in a short-lived daemon thread; the monitor waits for it with its own
    deadline. An abandoned attempt closes its connection when it arrives."""

    def __init__(self, open_: Callable[[], RawConnection], close: Callable[[RawConnection], None], name: str):
        self.done = threading.Event()
        self.started = time.monotonic()
        self.error: Exception | None = None
        self._open = open_
        self._close = close
        self._lock = threading.Lock()
        self._conn: RawConnection | None = None
        self._abandoned = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        conn: RawConnection | None = None
        try:
            conn = self._open()
        except Exception as exc:
            self.error = exc
        with self._lock:
            abandoned = self._abandoned
            if not abandoned:
                self._conn = conn
        if abandoned and conn is not None:
            self._close(conn)
        self.done.set()

    def take(self) -> RawConnection | None:
        with self._lock:
            conn, self._conn = self._conn, None
            return conn

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            conn, self._conn = self._conn, None
        if conn is not None:
            self._close(conn)
        self.done.set()  # wakes a monitor waiting for it


class HostMonitor:
    """The monitor of one host (for one combination of detection settings). See the module docstring.

    Created through ``MONITORS.get_or_create`` (cheap: the thread starts with the first :meth:`register`); ends
    by itself shortly after its last connection unregistered, or by :meth:`stop`.
    """

    def __init__(
        self,
        key: MonitorKey,
        host: HostInfo,
        config: EfmConfig,
        driver: DriverDialect,
        service: MonitorService,
    ) -> None:
        self.key = key
        self.host = host
        self.config = config
        self.driver = driver
        self._service = service
        self._aliases = host.all_aliases
        self._lock = threading.Lock()
        self._slots: dict[int, weakref.ref[Slot]] = {}
        self._snapshot: tuple[weakref.ref[Slot], ...] = ()
        self._closed = False
        self._stopping = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: RawConnection | None = None  # the monitoring connection (monitor thread only)
        self._pinging: RawConnection | None = None
        self._attempt: _ConnectAttempt | None = None
        self._warned = False
        self._reset_pending = False
        self.healthy = True
        self.probes = 0
        self.failed_probes = 0
        self.connects = 0
        self.aborted = 0
        self.resets = 0
        with _live_lock:
            _live.add(self)

    # -- registration (application threads) -----------------------------------------------------------------
    def register(self, slot: Slot) -> bool:
        """Watch ``slot``. False when this monitor has stopped (the caller gets a new one)."""
        with self._lock:
            if self._closed:
                return False
            self._slots[id(slot)] = weakref.ref(slot)
            self._snapshot = tuple(self._slots.values())
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"{THREAD_PREFIX}-monitor {self.host.url}", daemon=True
                )
                self._thread.start()
        self._wake.set()
        return True

    def unregister(self, slot: Slot) -> None:
        with self._lock:
            ref = self._slots.get(id(slot))
            if ref is None or ref() is not slot:
                return
            del self._slots[id(slot)]
            self._snapshot = tuple(self._slots.values())
            empty = not self._slots
        if empty:
            self._wake.set()

    # -- Monitor protocol -------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the thread to end (non-blocking): wakes it, aborts a probe in progress, abandons a connect."""
        with self._lock:
            self._stopping = True
            self._closed = True
            attempt = self._attempt
        self._wake.set()
        conn = self._pinging
        if conn is not None:
            self.driver.abort(conn)
        if attempt is not None:
            attempt.abandon()
        if self._thread is None:
            self._forget()

    def reset(self) -> None:
        """Start over (see the module docstring): non-blocking, safe from any thread; connections stay watched."""
        with self._lock:
            if self._closed:
                return
            self._reset_pending = True
            self.resets += 1
            attempt, self._attempt = self._attempt, None
        if attempt is not None:
            attempt.abandon()  # a monitor waiting for it wakes up; its connection is closed when it arrives
        conn = self._pinging
        if conn is not None:
            self.driver.abort(conn)  # the probe in progress returns now
        self._wake.set()
        logger.info("efm monitor of %s reset: reconnecting", self.host.url)

    def join(self, timeout: float) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- diagnostics ------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def stats(self) -> MonitorStats:
        return MonitorStats(
            host=self.host.url,
            key=self.key,
            connections=sum(1 for ref in self._snapshot if ref() is not None),
            healthy=self.healthy,
            running=self.running,
            monitoring_connection_open=self._conn is not None,
            probes=self.probes,
            failed_probes=self.failed_probes,
            connects=self.connects,
            aborted=self.aborted,
            resets=self.resets,
        )

    # -- the monitor thread ---------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            logger.exception("efm monitor of %s failed", self.host.url)
        finally:
            self._shutdown()

    def _loop(self) -> None:
        cfg = self.config
        grace, window, period = cfg.grace, cfg.window, cfg.probe_period
        scan = max(_SCAN_MIN, min(_SCAN_MAX, grace / 2.0))
        linger = min(cfg.disposal, _IDLE_LINGER)
        wake = self._wake
        episode = False  # probing because a call has been in flight past the grace time
        alive_at = next_probe = 0.0
        empty_since: float | None = None
        last_busy = time.monotonic()
        fresh_since = 0.0  # the last reset: the host is given a full detection window from then
        self._reset_pending = False  # a reset before the first connect has nothing to drop
        self._start_connect()  # before it is needed: a host that is silent already is detected all the same
        while not self._stopping:
            wake.clear()
            if self._reset_pending:
                self._restart()
                episode = False
                last_busy = fresh_since = time.monotonic()
            self._collect_attempt()
            now = time.monotonic()
            slots = self._live_slots()
            if not slots:
                episode = False
                if empty_since is None:
                    empty_since = now
                if now - empty_since >= linger and self._close_if_unused():
                    return
                wake.wait(max(0.0, min(scan, empty_since + linger - now)))
                continue
            empty_since = None
            oldest = 0.0
            for slot in slots:
                since = slot.since
                if since and (not oldest or since < oldest):
                    oldest = since
            if oldest:
                last_busy = now
            if not oldest or now < oldest + grace:
                episode = False
                if oldest:
                    if self._conn is None:
                        self._start_connect()
                    wake.wait(min(scan, oldest + grace - now))
                else:
                    if self._conn is not None and now - last_busy >= cfg.disposal:
                        self._close_connection()
                    wake.wait(scan)
                continue
            if not episode:
                episode = True
                # Deadlines count from the query's start, not from when this thread noticed it. A host already
                # declared dead gets one probe period to answer before calls are aborted; while it stays dead,
                # every failed probe aborts the calls that have reached their grace time since.
                alive_at = oldest + grace - (0.0 if self.healthy else window - period)
                alive_at = max(alive_at, fresh_since)  # a reset gives the host a full window
                next_probe = now
            if now < next_probe:
                wake.wait(min(scan, next_probe - now))
                continue
            deadline = alive_at + window
            remaining = deadline - now
            ok = self._probe(min(period, remaining) if remaining >= _MIN_PROBE else period)
            if self._reset_pending:
                continue  # cut short by a reset: not a failure; the next pass starts over
            end = time.monotonic()
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "efm probe of %s: %s after %.3f s (%.3f s left of the window)",
                    self.host.url,
                    "answered" if ok else "failed",
                    end - now,
                    deadline - end,
                )
            if ok:
                alive_at = now
                next_probe = now + period
                if not self.healthy:
                    self._set_healthy(True)
            else:
                self.failed_probes += 1
                next_probe = max(now + period, end)
                if end >= deadline - _SLACK and not self._stopping:
                    if self.healthy:
                        self._set_healthy(False)
                    self._abort_overdue(self._live_slots())

    def _restart(self) -> None:
        """Monitor thread: carry out a reset (drop the monitoring connection and a connect attempt, forget the
        host's health) and start connecting again."""
        with self._lock:
            self._reset_pending = False
            attempt, self._attempt = self._attempt, None
        if attempt is not None:
            attempt.abandon()
        self._close_connection()
        self._warned = False
        if not self.healthy:
            self.healthy = True
            AVAILABILITY.set(self._aliases, HostAvailability.AVAILABLE)
        self._start_connect()

    def _live_slots(self) -> list[Slot]:
        slots: list[Slot] = []
        dead = False
        for ref in self._snapshot:
            slot = ref()
            if slot is None:
                dead = True
            else:
                slots.append(slot)
        if dead:  # a connection dropped without close(): forget its slot
            with self._lock:
                self._slots = {k: r for k, r in self._slots.items() if r() is not None}
                self._snapshot = tuple(self._slots.values())
        return slots

    def _close_if_unused(self) -> bool:
        with self._lock:
            if self._slots:
                return False
            self._closed = True
            return True

    def _probe(self, timeout: float) -> bool:
        """One probe: an answer within ``timeout`` over the monitoring connection, or, when it is missing or
        broken, a new monitoring connection within what is left of ``timeout``."""
        self.probes += 1
        begin = time.monotonic()
        deadline = begin + timeout
        conn = self._conn
        if conn is not None:
            self._pinging = conn
            try:
                ok = not self._stopping and self.driver.ping(conn, timeout)
            finally:
                self._pinging = None
            if ok:
                return True
            self._conn = None
            self.driver.close(conn)
        while True:
            attempt = self._start_connect()  # also when no time is left: the next probe waits for it
            remaining = deadline - time.monotonic()
            if attempt is None or remaining <= 0 or not attempt.done.wait(remaining):
                return False
            if self._collect_attempt() is not None:
                return True
            if attempt.started >= begin:
                return False  # a connect of this probe failed: the host refused or could not be reached
            # a connect begun before this probe has just given up: try again in the time this probe has left

    def _start_connect(self) -> _ConnectAttempt | None:
        with self._lock:
            if self._stopping:
                return None
            attempt = self._attempt
            if attempt is None:
                self.connects += 1
                attempt = self._attempt = _ConnectAttempt(
                    self._open, self.driver.close, f"{THREAD_PREFIX}-connect {self.host.url}"
                )
            return attempt

    def _collect_attempt(self) -> object | None:
        """Adopt the result of a finished connect attempt: the new connection, :data:`_ANSWERED` when the host
        answered with an error that is not a network error (it is alive, e.g. a login failure of the monitoring
        user), or None (no attempt finished, or the host could not be reached)."""
        attempt = self._attempt
        if attempt is None or not attempt.done.is_set():
            return None
        with self._lock:
            self._attempt = None
        conn = attempt.take()
        if conn is None:
            error = attempt.error
            if error is not None and not self.driver.errors.is_network_error(error):
                if not self._warned:
                    self._warned = True
                    logger.warning(
                        "efm: the monitoring connection to %s cannot be opened: %s; the host answers, so it "
                        "counts as alive, but it is only probed by connection attempts until this is fixed",
                        self.host.url,
                        error,
                    )
                return _ANSWERED
            if error is not None and logger.isEnabledFor(logging.DEBUG):
                logger.debug("efm monitoring connection to %s failed: %s", self.host.url, error)
            return None
        if self._stopping:
            self.driver.close(conn)
            return None
        self._conn = conn
        if not self.healthy:
            self._set_healthy(True)
        result: object = conn
        return result

    def _open(self) -> RawConnection:
        """Runs in the connect helper thread: opens the connection through the pipeline of a registered
        connection (so that its authentication plugins apply)."""
        for ref in self._snapshot:
            slot = ref()
            owner = slot.owner() if slot is not None else None
            if owner is not None:
                return owner.open_monitoring_connection(self.host)
        raise ConnectionError(
            f"no connection to {self.host.url!r} is left to open a monitoring connection with"
        )

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self.driver.close(conn)

    def _set_healthy(self, healthy: bool) -> None:
        self.healthy = healthy
        AVAILABILITY.set(
            self._aliases, HostAvailability.AVAILABLE if healthy else HostAvailability.UNAVAILABLE
        )
        if healthy:
            logger.info("host %s answers again", self.host.url)
        else:
            logger.warning(
                "host %s did not answer for %s ms: marked unavailable",
                self.host.url,
                self.config.count * self.config.interval_ms,
            )

    def _abort_overdue(self, slots: list[Slot]) -> None:
        """Abort the connection of every call in flight for longer than the grace time (once per call)."""
        grace = self.config.grace
        now = time.monotonic()
        count = 0
        for slot in slots:
            since = slot.since
            if not since or since + grace > now + _SLACK or slot.aborted == since:
                continue
            conn = slot.connection()
            if conn is None or slot.since != since:
                continue
            slot.aborted = since
            self.driver.abort(conn)
            count += 1
            owner = slot.owner()
            notify = getattr(owner, "connection_aborted", None)
            if notify is not None:  # telemetry of the owning connection (a no-op unless it enables it)
                try:
                    notify(self.host)
                except Exception as exc:
                    logger.debug("efm: telemetry for an aborted connection failed: %s", exc)
        if count:
            self.aborted += count
            logger.warning("host %s is unresponsive: aborted %d connection(s)", self.host.url, count)

    def _forget(self) -> None:
        self._service.discard(MONITOR_KIND, self.key, self)
        with _live_lock:
            _live.discard(self)

    def _shutdown(self) -> None:
        with self._lock:
            self._closed = True
            attempt, self._attempt = self._attempt, None
        if attempt is not None:
            attempt.abandon()
        self._close_connection()
        self._forget()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("efm monitor of %s stopped", self.host.url)
